//! Links the kiosk binary as a fixed-address (non-PIE) executable.
//!
//! Why: the player is one large binary (Bevy, wgpu, GStreamer bindings). As a
//! PIE, the dynamic loader reads about 10 MB of relocations at every start and
//! writes the 5 MB of relocated read-only data into private pages: about
//! 15 MB of the player's memory on a board with 2-4 GB, for address-space
//! randomisation of a binary that only ever runs as the kiosk's one app.
//! Measured with `player-bench player-vs-browser` (BENCHMARKS.md).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=player=-no-pie");
    }
}
