//! The broadcaster connection (`/ws/broadcaster`, protocol `content::broadcast`)
//! and the broadcaster tokens staff issue for it.
//!
//! ```text
//!  staff REST ──commands::send──► Links[b].tx (bounded) ──► writer ──► socket
//!  socket ──► reader: hello, ack/rejected, status (stored), chapter (live state),
//!             recording_finalized (archive::register, then recording_accepted)
//! ```
//!
//! A broadcaster authenticates with the token in its hello (hash stored, like
//! display tokens). A second connection with the same token replaces the first
//! (newest wins): after a network cut the old socket may look alive for a while,
//! and the broadcaster must be able to come back at once.

use super::archive::{self, ChapterIn, NewRecording};
use super::meetings;
use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use content::broadcast::{
    BroadcastRefusal, BroadcasterMessage, ChapterKind, Hello, RecordingFinalized, ServerCommand,
    decode, encode,
};
use content::protocol::{MAX_MESSAGE_BYTES, MessageId};
use futures_util::{SinkExt as _, StreamExt as _};
use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ws/broadcaster", get(ws_broadcaster))
        .route("/api/council/broadcasters", get(list).post(create))
        .route("/api/council/broadcasters/{id}", delete(revoke))
}

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
const QUEUE_DEPTH: usize = 64;
/// Commands remembered per broadcaster, with their outcome, for the API.
const RECENT: usize = 20;
const MAX_BAD_MESSAGES: u32 = 20;

/// The connected broadcasters; part of [`super::Council`].
#[derive(Default)]
pub struct Links {
    links: Mutex<HashMap<i64, Link>>,
    next_conn: AtomicU64,
    next_id: AtomicU64,
}

struct Link {
    conn: u64,
    tx: mpsc::Sender<String>,
    kick: Arc<Notify>,
    since: DateTime<Utc>,
    version: String,
    recent: VecDeque<CommandRecord>,
}

/// A command sent to a broadcaster and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRecord {
    pub id: MessageId,
    pub command: String,
    pub sent_at: DateTime<Utc>,
    /// "pending", "ack" or "rejected".
    pub outcome: String,
    pub reason: Option<String>,
}

impl Links {
    /// Sends the command built for each connected broadcaster; returns how many got it.
    pub fn send(&self, build: impl Fn(MessageId) -> ServerCommand) -> usize {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let mut sent = 0;
        for link in links.values_mut() {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let cmd = build(id);
            let kind = serde_json::to_value(&cmd)
                .ok()
                .and_then(|v| v["type"].as_str().map(str::to_owned))
                .unwrap_or_default();
            match link.tx.try_send(encode(&cmd)) {
                Ok(()) => {
                    sent += 1;
                    if link.recent.len() == RECENT {
                        link.recent.pop_front();
                    }
                    link.recent.push_back(CommandRecord {
                        id,
                        command: kind,
                        sent_at: Utc::now(),
                        outcome: "pending".into(),
                        reason: None,
                    });
                }
                // A broadcaster that does not read its commands is stuck; it
                // reconnects and the server brings it up to date.
                Err(_) => link.kick.notify_one(),
            }
        }
        sent
    }

    pub fn connected(&self) -> usize {
        self.links.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn outcome(&self, broadcaster: i64, id: MessageId, outcome: &str, reason: Option<String>) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = links
            .get_mut(&broadcaster)
            .and_then(|l| l.recent.iter_mut().find(|r| r.id == id))
        {
            r.outcome = outcome.into();
            r.reason = reason;
        }
    }

