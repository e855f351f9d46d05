//! Transit routes: GTFS import, realtime upload, operator occupancy (admin or
//! editor), departures and status.

use super::{besetztgrad, gtfs};
use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/transit/gtfs", post(import))
        .route(
            "/api/transit/realtime",
            post(realtime).layer(DefaultBodyLimit::max(super::MAX_RT_BYTES)),
        )
        .route("/api/transit/occupancy", post(occupancy))
        .route("/api/transit/departures", get(departures))
        .route("/api/transit/status", get(status))
        .route("/api/open/transit/alerts", get(open_alerts))
}

/// Public, read-only: every service alert of the last good realtime feed in
/// force now, with the feed's time and the open-data licence.
async fn open_alerts(State(s): State<AppState>) -> Json<Value> {
    let now = Utc::now();
    let snapshot = s.transit.snapshot();
    let alerts: Vec<&super::rt::ServiceAlert> = snapshot
        .as_deref()
        .map(|sn| {
            sn.alerts
                .iter()
                .filter(|a| a.in_force(now).is_some())
                .collect()
        })
        .unwrap_or_default();
    Json(json!({
        "as_of": snapshot.as_deref().map(|sn| sn.as_of),
        "licence": s.config.open_data_licence,
        "alerts": alerts,
    }))
}

