//! The player's integration tests (one binary): offscreen screenshots
//! compared with reviewed reference images, and the network side against the
//! real control-server binary.

#[path = "player/render.rs"]
mod render;
#[path = "player/system.rs"]
mod system;
#[path = "player/video.rs"]
mod video;
#[path = "player/watchdog.rs"]
mod watchdog;
#[path = "player/wayland.rs"]
mod wayland;

use std::time::Duration;

/// The longest any single wait in these tests may take.
pub const T: Duration = Duration::from_secs(20);
