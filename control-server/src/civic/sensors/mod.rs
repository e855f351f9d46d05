//! Environmental sensors: the town's own (pushing with a per-sensor token) and
//! public ones the server polls (sensor.community, openSenseMap).
//!
//! ```text
//!  sensor ──POST /api/sensors/readings──┐
//!  poll.rs (sensor.community, openSenseMap) ──► normalise + validate ──► sensor_readings
//!                                                      │                       │ downsample (hourly)
//!                                                      ▼                       ▼
//!                               Hub::push(LiveData::Sensors) to displays    sensor_hourly
//!                               whose ARS lies within the station's ARS
//! ```
//!
//! Every value is stored in its normalised unit (`Quantity::unit`). The
//! air-quality class comes from the band table in configuration
//! ([`Bands`], shipped in `config/air_quality_bands.json`), never from code.

mod api;
pub mod poll;

pub use api::routes;

use crate::db::Db;
use crate::error::ApiError;
use crate::hub::Hub;
use chrono::{DateTime, TimeZone as _, Utc};
use content::DisplayId;
use content::live::{AirQualityClass, LiveData, Quantity, SensorReading, Trend};
use content::model::{Ars, Display};
use content::protocol::ServerMessage;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The band table shipped with the server; `--air-quality-bands` replaces it.
pub const DEFAULT_BANDS: &str = include_str!("../../../config/air_quality_bands.json");

/// Conversion factors from ppb to µg/m³ at 20 °C and 1013 hPa.
const NO2_UG_PER_PPB: f64 = 1.88;
const O3_UG_PER_PPB: f64 = 1.96;

/// Command-line settings of the sensor service.
#[derive(Debug, Clone, clap::Args)]
pub struct SensorSettings {
    /// JSON file with the air-quality bands (default: the Umweltbundesamt bands
    /// shipped in control-server/config/air_quality_bands.json).
    #[arg(long, env = "CONTROL_AIR_QUALITY_BANDS", global = true)]
    pub air_quality_bands: Option<PathBuf>,
    /// Seconds after which a reading counts as stale.
    #[arg(
        long,
        env = "CONTROL_SENSOR_STALE_S",
        default_value_t = 3600,
        global = true
    )]
    pub sensor_stale_s: u64,
    /// Days raw readings are kept; hourly aggregates are kept for good.
    #[arg(
        long,
        env = "CONTROL_SENSOR_RAW_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub sensor_raw_days: u32,
    /// Seconds between polls of public sensor feeds.
    #[arg(
        long,
        env = "CONTROL_SENSOR_POLL_S",
        default_value_t = 300,
        global = true
    )]
    pub sensor_poll_s: u64,
    /// Milliseconds a sensor feed request may take in all.
    #[arg(
        long,
        env = "CONTROL_SENSOR_FEED_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub sensor_feed_timeout_ms: u64,
}

impl Default for SensorSettings {
    fn default() -> Self {
        SensorSettings {
            air_quality_bands: None,
            sensor_stale_s: 3600,
            sensor_raw_days: 7,
            sensor_poll_s: 300,
            sensor_feed_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BandsError {
    #[error("cannot read air-quality bands {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("air-quality bands {path} are not valid: {message}")]
    Invalid { path: String, message: String },
}

/// Upper bounds (inclusive) of the first four classes; above is "sehr schlecht".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub sehr_gut: f64,
    pub gut: f64,
    pub maessig: f64,
    pub schlecht: f64,
}

/// The air-quality band table, by quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub note: String,
    pub bands: BTreeMap<Quantity, Band>,
}

impl Bands {
    pub fn parse(text: &str, path: &str) -> Result<Bands, BandsError> {
        let invalid = |message: String| BandsError::Invalid {
            path: path.to_owned(),
            message,
        };
        let bands: Bands = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (q, b) in &bands.bands {
            let bounds = [b.sehr_gut, b.gut, b.maessig, b.schlecht];
            if bounds.iter().any(|v| !v.is_finite() || *v < 0.0)
                || bounds.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(invalid(format!(
                    "the bounds of {q:?} must be finite, non-negative and rising"
                )));
            }
        }
        Ok(bands)
    }

