//! Headless Chromium driven through chromedriver over W3C WebDriver, for tests
//! of the web pages staff and the public see.
//!
//! ```text
//!  test ──reqwest──▶ chromedriver (child, free port) ──devtools──▶ chromium --headless=new
//!                     │ output captured, shown when a test panics      profile in a temp dir
//! ```
//!
//! Only the handful of commands the tests need are wrapped; [`Browser::execute`]
//! covers the rest. WebDriver errors become `anyhow` errors carrying the
//! command, the WebDriver error code and its message (never the native stack
//! trace chromedriver appends). [`Browser::accessibility`] runs `a11y.js`, an
//! automated subset of WCAG 2.1 AA, in the current page.
//!
//! Debian packages: `chromium` and `chromium-driver`. `CHROMEDRIVER` and
//! `CHROMIUM` name other binaries.

use crate::child::Watched;
use anyhow::{Context, Result, anyhow, bail};
use reqwest::{Client, Method};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// How long chromedriver may take to answer `/status` with `ready`.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

/// The interval of every poll (`wait_for`, `wait_until`, the start-up).
const POLL: Duration = Duration::from_millis(50);

/// The key under which WebDriver passes element references (W3C, fixed).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The in-page checker; it declares `a11yViolations()`.
const A11Y_JS: &str = include_str!("a11y.js");

/// JavaScript for [`Browser::wait_until`] (and Firefox's): the page's `#video`
/// is playing; its position, falsy before.
pub const VIDEO_PLAYING: &str = "(() => { const v = document.getElementById('video'); \
     return !v.paused && v.readyState >= 3 && v.currentTime > 0 && v.currentTime; })()";

/// JavaScript: the page's `#video` has a frame at a position past 0 (paused or
/// not); that position, falsy before.
pub const VIDEO_LOADED: &str = "(() => { const v = document.getElementById('video'); \
     return v.readyState >= 2 && v.currentTime > 0 && v.currentTime; })()";

/// One finding of [`Browser::accessibility`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Violation {
    /// The rule's name (`contrast`, `label`, ...; see `a11y.js`).
    pub rule: String,
    /// A short CSS-like path to the element (`main > p.note`, `button#save`).
    pub target: String,
    /// What is wrong, with the measured values.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}: {}", self.rule, self.target, self.detail)
    }
}

/// A headless Chromium session. Dropping it ends the session, then
/// chromedriver, and removes the browser profile.
pub struct Browser {
    http: Client,
    /// `http://127.0.0.1:PORT`
    driver_url: String,
    driver_addr: SocketAddr,
    session: String,
    /// The browser's process id from the capabilities: killing chromedriver
    /// does not end Chromium, so Drop kills it when the session cannot be
    /// ended politely.
    browser_pid: Option<u64>,
    /// Held for its Drop: kills chromedriver and, when a test panics, prints
    /// what chromedriver said.
    _driver: Watched,
    /// Dropped after `_driver`, when nothing writes into it any more.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session of headless
    /// Chromium at 1280x900, German as its language, with a fresh profile.
    pub async fn start() -> Result<Browser> {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium_bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());

