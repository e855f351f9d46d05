//! The player as a Wayland client under `cage`, the kiosk's compositor:
//! cage runs on wlroots' headless backend (pixman renderer, no GPU, no
//! input devices), the player opens its window full screen on it, and
//! `grim` (wlr-screencopy) captures the output, whose pixels must show the
//! cached schedule, and the player follows cage's maximize to the output's
//! size (see [`FRAMES`] for what cage 0.1.4 headless may show meanwhile).
//!
//! cage and grim (and Xwayland, which cage 0.1.4 starts unconditionally)
//! come from `debian-packages.txt`; the test fails, never skips, when they
//! are missing. cage refuses to run as root (it checks that root cannot be
//! regained), so under root the compositor and the player run as `nobody`
//! through `setpriv`, as the kiosk runs them as an unprivileged user.

use crate::T;
use bevy::color::ColorToPacked as _;
use content::manifest::Manifest;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A solid PNG in the data directory's cache; returns its asset reference.
pub fn cached_png(dir: &Path, w: u32, h: u32, rgb: [u8; 3]) -> Value {
    crate::cache_png(dir, &image::RgbImage::from_pixel(w, h, image::Rgb(rgb)))
}

/// A manifest of version `version` whose timeline holds `zones` (name →
/// entries) from an hour ago for a day, so the wall clock finds it.
pub fn manifest_now(
    version: u64,
    (width, height): (u32, u32),
    layout: Value,
    zones: Value,
    items: Vec<Value>,
    assets: Vec<Value>,
) -> Manifest {
    let now = chrono::Utc::now();
    let from = now - chrono::Duration::hours(1);
    let until = now + chrono::Duration::hours(23);
    serde_json::from_value(json!({
        "version": version,
        "generated_at": from.to_rfc3339(),
        "display": {
            "id": 1,
            "name": "Kaarst Marktplatz",
            "location": { "lat": 51.2276, "lon": 6.6172, "ars": "051620016016" },
            "resolution": { "width": width, "height": height },
            "orientation": "landscape",
            "timezone": "Europe/Berlin",
        },
        "layout": { "id": 1, "name": "Test", "zones": layout },
        "timeline": [{ "from": from.to_rfc3339(), "until": until.to_rfc3339(), "zones": zones }],
        "items": items,
        "assets": assets,
        "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
    }))
    .unwrap()
}

/// Stores `manifest` and a token in the data directory `dir`, as a player
/// that was adopted and synced before finds them at start.
pub fn store_manifest(dir: &Path, manifest: &Manifest) {
    let store = player::store::Store::open(dir).unwrap();
    store.save_token("test-token").unwrap();
    store.set_manifest(manifest).unwrap();
    for a in &manifest.assets {
        store.add_asset(a).unwrap();
    }
}

/// A server address where nothing listens (bound, then released).
pub fn dead_server() -> String {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    format!("http://{addr}")
}

/// A child process that is killed when dropped; its output goes to `log`,
/// printed when the test fails.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub what: String,
}

impl Proc {
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let what = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc { child, log, what }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("==== {} ====\n{}\n==== end ====", self.what, self.output());
        }
    }
}

