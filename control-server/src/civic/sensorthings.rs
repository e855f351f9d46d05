//! Open data: the sensor readings, public and read-only, in the shapes of the
//! OGC SensorThings API 1.1 (Things, Datastreams, Observations) so existing
//! clients can read them, and as CSV. Every answer names its licence
//! (`--open-data-licence`, default "dl-de/by-2-0").
//!
//! A Thing is a station (`@iot.id` = station id); a Datastream is one quantity
//! of one station (`@iot.id` = "station:quantity"); an Observation is one raw
//! reading (`@iot.id` = "station:quantity:unix-seconds"). Raw readings are
//! kept for the configured days; older history is in the hourly CSV.

use crate::civic::sensors::{self, Station, parse_quantity, quantity_name, unix};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use content::live::Quantity;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::{Value, json};

const ROOT: &str = "/api/open/v1.1";
const MAX_TOP: usize = 1000;
const DEFAULT_TOP: usize = 100;
const MAX_CSV_ROWS: i64 = 1_000_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(ROOT, get(root))
        .route("/api/open/v1.1/{entity}", get(collection))
        .route("/api/open/v1.1/{entity}/{related}", get(related))
        .route("/api/open/sensors.csv", get(csv_export))
}

/// Absolute base URL of this server as the client addressed it.
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}{ROOT}")
}

#[derive(Debug, Default, Deserialize)]
struct Paging {
    #[serde(rename = "$top", default)]
    top: Option<usize>,
    #[serde(rename = "$skip", default)]
    skip: Option<usize>,
    #[serde(rename = "$count", default)]
    count: Option<bool>,
}

impl Paging {
    fn top(&self) -> usize {
        self.top.unwrap_or(DEFAULT_TOP).min(MAX_TOP)
    }
    fn skip(&self) -> usize {
        self.skip.unwrap_or(0)
    }
}

/// `Name('key')` or `Name(key)` → (Name, key).
fn split_key(entity: &str) -> (&str, Option<&str>) {
    match entity.split_once('(') {
        Some((name, rest)) => {
            let key = rest.strip_suffix(')').unwrap_or(rest);
            let key = key
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .unwrap_or(key);
            (name, Some(key))
        }
        None => (entity, None),
    }
}

fn page(items: Vec<Value>, total: usize, p: &Paging, next: impl Fn(usize) -> String) -> Value {
    let mut out = json!({ "value": items });
    if p.count.unwrap_or(false) {
        out["@iot.count"] = json!(total);
    }
    if p.skip() + p.top() < total {
        out["@iot.nextLink"] = json!(next(p.skip() + p.top()));
    }
    out
}

async fn root(headers: HeaderMap, State(s): State<AppState>) -> Json<Value> {
    let b = base(&headers);
    Json(json!({
        "value": [
            { "name": "Things", "url": format!("{b}/Things") },
            { "name": "Datastreams", "url": format!("{b}/Datastreams") },
        ],
        "licence": s.config.open_data_licence,
    }))
}

fn thing(b: &str, st: &Station, licence: &str) -> Value {
    json!({
        "@iot.id": st.id,
        "@iot.selfLink": format!("{b}/Things('{}')", st.id),
        "name": st.name,
        "description": format!("Umweltsensor {}", st.name),
        "properties": { "ars": st.ars, "licence": licence },
        "Locations": [{
            "name": st.name,
            "encodingType": "application/geo+json",
            "location": { "type": "Point", "coordinates": [st.lon, st.lat] }
        }],
        "Datastreams@iot.navigationLink": format!("{b}/Things('{}')/Datastreams", st.id),
    })
}

fn datastream(b: &str, st: &Station, q: Quantity, licence: &str) -> Value {
    let id = format!("{}:{}", st.id, quantity_name(q));
    json!({
        "@iot.id": id,
        "@iot.selfLink": format!("{b}/Datastreams('{id}')"),
        "name": format!("{} – {}", q.label_de(), st.name),
        "description": format!("{} at {}", q.label_de(), st.name),
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": { "name": q.unit(), "symbol": q.unit(), "definition": "" },
        "ObservedProperty": { "name": q.label_de(), "definition": quantity_name(q) },
        "properties": { "licence": licence },
        "Thing@iot.navigationLink": format!("{b}/Datastreams('{id}')/Thing"),
        "Observations@iot.navigationLink": format!("{b}/Datastreams('{id}')/Observations"),
    })
}

