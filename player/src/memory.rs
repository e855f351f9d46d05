//! Keeping the heap small on a 2-4 GB board that runs for days.
//!
//! glibc gives every thread that allocates its own arena (up to eight per
//! core), and each keeps the pages it once used. The player has many threads
//! (Bevy's task pools, tokio, GStreamer, Mesa's rasterizer) but allocates
//! little once it runs, so two arenas are plenty, and what a burst of drawing
//! freed (layout, text shaping, asset decoding) is handed back to the kernel
//! once the screen is still again. Measured with `player-bench
//! player-vs-browser` (BENCHMARKS.md), together with the non-PIE link
//! (`build.rs`) and two swap-chain images.

#![allow(unsafe_code)] // FFI into glibc's allocator: the workspace's one exception.

use std::time::{Duration, Instant};

/// Trim at most this often while frames are drawn without pause (a ticker).
const TRIM_WHILE_DRAWING: Duration = Duration::from_secs(60);
/// A drawing burst counts as over after this long without a frame.
const QUIET: Duration = Duration::from_secs(2);

/// Large blocks (1 MiB and up) come straight from the kernel and go back to it.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Caps the number of malloc arenas and fixes the threshold for mapping large
/// blocks; call first thing, before threads start.
///
/// Why the threshold: glibc raises it to the size of any mapped block that is
/// freed, after which large transient blocks (decoded images, video frames,
/// lavapipe's textures in system memory) are carved from the arenas, where
/// freeing them returns nothing to the kernel until a trim. Fixed, they are
/// mapped and unmapped each time.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; both are valid on every
    // glibc and take effect for later allocations.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Decides when to return freed heap pages to the kernel.
#[derive(Debug, Default)]
pub struct Trimmer {
    last_trim: Option<Instant>,
    /// The last drawn frame the previous trim already covered.
    covered: Option<Instant>,
}

impl Trimmer {
    /// Whether to trim now, given when the last frame was drawn.
    pub fn due(&mut self, now: Instant, last_drawn: Option<Instant>) -> bool {
        let Some(drawn) = last_drawn else {
            return false;
        };
        if self.covered == Some(drawn) {
            return false;
        }
        let quiet = now.saturating_duration_since(drawn) >= QUIET;
        let long_ago = self
            .last_trim
            .is_none_or(|t| now.saturating_duration_since(t) >= TRIM_WHILE_DRAWING);
        if quiet || long_ago {
            self.last_trim = Some(now);
            self.covered = Some(drawn);
            return true;
        }
        false
    }
}

/// Trims the heap when [`Trimmer`] says so (the kiosk app, not screenshots).
pub fn plugin(app: &mut bevy::app::App) {
    use bevy::prelude::*;
    app.add_systems(
        Last,
        |mut trimmer: Local<Trimmer>, frames: Res<crate::app::redraw::Frames>| {
            if trimmer.due(Instant::now(), frames.last_rendered) {
                trim();
            }
        },
    );
}

/// Returns the heap's free pages to the kernel.
fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_a_burst_is_over_and_now_and_then_while_drawing_goes_on() {
        let mut t = Trimmer::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert!(!t.due(t0, None), "nothing drawn yet");
        // A ticker drawing every frame: the first trim at once, then once a minute.
        assert!(t.due(t0, Some(t0)));
        assert!(!t.due(t0 + s(1), Some(t0 + s(1))));
        assert!(!t.due(t0 + s(59), Some(t0 + s(59))));
        assert!(t.due(t0 + s(60), Some(t0 + s(60))));
        // The screen goes still: one trim 2 s after the last frame, then none.
        let last = t0 + s(70);
        assert!(!t.due(t0 + s(71), Some(last)));
        assert!(t.due(t0 + s(72), Some(last)));
        assert!(!t.due(t0 + s(200), Some(last)));
        // The clock's minute redraw: trimmed after it.
        assert!(t.due(t0 + s(242), Some(t0 + s(240))));
    }
}
