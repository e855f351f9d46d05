//! `cargo run -p system-tests --bin fanout -- --players 10000`
//!
//! Needs the control-server binary: `cargo build -p control-server` first
//! (or CONTROL_SERVER_BIN=path). See `system_tests::fanout` for what it measures.

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    system_tests::fanout::run(system_tests::fanout::Args::parse())
}