    /// The shipped table, or the file at `path`.
    pub fn load(path: Option<&Path>) -> Result<Bands, BandsError> {
        match path {
            None => Bands::parse(DEFAULT_BANDS, "built-in air_quality_bands.json"),
            Some(p) => {
                let shown = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|source| BandsError::Read {
                    path: shown.clone(),
                    source,
                })?;
                Bands::parse(&text, &shown)
            }
        }
    }

    pub fn classify(&self, quantity: Quantity, value: f64) -> Option<AirQualityClass> {
        let b = self.bands.get(&quantity)?;
        Some(if value <= b.sehr_gut {
            AirQualityClass::SehrGut
        } else if value <= b.gut {
            AirQualityClass::Gut
        } else if value <= b.maessig {
            AirQualityClass::Maessig
        } else if value <= b.schlecht {
            AirQualityClass::Schlecht
        } else {
            AirQualityClass::SehrSchlecht
        })
    }
}

/// What the sensor service needs at run time.
#[derive(Debug)]
pub struct SensorService {
    pub bands: Bands,
    pub stale_after: chrono::Duration,
    pub raw_days: u32,
    pub poll_every: Duration,
    pub http: reqwest::Client,
    /// Connections (display, connected since) that have had the current readings.
    delivered: Mutex<BTreeSet<(DisplayId, DateTime<Utc>)>>,
    /// Up to when [`sweep_stale`] has looked for readings turning stale.
    stale_checked_until: Mutex<DateTime<Utc>>,
}

impl SensorService {
    pub fn new(settings: &SensorSettings) -> anyhow::Result<Arc<SensorService>> {
        let bands = Bands::load(settings.air_quality_bands.as_deref())?;
        let timeout = Duration::from_millis(settings.sensor_feed_timeout_ms.max(1));
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("stadtbildschirme/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Arc::new(SensorService {
            bands,
            stale_after: chrono::Duration::seconds(settings.sensor_stale_s as i64),
            raw_days: settings.sensor_raw_days.max(1),
            poll_every: Duration::from_secs(settings.sensor_poll_s.max(1)),
            http,
            delivered: Mutex::new(BTreeSet::new()),
            stale_checked_until: Mutex::new(Utc::now()),
        }))
    }
}

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadingError {
    #[error("{quantity}: value is not a finite number")]
    NotFinite { quantity: &'static str },
    #[error("{quantity}: unit {unit:?} is not accepted (use {accepted})")]
    Unit {
        quantity: &'static str,
        unit: String,
        accepted: &'static str,
    },
    #[error("{quantity}: {value} {unit} is outside the plausible range {min}..{max} {unit}")]
    OutOfRange {
        quantity: &'static str,
        value: f64,
        unit: &'static str,
        min: f64,
        max: f64,
    },
}

fn name(q: Quantity) -> &'static str {
    match q {
        Quantity::Pm10 => "pm10",
        Quantity::Pm25 => "pm25",
        Quantity::No2 => "no2",
        Quantity::O3 => "o3",
        Quantity::Temperature => "temperature",
        Quantity::Humidity => "humidity",
        Quantity::Pressure => "pressure",
    }
}

pub fn parse_quantity(s: &str) -> Option<Quantity> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

/// Plausible range in the normalised unit; outside it a sensor is broken.
fn plausible(q: Quantity) -> (f64, f64) {
    match q {
        Quantity::Pm10 | Quantity::Pm25 => (0.0, 2000.0),
        Quantity::No2 | Quantity::O3 => (0.0, 2000.0),
        Quantity::Temperature => (-60.0, 60.0),
        Quantity::Humidity => (0.0, 100.0),
        Quantity::Pressure => (850.0, 1100.0),
    }
}

