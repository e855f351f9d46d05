//! The council-TV broadcaster binary: reads the config, runs until SIGINT/SIGTERM,
//! then finalizes the recording. `broadcaster ctl …` steers a running one through
//! its local control socket. Everything else lives in the library.

use anyhow::{Context, bail};
use broadcaster::local::{self, Request};
use clap::{CommandFactory, Parser, Subcommand};
use content::broadcast::{ServerCommand, Session, Speaker};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Streams council sessions live (HLS) and archives them crash-safely.
/// Without a subcommand it runs the broadcaster.
#[derive(Debug, Parser)]
#[command(name = "broadcaster", version)]
struct Cli {
    /// Configuration file (TOML): inputs, output dirs, encoder, control server.
    #[arg(long, env = "BROADCASTER_CONFIG")]
    config: Option<PathBuf>,
    /// Listen on this local control socket (overrides `[control] socket`).
    #[arg(long)]
    control_socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Steer a running broadcaster through its local control socket; prints the
    /// reply as JSON and fails when the command is refused.
    Ctl {
        #[arg(
            long,
            env = "BROADCASTER_CONTROL_SOCKET",
            default_value = "/run/broadcaster/control.sock"
        )]
        socket: PathBuf,
        /// How long to wait for the reply (a stop finalizes the recording first).
        #[arg(long, default_value_t = 300)]
        timeout_s: u64,
        #[command(subcommand)]
        action: Action,
    },
}

#[derive(Debug, Subcommand)]
enum Action {
    /// The current status.
    Status,
    /// Go live: FILE is the session as JSON (meeting_id, title, agenda, …), `-` for stdin.
    Start { file: PathBuf },
    /// The next agenda item.
    Next,
    /// Make the agenda item with this number current.
    Goto { number: String },
    /// Show a speaker's lower third; without NAME take it down.
    Speaker {
        name: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        party: Option<String>,
    },
    /// Cut to the camera with this config name.
    Camera { name: String },
    /// Show the picture-in-picture input with this config name; without NAME hide it.
    Pip { name: Option<String> },
    /// Begin (on) or end (off) a closed part regardless of the agenda.
    Closed { state: OnOff },
    /// End the session and finalize its recording.
    Stop,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Ctl {
            socket,
            timeout_s,
            action,
        }) => ctl(&socket, Duration::from_secs(timeout_s), action),
        None => {
            let Some(path) = cli.config else {
                Cli::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--config FILE is required to run the broadcaster",
                    )
                    .exit()
            };
            let mut config = broadcaster::config::Config::load(&path)?;
            if let Some(socket) = cli.control_socket {
                config.control.socket = Some(socket);
            }
            tokio::runtime::Runtime::new()
                .context("starting the tokio runtime")?
                .block_on(run(config))
        }
    }
}

async fn run(config: broadcaster::config::Config) -> anyhow::Result<()> {
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

fn ctl(socket: &Path, timeout: Duration, action: Action) -> anyhow::Result<()> {
    // The id only pairs a reply with its request; one request per connection.
    let id = 1;
    let command = match action {
        Action::Status => None,
        Action::Start { file } => {
            let text = if file == Path::new("-") {
                std::io::read_to_string(std::io::stdin()).context("reading the session")?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let session: Session = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a session", file.display()))?;
            Some(ServerCommand::StartSession { id, session })
        }
        Action::Next => Some(ServerCommand::NextItem { id }),
        Action::Goto { number } => Some(ServerCommand::GoToItem { id, number }),
        Action::Speaker { name, role, party } => Some(ServerCommand::Speaker {
            id,
            speaker: name.map(|name| Speaker { name, role, party }),
        }),
        Action::Camera { name } => Some(ServerCommand::Camera { id, name }),
        Action::Pip { name } => Some(ServerCommand::PictureInPicture { id, name }),
        Action::Closed { state } => Some(ServerCommand::ClosedPart {
            id,
            closed: matches!(state, OnOff::On),
        }),
        Action::Stop => Some(ServerCommand::Stop { id }),
    };
    let request = command.map_or(Request::Status, Request::Command);
    let reply = local::ask(socket, &request, timeout)?;
    println!("{reply}");
    match reply["type"].as_str() {
        Some("rejected") => bail!("refused: {}", reply["reason"].as_str().unwrap_or("")),
        Some("error") => bail!("error: {}", reply["message"].as_str().unwrap_or("")),
        _ => Ok(()),
    }
}
