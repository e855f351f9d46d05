//! One player connection, from hello to goodbye.

use super::{AckKind, Hub, Pairing, Receipt};
use crate::auth::{DisplayTokenError, display_for_token};
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use chrono::Utc;
use content::DisplayId;
use content::protocol::{
    Hello, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, PlayerMessage, ProtocolError, RefusalReason,
    ServerMessage, decode,
};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Undecodable messages tolerated before the server hangs up.
const MAX_BAD_MESSAGES: u32 = 20;
const PAIRING_CODE_TTL_MIN: i64 = 15;
/// Initial read buffer per connection. Players send small messages (acks,
/// heartbeats); the buffer grows for a large frame. tungstenite's default of
/// 128 KiB is zero-filled on every read, which cost ~130 KiB of RSS per
/// connection (1.3 GiB at 10,000 displays) and a 128 KiB memset per ack.
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub async fn ws_player(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            if let Err(e) = run(state, socket).await {
                tracing::debug!("player connection ended: {e}");
            }
        })
}

async fn run(state: AppState, mut socket: WebSocket) -> Result<(), axum::Error> {
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => decode::<PlayerMessage>(&t),
        Ok(Some(Ok(_))) => Err(ProtocolError::NotJson("expected a text frame".into())),
        _ => return Ok(()),
    };
    let hello = match hello {
        Ok(PlayerMessage::Hello(h)) => h,
        Ok(_) => {
            return refuse(
                socket,
                RefusalReason::NoHello,
                "the first message must be a hello".into(),
            )
            .await;
        }
        Err(e) => return refuse(socket, RefusalReason::NoHello, e.to_string()).await,
    };
    if let Err(e) = hello.check_version() {
        return refuse(socket, RefusalReason::UnsupportedProtocol, e.to_string()).await;
    }
    let Some(token) = hello.token.clone() else {
        return pair(state, socket, hello).await;
    };
    match display_for_token(&state, &token).await {
        Ok(display_id) => connected(state, socket, display_id, hello).await,
        Err(DisplayTokenError::Revoked) => {
            refuse(
                socket,
                RefusalReason::Revoked,
                "this display's token was revoked; pair it again".into(),
            )
            .await
        }
        Err(DisplayTokenError::Unknown) => {
            refuse(
                socket,
                RefusalReason::UnknownToken,
                "unknown display token; pair the display again".into(),
            )
            .await
        }
    }
}

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> Result<(), axum::Error> {
    socket.send(Message::Text(Hub::encode(msg))).await
}

async fn refuse(
    mut socket: WebSocket,
    reason: RefusalReason,
    message: String,
) -> Result<(), axum::Error> {
    send(
        &mut socket,
        &ServerMessage::Refused {
            reason,
            message: message.clone(),
        },
    )
    .await?;
    let frame = CloseFrame {
        code: 4001,
        reason: Utf8Bytes::from(truncate(&message, 120)),
    };
    socket.send(Message::Close(Some(frame))).await
}

fn truncate(s: &str, max: usize) -> String {
    s.char_indices()
        .take_while(|(i, _)| *i < max)
        .map(|(_, c)| c)
        .collect()
}

/// An unpaired player: show it a code until staff adopt it.
async fn pair(state: AppState, mut socket: WebSocket, hello: Hello) -> Result<(), axum::Error> {
    let hub = &state.hub;
    let device_id = hello.device_id.unwrap_or_default();
    let (tx, rx) = oneshot::channel();
    let (code, expires_at) = {
        let mut pairing = hub.inner.pairing.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        pairing.retain(|_, p| p.expires_at > now);
        // A reconnecting device keeps its code, so the one staff copied stays valid.
        let existing = pairing
            .iter()
            .find(|(_, p)| !device_id.is_empty() && p.device_id == device_id)
            .map(|(c, _)| c.clone());
        let code = existing.unwrap_or_else(|| {
            loop {
                let c = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
                if !pairing.contains_key(&c) {
                    break c;
                }
            }
        });
        let expires_at = now + chrono::Duration::minutes(PAIRING_CODE_TTL_MIN);
        pairing.insert(
            code.clone(),
            Pairing {
                device_id,
                expires_at,
                adopt: Some(tx),
            },
        );
        (code, expires_at)
    };
    send(
        &mut socket,
        &ServerMessage::PairingCode {
            code: code.clone(),
            expires_at,
        },
    )
    .await?;
    let shutdown = hub.shutting_down();
    let result = tokio::select! {
        adopted = rx => match adopted {
            Ok((display_id, token)) => send(&mut socket, &ServerMessage::Adopted { display_id, token }).await,
            Err(_) => Ok(()),
        },
        _ = drain(&mut socket) => Ok(()),
        _ = tokio::time::sleep(Duration::from_secs(PAIRING_CODE_TTL_MIN as u64 * 60)) => Ok(()),
        _ = shutdown => Ok(()),
    };
    hub.inner
        .pairing
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|c, p| *c != code || p.adopt.is_some());
    let _ = socket.send(Message::Close(None)).await;
    result
}

/// Reads until the peer closes; an unpaired player has nothing to say.
async fn drain(socket: &mut WebSocket) {
    while let Some(Ok(m)) = socket.recv().await {
        if matches!(m, Message::Close(_)) {
            break;
        }
    }
}