/// Converts `value` in `unit` (None: already normalised) to the quantity's
/// normalised unit and checks that it is plausible.
pub fn normalise(q: Quantity, value: f64, unit: Option<&str>) -> Result<f64, ReadingError> {
    let quantity = name(q);
    if !value.is_finite() {
        return Err(ReadingError::NotFinite { quantity });
    }
    let unit = unit.map(|u| u.trim()).unwrap_or(q.unit());
    let unit_error = |accepted| ReadingError::Unit {
        quantity,
        unit: unit.to_owned(),
        accepted,
    };
    let is_ugm3 = |u: &str| matches!(u, "µg/m³" | "μg/m³" | "ug/m3" | "µg/m3" | "ug/m³");
    let v = match q {
        Quantity::Pm10 | Quantity::Pm25 if is_ugm3(unit) => value,
        Quantity::Pm10 | Quantity::Pm25 => return Err(unit_error("µg/m³")),
        Quantity::No2 | Quantity::O3 if is_ugm3(unit) => value,
        Quantity::No2 if unit == "ppb" => value * NO2_UG_PER_PPB,
        Quantity::O3 if unit == "ppb" => value * O3_UG_PER_PPB,
        Quantity::No2 | Quantity::O3 => return Err(unit_error("µg/m³ or ppb")),
        Quantity::Temperature => match unit {
            "°C" | "C" | "degC" => value,
            "K" => value - 273.15,
            _ => return Err(unit_error("°C or K")),
        },
        Quantity::Humidity => match unit {
            "%" | "%RH" | "% rH" => value,
            _ => return Err(unit_error("%")),
        },
        Quantity::Pressure => match unit {
            "hPa" | "mbar" => value,
            "Pa" => value / 100.0,
            _ => return Err(unit_error("hPa or Pa")),
        },
    };
    let (min, max) = plausible(q);
    if !(min..=max).contains(&v) {
        return Err(ReadingError::OutOfRange {
            quantity,
            value: v,
            unit: q.unit(),
            min,
            max,
        });
    }
    Ok(v)
}

/// A normalised, validated reading ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    pub quantity: Quantity,
    pub value: f64,
    pub measured_at: DateTime<Utc>,
}

/// A reading as the APIs show it.
#[derive(Debug, Clone, Serialize)]
pub struct ReadingView {
    pub station: String,
    pub quantity: Quantity,
    pub value: f64,
    pub unit: &'static str,
    pub measured_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<AirQualityClass>,
    /// Against the station's previous reading of the quantity within the hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
    pub stale: bool,
}

/// A station as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Station {
    pub id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub ars: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_url: Option<String>,
    pub last_poll_at: Option<String>,
    pub last_error: Option<String>,
}

