//! The real `broadcaster` binary as a child process, on GStreamer test sources.
//!
//! Like [`crate::ServerProcess`] its output is captured; when a test panics
//! while a [`BroadcasterProcess`] is alive, the command line, the config file
//! and everything the broadcaster printed are written to stderr.

use crate::child::Watched;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long a SIGTERM may take: the broadcaster sends EOS and finalizes the
/// recording before it exits.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the broadcaster binary is: `$BROADCASTER_BIN`, else the workspace's
/// `target/debug/broadcaster`.
pub fn broadcaster_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BROADCASTER_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "BROADCASTER_BIN={} does not name a file",
            p.display()
        );
        return p;
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("debug")
        .join(format!("broadcaster{}", std::env::consts::EXE_SUFFIX));
    assert!(
        default.is_file(),
        "the broadcaster binary is missing at {}: run `cargo build -p broadcaster` first \
         (or set BROADCASTER_BIN to the binary to test)",
        default.display()
    );
    default
}

/// A broadcaster config on test sources at 320x180, 15 frames a second and
/// x264 (no hardware probing), cheap enough for a 2-core CI machine: one
/// camera with a tone, so live and archive carry picture and sound.
pub fn test_config(server_url: &str, token: &str, live_dir: &Path, archive_dir: &Path) -> String {
    format!(
        "[server]\nurl = \"{server_url}\"\ntoken = \"{token}\"\n\n\
         [output]\nlive_dir = \"{}\"\narchive_dir = \"{}\"\n\n\
         [video]\nwidth = 320\nheight = 180\nframerate = 15\nbitrate_kbps = 300\n\
         audio_bitrate_kbps = 64\nencoder = \"x264\"\nsegment_s = 1\n\n\
         [overlay]\ntown = \"Stadt Kaarst\"\n\n\
         [[input]]\nname = \"totale\"\nsource = {{ kind = \"test\", pattern = \"smpte\", tone_hz = 440.0 }}\n",
        live_dir.display(),
        archive_dir.display(),
    )
}

/// A running (or stopped) broadcaster with its config in a temp directory.
pub struct BroadcasterProcess {
    process: Watched,
    /// Holds the config file for as long as the process runs.
    dir: tempfile::TempDir,
}

impl BroadcasterProcess {
    /// Writes `config` (TOML) to a file and starts the broadcaster on it. It
    /// prints no "ready" line; wait for what matters (the server listing it
    /// as connected, or a line of its log).
    pub fn start(config: &str) -> BroadcasterProcess {
        let dir = tempfile::Builder::new()
            .prefix("broadcaster-test-")
            .tempdir()
            .expect("create temp dir");
        let path = dir.path().join("broadcaster.toml");
        std::fs::write(&path, config).expect("write the broadcaster config");
        let bin = broadcaster_binary();
        let mut process = Watched::new("broadcaster");
        process.command_line = format!(
            "RUST_LOG=info {} --config {}",
            bin.display(),
            path.display()
        );
        process.context = format!("--- config ---\n{config}");
        process.spawn(
            Command::new(&bin)
                .arg("--config")
                .arg(&path)
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .env_remove("BROADCASTER_CONFIG")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            None,
        );
        BroadcasterProcess { process, dir }
    }

    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Everything it printed so far (its log goes to stdout; GStreamer's to stderr).
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Sends SIGTERM and waits for the exit, which must be clean (status 0):
    /// the broadcaster finalizes a running recording first.
    pub fn sigterm_and_wait(&mut self) -> ExitStatus {
        self.process.sigterm_and_wait(STOP_TIMEOUT)
    }

    /// Prints the command line, the config and the captured output, then panics.
    pub fn fail(&mut self, why: &str) -> ! {
        self.process.fail(why)
    }
}
