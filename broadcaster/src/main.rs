//! The council-TV broadcaster binary: reads the config, runs until SIGINT/SIGTERM,
//! then finalizes the recording. Everything else lives in the library.

use anyhow::Context;
use clap::Parser;

/// Streams council sessions live (HLS) and archives them crash-safely.
#[derive(Debug, Parser)]
#[command(name = "broadcaster", version)]
struct Cli {
    /// Configuration file (TOML): inputs, output dirs, encoder, control server.
    #[arg(long, env = "BROADCASTER_CONFIG")]
    config: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = broadcaster::config::Config::load(&cli.config)?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: finalizing the recording");
        let _ = tx.send(true);
    });
    broadcaster::run(config, rx)
        .await
        .context("broadcaster failed")
}
