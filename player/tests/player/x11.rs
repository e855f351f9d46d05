//! The player's own X11 window (`--present x11`, which `auto` picks for a
//! CPU renderer on an X display), under Xvfb, read back over X11 itself:
//! the schedule fills the screen without a black pixel, the ticker's strip
//! moves while the rest stays as it was, an area uncovered by another
//! window is repainted (an `Expose` redraws the whole frame: Xvfb keeps no
//! backing store, and only the ticker redraws by itself), and closing the
//! window ends the player cleanly.

use crate::T;
use crate::wayland::{
    GREEN, ORANGE, Proc, cached_png, close, dead_server, manifest_now, require, store_manifest,
};
use bevy::color::ColorToPacked as _;
use serde_json::json;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, ImageFormat,
    WindowClass,
};
use x11rb::rust_connection::RustConnection;

pub(crate) const W: u32 = 1280;
pub(crate) const H: u32 = 720;

/// An Xvfb of `W`x`H` on the first free display number, and a connection.
/// Stopped with SIGTERM when dropped, so that it removes its socket in
/// /tmp/.X11-unix (a killed one leaves it behind).
pub(crate) struct Xvfb {
    proc: Proc,
    pub(crate) name: String,
    pub(crate) conn: RustConnection,
    root: u32,
}

pub(crate) fn xvfb(dir: &Path) -> Xvfb {
    require("Xvfb");
    // `-displayfd`: the server takes the first number whose sockets it can
    // bind and writes it there once it accepts connections. It makes no lock
    // file, and the abstract socket that decides is the kernel's, gone with
    // its server: leftovers of killed servers in /tmp cannot use up the
    // numbers (they did, on a CI machine whose /tmp outlives its runs,
    // when this test picked numbers by the files it found).
    let mut cmd = Command::new("Xvfb");
    cmd.args([
        "-displayfd",
        "1",
        "-screen",
        "0",
        &format!("{W}x{H}x24"),
        "-nolisten",
        "tcp",
    ]);
    let log = dir.join("xvfb.log");
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = child.stdout.take().unwrap();
    // Proc from here on: a panic below prints the server's log.
    let proc = Proc { child, log, what };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(T)
        .unwrap_or_else(|_| panic!("Xvfb named no display within {T:?}"));
    let number: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb exited without a display number ({line:?})"));
    let name = format!(":{number}");
    let (conn, screen) = RustConnection::connect(Some(&name))
        .unwrap_or_else(|e| panic!("cannot connect to Xvfb {name}: {e}"));
    let root = conn.setup().roots[screen].root;
    Xvfb {
        proc,
        name,
        conn,
        root,
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.proc.child.id().to_string()])
            .status();
        let start = Instant::now();
        while self.proc.child.try_wait().is_ok_and(|s| s.is_none()) && start.elapsed() < T {
            std::thread::sleep(Duration::from_millis(20));
        }
        // What is left, Proc's own drop kills.
    }
}

