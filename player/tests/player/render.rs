//! Screenshot tests: each renders one frame offscreen (Mesa lavapipe is
//! enough) and compares it with `tests/reference/NAME.png`. To review a
//! change, run with `PLAYER_UPDATE_REFERENCE=1`, look at the new images and
//! commit them.

use chrono::{DateTime, Utc};
use content::alert::Alert;
use content::manifest::Manifest;
use player::app::AppOptions;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const AT: &str = "2026-11-22T09:41:07Z";

fn at() -> DateTime<Utc> {
    AT.parse().unwrap()
}

/// A data directory with one cached PNG (a coloured test card); returns its ref.
fn cache_with_image(dir: &Path) -> Value {
    let (w, h) = (640, 400);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let band = (x * 6 / w) as u8;
        let colours = [
            [0, 90, 160],
            [230, 180, 0],
            [200, 30, 40],
            [40, 150, 70],
            [240, 240, 240],
            [30, 30, 30],
        ];
        let c = colours[band as usize];
        if y < h / 8 {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb(c)
        }
    });
    crate::cache_png(dir, &img)
}

fn manifest(
    width: u32,
    height: u32,
    zones: Value,
    playlists: Value,
    items: Vec<Value>,
    assets: Vec<Value>,
) -> Manifest {
    let v = json!({
        "version": 7,
        "generated_at": "2026-11-22T00:00:00Z",
        "display": {
            "id": 1,
            "name": "Kaarst Marktplatz",
            "location": { "lat": 51.2276, "lon": 6.6172, "ars": "051620016016" },
            "resolution": { "width": width, "height": height },
            "orientation": if width >= height { "landscape" } else { "portrait" },
            "timezone": "Europe/Berlin",
        },
        "layout": { "id": 1, "name": "Test", "zones": zones },
        "timeline": [{
            "from": "2026-11-21T23:00:00Z",
            "until": "2026-11-22T23:00:00Z",
            "zones": playlists,
        }],
        "items": items,
        "assets": assets,
        "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
    });
    serde_json::from_value(v).unwrap()
}

fn full(name: &str) -> Value {
    json!([{ "name": name, "x": 0.0, "y": 0.0, "width": 100.0, "height": 100.0 }])
}

fn one(item: i64) -> Value {
    json!({ "entries": [{ "item": item, "duration_s": 600, "schedule": 1 }] })
}

fn item(id: i64, content: Value) -> Value {
    json!({ "id": id, "name": format!("Item {id}"), "duration_s": 600, "content": content })
}

fn announcement(id: i64, image: Option<&Value>) -> Value {
    let mut c = json!({
        "type": "announcement",
        "title": "Weihnachtsmarkt auf dem Marktplatz",
        "body": "Vom 27. November bis 23. Dezember, täglich 11–21 Uhr. Glühwein, \
                 Kunsthandwerk und Musik. Luftqualität heute: Feinstaub 12 µg/m³, 4 °C. \
                 Bitte nutzen Sie Bus und Bahn: die Parkplätze am Rathaus sind gesperrt.",
    });
    if let Some(img) = image {
        c["image"] = img.clone();
    }
    item(id, c)
}

fn alert(severity: &str, status: &str) -> Alert {
    serde_json::from_value(json!({
        "id": "test-alert-1",
        "status": status,
        "severity": severity,
        "headline": "Großbrand in Kaarst-Büttgen: Fenster und Türen schließen",
        "instruction": "Halten Sie Fenster und Türen geschlossen. Schalten Sie Lüftungs- und \
                        Klimaanlagen aus. Meiden Sie das Gebiet um die Driescher Straße.",
        "area_description": "Kaarst, Rhein-Kreis Neuss",
        "area": { "ars": ["051620000000"] },
        "sent": "2026-11-22T09:30:00Z",
        "sender": "Stadt Kaarst",
    }))
    .unwrap()
}

struct Case {
    name: &'static str,
    dir: tempfile::TempDir,
    opts: AppOptions,
}

