//! The council-TV broadcaster: inputs from a config file, camera cut and
//! picture-in-picture, live overlays, the closed-part slate, H.264/AAC into live
//! CMAF HLS and a crash-safe archive, finalized into a VOD package; steered by the
//! control server over WebSocket ([`content::broadcast`]) and, on the machine
//! itself, through a local socket (`broadcaster ctl`).
//!
//! - [`config`]: the TOML file.
//! - [`input`]: one supervised pipeline per input, feeding inter sinks.
//! - [`program`]: the session pipeline (cut, overlays, slate, encoders, sinks).
//! - [`encoder`]: hardware encoder probing with x264 fallback.
//! - [`studio`]: the session state machine; [`core`]: its thread.
//! - [`archive`]: the archive branches, isolated from the live stream (disk full).
//! - [`restream`]: the RTMP(S) restream with reconnect.
//! - [`chapters`], [`recording`], [`vod`]: the archive, its sidecar log, finalizing.
//! - [`control`]: the WebSocket client; [`local`]: the local control socket.
//!
//! Invariant: only [`studio`] (on the [`core`] thread) touches the program pipeline;
//! the network side talks to it through channels, so it never blocks the stream.

pub mod archive;
pub mod chapters;
pub mod config;
pub mod control;
pub mod core;
pub mod encoder;
pub mod input;
pub mod local;
pub mod program;
pub mod recording;
pub mod restream;
pub mod studio;
pub mod vod;
pub mod watchdog;

use content::broadcast::RecordingFinalized;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Studio(#[from] studio::StudioError),
    #[error(transparent)]
    Local(#[from] local::LocalError),
}

/// Runs the broadcaster until `shutdown` becomes true: finalizes what a crash left,
/// connects to the control server and listens on the local socket (each when
/// configured) and carries out their commands; at shutdown the running session is
/// stopped and its recording finalized.
pub async fn run(
    config: config::Config,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let server = config.server.clone();
    // Bound before the studio starts, so a bad socket path fails the start at once.
    let socket = config
        .control
        .socket
        .as_deref()
        .map(local::Socket::bind)
        .transpose()?;
    let studio = tokio::task::block_in_place(|| studio::Studio::new(config))?;
    tracing::info!("encoder: {}", studio.encoder().factory());
    let (core, out, thread) = core::Core::spawn(studio);
    let local = socket.map(|s| tokio::spawn(s.serve(core.clone(), shutdown.clone())));
    match server {
        Some(s) => control::run(s.url, s.token, core, out, shutdown).await,
        None => {
            let _ = shutdown.wait_for(|s| *s).await;
            let _: Option<RecordingFinalized> = core.shutdown().await;
        }
    }
    if let Some(local) = local {
        let _ = local.await;
    }
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    Ok(())
}
