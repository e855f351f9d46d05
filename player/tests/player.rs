//! The player's integration tests (one binary): offscreen screenshots
//! compared with reviewed reference images, and the network side against the
//! real control-server binary.

#[path = "player/kiosk.rs"]
mod kiosk;
#[path = "player/kiosk_qemu.rs"]
mod kiosk_qemu;
#[path = "player/night.rs"]
mod night;
#[path = "player/render.rs"]
mod render;
#[path = "player/system.rs"]
mod system;
#[path = "player/update.rs"]
mod update;
#[path = "player/video.rs"]
mod video;
#[path = "player/watchdog.rs"]
mod watchdog;
#[path = "player/wayland.rs"]
mod wayland;
#[path = "player/x11.rs"]
mod x11;

use serde_json::{Value, json};
use sha2::Digest as _;
use std::path::Path;
use std::time::Duration;

/// The longest any single wait in these tests may take.
pub const T: Duration = Duration::from_secs(20);

/// Puts `bytes` into the data directory's cache as the player keeps it
/// (`cache/<sha256>`); returns the asset reference a manifest names.
pub fn cache_file(dir: &Path, bytes: &[u8], mime: &str) -> Value {
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("cache").join(&sha), bytes).unwrap();
    json!({ "sha256": sha, "size": bytes.len(), "mime": mime })
}

/// [`cache_file`] for an image, as PNG.
pub fn cache_png(dir: &Path, img: &image::RgbImage) -> Value {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    cache_file(dir, &bytes, "image/png")
}