impl Xvfb {
    /// The screen's pixels (Xvfb's BGRX, as RGBA).
    pub(crate) fn grab(&self) -> image::RgbaImage {
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                0,
                0,
                W as u16,
                H as u16,
                !0,
            )
            .unwrap()
            .reply()
            .unwrap();
        let mut img = image::RgbaImage::new(W, H);
        for (px, bgrx) in img.pixels_mut().zip(reply.data.chunks_exact(4)) {
            *px = image::Rgba([bgrx[2], bgrx[1], bgrx[0], 255]);
        }
        img
    }

    /// Grabs until `ok` holds; fails after `T`, keeping the last grab.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        player: &mut Proc,
        ok: impl Fn(&image::RgbaImage) -> bool,
    ) {
        let start = Instant::now();
        loop {
            if let Some(status) = player.child.try_wait().unwrap() {
                panic!("the player exited early ({status}) waiting for {what}");
            }
            let img = self.grab();
            if ok(&img) {
                return;
            }
            if start.elapsed() > T {
                let kept =
                    std::env::temp_dir().join(format!("player-x11-{}.png", std::process::id()));
                img.save(&kept).unwrap();
                panic!(
                    "{what}: not seen within {T:?}; last screen: {}",
                    kept.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The top-level window named `name`.
    fn window_named(&self, name: &str) -> Option<u32> {
        let tree = self.conn.query_tree(self.root).unwrap().reply().unwrap();
        tree.children.into_iter().find(|&w| {
            self.conn
                .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 64)
                .unwrap()
                .reply()
                .is_ok_and(|p| p.value == name.as_bytes())
        })
    }
}

/// Both image zones where the layout puts them.
fn shows_zones(img: &image::RgbaImage) -> bool {
    close(img.get_pixel(352, 360).0, ORANGE, 12) && close(img.get_pixel(928, 360).0, GREEN, 12)
}

/// The ticker's strip (the bottom 12 %) and the rest above it.
const TICKER_TOP: u32 = H * 88 / 100;

fn rows(img: &image::RgbaImage, ys: std::ops::Range<u32>) -> Vec<u8> {
    ys.flat_map(|y| (0..W).flat_map(move |x| img.get_pixel(x, y).0))
        .collect()
}

#[test]
fn the_x11_output_shows_the_schedule_and_sends_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let left = cached_png(&data, 448, 432, ORANGE);
    let right = cached_png(&data, 448, 432, GREEN);
    let manifest = manifest_now(
        3,
        (W, H),
        json!([
            { "name": "left", "x": 10.0, "y": 20.0, "width": 35.0, "height": 60.0 },
            { "name": "right", "x": 55.0, "y": 20.0, "width": 35.0, "height": 60.0 },
            { "name": "ticker", "x": 0.0, "y": 88.0, "width": 100.0, "height": 12.0 },
        ]),
        json!({
            "left": { "entries": [{ "item": 1, "duration_s": 600, "schedule": 1 }] },
            "right": { "entries": [{ "item": 2, "duration_s": 600, "schedule": 1 }] },
            "ticker": { "entries": [{ "item": 3, "duration_s": 600, "schedule": 1 }] },
        }),
        vec![
            json!({ "id": 1, "name": "Links", "duration_s": 600,
                "content": { "type": "image", "asset": left } }),
            json!({ "id": 2, "name": "Rechts", "duration_s": 600,
                "content": { "type": "image", "asset": right } }),
            json!({ "id": 3, "name": "Laufschrift", "duration_s": 600,
                "content": { "type": "ticker", "speed_px_per_s": 200,
                    "text": "+++ Straßenfest in der Neustraße – Umleitung über die Maubisstraße +++" } }),
        ],
        vec![left.clone(), right.clone()],
    );
    store_manifest(&data, &manifest);
    let x = xvfb(tmp.path());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_player"));
    cmd.args([
        "--present",
        "x11",
        "--fullscreen",
        "--server",
        &dead_server(),
    ])
    .arg("--data-dir")
    .arg(&data)
    .env("DISPLAY", &x.name)
    .env_remove("WAYLAND_DISPLAY")
    .env("MESA_SHADER_CACHE_DISABLE", "true")
    .env("RUST_LOG", "info,wgpu=warn,naga=warn");
    let mut player = Proc::spawn(cmd, tmp.path().join("player.log"));

    x.wait_for("the schedule on the screen", &mut player, shows_zones);
    assert!(
        player.output().contains("frames go to X11"),
        "the player did not say it uses the X11 output"
    );
    // The whole screen is the player's: background in the corners and
    // between the zones, no black anywhere.
    let img = x.grab();
    let [r, g, b, _] = player::app::palette::BACKGROUND.to_srgba().to_u8_array();
    for (px, py) in [(2, 2), (W - 3, 2), (W / 2, H / 2), (W / 2, H / 12)] {
        let p = img.get_pixel(px, py).0;
        assert!(close(p, [r, g, b], 6), "pixel ({px}, {py}) is {p:?}");
    }
    let black = img.pixels().filter(|p| p.0[..3] == [0, 0, 0]).count();
    assert_eq!(black, 0, "black pixels on the screen");

    // The ticker moves; everything above it stays exactly as it was.
    let above = rows(&img, 0..TICKER_TOP - 2);
    let strip = rows(&img, TICKER_TOP + 2..H);
    x.wait_for("the ticker moving", &mut player, |now| {
        rows(now, TICKER_TOP + 2..H) != strip
    });
    assert!(
        rows(&x.grab(), 0..TICKER_TOP - 2) == above,
        "pixels above the ticker changed"
    );

    // Another window over the left zone, then gone: X paints the uncovered
    // area in the window's background, and the player must draw it again.
    let cover = x.conn.generate_id().unwrap();
    x.conn
        .create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            cover,
            x.root,
            200,
            200,
            300,
            300,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new()
                .background_pixel(0x00ff_ffff)
                .override_redirect(1),
        )
        .unwrap();
    x.conn.map_window(cover).unwrap();
    x.conn.flush().unwrap();
    x.wait_for("the cover over the left zone", &mut player, |img| {
        img.get_pixel(352, 360).0[..3] == [255, 255, 255]
    });
    x.conn.unmap_window(cover).unwrap();
    x.conn.flush().unwrap();
    x.wait_for("the left zone repainted", &mut player, shows_zones);

    // The window manager's close: the player ends, successfully.
    let window = x
        .window_named(player::app::WINDOW_TITLE)
        .expect("the player's window");
    let atom = |n: &[u8]| x.conn.intern_atom(false, n).unwrap().reply().unwrap().atom;
    let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
    let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    x.conn
        .send_event(false, window, EventMask::NO_EVENT, event)
        .unwrap();
    x.conn.flush().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = player.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < T,
            "the player did not end after WM_DELETE_WINDOW"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the player ended with {status}");
    assert!(player.output().contains("the window was closed"));
}
