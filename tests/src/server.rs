//! The real `control-server` binary as a child process.
//!
//! Its stdout and stderr are read by two threads into buffers. When a test
//! panics while a [`ServerProcess`] is alive, or a helper here fails, the command
//! line and everything the server printed is written to stderr, so a failure
//! explains itself.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bootstrap admin's password given to every server started here.
pub const ADMIN_PASSWORD: &str = "system-test-admin-password";
/// How long the server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean shutdown may take.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Output kept per stream (the oldest lines go first).
const MAX_CAPTURE_BYTES: usize = 4 * 1024 * 1024;
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

/// Captured lines of one stream, bounded.
#[derive(Default)]
pub(crate) struct Capture {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl Capture {
    pub(crate) fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > MAX_CAPTURE_BYTES {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.len() + 1;
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }

    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        if self.dropped > 0 {
            s.push_str(&format!(
                "[... {} earlier lines dropped ...]\n",
                self.dropped
            ));
        }
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
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
    child: Option<Child>,
    addr: SocketAddr,
    /// What `--listen` gets: port 0 at first, the old address for
    /// [`ServerProcess::restart_on_same_port`].
    listen: SocketAddr,
    stdout: Arc<Mutex<Capture>>,
    stderr: Arc<Mutex<Capture>>,
    command_line: String,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Set once the report was printed, so it is printed only once.
    reported: bool,
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
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout: Arc::default(),
            stderr: Arc::default(),
            command_line: String::new(),
            readers: Vec::new(),
            reported: false,
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
        if let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(Some(_)) => {}
                _ => self.fail("restart() while the server still runs; stop or kill it first"),
            }
        }
        self.child = None;
        for c in [&self.stdout, &self.stderr] {
            c.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push("======== restart on the same data directory ========".into());
        }
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
        self.command_line = format!(
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
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => self.fail(&format!("cannot start {}: {e}", self.bin.display())),
        };
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        self.readers.retain(|h| !h.is_finished());
        self.readers
            .push(reader_thread(out, self.stdout.clone(), Some(tx)));
        self.readers
            .push(reader_thread(err, self.stderr.clone(), None));
        self.child = Some(child);
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => self.addr = addr,
            Err(_) => {
                let status = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                let why = match status {
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
        match &self.child {
            Some(c) => c.id(),
            None => panic!("the server is not running"),
        }
    }

    /// Everything the server printed so far (stdout, then stderr).
    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout.lock().unwrap_or_else(|p| p.into_inner()).text(),
            self.stderr.lock().unwrap_or_else(|p| p.into_inner()).text()
        )
    }

    /// Sends SIGTERM, waits for the exit and asserts it was clean (status 0).
    pub fn sigterm_and_wait(&mut self) -> ExitStatus {
        let pid = self.pid();
        self.signal("-TERM", pid);
        let status = self.wait(STOP_TIMEOUT);
        if !status.success() {
            self.fail(&format!(
                "after SIGTERM the server exited with {status}, expected 0"
            ));
        }
        status
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn sigkill(&mut self) -> ExitStatus {
        let pid = self.pid();
        self.signal("-KILL", pid);
        self.wait(STOP_TIMEOUT)
    }

    fn signal(&mut self, sig: &str, pid: u32) {
        let status = Command::new("kill").arg(sig).arg(pid.to_string()).status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => self.fail(&format!("`kill {sig} {pid}` failed: {s}")),
            Err(e) => self.fail(&format!("cannot run `kill {sig} {pid}`: {e}")),
        }
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let polled = match self.child.as_mut() {
                Some(c) => c.try_wait(),
                None => panic!("the server is not running"),
            };
            match polled {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => self.fail(&format!("the server did not exit within {timeout:?}")),
                Err(e) => self.fail(&format!("waiting for the server failed: {e}")),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Prints the command line and the captured output, then panics with `why`.
    pub fn fail(&mut self, why: &str) -> ! {
        self.report(why);
        panic!("{why}");
    }

    fn report(&mut self, why: &str) {
        if self.reported {
            return;
        }
        self.reported = true;
        // A server that exited has closed its pipes: read them to the end first.
        if self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
        {
            for h in self.readers.drain(..) {
                let _ = h.join();
            }
        }
        eprintln!(
            "\n==================== control-server ====================\n\
             problem: {why}\ncommand: {}\n{}\
             ========================================================\n",
            self.command_line,
            self.output()
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.report("a test panicked while this server was running");
        }
        if let Some(mut c) = self.child.take()
            && matches!(c.try_wait(), Ok(None))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn reader_thread(
    stream: impl Read + Send + 'static,
    capture: Arc<Mutex<Capture>>,
    listening: Option<mpsc::Sender<SocketAddr>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut listening = listening;
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            if let Some(tx) = &listening
                && let Some(addr) = parse_listening(&line)
            {
                let _ = tx.send(addr);
                listening = None;
            }
            capture.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    })
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

    #[test]
    fn capture_is_bounded() {
        let mut c = Capture::default();
        for i in 0..(MAX_CAPTURE_BYTES / 10) {
            c.push(format!("line {i:05}"));
        }
        assert!(c.bytes <= MAX_CAPTURE_BYTES);
        assert!(c.text().starts_with("[... "));
    }
}
