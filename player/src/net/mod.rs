//! The network side: a tokio runtime on its own thread that speaks
//! `content::protocol` over `/ws/player`, fetches manifests and assets over
//! HTTP, and feeds the app through channels. Nothing here runs in the frame
//! loop; the app only polls [`NetHandle::events`] and sends [`AppReport`]s.
//!
//! ```text
//!            ┌──────────── net thread (tokio) ────────────┐
//! server ◄──►│ session: hello → welcome/pairing → loop     │── NetEvent ──► app
//!   HTTP ◄───│ sync task: manifest → assets → store        │◄─ AppReport ── app
//!            └─────────── store (SQLite, cache files) ─────┘
//! ```

pub mod download;
pub mod health;
pub mod journal;

use crate::store::Store;
use chrono::{DateTime, Utc};
use content::DisplayId;
use content::alert::Alert;
use content::live::LiveData;
use content::manifest::Manifest;
use content::model::AssetRef;
use content::protocol::{
    self, CacheState, Health, Hello, NowPlaying, PROTOCOL_VERSION, PlayRecord, PlayerMessage,
    RefusalReason, ServerMessage,
};
use download::{DownloadError, Room, fetch_asset, with_store};
use futures_util::{SinkExt as _, StreamExt as _};
use rand::Rng as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// How the network side behaves; tests shorten the intervals.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The control server's base URL, `http://host:port`.
    pub server: String,
    pub player_version: String,
    /// First reconnect delay; doubles per failure up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How often unsent proof-of-play records are offered to the server.
    pub plays_interval: Duration,
    /// Limit for connecting and for the server's first answer.
    pub connect_timeout: Duration,
    /// Largest total size of cached assets (`--cache-max-mb`); `None` is
    /// bounded by the disk alone.
    pub cache_max_bytes: Option<u64>,
    /// First delay before a failed manifest sync is tried again (a full disk
    /// freed, an asset fixed on the server); doubles per failure up to an hour.
    pub sync_retry: Duration,
    /// Player updates (`crate::update`); `None`: none are looked for.
    pub update: Option<crate::update::UpdateConfig>,
    /// The system log to forward (the kiosk: `--forward-journal`).
    pub journal: Option<journal::Journal>,
    /// Added to the wall clock when it is compared with the server's
    /// (`--clock-offset-s`, the same skew the app plays with; tests).
    pub clock_offset: chrono::Duration,
}

impl NetConfig {
    pub fn new(server: &str) -> NetConfig {
        NetConfig {
            server: server.trim_end_matches('/').to_owned(),
            player_version: env!("CARGO_PKG_VERSION").to_owned(),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            plays_interval: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            cache_max_bytes: None,
            sync_retry: Duration::from_secs(60),
            update: None,
            journal: None,
            clock_offset: chrono::Duration::zero(),
        }
    }

    /// `ws://…/ws/player` for an `http://…` base (`wss` for `https`).
    pub fn ws_url(&self) -> String {
        let rest = self
            .server
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| {
                self.server
                    .strip_prefix("http://")
                    .map(|r| format!("ws://{r}"))
            })
            .unwrap_or_else(|| self.server.clone());
        format!("{rest}/ws/player")
    }
}

/// What the network side tells the app.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// Not adopted yet: show this code and the server address.
    Pairing {
        code: String,
        expires_at: DateTime<Utc>,
    },
    /// Staff adopted the display; the token is stored.
    Adopted {
        display_id: DisplayId,
    },
    Online {
        display_id: DisplayId,
    },
    Offline {
        reason: String,
    },
    /// A new manifest whose every asset is cached and verified: play it.
    Manifest(Arc<Manifest>),
    AlertStart(Alert),
    AlertCancel {
        alert_id: String,
    },
    Live(LiveData),
    /// Something a technician should know (a failed download, a refusal).
    Problem(String),
    /// The server's `Welcome`: its time minus ours when it arrived (see
    /// [`crate::clock`]).
    ServerTime {
        skew: chrono::Duration,
    },
    /// End the player (exit status 0) so its supervisor starts it again:
    /// a new release is installed.
    Restart {
        why: String,
    },
}

