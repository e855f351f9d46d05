//! The player hub: one WebSocket per display (`/ws/player`).
//!
//! ```text
//!  API handler ──push(ids, msg)──► conns[id].tx (bounded) ──► writer task ──► socket
//!                                                                  ▲
//!  socket ──► reader loop (session.rs) ──acks/receipts──► Writer ──┘ batched DB writes
//! ```
//!
//! A broadcast encodes its message once and hands every connection a cheap clone
//! of the same bytes. A connection whose queue is full is too slow or stuck: it
//! is dropped, and on reconnect it is brought up to date from state (current
//! manifest version, active alerts), so nothing is lost by dropping a queue.

mod session;

use crate::db::Db;
use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use content::DisplayId;
use content::protocol::{Health, MessageId, ServerMessage, encode};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot, watch};

pub use session::ws_player;

/// Messages queued per connection before it counts as stuck.
const QUEUE_DEPTH: usize = 256;
/// Ack bookkeeping is pruned of entries older than this once it grows past
/// `ACK_PRUNE_AT`; a player acks within seconds or reconnects and resyncs.
const ACK_TTL: Duration = Duration::from_secs(3600);
const ACK_PRUNE_AT: usize = 50_000;

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    conns: RwLock<HashMap<DisplayId, Conn>>,
    pairing: Mutex<HashMap<String, Pairing>>,
    /// What each outstanding message id stood for, and when it was issued.
    acks: Mutex<HashMap<MessageId, (Instant, AckKind)>>,
    next_id: AtomicU64,
    next_conn: AtomicU64,
    receipts: mpsc::UnboundedSender<Receipt>,
    receipts_rx: Mutex<Option<mpsc::UnboundedReceiver<Receipt>>>,
    shutdown: watch::Sender<bool>,
}

struct Conn {
    conn_id: u64,
    tx: mpsc::Sender<Utf8Bytes>,
    /// Ends the connection's writer (and so the socket) when the hub drops it.
    kick: Arc<Notify>,
    status: LiveStatus,
}

/// What the hub knows of a connected display.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStatus {
    pub connected_since: DateTime<Utc>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub player_version: String,
    pub health: Option<Health>,
}

struct Pairing {
    device_id: String,
    expires_at: DateTime<Utc>,
    adopt: Option<oneshot::Sender<(DisplayId, String)>>,
}

/// What an acknowledged message id stood for.
#[derive(Debug, Clone)]
pub enum AckKind {
    Manifest { version: u64 },
    Alert { alert_id: String },
    Other,
}

/// A fact to persist, written in batches by the receipt writer.
#[derive(Debug)]
pub enum Receipt {
    AlertReceived {
        alert_id: String,
        display: DisplayId,
        at: DateTime<Utc>,
    },
    AlertShown {
        alert_id: String,
        display: DisplayId,
        at: DateTime<Utc>,
    },
    ManifestAcked {
        display: DisplayId,
        version: u64,
    },
    Seen {
        display: DisplayId,
        at: DateTime<Utc>,
        player_version: String,
        health: Option<Health>,
    },
}

impl Hub {
    pub fn new(db: Db) -> Hub {
        let (tx, rx) = mpsc::unbounded_channel();
        // Message ids start at the clock in microseconds so ids stay unique
        // across restarts; an ack for a pre-restart id is simply unknown.
        let seed = Utc::now().timestamp_micros().max(1) as u64;
        Hub {
            inner: Arc::new(Inner {
                db,
                conns: RwLock::default(),
                pairing: Mutex::default(),
                acks: Mutex::default(),
                next_id: AtomicU64::new(seed),
                next_conn: AtomicU64::new(1),
                receipts: tx,
                receipts_rx: Mutex::new(Some(rx)),
                shutdown: watch::Sender::new(false),
            }),
        }
    }

    /// A new message id, remembered so its acknowledgement can be attributed.
    pub fn message_id(&self, kind: AckKind) -> MessageId {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if !matches!(kind, AckKind::Other) {
            let mut acks = self.inner.acks.lock().unwrap_or_else(|p| p.into_inner());
            if acks.len() >= ACK_PRUNE_AT {
                acks.retain(|_, (issued, _)| issued.elapsed() < ACK_TTL);
            }
            acks.insert(id, (Instant::now(), kind));
        }
        id
    }

