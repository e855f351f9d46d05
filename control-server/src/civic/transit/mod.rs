//! Public transport: GTFS static (imported as a zip), GTFS-Realtime trip
//! updates, vehicle occupancy and service alerts (polled from a URL or
//! uploaded), operator occupancy (VDV 454 Besetztgrad), and the next
//! departures of each display's stops, pushed when they change.
//!
//! ```text
//!  POST /api/transit/gtfs ──► gtfs.rs ──► gtfs_* tables
//!  RT URL poller / POST /api/transit/realtime ──► rt.rs ──► Snapshot (last good, with as_of)
//!  POST /api/transit/occupancy ──► transit_occupancy
//!  refresh(now) every --transit-push-s: departures per stop ──changed?──► LiveData::Departures
//! ```
//!
//! Times are computed in the display's time zone: a GTFS time counts from
//! "noon minus 12 h" of its service day and may pass 24:00:00, so yesterday's
//! service day is searched too.

mod api;
pub mod gtfs;
pub mod rt;

pub use api::routes;

use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Tz;
use content::live::{Departure, LiveData, Occupancy, ServiceAlert};
use content::model::Display;
use content::protocol::ServerMessage;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Departures that left this long ago are still shown (a bus at the stop).
const GRACE_S: i64 = 60;

#[derive(Debug, Clone, clap::Args)]
pub struct TransitSettings {
    /// GTFS-Realtime feed (trip updates, vehicle positions, alerts) to poll; off without it.
    #[arg(long, env = "CONTROL_GTFS_RT_URL", global = true)]
    pub gtfs_rt_url: Option<String>,
    /// Seconds between GTFS-Realtime polls.
    #[arg(
        long,
        env = "CONTROL_GTFS_RT_POLL_S",
        default_value_t = 30,
        global = true
    )]
    pub gtfs_rt_poll_s: u64,
    /// Milliseconds a GTFS-Realtime request may take in all.
    #[arg(
        long,
        env = "CONTROL_GTFS_RT_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub gtfs_rt_timeout_ms: u64,
    /// Seconds between departure refreshes (pushed to players only when changed).
    #[arg(
        long,
        env = "CONTROL_TRANSIT_PUSH_S",
        default_value_t = 30,
        global = true
    )]
    pub transit_push_s: u64,
    /// Largest GTFS zip accepted, in MiB.
    #[arg(
        long,
        env = "CONTROL_GTFS_MAX_MB",
        default_value_t = 512,
        global = true
    )]
    pub gtfs_max_mb: u64,
    /// Minutes ahead departures are listed.
    #[arg(
        long,
        env = "CONTROL_DEPARTURES_HORIZON_MIN",
        default_value_t = 90,
        global = true
    )]
    pub departures_horizon_min: u32,
    /// Departures listed per stop.
    #[arg(
        long,
        env = "CONTROL_DEPARTURES_MAX",
        default_value_t = 10,
        global = true
    )]
    pub departures_max: usize,
}

impl Default for TransitSettings {
    fn default() -> Self {
        TransitSettings {
            gtfs_rt_url: None,
            gtfs_rt_poll_s: 30,
            gtfs_rt_timeout_ms: 10_000,
            transit_push_s: 30,
            gtfs_max_mb: 512,
            departures_horizon_min: 90,
            departures_max: 10,
        }
    }
}

/// What was last pushed for a stop, and to which connected displays.
#[derive(Debug)]
struct Board {
    as_of: DateTime<Utc>,
    departures: Vec<Departure>,
    alerts: Vec<ServiceAlert>,
    /// Connections (display, connected since) that have this board.
    delivered: BTreeSet<(content::DisplayId, DateTime<Utc>)>,
}

/// Run-time state: the last good realtime snapshot and what was last pushed.
#[derive(Debug)]
pub struct TransitService {
    pub settings: TransitSettings,
    pub http: reqwest::Client,
    pub realtime: Mutex<Option<Arc<rt::Snapshot>>>,
    last_pushed: Mutex<HashMap<String, Board>>,
}

impl TransitService {
    pub fn new(settings: &TransitSettings) -> anyhow::Result<Arc<TransitService>> {
        let timeout = Duration::from_millis(settings.gtfs_rt_timeout_ms.max(1));
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Arc::new(TransitService {
            settings: settings.clone(),
            http,
            realtime: Mutex::new(None),
            last_pushed: Mutex::new(HashMap::new()),
        }))
    }

    pub fn snapshot(&self) -> Option<Arc<rt::Snapshot>> {
        self.realtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the realtime data with a decoded feed; a feed that does not
    /// decode leaves the last good one in place.
    pub fn apply(
        &self,
        bytes: &[u8],
        received: DateTime<Utc>,
    ) -> Result<Arc<rt::Snapshot>, rt::RtError> {
        let snap = Arc::new(rt::decode(bytes, received)?);
        *self.realtime.lock().unwrap_or_else(|p| p.into_inner()) = Some(snap.clone());
        Ok(snap)
    }
}

