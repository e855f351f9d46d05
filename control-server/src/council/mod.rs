//! Council sessions: meetings with agenda and speakers, their import from
//! OParl, the broadcast (staff commands to the broadcaster over `/ws/broadcaster`,
//! its status and recordings), the public live state, and the archive.
//!
//! - [`meetings`]: the model and staff CRUD (viewer reads, editor writes).
//! - [`oparl`]: import from an OParl 1.1 endpoint (all or nothing, idempotent).
//! - [`commands`]: start/stop (publisher), items, speaker, camera, closed part (editor).
//! - [`link`]: the broadcaster WebSocket and broadcaster tokens.
//! - [`live`]: the public live state and the live HLS directory.
//! - [`archive`]: recordings, chapters, search, VOD serving, settings.
//! - [`retention`]: the periodic deletion the town's policy asks for.
//! - [`files`]: safe paths, Range requests, media types and caching.
//!
//! Invariant: nothing of a closed part (a non-public item, the manual closed
//! part, a non-public meeting) reaches a public answer except the words
//! "Nichtöffentlicher Teil": not its title, number, speaker or search hits.

pub mod archive;
pub mod commands;
pub mod demo;
pub mod files;
pub mod link;
pub mod live;
pub mod meetings;
pub mod oparl;
pub mod retention;

use crate::state::AppState;
use axum::Router;
use std::path::{Path, PathBuf};

/// Command-line settings of the council service.
#[derive(Debug, Clone, clap::Args)]
pub struct CouncilSettings {
    /// Where finalized recordings live (one directory each), shared with the
    /// broadcaster; default `<data-dir>/council/archive`.
    #[arg(
        long = "council-archive-dir",
        env = "CONTROL_COUNCIL_ARCHIVE_DIR",
        global = true
    )]
    pub archive_dir: Option<PathBuf>,
    /// Where the broadcaster writes the live HLS output; default `<data-dir>/council/live`.
    #[arg(
        long = "council-live-dir",
        env = "CONTROL_COUNCIL_LIVE_DIR",
        global = true
    )]
    pub live_dir: Option<PathBuf>,
    /// The live stream's URL as viewers reach it (e.g. on a CDN); default
    /// `/council/live/index.m3u8` on this server.
    #[arg(
        long = "council-live-url",
        env = "CONTROL_COUNCIL_LIVE_URL",
        global = true
    )]
    pub live_url: Option<String>,
    /// OParl 1.1 System URL to import meetings from; no import without it.
    #[arg(
        long = "council-oparl-url",
        env = "CONTROL_COUNCIL_OPARL_URL",
        global = true
    )]
    pub oparl_url: Option<String>,
    /// Only import this OParl Body (its id URL); default: every body of the system.
    #[arg(
        long = "council-oparl-body",
        env = "CONTROL_COUNCIL_OPARL_BODY",
        global = true
    )]
    pub oparl_body: Option<String>,
    /// Seconds between OParl imports; 0 imports only on request.
    #[arg(
        long = "council-oparl-poll-s",
        env = "CONTROL_COUNCIL_OPARL_POLL_S",
        default_value_t = 0,
        global = true
    )]
    pub oparl_poll_s: u64,
    /// Largest OParl page accepted, in KiB.
    #[arg(
        long = "council-oparl-max-page-kb",
        env = "CONTROL_COUNCIL_OPARL_MAX_PAGE_KB",
        default_value_t = 8192,
        global = true
    )]
    pub oparl_max_page_kb: u64,
    /// Most pages one OParl list may have (a guard against endless `next` chains).
    #[arg(
        long = "council-oparl-max-pages",
        env = "CONTROL_COUNCIL_OPARL_MAX_PAGES",
        default_value_t = 500,
        global = true
    )]
    pub oparl_max_pages: u32,
    /// Seconds between runs of the archive retention policy.
    #[arg(
        long = "council-retention-interval-s",
        env = "CONTROL_COUNCIL_RETENTION_INTERVAL_S",
        default_value_t = 3600,
        global = true
    )]
    pub retention_interval_s: u64,
    /// How often a broadcaster reports its status when nothing changes, in seconds.
    #[arg(
        long = "council-status-interval-s",
        env = "CONTROL_COUNCIL_STATUS_INTERVAL_S",
        default_value_t = 5,
        global = true
    )]
    pub status_interval_s: u32,
}

impl Default for CouncilSettings {
    fn default() -> Self {
        CouncilSettings {
            archive_dir: None,
            live_dir: None,
            live_url: None,
            oparl_url: None,
            oparl_body: None,
            oparl_poll_s: 0,
            oparl_max_page_kb: 8192,
            oparl_max_pages: 500,
            retention_interval_s: 3600,
            status_interval_s: 5,
        }
    }
}

impl CouncilSettings {
    pub fn archive_dir(&self, data_dir: &Path) -> PathBuf {
        self.archive_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("council").join("archive"))
    }
    pub fn live_dir(&self, data_dir: &Path) -> PathBuf {
        self.live_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("council").join("live"))
    }
    pub fn hls_url(&self) -> String {
        self.live_url
            .clone()
            .unwrap_or_else(|| "/council/live/index.m3u8".into())
    }
}

/// The council service's runtime state (the connected broadcasters).
#[derive(Default)]
pub struct Council {
    pub links: link::Links,
}

/// Creates the archive and live directories.
pub fn prepare_dirs(config: &crate::config::Config) -> std::io::Result<()> {
    std::fs::create_dir_all(config.council.archive_dir(&config.data_dir))?;
    std::fs::create_dir_all(config.council.live_dir(&config.data_dir))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(meetings::routes())
        .merge(oparl::routes())
        .merge(commands::routes())
        .merge(link::routes())
        .merge(live::routes())
        .merge(archive::routes())
}

/// The background tasks: the OParl poll (when configured) and retention.
pub fn background(state: &AppState) -> [tokio::task::JoinHandle<()>; 2] {
    [
        tokio::spawn(oparl::poll_loop(state.clone())),
        tokio::spawn(retention::run(state.clone())),
    ]
}
