//! `kiosk-config` on its own (tests, development); the image links the
//! name to `player` instead.

#[path = "../kiosk_cli.rs"]
mod kiosk_cli;

fn main() -> anyhow::Result<()> {
    kiosk_cli::main()
}