/// Every (station, quantity) with any stored data.
fn streams(c: &Connection, station: Option<&str>) -> Result<Vec<(Station, Quantity)>, ApiError> {
    let stations = sensors::stations(c)?;
    let mut stmt = c.prepare_cached(
        "SELECT station, quantity FROM sensor_readings WHERE ?1 IS NULL OR station = ?1
         UNION SELECT station, quantity FROM sensor_hourly WHERE ?1 IS NULL OR station = ?1
         ORDER BY 1, 2",
    )?;
    let rows = stmt.query_map([station], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (st, q) = row?;
        if let (Some(station), Some(q)) = (stations.iter().find(|x| x.id == st), parse_quantity(&q))
        {
            out.push((station.clone(), q));
        }
    }
    Ok(out)
}

async fn collection(
    headers: HeaderMap,
    State(s): State<AppState>,
    Path(entity): Path<String>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Value>> {
    let b = base(&headers);
    let licence = s.config.open_data_licence.clone();
    let (name, key) = split_key(&entity);
    let (name, key) = (name.to_owned(), key.map(str::to_owned));
    let out =
        s.db.call(move |c| match (name.as_str(), key) {
            ("Things", None) => {
                let all = sensors::stations(c)?;
                let total = all.len();
                let items = all
                    .iter()
                    .skip(p.skip())
                    .take(p.top())
                    .map(|st| thing(&b, st, &licence))
                    .collect();
                Ok(page(items, total, &p, |skip| {
                    format!("{b}/Things?$top={}&$skip={skip}", p.top())
                }))
            }
            ("Things", Some(id)) => sensors::stations(c)?
                .iter()
                .find(|st| st.id == id)
                .map(|st| thing(&b, st, &licence))
                .ok_or_else(|| ApiError::NotFound(format!("Thing {id}"))),
            ("Datastreams", None) => {
                let all = streams(c, None)?;
                let total = all.len();
                let items = all
                    .iter()
                    .skip(p.skip())
                    .take(p.top())
                    .map(|(st, q)| datastream(&b, st, *q, &licence))
                    .collect();
                Ok(page(items, total, &p, |skip| {
                    format!("{b}/Datastreams?$top={}&$skip={skip}", p.top())
                }))
            }
            ("Datastreams", Some(id)) => {
                let (st, q) = find_stream(c, &id)?;
                Ok(datastream(&b, &st, q, &licence))
            }
            (other, _) => Err(ApiError::NotFound(format!("entity set {other}"))),
        })
        .await?;
    Ok(Json(out))
}

fn find_stream(c: &Connection, id: &str) -> Result<(Station, Quantity), ApiError> {
    let (station, q) = id
        .rsplit_once(':')
        .ok_or_else(|| ApiError::NotFound(format!("Datastream {id}")))?;
    streams(c, Some(station))?
        .into_iter()
        .find(|(_, x)| quantity_name(*x) == q)
        .ok_or_else(|| ApiError::NotFound(format!("Datastream {id}")))
}

async fn related(
    headers: HeaderMap,
    State(s): State<AppState>,
    Path((entity, rel)): Path<(String, String)>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Value>> {
    let b = base(&headers);
    let licence = s.config.open_data_licence.clone();
    let (name, key) = split_key(&entity);
    let Some(key) = key.map(str::to_owned) else {
        return Err(ApiError::NotFound(format!("{entity}/{rel}")));
    };
    let name = name.to_owned();
    let out = s
        .db
        .call(move |c| match (name.as_str(), rel.as_str()) {
            ("Datastreams", "Observations") => {
                let (st, q) = find_stream(c, &key)?;
                let total: i64 = c.query_row(
                    "SELECT COUNT(*) FROM sensor_readings WHERE station = ?1 AND quantity = ?2",
                    params![st.id, quantity_name(q)],
                    |r| r.get(0),
                )?;
                let mut stmt = c.prepare_cached(
                    "SELECT measured_at, value FROM sensor_readings WHERE station = ?1 AND quantity = ?2
                      ORDER BY measured_at DESC LIMIT ?3 OFFSET ?4",
                )?;
                let rows = stmt.query_map(
                    params![st.id, quantity_name(q), p.top() as i64, p.skip() as i64],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)),
                )?;
                let mut items = Vec::new();
                for row in rows {
                    let (at, value) = row?;
                    let id = format!("{key}:{at}");
                    let time = unix(at).to_rfc3339();
                    items.push(json!({
                        "@iot.id": id,
                        "@iot.selfLink": format!("{b}/Observations('{id}')"),
                        "phenomenonTime": time,
                        "resultTime": time,
                        "result": value,
                        "Datastream@iot.navigationLink": format!("{b}/Observations('{id}')/Datastream"),
                    }));
                }
                Ok(page(items, total as usize, &p, |skip| {
                    format!("{b}/Datastreams('{key}')/Observations?$top={}&$skip={skip}", p.top())
                }))
            }
            ("Datastreams", "Thing") => {
                let (st, _) = find_stream(c, &key)?;
                Ok(thing(&b, &st, &licence))
            }
            ("Things", "Datastreams") => {
                let all = streams(c, Some(&key))?;
                if all.is_empty() && !sensors::stations(c)?.iter().any(|st| st.id == key) {
                    return Err(ApiError::NotFound(format!("Thing {key}")));
                }
                let total = all.len();
                let items = all
                    .iter()
                    .skip(p.skip())
                    .take(p.top())
                    .map(|(st, q)| datastream(&b, st, *q, &licence))
                    .collect();
                Ok(page(items, total, &p, |skip| {
                    format!("{b}/Things('{key}')/Datastreams?$top={}&$skip={skip}", p.top())
                }))
            }
            (n, r) => Err(ApiError::NotFound(format!("{n}/{r}"))),
        })
        .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvQuery {
    #[serde(default)]
    quantity: Option<String>,
    #[serde(default)]
    station: Option<String>,
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
    /// "raw" (default) or "hourly".
    #[serde(default)]
    resolution: Option<String>,
}

/// CSV of raw readings or hourly aggregates; every row carries the licence.
async fn csv_export(State(s): State<AppState>, Query(q): Query<CsvQuery>) -> ApiResult<Response> {
    let quantity = match q.quantity.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => Some(
            parse_quantity(v)
                .ok_or_else(|| ApiError::Invalid(format!("unknown quantity {v:?}")))?,
        ),
        None => None,
    };
    let hourly = match q.resolution.as_deref() {
        None | Some("raw") => false,
        Some("hourly") => true,
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "resolution must be raw or hourly, not {other:?}"
            )));
        }
    };
    let from = q.from.map_or(i64::MIN, |t| t.timestamp());
    let to = q.to.map_or(i64::MAX, |t| t.timestamp());
    let licence = s.config.open_data_licence.clone();
    let q_name = quantity.map(quantity_name);
    let station = q.station.clone();
    let body =
        s.db.call(move |c| {
            let mut w = csv::Writer::from_writer(Vec::new());
            let csv_err = |e: csv::Error| ApiError::internal(format!("csv: {e}"));
            if hourly {
                w.write_record([
                    "station", "quantity", "unit", "hour", "min", "avg", "max", "count", "licence",
                ])
                .map_err(csv_err)?;
                let mut stmt = c.prepare_cached(
                    "SELECT station, quantity, hour, min, avg, max, count FROM sensor_hourly
                      WHERE (?1 IS NULL OR quantity = ?1) AND (?2 IS NULL OR station = ?2)
                        AND hour >= ?3 AND hour < ?4 ORDER BY station, quantity, hour LIMIT ?5",
                )?;
                let mut rows = stmt.query(params![q_name, station, from, to, MAX_CSV_ROWS])?;
                while let Some(r) = rows.next()? {
                    let qn: String = r.get(1)?;
                    let unit = parse_quantity(&qn).map_or("", Quantity::unit);
                    w.write_record([
                        r.get::<_, String>(0)?,
                        qn.clone(),
                        unit.to_owned(),
                        unix(r.get(2)?).to_rfc3339(),
                        r.get::<_, f64>(3)?.to_string(),
                        r.get::<_, f64>(4)?.to_string(),
                        r.get::<_, f64>(5)?.to_string(),
                        r.get::<_, i64>(6)?.to_string(),
                        licence.clone(),
                    ])
                    .map_err(csv_err)?;
                }
            } else {
                w.write_record([
                    "station",
                    "quantity",
                    "unit",
                    "measured_at",
                    "value",
                    "licence",
                ])
                .map_err(csv_err)?;
                let mut stmt = c.prepare_cached(
                    "SELECT station, quantity, measured_at, value FROM sensor_readings
                      WHERE (?1 IS NULL OR quantity = ?1) AND (?2 IS NULL OR station = ?2)
                        AND measured_at >= ?3 AND measured_at < ?4
                      ORDER BY station, quantity, measured_at LIMIT ?5",
                )?;
                let mut rows = stmt.query(params![q_name, station, from, to, MAX_CSV_ROWS])?;
                while let Some(r) = rows.next()? {
                    let qn: String = r.get(1)?;
                    let unit = parse_quantity(&qn).map_or("", Quantity::unit);
                    w.write_record([
                        r.get::<_, String>(0)?,
                        qn.clone(),
                        unit.to_owned(),
                        unix(r.get(2)?).to_rfc3339(),
                        r.get::<_, f64>(3)?.to_string(),
                        licence.clone(),
                    ])
                    .map_err(csv_err)?;
                }
            }
            w.into_inner()
                .map_err(|e| ApiError::internal(format!("csv: {e}")))
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sensors.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
