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
    #[command(flatten)]
    pub transit: crate::civic::transit::TransitSettings,
    #[command(flatten)]
    pub council: crate::council::CouncilSettings,
    /// Base URL of the federal warning API NINA (e.g. https://warnung.bund.de/api31);
    /// the poller is off without it.
    #[arg(long, env = "CONTROL_NINA_URL", global = true)]
    pub nina_url: Option<String>,
    /// District keys (ARS, 12 digits) to poll, comma-separated; empty means the
    /// districts of the configured displays.
    #[arg(long, env = "CONTROL_NINA_ARS", value_delimiter = ',', global = true)]
    pub nina_ars: Vec<String>,
    /// Milliseconds between NINA polls.
    #[arg(
        long,
        env = "CONTROL_NINA_INTERVAL_MS",
        default_value_t = 60_000,
        global = true
    )]
    pub nina_interval_ms: u64,
    /// Milliseconds a feed server may take to accept a connection.
    #[arg(
        long,
        env = "CONTROL_FEED_CONNECT_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub feed_connect_timeout_ms: u64,
    /// Milliseconds a whole feed request may take before it counts as a timeout.
    #[arg(
        long,
        env = "CONTROL_FEED_TIMEOUT_MS",
        default_value_t = 15_000,
        global = true
    )]
    pub feed_timeout_ms: u64,
    /// Milliseconds between sweeps that mark alerts past their `expires` as expired.
    #[arg(
        long,
        env = "CONTROL_ALERT_EXPIRY_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub alert_expiry_ms: u64,
    /// Licence named in open-data responses (an identifier of the
    /// Datenlizenz Deutschland family, or any SPDX-like id).
    #[arg(
        long,
        env = "CONTROL_OPEN_DATA_LICENCE",
        default_value = "dl-de/by-2-0",
        global = true
    )]
    pub open_data_licence: String,
    /// The player binary that renders previews (`player --headless
    /// --screenshot`); default: `player` beside this binary.
    #[arg(long, env = "CONTROL_PLAYER_BIN", global = true)]
    pub player_bin: Option<PathBuf>,
    /// The public key player releases are signed with, as `player-release
    /// keygen --public` writes it (the image's update key). With it the
    /// server refuses uploads and assignments whose signature does not
    /// verify, which every display would refuse anyway; without it only
    /// the displays check. A file that cannot be read or holds no key stops
    /// the server from starting.
    #[arg(long, env = "CONTROL_RELEASE_KEY", global = true)]
    pub release_key: Option<PathBuf>,
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
            transit: Default::default(),
            council: Default::default(),
            nina_url: None,
            nina_ars: Vec::new(),
            nina_interval_ms: 60_000,
            feed_connect_timeout_ms: 5_000,
            feed_timeout_ms: 15_000,
            alert_expiry_ms: 30_000,
            open_data_licence: "dl-de/by-2-0".into(),
            player_bin: None,
            release_key: None,
        }
    }
}