        // `--version` first: a missing binary is an error the caller can
        // return, where Watched would panic.
        let version = match Command::new(&driver_bin).arg("--version").output() {
            Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "chromedriver not found as {driver_bin:?}: install Debian's chromium-driver \
                 (or set CHROMEDRIVER to the binary)"
            ),
            Err(e) => return Err(anyhow!(e).context(format!("cannot run {driver_bin:?}"))),
        };
        if !Path::new(&chromium_bin).is_file() {
            bail!(
                "Chromium not found at {chromium_bin}: install Debian's chromium \
                 (or set CHROMIUM to the binary)"
            );
        }

        let profile = tempfile::Builder::new()
            .prefix("browser-test-")
            .tempdir()
            .context("create the browser profile directory")?;
        // chromedriver takes no port 0; a port just freed by the OS is
        // free in practice.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("find a free port")?
            .port();
        let driver_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let driver_url = format!("http://{driver_addr}");

        let mut driver = Watched::new("chromedriver");
        driver.command_line = format!("{driver_bin} --port={port}");
        driver.context = format!("version: {version}\nbrowser: {chromium_bin}\n");
        let mut cmd = Command::new(&driver_bin);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        driver.spawn(&mut cmd, None);

        let http = Client::builder()
            // Generous: a page load or an async script on a loaded 2-core
            // machine; WebDriver's own timeouts (script 30 s) end most first.
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .context("HTTP client")?;

        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            if let Some(status) = driver.exit_status() {
                bail!(
                    "chromedriver exited with {status} before it was ready; its output:\n{}",
                    driver.output()
                );
            }
            let ready = match http.get(format!("{driver_url}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .map(|v| v["value"]["ready"] == json!(true))
                    .unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "chromedriver on port {port} was not ready within {DRIVER_START_TIMEOUT:?}; \
                     its output:\n{}",
                    driver.output()
                );
            }
            tokio::time::sleep(POLL).await;
        }

        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": { "browser": "ALL" },
                "goog:chromeOptions": {
                    "binary": chromium_bin,
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--autoplay-policy=no-user-gesture-required",
                        "--window-size=1280,900",
                        "--lang=de-DE",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                    // Headless Chromium ignores --lang for navigator.language
                    // and Accept-Language; the profile preference is honoured.
                    "prefs": { "intl.accept_languages": "de-DE" },
                },
            }},
        });
        let created = send(
            &http,
            Method::POST,
            &format!("{driver_url}/session"),
            Some(capabilities),
        )
        .await
        .with_context(|| format!("start a Chromium session ({chromium_bin})"))?;
        let session = created["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("new session without a sessionId: {created}"))?
            .to_owned();
        let browser_pid = created["capabilities"]["goog:processID"].as_u64();
        driver.context.push_str(&format!("session: {session}\n"));

        Ok(Browser {
            http,
            driver_url,
            driver_addr,
            session,
            browser_pid,
            _driver: driver,
            _profile: profile,
        })
    }

    /// One command of this session (`path` after `/session/{id}`); the
    /// response's `value`.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/session/{}{path}", self.driver_url, self.session);
        send(&self.http, method, &url, body).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.command(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.command(Method::POST, path, Some(body)).await
    }

    /// Loads `url` and waits for its load event (WebDriver's page-load strategy "normal").
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url }))
            .await
            .with_context(|| format!("navigate to {url}"))?;
        Ok(())
    }

    /// The current page's URL.
    pub async fn url(&self) -> Result<String> {
        string(self.get("/url").await?, "URL")
    }

    /// The current page's title.
    pub async fn title(&self) -> Result<String> {
        string(self.get("/title").await?, "title")
    }

    /// Resizes the window (its outer size; the viewport is smaller by the
    /// browser's own UI, even headless).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .with_context(|| format!("resize the window to {width}x{height}"))?;
        Ok(())
    }

    /// The first element matching `css`; an error naming the selector if none does.
    pub async fn find(&self, css: &str) -> Result<Element<'_>> {
        let found = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await
            .with_context(|| format!("find {css:?}"))?;
        self.element(found)
    }

    /// Every element matching `css`, in document order (none is no error).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await
            .with_context(|| format!("find all {css:?}"))?;
        match found {
            Value::Array(list) => list.into_iter().map(|e| self.element(e)).collect(),
            other => bail!("find all {css:?}: expected a list, got {other}"),
        }
    }

    /// Waits up to `timeout` for an element matching `css` to exist.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element<'_>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(first) = self.find_all(css).await?.into_iter().next() {
                return Ok(first);
            }
            if Instant::now() >= deadline {
                bail!(
                    "no element matched {css:?} within {timeout:?} (on {})",
                    self.url().await.unwrap_or_else(|e| format!("{e:#}"))
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn element(&self, reference: Value) -> Result<Element<'_>> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| anyhow!("not an element reference: {reference}"))?;
        Ok(Element {
            browser: self,
            id: id.to_owned(),
        })
    }

    /// Runs `script` as the body of a function (`arguments` holds `args`,
    /// an element as [`Element::as_arg`]); what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("execute script {}", abbreviate(script)))
    }

    /// Like [`Browser::execute`], but the script ends by calling its last
    /// argument (the callback) with the result, within 30 s.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("execute async script {}", abbreviate(script)))
    }

    /// Evaluates the JavaScript expression `expression` every 50 ms until it
    /// is truthy, and returns that value; after `timeout` an error naming
    /// `what` and the last value (or error) seen.
    pub async fn wait_until(
        &self,
        expression: &str,
        timeout: Duration,
        what: &str,
    ) -> Result<Value> {
        let script = format!("return ({expression});");
        let deadline = Instant::now() + timeout;
        loop {
            // A script error counts as "not yet": the page may still be
            // building what the expression reads.
            let last = match self
                .post("/execute/sync", json!({ "script": script, "args": [] }))
                .await
            {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => format!("last value {v}"),
                Err(e) => format!("last error {e:#}"),
            };
            if Instant::now() >= deadline {
                bail!("timed out after {timeout:?} waiting for {what} ({expression}): {last}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible viewport as PNG.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>> {
        let encoded = string(self.get("/screenshot").await?, "screenshot")?;
        base64_decode(&encoded).context("decode the screenshot")
    }

    /// Writes a screenshot to `<target dir>/web-artifacts/<name>.png` (kept
    /// after the run, for a person or CI to look at); returns the path.
    pub async fn save_screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self.screenshot_png().await?;
        let dir = artifact_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }

    /// Fills and sends the console's login form on the current page (where a
    /// console page redirected, or `/konsole/anmelden`), then waits until
    /// `ready` (a JavaScript expression) holds on the page it leads to.
    pub async fn log_in(&self, user: &str, password: &str, ready: &str) -> Result<()> {
        self.find("#username").await?.send_keys(user).await?;
        self.find("#password").await?.send_keys(password).await?;
        self.find("#login button").await?.click().await?;
        self.wait_until(
            ready,
            Duration::from_secs(10),
            &format!("the console as {user}"),
        )
        .await?;
        Ok(())
    }

    /// Logs out with the console header's button; waits for the login page.
    pub async fn log_out(&self) -> Result<()> {
        self.find("#logout").await?.click().await?;
        self.wait_until(
            "location.pathname === '/konsole/anmelden'",
            Duration::from_secs(10),
            "the login page after logging out",
        )
        .await?;
        Ok(())
    }

    /// Makes a viewer account (`vera`) through `api`, logs out of the console
    /// page at `url` and back in there as her; waits until `ready` holds.
    /// What staff without the right to change a page see of it.
    pub async fn switch_to_viewer(&self, api: &crate::Api, url: &str, ready: &str) -> Result<()> {
        let (status, body) = api
            .post(
                "/api/users",
                &json!({ "username": "vera", "password": "ein-langes-passwort", "role": "viewer" }),
            )
            .await?;
        if status != reqwest::StatusCode::CREATED {
            bail!("creating the viewer: {status} {body}");
        }
        self.goto(url).await?;
        self.log_out().await?;
        self.goto(url).await?;
        self.log_in("vera", "ein-langes-passwort", ready).await
    }

    /// Fails on script errors and policy violations (CSP) in the console.
    /// Failed loads are left out: the tests cause them on purpose (a wrong
    /// password, a refused save, a display without a screenshot) and the pages
    /// answer them in words.
    pub async fn assert_no_script_errors(&self) -> Result<()> {
        let mut errors = self.console_errors().await?;
        errors.retain(|e| !e.contains("Failed to load resource"));
        if !errors.is_empty() {
            bail!("browser console errors: {errors:#?}");
        }
        Ok(())
    }

    /// Fails naming every resource the current page loaded from anywhere but
    /// its own origin (`blob:` and `data:` URLs are the page's own): the pages
    /// must work without a request leaving the server (no CDN, no web font).
    pub async fn assert_self_contained(&self, page_name: &str) -> Result<()> {
        let foreign = self
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)\
                   .filter(u => !u.startsWith(location.origin + '/') && !u.startsWith('blob:') \
                     && !u.startsWith('data:'));",
                vec![],
            )
            .await?;
        let list = foreign.as_array().cloned().unwrap_or_default();
        if !list.is_empty() {
            bail!("{page_name} loaded from elsewhere: {foreign}");
        }
        Ok(())
    }

    /// The browser console's SEVERE entries (uncaught exceptions,
    /// `console.error`, failed loads, CSP violations) since the last call:
    /// chromedriver hands each entry out once.
    pub async fn console_errors(&self) -> Result<Vec<String>> {
        // Not W3C: chromedriver's Selenium-era log endpoint, still served
        // under /se/ (the unprefixed /log answers an empty list).
        let entries = self
            .post("/se/log", json!({ "type": "browser" }))
            .await
            .context("read the browser log")?;
        let Value::Array(entries) = entries else {
            bail!("the browser log is not a list: {entries}");
        };
        Ok(entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// Checks the current page against the rules of `a11y.js`.
    pub async fn accessibility(&self) -> Result<Vec<Violation>> {
        let script = format!("{A11Y_JS}\nreturn a11yViolations();");
        let found = self
            .post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
            .context("run the accessibility checker")?;
        serde_json::from_value(found).context("read the accessibility checker's findings")
    }

    /// Fails with every violation of the current page, under `page_name`.
    pub async fn assert_accessible(&self, page_name: &str) -> Result<()> {
        let violations = self.accessibility().await?;
        if violations.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
        bail!(
            "{page_name} ({}) has {} accessibility violation(s):\n{}",
            self.url().await.unwrap_or_else(|e| format!("{e:#}")),
            violations.len(),
            list.join("\n")
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session lets chromedriver close Chromium; killing
        // chromedriver alone leaves Chromium running. Drop cannot await,
        // hence the blocking request by hand.
        if delete_session_blocking(self.driver_addr, &self.session).is_err()
            && let Some(pid) = self.browser_pid
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        // Then the fields: `_driver` kills chromedriver, `_profile` goes last.
    }
}

/// An element of the current page (WebDriver's reference to it; stale once
/// the page changes).
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

impl Element<'_> {
    /// The element as an argument of [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    async fn get(&self, what: &str) -> Result<Value> {
        self.browser
            .get(&format!("/element/{}/{what}", self.id))
            .await
    }

    async fn post(&self, what: &str, body: Value) -> Result<Value> {
        self.browser
            .post(&format!("/element/{}/{what}", self.id), body)
            .await
    }

    /// Scrolls it into view and clicks its centre (an error if something
    /// else is on top).
    pub async fn click(&self) -> Result<()> {
        self.post("click", json!({})).await.context("click")?;
        Ok(())
    }

    /// Focuses it and types `text`.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.post("value", json!({ "text": text }))
            .await
            .with_context(|| format!("type {text:?}"))?;
        Ok(())
    }

    /// Empties an editable element.
    pub async fn clear(&self) -> Result<()> {
        self.post("clear", json!({})).await.context("clear")?;
        Ok(())
    }

    /// Its rendered text (`innerText`-like).
    pub async fn text(&self) -> Result<String> {
        string(self.get("text").await?, "element text")
    }

    /// The attribute `name`, if it is set.
    pub async fn attr(&self, name: &str) -> Result<Option<String>> {
        match self.get(&format!("attribute/{name}")).await? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => bail!("attribute {name}: not a string: {other}"),
        }
    }

    /// The DOM property `name` (`value`, `checked`, ...).
    pub async fn prop(&self, name: &str) -> Result<Value> {
        self.get(&format!("property/{name}")).await
    }
}