fn case(name: &'static str, size: (u32, u32)) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let opts = AppOptions {
        data_dir: dir.path().to_owned(),
        server: "http://rathaus.example:8080".into(),
        manifest: None,
        has_token: true,
        at: Some(at()),
        size: Some(size),
        alerts: Vec::new(),
        pairing_code: None,
        fullscreen: false,
        live: Vec::new(),
    };
    Case { name, dir, opts }
}

fn reference_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("reference")
        .join(format!("{name}.png"))
}

/// Renders and compares: at most 0.5 % of pixels may differ by more than
/// 48 in a channel (anti-aliasing and glyph rasterisation noise), and the mean
/// difference must stay under 1.5.
fn check(c: Case) {
    let (got, stats) = player::render_frame(&c.opts).expect("render");
    let (w, h) = c.opts.size.unwrap();
    assert_eq!((got.width(), got.height()), (w, h));
    eprintln!(
        "{}: {:?} total, {} frames, frame times {:?}",
        c.name, stats.total, stats.frames, stats.frame_times
    );
    let path = reference_path(c.name);
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/player-screenshots");
    std::fs::create_dir_all(&out_dir).unwrap();
    got.save(out_dir.join(format!("{}.png", c.name))).unwrap();
    if std::env::var_os("PLAYER_UPDATE_REFERENCE").is_some() {
        got.save(&path).unwrap();
        return;
    }
    let want = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "reference {} unreadable ({e}); render it with PLAYER_UPDATE_REFERENCE=1 and review it",
                path.display()
            )
        })
        .to_rgba8();
    assert_eq!(want.dimensions(), got.dimensions(), "{}: size", c.name);
    let mut off = 0usize;
    let mut sum = 0u64;
    for (a, b) in want.pixels().zip(got.pixels()) {
        let d = (0..3).map(|i| a.0[i].abs_diff(b.0[i])).max().unwrap_or(0);
        sum += u64::from(d);
        if d > 48 {
            off += 1;
        }
    }
    let n = (w * h) as f64;
    let mean = sum as f64 / n;
    let share = off as f64 / n;
    assert!(
        share <= 0.005 && mean < 1.5,
        "{}: {:.3} % of pixels differ, mean difference {mean:.2}; compare {} with target/player-screenshots/{}.png",
        c.name,
        share * 100.0,
        path.display(),
        c.name
    );
    drop(c.dir);
}

#[test]
fn announcement_with_image_landscape() {
    let mut c = case("announcement_landscape", (1920, 1080));
    let img = cache_with_image(c.dir.path());
    c.opts.manifest = Some(manifest(
        1920,
        1080,
        full("main"),
        json!({ "main": one(1) }),
        vec![announcement(1, Some(&img))],
        vec![img],
    ));
    check(c);
}

#[test]
fn announcement_with_image_portrait() {
    let mut c = case("announcement_portrait", (1080, 1920));
    let img = cache_with_image(c.dir.path());
    c.opts.manifest = Some(manifest(
        1080,
        1920,
        full("main"),
        json!({ "main": one(1) }),
        vec![announcement(1, Some(&img))],
        vec![img],
    ));
    check(c);
}

#[test]
fn zones_landscape() {
    let mut c = case("zones_landscape", (1920, 1080));
    let img = cache_with_image(c.dir.path());
    let zones = json!([
        { "name": "main", "x": 0.0, "y": 0.0, "width": 66.0, "height": 88.0 },
        { "name": "clock", "x": 66.0, "y": 0.0, "width": 34.0, "height": 34.0 },
        { "name": "transit", "x": 66.0, "y": 34.0, "width": 34.0, "height": 54.0 },
        { "name": "ticker", "x": 0.0, "y": 88.0, "width": 100.0, "height": 12.0, "z": 1 },
    ]);
    c.opts.manifest = Some(manifest(
        1920,
        1080,
        zones,
        json!({ "main": one(1), "clock": one(2), "transit": one(3), "ticker": one(4) }),
        vec![
            item(
                1,
                json!({ "type": "image", "asset": img, "fit": "contain" }),
            ),
            item(2, json!({ "type": "clock", "show_date": true })),
            item(3, json!({ "type": "transit_board" })),
            item(
                4,
                json!({ "type": "ticker", "text": "+++ Rathaus am Montag ab 12 Uhr geschlossen +++ Grünschnittannahme samstags 9–14 Uhr +++" }),
            ),
        ],
        vec![img],
    ));
    check(c);
}

