//! Player updates end to end, with the real control-server binary and real
//! processes: releases signed with `player-release`, uploaded and assigned
//! through the server's API; the player started through `player-launch` (a
//! link to the built player, as on the kiosk) downloads, verifies and
//! installs; the test restarts the launcher as systemd's `Restart=always`
//! would. The "new version" is a copy of the built player with bytes
//! appended (another SHA-256; its identity comes from the signed version).

use super::T;
use player::store::Store;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use system_tests::api::display_json;
use system_tests::{Api, ServerProcess, eventually};

/// A launcher run, its output appended to a log printed on failure.
struct Launcher {
    child: Child,
    log: PathBuf,
}

impl Launcher {
    fn start(dir: &Path, server: &str) -> Launcher {
        let log = dir.join("launcher.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(dir.join("bin/player-launch"))
            .args(["--headless", "--size", "320x180", "--server", server])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--update-key")
            .arg(dir.join("update-key.pub"))
            .env("PLAYER_UPDATE_CONFIRM_AFTER_S", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Launcher { child, log }
    }

    /// Waits for the process to end by itself; its exit code.
    async fn exited(&mut self, what: &str) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for the player to exit ({what})"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let out = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("==== launcher/player output ====\n{out}\n================");
        }
    }
}

fn release_tool(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_player-release"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "player-release {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Signs `binary` as `version` with `key` and uploads it; the server's answer.
async fn publish(api: &Api, key: &Path, version: &str, binary: &Path) -> Value {
    let signed: Value = serde_json::from_str(&release_tool(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--version",
        version,
        binary.to_str().unwrap(),
    ]))
    .unwrap();
    let url = api.url(&format!(
        "/api/releases?version={version}&sha256={}&signature={}",
        signed["sha256"].as_str().unwrap(),
        signed["signature"].as_str().unwrap()
    ));
    let resp = api
        .http
        .post(url)
        .bearer_auth(&api.token)
        .body(std::fs::read(binary).unwrap())
        .send()
        .await
        .unwrap();
    let (status, body) = system_tests::api::decode(resp).await;
    assert_eq!(status, 201, "upload {version}: {body}");
    body
}

async fn assign(api: &Api, version: &str, display: i64) {
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            "/api/releases/assignment",
            Some(&json!({ "version": version, "displays": [display] })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// The display's `player_version` and heartbeat problems, as staff see them.
async fn seen(api: &Api, display: i64) -> anyhow::Result<(String, Vec<String>, bool)> {
    let (_, d) = api.get(&format!("/api/displays/{display}")).await?;
    let problems = d["health"]["problems"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        d["player_version"].as_str().unwrap_or_default().to_owned(),
        problems,
        d["online"] == json!(true),
    ))
}

fn state(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("data/updates/state.json")).unwrap()).unwrap()
}