pub fn stations(c: &Connection) -> Result<Vec<Station>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, lat, lon, ars, feed_kind, feed_url, last_poll_at, last_error
           FROM sensors ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Station {
            id: r.get(0)?,
            name: r.get(1)?,
            lat: r.get(2)?,
            lon: r.get(3)?,
            ars: r.get(4)?,
            feed_kind: r.get(5)?,
            feed_url: r.get(6)?,
            last_poll_at: r.get(7)?,
            last_error: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn station_ars(c: &Connection, station: &str) -> Result<Ars, ApiError> {
    let ars: String = c.query_row("SELECT ars FROM sensors WHERE id = ?1", [station], |r| {
        r.get(0)
    })?;
    ars.parse()
        .map_err(|e: String| ApiError::internal(format!("sensor {station}: {e}")))
}

/// Stores readings of one station (a repeated timestamp replaces the value)
/// and pushes them to the displays in its area; returns them as shown.
///
/// Each display gets its area's whole current set (every station covering
/// it, the latest fresh reading per quantity), not only this station's new
/// values: a player replaces its sensor readings with each sensors message,
/// so a push of one station must not wipe the others from its panel.
pub async fn ingest(
    db: &Db,
    hub: &Hub,
    service: &Arc<SensorService>,
    station: &str,
    readings: Vec<Normalised>,
    now: DateTime<Utc>,
) -> Result<Vec<ReadingView>, ApiError> {
    if readings.is_empty() {
        return Ok(Vec::new());
    }
    let mut views: Vec<ReadingView> = readings
        .iter()
        .map(|r| view(service, station, r.quantity, r.value, r.measured_at, now))
        .collect();
    let any_fresh = views.iter().any(|v| !v.stale);
    let st = station.to_owned();
    let svc = service.clone();
    let (sets, trends) = db
        .transaction(move |tx| {
            let mut trends = Vec::with_capacity(readings.len());
            {
                let mut prev = tx.prepare_cached(
                    "SELECT value FROM sensor_readings
                      WHERE station = ?1 AND quantity = ?2 AND measured_at < ?3 AND measured_at >= ?3 - 3600
                      ORDER BY measured_at DESC LIMIT 1",
                )?;
                for r in &readings {
                    let before: Option<f64> = prev
                        .query_row(params![st, name(r.quantity), r.measured_at.timestamp()], |x| {
                            x.get(0)
                        })
                        .optional()?;
                    trends.push(before.map(|b| trend(r.quantity, b, r.value)));
                }
            }
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO sensor_readings (station, quantity, measured_at, value)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (station, quantity, measured_at) DO UPDATE SET value = excluded.value",
                )?;
                for r in &readings {
                    ins.execute(params![st, name(r.quantity), r.measured_at.timestamp(), r.value])?;
                }
            }
            if !any_fresh {
                return Ok((Vec::new(), trends));
            }
            let ars = station_ars(tx, &st)?;
            let displays: Vec<Display> = crate::store::all(tx)?
                .into_iter()
                .filter(|d: &Display| d.location.ars.is_within(&ars))
                .collect();
            if displays.is_empty() {
                return Ok((Vec::new(), trends));
            }
            // This batch's trends go with the readings that are now the latest.
            let batch_trend = |q: Quantity, at: DateTime<Utc>| {
                readings
                    .iter()
                    .zip(&trends)
                    // Stored in whole seconds.
                    .find(|(r, _)| r.quantity == q && r.measured_at.timestamp() == at.timestamp())
                    .and_then(|(_, t)| *t)
            };
            let fresh: Vec<ReadingView> = latest(tx, &svc, None, now)?
                .into_iter()
                .filter(|v| !v.stale)
                .collect();
            let areas = station_areas(tx)?;
            // Displays with the same regional key get the same set: encoded once.
            let mut by_ars: BTreeMap<String, (Vec<SensorReading>, Vec<DisplayId>)> =
                BTreeMap::new();
            for d in displays {
                let key = d.location.ars.as_str().to_owned();
                if let Some((_, ids)) = by_ars.get_mut(&key) {
                    ids.push(d.id);
                    continue;
                }
                let set = readings_in_area(&fresh, &areas, &d.location.ars, |v| {
                    (v.station == st)
                        .then(|| batch_trend(v.quantity, v.measured_at))
                        .flatten()
                });
                by_ars.insert(key, (set, vec![d.id]));
            }
            Ok((by_ars.into_values().collect::<Vec<_>>(), trends))
        })
        .await?;
    for (v, t) in views.iter_mut().zip(trends) {
        v.trend = t;
    }
    for (set, ids) in sets {
        if set.is_empty() {
            continue;
        }
        let msg = Hub::encode(&ServerMessage::LiveData(LiveData::Sensors {
            readings: set,
        }));
        hub.push(ids.iter(), &msg);
    }
    Ok(views)
}

/// Rising or falling when the change exceeds 5 % of the previous value (and
/// the quantity's noise floor); steady otherwise.
pub fn trend(q: Quantity, before: f64, now: f64) -> Trend {
    let floor = match q {
        Quantity::Temperature => 0.3,
        Quantity::Humidity => 1.0,
        Quantity::Pressure => 0.5,
        _ => 1.0,
    };
    let threshold = (before.abs() * 0.05).max(floor);
    if now - before > threshold {
        Trend::Rising
    } else if before - now > threshold {
        Trend::Falling
    } else {
        Trend::Steady
    }
}

pub fn view(
    service: &SensorService,
    station: &str,
    quantity: Quantity,
    value: f64,
    measured_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ReadingView {
    ReadingView {
        station: station.to_owned(),
        quantity,
        value,
        unit: quantity.unit(),
        measured_at,
        class: service.bands.classify(quantity, value),
        trend: None,
        stale: now - measured_at > service.stale_after,
    }
}

/// The latest reading of each quantity of each station (optionally one station).
pub fn latest(
    c: &Connection,
    service: &SensorService,
    station: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<ReadingView>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT station, quantity, MAX(measured_at), value FROM sensor_readings
          WHERE ?1 IS NULL OR station = ?1
          GROUP BY station, quantity ORDER BY station, quantity",
    )?;
    let rows = stmt.query_map([station], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, f64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (st, q, at, value) = row?;
        let Some(q) = parse_quantity(&q) else {
            continue;
        };
        out.push(view(service, &st, q, value, unix(at), now));
    }
    Ok(out)
}