/// Fails clearly when a tool the test needs is not installed.
pub fn require(tool: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{tool}` is not installed: `./x` installs it from debian-packages.txt")
        })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// Hands `path` (recursively) to `nobody`, so cage and the player can use it.
fn give_to_nobody(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown {} failed", path.display());
}

/// Runs `cmd` as cage would be run on a headless wlroots output, as `nobody`
/// when the test is root.
fn in_cage(runtime: &Path, home: &Path, inner: &[&str]) -> Command {
    let mut cmd = if is_root() {
        let mut c = Command::new(require("setpriv"));
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
        c.arg(require("cage"));
        c
    } else {
        Command::new(require("cage"))
    };
    cmd.arg("--").args(inner);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", runtime)
        // wlroots 0.15: outputs without a GPU or a seat.
        .env("WLR_BACKENDS", "headless")
        .env("WLR_RENDERER", "pixman")
        .env("WLR_LIBINPUT_NO_DEVICES", "1")
        .env("RUST_LOG", "info,wgpu=warn,naga=warn");
    cmd
}

/// The Wayland socket cage made in `runtime`, once it exists.
fn wait_for_socket(runtime: &Path, cage: &mut Proc) -> String {
    let start = Instant::now();
    loop {
        if let Some(name) = std::fs::read_dir(runtime)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("wayland-") && !n.ends_with(".lock"))
        {
            return name;
        }
        if let Some(status) = cage.child.try_wait().unwrap() {
            panic!("cage exited ({status}) before its socket appeared");
        }
        assert!(start.elapsed() < T, "no Wayland socket from cage");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One capture of cage's output by grim, as the same user.
fn grab(runtime: &Path, home: &Path, display: &str, out: &Path) -> Option<image::RgbaImage> {
    let mut cmd = if is_root() {
        let mut c = Command::new(require("setpriv"));
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
        c.arg(require("grim"));
        c
    } else {
        Command::new(require("grim"))
    };
    let status = cmd
        .arg(out)
        .env_clear()
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("WAYLAND_DISPLAY", display)
        .status()
        .unwrap();
    assert!(status.success(), "grim failed: {status}");
    image::open(out).ok().map(|i| i.to_rgba8())
}

pub fn close(p: [u8; 4], want: [u8; 3], tol: u8) -> bool {
    (0..3).all(|i| p[i].abs_diff(want[i]) <= tol)
}

pub const ORANGE: [u8; 3] = [240, 120, 0];
pub const GREEN: [u8; 3] = [20, 170, 60];

#[test]
fn the_player_runs_full_screen_as_a_wayland_client_under_cage() {
    require("cage");
    require("grim");
    require("Xwayland");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let runtime = tmp.path().join("runtime");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // Two image zones on the background: left orange, right green. cage's
    // headless output is 1280×720, the display's resolution here.
    let left = cached_png(&data, 448, 432, ORANGE);
    let right = cached_png(&data, 448, 432, GREEN);
    let manifest = manifest_now(
        7,
        (1280, 720),
        json!([
            { "name": "left", "x": 10.0, "y": 20.0, "width": 35.0, "height": 60.0 },
            { "name": "right", "x": 55.0, "y": 20.0, "width": 35.0, "height": 60.0 },
        ]),
        json!({
            "left": { "entries": [{ "item": 1, "duration_s": 600, "schedule": 1 }] },
            "right": { "entries": [{ "item": 2, "duration_s": 600, "schedule": 1 }] },
        }),
        vec![
            json!({ "id": 1, "name": "Links", "duration_s": 600,
                "content": { "type": "image", "asset": left } }),
            json!({ "id": 2, "name": "Rechts", "duration_s": 600,
                "content": { "type": "image", "asset": right } }),
        ],
        vec![left.clone(), right.clone()],
    );
    store_manifest(&data, &manifest);
    let player = if is_root() {
        // `nobody` may not be able to reach the checkout (a clone under
        // /root is closed to others): it runs its own copy. The font is
        // built into the binary, so the copy is all it needs.
        let copy = tmp.path().join("player");
        std::fs::copy(env!("CARGO_BIN_EXE_player"), &copy).unwrap();
        give_to_nobody(tmp.path());
        copy.to_str().unwrap().to_owned()
    } else {
        env!("CARGO_BIN_EXE_player").to_owned()
    };
    let server = dead_server();
    // `env -u DISPLAY`: cage also offers Xwayland; without DISPLAY the
    // player can only be a Wayland client.
    let inner = [
        "env",
        "-u",
        "DISPLAY",
        "MESA_SHADER_CACHE_DISABLE=true",
        &player,
        "--fullscreen",
        "--server",
        &server,
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let mut cage = Proc::spawn(
        in_cage(&runtime, tmp.path(), &inner),
        tmp.path().join("cage.log"),
    );
    let display = wait_for_socket(&runtime, &mut cage);
    let shot = tmp.path().join("shot.png");
    let log = tmp.path().join("cage.log");
    let started = Instant::now();
    let mut last = None;
    let mut early = None;
    // What cage shows: the schedule at the output's full size, or the frame
    // the player drew before cage maximized its window (see the module doc).
    let (img, frame) = loop {
        if let Some(status) = cage.child.try_wait().unwrap() {
            panic!("cage (and the player) exited early: {status}");
        }
        let maximized = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("window resized to 1280x720");
        if maximized && let Some(img) = grab(&runtime, tmp.path(), &display, &shot) {
            match FRAMES.iter().position(|f| f.shows_zones(&img)) {
                Some(0) => break (img, &FRAMES[0]),
                // The pre-maximize frame counts once cage has had a few
                // seconds to repaint and did not.
                Some(_) => {
                    let since = *early.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(3) {
                        break (img, &FRAMES[1]);
                    }
                }
                None => {}
            }
            last = Some(img);
        }
        if started.elapsed() > T {
            if let Some(img) = &last {
                let kept =
                    std::env::temp_dir().join(format!("player-wayland-{}.png", std::process::id()));
                img.save(&kept).unwrap();
                eprintln!("cage's last output: {}", kept.display());
            }
            panic!(
                "the schedule did not appear on cage's output within {T:?} (maximized: {maximized}, \
                 last centre pixel {:?})",
                last.map(|i| i.get_pixel(i.width() / 2, i.height() / 2).0)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Kept for a look when an assertion below fails.
    let kept = std::env::temp_dir().join(format!("player-wayland-{}.png", std::process::id()));
    img.save(&kept).unwrap();
    eprintln!("cage's output ({}): {}", frame.what, kept.display());
    assert_eq!(img.dimensions(), (1280, 720), "cage's headless output");
    // The frame is the player's whole window: its corners and the gap between
    // the zones show the player's background, no black inside it.
    let [r, g, b, _] = player::app::palette::BACKGROUND.to_srgba().to_u8_array();
    let background = [r, g, b];
    let (w, h) = frame.size;
    for (x, y) in [
        (2, 2),
        (w - 3, 2),
        (2, h - 3),
        (w - 3, h - 3),
        (w / 2, h / 2),
        (w / 2, h / 12),
    ] {
        let p = img.get_pixel(x, y).0;
        assert!(
            close(p, background, 6),
            "pixel ({x}, {y}) is {p:?}, not the background {background:?}"
        );
    }
    let black = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[..3] == [0, 0, 0])
        .count();
    assert_eq!(black, 0, "black pixels in the player's window");
}

/// A frame of the player's window as cage may show it, top left on the output.
struct Frame {
    what: &'static str,
    /// The window's size.
    size: (u32, u32),
}

/// cage maximizes the window to the output (1280x720), but 0.1.4 on the
/// headless backend often does not repaint after that: a surface covering
/// the whole output makes it try direct scan-out, which the headless backend
/// refuses ("Basic output test failed" in its log), and then it skips the
/// frame, so the output keeps what it composited last (seen in most runs
/// here, although the player committed its 1280x720 frames with full damage,
/// per WAYLAND_DEBUG; with a window created at the output's size the output
/// stayed black). So the resized frame is waited for, and the first one, at
/// winit's initial 800x600 with the same layout scaled, is accepted when
/// cage has not repainted for 3 s. That the player followed the maximize is
/// checked through its log line. Whether cage repaints on a real display
/// (DRM backend) belongs to the kiosk image's boot test.
const FRAMES: [Frame; 2] = [
    Frame {
        what: "maximized to the output",
        size: (1280, 720),
    },
    Frame {
        what: "before cage's maximize, 800x600",
        size: (800, 600),
    },
];

impl Frame {
    /// Both zones at the centres the layout puts them for this window size.
    fn shows_zones(&self, img: &image::RgbaImage) -> bool {
        let (w, h) = self.size;
        // The 1280x720 layout fitted into the window, letterboxed.
        let scale = (w as f32 / 1280.0).min(h as f32 / 720.0);
        let top = (h as f32 - 720.0 * scale) / 2.0;
        let at = |fx: f32| {
            let x = (1280.0 * fx * scale) as u32;
            let y = (top + 360.0 * scale) as u32;
            img.get_pixel(x, y).0
        };
        close(at(0.275), ORANGE, 12) && close(at(0.725), GREEN, 12)
    }
}
