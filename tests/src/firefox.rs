//! Debian's Firefox ESR, headless, driven over Marionette: the remote protocol
//! built into Firefox, which geckodriver only translates. Debian 12 packages
//! no geckodriver, so the few commands the public-page test needs (new
//! session, navigate, run a script) are spoken directly: `length:json` frames
//! over TCP, requests `[0, id, command, params]`, answers `[1, id, error,
//! result]`.
//!
//! The calls block; they are short (a page load, a script) and the tests run
//! on a multi-threaded runtime, where `block_in_place` keeps the other tasks
//! (the server's, the broadcaster's log readers) going.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Firefox {
    child: Child,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// Preferences for an unattended test browser: media may play without a
/// gesture, and nothing phones home (there is no network to phone).
const PREFS: &[(&str, &str)] = &[
    ("media.autoplay.default", "0"),
    ("media.autoplay.blocking_policy", "0"),
    ("browser.shell.checkDefaultBrowser", "false"),
    ("browser.startup.homepage_override.mstone", "\"ignore\""),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("toolkit.telemetry.reportingpolicy.firstRun", "false"),
    ("app.update.disabledForTesting", "true"),
    ("app.normandy.enabled", "false"),
    ("network.captive-portal-service.enabled", "false"),
    ("browser.safebrowsing.malware.enabled", "false"),
    ("browser.safebrowsing.phishing.enabled", "false"),
    ("extensions.update.enabled", "false"),
    ("intl.accept_languages", "\"de-DE\""),
];

impl Firefox {
    pub fn start() -> Result<Firefox> {
        let bin = std::env::var("FIREFOX").unwrap_or_else(|_| "firefox-esr".into());
        let profile = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut prefs: String = PREFS
            .iter()
            .map(|(k, v)| format!("user_pref(\"{k}\", {v});\n"))
            .collect();
        prefs.push_str(&format!("user_pref(\"marionette.port\", {port});\n"));
        std::fs::write(profile.path().join("user.js"), prefs)?;
        let child = Command::new(&bin)
            .args(["--headless", "--marionette", "--no-remote", "-profile"])
            .arg(profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("starting {bin} (install Debian's firefox-esr, or set FIREFOX)")
            })?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => {
                    bail!("Firefox's Marionette never listened on port {port}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut ff = Firefox {
            child,
            stream,
            reader,
            next_id: 0,
            _profile: profile,
        };
        let hello = ff.read_frame()?;
        if hello["marionetteProtocol"] != 3 {
            bail!("unexpected Marionette greeting {hello}");
        }
        ff.command("WebDriver:NewSession", json!({ "capabilities": {} }))?;
        Ok(ff)
    }

    fn read_frame(&mut self) -> Result<Value> {
        let mut len = Vec::new();
        self.reader.read_until(b':', &mut len)?;
        len.pop();
        let n: usize = std::str::from_utf8(&len)?
            .trim()
            .parse()
            .context("Marionette frame length")?;
        let mut body = vec![0; n];
        self.reader.read_exact(&mut body)?;
        Ok(serde_json::from_slice(&body)?)
    }

    fn command(&mut self, name: &str, params: Value) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = serde_json::to_vec(&json!([0, id, name, params]))?;
        self.stream
            .write_all(format!("{}:", msg.len()).as_bytes())?;
        self.stream.write_all(&msg)?;
        let reply = tokio::task::block_in_place(|| self.read_frame())?;
        if reply[1] != id {
            bail!("Marionette answered {reply} to request {id}");
        }
        if !reply[2].is_null() {
            return Err(anyhow!(
                "{name}: {} {}",
                reply[2]["error"],
                reply[2]["message"]
            ));
        }
        Ok(reply[3]["value"].clone())
    }

    pub fn goto(&mut self, url: &str) -> Result<()> {
        self.command("WebDriver:Navigate", json!({ "url": url }))?;
        Ok(())
    }

    pub fn execute(&mut self, script: &str) -> Result<Value> {
        self.command(
            "WebDriver:ExecuteScript",
            json!({ "script": script, "args": [] }),
        )
    }

    /// Evaluates `expression` every 100 ms until it is truthy; returns it.
    pub fn wait_until(&mut self, expression: &str, timeout: Duration, what: &str) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.execute(&format!("return ({expression});")) {
                Ok(v)
                    if !matches!(v, Value::Null | Value::Bool(false))
                        && v != json!(0)
                        && v != json!("") =>
                {
                    return Ok(v);
                }
                Ok(v) => format!("last value {v}"),
                Err(e) => format!("last error {e:#}"),
            };
            if Instant::now() >= deadline {
                bail!("Firefox: timed out after {timeout:?} waiting for {what}: {last}");
            }
            tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(100)));
        }
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        // Quitting through Marionette takes the content processes down too.
        let _ = self.command("Marionette:Quit", json!({ "flags": ["eForceQuit"] }));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