    pub fn encode(msg: &ServerMessage) -> Utf8Bytes {
        Utf8Bytes::from(encode(msg))
    }

    /// Queues `msg` for every listed display that is connected; returns how many got it.
    pub fn push<'a>(
        &self,
        displays: impl IntoIterator<Item = &'a DisplayId>,
        msg: &Utf8Bytes,
    ) -> usize {
        let conns = self.inner.conns.read().unwrap_or_else(|p| p.into_inner());
        let mut sent = 0;
        let mut stuck = Vec::new();
        for id in displays {
            if let Some(c) = conns.get(id) {
                match c.tx.try_send(msg.clone()) {
                    Ok(()) => sent += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => stuck.push((*id, c.conn_id)),
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        drop(conns);
        for (id, conn_id) in stuck {
            tracing::warn!(display = %id, "player queue full; dropping the connection so it resyncs");
            self.unregister(id, conn_id);
        }
        sent
    }

    /// Queues `msg` for every connected display.
    pub fn push_all(&self, msg: &Utf8Bytes) -> usize {
        let ids: Vec<DisplayId> = self.connected();
        self.push(ids.iter(), msg)
    }

    pub fn connected(&self) -> Vec<DisplayId> {
        self.inner
            .conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect()
    }

    pub fn status(&self, id: DisplayId) -> Option<LiveStatus> {
        self.inner
            .conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .map(|c| c.status.clone())
    }

    fn register(
        &self,
        id: DisplayId,
        tx: mpsc::Sender<Utf8Bytes>,
        player_version: String,
    ) -> (u64, Arc<Notify>) {
        let conn_id = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let kick = Arc::new(Notify::new());
        let status = LiveStatus {
            connected_since: Utc::now(),
            last_heartbeat: None,
            player_version,
            health: None,
        };
        let conn = Conn {
            conn_id,
            tx,
            kick: kick.clone(),
            status,
        };
        // A display that reconnects replaces its old connection, which is closed.
        if let Some(old) = self
            .inner
            .conns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, conn)
        {
            old.kick.notify_one();
        }
        (conn_id, kick)
    }

    /// Closes the display's connection, whichever it is (revocation, deletion).
    pub fn disconnect(&self, id: DisplayId) {
        if let Some(c) = self
            .inner
            .conns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        {
            c.kick.notify_one();
        }
    }

    fn unregister(&self, id: DisplayId, conn_id: u64) {
        let mut conns = self.inner.conns.write().unwrap_or_else(|p| p.into_inner());
        if conns.get(&id).is_some_and(|c| c.conn_id == conn_id)
            && let Some(c) = conns.remove(&id)
        {
            c.kick.notify_one();
        }
    }

    fn heartbeat(&self, id: DisplayId, conn_id: u64, health: Health) {
        let now = Utc::now();
        let version = {
            let mut conns = self.inner.conns.write().unwrap_or_else(|p| p.into_inner());
            let Some(c) = conns.get_mut(&id).filter(|c| c.conn_id == conn_id) else {
                return;
            };
            c.status.last_heartbeat = Some(now);
            c.status.health = Some(health.clone());
            c.status.player_version.clone()
        };
        self.receipt(Receipt::Seen {
            display: id,
            at: now,
            player_version: version,
            health: Some(health),
        });
    }

    fn take_ack(&self, id: MessageId) -> Option<AckKind> {
        self.inner
            .acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .map(|(_, k)| k.clone())
    }

    pub fn receipt(&self, r: Receipt) {
        let _ = self.inner.receipts.send(r);
    }

    /// Adopts the unpaired player showing `code`: hands it its id and token.
    /// Returns false if no connected player shows that code.
    pub fn adopt(&self, code: &str, display: DisplayId, token: String) -> bool {
        let mut pairing = self.inner.pairing.lock().unwrap_or_else(|p| p.into_inner());
        let Some(p) = pairing.get_mut(code).filter(|p| p.expires_at > Utc::now()) else {
            return false;
        };
        match p.adopt.take() {
            Some(tx) => {
                let ok = tx.send((display, token)).is_ok();
                pairing.remove(code);
                ok
            }
            None => false,
        }
    }

    /// Whether a connected, unpaired player shows `code` right now.
    pub fn pairing_code_known(&self, code: &str) -> bool {
        let pairing = self.inner.pairing.lock().unwrap_or_else(|p| p.into_inner());
        pairing
            .get(code)
            .is_some_and(|p| p.expires_at > Utc::now() && p.adopt.is_some())
    }

    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Resolves once the server shuts down.
    fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.shutdown.subscribe();
        async move {
            while !*rx.borrow_and_update() {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
    }

    /// Starts the receipt writer; returns its handle.
    pub fn start_background(&self) -> tokio::task::JoinHandle<()> {
        let rx = self
            .inner
            .receipts_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let db = self.inner.db.clone();
        tokio::spawn(async move {
            let Some(mut rx) = rx else { return };
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, 4096).await > 0 {
                let chunk = std::mem::take(&mut batch);
                if let Err(e) = db.call(move |c| write_receipts(c, chunk)).await {
                    tracing::error!("writing receipts failed: {e}");
                }
            }
        })
    }

    /// Writes receipts still queued (on shutdown).
    pub async fn flush(&self) {
        let mut pending = Vec::new();
        if let Some(rx) = self
            .inner
            .receipts_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            while let Ok(r) = rx.try_recv() {
                pending.push(r);
            }
        }
        if !pending.is_empty() {
            let _ = self
                .inner
                .db
                .call(move |c| write_receipts(c, pending))
                .await;
        }
    }
}

