//! The kiosk player. Its rendering, cache and network land with the player issue;
//! for now it parses its command line so the workspace and the image recipe can
//! depend on its interface.

use clap::Parser;

/// Plays the town's schedule on a display, from its local cache when offline.
#[derive(Debug, Parser)]
#[command(name = "player", version)]
struct Cli {
    /// Control server base URL.
    #[arg(long, env = "PLAYER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Directory for the cache, the token and the local database.
    #[arg(long, env = "PLAYER_DATA_DIR", default_value = "player-data")]
    data_dir: std::path::PathBuf,
    /// Render offscreen (no window, software Vulkan).
    #[arg(long)]
    headless: bool,
    /// With --headless: write one frame to this PNG and exit.
    #[arg(long)]
    screenshot: Option<std::path::PathBuf>,
    /// With --screenshot: the instant to render (RFC 3339).
    #[arg(long)]
    at: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::bail!(
        "the player is not implemented yet (protocol v{}); would connect to {} with data in {}",
        content::protocol::PROTOCOL_VERSION,
        cli.server,
        cli.data_dir.display()
    )
}