/// What the app tells the network side.
#[derive(Debug, Clone)]
pub enum AppReport {
    /// An item finished playing (or was cut short) in a zone.
    Played(PlayRecord),
    /// An alert is on screen.
    AlertShown { alert_id: String, at: DateTime<Utc> },
    /// Figures for the next heartbeat (`fps` 0: not measured by the sender).
    Status {
        fps: f32,
        now_playing: Vec<NowPlaying>,
    },
    /// Frames actually drawn per second, measured over the last second or so.
    FrameRate { fps: f32 },
    /// The current frame, for the server's screenshot request (RGBA8, row-major).
    Screenshot {
        width: u32,
        height: u32,
        rgba: Vec<u8>,
    },
}

/// What the network side asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRequest {
    /// The server wants a screenshot of the current frame.
    Screenshot,
    /// Whether the disk (or the cache limit) is full: new content cannot be
    /// cached, and a technician on site should see so.
    DiskFull(bool),
}

/// Alerts reported shown, kept to tell a reconnected server again.
const MAX_SHOWN_KEPT: usize = 32;

/// The app's ends of the channels. Dropping it stops the network thread.
#[derive(Debug)]
pub struct NetHandle {
    pub events: async_channel::Receiver<NetEvent>,
    pub reports: async_channel::Sender<AppReport>,
    /// What the server asks of the app (screenshots).
    pub requests: async_channel::Receiver<AppRequest>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NetHandle {
    /// Closes the report channel and waits for the thread to end.
    pub fn stop(mut self) {
        self.reports.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the network thread.
pub fn spawn(config: NetConfig, store: Arc<Mutex<Store>>) -> std::io::Result<NetHandle> {
    let (events_tx, events) = async_channel::unbounded();
    let (reports, reports_rx) = async_channel::unbounded();
    let (requests_tx, requests) = async_channel::bounded(16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .thread_name("player-net")
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("player-net".into())
        .spawn(move || {
            let mut net = Net::new(config, store, events_tx, reports_rx);
            net.requests = requests_tx;
            runtime.block_on(net.run());
        })?;
    Ok(NetHandle {
        events,
        reports,
        requests,
        thread: Some(thread),
    })
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How a session ended.
enum Outcome {
    /// The app is gone.
    Shutdown,
    /// Connect again at once (adopted, or a refused token was dropped).
    Again,
    /// The connection failed or dropped; wait, then retry.
    Lost { reason: String, was_online: bool },
}

/// The result of one manifest sync.
type SyncResult = Result<Option<Synced>, DownloadError>;

/// A manifest whose assets are all cached, now stored as the current one.
struct Synced {
    manifest: Manifest,
    /// Items it had that this build cannot show, one line each.
    skipped: Vec<String>,
}

struct Net {
    config: NetConfig,
    store: Arc<Mutex<Store>>,
    http: reqwest::Client,
    events: async_channel::Sender<NetEvent>,
    reports: async_channel::Receiver<AppReport>,
    started: Instant,
    fps: f32,
    now_playing: Vec<NowPlaying>,
    problems: Vec<String>,
    /// Assets the manifest being synchronised still lacks (for heartbeats).
    missing: Arc<AtomicU32>,
    requests: async_channel::Sender<AppRequest>,
    /// Alerts the app drew, told again after every reconnect: the server
    /// has no acknowledgement for "shown", and records it idempotently.
    shown: Vec<(String, DateTime<Utc>)>,
    updater: Option<crate::update::Updater>,
}

impl Net {
    fn new(
        config: NetConfig,
        store: Arc<Mutex<Store>>,
        events: async_channel::Sender<NetEvent>,
        reports: async_channel::Receiver<AppReport>,
    ) -> Net {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Net {
            config,
            store,
            http,
            events,
            reports,
            started: Instant::now(),
            fps: 0.0,
            now_playing: Vec::new(),
            problems: Vec::new(),
            missing: Arc::default(),
            requests: async_channel::bounded(1).0,
            shown: Vec::new(),
            updater: None,
        }
    }

    fn emit(&self, e: NetEvent) {
        let _ = self.events.try_send(e);
    }

    async fn run(mut self) {
        // Here, inside the runtime: the updater spawns tasks.
        self.updater = self
            .config
            .update
            .clone()
            .map(|c| crate::update::Updater::new(c, self.events.clone()));
        // What the current manifest had to leave out is reported again after
        // a restart, until a new manifest replaces it.
        match with_store(&self.store, |s| s.manifest_skipped()).await {
            Ok(lines) => self.problems = lines,
            Err(e) => tracing::warn!("cannot read the skipped items: {e}"),
        }
        let mut delay = self.config.backoff_min;
        loop {
            match self.session().await {
                Outcome::Shutdown => return,
                Outcome::Again => delay = self.config.backoff_min,
                Outcome::Lost { reason, was_online } => {
                    if was_online {
                        delay = self.config.backoff_min;
                    }
                    tracing::info!("offline ({reason}); retrying in about {delay:?}");
                    self.emit(NetEvent::Offline { reason });
                    // Full jitter in [delay/2, delay], so a town's players that lost
                    // the server together do not return in lockstep.
                    let jittered = rand::thread_rng().gen_range(delay / 2..=delay);
                    if !self.wait(jittered).await {
                        return;
                    }
                    delay = (delay * 2).min(self.config.backoff_max);
                }
            }
        }
    }

    /// Waits `d` while still taking reports; false when the app is gone.
    async fn wait(&mut self, d: Duration) -> bool {
        let until = tokio::time::Instant::now() + d;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return true,
                r = self.reports.recv() => match r {
                    Ok(r) => self.take_report(r, None).await,
                    Err(_) => return false,
                },
            }
        }
    }

    /// Handles a report; sends what must go out when a socket is given.
    async fn take_report(&mut self, r: AppReport, ws: Option<&mut Ws>) {
        match r {
            AppReport::Played(record) => {
                if let Err(e) = with_store(&self.store, move |s| s.add_play(&record)).await {
                    tracing::warn!("cannot keep a play record: {e}");
                }
            }
            AppReport::AlertShown { alert_id, at } => {
                if !self.shown.iter().any(|(id, _)| *id == alert_id) {
                    self.shown.push((alert_id.clone(), at));
                    let excess = self.shown.len().saturating_sub(MAX_SHOWN_KEPT);
                    self.shown.drain(..excess);
                }
                // Offline, or the send fails: it goes out after the reconnect.
                if let Some(ws) = ws {
                    let _ = send(ws, &PlayerMessage::AlertShown { alert_id, at }).await;
                }
            }
            AppReport::Status { fps, now_playing } => {
                if fps > 0.0 {
                    self.fps = fps;
                }
                self.now_playing = now_playing;
            }
            AppReport::FrameRate { fps } => self.fps = fps,
            AppReport::Screenshot {
                width,
                height,
                rgba,
            } => {
                tokio::spawn(upload_screenshot(
                    self.http.clone(),
                    self.config.server.clone(),
                    self.store.clone(),
                    (width, height, rgba),
                ));
            }
        }
    }

    async fn health(&self) -> Health {
        let dir = self
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .dir()
            .to_owned();
        let usage = with_store(&self.store, |s| {
            Ok((s.cache_usage()?, s.manifest_version()?))
        })
        .await;
        let ((assets_ready, bytes), manifest_version) = usage.unwrap_or(((0, 0), None));
        let (mem_used_bytes, mem_total_bytes) = health::memory().unwrap_or((0, 0));
        let (disk_free_bytes, disk_total_bytes) = health::disk(&dir).unwrap_or((0, 0));
        Health {
            uptime_s: self.started.elapsed().as_secs(),
            cpu_temp_c: health::cpu_temp_c(),
            mem_used_bytes,
            mem_total_bytes,
            disk_free_bytes,
            disk_total_bytes,
            fps: self.fps,
            now_playing: self.now_playing.clone(),
            cache: CacheState {
                assets_ready,
                assets_missing: self.missing.load(Ordering::Relaxed),
                bytes,
            },
            manifest_version,
            problems: self
                .problems
                .iter()
                .cloned()
                .chain(self.updater.iter().flat_map(|u| u.problems()))
                .collect(),
        }
    }

    fn start_sync(&self, token: String) -> JoinHandle<SyncResult> {
        tokio::spawn(sync_manifest(
            self.http.clone(),
            self.config.server.clone(),
            token,
            self.store.clone(),
            self.config.cache_max_bytes,
            self.missing.clone(),
        ))
    }

    fn problem(&mut self, p: String) {
        tracing::warn!("{p}");
        self.emit(NetEvent::Problem(p.clone()));
        self.problems.push(p);
        let excess = self.problems.len().saturating_sub(5);
        self.problems.drain(..excess);
    }

    async fn session(&mut self) -> Outcome {
        let ids = with_store(&self.store, |s| {
            Ok((s.token()?, s.device_id()?, s.manifest_version()?))
        })
        .await;
        let (token, device_id, manifest_version) = match ids {
            Ok(v) => v,
            Err(e) => {
                return Outcome::Lost {
                    reason: format!("data directory: {e}"),
                    was_online: false,
                };
            }
        };
        let lost = |reason: String| Outcome::Lost {
            reason,
            was_online: false,
        };
        let url = self.config.ws_url();
        let mut ws = match tokio::time::timeout(
            self.config.connect_timeout,
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return lost(format!("cannot connect to {url}: {e}")),
            Err(_) => return lost(format!("connecting to {url} timed out")),
        };
        let hello = PlayerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            player_version: self.config.player_version.clone(),
            token: token.clone(),
            device_id: token.is_none().then_some(device_id),
            manifest_version,
        });
        if let Err(e) = send(&mut ws, &hello).await {
            return lost(format!("hello: {e}"));
        }

        let mut online = false;
        let mut logs: Option<JoinHandle<()>> = None;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(3600));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut plays = tokio::time::interval(self.config.plays_interval);
        plays.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch_in_flight: Option<u64> = None;
        let mut sync: Option<JoinHandle<SyncResult>> = None;
        // When a failed sync is tried again, and the delay after the next failure.
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut retry_delay = self.config.sync_retry;
        let outcome = loop {
            tokio::select! {
                frame = tokio::time::timeout(
                    if online { Duration::from_secs(24 * 3600) } else { self.config.connect_timeout },
                    ws.next(),
                ) => {
                    let text = match frame {
                        Err(_) => break lost("the server did not answer the hello".into()),
                        Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                            break Outcome::Lost { reason: "connection closed".into(), was_online: online };
                        }
                        Ok(Some(Ok(Message::Text(t)))) => t,
                        Ok(Some(Ok(_))) => continue,
                    };
                    let msg = match protocol::decode::<ServerMessage>(&text) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!("ignoring a message from the server: {e}");
                            continue;
                        }
                    };
                    if let Some(id) = msg.ack_id()
                        && send(&mut ws, &PlayerMessage::Ack { id }).await.is_err()
                    {
                        break Outcome::Lost { reason: "send failed".into(), was_online: online };
                    }
                    match msg {
                        ServerMessage::Welcome { display_id, heartbeat_interval_s, server_time, .. } => {
                            online = true;
                            let skew = server_time - (Utc::now() + self.config.clock_offset);
                            self.emit(NetEvent::ServerTime { skew });
                            let every = Duration::from_secs(u64::from(heartbeat_interval_s.max(1)));
                            heartbeat = tokio::time::interval(every);
                            heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            plays.reset_immediately();
                            self.emit(NetEvent::Online { display_id });
                            // With updates on, a current manifest is confirmed by a
                            // sync (304) too: that is what a trial's health and
                            // the assigned release are checked on.
                            if self.updater.is_some()
                                && sync.is_none()
                                && let Some(token) = token.clone()
                            {
                                sync = Some(self.start_sync(token));
                            }
                            let mut sent = true;
                            for (alert_id, at) in self.shown.clone() {
                                sent &= send(&mut ws, &PlayerMessage::AlertShown { alert_id, at }).await.is_ok();
                            }
                            if !sent {
                                break Outcome::Lost { reason: "send failed".into(), was_online: true };
                            }
                        }
                        ServerMessage::PairingCode { code, expires_at } => {
                            // Shown on the screen anyway; in the log for a technician at the console.
                            tracing::info!("pairing code {code} shown (valid until {expires_at})");
                            self.emit(NetEvent::Pairing { code, expires_at });
                        }
                        ServerMessage::Adopted { display_id, token } => {
                            match with_store(&self.store, move |s| s.save_token(&token)).await {
                                Ok(()) => {
                                    self.emit(NetEvent::Adopted { display_id });
                                    break Outcome::Again;
                                }
                                Err(e) => self.problem(format!("cannot store the display token: {e}")),
                            }
                        }
                        ServerMessage::Refused { reason, message } => {
                            self.problem(format!("server refused the player: {message}"));
                            match reason {
                                RefusalReason::UnknownToken | RefusalReason::Revoked => {
                                    if let Err(e) = with_store(&self.store, |s| s.clear_token()).await {
                                        self.problem(format!("cannot drop the refused token: {e}"));
                                    }
                                    break Outcome::Again;
                                }
                                _ => break lost(message),
                            }
                        }
                        ServerMessage::ManifestUpdate { version, .. } => {
                            if let Some(token) = token.clone() {
                                if let Some(old) = sync.take() {
                                    old.abort();
                                }
                                tracing::info!("manifest {version} announced");
                                retry_at = None;
                                sync = Some(self.start_sync(token));
                            }
                        }
                        ServerMessage::LiveData(d) => self.emit(NetEvent::Live(d)),
                        ServerMessage::AlertStart { alert, .. } => self.emit(NetEvent::AlertStart(alert)),
                        ServerMessage::AlertCancel { alert_id, .. } => {
                            self.shown.retain(|(id, _)| *id != alert_id);
                            self.emit(NetEvent::AlertCancel { alert_id });
                        }
                        ServerMessage::ScreenshotRequest { .. } => {
                            // Requests beyond the few waiting are the same request.
                            if self.requests.try_send(AppRequest::Screenshot).is_err() {
                                tracing::info!("screenshot already requested");
                            }
                        }
                        ServerMessage::PlaysAccepted { batch } => {
                            if let Err(e) = with_store(&self.store, move |s| s.accept_batch(batch)).await {
                                tracing::warn!("cannot drop accepted plays: {e}");
                            }
                            if batch_in_flight == Some(batch) {
                                batch_in_flight = None;
                                plays.reset_immediately();
                            }
                        }
                        ServerMessage::Error { message } => {
                            tracing::warn!("server reports: {message}");
                        }
                    }
                }
                _ = heartbeat.tick(), if online => {
                    let h = self.health().await;
                    if send(&mut ws, &PlayerMessage::Heartbeat(h)).await.is_err() {
                        break Outcome::Lost { reason: "send failed".into(), was_online: true };
                    }
                    // The log goes with the heartbeat's rhythm, one batch at a time.
                    if let (Some(j), Some(t)) = (&self.config.journal, &token)
                        && logs.as_ref().is_none_or(|h| h.is_finished())
                    {
                        logs = Some(tokio::spawn(send_logs(
                            self.http.clone(),
                            self.config.server.clone(),
                            t.clone(),
                            j.clone(),
                        )));
                    }
                }
                _ = plays.tick(), if online && batch_in_flight.is_none() => {
                    match with_store(&self.store, |s| s.next_batch()).await {
                        Ok(Some((batch, records))) => {
                            batch_in_flight = Some(batch);
                            if send(&mut ws, &PlayerMessage::ProofOfPlay { batch, records }).await.is_err() {
                                break Outcome::Lost { reason: "send failed".into(), was_online: true };
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!("cannot read play records: {e}"),
                    }
                }
                r = self.reports.recv() => match r {
                    Ok(r) => self.take_report(r, Some(&mut ws)).await,
                    Err(_) => break Outcome::Shutdown,
                },
                _ = async { tokio::time::sleep_until(retry_at.expect("guarded")).await },
                    if retry_at.is_some() && sync.is_none() && token.is_some() => {
                    retry_at = None;
                    if let Some(token) = token.clone() {
                        sync = Some(self.start_sync(token));
                    }
                }
                done = async { sync.as_mut().expect("guarded").await }, if sync.is_some() => {
                    sync = None;
                    if matches!(done, Ok(Ok(_)))
                        && let (Some(u), Some(t)) = (self.updater.as_mut(), token.as_deref())
                        && u.after_sync(&self.http, &self.config.server, t, &self.store).await
                    {
                        // Staff hear of a refused or rolled-back release now.
                        heartbeat.reset_immediately();
                    }
                    match done {
                        Ok(Ok(Some(Synced { manifest: m, skipped }))) => {
                            retry_delay = self.config.sync_retry;
                            tracing::info!("manifest {} ready; switching", m.version);
                            self.problems.clear();
                            let _ = self.requests.try_send(AppRequest::DiskFull(false));
                            self.emit(NetEvent::Manifest(Arc::new(m)));
                            for line in skipped {
                                self.problem(line);
                            }
                            // The server hears of the switch (and what was
                            // skipped) now, not a heartbeat interval later.
                            heartbeat.reset_immediately();
                        }
                        Ok(Ok(None)) => {}
                        Ok(Err(e)) => {
                            if e.is_disk_full() {
                                let _ = self.requests.try_send(AppRequest::DiskFull(true));
                            }
                            self.problem(format!(
                                "manifest not taken, the previous one keeps playing (next try in {retry_delay:?}): {e}"
                            ));
                            retry_at = Some(tokio::time::Instant::now() + retry_delay);
                            retry_delay = (retry_delay * 2).min(Duration::from_secs(3600));
                        }
                        Err(e) => tracing::warn!("manifest task: {e}"),
                    }
                }
            }
        };
        if let Some(s) = sync {
            s.abort();
        }
        let _ = ws.close(None).await;
        outcome
    }
}