#[test]
fn zones_portrait() {
    let mut c = case("zones_portrait", (1080, 1920));
    let zones = json!([
        { "name": "main", "x": 0.0, "y": 0.0, "width": 100.0, "height": 52.0 },
        { "name": "sensors", "x": 0.0, "y": 52.0, "width": 100.0, "height": 20.0 },
        { "name": "clock", "x": 0.0, "y": 72.0, "width": 100.0, "height": 18.0 },
        { "name": "ticker", "x": 0.0, "y": 90.0, "width": 100.0, "height": 10.0 },
    ]);
    c.opts.manifest = Some(manifest(
        1080,
        1920,
        zones,
        json!({ "main": one(1), "sensors": one(2), "clock": one(3), "ticker": one(4) }),
        vec![
            announcement(1, None),
            item(
                2,
                json!({ "type": "sensor_panel", "quantities": ["pm10", "temperature"] }),
            ),
            item(3, json!({ "type": "clock" })),
            item(
                4,
                json!({ "type": "ticker", "text": "Straßenfest in der Neustraße – Umleitung über die Maubisstraße" }),
            ),
        ],
        vec![],
    ));
    check(c);
}

#[test]
fn idle_screen_when_nothing_is_scheduled() {
    let mut c = case("idle_portrait", (1080, 1920));
    c.opts.manifest = Some(manifest(
        1080,
        1920,
        full("main"),
        json!({ "main": { "entries": [] } }),
        vec![],
        vec![],
    ));
    check(c);
}

#[test]
fn alert_takeover_landscape() {
    let mut c = case("alert_takeover_landscape", (1920, 1080));
    c.opts.manifest = Some(manifest(
        1920,
        1080,
        full("main"),
        json!({ "main": one(1) }),
        vec![announcement(1, None)],
        vec![],
    ));
    c.opts.alerts = vec![alert("extreme", "actual")];
    check(c);
}

#[test]
fn exercise_alert_takeover_portrait() {
    let mut c = case("alert_exercise_portrait", (1080, 1920));
    c.opts.manifest = Some(manifest(
        1080,
        1920,
        full("main"),
        json!({ "main": one(1) }),
        vec![announcement(1, None)],
        vec![],
    ));
    c.opts.alerts = vec![alert("severe", "exercise")];
    check(c);
}

#[test]
fn moderate_alert_is_a_banner() {
    let mut c = case("alert_banner_landscape", (1920, 1080));
    c.opts.manifest = Some(manifest(
        1920,
        1080,
        full("main"),
        json!({ "main": one(1) }),
        vec![item(1, json!({ "type": "clock" }))],
        vec![],
    ));
    c.opts.alerts = vec![alert("moderate", "actual")];
    check(c);
}

#[test]
fn pairing_screen() {
    let mut c = case("pairing_landscape", (1920, 1080));
    c.opts.has_token = false;
    c.opts.pairing_code = Some("482915".into());
    check(c);
}

fn live_data() -> Vec<content::live::LiveData> {
    let m = |min: i64| at() + chrono::Duration::minutes(min);
    serde_json::from_value(json!([
        { "kind": "sensors", "readings": [
            { "station": "s1", "quantity": "pm10", "value": 12.3, "measured_at": m(-5), "trend": "steady", "class": "gut" },
            { "station": "s1", "quantity": "no2", "value": 61.0, "measured_at": m(-5), "trend": "rising", "class": "schlecht" },
            { "station": "s1", "quantity": "o3", "value": 88.0, "measured_at": m(-5), "class": "maessig" },
            { "station": "s2", "quantity": "temperature", "value": 4.5, "measured_at": m(-300), "trend": "falling" },
        ]},
        { "kind": "departures", "stop_id": "kaarst-rathaus", "as_of": m(0), "departures": [
            { "line": "S28", "destination": "Düsseldorf Hbf", "planned": m(3), "expected": m(3), "occupancy": "many_seats_available" },
            { "line": "854", "destination": "Neuss Hbf", "planned": m(6), "expected": m(8), "occupancy": "few_seats_available" },
            { "line": "S28", "destination": "Mettmann Stadtwald", "planned": m(9), "cancelled": true },
            { "line": "830", "destination": "Büttgen Bahnhof", "planned": m(14), "expected": m(21), "occupancy": "full" },
            { "line": "S28", "destination": "Düsseldorf Hbf", "planned": m(23) },
        ]},
    ]))
    .unwrap()
}

