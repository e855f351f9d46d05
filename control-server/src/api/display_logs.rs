//! The boards' system logs. A board's journal lives in RAM (the SD card is
//! spared), so its player forwards the warnings and worse here
//! (`player::net::journal`), where they outlive a reboot. Bounded per
//! display: each batch is stored and the display's oldest entries beyond
//! [`KEEP_PER_DISPLAY`] are dropped, in one transaction.

use crate::auth::{PlayerAuth, Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use content::protocol::LogEntry;
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// Entries kept per display, newest first.
pub const KEEP_PER_DISPLAY: i64 = 5000;
const DEFAULT_LIMIT: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/player/logs", post(receive))
        .route("/api/displays/{id}/logs", get(list))
}

async fn receive(
    auth: PlayerAuth,
    State(s): State<AppState>,
    ApiJson(entries): ApiJson<Vec<LogEntry>>,
) -> ApiResult<StatusCode> {
    if entries.len() > LogEntry::MAX_BATCH {
        return Err(ApiError::Invalid(format!(
            "at most {} log entries per batch, not {}",
            LogEntry::MAX_BATCH,
            entries.len()
        )));
    }
    if let Some((i, why)) = entries
        .iter()
        .enumerate()
        .find_map(|(i, e)| e.problem().map(|p| (i, p)))
    {
        return Err(ApiError::Invalid(format!("log entry {i}: {why}")));
    }
    let display = auth.display_id.0;
    let received = Utc::now().to_rfc3339();
    s.db.transaction(move |tx| {
        let mut insert = tx.prepare(
            "INSERT INTO display_logs (display_id, at, priority, source, message, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in &entries {
            insert.execute(params![
                display,
                e.at.to_rfc3339(),
                e.priority,
                e.source,
                e.message,
                received
            ])?;
        }
        tx.execute(
            "DELETE FROM display_logs WHERE display_id = ?1 AND id <= \
             (SELECT id FROM display_logs WHERE display_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            params![display, KEEP_PER_DISPLAY],
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct Filter {
    limit: Option<i64>,
    /// Only entries at least this severe (syslog: a lower number is worse).
    /// Filtered here, not in the console: the newest `limit` entries of a
    /// chatty board could otherwise hide every older error.
    max_priority: Option<u8>,
}

#[derive(Debug, Serialize)]
struct Line {
    at: DateTime<Utc>,
    priority: u8,
    source: String,
    message: String,
    received_at: DateTime<Utc>,
}

async fn list(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Filter>,
) -> ApiResult<Json<Vec<Line>>> {
    staff.require(Role::Viewer)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=KEEP_PER_DISPLAY).contains(&limit) {
        return Err(ApiError::Invalid(format!(
            "limit must be 1 to {KEEP_PER_DISPLAY}"
        )));
    }
    let max_priority = q.max_priority.unwrap_or(7);
    if max_priority > 7 {
        return Err(ApiError::Invalid("max_priority must be 0 to 7".into()));
    }
    let lines =
        s.db.call(move |c| {
            let known: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM displays WHERE id = ?1)",
                [id],
                |r| r.get(0),
            )?;
            if !known {
                return Err(ApiError::NotFound(format!("no display {id}")));
            }
            let mut q = c.prepare(
                "SELECT at, priority, source, message, received_at FROM display_logs \
                 WHERE display_id = ?1 AND priority <= ?3 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = q.query_map(params![id, limit, max_priority], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u8>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            let time = |t: &str| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| ApiError::internal(format!("stored log time {t:?}: {e}")))
            };
            let mut lines = Vec::new();
            for row in rows {
                let (at, priority, source, message, received) = row?;
                lines.push(Line {
                    at: time(&at)?,
                    priority,
                    source,
                    message,
                    received_at: time(&received)?,
                });
            }
            Ok(lines)
        })
        .await?;
    Ok(Json(lines))
}
