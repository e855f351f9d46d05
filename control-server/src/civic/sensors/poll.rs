//! Pollers for public sensors: sensor.community (airrohr JSON, values as
//! strings, pressure in Pa) and openSenseMap boxes (`/boxes/{id}`).
//!
//! A response of an unexpected shape or a server that does not answer in time
//! is a feed error: logged, recorded on the station (`last_error`), never a
//! crash. A single implausible value is skipped with a log line; the rest of
//! the response is still used.

use super::{Normalised, ReadingView, Station, normalise};
use crate::state::AppState;
use chrono::{DateTime, NaiveDateTime, Utc};
use content::live::Quantity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest response body taken from a sensor feed.
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// `https://data.sensor.community/airrohr/v1/sensor/{id}/`
    SensorCommunity,
    /// `https://api.opensensemap.org/boxes/{id}`
    #[serde(rename = "opensensemap")]
    OpenSenseMap,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::SensorCommunity => "sensor_community",
            FeedKind::OpenSenseMap => "opensensemap",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed did not answer within the timeout")]
    Timeout,
    #[error("feed request failed: {0}")]
    Http(String),
    #[error("feed answered HTTP {0}")]
    Status(u16),
    #[error("feed response is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("feed response has an unexpected shape: {0}")]
    Shape(String),
    #[error("unknown feed kind {0:?}")]
    Kind(String),
    #[error("storing readings failed: {0}")]
    Store(String),
}

/// A value as the feed gave it, before normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawValue {
    pub quantity: Quantity,
    pub value: f64,
    pub unit: &'static str,
    pub measured_at: DateTime<Utc>,
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// airrohr JSON: an array of measurements (or one), each with a `timestamp`
/// ("YYYY-MM-DD HH:MM:SS", UTC) and `sensordatavalues` whose values are strings.
pub fn parse_sensor_community(body: &Value) -> Result<Vec<RawValue>, FeedError> {
    let entries: Vec<&Value> = match body {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![body],
        _ => return Err(FeedError::Shape("expected an array of measurements".into())),
    };
    let mut out = Vec::new();
    for e in entries {
        let values = e
            .get("sensordatavalues")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                FeedError::Shape("a measurement has no sensordatavalues array".into())
            })?;
        let at = e
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
            .map(|t| t.and_utc())
            .ok_or_else(|| FeedError::Shape("a measurement has no valid timestamp".into()))?;
        for v in values {
            let Some(kind) = v.get("value_type").and_then(Value::as_str) else {
                return Err(FeedError::Shape(
                    "a sensordatavalue has no value_type".into(),
                ));
            };
            let (quantity, unit) = match kind {
                "P1" => (Quantity::Pm10, "µg/m³"),
                "P2" => (Quantity::Pm25, "µg/m³"),
                "temperature" => (Quantity::Temperature, "°C"),
                "humidity" => (Quantity::Humidity, "%"),
                "pressure" => (Quantity::Pressure, "Pa"),
                _ => continue,
            };
            let value = v.get("value").and_then(number).unwrap_or(f64::NAN);
            out.push(RawValue {
                quantity,
                value,
                unit,
                measured_at: at,
            });
        }
    }
    Ok(out)
}

/// openSenseMap box: `sensors[]` with `title`, `unit` and `lastMeasurement
/// {value (string), createdAt}`. Sensors are recognised by title.
pub fn parse_opensensemap(body: &Value) -> Result<Vec<RawValue>, FeedError> {
    let sensors = body
        .get("sensors")
        .and_then(Value::as_array)
        .ok_or_else(|| FeedError::Shape("a box has no sensors array".into()))?;
    let mut out = Vec::new();
    for s in sensors {
        let title = s
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        let unit_given = s.get("unit").and_then(Value::as_str).unwrap_or("").trim();
        let quantity = if title.contains("pm10") {
            Quantity::Pm10
        } else if title.contains("pm2.5") || title.contains("pm2,5") || title.contains("pm25") {
            Quantity::Pm25
        } else if title.contains("temperatur") {
            Quantity::Temperature
        } else if title.contains("feuchte") || title.contains("humidity") {
            Quantity::Humidity
        } else if title.contains("druck") || title.contains("pressure") {
            Quantity::Pressure
        } else if title.contains("no2") || title.contains("stickstoffdioxid") {
            Quantity::No2
        } else if title.contains("ozon") || title == "o3" || title.contains("ozone") {
            Quantity::O3
        } else {
            continue;
        };
        let Some(last) = s.get("lastMeasurement").filter(|v| !v.is_null()) else {
            continue;
        };
        let at = last
            .get("createdAt")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| FeedError::Shape(format!("sensor {title:?} has no valid createdAt")))?;
        let value = last.get("value").and_then(number).unwrap_or(f64::NAN);
        let unit = match unit_given {
            "Pa" => "Pa",
            "hPa" | "mbar" => "hPa",
            "ppb" => "ppb",
            "K" => "K",
            _ => quantity.unit(),
        };
        out.push(RawValue {
            quantity,
            value,
            unit,
            measured_at: at,
        });
    }
    Ok(out)
}