async fn send(ws: &mut Ws, m: &PlayerMessage) -> Result<(), String> {
    ws.send(Message::text(protocol::encode(m)))
        .await
        .map_err(|e| e.to_string())
}

/// Fetches the manifest newer than the stored one and every asset it needs,
/// then stores it. `None` when the stored one is current.
///
/// The manifest is decoded leniently: an item this build cannot decode (a type
/// from a newer server) is skipped and reported, and the rest plays. Under a
/// cache limit, what neither the playing nor the new manifest uses is evicted
/// (oldest first) to make room; a manifest whose assets cannot fit is refused
/// before anything is downloaded, and the previous one keeps playing.
async fn sync_manifest(
    http: reqwest::Client,
    base: String,
    token: String,
    store: Arc<Mutex<Store>>,
    limit: Option<u64>,
    missing: Arc<AtomicU32>,
) -> SyncResult {
    let (since, playing) =
        with_store(&store, |s| Ok((s.manifest_version()?, s.manifest()?))).await?;
    let mut url = format!("{base}/api/player/manifest");
    if let Some(v) = since {
        url.push_str(&format!("?since={v}"));
    }
    let resp = http.get(&url).bearer_auth(&token).send().await?;
    if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !resp.status().is_success() {
        return Err(DownloadError::Status {
            status: resp.status(),
            what: "the manifest".into(),
        });
    }
    let text = resp.text().await?;
    let decoded = content::lenient::decode_manifest(&text)?;
    let manifest = decoded.manifest;
    let skipped: Vec<String> = decoded
        .skipped
        .iter()
        .map(|s| format!("manifest {}: skipped {s}", manifest.version))
        .collect();

    let mut keep = manifest.assets.clone();
    keep.extend(playing.into_iter().flat_map(|m| m.assets));
    let room = Room { limit, keep };
    let wanted = manifest.assets.clone();
    let absent: Vec<AssetRef> = with_store(&store, move |s| {
        let mut absent = Vec::new();
        for a in wanted {
            if !s.has_asset(&a)? {
                absent.push(a);
            }
        }
        Ok(absent)
    })
    .await?;
    missing.store(absent.len() as u32, Ordering::Relaxed);
    let needed: u64 = manifest.assets.iter().map(|a| a.size).sum();
    if let Some(limit) = limit
        && needed > limit
    {
        return Err(DownloadError::ManifestTooBig {
            version: manifest.version,
            needed,
            limit,
        });
    }
    for (i, asset) in absent.iter().enumerate() {
        missing.store((absent.len() - i) as u32, Ordering::Relaxed);
        fetch_asset(&http, &base, &token, &store, asset, &room).await?;
    }
    missing.store(0, Ordering::Relaxed);
    let m = manifest.clone();
    let lines = skipped.clone();
    with_store(&store, move |s| {
        s.set_manifest(&m)?;
        s.set_manifest_skipped(&lines)?;
        // The previous manifest no longer plays: what only it used goes.
        let gone = s.evict_except(&m.assets)?;
        if gone > 0 {
            tracing::info!("evicted {gone} cached assets no manifest uses");
        }
        Ok(())
    })
    .await?;
    Ok(Some(Synced { manifest, skipped }))
}