/// Runs `sql` through the connection's statement cache: a receipt batch has
/// thousands of rows of four kinds, and parsing the SQL anew for every row was
/// a visible share of the server's CPU time during a 10,000-display alert.
fn execute_cached(
    c: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

fn write_receipts(
    c: &mut rusqlite::Connection,
    receipts: Vec<Receipt>,
) -> Result<(), crate::error::ApiError> {
    let tx = c.transaction()?;
    for r in receipts {
        // One bad row (a display deleted meanwhile) must not lose the batch.
        let result = match r {
            Receipt::AlertReceived { alert_id, display, at } => {
                execute_cached(
                    &tx,
                    "INSERT INTO alert_receipts (alert_id, display_id, received_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (alert_id, display_id) DO UPDATE SET received_at = COALESCE(received_at, excluded.received_at)",
                    rusqlite::params![alert_id, display.0, at.to_rfc3339()],
                )
            }
            Receipt::AlertShown { alert_id, display, at } => {
                execute_cached(
                    &tx,
                    "INSERT INTO alert_receipts (alert_id, display_id, received_at, shown_at) VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT (alert_id, display_id) DO UPDATE SET shown_at = COALESCE(shown_at, excluded.shown_at)",
                    rusqlite::params![alert_id, display.0, at.to_rfc3339()],
                )
            }
            Receipt::ManifestAcked { display, version } => {
                execute_cached(
                    &tx,
                    "UPDATE display_status SET acked_manifest = ?2 WHERE display_id = ?1",
                    rusqlite::params![display.0, version as i64],
                )
            }
            Receipt::Seen { display, at, player_version, health } => {
                let health = health.and_then(|h| serde_json::to_string(&h).ok()).unwrap_or_else(|| "{}".into());
                execute_cached(
                    &tx,
                    "INSERT INTO display_status (display_id, last_seen, player_version, health) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (display_id) DO UPDATE SET last_seen = excluded.last_seen,
                        player_version = excluded.player_version,
                        health = CASE WHEN excluded.health = '{}' THEN display_status.health ELSE excluded.health END",
                    rusqlite::params![display.0, at.to_rfc3339(), player_version, health],
                )
            }
        };
        if let Err(e) = result {
            tracing::warn!("receipt not recorded: {e}");
        }
    }
    tx.commit()?;
    Ok(())
}