/// Normalises what a feed gave; implausible values are logged and skipped,
/// and returned as messages (second) for the feed-health view.
pub fn normalise_all(station: &str, raw: Vec<RawValue>) -> (Vec<Normalised>, Vec<String>) {
    let mut skipped = Vec::new();
    let ok = raw
        .into_iter()
        .filter_map(|r| match normalise(r.quantity, r.value, Some(r.unit)) {
            Ok(value) => Some(Normalised {
                quantity: r.quantity,
                value,
                measured_at: r.measured_at,
            }),
            Err(e) => {
                tracing::warn!(station, "skipping sensor value: {e}");
                skipped.push(e.to_string());
                None
            }
        })
        .collect();
    (ok, skipped)
}

async fn fetch(s: &AppState, url: &str) -> Result<Value, FeedError> {
    let map = |e: reqwest::Error| {
        if e.is_timeout() {
            FeedError::Timeout
        } else {
            FeedError::Http(e.to_string())
        }
    };
    let mut resp = s.sensors.http.get(url).send().await.map_err(map)?;
    if !resp.status().is_success() {
        return Err(FeedError::Status(resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(map)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FeedError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| FeedError::Shape(format!("not JSON: {e}")))
}

/// Polls one station, stores and pushes what it gave, and records the outcome
/// on the station (`last_poll_at`, `last_error`).
pub async fn poll_station(s: &AppState, station: &Station) -> Result<Vec<ReadingView>, FeedError> {
    let result = poll_inner(s, station).await;
    let kind = station.feed_kind.clone().unwrap_or_default();
    let error = result.as_ref().err().map(ToString::to_string);
    match &error {
        None => tracing::debug!(station = %station.id, kind, "sensor feed polled"),
        Some(e) => tracing::warn!(station = %station.id, kind, "sensor feed failed: {e}"),
    }
    let id = station.id.clone();
    let recorded =
        s.db.call(move |c| {
            c.execute(
                "UPDATE sensors SET last_poll_at = ?2, last_error = ?3 WHERE id = ?1",
                rusqlite::params![id, crate::db::now_text(), error],
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = recorded {
        tracing::error!("recording sensor feed health failed: {e}");
    }
    // The shared feed-health view (`GET /api/feeds`). Skipped values are noted
    // as its last error before the success is recorded: the feed stays "ok"
    // (it delivered), and staff still see what it sent that was refused.
    let name = format!("sensor:{}", station.id);
    if let Ok((_, skipped)) = &result
        && !skipped.is_empty()
    {
        let note = format!(
            "skipped {} implausible value(s): {}",
            skipped.len(),
            skipped.join("; ")
        );
        if let Err(e) = crate::civic::feeds::report_error(&s.db, &name, &kind, &note).await {
            tracing::error!("reporting sensor feed health failed: {e}");
        }
    }
    let reported = match &result {
        Ok(_) => crate::civic::feeds::report_ok(&s.db, &name, &kind).await,
        Err(e) => crate::civic::feeds::report_error(&s.db, &name, &kind, &e.to_string()).await,
    };
    if let Err(e) = reported {
        tracing::error!("reporting sensor feed health failed: {e}");
    }
    result.map(|(views, _)| views)
}

/// The readings taken and the messages of the values skipped.
async fn poll_inner(
    s: &AppState,
    station: &Station,
) -> Result<(Vec<ReadingView>, Vec<String>), FeedError> {
    let url = station.feed_url.as_deref().unwrap_or_default();
    let kind = station.feed_kind.as_deref().unwrap_or_default();
    let body = fetch(s, url).await?;
    let raw = match kind {
        "sensor_community" => parse_sensor_community(&body)?,
        "opensensemap" => parse_opensensemap(&body)?,
        other => return Err(FeedError::Kind(other.to_owned())),
    };
    let (readings, skipped) = normalise_all(&station.id, raw);
    let views = super::ingest(&s.db, &s.hub, &s.sensors, &station.id, readings, Utc::now())
        .await
        .map_err(|e| FeedError::Store(e.to_string()))?;
    Ok((views, skipped))
}

/// Polls every public station, one after the other, every `poll_every`.
pub async fn poll_loop(s: AppState) {
    let mut tick = tokio::time::interval(s.sensors.poll_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let stations = match s.db.call(|c| super::stations(c)).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("listing sensor feeds failed: {e}");
                continue;
            }
        };
        for st in stations.iter().filter(|st| st.feed_kind.is_some()) {
            // Errors are recorded on the station inside.
            let _ = poll_station(&s, st).await;
        }
    }
}