/// Encodes the frame as PNG (off the async workers) and uploads it with
/// `PUT /api/player/screenshot`; failures are logged, the next request retries.
/// Sends one batch of the journal; what the server does not take stays.
async fn send_logs(http: reqwest::Client, base: String, token: String, journal: journal::Journal) {
    let batch = journal.take();
    let Some(last) = batch.last().map(|e| e.cursor.clone()) else {
        return;
    };
    let entries: Vec<_> = batch.iter().map(|e| &e.entry).collect();
    let resp = http
        .post(format!("{base}/api/player/logs"))
        .bearer_auth(token)
        .json(&entries)
        .send()
        .await;
    match resp {
        Ok(r) if r.status().is_success() => journal.accepted(&last),
        Ok(r) if r.status().is_client_error() => {
            // Sending it again would be refused again: dropped, said once.
            tracing::warn!(
                "the server refused {} log entries: {}",
                batch.len(),
                r.status()
            );
            journal.accepted(&last);
        }
        Ok(r) => {
            tracing::info!("log entries not sent: the server answered {}", r.status());
            journal.give_back(batch);
        }
        Err(e) => {
            tracing::info!("log entries not sent: {e}");
            journal.give_back(batch);
        }
    }
}

async fn upload_screenshot(
    http: reqwest::Client,
    base: String,
    store: Arc<Mutex<Store>>,
    (width, height, rgba): (u32, u32, Vec<u8>),
) {
    let png = tokio::task::spawn_blocking(move || {
        let img = image::RgbaImage::from_raw(width, height, rgba)?;
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .ok()?;
        Some(bytes)
    })
    .await;
    let Ok(Some(png)) = png else {
        tracing::warn!("screenshot of {width}x{height} could not be encoded");
        return;
    };
    let token = match with_store(&store, |s| s.token()).await {
        Ok(Some(t)) => t,
        _ => return,
    };
    let resp = http
        .put(format!("{base}/api/player/screenshot"))
        .bearer_auth(token)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await;
    match resp {
        Ok(r) if r.status().is_success() => tracing::info!("screenshot uploaded"),
        Ok(r) => tracing::warn!("screenshot upload: the server answered {}", r.status()),
        Err(e) => tracing::warn!("screenshot upload failed: {e}"),
    }
}