/// Air-quality colours, a stale reading, delays, a cancellation and occupancy.
#[test]
fn live_panels_landscape() {
    let mut c = case("live_panels_landscape", (1920, 1080));
    let zones = json!([
        { "name": "sensors", "x": 0.0, "y": 0.0, "width": 50.0, "height": 100.0 },
        { "name": "transit", "x": 50.0, "y": 0.0, "width": 50.0, "height": 100.0 },
    ]);
    c.opts.manifest = Some(manifest(
        1920,
        1080,
        zones,
        json!({ "sensors": one(1), "transit": one(2) }),
        vec![
            item(
                1,
                json!({ "type": "sensor_panel", "quantities": ["pm10", "no2", "o3", "temperature"] }),
            ),
            item(2, json!({ "type": "transit_board", "max_rows": 5 })),
        ],
        vec![],
    ));
    c.opts.live = live_data();
    check(c);
}

/// Pumps updates of an offscreen app (the running player's output) and
/// returns how many frames were drawn in the last `n`.
fn drawn_in(app: &mut bevy::prelude::App, n: u32) -> u64 {
    let before = app
        .world()
        .resource::<player::app::redraw::Frames>()
        .rendered;
    for _ in 0..n {
        app.update();
    }
    app.world()
        .resource::<player::app::redraw::Frames>()
        .rendered
        - before
}

fn offscreen_app(opts: &AppOptions) -> bevy::prelude::App {
    let mut app = player::bevy_app(opts, player::app::Output::Offscreen);
    app.finish();
    app.cleanup();
    app
}

/// A static screen draws nothing once settled; an alert is drawn in the very
/// update it arrives in.
#[test]
fn static_screen_draws_no_frames_and_an_alert_draws_at_once() {
    let mut c = case("reactive_static", (1280, 720));
    c.opts.manifest = Some(manifest(
        1280,
        720,
        full("main"),
        json!({ "main": one(1) }),
        vec![announcement(1, None)],
        vec![],
    ));
    let mut app = offscreen_app(&c.opts);
    // Settle: pipelines, fonts, layout.
    drawn_in(&mut app, 10);
    assert_eq!(drawn_in(&mut app, 20), 0, "a static screen drew frames");
    app.world_mut()
        .resource_mut::<player::app::Alerts>()
        .0
        .push(alert("extreme", "actual"));
    assert_eq!(drawn_in(&mut app, 1), 1, "the alert was not drawn at once");
    let layers = app
        .world_mut()
        .query::<&player::app::alert::AlertLayer>()
        .iter(app.world())
        .count();
    assert_eq!(layers, 1);
    drawn_in(&mut app, 3);
    assert_eq!(drawn_in(&mut app, 10), 0, "a static alert drew frames");
}

/// A ticker on the wall clock moves, so every update draws.
#[test]
fn a_ticker_draws_every_frame() {
    let mut c = case("reactive_ticker", (1280, 720));
    let now = chrono::Utc::now();
    let mut m = manifest(
        1280,
        720,
        full("main"),
        json!({ "main": one(1) }),
        vec![item(
            1,
            json!({ "type": "ticker", "text": "Straßenfest in der Neustraße", "speed_px_per_s": 200 }),
        )],
        vec![],
    );
    m.timeline[0].from = now - chrono::Duration::minutes(1);
    m.timeline[0].until = now + chrono::Duration::hours(1);
    c.opts.manifest = Some(m);
    c.opts.at = None;
    let mut app = offscreen_app(&c.opts);
    drawn_in(&mut app, 5);
    assert!(
        app.world()
            .resource::<player::app::redraw::Pacing>()
            .animating
    );
    // Each update takes milliseconds, the ticker moves 200 px a second.
    assert_eq!(drawn_in(&mut app, 10), 10);
}

