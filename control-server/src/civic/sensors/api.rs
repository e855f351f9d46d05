//! Sensor routes: stations (admin), the push endpoint (per-sensor token),
//! latest readings and hourly history (public).

use super::{Normalised, ReadingView, normalise, poll};
use crate::auth::{Role, Staff, hash_token, new_token};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use content::live::Quantity;
use content::model::Ars;
use rusqlite::OptionalExtension;
use serde::Deserialize;
use serde_json::{Value, json};

/// Readings accepted per push.
const MAX_PUSH: usize = 500;
/// How far in the future a sensor clock may be.
const CLOCK_SKEW_S: i64 = 300;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sensors", get(list).post(create))
        .route("/api/sensors/readings", get(readings).post(push))
        .route("/api/sensors/{id}", axum::routing::delete(remove))
        .route("/api/sensors/{id}/token", post(rotate_token))
        .route("/api/sensors/{id}/poll", post(poll_now))
        .route("/api/sensors/{id}/history", get(history))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStation {
    id: String,
    name: String,
    lat: f64,
    lon: f64,
    ars: Ars,
    /// A public sensor to poll instead of a pushing one.
    #[serde(default)]
    feed: Option<Feed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Feed {
    kind: poll::FeedKind,
    url: String,
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewStation>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    staff.require(Role::Admin)?;
    if !valid_id(&req.id) {
        return Err(ApiError::Invalid(
            "a sensor id has 1 to 64 characters from A-Z a-z 0-9 - _ . :".into(),
        ));
    }
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Invalid(
            "a sensor name has 1 to 200 characters".into(),
        ));
    }
    if !(-90.0..=90.0).contains(&req.lat) || !(-180.0..=180.0).contains(&req.lon) {
        return Err(ApiError::Invalid(format!(
            "coordinates out of range: lat {} lon {}",
            req.lat, req.lon
        )));
    }
    if let Some(f) = &req.feed
        && !(f.url.starts_with("http://") || f.url.starts_with("https://"))
    {
        return Err(ApiError::Invalid(
            "a feed url must be http:// or https://".into(),
        ));
    }
    // Polled stations have no token: nobody pushes for them.
    let token = req.feed.is_none().then(new_token);
    let hash = token.as_ref().map(|t| t.1.clone());
    let actor = staff.username.clone();
    let id = req.id.clone();
    s.db.transaction(move |tx| {
        let exists: Option<i64> = tx
            .query_row("SELECT 1 FROM sensors WHERE id = ?1", [&req.id], |r| r.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(ApiError::Conflict(format!("sensor {} exists", req.id)));
        }
        tx.execute(
            "INSERT INTO sensors (id, name, lat, lon, ars, token_hash, feed_kind, feed_url, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                req.id,
                name,
                req.lat,
                req.lon,
                req.ars.as_str(),
                hash,
                req.feed.as_ref().map(|f| f.kind.as_str()),
                req.feed.as_ref().map(|f| f.url.clone()),
                crate::db::now_text()
            ],
        )?;
        crate::audit::record(tx, &actor, "sensor.create", &format!("sensor {}", req.id), json!({}))?;
        Ok(())
    })
    .await?;
    let mut body = json!({ "id": id });
    if let Some((token, _)) = token {
        body["token"] = Value::String(token);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Value>> {
    staff.require(Role::Viewer)?;
    let stations = s.db.call(|c| super::stations(c)).await?;
    Ok(Json(json!({ "sensors": stations })))
}

async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        if tx.execute("DELETE FROM sensors WHERE id = ?1", [&id])? == 0 {
            return Err(ApiError::NotFound(format!("sensor {id}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "sensor.delete",
            &format!("sensor {id}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_token(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    staff.require(Role::Admin)?;
    let (token, hash) = new_token();
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        let n = tx.execute(
            "UPDATE sensors SET token_hash = ?2 WHERE id = ?1 AND feed_kind IS NULL",
            [&id, &hash],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!("pushing sensor {id}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "sensor.token",
            &format!("sensor {id}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "token": token })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Push {
    readings: Vec<PushReading>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushReading {
    quantity: Quantity,
    /// `null` stands for NaN and infinities, which JSON cannot carry.
    value: Option<f64>,
    /// Default: the quantity's normalised unit.
    #[serde(default)]
    unit: Option<String>,
    /// Default: when the server receives it.
    #[serde(default)]
    measured_at: Option<DateTime<Utc>>,
}

/// The station a sensor's bearer token belongs to.
async fn sensor_for_token(s: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    let hash = hash_token(token);
    s.db.call(move |c| {
        c.query_row(
            "SELECT id FROM sensors WHERE token_hash = ?1 AND feed_kind IS NULL",
            [hash],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .ok_or(ApiError::Unauthorized)
    })
    .await
}

/// The feed-health kind of a station that pushes its own readings.
const PUSH_KIND: &str = "sensor_push";

/// Normalises a pushed batch; all or nothing: one bad value refuses the
/// batch, naming it.
fn validate(
    readings: Vec<PushReading>,
    now: DateTime<Utc>,
    raw_days: u32,
) -> Result<Vec<Normalised>, ApiError> {
    let oldest = now - chrono::Duration::days(i64::from(raw_days));
    let mut ok = Vec::with_capacity(readings.len());
    for (i, r) in readings.into_iter().enumerate() {
        let value = r.value.unwrap_or(f64::NAN);
        let v = normalise(r.quantity, value, r.unit.as_deref())
            .map_err(|e| ApiError::Invalid(format!("readings[{i}]: {e}")))?;
        let at = r.measured_at.unwrap_or(now);
        if at > now + chrono::Duration::seconds(CLOCK_SKEW_S) {
            return Err(ApiError::Invalid(format!(
                "readings[{i}]: measured_at {at} is in the future"
            )));
        }
        if at < oldest {
            return Err(ApiError::Invalid(format!(
                "readings[{i}]: measured_at {at} is older than the {raw_days} days kept"
            )));
        }
        ok.push(Normalised {
            quantity: r.quantity,
            value: v,
            measured_at: at,
        });
    }
    Ok(ok)
}

async fn push(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Push>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let station = sensor_for_token(&s, &headers).await?;
    if req.readings.is_empty() || req.readings.len() > MAX_PUSH {
        return Err(ApiError::Invalid(format!(
            "send 1 to {MAX_PUSH} readings per request"
        )));
    }
    let now = Utc::now();
    // A refused batch is logged and shows in the feed-health view under the
    // station's name, like a failed poll, so a broken sensor is noticed.
    let feed = format!("sensor:{station}");
    let ok = match validate(req.readings, now, s.sensors.raw_days) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::warn!(station, "sensor push refused: {e}");
            if let Err(db) =
                crate::civic::feeds::report_error(&s.db, &feed, PUSH_KIND, &e.to_string()).await
            {
                tracing::error!("reporting sensor feed health failed: {db}");
            }
            return Err(e);
        }
    };
    let views = super::ingest(&s.db, &s.hub, &s.sensors, &station, ok, now).await?;
    if let Err(e) = crate::civic::feeds::report_ok(&s.db, &feed, PUSH_KIND).await {
        tracing::error!("reporting sensor feed health failed: {e}");
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "station": station, "accepted": views.len(), "readings": views })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingsQuery {
    #[serde(default)]
    station: Option<String>,
}

/// The latest reading per station and quantity, with class and `stale`.
async fn readings(
    State(s): State<AppState>,
    Query(q): Query<ReadingsQuery>,
) -> ApiResult<Json<Value>> {
    let service = s.sensors.clone();
    let views: Vec<ReadingView> =
        s.db.call(move |c| super::latest(c, &service, q.station.as_deref(), Utc::now()))
            .await?;
    Ok(Json(json!({ "readings": views })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    quantity: String,
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
}

/// Hourly aggregates (min/avg/max/count) of one quantity.
async fn history(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let quantity = super::parse_quantity(&q.quantity)
        .ok_or_else(|| ApiError::Invalid(format!("unknown quantity {:?}", q.quantity)))?;
    let to = q.to.unwrap_or_else(Utc::now).timestamp();
    let from = q.from.map_or(to - 30 * 86_400, |f| f.timestamp());
    let st = id.clone();
    let hours =
        s.db.call(move |c| super::hourly(c, &st, quantity, from, to))
            .await?;
    Ok(Json(json!({
        "station": id,
        "quantity": quantity,
        "unit": quantity.unit(),
        "hourly": hours,
    })))
}

/// Polls one public station now; the answer says how it went.
async fn poll_now(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    staff.require(Role::Admin)?;
    let st = id.clone();
    let station =
        s.db.call(move |c| {
            super::stations(c)?
                .into_iter()
                .find(|x| x.id == st && x.feed_kind.is_some())
                .ok_or_else(|| ApiError::NotFound(format!("polled sensor {st}")))
        })
        .await?;
    let outcome = poll::poll_station(&s, &station).await;
    Ok(Json(match outcome {
        Ok(views) => json!({ "ok": true, "readings": views }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }))
}
