//! `cargo run -p system-tests --bin alert-path`
//!
//! Needs the control-server and player binaries: `cargo build -p control-server -p player`
//! first (or CONTROL_SERVER_BIN / PLAYER_BIN). See `system_tests::alert_path`.

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    system_tests::alert_path::run(system_tests::alert_path::Args::parse())
}
