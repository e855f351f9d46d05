//! Video zones through real GStreamer pipelines, rendered offscreen: a clip
//! generated here (SMPTE bars, scrolling) plays in its zone and moves, and a
//! broken file gives way to the playlist's next item.

use crate::T;
use bevy::prelude::*;
use gstreamer as gst;
use gstreamer::prelude::*;
use player::app::AppOptions;
use player::app::video::VideoPlayer;
use serde_json::json;
use sha2::Digest as _;
use std::path::Path;
use std::time::Instant;

/// Encodes a short H.264 MP4 of scrolling SMPTE colour bars into the cache
/// and returns its asset reference.
fn clip_in_cache(dir: &Path) -> serde_json::Value {
    gst::init().unwrap();
    let out = dir.join("clip.mp4");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=45 pattern=smpte horizontal-speed=6 \
         ! video/x-raw,width=320,height=180,framerate=15/1 \
         ! x264enc speed-preset=ultrafast key-int-max=15 ! mp4mux ! filesink location={}",
        out.display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(T.as_secs()),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("encoding did not finish");
    assert!(
        matches!(msg.view(), gst::MessageView::Eos(_)),
        "encoding failed: {msg:?}"
    );
    pipeline.set_state(gst::State::Null).unwrap();
    cache_file(dir, &std::fs::read(&out).unwrap(), "video/mp4")
}

fn cache_file(dir: &Path, bytes: &[u8], mime: &str) -> serde_json::Value {
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("cache").join(&sha), bytes).unwrap();
    json!({ "sha256": sha, "size": bytes.len(), "mime": mime })
}

fn options(
    dir: &Path,
    items: Vec<serde_json::Value>,
    entries: serde_json::Value,
    assets: Vec<serde_json::Value>,
) -> AppOptions {
    let manifest = serde_json::from_value(json!({
        "version": 3,
        "generated_at": "2026-11-22T00:00:00Z",
        "display": {
            "id": 1,
            "name": "Kaarst Rathaus",
            "location": { "lat": 51.2276, "lon": 6.6172, "ars": "051620016016" },
            "resolution": { "width": 640, "height": 360 },
            "orientation": "landscape",
            "timezone": "Europe/Berlin",
        },
        "layout": { "id": 1, "name": "Video", "zones": [
            { "name": "main", "x": 0.0, "y": 0.0, "width": 100.0, "height": 100.0 },
        ]},
        "timeline": [{
            "from": "2026-11-21T23:00:00Z",
            "until": "2026-11-22T23:00:00Z",
            "zones": { "main": { "entries": entries } },
        }],
        "items": items,
        "assets": assets,
        "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
    }))
    .unwrap();
    AppOptions {
        data_dir: dir.to_owned(),
        server: "http://127.0.0.1:9".into(),
        manifest: Some(manifest),
        has_token: true,
        at: Some("2026-11-22T09:41:07Z".parse().unwrap()),
        size: Some((640, 360)),
        alerts: Vec::new(),
        pairing_code: None,
        fullscreen: false,
        live: Vec::new(),
    }
}

fn app(opts: &AppOptions) -> App {
    let mut app = player::bevy_app(opts, player::app::Output::Offscreen);
    app.finish();
    app.cleanup();
    app
}

/// Updates until `done` holds, at most [`T`].
fn until(app: &mut App, what: &str, mut done: impl FnMut(&mut App) -> bool) {
    let start = Instant::now();
    while !done(app) {
        assert!(start.elapsed() < T, "timed out waiting for {what}");
        app.update();
    }
}

fn frames(app: &mut App) -> u64 {
    app.world_mut()
        .query::<&VideoPlayer>()
        .iter(app.world())
        .map(|p| p.frames)
        .max()
        .unwrap_or(0)
}

fn screenshot(app: &mut App) -> image::RgbaImage {
    player::app::offscreen::request_screenshot(app.world_mut());
    let mut got = None;
    until(app, "a screenshot", |app| {
        got = app
            .world_mut()
            .resource_mut::<player::app::offscreen::Captured>()
            .0
            .take();
        got.is_some()
    });
    got.unwrap().try_into_dynamic().unwrap().to_rgba8()
}

fn close(a: [u8; 4], want: [u8; 3]) -> bool {
    (0..3).all(|i| a[i].abs_diff(want[i]) <= 40)
}