/// Streams the zip into the assets' temp directory under the size limit,
/// then reads and stores it.
async fn import(staff: Staff, State(s): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    staff.require(Role::Admin)?;
    let limit = s.transit.settings.gtfs_max_mb.saturating_mul(1024 * 1024);
    let dir = s.config.assets_dir().join("tmp");
    tokio::fs::create_dir_all(&dir).await?;
    let path = dir.join(format!(
        "gtfs-{}.zip",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let result = async {
        let mut file = tokio::fs::File::create(&path).await?;
        let mut stream = body.into_data_stream();
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::TooLarge(limit));
            }
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        drop(file);
        let p = path.clone();
        let feed = tokio::task::spawn_blocking(move || gtfs::read(&p))
            .await
            .map_err(|e| ApiError::internal(format!("gtfs reader: {e}")))??;
        let counts = json!({
            "stops": feed.stops.len(),
            "routes": feed.routes.len(),
            "trips": feed.trips.len(),
            "stop_times": feed.stop_times.len(),
            "calendar": feed.calendar.len(),
            "calendar_dates": feed.calendar_dates.len(),
        });
        let actor = staff.username.clone();
        let audit = counts.clone();
        s.db.transaction(move |tx| {
            gtfs::store(tx, &feed)?;
            crate::audit::record(tx, &actor, "transit.gtfs_import", "gtfs", audit)?;
            Ok(())
        })
        .await?;
        Ok(counts)
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    // Only a refused feed is a feed error; 401/403/413 are the caller's.
    let reported = match &result {
        Ok(_) => crate::civic::feeds::report_ok(&s.db, "gtfs", "gtfs_static").await,
        Err(e @ ApiError::Invalid(_)) => {
            crate::civic::feeds::report_error(&s.db, "gtfs", "gtfs_static", &e.to_string()).await
        }
        Err(_) => Ok(()),
    };
    if let Err(e) = reported {
        tracing::error!("reporting GTFS import health failed: {e}");
    }
    let counts = result?;
    super::forget_pushed(&s);
    Ok(Json(json!({ "imported": counts })))
}

/// A GTFS-Realtime FeedMessage as the body (protobuf); 422 if it does not
/// decode, and the last good data stays.
async fn realtime(staff: Staff, State(s): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    staff.require(Role::Admin)?;
    let result = s.transit.apply(&body, Utc::now());
    super::report_rt(&s, &result).await;
    let snap = result.map_err(|e| ApiError::Invalid(e.to_string()))?;
    Ok(Json(json!({
        "as_of": snap.as_of,
        "trips": snap.trips.len(),
        "alerts": snap.alerts.len(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OccupancyReport {
    trip_id: String,
    /// VDV 454 Besetztgrad: 1 schwach, 2 mittel, 3 stark, 4 überfüllt besetzt.
    besetztgrad: u8,
}

async fn occupancy(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<OccupancyReport>,
) -> ApiResult<Json<Value>> {
    staff.require(Role::Editor)?;
    let occ = besetztgrad(req.besetztgrad).ok_or_else(|| {
        ApiError::Invalid(format!(
            "besetztgrad must be 1 to 4 (VDV 454), got {}",
            req.besetztgrad
        ))
    })?;
    let text = super::occupancy_text(occ);
    let trip = req.trip_id.clone();
    s.db.call(move |c| {
        c.execute(
            "INSERT INTO transit_occupancy (trip_id, occupancy, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (trip_id) DO UPDATE SET occupancy = excluded.occupancy, updated_at = excluded.updated_at",
            rusqlite::params![trip, text, crate::db::now_text()],
        )?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "trip_id": req.trip_id, "occupancy": occ })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeparturesQuery {
    stop: String,
    /// IANA zone for the service day (default Europe/Berlin).
    #[serde(default)]
    tz: Option<String>,
    /// Instant to compute for (default now).
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// The next departures at a stop, with delays, the data's age and the
/// service alerts that name the stop or one of its lines.
async fn departures(
    State(s): State<AppState>,
    Query(q): Query<DeparturesQuery>,
) -> ApiResult<Json<Value>> {
    let tz: Tz = match q.tz.as_deref() {
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::Invalid(format!("unknown time zone {t:?}")))?,
        None => chrono_tz::Europe::Berlin,
    };
    let now = q.at.unwrap_or_else(Utc::now);
    let snapshot = s.transit.snapshot();
    let settings = s.transit.settings.clone();
    let stop = q.stop.clone();
    let snap = snapshot.clone();
    let (as_of, deps, family, routes) =
        s.db.call(move |c| {
            let deps = super::departures(c, &settings, snap.as_deref(), &stop, tz, now)?;
            let as_of = super::as_of(c, snap.as_deref())?;
            let family = super::stop_family(c, &stop)?;
            let routes = super::stop_routes(c, &stop)?;
            Ok((as_of, deps, family, routes))
        })
        .await?;
    let stops: Vec<&str> = family.iter().map(String::as_str).collect();
    // The same alerts the displays get (in force, naming the stop, its
    // station or platforms, or a line serving it), with their full detail.
    let alerts: Vec<&super::rt::ServiceAlert> = snapshot
        .as_deref()
        .map(|sn| {
            sn.alerts
                .iter()
                .filter(|a| a.affects(&stops, &routes) && a.in_force(now).is_some())
                .collect()
        })
        .unwrap_or_default();
    let list: Vec<Value> = deps
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["delay_minutes"] = json!(d.delay_minutes());
            v
        })
        .collect();
    Ok(Json(json!({
        "stop_id": q.stop,
        "as_of": as_of,
        "age_s": (Utc::now() - as_of).num_seconds().max(0),
        "realtime": snapshot.is_some(),
        "departures": list,
        "alerts": alerts,
    })))
}

async fn status(staff: Staff, State(s): State<AppState>) -> ApiResult<(StatusCode, Json<Value>)> {
    staff.require(Role::Viewer)?;
    let import: Option<Value> =
        s.db.call(|c| {
            use rusqlite::OptionalExtension;
            Ok(c.query_row(
                "SELECT imported_at, stops, trips, stop_times FROM gtfs_import WHERE id = 1",
                [],
                |r| {
                    Ok(json!({
                        "imported_at": r.get::<_, String>(0)?,
                        "stops": r.get::<_, i64>(1)?,
                        "trips": r.get::<_, i64>(2)?,
                        "stop_times": r.get::<_, i64>(3)?,
                    }))
                },
            )
            .optional()?)
        })
        .await?;
    let rt = s
        .transit
        .snapshot()
        .map(|sn| json!({ "as_of": sn.as_of, "trips": sn.trips.len(), "alerts": sn.alerts.len() }));
    Ok((
        StatusCode::OK,
        Json(
            json!({ "gtfs": import, "realtime": rt, "realtime_url": s.transit.settings.gtfs_rt_url }),
        ),
    ))
}
