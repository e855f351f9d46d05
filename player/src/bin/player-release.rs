//! `player-release`: the offline half of player updates, on a release
//! manager's machine (never on the control server).
//!
//! ```text
//! player-release keygen --secret update.key --public update-key.pub
//! player-release sign --key update.key --version 1.4.0 target/release/player
//! ```
//!
//! `sign` prints the release as JSON (version, sha256, size, signature), the
//! fields `POST /api/releases` takes with the binary.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "player-release")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Makes a new key pair: the secret seed (mode 0600, refused if the file
    /// exists) and the public key for the image (`KIOSK_UPDATE_KEY`).
    Keygen {
        #[arg(long)]
        secret: PathBuf,
        #[arg(long)]
        public: PathBuf,
    },
    /// Signs a player binary as a version; prints the release as JSON.
    Sign {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        version: String,
        binary: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Keygen { secret, public } => {
            let (seed, public_hex) = player::update::verify::keygen();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&secret)
                .with_context(|| format!("creating {}", secret.display()))?;
            writeln!(f, "# player release signing key: keep offline\n{seed}")?;
            f.sync_all()?;
            std::fs::write(
                &public,
                format!("# player release public key\n{public_hex}\n"),
            )
            .with_context(|| format!("writing {}", public.display()))?;
            eprintln!("wrote {} and {}", secret.display(), public.display());
        }
        Command::Sign {
            key,
            version,
            binary,
        } => {
            let text = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let key = player::update::verify::signing_key(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
            let r = player::update::verify::sign(&key, &version, &binary)?;
            println!(
                "{}",
                serde_json::json!({
                    "version": r.version,
                    "sha256": r.sha256,
                    "size": r.size,
                    "signature": r.signature,
                })
            );
        }
    }
    Ok(())
}