fn zone_contents(app: &mut bevy::prelude::App) -> usize {
    app.world_mut()
        .query::<&player::app::zones::ZoneContent>()
        .iter(app.world())
        .count()
}

/// The next item slides in while the old one is still there (both on screen:
/// no blank frame), every frame of the slide is drawn, and then the old one
/// is gone and drawing stops.
#[test]
fn a_new_item_slides_in_over_the_old_one() {
    let mut c = case("transition", (1280, 720));
    c.opts.manifest = Some(manifest(
        1280,
        720,
        full("main"),
        json!({ "main": { "entries": [
            { "item": 1, "duration_s": 600, "schedule": 1 },
            { "item": 2, "duration_s": 600, "schedule": 1 },
        ] } }),
        vec![announcement(1, None), item(2, json!({ "type": "clock" }))],
        vec![],
    ));
    let mut app = offscreen_app(&c.opts);
    drawn_in(&mut app, 5);
    assert_eq!(zone_contents(&mut app), 1);
    app.world_mut().resource_mut::<player::app::Now>().fixed =
        Some(at() + chrono::Duration::seconds(600));
    let start = std::time::Instant::now();
    assert_eq!(drawn_in(&mut app, 1), 1);
    assert_eq!(zone_contents(&mut app), 2, "old and new are both there");
    let mut updates = 0;
    while zone_contents(&mut app) == 2 {
        assert!(start.elapsed() < crate::T, "the transition never ended");
        assert_eq!(drawn_in(&mut app, 1), 1, "a frame of the slide was skipped");
        updates += 1;
    }
    assert!(
        start.elapsed() >= player::app::zones::TRANSITION,
        "ended early"
    );
    assert!(updates > 1);
    drawn_in(&mut app, 2);
    assert_eq!(drawn_in(&mut app, 5), 0, "drawing did not stop");
}

/// The server's staleness mark (a fresh-looking reading the server calls
/// stale) and service alerts under the departures: wrapped at word
/// boundaries, one still in force with an end time, one ended (not shown),
/// the same alert for two stops shown once.
#[test]
fn server_stale_mark_and_service_alerts_portrait() {
    let mut c = case("stale_and_alerts_portrait", (1080, 1920));
    let m = |min: i64| at() + chrono::Duration::minutes(min);
    let zones = json!([
        { "name": "sensors", "x": 0.0, "y": 0.0, "width": 100.0, "height": 30.0 },
        { "name": "transit", "x": 0.0, "y": 30.0, "width": 100.0, "height": 70.0 },
    ]);
    c.opts.manifest = Some(manifest(
        1080,
        1920,
        zones,
        json!({ "sensors": one(1), "transit": one(2) }),
        vec![
            item(
                1,
                json!({ "type": "sensor_panel", "quantities": ["pm10", "no2"] }),
            ),
            item(2, json!({ "type": "transit_board", "max_rows": 4 })),
        ],
        vec![],
    ));
    let diversion = json!({
        "id": "gtfs-alert-17",
        "header": "Umleitung der Linien 830 und 854 wegen Bauarbeiten an der Neersener Straße: \
                   die Haltestelle Rathaus wird an die Alte Heerstraße verlegt",
        "description": "Bitte beachten Sie die Aushänge.",
        "until": m(400),
    });
    c.opts.live = serde_json::from_value(json!([
        { "kind": "sensors", "readings": [
            // Twenty minutes old, yet the server says stale (its configured age
            // is shorter than the local fallback's): the mark wins.
            { "station": "s1", "quantity": "pm10", "value": 12.3, "measured_at": m(-20), "trend": "steady", "class": "gut", "stale": true },
            { "station": "s1", "quantity": "no2", "value": 21.0, "measured_at": m(-5), "trend": "rising", "class": "gut" },
        ]},
        { "kind": "departures", "stop_id": "kaarst-rathaus", "as_of": m(0), "departures": [
            { "line": "S28", "destination": "Düsseldorf Hbf", "planned": m(3), "expected": m(3) },
            { "line": "854", "destination": "Neuss Hbf", "planned": m(6), "expected": m(8) },
        ], "alerts": [
            diversion,
            { "id": "gtfs-alert-3", "header": "Aufzug am Bahnsteig 2 außer Betrieb", "until": m(-1) },
            { "id": "gtfs-alert-9", "description": "Streik bei der Rheinbahn: Linie 830 fällt am Montag aus", "until": m(60 * 48) },
        ]},
        { "kind": "departures", "stop_id": "kaarst-ibs", "as_of": m(0), "departures": [
            { "line": "830", "destination": "Büttgen Bahnhof", "planned": m(14), "expected": m(21) },
        ], "alerts": [diversion] },
    ]))
    .unwrap();
    check(c);
}

