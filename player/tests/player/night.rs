//! The trusted clock and night mode, with the real player binary on its own
//! X11 output under Xvfb, read back over X11 (see `x11.rs`).
//!
//! - Clock: a board whose clock is not synchronised yet (the sync file is
//!   missing, no server to agree) plays the manifest's fallback, not the
//!   timeline's segment; once the file appears, the schedule plays. A
//!   server whose time disagrees with the player's (the player's clock
//!   skewed with the hidden `--clock-offset-s`) keeps the fallback playing
//!   even with the file present.
//! - Night mode: a `screen_off` window set on the display through the
//!   server's API switches the screen off (DPMS where the X server has it;
//!   Xvfb does not, so the player says DPMS failed and blanks: black
//!   pixels), removing it brings the schedule back, and an alert during the
//!   night switches the screen on.

use crate::T;
use crate::wayland::{
    GREEN, ORANGE, Proc, cached_png, close, dead_server, manifest_now, store_manifest,
};
use crate::x11::{H, W, Xvfb, xvfb};
use chrono::Timelike as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use system_tests::api::{KAARST_DISTRICT, display_json};
use system_tests::{Api, ServerProcess};

/// The player on `x`'s display, full screen through the X11 output.
fn player(x: &Xvfb, dir: &Path, data: &Path, server: &str, args: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_player"));
    cmd.args(["--present", "x11", "--fullscreen", "--server", server])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("DISPLAY", &x.name)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("PLAYER_TIME_SYNC_FILE")
        .env_remove("PLAYER_SCREEN_POWER")
        .env("MESA_SHADER_CACHE_DISABLE", "true")
        .env("RUST_LOG", "info,wgpu=warn,naga=warn");
    Proc::spawn(cmd, dir.join("player.log"))
}

fn centre(img: &image::RgbaImage) -> [u8; 4] {
    img.get_pixel(W / 2, H / 2).0
}

fn all_black(img: &image::RgbaImage) -> bool {
    img.pixels().all(|p| p.0[..3] == [0, 0, 0])
}

