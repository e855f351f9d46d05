//! The connection to the control server (`/ws/broadcaster`): hello with the token,
//! commands in, acknowledgements, status, chapters and recordings out; reconnects
//! with backoff for as long as the broadcaster runs. Losing the server changes
//! nothing on air: commands simply stop arriving.

use crate::core::Core;
use content::broadcast::{
    self, BROADCAST_PROTOCOL_VERSION, BroadcasterMessage, Hello, ServerCommand,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Keeps a connection to `url` until `shutdown` turns true; then stops the studio,
/// hands the finalized recording to the server if it is there, and returns.
pub async fn run(
    url: String,
    token: String,
    core: Core,
    mut out: mpsc::UnboundedReceiver<BroadcasterMessage>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        if *shutdown.borrow() {
            core.shutdown().await;
            return;
        }
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => {
                backoff = Duration::from_millis(250);
                match connected(ws, &token, &core, &mut out, &mut shutdown).await {
                    Ended::Shutdown => return,
                    Ended::Refused(why) => {
                        tracing::error!("control server refused this broadcaster: {why}");
                        backoff = MAX_BACKOFF;
                    }
                    Ended::Lost(why) => tracing::warn!("control server connection lost: {why}"),
                }
            }
            Err(e) => tracing::debug!("cannot reach control server {url}: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

enum Ended {
    Shutdown,
    Refused(String),
    Lost(String),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, m: &BroadcasterMessage) -> Result<(), String> {
    ws.send(Message::text(broadcast::encode(m)))
        .await
        .map_err(|e| e.to_string())
}

async fn connected(
    mut ws: Ws,
    token: &str,
    core: &Core,
    out: &mut mpsc::UnboundedReceiver<BroadcasterMessage>,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let hello = BroadcasterMessage::Hello(Hello {
        protocol: BROADCAST_PROTOCOL_VERSION,
        broadcaster_version: env!("CARGO_PKG_VERSION").into(),
        token: token.into(),
        session: core.running().await,
    });
    if let Err(e) = send(&mut ws, &hello).await {
        return Ended::Lost(e);
    }
    let interval_s =
        match tokio::time::timeout(Duration::from_secs(10), next_command(&mut ws)).await {
            Ok(Ok(ServerCommand::Welcome {
                status_interval_s, ..
            })) => status_interval_s.clamp(1, 60),
            Ok(Ok(ServerCommand::Refused { reason, message })) => {
                return Ended::Refused(format!("{reason:?}: {message}"));
            }
            Ok(Ok(other)) => return Ended::Lost(format!("expected welcome, got {other:?}")),
            Ok(Err(e)) => return Ended::Lost(e),
            Err(_) => return Ended::Lost("no welcome within 10 s".into()),
        };
    // Events from while the server was away are in the chapter log; recordings are
    // sent again from disk until accepted.
    while out.try_recv().is_ok() {}
    for report in core.unaccepted().await {
        if let Err(e) = send(&mut ws, &BroadcasterMessage::RecordingFinalized(report)).await {
            return Ended::Lost(e);
        }
    }
    let mut status = tokio::time::interval(Duration::from_secs(interval_s.into()));
    loop {
        tokio::select! {
            command = next_command(&mut ws) => {
                let command = match command {
                    Ok(c) => c,
                    Err(e) => return Ended::Lost(e),
                };
                let reply = match &command {
                    ServerCommand::RecordingAccepted { recording_id, .. } => {
                        core.accepted(recording_id.clone());
                        None
                    }
                    ServerCommand::Error { message } => {
                        tracing::warn!("control server says: {message}");
                        None
                    }
                    c => match c.command_id() {
                        Some(id) => Some(match core.command(command.clone()).await {
                            Ok(()) => BroadcasterMessage::Ack { id },
                            Err(reason) => BroadcasterMessage::Rejected { id, reason },
                        }),
                        None => None,
                    },
                };
                if let Some(reply) = reply {
                    if let Err(e) = send(&mut ws, &reply).await {
                        return Ended::Lost(e);
                    }
                    // A state change is reported at once, not at the next interval.
                    if let Some(s) = core.status().await
                        && let Err(e) = send(&mut ws, &BroadcasterMessage::Status(s)).await
                    {
                        return Ended::Lost(e);
                    }
                }
            }
            Some(m) = out.recv() => {
                if let Err(e) = send(&mut ws, &m).await {
                    return Ended::Lost(e);
                }
            }
            _ = status.tick() => {
                if let Some(s) = core.status().await
                    && let Err(e) = send(&mut ws, &BroadcasterMessage::Status(s)).await
                {
                    return Ended::Lost(e);
                }
            }
            _ = shutdown.changed() => {
                if let Some(report) = core.shutdown().await {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(3),
                        send(&mut ws, &BroadcasterMessage::RecordingFinalized(report)),
                    )
                    .await;
                }
                let _ = ws.close(None).await;
                return Ended::Shutdown;
            }
        }
    }
}

/// The next command; pings and pongs are handled by tungstenite, bad frames are
/// logged and skipped (the connection stays usable).
async fn next_command(ws: &mut Ws) -> Result<ServerCommand, String> {
    loop {
        match ws.next().await {
            None => return Err("closed".into()),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(Message::Text(t))) => match broadcast::decode::<ServerCommand>(&t) {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!("bad message from control server: {e}"),
            },
            Some(Ok(Message::Close(_))) => return Err("closed by server".into()),
            Some(Ok(_)) => {}
        }
    }
}
