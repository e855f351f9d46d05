//! `kiosk-config`: applies the kiosk's first-boot file at every boot (the image's
//! `kiosk-config.service`, before the player): validates `kiosk.conf` and
//! writes what follows from it under the run directory, or, when it is
//! refused, `config-error` with the reason, which the player shows on
//! screen (`--setup-problem-file`). A token in the file is stored in the
//! player's data directory unless one is there (an adopted display keeps
//! its own). See `player::kiosk` for the format.
//!
//! Shared by the `kiosk-config` binary and the `player` binary called by
//! that name (the image ships one program).

use anyhow::Context as _;
use clap::Parser;
use player::kiosk::{Config, MAX_BYTES};
use std::io::Read as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(name = "kiosk-config")]
struct Cli {
    /// The first-boot file.
    #[arg(long, default_value = "/boot/firmware/kiosk.conf")]
    config: PathBuf,
    /// Where the derived files go (a tmpfs: the root is read-only).
    #[arg(long, default_value = "/run/kiosk")]
    out: PathBuf,
    /// The player's data directory (for a provisioned token).
    #[arg(long, default_value = "/data/player")]
    data_dir: PathBuf,
}

/// Every file this writes: removed first, so a rerun leaves no stale one.
const WRITTEN: [&str; 7] = [
    "player.env",
    "localtime",
    "timezone",
    "wpa_supplicant.conf",
    "authorized_keys",
    "config-error",
    "config-ok",
];

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;
    for name in WRITTEN {
        match std::fs::remove_file(cli.out.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {name}"));
            }
            _ => {}
        }
    }
    let parsed =
        read(&cli.config).and_then(|bytes| Config::parse(&bytes).map_err(|e| e.to_string()));
    match parsed {
        Ok(config) => {
            for (name, text) in config.files() {
                write(&cli.out, name, &text)?;
            }
            // The image's /etc/localtime points here.
            let zone = Path::new("/usr/share/zoneinfo").join(&config.timezone);
            std::os::unix::fs::symlink(&zone, cli.out.join("localtime"))
                .context("linking localtime")?;
            if let Some(token) = &config.token {
                let store = player::store::Store::open(&cli.data_dir)?;
                if store.token()?.is_none() {
                    store.save_token(token)?;
                    eprintln!("kiosk-config: stored the provisioned display token");
                }
            }
            write(&cli.out, "config-ok", "")?;
            eprintln!("kiosk-config: {} applied", cli.config.display());
            Ok(())
        }
        Err(reason) => {
            // The player still starts (with its defaults) to show this.
            write(&cli.out, "config-error", &format!("{reason}\n"))?;
            anyhow::bail!("{reason}")
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{} is missing: copy kiosk.conf.example there and fill it in",
            path.display()
        ),
        _ => format!("cannot read {}: {e}", path.display()),
    })?;
    let mut bytes = Vec::new();
    // One byte over the limit is enough for the parser to refuse it.
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

/// Written whole or not at all: a temporary file, then a rename.
fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(name)).with_context(|| format!("renaming {name}"))?;
    Ok(())
}