/// Waits until the player's output contains `text`.
fn wait_log(p: &mut Proc, text: &str) {
    let start = Instant::now();
    while !p.output().contains(text) {
        if let Some(status) = p.child.try_wait().unwrap() {
            panic!("the player exited ({status}) before logging {text:?}");
        }
        assert!(start.elapsed() < T, "the player did not log {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_unsynchronised_clock_plays_the_fallback_until_the_sync_file_appears() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let scheduled = cached_png(&data, 160, 90, GREEN);
    let fallback = cached_png(&data, 160, 90, ORANGE);
    let mut manifest = manifest_now(
        4,
        (W, H),
        json!([{ "name": "main", "x": 0.0, "y": 0.0, "width": 100.0, "height": 100.0 }]),
        json!({ "main": { "entries": [{ "item": 1, "duration_s": 600, "schedule": 1 }] } }),
        vec![
            json!({ "id": 1, "name": "Tagesprogramm", "duration_s": 600,
                "content": { "type": "image", "asset": scheduled } }),
            json!({ "id": 2, "name": "Standard", "duration_s": 600,
                "content": { "type": "image", "asset": fallback } }),
        ],
        vec![scheduled, fallback],
    );
    manifest.fallback = serde_json::from_value(
        json!({ "zones": { "main": { "entries": [{ "item": 2, "duration_s": 600, "schedule": 2 }] } } }),
    )
    .unwrap();
    store_manifest(&data, &manifest);
    let synced = tmp.path().join("synchronized");
    let x = xvfb(tmp.path());
    let mut p = player(
        &x,
        tmp.path(),
        &data,
        &dead_server(),
        &["--time-sync-file", synced.to_str().unwrap()],
    );
    x.wait_for("the fallback while the clock is unknown", &mut p, |img| {
        close(centre(img), ORANGE, 12)
    });
    wait_log(&mut p, "the clock is not trusted");
    // It stays: the schedule's item never shows while the file is missing.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert!(
            close(centre(&x.grab()), ORANGE, 12),
            "the fallback went away"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // NTP synchronised: systemd-timesyncd touches the file.
    std::fs::write(&synced, b"").unwrap();
    x.wait_for(
        "the schedule once the clock is synchronised",
        &mut p,
        |img| close(centre(img), GREEN, 12),
    );
    wait_log(&mut p, "the clock is trusted now");
}

fn png(colour: [u8; 3]) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(160, 90, image::Rgb(colour))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// An image item on `display`, in a schedule of `layer`; returns the item id.
async fn schedule_image(api: &Api, display: i64, name: &str, colour: [u8; 3], layer: &str) {
    let asset = crate::system::upload(api, &format!("{name}.png"), png(colour)).await;
    let item = json!({
        "name": name,
        "duration_s": 600,
        "content": { "type": "image", "asset": asset },
    });
    let (status, v) = api.post("/api/items", &item).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let schedule = json!({
        "name": name,
        "targets": [{ "kind": "display", "value": display }],
        "entries": [{ "item": v["id"] }],
        "layer": layer,
    });
    let (status, v) = api.post("/api/schedules", &schedule).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

/// A display with a token stored in `data`.
async fn display(api: &Api, data: &Path, name: &str) -> i64 {
    let id = api.create_display(&display_json(name)).await.unwrap();
    let token = api.display_token(id).await.unwrap();
    player::store::Store::open(data)
        .unwrap()
        .save_token(&token)
        .unwrap();
    id
}

/// `PUT /api/displays/{id}` with these night windows.
async fn set_screen_off(api: &Api, id: i64, name: &str, windows: Value) -> (StatusCode, Value) {
    let mut body = display_json(name);
    body["screen_off"] = windows;
    api.call(Method::PUT, &format!("/api/displays/{id}"), Some(&body))
        .await
        .unwrap()
}

/// A window from an hour ago to an hour from now, Berlin wall-clock time
/// (past midnight where it must be).
fn night_now() -> Value {
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Berlin);
    let hm = |t: chrono::DateTime<chrono_tz::Tz>| format!("{:02}:{:02}:00", t.hour(), t.minute());
    json!([{
        "start": hm(now - chrono::Duration::hours(1)),
        "end": hm(now + chrono::Duration::hours(1)),
    }])
}

/// The last `--frame-log` line: frames drawn and updates run.
fn frame_log(p: &Proc) -> (u64, u64) {
    let out = p.output();
    let line = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("frames drawn "))
        .expect("a frame log line");
    let (drawn, updates) = line
        .split_once(" updates ")
        .expect("frames drawn N updates M");
    (drawn.parse().unwrap(), updates.trim().parse().unwrap())
}

/// Whether the X server has DPMS, and if so whether the monitor is off.
fn dpms_off(x: &Xvfb) -> Option<bool> {
    use x11rb::connection::RequestConnection as _;
    use x11rb::protocol::dpms::{ConnectionExt as _, DPMSMode};
    x.conn
        .extension_information(x11rb::protocol::dpms::X11_EXTENSION_NAME)
        .unwrap()?;
    let info = x.conn.dpms_info().unwrap().reply().unwrap();
    Some(info.state && info.power_level == DPMSMode::OFF)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_window_switches_the_screen_off_and_an_alert_on() {
    let mut server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let name = "Kaarst Nachtplatz";
    let id = display(&api, &data, name).await;
    schedule_image(&api, id, "Tag", GREEN, "normal").await;

    // A window without length is refused in words, and changes nothing.
    let (status, v) = set_screen_off(
        &api,
        id,
        name,
        json!([{ "start": "22:00:00", "end": "22:00:00" }]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("no length"), "{v}");

    let x = xvfb(tmp.path());
    let mut p = player(
        &x,
        tmp.path(),
        &data,
        &server.base_url(),
        &["--screen-power", "dpms", "--frame-log"],
    );
    tokio::task::block_in_place(|| {
        x.wait_for("the schedule", &mut p, |img| close(centre(img), GREEN, 12))
    });
    assert_ne!(dpms_off(&x), Some(true), "DPMS off by day");

    // Night: the window covers now.
    let night = night_now();
    let (status, v) = set_screen_off(&api, id, name, night.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["screen_off"], night);
    let (_, audit) = api.get("/api/audit?limit=5").await.unwrap();
    assert!(
        audit.to_string().contains("screen_off"),
        "the edit is audited with the windows: {audit}"
    );
    tokio::task::block_in_place(|| {
        x.wait_for("the screen black at night", &mut p, all_black);
        wait_log(&mut p, "screen off (night mode, Dpms)");
    });
    match dpms_off(&x) {
        Some(off) => assert!(off, "DPMS is not off"),
        None => assert!(
            p.output()
                .contains("DPMS failed (the X server has no DPMS extension)"),
            "Xvfb has no DPMS: the player must say so and blank"
        ),
    }
    // Dark means no drawing, and updates at the idle pace.
    tokio::task::block_in_place(|| {
        std::thread::sleep(Duration::from_millis(1500));
        let (drawn, updates) = frame_log(&p);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            assert!(all_black(&x.grab()), "drawn over while dark");
            std::thread::sleep(Duration::from_millis(200));
        }
        let (drawn_after, updates_after) = frame_log(&p);
        assert_eq!(drawn_after, drawn, "frames drawn while dark");
        assert!(
            updates_after - updates <= 10,
            "{} updates in 3 s while dark",
            updates_after - updates
        );
    });

    // Morning (the window removed): the schedule again.
    let (status, _) = set_screen_off(&api, id, name, json!([])).await;
    assert_eq!(status, StatusCode::OK);
    tokio::task::block_in_place(|| {
        x.wait_for("the schedule in the morning", &mut p, |img| {
            close(centre(img), GREEN, 12)
        });
        wait_log(&mut p, "screen on (schedule)");
    });
    assert_ne!(dpms_off(&x), Some(true), "DPMS still off");

    // Night again, then an alert: the screen comes on for it.
    set_screen_off(&api, id, name, night_now()).await;
    tokio::task::block_in_place(|| x.wait_for("night again", &mut p, all_black));
    api.send_alert("Unwetterwarnung", &[KAARST_DISTRICT])
        .await
        .unwrap();
    tokio::task::block_in_place(|| {
        x.wait_for("the alert at night", &mut p, |img| !all_black(img));
        wait_log(&mut p, "screen on (an alert)");
    });
    drop(p);
    server.sigterm_and_wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_time_disagrees_keeps_the_fallback_playing() {
    let mut server = ServerProcess::start();
    let api = Api::admin(&server.base_url()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let id = display(&api, &data, "Kaarst Uhrenplatz").await;
    schedule_image(&api, id, "Tag", GREEN, "normal").await;
    schedule_image(&api, id, "Standard", ORANGE, "default").await;
    // The sync file exists, but our clock is ten minutes fast.
    let synced = tmp.path().join("synchronized");
    std::fs::write(&synced, b"").unwrap();
    let x = xvfb(tmp.path());
    let mut p = player(
        &x,
        tmp.path(),
        &data,
        &server.base_url(),
        &[
            "--time-sync-file",
            synced.to_str().unwrap(),
            "--clock-offset-s",
            "600",
        ],
    );
    tokio::task::block_in_place(|| {
        wait_log(&mut p, "the server's clock differs from ours by -600 s");
        x.wait_for("the fallback", &mut p, |img| close(centre(img), ORANGE, 12));
    });
    assert!(!p.output().contains("the clock is trusted now"));
    drop(p);
    server.sigterm_and_wait();
}
