//! The player's network side against the real control-server binary (build
//! it first: `cargo build -p control-server`). The player talks to the server
//! through a small TCP relay, so the server can die and come back on another
//! port while the player keeps its address.

use super::T;
use content::model::AssetRef;
use player::net::{self, AppReport, NetConfig, NetEvent, NetHandle};
use player::store::Store;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system_tests::api::{KAARST_DISTRICT, display_json};
use system_tests::{Api, ServerOptions, ServerProcess, eventually};
use tokio::net::{TcpListener, TcpStream};

/// Forwards every connection to the server's current address. It can slow
/// the server's answers down (`throttle`), so a download is still running
/// when the test needs it to be, and rewrite the manifest on its way to the
/// player (`rewrite`), to play a newer server the real one cannot be.
struct Relay {
    addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    /// Connections accepted so far.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    /// Bytes per second from server to player; 0 is unlimited.
    throttle: Arc<std::sync::atomic::AtomicU64>,
}

/// Changes a manifest (as JSON) before the player sees it.
type Rewrite = fn(&mut Value);

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        Relay::start_with(upstream, None).await
    }

    async fn start_with(upstream: SocketAddr, rewrite: Option<Rewrite>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let up = upstream.clone();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        let throttle = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let slow = throttle.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let target = *up.lock().unwrap();
                let slow = slow.clone();
                tokio::spawn(async move {
                    if let Some(rewrite) = rewrite
                        && is_manifest_request(&client).await
                    {
                        serve_rewritten(client, target, rewrite).await;
                        return;
                    }
                    if let Ok(server) = TcpStream::connect(target).await {
                        forward(client, server, slow).await;
                    }
                });
            }
        });
        Relay {
            addr,
            upstream,
            accepted,
            throttle,
        }
    }

    /// Limits the server-to-player direction to `bytes_per_s` (0: unlimited).
    fn throttle(&self, bytes_per_s: u64) {
        self.throttle
            .store(bytes_per_s, std::sync::atomic::Ordering::SeqCst);
    }

    fn point_to(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Copies both ways; the server's bytes in 4 KiB steps paced by `throttle`.
async fn forward(
    client: TcpStream,
    server: TcpStream,
    throttle: Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
        let _ = server_tx.shutdown().await;
    });
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match server_rx.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if client_tx.write_all(&buf[..n]).await.is_err() {
            break;
        }
        let rate = throttle.load(std::sync::atomic::Ordering::SeqCst);
        if rate > 0 {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
        }
    }
    let _ = client_tx.shutdown().await;
    up.abort();
}

