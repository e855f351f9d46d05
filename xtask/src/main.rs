//! The project's two commands, reached through `./x` (which first installs the
//! Debian packages in `debian-packages.txt`, since cargo cannot even build this
//! xtask on a machine without a C linker).
//!
//! - `demo`: build and run the whole system (control server, a player, a
//!   broadcaster on test sources) with the Kaarst demo data on SQLite.
//! - `test`: formatting, clippy with warnings denied, and every test
//!   (cargo-nextest when installed, `cargo test` otherwise).
//!
//! Everything comes from Debian's packages and crates.io; nothing is downloaded
//! from anywhere else.

mod demo;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(),
        _ => {
            eprintln!(
                "usage: ./x <demo|test>\n  demo  build and run the system with demo data\n  test  run formatting, lints and every test"
            );
            std::process::exit(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn demo(extra: &[String]) -> Result<()> {
    // `--tests` too: the same feature set as the test build, so the demo and
    // `./x test` share one build instead of compiling Bevy twice.
    run(cargo().args(["build", "--workspace", "--bins", "--tests"]))?;
    demo::run(extra)
}

fn test() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // No separate `cargo build --bins`: the test build compiles every binary the
    // integration tests start (control-server, player, broadcaster; the system
    // tests start the first and the last) with the test build's feature set; a
    // separate bins build resolves features differently and would compile Bevy
    // a second time.
    let nextest = Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if nextest {
        // The workspace has no doctests (examples live in tests), so nextest runs everything.
        run(cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]))
    } else {
        run(cargo().args(["test", "--workspace", "--no-fail-fast"]))
    }
}