/// Sends one WebDriver request and unwraps `value`, turning an error answer
/// into "error code: message".
async fn send(http: &Client, method: Method, url: &str, body: Option<Value>) -> Result<Value> {
    let mut request = http.request(method.clone(), url);
    // chromedriver refuses a POST without a JSON body, even an empty one.
    if method == Method::POST {
        request = request.json(&body.unwrap_or_else(|| json!({})));
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("{method} {url}: read the answer"))?;
    let mut answer: Value = serde_json::from_str(&text)
        .with_context(|| format!("{method} {url}: {status}, not JSON: {}", abbreviate(&text)))?;
    let value = answer["value"].take();
    if let Some(code) = value["error"].as_str() {
        // The message's first line; chromedriver adds "(Session info: ...)"
        // and a native stack trace of no use here.
        let message = value["message"].as_str().unwrap_or_default();
        let message = message.lines().next().unwrap_or_default();
        bail!("WebDriver {code}: {message}");
    }
    if !status.is_success() {
        bail!("{method} {url}: {status}: {}", abbreviate(&text));
    }
    Ok(value)
}

fn string(value: Value, what: &str) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => bail!("{what}: expected a string, got {other}"),
    }
}

/// JavaScript's truthiness of a returned value (NaN arrives as null).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// At most 80 characters of `s` on one line, for error messages.
fn abbreviate(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

/// `$CARGO_TARGET_DIR/web-artifacts`, else the workspace's `target/web-artifacts`.
fn artifact_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package lives inside the workspace")
        .to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    target.join("web-artifacts")
}

