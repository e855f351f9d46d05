//! `GET /api/audit?limit=N&before_id=M` (admin): the audit log, newest first,
//! paged by id; `limit` defaults to 100 and is clamped to 1..=1000.

use super::{Role, Staff};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/audit", get(list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<i64>,
    before_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct AuditEntry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: Value,
}

async fn list(
    staff: Staff,
    State(s): State<AppState>,
    page: Result<Query<Page>, QueryRejection>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    staff.require(Role::Admin)?;
    let Query(page) = page.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    // Out-of-range limits are clamped rather than refused.
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let before = page.before_id.unwrap_or(i64::MAX);
    let entries =
        s.db.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, at, actor, action, target, detail FROM audit_log
                  WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![before, limit], |r| {
                let detail: String = r.get(5)?;
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(entries))
}
