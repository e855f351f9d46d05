//! The council-TV broadcaster. Its GStreamer pipeline lands with the broadcaster
//! issue; for now it parses its command line.

use clap::Parser;

/// Streams council sessions live (HLS) and archives them crash-safely.
#[derive(Debug, Parser)]
#[command(name = "broadcaster", version)]
struct Cli {
    /// Control server base URL.
    #[arg(
        long,
        env = "BROADCASTER_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// Input configuration (cameras, audio), TOML.
    #[arg(long, env = "BROADCASTER_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Where HLS segments and the archive are written.
    #[arg(long, env = "BROADCASTER_OUTPUT", default_value = "broadcast")]
    output: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::bail!(
        "the broadcaster is not implemented yet; would stream to {} for {}",
        cli.output.display(),
        cli.server
    )
}