/// The background and panel colours as 8-bit sRGB.
const BACKGROUND: [u8; 3] = [10, 38, 69];
const PANEL: [u8; 3] = [18, 56, 97];

fn near(px: &image::Rgba<u8>, want: [u8; 3]) -> bool {
    (0..3).all(|i| px.0[i].abs_diff(want[i]) <= 3)
}

/// Two zones side by side or one over the other: a transit board (its panel
/// fills the zone) and a clock (no background of its own).
fn panel_and_clock(width: u32, height: u32, zones: Value) -> Manifest {
    manifest(
        width,
        height,
        zones,
        json!({ "a": one(1), "b": one(2) }),
        vec![
            item(1, json!({ "type": "transit_board" })),
            item(2, json!({ "type": "clock" })),
        ],
        vec![],
    )
}

/// A 1920x1080 display's manifest on a 1280x720 output: the layout is
/// scaled by 2/3, so the zone boundary at 50 % lands at x = 640.
#[test]
fn a_layout_is_scaled_to_a_smaller_output() {
    let mut c = case("scaled_landscape", (1280, 720));
    c.opts.manifest = Some(panel_and_clock(
        1920,
        1080,
        json!([
            { "name": "a", "x": 0.0, "y": 0.0, "width": 50.0, "height": 100.0 },
            { "name": "b", "x": 50.0, "y": 0.0, "width": 50.0, "height": 100.0 },
        ]),
    ));
    let (img, _) = player::render_frame(&c.opts).expect("render");
    assert_eq!(img.dimensions(), (1280, 720));
    // The panel's corners, a few pixels inside (its padding holds no text).
    for (x, y) in [(3, 3), (636, 3), (3, 716), (636, 716)] {
        assert!(
            near(img.get_pixel(x, y), PANEL),
            "({x},{y}) {:?}",
            img.get_pixel(x, y)
        );
    }
    // Just right of the scaled boundary: the clock zone's background.
    for (x, y) in [(644, 3), (1276, 3), (644, 716), (1276, 716)] {
        assert!(
            near(img.get_pixel(x, y), BACKGROUND),
            "({x},{y}) {:?}",
            img.get_pixel(x, y)
        );
    }
    // The clock's digits are drawn (not cut off): white pixels right of centre.
    let white = (640..1280)
        .flat_map(|x| (0..720).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[..3].iter().all(|&v| v > 240))
        .count();
    assert!(white > 2_000, "no clock drawn ({white} white pixels)");
}

