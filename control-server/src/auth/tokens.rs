//! API tokens for scripts: `sessions` rows of kind 'api' without expiry.
//! A token is shown once, when it is created; only its hash is kept.
//!
//! Tokens are identified by the `sessions` row's `id`, an INTEGER PRIMARY KEY,
//! so ids stay stable across a `VACUUM`.

use super::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const MAX_LABEL: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list).post(create))
        .route("/api/tokens/{id}", delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    label: String,
}

#[derive(Debug, Serialize)]
struct TokenInfo {
    id: i64,
    label: String,
    created_at: String,
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    staff.require(Role::Viewer)?;
    let label = req.label.trim().to_owned();
    if label.chars().count() > MAX_LABEL {
        return Err(ApiError::Invalid(format!(
            "a token label may have at most {MAX_LABEL} characters"
        )));
    }
    let (token, hash) = super::new_token();
    let (user_id, actor, label_in) = (staff.id, staff.username.clone(), label.clone());
    let id =
        s.db.transaction(move |tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, kind, label, created_at, expires_at)
                 VALUES (?1, ?2, 'api', ?3, ?4, NULL)",
                rusqlite::params![hash, user_id, label_in, crate::db::now_text()],
            )?;
            let id = tx.last_insert_rowid();
            crate::audit::record(
                tx,
                &actor,
                "token.create",
                &format!("token {id}"),
                json!({ "label": label_in, "user": actor }),
            )?;
            Ok(id)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": token, "label": label })),
    ))
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<TokenInfo>>> {
    staff.require(Role::Viewer)?;
    let user_id = staff.id;
    let tokens =
        s.db.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, label, created_at FROM sessions
                  WHERE user_id = ?1 AND kind = 'api' ORDER BY id",
            )?;
            let rows = stmt.query_map([user_id], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(tokens))
}

/// Revokes one of the caller's tokens; admins may revoke anyone's. Someone
/// else's token looks the same as a missing one to non-admins.
async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Viewer)?;
    let is_admin = staff.role >= Role::Admin;
    let (user_id, actor) = (staff.id, staff.username.clone());
    s.db.transaction(move |tx| {
        let owner: Option<String> = tx
            .query_row(
                "SELECT u.username FROM sessions s JOIN users u ON u.id = s.user_id
                  WHERE s.id = ?1 AND s.kind = 'api' AND (?2 OR s.user_id = ?3)",
                rusqlite::params![id, is_admin, user_id],
                |r| r.get(0),
            )
            .optional()?;
        let owner = owner.ok_or_else(|| ApiError::NotFound(format!("token {id}")))?;
        tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        crate::audit::record(
            tx,
            &actor,
            "token.delete",
            &format!("token {id}"),
            json!({ "user": owner }),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