/// An authenticated player: bring it up to date, then serve it.
async fn connected(
    state: AppState,
    socket: WebSocket,
    display_id: DisplayId,
    hello: Hello,
) -> Result<(), axum::Error> {
    let hub = state.hub.clone();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(super::QUEUE_DEPTH);
    let (conn_id, kick) = hub.register(display_id, tx.clone(), hello.player_version.clone());
    hub.receipt(Receipt::Seen {
        display: display_id,
        at: Utc::now(),
        player_version: hello.player_version.clone(),
        health: None,
    });
    tracing::info!(display = display_id.0, version = %hello.player_version, "player connected");

    let (mut sink, mut stream) = socket.split();
    let welcome = ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        display_id,
        server_time: Utc::now(),
        heartbeat_interval_s: state.config.heartbeat_s,
    };
    let mut first = vec![Hub::encode(&welcome)];
    first.extend(resync(&state, display_id, hello.manifest_version).await);

    let shutdown = hub.shutting_down();
    let writer = tokio::spawn(async move {
        tokio::pin!(shutdown);
        for m in first {
            sink.send(Message::Text(m)).await?;
        }
        loop {
            // Biased: queued messages (a final "refused", say) go out before a kick.
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => sink.send(Message::Text(m)).await?,
                    None => break,
                },
                _ = &mut shutdown => break,
                _ = kick.notified() => break,
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        Ok::<_, axum::Error>(())
    });

    let idle_limit = Duration::from_secs(u64::from(state.config.heartbeat_s) * 3 + 5);
    let mut bad = 0u32;
    loop {
        let frame = match tokio::time::timeout(idle_limit, stream.next()).await {
            Ok(Some(Ok(f))) => f,
            Ok(_) => break,
            Err(_) => {
                tracing::info!(
                    display = display_id.0,
                    "player silent for {idle_limit:?}; closing"
                );
                break;
            }
        };
        let text = match frame {
            Message::Text(t) => t,
            Message::Close(_) => break,
            Message::Binary(_) => {
                bad += 1;
                reply_error(&tx, "binary frames are not part of the protocol");
                continue;
            }
            _ => continue,
        };
        match decode::<PlayerMessage>(&text) {
            Ok(m) => handle(&state, display_id, conn_id, &tx, m).await,
            Err(e) => {
                bad += 1;
                tracing::debug!(display = display_id.0, "bad message: {e}");
                reply_error(&tx, &e.to_string());
            }
        }
        if bad >= MAX_BAD_MESSAGES {
            tracing::warn!(display = display_id.0, "too many bad messages; closing");
            break;
        }
    }
    hub.unregister(display_id, conn_id);
    drop(tx);
    writer.abort();
    hub.receipt(Receipt::Seen {
        display: display_id,
        at: Utc::now(),
        player_version: hello.player_version,
        health: None,
    });
    tracing::info!(display = display_id.0, "player disconnected");
    Ok(())
}

fn reply_error(tx: &mpsc::Sender<Utf8Bytes>, message: &str) {
    let _ = tx.try_send(Hub::encode(&ServerMessage::Error {
        message: message.to_owned(),
    }));
}

async fn handle(
    state: &AppState,
    display_id: DisplayId,
    conn_id: u64,
    tx: &mpsc::Sender<Utf8Bytes>,
    m: PlayerMessage,
) {
    let hub = &state.hub;
    match m {
        PlayerMessage::Hello(_) => reply_error(tx, "already said hello"),
        PlayerMessage::Heartbeat(health) => hub.heartbeat(display_id, conn_id, health),
        PlayerMessage::Ack { id } => match hub.take_ack(id) {
            Some(AckKind::Alert { alert_id }) => hub.receipt(Receipt::AlertReceived {
                alert_id,
                display: display_id,
                at: Utc::now(),
            }),
            Some(AckKind::Manifest { version }) => hub.receipt(Receipt::ManifestAcked {
                display: display_id,
                version,
            }),
            Some(AckKind::Other) | None => {}
        },
        PlayerMessage::AlertShown { alert_id, at } => hub.receipt(Receipt::AlertShown {
            alert_id,
            display: display_id,
            at: at.min(Utc::now()),
        }),
        PlayerMessage::ProofOfPlay { batch, records } => {
            match crate::api::player::store_plays(state, display_id, records).await {
                Ok(()) => {
                    let _ = tx.try_send(Hub::encode(&ServerMessage::PlaysAccepted { batch }));
                }
                Err(e) => reply_error(tx, &format!("proof of play batch {batch} not stored: {e}")),
            }
        }
    }
}

/// What a (re)connecting player must hear: a newer manifest, active alerts.
async fn resync(
    state: &AppState,
    display_id: DisplayId,
    has_version: Option<u64>,
) -> Vec<Utf8Bytes> {
    let mut out = Vec::new();
    match crate::manifests::current_version(state, display_id).await {
        Ok(version) if has_version.is_none_or(|v| v < version) => {
            let id = state.hub.message_id(AckKind::Manifest { version });
            out.push(Hub::encode(&ServerMessage::ManifestUpdate { id, version }));
        }
        Ok(_) => {}
        Err(e) => tracing::error!(display = display_id.0, "cannot read manifest version: {e}"),
    }
    match crate::api::alerts::active_for(state, display_id).await {
        Ok(alerts) => {
            for alert in alerts {
                let id = state.hub.message_id(AckKind::Alert {
                    alert_id: alert.id.clone(),
                });
                out.push(Hub::encode(&ServerMessage::AlertStart { id, alert }));
            }
        }
        Err(e) => tracing::error!(display = display_id.0, "cannot read active alerts: {e}"),
    }
    out
}
