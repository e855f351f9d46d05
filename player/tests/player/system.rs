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
use system_tests::{Api, ServerProcess, eventually};
use tokio::net::{TcpListener, TcpStream};

/// Forwards every connection to the server's current address.
struct Relay {
    addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    /// Connections accepted so far.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let up = upstream.clone();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let target = *up.lock().unwrap();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay {
            addr,
            upstream,
            accepted,
        }
    }

    fn point_to(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
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

fn png(colour: [u8; 3]) -> Vec<u8> {
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
async fn upload(api: &Api, name: &str, bytes: Vec<u8>) -> AssetRef {
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
    let log = dir.path().join("player.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_player"))
        .arg("--headless")
        .arg("--server")
        .arg(format!("http://{}", relay.addr))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--size", "640x360"])
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut player = PlayerProcess { child, log };

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