#[test]
fn a_video_zone_shows_the_clip_and_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip_in_cache(dir.path());
    let opts = options(
        dir.path(),
        vec![json!({ "id": 1, "name": "Clip", "duration_s": 600,
            "content": { "type": "video", "asset": clip } })],
        json!([{ "item": 1, "duration_s": 600, "schedule": 1 }]),
        vec![clip.clone()],
    );
    let mut app = app(&opts);
    until(&mut app, "the first video frame", |app| frames(app) >= 1);
    assert!(
        app.world()
            .resource::<player::app::redraw::Pacing>()
            .animating,
        "a playing video keeps updates at the frame rate"
    );
    let first = screenshot(&mut app);
    // SMPTE bars: the top two thirds are seven colour bars (as rendered
    // here at full intensity: white, yellow, cyan, green, magenta, red, blue). The zone fills the output
    // (same 16:9 aspect), so count the bar colours along a row.
    let row = |img: &image::RgbaImage, y: u32| -> Vec<[u8; 4]> {
        (0..img.width()).map(|x| img.get_pixel(x, y).0).collect()
    };
    let top = row(&first, 60);
    for (name, rgb) in [
        ("yellow", [255, 255, 0]),
        ("cyan", [0, 255, 255]),
        ("magenta", [255, 0, 255]),
        ("blue", [0, 0, 255]),
    ] {
        let n = top.iter().filter(|p| close(**p, rgb)).count();
        assert!(
            n > 30,
            "{name} bar missing in the zone ({n} px): {:?}",
            &top[..8]
        );
    }
    let seen = frames(&mut app);
    until(&mut app, "more video frames", |app| frames(app) >= seen + 5);
    let later = screenshot(&mut app);
    let changed = first
        .pixels()
        .zip(later.pixels())
        .filter(|(a, b)| (0..3).any(|i| a.0[i].abs_diff(b.0[i]) > 40))
        .count();
    assert!(
        changed > 1000,
        "the video did not move ({changed} px changed)"
    );
    // It loops: after the clip's 3 s, frames keep coming.
    let seen = frames(&mut app);
    until(&mut app, "frames after the loop", |app| {
        frames(app) >= seen + 60
    });
}

#[test]
fn a_broken_video_gives_way_to_the_next_item() {
    let dir = tempfile::tempdir().unwrap();
    let broken = cache_file(dir.path(), b"this is not an mp4 file at all", "video/mp4");
    let opts = options(
        dir.path(),
        vec![
            json!({ "id": 1, "name": "Kaputt", "duration_s": 600,
                "content": { "type": "video", "asset": broken } }),
            json!({ "id": 2, "name": "Uhr", "duration_s": 600,
                "content": { "type": "clock" } }),
        ],
        json!([
            { "item": 1, "duration_s": 600, "schedule": 1 },
            { "item": 2, "duration_s": 600, "schedule": 1 },
        ]),
        vec![broken.clone()],
    );
    let mut app = app(&opts);
    until(&mut app, "the clock instead of the broken video", |app| {
        app.world_mut()
            .query::<&player::app::zones::ZoneBox>()
            .iter(app.world())
            .any(|z| z.key.is_some_and(|(item, _)| item == content::ItemId(2)))
    });
    // The slide finishes and the failed video is gone.
    until(&mut app, "the video to leave", |app| {
        app.world_mut()
            .query::<&VideoPlayer>()
            .iter(app.world())
            .count()
            == 0
    });
    let shot = screenshot(&mut app);
    // Never black: the clock's panel background everywhere but the text.
    let black = shot.pixels().filter(|p| p.0[..3] == [0, 0, 0]).count();
    assert_eq!(black, 0, "black pixels on screen");
}

#[test]
fn an_unreachable_livestream_keeps_its_card_when_it_is_the_only_item() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        dir.path(),
        vec![
            json!({ "id": 1, "name": "Ratssitzung live", "duration_s": 600,
            "content": { "type": "livestream", "hls_path": "/live/council/index.m3u8" } }),
        ],
        json!([{ "item": 1, "duration_s": 600, "schedule": 1 }]),
        vec![],
    );
    let mut app = app(&opts);
    // Port 9 (discard) refuses: the stream fails, nothing else to show.
    until(&mut app, "the stream to fail", |app| {
        app.world_mut()
            .query::<&player::app::zones::ZoneBox>()
            .iter(app.world())
            .any(|z| !z.failed_items().is_empty())
    });
    let shot = screenshot(&mut app);
    let black = shot.pixels().filter(|p| p.0[..3] == [0, 0, 0]).count();
    assert_eq!(black, 0, "black pixels on screen");
    assert!(
        !app.world()
            .resource::<player::app::redraw::Pacing>()
            .animating
    );
}
