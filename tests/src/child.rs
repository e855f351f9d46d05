//! A project binary run as a child process by a test, its output captured.
//!
//! Its stdout and stderr are read by two threads into bounded buffers. When a
//! test panics while a [`Watched`] is alive, or a helper fails through
//! [`Watched::fail`], the command line, any context (a config file) and
//! everything the process printed are written to stderr once, so a failure
//! explains itself. A process still running when dropped is killed.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Output kept per stream (the oldest lines go first).
const MAX_CAPTURE_BYTES: usize = 4 * 1024 * 1024;

/// Captured lines of one stream, bounded.
#[derive(Default)]
struct Capture {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl Capture {
    fn push(&mut self, line: String) {
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

    fn text(&self) -> String {
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

/// A parser for the line announcing the process's address, and where to send
/// the address the first time it matches.
pub(crate) type Listening = (fn(&str) -> Option<SocketAddr>, mpsc::Sender<SocketAddr>);

/// One child process (or none yet, or one that was reaped) and its output.
pub(crate) struct Watched {
    /// What the process is, in messages ("control-server", "broadcaster").
    name: &'static str,
    child: Option<Child>,
    stdout: Arc<Mutex<Capture>>,
    stderr: Arc<Mutex<Capture>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// The command line shown in a report.
    pub(crate) command_line: String,
    /// Shown in a report after the command line (e.g. the config file).
    pub(crate) context: String,
    /// Set once the report was printed, so it is printed only once.
    reported: bool,
}

impl Watched {
    pub(crate) fn new(name: &'static str) -> Watched {
        Watched {
            name,
            child: None,
            stdout: Arc::default(),
            stderr: Arc::default(),
            readers: Vec::new(),
            command_line: String::new(),
            context: String::new(),
            reported: false,
        }
    }

    /// Starts `cmd` (stdout and stderr piped by the caller) and its readers;
    /// the address in the first stdout line `on_listening` parses is sent on.
    pub(crate) fn spawn(&mut self, cmd: &mut Command, on_listening: Option<Listening>) {
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => self.fail(&format!("cannot start the {}: {e}", self.name)),
        };
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        self.readers.retain(|h| !h.is_finished());
        self.readers
            .push(reader_thread(out, self.stdout.clone(), on_listening));
        self.readers
            .push(reader_thread(err, self.stderr.clone(), None));
        self.child = Some(child);
    }

    /// Writes `line` into both captures (e.g. a restart marker).
    pub(crate) fn mark(&self, line: &str) {
        for c in [&self.stdout, &self.stderr] {
            c.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.into());
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        match &self.child {
            Some(c) => c.id(),
            None => panic!("the {} is not running", self.name),
        }
    }

    /// How the process ended, if it has (without waiting).
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Everything the process printed so far (stdout, then stderr).
    pub(crate) fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout.lock().unwrap_or_else(|p| p.into_inner()).text(),
            self.stderr.lock().unwrap_or_else(|p| p.into_inner()).text()
        )
    }

    /// Sends `sig` (e.g. "-TERM") with kill(1).
    pub(crate) fn signal(&mut self, sig: &str) {
        let pid = self.pid();
        match Command::new("kill").arg(sig).arg(pid.to_string()).status() {
            Ok(s) if s.success() => {}
            Ok(s) => self.fail(&format!("`kill {sig} {pid}` failed: {s}")),
            Err(e) => self.fail(&format!("cannot run `kill {sig} {pid}`: {e}")),
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub(crate) fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let polled = match self.child.as_mut() {
                Some(c) => c.try_wait(),
                None => panic!("the {} is not running", self.name),
            };
            match polled {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => self.fail(&format!(
                    "the {} did not exit within {timeout:?}",
                    self.name
                )),
                Err(e) => self.fail(&format!("waiting for the {} failed: {e}", self.name)),
            }
        }
    }

    /// Sends SIGTERM and waits (up to `timeout`) for an exit that must be
    /// clean (status 0).
    pub(crate) fn sigterm_and_wait(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("-TERM");
        let status = self.wait(timeout);
        if !status.success() {
            self.fail(&format!(
                "after SIGTERM the {} exited with {status}, expected 0",
                self.name
            ));
        }
        status
    }

    /// Prints the report, then panics with `why`.
    pub(crate) fn fail(&mut self, why: &str) -> ! {
        self.report(why);
        panic!("{why}");
    }

    fn report(&mut self, why: &str) {
        if self.reported {
            return;
        }
        self.reported = true;
        // A process that exited has closed its pipes: read them to the end first.
        if self.exit_status().is_some() {
            for h in self.readers.drain(..) {
                let _ = h.join();
            }
        }
        let rule = "=".repeat(20);
        eprintln!(
            "\n{rule} {} {rule}\nproblem: {why}\ncommand: {}\n{}{}{rule}{rule}\n",
            self.name,
            self.command_line,
            self.context,
            self.output()
        );
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.report(&format!(
                "a test panicked while this {} was running",
                self.name
            ));
        }
        if let Some(mut c) = self.child.take()
            && matches!(c.try_wait(), Ok(None))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn reader_thread(
    stream: impl Read + Send + 'static,
    capture: Arc<Mutex<Capture>>,
    listening: Option<Listening>,
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
            if let Some((parse, tx)) = &listening
                && let Some(addr) = parse(&line)
            {
                let _ = tx.send(addr);
                listening = None;
            }
            capture.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