/// Whether the connection opens with the manifest request (looked at, not read).
async fn is_manifest_request(client: &TcpStream) -> bool {
    const LINE: &[u8] = b"GET /api/player/manifest";
    let mut head = [0u8; 32];
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let n = match client.peek(&mut head).await {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 || n >= LINE.len() || tokio::time::Instant::now() > deadline {
            return head[..n].starts_with(LINE);
        }
        // Part of the request line so far: look again once more has come.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Answers the manifest request itself: fetches the real one with the
/// player's token, rewrites it, and closes the connection (so the player's
/// client never reuses it for something else).
async fn serve_rewritten(mut client: TcpStream, target: SocketAddr, rewrite: Rewrite) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let auth = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let resp = system_tests::api::http_client()
        .get(format!("http://{target}{path}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let mut body = resp.bytes().await.unwrap().to_vec();
    if status == reqwest::StatusCode::OK {
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        rewrite(&mut v);
        body = serde_json::to_vec(&v).unwrap();
    }
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let _ = client.write_all(head.as_bytes()).await;
    let _ = client.write_all(&body).await;
    let _ = client.shutdown().await;
}

/// Waits for the first event `pick` accepts, skipping others.
async fn wait_event<R>(
    net: &NetHandle,
    what: &str,
    mut pick: impl FnMut(&NetEvent) -> Option<R>,
) -> R {
    let deadline = tokio::time::Instant::now() + T;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, net.events.recv()).await {
            Ok(Ok(e)) => {
                if let Some(r) = pick(&e) {
                    return r;
                }
                seen.push(format!("{e:?}"));
            }
            Ok(Err(_)) => panic!("the network thread ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}; saw {seen:#?}"),
        }
    }
}

pub(crate) fn png(colour: [u8; 3]) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(48, 27, image::Rgb(colour))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// Uploads a PNG; returns its reference.
pub(crate) async fn upload(api: &Api, name: &str, bytes: Vec<u8>) -> AssetRef {
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let resp = api
        .http
        .post(api.url(&format!("/api/assets?filename={name}")))
        .bearer_auth(&api.token)
        .header("content-type", "image/png")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
    AssetRef {
        sha256: sha,
        size,
        mime: "image/png".into(),
    }
}

/// An image item shown on `display` by a new schedule; returns the item id.
async fn schedule_image(api: &Api, display: i64, name: &str, asset: &AssetRef) -> i64 {
    let item = json!({
        "name": name,
        "duration_s": 10,
        "content": { "type": "image", "asset": asset },
    });
    let (status, v) = api.post("/api/items", &item).await.unwrap();
    assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    api.create_schedule(
        name,
        json!([{ "kind": "display", "value": display }]),
        &[id],
    )
    .await
    .unwrap();
    id
}

fn config(relay: &Relay) -> NetConfig {
    let mut c = NetConfig::new(&format!("http://{}", relay.addr));
    c.backoff_min = Duration::from_millis(100);
    c.backoff_max = Duration::from_millis(800);
    c.plays_interval = Duration::from_millis(200);
    c.connect_timeout = Duration::from_secs(5);
    c.sync_retry = Duration::from_millis(300);
    c
}

async fn receipt(api: &Api, alert_id: &str, display: i64) -> Value {
    let (_, detail) = api.get(&format!("/api/alerts/{alert_id}")).await.unwrap();
    detail["receipts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["display_id"] == json!(display))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_syncs_alerts_and_survives_the_server() {
    let mut server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(Store::open(dir.path()).unwrap()));
    let net = net::spawn(config(&relay), store.clone()).unwrap();

    // Unpaired: a code, which staff adopt; the token is kept and used.
    let code = wait_event(&net, "a pairing code", |e| match e {
        NetEvent::Pairing { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await;
    let display = api
        .adopt(&code, &display_json("Kaarst Marktplatz"))
        .await
        .unwrap();
    wait_event(&net, "adoption", |e| {
        matches!(e, NetEvent::Adopted { display_id } if display_id.0 == display).then_some(())
    })
    .await;
    assert!(store.lock().unwrap().token().unwrap().is_some());
    wait_event(&net, "welcome", |e| {
        matches!(e, NetEvent::Online { .. }).then_some(())
    })
    .await;

    // A schedule with an image: the manifest arrives only with its asset cached.
    let bytes = png([0, 90, 160]);
    let asset = upload(&api, "wappen.png", bytes.clone()).await;
    let item = schedule_image(&api, display, "Wappen", &asset).await;
    let manifest = wait_event(&net, "a manifest with the image", |e| match e {
        NetEvent::Manifest(m) if m.items.iter().any(|i| i.id.0 == item) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert!(manifest.assets.contains(&asset));
    {
        let s = store.lock().unwrap();
        assert!(s.has_asset(&asset).unwrap());
        assert_eq!(std::fs::read(s.asset_path(&asset.sha256)).unwrap(), bytes);
        assert_eq!(s.manifest_version().unwrap(), Some(manifest.version));
    }

    // Proof of play is kept until the server accepts it.
    net.reports
        .send(AppReport::Played(content::protocol::PlayRecord {
            item: content::ItemId(item),
            zone: "main".into(),
            schedule: None,
            started_at: chrono::Utc::now() - chrono::Duration::seconds(10),
            duration_ms: 10_000,
        }))
        .await
        .unwrap();
    eventually(T, "the play record to be accepted", || {
        let store = store.clone();
        async move {
            let pending = store.lock().unwrap().pending_plays()?;
            Ok((pending == 0).then_some(()))
        }
    })
    .await;

    // An alert: acknowledged on receipt, reported when shown.
    let alert_id = api
        .send_alert("Großbrand: Fenster schließen", &[KAARST_DISTRICT])
        .await
        .unwrap();
    let got = wait_event(&net, "the alert", |e| match e {
        NetEvent::AlertStart(a) => Some(a.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got.id, alert_id);
    net.reports
        .send(AppReport::AlertShown {
            alert_id: alert_id.clone(),
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    eventually(T, "received and shown receipts", || async {
        let r = receipt(&api, &alert_id, display).await;
        Ok((r["received_at"].is_string() && r["shown_at"].is_string()).then_some(()))
    })
    .await;

    // The server dies: the player goes offline, keeps its manifest, and
    // comes back when the server returns (on a new port, behind the relay).
    server.sigkill();
    wait_event(&net, "going offline", |e| {
        matches!(e, NetEvent::Offline { .. }).then_some(())
    })
    .await;
    assert_eq!(
        store.lock().unwrap().manifest_version().unwrap(),
        Some(manifest.version)
    );
    server.restart();
    relay.point_to(server.addr());
    wait_event(&net, "reconnecting", |e| {
        matches!(e, NetEvent::Online { .. }).then_some(())
    })
    .await;

    // A corrupted asset on the server: rejected, and the old manifest stays.
    let api = Api::admin(&server.base_url()).await.unwrap();
    let bad = upload(&api, "kaputt.png", png([200, 0, 0])).await;
    let on_disk = server
        .data_dir()
        .join("assets")
        .join(&bad.sha256[..2])
        .join(&bad.sha256);
    let mut corrupted = std::fs::read(&on_disk).unwrap();
    let last = corrupted.len() - 1;
    corrupted[last] ^= 0xff;
    std::fs::write(&on_disk, &corrupted).unwrap();
    schedule_image(&api, display, "Kaputt", &bad).await;
    let problem = wait_event(&net, "the checksum problem", |e| match e {
        NetEvent::Problem(p) if p.contains("checksum") => Some(p.clone()),
        NetEvent::Manifest(m) => panic!("manifest {} taken with a corrupted asset", m.version),
        _ => None,
    })
    .await;
    assert!(problem.contains(&bad.sha256), "{problem}");
    {
        let s = store.lock().unwrap();
        assert_eq!(s.manifest_version().unwrap(), Some(manifest.version));
        assert!(!s.has_asset(&bad).unwrap());
        assert!(!s.asset_path(&bad.sha256).exists());
    }

    // Fixed on the server: the player tries again by itself and takes it.
    corrupted[last] ^= 0xff;
    std::fs::write(&on_disk, &corrupted).unwrap();
    let fixed = wait_event(&net, "the manifest after the retry", |e| match e {
        NetEvent::Manifest(m) if m.assets.contains(&bad) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert!(fixed.version > manifest.version);
    assert!(store.lock().unwrap().has_asset(&bad).unwrap());

    net.stop();
    server.sigterm_and_wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_player_has_its_manifest_at_once() {
    let mut server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let display = api
        .create_display(&display_json("Kaarst Rathaus"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let asset = upload(&api, "wappen.png", png([10, 120, 60])).await;
    schedule_image(&api, display, "Wappen", &asset).await;
    {
        let store = Store::open(dir.path()).unwrap();
        store.save_token(&token).unwrap();
        let net = net::spawn(config(&relay), Arc::new(Mutex::new(store))).unwrap();
        wait_event(&net, "the manifest", |e| {
            matches!(e, NetEvent::Manifest(_)).then_some(())
        })
        .await;
        net.stop();
    }
    server.sigkill();
    // A new process (here: a fresh store on the same directory) plays at once.
    let store = Store::open(dir.path()).unwrap();
    let m = store.manifest().unwrap().expect("manifest kept");
    assert!(m.assets.iter().all(|a| store.has_asset(a).unwrap()));
    let net = net::spawn(config(&relay), Arc::new(Mutex::new(store))).unwrap();
    wait_event(&net, "offline while the server is down", |e| {
        matches!(e, NetEvent::Offline { .. }).then_some(())
    })
    .await;
    net.stop();
}

/// The player binary as a child process, killed when dropped; its output
/// goes to a file that is printed if the test fails.
struct PlayerProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl PlayerProcess {
    /// Starts the player binary headless on `dir`, talking to the relay; its
    /// output goes to `log` in `dir`'s parent (a restart appends).
    fn start(relay: &Relay, dir: &std::path::Path, log: &str) -> PlayerProcess {
        let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_player"));
        PlayerProcess::start_with(cmd, relay, dir, log)
    }

    /// The same, as a process that may write no file larger than
    /// `max_file_bytes` (RLIMIT_FSIZE): a full disk, as far as one file
    /// goes, with the kernel's real EFBIG. SIGXFSZ is ignored (by the shell,
    /// inherited across exec) so a write fails instead of killing the player.
    fn start_limited(
        relay: &Relay,
        dir: &std::path::Path,
        log: &str,
        max_file_bytes: u64,
    ) -> PlayerProcess {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(r#"trap "" XFSZ; exec prlimit --fsize="$0" -- "$@""#)
            .arg(max_file_bytes.to_string())
            .arg(env!("CARGO_BIN_EXE_player"))
            // Mesa's shader cache would hit the same limit; it is not the point.
            .env("MESA_SHADER_CACHE_DISABLE", "true");
        PlayerProcess::start_with(cmd, relay, dir, log)
    }

    fn start_with(
        mut cmd: std::process::Command,
        relay: &Relay,
        dir: &std::path::Path,
        log: &str,
    ) -> PlayerProcess {
        let log = dir.parent().unwrap().join(log);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = cmd
            .arg("--headless")
            .arg("--server")
            .arg(format!("http://{}", relay.addr))
            .arg("--data-dir")
            .arg(dir)
            .args(["--size", "640x360"])
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        PlayerProcess { child, log }
    }
}

impl Drop for PlayerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let out = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("==== player output ====\n{out}\n=======================");
        }
    }
}

async fn online(api: &Api, display: i64) -> bool {
    let (_, d) = api.get(&format!("/api/displays/{display}")).await.unwrap();
    d["online"] == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_binary_keeps_running_without_its_server() {
    let mut server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Büttgen"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap().save_token(&token).unwrap();
    let mut player = PlayerProcess::start(&relay, dir.path(), "player.log");

    eventually(T, "the player to come online", || async {
        Ok(online(&api, display).await.then_some(()))
    })
    .await;

    // The server dies: the player keeps running and keeps trying.
    server.sigkill();
    let before = relay.accepted();
    eventually(T, "two reconnect attempts", || async {
        Ok((relay.accepted() >= before + 2).then_some(()))
    })
    .await;
    assert!(
        player.child.try_wait().unwrap().is_none(),
        "the player exited without its server"
    );

    // It returns (on a new port, behind the relay): the player reconnects.
    server.restart();
    relay.point_to(server.addr());
    let api = Api::admin(&server.base_url()).await.unwrap();
    eventually(T, "the player to reconnect", || async {
        Ok(online(&api, display).await.then_some(()))
    })
    .await;
    assert!(player.child.try_wait().unwrap().is_none());
    server.sigterm_and_wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_download_is_not_taken() {
    let server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Holzbüttgen"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let asset = upload(&api, "halb.png", png([90, 90, 200])).await;
    let on_disk = server
        .data_dir()
        .join("assets")
        .join(&asset.sha256[..2])
        .join(&asset.sha256);
    let bytes = std::fs::read(&on_disk).unwrap();
    std::fs::write(&on_disk, &bytes[..bytes.len() / 2]).unwrap();
    schedule_image(&api, display, "Halb", &asset).await;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.save_token(&token).unwrap();
    let store = Arc::new(Mutex::new(store));
    let net = net::spawn(config(&relay), store.clone()).unwrap();
    let problem = wait_event(&net, "the size problem", |e| match e {
        NetEvent::Problem(p) if p.contains("bytes") => Some(p.clone()),
        NetEvent::Manifest(m) => panic!("manifest {} taken with a truncated asset", m.version),
        _ => None,
    })
    .await;
    assert!(problem.contains(&asset.sha256), "{problem}");
    let s = store.lock().unwrap();
    assert_eq!(s.manifest_version().unwrap(), None);
    assert!(!s.asset_path(&asset.sha256).exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("cache/partial"))
            .unwrap()
            .count(),
        0
    );
    drop(s);
    net.stop();
}

/// An item id the real server never hands out in these tests.
const HOLOGRAM: i64 = 999_999;

/// A newer server: the manifest gains an item of a type this build does not
/// know, playing first in every main loop.
fn add_hologram(m: &mut Value) {
    m["items"].as_array_mut().unwrap().push(json!({
        "id": HOLOGRAM,
        "name": "Hologramm",
        "content": { "type": "hologram", "height_cm": 180 },
        "duration_s": 10,
    }));
    for seg in m["timeline"].as_array_mut().unwrap() {
        if let Some(main) = seg["zones"]["main"]["entries"].as_array_mut() {
            main.insert(
                0,
                json!({ "item": HOLOGRAM, "duration_s": 10, "schedule": 1 }),
            );
        }
    }
}

async fn display_health(api: &Api, display: i64) -> Value {
    let (_, d) = api.get(&format!("/api/displays/{display}")).await.unwrap();
    d["health"].clone()
}

/// The health from a heartbeat on the display's current connection, not one
/// stored from an earlier process; `None` before the first such heartbeat.
async fn live_health(api: &Api, display: i64) -> Option<Value> {
    let (_, d) = api.get(&format!("/api/displays/{display}")).await.unwrap();
    let time = |v: &Value| {
        v.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let since = time(&d["connected_since"])?;
    let seen = time(&d["last_seen"])?;
    (d["online"] == json!(true) && seen >= since).then(|| d["health"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_item_type_is_skipped_reported_and_the_rest_plays() {
    let server = ServerProcess::start_with(ServerOptions {
        args: vec!["--heartbeat-s".into(), "1".into()],
        ..Default::default()
    });
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start_with(server.addr(), Some(add_hologram)).await;
    let display = api
        .create_display(&display_json("Kaarst Vorst"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let asset = upload(&api, "wappen.png", png([30, 60, 90])).await;
    let item = schedule_image(&api, display, "Wappen", &asset).await;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.save_token(&token).unwrap();
    let store = Arc::new(Mutex::new(store));
    let net = net::spawn(config(&relay), store.clone()).unwrap();

    // The manifest is taken without the unknown item; its image is cached.
    let m = wait_event(&net, "the manifest", |e| match e {
        NetEvent::Manifest(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    let ids: Vec<i64> = m.items.iter().map(|i| i.id.0).collect();
    assert_eq!(ids, [item]);
    let now = chrono::Utc::now();
    let main = &m.segment_at(now).expect("a segment for now").state.zones["main"];
    let entries: Vec<i64> = main.entries.iter().map(|e| e.item.0).collect();
    assert_eq!(entries, [item], "the rest of the loop plays");
    assert!(store.lock().unwrap().has_asset(&asset).unwrap());
    let shown = player::show::zones_at(&m, now);
    assert_eq!(shown[0].1.as_ref().map(|s| s.item.id.0), Some(item));

    // Reported: to the app (and the log), and to the server in the heartbeat.
    let problem = wait_event(&net, "the skipped-item problem", |e| match e {
        NetEvent::Problem(p) if p.contains("hologram") => Some(p.clone()),
        _ => None,
    })
    .await;
    assert!(problem.contains(&format!("item {HOLOGRAM}")), "{problem}");
    assert!(problem.contains("Hologramm"), "{problem}");
    eventually(T, "the heartbeat to report the skipped item", || async {
        let h = display_health(&api, display).await;
        let reported = h["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p.as_str().is_some_and(|p| p.contains("hologram")));
        Ok((reported && h["manifest_version"] == json!(m.version)).then_some(()))
    })
    .await;
    // Kept for a restarted player, which reports it again.
    assert_eq!(store.lock().unwrap().manifest_skipped().unwrap(), [problem]);
    net.stop();
}

/// A PNG of `w`×`h` noise: incompressible, so its size is about 3·w·h bytes.
pub(crate) fn noise_png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        let mut px = [0u8; 3];
        for c in &mut px {
            // xorshift: cheap noise, different per seed.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *c = state as u8;
        }
        image::Rgb(px)
    });
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    bytes
}

/// An image item; returns its id.
pub(crate) async fn image_item(api: &Api, name: &str, asset: &AssetRef) -> i64 {
    let item = json!({
        "name": name,
        "duration_s": 10,
        "content": { "type": "image", "asset": asset },
    });
    let (status, v) = api.post("/api/items", &item).await.unwrap();
    assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// Makes schedule `id` play `items` instead (one manifest change).
pub(crate) async fn replace_entries(api: &Api, id: i64, items: &[i64]) {
    let path = format!("/api/schedules/{id}");
    let (_, mut s) = api.get(&path).await.unwrap();
    s["entries"] = items.iter().map(|i| json!({ "item": i })).collect();
    let (status, v) = api
        .call(reqwest::Method::PUT, &path, Some(&s))
        .await
        .unwrap();
    assert!(status.is_success(), "{status} {v}");
}

fn partial_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("cache/partial"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_limit_evicts_what_no_manifest_uses_and_refuses_what_cannot_fit() {
    let server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Driesch"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let a = upload(&api, "a.png", noise_png(100, 100, 1)).await;
    let b = upload(&api, "b.png", noise_png(100, 200, 2)).await;
    let (item_a, item_b) = (
        image_item(&api, "A", &a).await,
        image_item(&api, "B", &b).await,
    );
    // Room for A and a bit, or for B alone, never for A and B together.
    let limit = b.size + a.size / 2;
    assert!(a.size + b.size > limit && b.size < limit);

    // A leftover no manifest names, older than anything, as large as B.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.save_token(&token).unwrap();
    let leftover = noise_png(100, 200, 3);
    let old = AssetRef {
        sha256: hex::encode(sha2::Sha256::digest(&leftover)),
        size: leftover.len() as u64,
        mime: "image/png".into(),
    };
    std::fs::write(store.asset_path(&old.sha256), &leftover).unwrap();
    store.add_asset(&old).unwrap();
    let store = Arc::new(Mutex::new(store));

    let schedule = api
        .create_schedule(
            "A",
            json!([{ "kind": "display", "value": display }]),
            &[item_a],
        )
        .await
        .unwrap();
    let mut c = config(&relay);
    c.cache_max_bytes = Some(limit);
    let net = net::spawn(c, store.clone()).unwrap();
    let first = wait_event(&net, "the manifest with A", |e| match e {
        NetEvent::Manifest(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(first.assets, std::slice::from_ref(&a));
    {
        let s = store.lock().unwrap();
        assert!(s.has_asset(&a).unwrap());
        assert!(!s.has_asset(&old).unwrap(), "the leftover made room");
        assert!(!s.asset_path(&old.sha256).exists());
    }

    // B alone fits the limit, but not next to A, which plays until B is
    // ready: refused before a byte is written, and A keeps playing.
    replace_entries(&api, schedule, &[item_b]).await;
    let problem = wait_event(&net, "the cache-full problem", |e| match e {
        NetEvent::Problem(p) if p.contains("cache limit") => Some(p.clone()),
        NetEvent::Manifest(m) => panic!("manifest {} taken over the limit", m.version),
        _ => None,
    })
    .await;
    assert!(problem.contains(&b.sha256), "{problem}");
    {
        let s = store.lock().unwrap();
        assert_eq!(s.manifest_version().unwrap(), Some(first.version));
        assert!(s.has_asset(&a).unwrap());
        assert!(!s.asset_path(&b.sha256).exists());
        let (_, bytes) = s.cache_usage().unwrap();
        assert!(bytes <= limit, "{bytes} > {limit}");
    }
    assert!(partial_files(dir.path()).is_empty());

    // A manifest that needs more than the limit altogether is refused at once.
    replace_entries(&api, schedule, &[item_a, item_b]).await;
    let problem = wait_event(&net, "the too-big problem", |e| match e {
        NetEvent::Problem(p) if p.contains("more than the cache limit") => Some(p.clone()),
        NetEvent::Manifest(m) => panic!("manifest {} taken over the limit", m.version),
        _ => None,
    })
    .await;
    assert!(problem.contains(&limit.to_string()), "{problem}");
    assert_eq!(
        store.lock().unwrap().manifest_version().unwrap(),
        Some(first.version)
    );
    net.stop();
}

/// A port nothing listens on (bound, then released).
fn dead_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_killed_while_caching_restarts_from_its_cache() {
    let server = ServerProcess::start_with(ServerOptions {
        args: vec!["--heartbeat-s".into(), "1".into()],
        ..Default::default()
    });
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Broicherdorf"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let a = upload(&api, "a.png", png([0, 90, 160])).await;
    let item_a = image_item(&api, "A", &a).await;
    let schedule = api
        .create_schedule(
            "Plan",
            json!([{ "kind": "display", "value": display }]),
            &[item_a],
        )
        .await
        .unwrap();
    // The player's data directory inside a parent that also holds its log.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    Store::open(&dir).unwrap().save_token(&token).unwrap();

    let mut player = PlayerProcess::start(&relay, &dir, "player.log");
    let first = eventually(T, "the player to play manifest A", || async {
        let h = display_health(&api, display).await;
        Ok(h["manifest_version"].as_u64())
    })
    .await;

    // A large second asset, slowly: the player is killed halfway through writing it.
    let big = noise_png(400, 400, 7);
    let b = upload(&api, "b.png", big.clone()).await;
    let item_b = image_item(&api, "B", &b).await;
    relay.throttle(64 * 1024);
    replace_entries(&api, schedule, &[item_a, item_b]).await;
    let partial = dir.join("cache/partial").join(&b.sha256);
    eventually(T, "the download of B to be under way", || async {
        let len = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        Ok((len > 0).then_some(()))
    })
    .await;
    player.child.kill().unwrap(); // SIGKILL
    player.child.wait().unwrap();
    let left = std::fs::metadata(&partial).expect("a partial file").len();
    assert!(
        left < b.size,
        "killed mid-write: {left} of {} bytes",
        b.size
    );
    assert!(!dir.join("cache").join(&b.sha256).exists());

    // Restarted with the server out of reach: the partial file is swept at
    // start, and the player runs on.
    relay.point_to(dead_addr());
    let mut player = PlayerProcess::start(&relay, &dir, "player.log");
    eventually(T, "the partial file to be swept", || async {
        Ok(partial_files(&dir).is_empty().then_some(()))
    })
    .await;
    assert!(player.child.try_wait().unwrap().is_none());

    // Back online (B still slow): it plays A from its cache meanwhile, and
    // says B is missing.
    relay.point_to(server.addr());
    eventually(T, "a heartbeat playing A from the cache", || async {
        let Some(h) = live_health(&api, display).await else {
            return Ok(None);
        };
        let playing_a = h["now_playing"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["item"] == json!(item_a));
        Ok((playing_a
            && h["manifest_version"] == json!(first)
            && h["cache"]["assets_missing"] == json!(1))
        .then_some(()))
    })
    .await;

    // At full speed B arrives, whole and verified, and the new manifest plays.
    relay.throttle(0);
    eventually(T, "the manifest with B", || async {
        let h = display_health(&api, display).await;
        Ok((h["manifest_version"].as_u64().is_some_and(|v| v > first)
            && h["cache"]["assets_missing"] == json!(0))
        .then_some(()))
    })
    .await;
    assert_eq!(
        std::fs::read(dir.join("cache").join(&b.sha256)).unwrap(),
        big
    );
    assert!(partial_files(&dir).is_empty());
    assert!(player.child.try_wait().unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_the_player_keeps_playing() {
    let server = ServerProcess::start_with(ServerOptions {
        args: vec!["--heartbeat-s".into(), "1".into()],
        ..Default::default()
    });
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Holzbüttgen Markt"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let a = upload(&api, "a.png", png([0, 120, 60])).await;
    let item_a = image_item(&api, "A", &a).await;
    let schedule = api
        .create_schedule(
            "Plan",
            json!([{ "kind": "display", "value": display }]),
            &[item_a],
        )
        .await
        .unwrap();
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    Store::open(&dir).unwrap().save_token(&token).unwrap();

    // No file over 600 kB: the database and A fit, B (about 1 MB) does not.
    let mut player = PlayerProcess::start_limited(&relay, &dir, "player.log", 600_000);
    let first = eventually(T, "the player to play manifest A", || async {
        Ok(live_health(&api, display)
            .await
            .and_then(|h| h["manifest_version"].as_u64()))
    })
    .await;
    let big = noise_png(600, 600, 9);
    assert!(big.len() > 1_000_000);
    let b = upload(&api, "b.png", big).await;
    let item_b = image_item(&api, "B", &b).await;
    replace_entries(&api, schedule, &[item_a, item_b]).await;

    let health = eventually(T, "the full disk to be reported", || async {
        let Some(h) = live_health(&api, display).await else {
            return Ok(None);
        };
        let full = h["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
            .any(|p| p.contains("disk full") && p.contains(&b.sha256));
        Ok(full.then_some(h))
    })
    .await;
    // It keeps playing what it has, and nothing half-written is left.
    assert_eq!(health["manifest_version"], json!(first));
    assert_eq!(health["cache"]["assets_missing"], json!(1));
    assert!(partial_files(&dir).is_empty());
    assert!(!dir.join("cache").join(&b.sha256).exists());
    eventually(T, "a heartbeat still playing A", || async {
        let Some(h) = live_health(&api, display).await else {
            return Ok(None);
        };
        let playing_a = h["now_playing"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["item"] == json!(item_a));
        Ok(playing_a.then_some(()))
    })
    .await;
    // A technician on site sees it too: the corner notice, and its log line.
    eventually(T, "the storage notice on screen", || async {
        let log = std::fs::read_to_string(&player.log).unwrap_or_default();
        Ok(log
            .contains("storage full: showing the corner notice")
            .then_some(()))
    })
    .await;
    assert!(
        player.child.try_wait().unwrap().is_none(),
        "the player died"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_shown_while_offline_is_reported_after_the_reconnect() {
    let mut server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Kaarster See"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.save_token(&token).unwrap();
    let net = net::spawn(config(&relay), Arc::new(Mutex::new(store))).unwrap();
    wait_event(&net, "welcome", |e| {
        matches!(e, NetEvent::Online { .. }).then_some(())
    })
    .await;
    let alert_id = api
        .send_alert("Hochwasser: Keller räumen", &[KAARST_DISTRICT])
        .await
        .unwrap();
    wait_event(&net, "the alert", |e| {
        matches!(e, NetEvent::AlertStart(a) if a.id == alert_id).then_some(())
    })
    .await;

    // The server goes away before the app has drawn the alert.
    server.sigterm_and_wait();
    wait_event(&net, "going offline", |e| {
        matches!(e, NetEvent::Offline { .. }).then_some(())
    })
    .await;
    let drawn_at = chrono::Utc::now();
    net.reports
        .send(AppReport::AlertShown {
            alert_id: alert_id.clone(),
            at: drawn_at,
        })
        .await
        .unwrap();

    server.restart();
    relay.point_to(server.addr());
    let api = Api::admin(&server.base_url()).await.unwrap();
    let shown = eventually(T, "the shown receipt after the reconnect", || async {
        let r = receipt(&api, &alert_id, display).await;
        Ok(r["shown_at"].as_str().map(str::to_owned))
    })
    .await;
    let shown = chrono::DateTime::parse_from_rfc3339(&shown).unwrap();
    assert_eq!(
        shown.timestamp(),
        drawn_at.timestamp(),
        "the time it was drawn"
    );
    net.stop();
    server.sigterm_and_wait();
}

/// Share of pixels in the takeover's red.
fn alert_red_share(png: &[u8]) -> f64 {
    let img = image::load_from_memory(png).unwrap().to_rgb8();
    let red = img
        .pixels()
        .filter(|p| p[0] > 140 && p[1] < 50 && p[2] < 70)
        .count();
    red as f64 / (img.width() * img.height()) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_binary_reports_frames_shown_alerts_and_screenshots() {
    let server = ServerProcess::start_with(ServerOptions {
        args: vec!["--heartbeat-s".into(), "1".into()],
        ..Default::default()
    });
    let api = Api::admin(&server.base_url()).await.unwrap();
    let relay = Relay::start(server.addr()).await;
    let display = api
        .create_display(&display_json("Kaarst Glehn"))
        .await
        .unwrap();
    let token = api.display_token(display).await.unwrap();
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    Store::open(&dir).unwrap().save_token(&token).unwrap();
    let player = PlayerProcess::start(&relay, &dir, "player.log");

    // Frames drawn (the idle screen's clock redraws every second) and the
    // cache state, in the heartbeat.
    let h = eventually(T, "a heartbeat with a frame rate", || async {
        Ok(live_health(&api, display)
            .await
            .filter(|h| h["fps"].as_f64().is_some_and(|f| f > 0.0)))
    })
    .await;
    assert_eq!(h["cache"]["assets_missing"], json!(0), "{h}");
    assert!(h["cache"]["bytes"].is_u64(), "{h}");

    // An alert: "shown" comes from the drawn frame.
    let alert_id = api
        .send_alert("Bombenentschärfung: Gebiet meiden", &[KAARST_DISTRICT])
        .await
        .unwrap();
    eventually(T, "the shown receipt", || async {
        let r = receipt(&api, &alert_id, display).await;
        Ok(r["shown_at"].is_string().then_some(()))
    })
    .await;

    // A screenshot on request: the current frame, the takeover in red.
    let before = std::time::SystemTime::now();
    let (status, v) = api
        .post(&format!("/api/displays/{display}/screenshot"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{v}");
    let shot = server
        .data_dir()
        .join("screenshots")
        .join(format!("{display}.png"));
    eventually(T, "the screenshot upload", || async {
        let fresh = std::fs::metadata(&shot)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= before);
        Ok(fresh.then_some(()))
    })
    .await;
    let resp = api
        .http
        .get(api.url(&format!("/api/displays/{display}/screenshot")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let png = resp.bytes().await.unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (640, 360));
    let share = alert_red_share(&png);
    assert!(share > 0.5, "the takeover fills the frame: {share:.2} red");
    drop(player);
}
