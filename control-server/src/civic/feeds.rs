//! Feed health: one row per data source (a CAP sender, a NINA district, a
//! sensor network, a transit feed), updated by whatever polls or receives it,
//! and shown at `GET /api/feeds`.
//!
//! Every poller reports each attempt with [`report_ok`] or [`report_error`];
//! a failing feed keeps its last good data and its age shows here. Pollers
//! fetch with [`http_client`], whose timeouts turn a hanging server into a
//! reported error instead of a stuck task.

use crate::auth::{Role, Staff};
use crate::config::Config;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/feeds", get(list))
}

/// Records a successful fetch or delivery of `name`; its data is current now.
pub async fn report_ok(db: &Db, name: &str, kind: &str) -> Result<(), ApiError> {
    report_ok_as_of(db, name, kind, Utc::now()).await
}

/// Records a success whose data was current at `as_of` (e.g. a feed's own timestamp).
pub async fn report_ok_as_of(
    db: &Db,
    name: &str,
    kind: &str,
    as_of: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (name, kind) = (name.to_owned(), kind.to_owned());
    let as_of = as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.call(move |c| {
        c.execute(
            "INSERT INTO feeds (name, kind, last_success, data_as_of) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,
                last_success = excluded.last_success, data_as_of = excluded.data_as_of",
            rusqlite::params![name, kind, crate::db::now_text(), as_of],
        )?;
        Ok(())
    })
    .await
}

/// Records a failed attempt; the last good data and its time stay.
pub async fn report_error(db: &Db, name: &str, kind: &str, msg: &str) -> Result<(), ApiError> {
    tracing::warn!(feed = name, kind, "feed failed: {msg}");
    let (name, kind, msg) = (name.to_owned(), kind.to_owned(), msg.to_owned());
    db.call(move |c| {
        c.execute(
            "INSERT INTO feeds (name, kind, last_error, last_error_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,
                last_error = excluded.last_error, last_error_at = excluded.last_error_at",
            rusqlite::params![name, kind, msg, crate::db::now_text()],
        )?;
        Ok(())
    })
    .await
}

/// The HTTP client every poller uses: connect timeout, total timeout, no redirects
/// to elsewhere than the feed's own answers need.
pub fn http_client(config: &Config) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(config.feed_connect_timeout_ms))
        .timeout(Duration::from_millis(config.feed_timeout_ms))
        .user_agent(concat!(
            "stadtbildschirme-control-server/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .unwrap_or_else(|e| {
            tracing::error!("cannot build the feed HTTP client ({e}); using defaults");
            reqwest::Client::new()
        })
}

/// A fetch error in words for the feed-health view; timeouts say so.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timeout: the feed server did not answer in time ({e})")
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else if let Some(status) = e.status() {
        format!("HTTP {status}")
    } else if e.is_decode() {
        format!("unexpected response: {e}")
    } else {
        e.to_string()
    }
}

/// One feed as `GET /api/feeds` shows it.
#[derive(Debug, Serialize)]
pub struct FeedHealth {
    pub name: String,
    pub kind: String,
    /// Whether the last attempt succeeded.
    pub ok: bool,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub data_as_of: Option<String>,
    /// Seconds since the data was current; `None` before the first success.
    pub data_age_s: Option<i64>,
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<FeedHealth>>> {
    staff.require(Role::Viewer)?;
    let now = Utc::now();
    let feeds =
        s.db.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, kind, last_success, last_error, last_error_at, data_as_of
                   FROM feeds ORDER BY kind, name",
            )?;
            let rows = stmt.query_map([], |r| {
                let last_success: Option<String> = r.get(2)?;
                let last_error_at: Option<String> = r.get(4)?;
                let data_as_of: Option<String> = r.get(5)?;
                let data_age_s = data_as_of
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0));
                // Both are RFC 3339 UTC with the same precision: text order is time order.
                let ok = match (&last_success, &last_error_at) {
                    (Some(s), Some(e)) => s >= e,
                    (Some(_), None) => true,
                    _ => false,
                };
                Ok(FeedHealth {
                    name: r.get(0)?,
                    kind: r.get(1)?,
                    ok,
                    last_success,
                    last_error: r.get(3)?,
                    last_error_at,
                    data_as_of,
                    data_age_s,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(feeds))
}