/// A copy of the built player, made distinct by `tag` appended.
fn player_copy(dir: &Path, tag: &str) -> PathBuf {
    let path = dir.join(format!("player-{tag}"));
    let mut bytes = std::fs::read(env!("CARGO_BIN_EXE_player")).unwrap();
    bytes.extend_from_slice(format!("\nrelease {tag}\n").as_bytes());
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_releases_are_installed_tried_confirmed_and_failing_ones_rolled_back() {
    let server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let display = api.create_display(&display_json("Markt")).await.unwrap();
    let token = api.display_token(display).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    Store::open(&dir.join("data"))
        .unwrap()
        .save_token(&token)
        .unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_player"), dir.join("bin/player-launch"))
        .unwrap();
    let key = dir.join("update.key");
    release_tool(&[
        "keygen",
        "--secret",
        key.to_str().unwrap(),
        "--public",
        dir.join("update-key.pub").to_str().unwrap(),
    ]);
    let other_key = dir.join("other.key");
    release_tool(&[
        "keygen",
        "--secret",
        other_key.to_str().unwrap(),
        "--public",
        dir.join("other.pub").to_str().unwrap(),
    ]);

    // The factory player runs.
    let mut launcher = Launcher::start(dir, &server.base_url());
    let factory = env!("CARGO_PKG_VERSION");
    eventually(T, "the factory player online", || async {
        let (v, _, online) = seen(&api, display).await?;
        Ok((online && v == factory).then_some(()))
    })
    .await;

    // Signed with another key: refused, nothing installed, it plays on.
    publish(&api, &other_key, "8.0.0", &player_copy(dir, "8.0.0")).await;
    assign(&api, "8.0.0", display).await;
    eventually(T, "the foreign release refused", || async {
        let (_, problems, _) = seen(&api, display).await?;
        Ok(problems
            .iter()
            .find(|p| p.contains("8.0.0 not installed") && p.contains("signature"))
            .cloned())
    })
    .await;
    assert!(
        launcher.running(),
        "a refused release does not stop the player"
    );
    assert!(!dir.join("data/updates/slot-a").exists());
    assert!(!dir.join("data/updates/state.json").exists());

    // Signed with the image's key: installed as the trial, then the player exits.
    let good = publish(&api, &key, "9.9.9", &player_copy(dir, "9.9.9")).await;
    assign(&api, "9.9.9", display).await;
    assert_eq!(launcher.exited("after installing 9.9.9").await, Some(0));
    // Through the app's own shutdown path, not the fallback exit.
    let log = std::fs::read_to_string(&launcher.log).unwrap();
    assert!(
        log.contains("player release 9.9.9 installed: the player ends and is started again"),
        "{log}"
    );
    let s = state(dir);
    assert_eq!(s["trial"]["release"]["version"], "9.9.9");
    assert_eq!(s["trial"]["starts"], 0);
    assert_eq!(
        std::fs::read(dir.join("data/updates/slot-a/player")).unwrap(),
        std::fs::read(dir.join("player-9.9.9")).unwrap()
    );

    // Restarted: the launcher runs the trial, which reports its version and
    // confirms itself once healthy.
    let mut launcher = Launcher::start(dir, &server.base_url());
    eventually(T, "9.9.9 online", || async {
        let (v, _, online) = seen(&api, display).await?;
        Ok((online && v == "9.9.9").then_some(()))
    })
    .await;
    eventually(T, "9.9.9 confirmed", || async {
        let s = state(dir);
        Ok((s["good"]["sha256"] == good["sha256"] && s["trial"].is_null()).then_some(()))
    })
    .await;

    // A release that cannot start (signed properly): tried 3 times, rolled back.
    let broken = dir.join("broken.sh");
    std::fs::write(&broken, "#!/bin/sh\necho broken release >&2\nexit 1\n").unwrap();
    publish(&api, &key, "6.6.6", &broken).await;
    assign(&api, "6.6.6", display).await;
    assert_eq!(launcher.exited("after installing 6.6.6").await, Some(0));
    assert_eq!(
        state(dir)["trial"]["release"]["slot"],
        "b",
        "the good slot is kept"
    );
    for start in 1..=3 {
        let mut l = Launcher::start(dir, &server.base_url());
        assert_eq!(
            l.exited("the broken release").await,
            Some(1),
            "start {start}"
        );
        assert_eq!(state(dir)["trial"]["starts"], start);
    }
    let mut launcher = Launcher::start(dir, &server.base_url());
    let (_, problems) = eventually(T, "9.9.9 back, the rollback reported", || async {
        let (v, problems, online) = seen(&api, display).await?;
        Ok((online
            && v == "9.9.9"
            && problems
                .iter()
                .any(|p| p.contains("6.6.6 was rolled back: started 3 times"))
            && problems
                .iter()
                .any(|p| p.contains("6.6.6 is not installed again")))
        .then_some((v, problems)))
    })
    .await;
    let s = state(dir);
    assert_eq!(s["good"]["version"], "9.9.9", "{problems:?}");
    assert!(s["trial"].is_null());
    assert_eq!(s["bad"][0]["version"], "6.6.6");
    assert!(
        launcher.running(),
        "the rolled-back release is not installed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_that_never_gets_healthy_ends_itself_and_is_rolled_back() {
    use player::update::slots::{Moment, Slots};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_player"), dir.join("bin/player-launch"))
        .unwrap();
    std::fs::write(dir.join("update-key.pub"), "").unwrap();
    // Installed as a trial with a 3 s window, as the player would after a download.
    let copy = player_copy(dir, "7.0.0");
    let (sha256, size) = player::update::verify::sha256_file(&copy).unwrap();
    let release = content::release::PlayerRelease {
        version: "7.0.0".into(),
        sha256,
        size,
        signature: String::new(),
        path: String::new(),
    };
    Slots::new(&dir.join("data"))
        .install(&release, &copy, Moment::now(), 3, 3)
        .unwrap();
    // No server answers: the trial runs but never becomes healthy.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut trial = Launcher::start(dir, &nowhere);
    let code = trial.exited("the trial's window to close").await;
    assert_eq!(code, Some(player::update::EXIT_TRIAL_EXPIRED));
    assert_eq!(
        state(dir)["trial"]["starts"],
        1,
        "ended by its window, not by starts"
    );
    // Its next start rolls it back; the factory player runs.
    let mut factory = Launcher::start(dir, &nowhere);
    eventually(T, "the rollback", || async {
        let s = state(dir);
        Ok((s["trial"].is_null() && s["bad"][0]["version"] == "7.0.0").then_some(()))
    })
    .await;
    let s = state(dir);
    assert!(
        s["rollback"]["reason"]
            .as_str()
            .unwrap()
            .contains("not healthy within 3 s"),
        "{s}"
    );
    assert!(s["good"].is_null());
    eventually(T, "the factory player running", || async {
        let log = std::fs::read_to_string(dir.join("launcher.log"))?;
        Ok(log.contains("first content frame").then_some(()))
    })
    .await;
    assert!(factory.running());
}
