//! `./x demo`: the whole system on one machine with the Kaarst demo data.
//!
//! It starts the control server (seeding the demo into `.demo/`), then, through
//! the server's own API, gives a player the token of the display on Kaarst's
//! Rathausplatz and a broadcaster a broadcaster token, and starts both: the
//! player in a window when there is a display (`DISPLAY`/`WAYLAND_DISPLAY`),
//! offscreen otherwise; the broadcaster on GStreamer test sources, writing
//! its live HLS and archive where the server serves them. Tokens and the
//! broadcaster's config are kept in `.demo/`, so a second start reuses them.
//!
//! Ctrl-C reaches all three (one process group); each runs its own shutdown
//! path (the broadcaster finalizes a running recording). When the server
//! exits, the others are told to stop.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const DISPLAY_NAME: &str = "Kaarst Rathausplatz";

pub fn run(extra: &[String]) -> Result<()> {
    let data = std::env::current_dir()?.join(".demo");
    std::fs::create_dir_all(&data)?;
    let password = admin_password(&data)?;
    let (mut server, addr) = start_server(&data, &password, extra)?;
    // Filled as they start, so one that started before another failed is still stopped.
    let mut others = Vec::new();
    if let Err(e) = start_companions(&data, addr, &password, &mut others) {
        eprintln!("demo: the control server runs, but not everything else started: {e:#}");
    }
    let where_password = match std::env::var_os("CONTROL_ADMIN_PASSWORD") {
        Some(_) => "CONTROL_ADMIN_PASSWORD".to_owned(),
        None => data.join("admin-password").display().to_string(),
    };
    eprintln!(
        "demo: staff API and pages on http://{addr}/ (log in as 'admin', password in {where_password}); Ctrl-C stops everything"
    );
    let status = server.wait()?;
    for child in &mut others {
        // The server is gone (Ctrl-C reached everyone, or it failed): stop the rest too.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    if !status.success() {
        bail!("the control server exited with {status}");
    }
    Ok(())
}

/// `CONTROL_ADMIN_PASSWORD`, or one generated on the first start and kept in
/// `.demo/admin-password` (the server uses it only when it creates the admin).
fn admin_password(data: &Path) -> Result<String> {
    if let Ok(p) = std::env::var("CONTROL_ADMIN_PASSWORD") {
        return Ok(p);
    }
    let file = data.join("admin-password");
    if let Ok(p) = std::fs::read_to_string(&file) {
        return Ok(p.trim().to_owned());
    }
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let p: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&file, format!("{p}\n"))?;
    Ok(p)
}

fn start_server(data: &Path, password: &str, extra: &[String]) -> Result<(Child, SocketAddr)> {
    // The server's output stays on the terminal (a pipe through this process
    // would break when Ctrl-C ends it first), so the address comes from the
    // flags and readiness from polling the health endpoint.
    let listen = listen_flag(extra).unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    let mut child = Command::new("target/debug/control-server")
        .arg("demo")
        .arg("--data-dir")
        .arg(data)
        .arg("--listen")
        .arg(&listen)
        .args(without_listen(extra))
        .env("CONTROL_ADMIN_PASSWORD", password)
        .spawn()
        .context("cannot start target/debug/control-server")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the control server exited with {status} (see its log above)");
        }
        if matches!(
            request(addr, "GET", "/api/health", &[], None),
            Ok((200, _, _))
        ) {
            return Ok((child, addr));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("the control server did not answer on {addr} within two minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of `--listen X` or `--listen=X` among the extra flags.
fn listen_flag(extra: &[String]) -> Option<String> {
    extra
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--listen") {
            Some("") => extra.get(i + 1).cloned(),
            Some(v) => v.strip_prefix('=').map(str::to_owned),
            None => None,
        })
}

fn without_listen(extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in extra {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--listen" {
            skip = true;
        } else if !a.starts_with("--listen=") {
            out.push(a.clone());
        }
    }
    out
}