/// DELETE /session/{id} over a plain socket, waiting for chromedriver's
/// answer (it comes once Chromium has closed).
fn delete_session_blocking(addr: SocketAddr, session: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // Only the status line: chromedriver keeps the connection open despite
    // `Connection: close`, so reading to the end would wait out the timeout.
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "chromedriver did not end the session",
        ))
    }
}

/// Standard base64 (with padding, whitespace ignored), for screenshots: the
/// workspace's `base64` crate is not a dependency of this package.
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let symbols: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let data = symbols
        .strip_suffix(b"==")
        .or_else(|| symbols.strip_suffix(b"="))
        .unwrap_or(&symbols);
    if !symbols.len().is_multiple_of(4) || data.len() % 4 == 1 {
        bail!("base64 of invalid length {}", symbols.len());
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            let v = sextet(c).ok_or_else(|| anyhow!("not base64: byte {c:#04x}"))?;
            acc = (acc << 6) | v;
        }
        // A short last chunk carries 2 or 3 sextets: 1 or 2 bytes.
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_padding() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9v\nYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert!(base64_decode("Zm9").is_err());
        assert!(base64_decode("Zm9*").is_err());
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for t in [json!(true), json!(1), json!("x"), json!([]), json!({})] {
            assert!(truthy(&t), "{t}");
        }
    }
}