/// A portrait display's manifest on a landscape output: scaled to the
/// output's height (0.5625), centred, bars in the background colour on both
/// sides, nothing drawn in them.
#[test]
fn a_portrait_layout_on_a_landscape_output_is_letterboxed() {
    let mut c = case("letterboxed_portrait", (1920, 1080));
    c.opts.manifest = Some(panel_and_clock(
        1080,
        1920,
        json!([
            { "name": "a", "x": 0.0, "y": 0.0, "width": 100.0, "height": 50.0 },
            { "name": "b", "x": 0.0, "y": 50.0, "width": 100.0, "height": 50.0 },
        ]),
    ));
    let (img, _) = player::render_frame(&c.opts).expect("render");
    assert_eq!(img.dimensions(), (1920, 1080));
    // 1080 x 0.5625 = 607.5 px wide, from x = 656.
    let (left, right) = (656, 1263);
    for y in 0..1080 {
        for x in (0..left - 1).chain(right + 2..1920) {
            let p = img.get_pixel(x, y);
            assert!(
                near(p, BACKGROUND),
                "drawn outside the layout at ({x},{y}): {p:?}"
            );
        }
    }
    // The board's panel fills the upper half of the scaled layout.
    for (x, y) in [
        (left + 3, 3),
        (right - 3, 3),
        (left + 3, 535),
        (right - 3, 535),
    ] {
        assert!(
            near(img.get_pixel(x, y), PANEL),
            "({x},{y}) {:?}",
            img.get_pixel(x, y)
        );
    }
    // The clock below it has no panel.
    for (x, y) in [(left + 3, 545), (right - 3, 1076)] {
        assert!(
            near(img.get_pixel(x, y), BACKGROUND),
            "({x},{y}) {:?}",
            img.get_pixel(x, y)
        );
    }
    let white = (left..right)
        .flat_map(|x| (540..1080).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[..3].iter().all(|&v| v > 240))
        .count();
    assert!(white > 1_000, "no clock drawn ({white} white pixels)");
}

/// The cameras that drew in the last update: whether the base camera did,
/// and the viewports of the zone cameras that did.
fn active_cameras(app: &mut bevy::prelude::App) -> (bool, Vec<bevy::prelude::URect>) {
    use bevy::prelude::*;
    let base = app
        .world()
        .resource::<player::app::offscreen::Target>()
        .camera;
    let base_active = app.world().get::<Camera>(base).unwrap().is_active;
    let zones = app
        .world_mut()
        .query::<(&Camera, &player::app::offscreen::ZoneCamera)>()
        .iter(app.world())
        .filter(|(c, _)| c.is_active)
        .map(|(c, _)| {
            let v = c.viewport.as_ref().unwrap();
            URect::from_corners(v.physical_position, v.physical_position + v.physical_size)
        })
        .collect();
    (base_active, zones)
}

/// While a ticker scrolls next to static zones, each frame draws the
/// ticker's zone through its own camera and nothing else (a full frame
/// costs the whole output on a software rasterizer); an alert over it
/// brings everything back, so the alert stays on top.
#[test]
fn a_ticker_frame_draws_only_the_tickers_zone() {
    let mut c = case("ticker_zone_only", (1280, 720));
    let now = chrono::Utc::now();
    let mut m = manifest(
        1920,
        1080,
        json!([
            { "name": "main", "x": 0.0, "y": 0.0, "width": 100.0, "height": 88.0 },
            { "name": "ticker", "x": 0.0, "y": 88.0, "width": 100.0, "height": 12.0 },
        ]),
        json!({ "main": one(1), "ticker": one(2) }),
        vec![
            announcement(1, None),
            item(
                2,
                json!({ "type": "ticker", "text": "Straßenfest in der Neustraße", "speed_px_per_s": 200 }),
            ),
        ],
        vec![],
    );
    m.timeline[0].from = now - chrono::Duration::minutes(1);
    m.timeline[0].until = now + chrono::Duration::hours(1);
    c.opts.manifest = Some(m);
    c.opts.at = None;
    let mut app = offscreen_app(&c.opts);
    drawn_in(&mut app, 10);
    // The ticker's 12 % strip of a 1920x1080 layout, scaled to 1280x720.
    let strip = bevy::prelude::URect::new(0, 634, 1280, 720);
    for _ in 0..5 {
        assert_eq!(drawn_in(&mut app, 1), 1, "a ticker frame was skipped");
        assert_eq!(active_cameras(&mut app), (false, vec![strip]));
    }
    app.world_mut()
        .resource_mut::<player::app::Alerts>()
        .0
        .push(alert("extreme", "actual"));
    drawn_in(&mut app, 1);
    let (base, zones) = active_cameras(&mut app);
    assert!(base, "the alert did not redraw everything");
    assert_eq!(zones.len(), 2, "every zone is drawn under the alert");
    // The takeover is there and stays drawn with everything while it shows.
    drawn_in(&mut app, 1);
    assert!(active_cameras(&mut app).0);
}