pub fn unix(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// What one downsampling run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Downsampled {
    /// Hourly rows written or refreshed.
    pub hours: usize,
    /// Raw readings deleted.
    pub pruned: usize,
}

/// Aggregates every complete hour of raw readings into `sensor_hourly`
/// (min/avg/max/count), then deletes raw readings of whole hours older than
/// `raw_days` before `now`. Both happen in one transaction, so a reading is
/// never pruned before its hour is aggregated.
pub async fn downsample(
    db: &Db,
    now: DateTime<Utc>,
    raw_days: u32,
) -> Result<Downsampled, ApiError> {
    let hour_now = now.timestamp().div_euclid(3600) * 3600;
    let cutoff = (now.timestamp() - i64::from(raw_days) * 86_400).div_euclid(3600) * 3600;
    db.transaction(move |tx| {
        let hours = tx.execute(
            "INSERT INTO sensor_hourly (station, quantity, hour, min, avg, max, count)
             SELECT station, quantity, (measured_at / 3600) * 3600 AS h,
                    MIN(value), AVG(value), MAX(value), COUNT(*)
               FROM sensor_readings WHERE measured_at < ?1
              GROUP BY station, quantity, h
             ON CONFLICT (station, quantity, hour) DO UPDATE SET
                min = excluded.min, avg = excluded.avg, max = excluded.max, count = excluded.count",
            [hour_now],
        )?;
        let pruned = tx.execute(
            "DELETE FROM sensor_readings WHERE measured_at < ?1",
            [cutoff],
        )?;
        Ok(Downsampled { hours, pruned })
    })
    .await
}

/// Downsamples once an hour (and once at start) until the server stops.
pub async fn maintenance(db: Db, raw_days: u32) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match downsample(&db, Utc::now(), raw_days).await {
            Ok(d) => tracing::debug!(
                hours = d.hours,
                pruned = d.pruned,
                "sensor history downsampled"
            ),
            Err(e) => tracing::error!("sensor downsampling failed: {e}"),
        }
    }
}

/// One hourly aggregate.
#[derive(Debug, Clone, Serialize)]
pub struct Hourly {
    pub hour: DateTime<Utc>,
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    pub count: i64,
}

