//! Command line and environment, resolved into [`Config`].

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Request bodies of JSON endpoints are limited to this; uploads have their own limit.
pub const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "control-server",
    version,
    about = "Schedules content for the town's displays and pushes it to them."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Seed the Kaarst demo data into an empty database, then run the server.
    Demo,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "CONTROL_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// Directory for the database, assets and screenshots.
    #[arg(long, env = "CONTROL_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Largest accepted upload, in MiB.
    #[arg(
        long,
        env = "CONTROL_MAX_UPLOAD_MB",
        default_value_t = 1024,
        global = true
    )]
    pub max_upload_mb: u64,
    /// Password of the first admin account, created when no user exists yet.
    /// Without it a random one is generated and printed once.
    #[arg(
        long,
        env = "CONTROL_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,
    /// Send session cookies without the Secure flag (only for plain-HTTP installs
    /// on a closed network; browsers treat localhost as secure anyway).
    #[arg(long, env = "CONTROL_INSECURE_COOKIES", global = true)]
    pub insecure_cookies: bool,
    /// Seconds between player heartbeats.
    #[arg(long, env = "CONTROL_HEARTBEAT_S", default_value_t = 30, global = true)]
    pub heartbeat_s: u32,
    #[command(flatten)]
    pub sensors: crate::civic::sensors::SensorSettings,
}

impl Config {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("control.db")
    }
    pub fn assets_dir(&self) -> PathBuf {
        self.data_dir.join("assets")
    }
    pub fn screenshots_dir(&self) -> PathBuf {
        self.data_dir.join("screenshots")
    }
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb.saturating_mul(1024 * 1024)
    }

    /// A config for tests: everything under `data_dir`, port 0.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir,
            max_upload_mb: 16,
            admin_password: Some("admin-test-password".into()),
            insecure_cookies: false,
            heartbeat_s: 30,
            sensors: Default::default(),
        }
    }
}
