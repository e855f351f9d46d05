//! The real `control-server` binary as a child process.
//!
//! Its output is captured ([`crate::child::Watched`]): when a test panics while
//! a [`ServerProcess`] is alive, or a helper here fails, the command line and
//! everything the server printed is written to stderr, so a failure explains
//! itself.

use crate::child::Watched;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The bootstrap admin's password given to every server started here.
pub const ADMIN_PASSWORD: &str = "system-test-admin-password";
/// How long the server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean shutdown may take.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
const LISTENING_PREFIX: &str = "control-server listening on http://";

/// Where the control-server binary is: `$CONTROL_SERVER_BIN`, else the
/// workspace's `target/debug/control-server`.
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONTROL_SERVER_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "CONTROL_SERVER_BIN={} does not name a file",
            p.display()
        );
        return p;
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("debug")
        .join(format!("control-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        default.is_file(),
        "the control-server binary is missing at {}: run `cargo build -p control-server` first \
         (or set CONTROL_SERVER_BIN to the binary to test)",
        default.display()
    );
    default
}

/// Optional settings for a server start.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra command-line arguments (e.g. `--heartbeat-s 5`).
    pub args: Vec<String>,
    /// Extra environment variables (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
}

/// A running (or stopped) control-server process with its own data directory.
pub struct ServerProcess {
    bin: PathBuf,
    options: ServerOptions,
    dir: tempfile::TempDir,
    process: Watched,
    addr: SocketAddr,
    /// What `--listen` gets: port 0 at first, the old address for
    /// [`ServerProcess::restart_on_same_port`].
    listen: SocketAddr,
}

impl ServerProcess {
    /// Starts a server on a fresh data directory and waits until it listens.
    pub fn start() -> ServerProcess {
        Self::start_with(ServerOptions::default())
    }

    pub fn start_with(options: ServerOptions) -> ServerProcess {
        let dir = tempfile::Builder::new()
            .prefix("control-server-test-")
            .tempdir()
            .expect("create temp dir");
        let mut server = ServerProcess {
            bin: server_binary(),
            options,
            dir,
            process: Watched::new("control-server"),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        server.spawn();
        server
    }

    /// Starts the server again on the same data directory (after it stopped or
    /// was killed); it gets a new port.
    pub fn restart(&mut self) {
        self.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        self.respawn();
    }

    /// Like [`ServerProcess::restart`], but on the port it had, for clients
    /// configured with its address (a broadcaster's config file) that are
    /// expected to come back by themselves.
    pub fn restart_on_same_port(&mut self) {
        self.listen = self.addr;
        self.respawn();
    }

    fn respawn(&mut self) {
        if self.process.is_running() {
            self.fail("restart() while the server still runs; stop or kill it first");
        }
        self.process
            .mark("======== restart on the same data directory ========");
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--listen")
            .arg(self.listen.to_string())
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(&self.options.args)
            .env("CONTROL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("NO_COLOR", "1")
            .env_remove("CONTROL_LISTEN")
            .env_remove("CONTROL_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.options.env {
            cmd.env(k, v);
        }
        self.process.command_line = format!(
            "CONTROL_ADMIN_PASSWORD=... {}{} --listen {} --data-dir {} {}",
            self.options
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v} "))
                .collect::<String>(),
            self.bin.display(),
            self.listen,
            self.dir.path().display(),
            self.options.args.join(" ")
        );
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        self.process.spawn(&mut cmd, Some((parse_listening, tx)));
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => self.addr = addr,
            Err(_) => {
                let why = match self.process.exit_status() {
                    Some(s) => format!("the server exited ({s}) before it listened"),
                    None => format!(
                        "the server did not print its listening line within {START_TIMEOUT:?}"
                    ),
                };
                self.fail(&why);
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/ws/player`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/player", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Everything the server printed so far (stdout, then stderr).
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// Sends SIGTERM, waits for the exit and asserts it was clean (status 0).
    pub fn sigterm_and_wait(&mut self) -> ExitStatus {
        self.process.sigterm_and_wait(STOP_TIMEOUT)
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn sigkill(&mut self) -> ExitStatus {
        self.process.signal("-KILL");
        self.process.wait(STOP_TIMEOUT)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Prints the command line and the captured output, then panics with `why`.
    pub fn fail(&mut self, why: &str) -> ! {
        self.process.fail(why)
    }
}

/// The address in "control-server listening on http://ADDR/".
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(LISTENING_PREFIX)? + LISTENING_PREFIX.len()..];
    rest.trim_end().trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        assert_eq!(
            parse_listening("control-server listening on http://127.0.0.1:4242/"),
            Some("127.0.0.1:4242".parse().unwrap())
        );
        assert_eq!(parse_listening("2026-01-01 INFO something else"), None);
    }
}