pub fn hourly(
    c: &Connection,
    station: &str,
    quantity: Quantity,
    from: i64,
    to: i64,
) -> Result<Vec<Hourly>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT hour, min, avg, max, count FROM sensor_hourly
          WHERE station = ?1 AND quantity = ?2 AND hour >= ?3 AND hour < ?4 ORDER BY hour",
    )?;
    let rows = stmt.query_map(params![station, name(quantity), from, to], |r| {
        Ok(Hourly {
            hour: unix(r.get(0)?),
            min: r.get(1)?,
            avg: r.get(2)?,
            max: r.get(3)?,
            count: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Each station's area (regional key), to match readings to displays.
fn station_areas(c: &Connection) -> Result<BTreeMap<String, Ars>, ApiError> {
    Ok(stations(c)?
        .into_iter()
        .filter_map(|st| st.ars.parse().ok().map(|a| (st.id, a)))
        .collect())
}

/// The readings of `views` whose station lies within `display_area`, as a
/// player gets them (a player replaces its whole set with each message).
fn readings_in_area(
    views: &[ReadingView],
    areas: &BTreeMap<String, Ars>,
    display_area: &Ars,
    trend: impl Fn(&ReadingView) -> Option<Trend>,
) -> Vec<SensorReading> {
    views
        .iter()
        .filter(|v| {
            areas
                .get(&v.station)
                .is_some_and(|a| display_area.is_within(a))
        })
        .map(|v| SensorReading {
            station: v.station.clone(),
            quantity: v.quantity,
            value: v.value,
            measured_at: v.measured_at,
            trend: trend(v),
            class: v.class,
            stale: v.stale,
        })
        .collect()
}

pub fn quantity_name(q: Quantity) -> &'static str {
    name(q)
}

/// Sends the latest fresh readings of their area to displays that connected
/// since the last run (a live push reaches only the players online at that
/// moment; this keeps pushes from being the only copy). Returns how many
/// displays got readings.
pub async fn resync(
    db: &Db,
    hub: &Hub,
    service: &Arc<SensorService>,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let connected: BTreeSet<(DisplayId, DateTime<Utc>)> = hub
        .connected()
        .into_iter()
        .filter_map(|id| hub.status(id).map(|st| (id, st.connected_since)))
        .collect();
    let newcomers: BTreeSet<(DisplayId, DateTime<Utc>)> = {
        let mut delivered = service.delivered.lock().unwrap_or_else(|p| p.into_inner());
        delivered.retain(|c| connected.contains(c));
        connected.difference(&delivered).copied().collect()
    };
    if newcomers.is_empty() {
        return Ok(0);
    }
    let ids: BTreeSet<DisplayId> = newcomers.iter().map(|(id, _)| *id).collect();
    let svc = service.clone();
    let per_display = db
        .call(move |c| {
            let fresh: Vec<ReadingView> = latest(c, &svc, None, now)?
                .into_iter()
                .filter(|v| !v.stale)
                .collect();
            let areas = station_areas(c)?;
            let displays: Vec<Display> = crate::store::all(c)?;
            Ok(displays
                .into_iter()
                .filter(|d| ids.contains(&d.id))
                .map(|d| {
                    let readings = readings_in_area(&fresh, &areas, &d.location.ars, |_| None);
                    (d.id, readings)
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let mut sent = 0;
    for (id, readings) in per_display {
        if readings.is_empty() {
            continue;
        }
        let msg = Hub::encode(&ServerMessage::LiveData(LiveData::Sensors { readings }));
        sent += hub.push([id].iter(), &msg);
    }
    service
        .delivered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(newcomers);
    Ok(sent)
}

/// Sends readings that turned stale since the last sweep (up to `now`) again,
/// marked `stale`, so displays mark them even when no new data arrives. Each
/// affected display gets its area's whole current set (the fresh readings and
/// the newly stale ones), because a player replaces its sensor readings with
/// each sensors message. Readings that went stale earlier are not repeated:
/// a player that connects later gets only fresh ones from [`resync`]. Returns
/// how many displays were sent something.
pub async fn sweep_stale(
    db: &Db,
    hub: &Hub,
    service: &Arc<SensorService>,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let since = {
        let mut until = service
            .stale_checked_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if now <= *until {
            return Ok(0);
        }
        std::mem::replace(&mut *until, now)
    };
    let connected: BTreeSet<DisplayId> = hub.connected().into_iter().collect();
    if connected.is_empty() {
        return Ok(0);
    }
    let svc = service.clone();
    let stale_after = service.stale_after;
    let per_display = db
        .call(move |c| {
            let current: Vec<ReadingView> = latest(c, &svc, None, now)?
                .into_iter()
                .filter(|v| {
                    let turned = v.measured_at + stale_after;
                    !v.stale || (since < turned && turned <= now)
                })
                .collect();
            if current.iter().all(|v| !v.stale) {
                return Ok(Vec::new());
            }
            let areas = station_areas(c)?;
            let displays: Vec<Display> = crate::store::all(c)?;
            Ok(displays
                .into_iter()
                .filter(|d| connected.contains(&d.id))
                .filter_map(|d| {
                    let readings = readings_in_area(&current, &areas, &d.location.ars, |_| None);
                    readings.iter().any(|r| r.stale).then_some((d.id, readings))
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let mut sent = 0;
    for (id, readings) in per_display {
        let msg = Hub::encode(&ServerMessage::LiveData(LiveData::Sensors { readings }));
        sent += hub.push([id].iter(), &msg);
    }
    Ok(sent)
}

/// Runs [`resync`] and [`sweep_stale`] every 15 seconds.
pub async fn resync_loop(db: Db, hub: Hub, service: Arc<SensorService>) {
    let period = Duration::from_secs(15);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = resync(&db, &hub, &service, Utc::now()).await {
            tracing::error!("sending sensor readings to new connections failed: {e}");
        }
        if let Err(e) = sweep_stale(&db, &hub, &service, Utc::now()).await {
            tracing::error!("marking stale sensor readings on the displays failed: {e}");
        }
    }
}