    fn snapshot(&self, broadcaster: i64) -> Option<Value> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links.get(&broadcaster).map(|l| {
            json!({
                "connected_since": l.since,
                "version": l.version,
                "recent_commands": l.recent,
            })
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBroadcaster {
    name: String,
}

/// POST /api/council/broadcasters (admin): the token is shown once.
async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewBroadcaster>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    staff.require(Role::Admin)?;
    let name = meetings::check_text("name", &req.name, true)?;
    let (token, hash) = crate::auth::new_token();
    let actor = staff.username;
    let id =
        s.db.transaction(move |tx| {
            tx.execute(
                "INSERT INTO council_broadcasters (name, token_hash, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, hash, actor, crate::db::now_text()],
            )?;
            let id = tx.last_insert_rowid();
            crate::audit::record(
                tx,
                &actor,
                "council.broadcaster.create",
                &format!("broadcaster {id}"),
                json!({ "name": name }),
            )?;
            Ok(id)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": token })),
    ))
}

/// GET /api/council/broadcasters (viewer): each with its latest status report
/// and, while connected, the recent commands and their outcome.
async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<Value>>> {
    staff.require(Role::Viewer)?;
    let rows =
        s.db.call(|c| {
            let mut stmt = c.prepare(
                "SELECT id, name, created_by, created_at, revoked_at, last_seen, last_status,
                        last_status_at FROM council_broadcasters ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                let status: Option<String> = r.get(6)?;
                Ok(json!({
                    "id": r.get::<_, i64>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "created_by": r.get::<_, String>(2)?,
                    "created_at": r.get::<_, String>(3)?,
                    "revoked_at": r.get::<_, Option<String>>(4)?,
                    "last_seen": r.get::<_, Option<String>>(5)?,
                    "status": status.and_then(|s| serde_json::from_str::<Value>(&s).ok()),
                    "status_at": r.get::<_, Option<String>>(7)?,
                }))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let links = &s.council.links;
    Ok(Json(
        rows.into_iter()
            .map(|mut row| {
                let id = row["id"].as_i64().unwrap_or_default();
                let live = links.snapshot(id);
                row["connected"] = json!(live.is_some());
                row["connection"] = live.unwrap_or(Value::Null);
                row
            })
            .collect(),
    ))
}

/// DELETE /api/council/broadcasters/{id} (admin): revokes the token and hangs up.
async fn revoke(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Admin)?;
    let actor = staff.username;
    s.db.transaction(move |tx| {
        let n = tx.execute(
            "UPDATE council_broadcasters SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, crate::db::now_text()],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!("active broadcaster {id}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "council.broadcaster.revoke",
            &format!("broadcaster {id}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    let links = s
        .council
        .links
        .links
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(l) = links.get(&id) {
        l.kick.notify_one();
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn ws_broadcaster(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            if let Err(e) = run(state, socket).await {
                tracing::debug!("broadcaster connection ended: {e}");
            }
        })
}

async fn refuse(
    mut socket: WebSocket,
    reason: BroadcastRefusal,
    message: String,
) -> Result<(), axum::Error> {
    let text = encode(&ServerCommand::Refused { reason, message });
    socket.send(Message::Text(text.into())).await?;
    socket.send(Message::Close(None)).await
}

async fn broadcaster_for_token(state: AppState, token: String) -> ApiResult<Option<(i64, String)>> {
    let hash = crate::auth::hash_token(&token);
    state
        .db
        .call(move |c| {
            Ok(c.query_row(
                "SELECT id, name FROM council_broadcasters
                  WHERE token_hash = ?1 AND revoked_at IS NULL",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
        .await
}

async fn run(state: AppState, mut socket: WebSocket) -> Result<(), axum::Error> {
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            decode::<BroadcasterMessage>(&t).map_err(|e| e.to_string())
        }
        Ok(Some(Ok(_))) => Err("expected a text frame".to_owned()),
        _ => return Ok(()),
    };
    let hello: Hello = match hello {
        Ok(BroadcasterMessage::Hello(h)) => h,
        Ok(_) => {
            return refuse(
                socket,
                BroadcastRefusal::NoHello,
                "the first message must be a hello".into(),
            )
            .await;
        }
        Err(e) => return refuse(socket, BroadcastRefusal::NoHello, e).await,
    };
    if let Err(e) = hello.check_version() {
        return refuse(socket, BroadcastRefusal::UnsupportedProtocol, e.to_string()).await;
    }
    let found = broadcaster_for_token(state.clone(), hello.token.clone()).await;
    let Ok(Some((id, name))) = found else {
        return refuse(
            socket,
            BroadcastRefusal::UnknownToken,
            "unknown or revoked broadcaster token; ask an admin for a new one".into(),
        )
        .await;
    };
    let welcome = ServerCommand::Welcome {
        protocol: content::broadcast::BROADCAST_PROTOCOL_VERSION,
        server_time: Utc::now(),
        status_interval_s: state.config.council.status_interval_s,
    };
    socket.send(Message::Text(encode(&welcome).into())).await?;
    tracing::info!(broadcaster = id, name, "broadcaster connected");
    let _ = touch(state.db.clone(), id).await;

    let (tx, mut rx) = mpsc::channel::<String>(QUEUE_DEPTH);
    let kick = Arc::new(Notify::new());
    let conn = state
        .council
        .links
        .next_conn
        .fetch_add(1, Ordering::Relaxed);
    {
        let mut links = state
            .council
            .links
            .links
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(old) = links.insert(
            id,
            Link {
                conn,
                tx: tx.clone(),
                kick: kick.clone(),
                since: Utc::now(),
                version: hello.broadcaster_version.clone(),
                recent: VecDeque::new(),
            },
        ) {
            old.kick.notify_one();
        }
    }
    if let Some(running) = &hello.session {
        super::commands::resync(state.clone(), running.meeting_id.clone()).await;
    }

    let (mut sink, mut stream) = socket.split();
    let writer_kick = kick.clone();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(text) => if sink.send(Message::Text(text.into())).await.is_err() { break },
                    None => break,
                },
                _ = writer_kick.notified() => break,
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let mut bad = 0u32;
    let reader_kick = kick.clone();
    loop {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = reader_kick.notified() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let reply = match decode::<BroadcasterMessage>(&text) {
            Ok(msg) => handle(state.clone(), id, name.clone(), msg).await,
            Err(e) => {
                bad += 1;
                Some(ServerCommand::Error {
                    message: e.to_string(),
                })
            }
        };
        if let Some(reply) = reply
            && tx.try_send(encode(&reply)).is_err()
        {
            break;
        }
        if bad > MAX_BAD_MESSAGES {
            break;
        }
    }
    // Only remove our own entry: a newer connection may have replaced it.
    {
        let mut links = state
            .council
            .links
            .links
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if links.get(&id).is_some_and(|l| l.conn == conn) {
            links.remove(&id);
        }
    }
    kick.notify_one();
    let _ = writer.await;
    let _ = touch(state.db.clone(), id).await;
    tracing::info!(broadcaster = id, "broadcaster disconnected");
    Ok(())
}

async fn touch(db: crate::db::Db, id: i64) -> ApiResult<()> {
    db.call(move |c| {
        c.execute(
            "UPDATE council_broadcasters SET last_seen = ?2 WHERE id = ?1",
            params![id, crate::db::now_text()],
        )?;
        Ok(())
    })
    .await
}

/// One message from a connected broadcaster; returns the reply, if any.
async fn handle(
    state: AppState,
    id: i64,
    name: String,
    msg: BroadcasterMessage,
) -> Option<ServerCommand> {
    match msg {
        BroadcasterMessage::Hello(_) => Some(ServerCommand::Error {
            message: "already said hello".into(),
        }),
        BroadcasterMessage::Ack { id: cmd } => {
            state.council.links.outcome(id, cmd, "ack", None);
            None
        }
        BroadcasterMessage::Rejected { id: cmd, reason } => {
            tracing::warn!(
                broadcaster = id,
                command = cmd,
                "command rejected: {reason}"
            );
            state
                .council
                .links
                .outcome(id, cmd, "rejected", Some(reason));
            None
        }
        BroadcasterMessage::Status(status) => {
            let body = match serde_json::to_string(&status) {
                Ok(b) => b,
                Err(e) => {
                    return Some(ServerCommand::Error {
                        message: e.to_string(),
                    });
                }
            };
            let stored = state
                .db
                .call(move |c| {
                    c.execute(
                        "UPDATE council_broadcasters SET last_status = ?2, last_status_at = ?3,
                             last_seen = ?3 WHERE id = ?1",
                        params![id, body, crate::db::now_text()],
                    )?;
                    Ok(())
                })
                .await;
            stored.err().map(|e| ServerCommand::Error {
                message: format!("status not stored: {e}"),
            })
        }
        BroadcasterMessage::Chapter(ev) => {
            chapter(state.clone(), ev.meeting_id, ev.kind).await;
            None
        }
        BroadcasterMessage::RecordingFinalized(rec) => {
            let recording_id = rec.recording_id.clone();
            let msg_id = rec.id;
            match finalized(state.clone(), name, rec).await {
                Ok(_) => Some(ServerCommand::RecordingAccepted {
                    id: msg_id,
                    recording_id,
                }),
                Err(e) => {
                    tracing::warn!(
                        broadcaster = id,
                        recording_id,
                        "recording not accepted: {e}"
                    );
                    Some(ServerCommand::Error {
                        message: format!("recording {recording_id} not accepted: {e}"),
                    })
                }
            }
        }
    }
}

/// Follows what the broadcaster reports as current (e.g. after its local CLI
/// changed the item). Closed-part events are not taken over: what is closed is
/// decided by the agenda and staff, here.
async fn chapter(state: AppState, meeting_id: String, kind: ChapterKind) {
    let Ok(meeting_id) = meeting_id.parse::<i64>() else {
        return;
    };
    let result = state
        .db
        .call(move |c| {
            let Some(m) = meetings::live_meeting(c)?.filter(|m| m.id == meeting_id) else {
                return Ok(());
            };
            match kind {
                ChapterKind::Item { number, .. } => {
                    let item = meetings::items_of(c, m.id)?
                        .into_iter()
                        .find(|i| super::commands::agenda_number(i) == number);
                    if let Some(item) = item {
                        c.execute(
                            "UPDATE council_meetings SET current_item_id = ?2 WHERE id = ?1",
                            params![m.id, item.id],
                        )?;
                    }
                }
                ChapterKind::Speaker { speaker } => {
                    c.execute(
                        "UPDATE council_meetings SET speaker_name = ?2, speaker_role = ?3
                          WHERE id = ?1",
                        params![
                            m.id,
                            speaker.as_ref().map(|s| s.name.clone()),
                            speaker.as_ref().map(|s| s.subtitle())
                        ],
                    )?;
                }
                ChapterKind::Closed { .. } => {}
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!("chapter event not applied: {e}");
    }
}

/// Registers a finalized VOD package: the files must lie in the directory the
/// recording id names, under the archive dir.
async fn finalized(state: AppState, name: String, rec: RecordingFinalized) -> ApiResult<i64> {
    let dir = rec.recording_id.clone();
    if !super::files::is_safe_name(&dir) {
        return Err(ApiError::Invalid(format!(
            "recording id {dir:?} is not a plain directory name"
        )));
    }
    for f in rec.files.all() {
        inside(&dir, f)?;
    }
    let meeting_id = rec.meeting_id.parse::<i64>().map_err(|_| {
        ApiError::Invalid(format!(
            "meeting id {:?} is not one of ours",
            rec.meeting_id
        ))
    })?;
    // Agenda chapters are matched to our items by number, so the archive can
    // title closed ones from the agenda, not from what the broadcaster knew.
    let items = state
        .db
        .call(move |c| meetings::items_of(c, meeting_id))
        .await?;
    let chapters = rec
        .chapters
        .iter()
        .map(|ch| {
            let item = items
                .iter()
                .find(|i| super::commands::agenda_number(i) == ch.number);
            ChapterIn {
                start_s: ch.start_ms as f64 / 1000.0,
                kind: if ch.public { "agenda" } else { "closed" }.into(),
                title: if ch.number.is_empty() {
                    ch.title.clone()
                } else {
                    format!("{} {}", ch.number, ch.title)
                },
                agenda_item_id: item.map(|i| i.id),
            }
        })
        .collect();
    let new = NewRecording {
        meeting_id: Some(meeting_id),
        playlist: inside(&dir, &rec.files.hls_playlist)?,
        mp4: rec
            .files
            .mp4
            .as_deref()
            .map(|f| inside(&dir, f))
            .transpose()?,
        poster: rec
            .files
            .poster
            .as_deref()
            .map(|f| inside(&dir, f))
            .transpose()?,
        chapters_vtt: Some(inside(&dir, &rec.files.chapters_vtt)?),
        duration_s: Some(rec.duration_ms as f64 / 1000.0),
        recorded_at: rec.started_at.to_rfc3339(),
        chapters,
        dir,
    };
    archive::register(state, new, format!("broadcaster:{name}")).await
}

/// `path` relative to the recording's directory `dir`, if it lies inside it.
fn inside(dir: &str, path: &str) -> ApiResult<String> {
    match path.strip_prefix(dir).and_then(|p| p.strip_prefix('/')) {
        Some(rest)
            if content::broadcast::is_safe_relative_path(path)
                && super::files::is_safe_relative(rest) =>
        {
            Ok(rest.to_owned())
        }
        _ => Err(ApiError::Invalid(format!(
            "file {path:?} is not inside the recording's directory {dir:?}"
        ))),
    }
}