/// VDV 454 Besetztgrad (1 schwach … 4 überfüllt) as an occupancy.
pub fn besetztgrad(grade: u8) -> Option<Occupancy> {
    match grade {
        1 => Some(Occupancy::ManySeatsAvailable),
        2 => Some(Occupancy::FewSeatsAvailable),
        3 => Some(Occupancy::StandingRoomOnly),
        4 => Some(Occupancy::Full),
        _ => None,
    }
}

fn occupancy_name(o: Occupancy) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn service_active(c: &Connection, service: &str, day: NaiveDate) -> Result<bool, ApiError> {
    let date = day.format("%Y%m%d").to_string();
    let exception: Option<i64> = c
        .prepare_cached(
            "SELECT exception_type FROM gtfs_calendar_dates WHERE service_id = ?1 AND date = ?2",
        )?
        .query_row(params![service, date], |r| r.get(0))
        .optional()?;
    if let Some(e) = exception {
        return Ok(e == 1);
    }
    let cal: Option<(String, String, String)> = c
        .prepare_cached(
            "SELECT days, start_date, end_date FROM gtfs_calendar WHERE service_id = ?1",
        )?
        .query_row([service], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(cal.is_some_and(|(days, start, end)| {
        let weekday = day.weekday().num_days_from_monday() as usize;
        days.as_bytes().get(weekday) == Some(&b'1') && start <= date && date <= end
    }))
}

/// "Noon minus 12 h" of `day` in `tz`: the zero of GTFS times that day.
fn service_zero(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    let noon = day.and_hms_opt(12, 0, 0)?;
    let noon = tz.from_local_datetime(&noon).single()?;
    Some(noon.with_timezone(&Utc) - chrono::Duration::hours(12))
}

/// The next departures at `stop_id` (or its platforms, if it is a station) at `now`.
pub fn departures(
    c: &Connection,
    settings: &TransitSettings,
    snapshot: Option<&rt::Snapshot>,
    stop_id: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<Departure>, ApiError> {
    let today = now.with_timezone(&tz).date_naive();
    let horizon = i64::from(settings.departures_horizon_min) * 60;
    let mut out: Vec<(DateTime<Utc>, Departure)> = Vec::new();
    let mut stmt = c.prepare_cached(
        "SELECT st.trip_id, st.stop_sequence, st.stop_id, st.departure_s, t.service_id,
                COALESCE(NULLIF(t.headsign, ''), last.name, r.long_name),
                COALESCE(NULLIF(r.short_name, ''), r.long_name), s.platform_code,
                (SELECT MAX(x.stop_sequence) FROM gtfs_stop_times x WHERE x.trip_id = st.trip_id)
           FROM gtfs_stop_times st
           JOIN gtfs_stops s ON s.stop_id = st.stop_id
           JOIN gtfs_trips t ON t.trip_id = st.trip_id
           JOIN gtfs_routes r ON r.route_id = t.route_id
           LEFT JOIN gtfs_stops last ON last.stop_id = (
                SELECT y.stop_id FROM gtfs_stop_times y WHERE y.trip_id = st.trip_id
                 ORDER BY y.stop_sequence DESC LIMIT 1)
          WHERE (st.stop_id = ?1 OR s.parent_station = ?1)
            AND st.departure_s BETWEEN ?2 AND ?3",
    )?;
    let occupancy_of = |trip: &str| -> Result<Option<Occupancy>, ApiError> {
        let o: Option<String> = c
            .prepare_cached("SELECT occupancy FROM transit_occupancy WHERE trip_id = ?1")?
            .query_row([trip], |r| r.get(0))
            .optional()?;
        Ok(o.and_then(|o| serde_json::from_value(serde_json::Value::String(o)).ok()))
    };
    for day in [today.pred_opt(), Some(today)].into_iter().flatten() {
        let Some(zero) = service_zero(tz, day) else {
            continue;
        };
        let from = (now - zero).num_seconds() - GRACE_S - 3600;
        let to = (now - zero).num_seconds() + horizon;
        let rows = stmt.query_map(params![stop_id, from, to], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<i64>>(8)?,
            ))
        })?;
        for row in rows {
            let (trip, seq, sid, secs, service, dest, line, platform, last_seq) = row?;
            // The last stop of a trip is an arrival, not a departure.
            if last_seq == Some(seq) {
                continue;
            }
            if !service_active(c, &service, day)? {
                continue;
            }
            let planned = zero + chrono::Duration::seconds(secs);
            let trip_rt = snapshot.and_then(|s| s.trips.get(&trip));
            let (expected, skipped) = match trip_rt {
                Some(t) => t.estimate(seq as u32, &sid, planned),
                None => (None, false),
            };
            let cancelled = skipped || trip_rt.is_some_and(|t| t.cancelled);
            let when = expected.unwrap_or(planned);
            if when < now - chrono::Duration::seconds(GRACE_S)
                || planned > now + chrono::Duration::seconds(horizon)
            {
                continue;
            }
            let occupancy = match occupancy_of(&trip)? {
                Some(o) => Some(o),
                None => trip_rt.and_then(|t| t.occupancy),
            };
            out.push((
                when,
                Departure {
                    line,
                    destination: dest.unwrap_or_default(),
                    planned,
                    expected,
                    cancelled,
                    platform,
                    occupancy,
                },
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.line.cmp(&b.1.line)));
    Ok(out
        .into_iter()
        .map(|(_, d)| d)
        .take(settings.departures_max)
        .collect())
}

/// The stop itself, its parent station and its platforms: a service alert
/// may name any of them.
pub fn stop_family(c: &Connection, stop_id: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT stop_id FROM gtfs_stops WHERE stop_id = ?1 OR parent_station = ?1
         UNION SELECT parent_station FROM gtfs_stops WHERE stop_id = ?1 AND parent_station IS NOT NULL AND parent_station != ''",
    )?;
    let mut out = vec![stop_id.to_owned()];
    for s in stmt.query_map([stop_id], |r| r.get::<_, String>(0))? {
        let s = s?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The routes that serve a stop (or its platforms).
pub fn stop_routes(c: &Connection, stop_id: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT t.route_id FROM gtfs_stop_times st JOIN gtfs_trips t ON t.trip_id = st.trip_id
          JOIN gtfs_stops s ON s.stop_id = st.stop_id WHERE st.stop_id = ?1 OR s.parent_station = ?1",
    )?;
    let routes = stmt
        .query_map([stop_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(routes)
}

/// The service alerts of `snapshot` in force at `now` that name the stop,
/// its station or platforms, or a line serving it.
pub fn stop_alerts(
    c: &Connection,
    snapshot: Option<&rt::Snapshot>,
    stop_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ServiceAlert>, ApiError> {
    let Some(snapshot) = snapshot.filter(|s| !s.alerts.is_empty()) else {
        return Ok(Vec::new());
    };
    let family = stop_family(c, stop_id)?;
    let stops: Vec<&str> = family.iter().map(String::as_str).collect();
    let routes = stop_routes(c, stop_id)?;
    Ok(snapshot
        .alerts
        .iter()
        .filter(|a| a.affects(&stops, &routes))
        .filter_map(|a| a.for_display(now))
        .collect())
}

/// When the shown data was current: the realtime snapshot's time, else the import's.
pub fn as_of(c: &Connection, snapshot: Option<&rt::Snapshot>) -> Result<DateTime<Utc>, ApiError> {
    if let Some(s) = snapshot {
        return Ok(s.as_of);
    }
    let imported: Option<String> = c
        .query_row(
            "SELECT imported_at FROM gtfs_import WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(imported
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc)))
}

/// Computes the departures of every stop some display shows and pushes those
/// that changed since the last push (and the current board to displays that
/// connected since); returns for how many stops something was pushed.
pub async fn refresh(s: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let service = s.transit.clone();
    let snapshot = service.snapshot();
    let settings = service.settings.clone();
    // stop → (time zone, displays)
    let computed =
        s.db.call(move |c| {
            let displays: Vec<Display> = crate::store::all(c)?;
            let mut stops: BTreeMap<(String, &'static str), BTreeSet<content::DisplayId>> =
                BTreeMap::new();
            for d in &displays {
                for st in &d.transit_stops {
                    stops
                        .entry((st.id.clone(), d.timezone.0.name()))
                        .or_default()
                        .insert(d.id);
                }
            }
            let as_of = as_of(c, snapshot.as_deref())?;
            let mut out = Vec::new();
            for ((stop, tz), ids) in stops {
                let tz: Tz = tz.parse().unwrap_or(chrono_tz::Europe::Berlin);
                let deps = departures(c, &settings, snapshot.as_deref(), &stop, tz, now)?;
                let alerts = stop_alerts(c, snapshot.as_deref(), &stop, now)?;
                out.push((stop, ids, deps, alerts));
            }
            Ok((as_of, out))
        })
        .await?;
    let (as_of, stops) = computed;
    // Connections, not displays: a player that reconnected needs the board again.
    let connected: BTreeSet<(content::DisplayId, DateTime<Utc>)> = s
        .hub
        .connected()
        .into_iter()
        .filter_map(|id| s.hub.status(id).map(|st| (id, st.connected_since)))
        .collect();
    let mut pushed = 0;
    for (stop, ids, deps, alerts) in stops {
        // A changed board goes to every connected display of the stop; an
        // unchanged one only to displays that connected since (pushes are
        // never the only copy: a reconnecting player gets the board within
        // one period).
        let targets: BTreeSet<(content::DisplayId, DateTime<Utc>)> = connected
            .iter()
            .filter(|(id, _)| ids.contains(id))
            .copied()
            .collect();
        let send: BTreeSet<(content::DisplayId, DateTime<Utc>)> = {
            let mut last = service
                .last_pushed
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match last.get_mut(&stop) {
                Some(b) if b.as_of == as_of && b.departures == deps && b.alerts == alerts => {
                    b.delivered.retain(|id| connected.contains(id));
                    let newcomers: BTreeSet<_> =
                        targets.difference(&b.delivered).copied().collect();
                    b.delivered.extend(newcomers.iter().copied());
                    newcomers
                }
                _ => {
                    last.insert(
                        stop.clone(),
                        Board {
                            as_of,
                            departures: deps.clone(),
                            alerts: alerts.clone(),
                            delivered: targets.clone(),
                        },
                    );
                    targets
                }
            }
        };
        if !send.is_empty() {
            let msg = crate::hub::Hub::encode(&ServerMessage::LiveData(LiveData::Departures {
                stop_id: stop,
                as_of,
                departures: deps,
                alerts,
            }));
            s.hub.push(send.iter().map(|(id, _)| id), &msg);
            pushed += 1;
        }
    }
    Ok(pushed)
}

/// Forgets what was pushed, so the next refresh sends everything (after a
/// new import).
pub fn forget_pushed(s: &AppState) {
    s.transit
        .last_pushed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
}

/// Refreshes departures every `--transit-push-s`.
pub async fn push_loop(s: AppState) {
    // The first refresh waits one period: at start-up no player is connected yet.
    let period = Duration::from_secs(s.transit.settings.transit_push_s.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = refresh(&s, Utc::now()).await {
            tracing::error!("refreshing departures failed: {e}");
        }
    }
}

/// Polls the GTFS-Realtime URL, if configured; a failure keeps the last good data.
pub async fn rt_poll_loop(s: AppState) {
    let Some(url) = s.transit.settings.gtfs_rt_url.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(
        s.transit.settings.gtfs_rt_poll_s.max(1),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = poll_rt(&s, &url).await;
    }
}

/// Largest GTFS-Realtime feed taken.
pub const MAX_RT_BYTES: usize = 64 * 1024 * 1024;

/// Name and kind of the realtime feed in the feed-health view.
pub const RT_FEED: (&str, &str) = ("gtfs-rt", "gtfs_rt");

/// Fetches and applies the realtime feed once; the outcome goes to the
/// feed-health view and a failure keeps the last good data.
pub async fn poll_rt(s: &AppState, url: &str) -> Result<Arc<rt::Snapshot>, rt::RtError> {
    let result = fetch_rt(s, url).await;
    report_rt(s, &result).await;
    result
}

/// Records a realtime feed outcome (polled or uploaded) in the feed-health view.
pub async fn report_rt(s: &AppState, result: &Result<Arc<rt::Snapshot>, rt::RtError>) {
    let (name, kind) = RT_FEED;
    let reported = match result {
        Ok(snap) => crate::civic::feeds::report_ok_as_of(&s.db, name, kind, snap.as_of).await,
        Err(e) => crate::civic::feeds::report_error(&s.db, name, kind, &e.to_string()).await,
    };
    if let Err(e) = reported {
        tracing::error!("reporting GTFS-Realtime feed health failed: {e}");
    }
}

async fn fetch_rt(s: &AppState, url: &str) -> Result<Arc<rt::Snapshot>, rt::RtError> {
    let fetch = |e: reqwest::Error| {
        rt::RtError::Fetch(if e.is_timeout() {
            "timeout: the feed server did not answer in time".into()
        } else {
            e.to_string()
        })
    };
    let mut resp = s.transit.http.get(url).send().await.map_err(fetch)?;
    if !resp.status().is_success() {
        return Err(rt::RtError::Fetch(format!("HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fetch)? {
        if body.len() + chunk.len() > MAX_RT_BYTES {
            return Err(rt::RtError::TooLarge(MAX_RT_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    s.transit.apply(&body, Utc::now())
}

pub fn occupancy_text(o: Occupancy) -> String {
    occupancy_name(o)
}
