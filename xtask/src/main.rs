//! The project's two commands, reached through `./x` (which first installs the
//! Debian packages in `debian-packages.txt`, since cargo cannot even build this
//! xtask on a machine without a C linker).
//!
//! - `demo`: build and run the whole system (control server, a player, a
//!   broadcaster on test sources) with the Kaarst demo data on SQLite.
//! - `test`: formatting, then every test (cargo-nextest when installed,
//!   `cargo test` otherwise) in a build that clippy lints with warnings denied.
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
    // Clippy lints the workspace's crates while the test build compiles them
    // (clippy-driver as cargo's wrapper for workspace members, as `cargo
    // clippy` itself sets it), instead of a `cargo clippy` pass of its own:
    // that pass type-checks every dependency a second time, 10 of the 49
    // minutes of a clean run on a slow 2-core machine. The test build covers
    // the same targets as `--all-targets` (libraries, binaries, tests; the
    // workspace has no examples or benches). No separate `cargo build --bins`
    // either: the test build compiles every binary the integration tests
    // start with the test build's feature set; a separate bins build resolves
    // features differently and would compile Bevy a second time.
    let linted = |mut cmd: Command| {
        cmd.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver())
            // `cargo clippy -- -D warnings` hands its arguments over this way.
            .env(
                "CLIPPY_ARGS",
                "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
            );
        cmd
    };
    let nextest = Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if nextest {
        // The workspace has no doctests (examples live in tests), so nextest runs everything.
        run(linted(cargo()).args(["nextest", "run", "--workspace", "--no-fail-fast"]))
    } else {
        run(linted(cargo()).args(["test", "--workspace", "--no-fail-fast"]))
    }
}

/// The toolchain's clippy-driver: beside the cargo that runs this xtask
/// (rustup's toolchain folder), else whichever is on `PATH`.
fn clippy_driver() -> PathBuf {
    std::env::var_os("CARGO")
        .map(|cargo| Path::new(&cargo).with_file_name("clippy-driver"))
        .filter(|driver| driver.is_file())
        .unwrap_or_else(|| "clippy-driver".into())
}
