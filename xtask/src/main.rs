//! The project's two commands.
//!
//! - `cargo xtask demo`: install what is missing (Debian packages), build, and run
//!   the system with the Kaarst demo data on SQLite.
//! - `cargo xtask test`: install what is missing, then formatting, clippy with
//!   warnings denied, and every test (cargo-nextest when installed).
//!
//! Everything comes from Debian's packages and crates.io; nothing is downloaded
//! from anywhere else.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian 12 packages the build and the tests need beyond a Rust toolchain.
const DEBIAN_PACKAGES: &[&str] = &["build-essential", "pkg-config"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(),
        Some("deps") => install_packages(),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|deps>\n  demo  build and run the system with demo data\n  test  run formatting, lints and every test\n  deps  install the Debian packages the build needs"
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

fn missing_packages() -> Vec<&'static str> {
    DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect()
}

fn install_packages() -> Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "not a Debian system: make sure these are installed: {}",
            DEBIAN_PACKAGES.join(" ")
        );
        return Ok(());
    }
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut c = if is_root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        c
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn demo(extra: &[String]) -> Result<()> {
    install_packages()?;
    run(cargo().args(["build", "--workspace", "--bins"]))?;
    let data = Path::new(".demo");
    std::fs::create_dir_all(data)?;
    eprintln!(
        "starting the control server with the Kaarst demo data in {}",
        data.display()
    );
    eprintln!(
        "log in as 'admin' with the password printed below (first start only) or CONTROL_ADMIN_PASSWORD"
    );
    run(Command::new("target/debug/control-server")
        .arg("demo")
        .arg("--data-dir")
        .arg(data)
        .args(extra))
}

fn test() -> Result<()> {
    install_packages()?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // System tests start the real binaries, so build them first.
    run(cargo().args(["build", "--workspace", "--bins"]))?;
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