fn start_companions(
    data: &Path,
    addr: SocketAddr,
    password: &str,
    children: &mut Vec<Child>,
) -> Result<()> {
    let api = Api::login(addr, "admin", password)?;

    let player_dir = data.join("player");
    std::fs::create_dir_all(&player_dir)?;
    let token_file = player_dir.join("token");
    if !token_file.exists() {
        let displays = api.call("GET", "/api/displays", None)?;
        let display = displays
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == DISPLAY_NAME))
            .with_context(|| format!("no display named {DISPLAY_NAME:?}"))?;
        let issued = api.call(
            "POST",
            &format!("/api/displays/{}/token", display["id"]),
            None,
        )?;
        let token = issued["token"].as_str().context("no token issued")?;
        // The file the player keeps its token in, as if it had been adopted.
        std::fs::write(&token_file, token)?;
    }
    let windowed =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let mut player = Command::new("target/debug/player");
    player
        .arg("--server")
        .arg(format!("http://{addr}"))
        .arg("--data-dir")
        .arg(&player_dir);
    if !windowed {
        player.arg("--headless");
    }
    children.push(player.spawn().context("cannot start target/debug/player")?);
    eprintln!(
        "demo: player for {DISPLAY_NAME} started {}",
        if windowed {
            "in a window"
        } else {
            "offscreen (no display found)"
        }
    );

    let config = data.join("broadcaster.toml");
    if !config.exists() {
        let issued = api.call(
            "POST",
            "/api/council/broadcasters",
            Some(json!({ "name": "Ratssaal (Demo)" })),
        )?;
        let token = issued["token"].as_str().context("no broadcaster token")?;
        std::fs::write(&config, broadcaster_config(data, addr, token))?;
    }
    children.push(
        Command::new("target/debug/broadcaster")
            .arg("--config")
            .arg(&config)
            .spawn()
            .context("cannot start target/debug/broadcaster")?,
    );
    eprintln!(
        "demo: broadcaster on test sources started ({}); start the demo meeting with POST /api/council/meetings/{{id}}/start",
        config.display()
    );
    Ok(())
}

/// Test sources at a size a laptop encodes without noticing.
fn broadcaster_config(data: &Path, addr: SocketAddr, token: &str) -> String {
    let council = data.join("council");
    format!(
        "[server]\nurl = \"ws://{addr}/ws/broadcaster\"\ntoken = \"{token}\"\n\n\
         [output]\nlive_dir = \"{}\"\narchive_dir = \"{}\"\n\n\
         [video]\nwidth = 640\nheight = 360\nframerate = 25\nbitrate_kbps = 800\n\n\
         [overlay]\ntown = \"Stadt Kaarst\"\n\n\
         [[input]]\nname = \"totale\"\nsource = {{ kind = \"test\", pattern = \"smpte\" }}\n\n\
         [[input]]\nname = \"dolmetscher\"\npip = true\nsource = {{ kind = \"test\", pattern = \"ball\", tone_hz = 0.0 }}\n",
        council.join("live").display(),
        council.join("archive").display(),
    )
}

/// Just enough HTTP/1.1 for a few JSON calls on loopback.
struct Api {
    addr: SocketAddr,
    bearer: String,
}

impl Api {
    /// Logs in (session cookie + CSRF token) and creates an API token for the calls.
    fn login(addr: SocketAddr, username: &str, password: &str) -> Result<Api> {
        let body = json!({ "username": username, "password": password }).to_string();
        let (status, headers, reply) = request(addr, "POST", "/api/auth/login", &[], Some(&body))?;
        if status != 200 {
            bail!(
                "cannot log in as {username} ({status}: {reply}); if .demo was made with another password, set CONTROL_ADMIN_PASSWORD or remove .demo"
            );
        }
        let cookie = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| v.strip_prefix("cs_session="))
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?;
        let csrf = serde_json::from_str::<Value>(&reply)?["csrf_token"]
            .as_str()
            .context("no CSRF token")?
            .to_owned();
        let cookie = format!("cs_session={cookie}");
        let (status, _, reply) = request(
            addr,
            "POST",
            "/api/tokens",
            &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
            Some(&json!({ "label": "./x demo" }).to_string()),
        )?;
        if status != 201 {
            bail!("cannot create an API token ({status}: {reply})");
        }
        let bearer = serde_json::from_str::<Value>(&reply)?["token"]
            .as_str()
            .context("no API token")?
            .to_owned();
        Ok(Api { addr, bearer })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let auth = format!("Bearer {}", self.bearer);
        let body = body.map(|b| b.to_string());
        let (status, _, reply) = request(
            self.addr,
            method,
            path,
            &[("Authorization", &auth)],
            body.as_deref(),
        )?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status}: {reply}");
        }
        serde_json::from_str(&reply).with_context(|| format!("{method} {path}: not JSON"))
    }
}

type Headers = Vec<(String, String)>;

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, Headers, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("malformed status line")?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((status, headers, body.to_owned()))
}
