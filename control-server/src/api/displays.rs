//! Displays: configuration, adoption by pairing code, tokens, live status,
//! screenshots and a preview of what a display plays at a given time.

use super::resources::parse;
use crate::auth::{Role, Staff, new_token};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::hub::{AckKind, Hub, LiveStatus};
use crate::manifests;
use crate::state::AppState;
use crate::store;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use content::DisplayId;
use content::manifest::Manifest;
use content::model::Display;
use content::protocol::{Health, RefusalReason, ServerMessage};
use content::resolve::Resolution;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/displays", get(list).post(create))
        .route("/api/displays/adopt", post(adopt))
        .route("/api/displays/{id}", get(read).put(update).delete(remove))
        .route("/api/displays/{id}/token", post(issue_token))
        .route("/api/displays/{id}/revoke", post(revoke))
        .route(
            "/api/displays/{id}/screenshot",
            get(screenshot).post(request_screenshot),
        )
        .route("/api/displays/{id}/playlist", get(playlist))
        .route("/api/displays/{id}/manifest", get(manifest))
}

/// A display as the dashboard shows it.
#[derive(Debug, Serialize)]
pub struct DisplayView {
    #[serde(flatten)]
    pub display: Display,
    pub adopted: bool,
    pub revoked: bool,
    pub manifest_version: u64,
    pub acked_manifest: Option<u64>,
    pub online: bool,
    pub last_seen: Option<String>,
    pub player_version: String,
    pub health: Option<Health>,
    pub connected_since: Option<DateTime<Utc>>,
}

fn views(c: &Connection, only: Option<i64>) -> Result<Vec<(Display, Row)>, ApiError> {
    let displays: Vec<Display> = match only {
        Some(id) => vec![store::get(c, id)?],
        None => store::all(c)?,
    };
    let mut stmt = c.prepare_cached(
        "SELECT d.token_hash IS NOT NULL, d.revoked_at IS NOT NULL, d.manifest_version,
                s.acked_manifest, s.last_seen, COALESCE(s.player_version, ''), s.health
           FROM displays d LEFT JOIN display_status s ON s.display_id = d.id WHERE d.id = ?1",
    )?;
    displays
        .into_iter()
        .map(|d| {
            let row = stmt.query_row([d.id.0], |r| {
                Ok(Row {
                    adopted: r.get(0)?,
                    revoked: r.get(1)?,
                    manifest_version: r.get::<_, i64>(2)? as u64,
                    acked_manifest: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    last_seen: r.get(4)?,
                    player_version: r.get(5)?,
                    health: r.get(6)?,
                })
            })?;
            Ok((d, row))
        })
        .collect()
}

#[derive(Debug)]
struct Row {
    adopted: bool,
    revoked: bool,
    manifest_version: u64,
    acked_manifest: Option<u64>,
    last_seen: Option<String>,
    player_version: String,
    health: Option<String>,
}

fn view(hub: &Hub, display: Display, row: Row) -> DisplayView {
    let live: Option<LiveStatus> = hub.status(display.id);
    let stored_health = row
        .health
        .and_then(|h| serde_json::from_str::<Health>(&h).ok());
    DisplayView {
        online: live.is_some(),
        health: live
            .as_ref()
            .and_then(|l| l.health.clone())
            .or(stored_health),
        connected_since: live.as_ref().map(|l| l.connected_since),
        last_seen: live
            .as_ref()
            .and_then(|l| l.last_heartbeat)
            .map(|t| t.to_rfc3339())
            .or(row.last_seen),
        player_version: live.map(|l| l.player_version).unwrap_or(row.player_version),
        display,
        adopted: row.adopted,
        revoked: row.revoked,
        manifest_version: row.manifest_version,
        acked_manifest: row.acked_manifest,
    }
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<DisplayView>>> {
    staff.require(Role::Viewer)?;
    let rows = s.db.call(|c| views(c, None)).await?;
    Ok(Json(
        rows.into_iter().map(|(d, r)| view(&s.hub, d, r)).collect(),
    ))
}

async fn read(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<DisplayView>> {
    staff.require(Role::Viewer)?;
    let mut rows = s.db.call(move |c| views(c, Some(id))).await?;
    let (d, r) = rows
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("display {id}")))?;
    Ok(Json(view(&s.hub, d, r)))
}

fn validate(c: &Connection, d: &Display) -> Result<(), ApiError> {
    if d.name.trim().is_empty() {
        return Err(ApiError::Invalid("a display needs a name".into()));
    }
    d.location.validate().map_err(ApiError::Invalid)?;
    d.resolution.validate().map_err(ApiError::Invalid)?;
    d.validate_screen_off().map_err(ApiError::Invalid)?;
    if let Some(l) = d.layout_id
        && store::find::<content::model::Layout>(c, l.0)?.is_none()
    {
        return Err(ApiError::Invalid(format!("unknown layout {l}")));
    }
    for g in &d.groups {
        let known: bool = c.query_row(
            "SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1)",
            [g],
            |r| r.get(0),
        )?;
        if !known {
            return Err(ApiError::Invalid(format!("unknown group {g:?}")));
        }
    }
    Ok(())
}

/// Creates a display from a JSON body (without id) inside `tx`.
pub fn insert(tx: &Connection, body: Value, actor: &str) -> Result<Display, ApiError> {
    let mut d: Display = parse(body, 0)?;
    validate(tx, &d)?;
    store::insert(tx, &mut d)?;
    crate::audit::record(
        tx,
        actor,
        "display.create",
        &format!("display {}", d.id),
        json!({ "name": d.name }),
    )?;
    Ok(d)
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Display>)> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    let d =
        s.db.transaction(move |tx| {
            let d = insert(tx, body, &actor)?;
            Ok(d)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

async fn update(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Display>> {
    staff.require(Role::Admin)?;
    let d: Display = parse(body, id)?;
    let actor = staff.username.clone();
    let (d, version) =
        s.db.transaction(move |tx| {
            store::get::<Display>(tx, id)?;
            validate(tx, &d)?;
            store::update(tx, &d)?;
            let version = manifests::bump(tx, &BTreeSet::from([d.id]))?;
            crate::audit::record(
                tx,
                &actor,
                "display.update",
                &format!("display {id}"),
                json!({ "name": d.name, "screen_off": d.screen_off }),
            )?;
            Ok((d, version))
        })
        .await?;
    manifests::announce(&s.hub, &BTreeSet::from([d.id]), version);
    Ok(Json(d))
}

async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        store::delete::<Display>(tx, id)?;
        crate::audit::record(
            tx,
            &actor,
            "display.delete",
            &format!("display {id}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    disconnect(
        &s.hub,
        DisplayId(id),
        RefusalReason::UnknownToken,
        "this display was removed",
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Tells a connected display why it is being cut off, then drops it.
fn disconnect(hub: &Hub, id: DisplayId, reason: RefusalReason, message: &str) {
    hub.push(
        [id].iter(),
        &Hub::encode(&ServerMessage::Refused {
            reason,
            message: message.into(),
        }),
    );
    hub.disconnect(id);
}

/// Stores a new token for `id` (replacing any old one) and returns it.
fn set_token(c: &Connection, id: i64) -> Result<String, ApiError> {
    let (token, hash) = new_token();
    let n = c.execute(
        "UPDATE displays SET token_hash = ?2, adopted_at = COALESCE(adopted_at, ?3), revoked_at = NULL WHERE id = ?1",
        rusqlite::params![id, hash, crate::db::now_text()],
    )?;
    if n == 0 {
        return Err(ApiError::NotFound(format!("display {id}")));
    }
    Ok(token)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    /// The code the display shows.
    pub code: String,
    /// Adopt as this existing display...
    #[serde(default)]
    pub display_id: Option<DisplayId>,
    /// ...or create this one (a display without `id`).
    #[serde(default)]
    pub display: Option<Value>,
}

#[derive(Debug, Serialize)]
pub struct Adopted {
    pub display_id: DisplayId,
}

async fn adopt(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AdoptRequest>,
) -> ApiResult<Json<Adopted>> {
    staff.require(Role::Admin)?;
    let code: String = req.code.chars().filter(|c| c.is_ascii_digit()).collect();
    if !s.hub.pairing_code_known(&code) {
        return Err(ApiError::NotFound(format!(
            "no display shows the pairing code {:?}",
            req.code
        )));
    }
    let actor = staff.username.clone();
    let (id, token) =
        s.db.transaction(move |tx| {
            let id = match (req.display_id, req.display) {
                (Some(id), None) => store::get::<Display>(tx, id.0)?.id,
                (None, Some(body)) => insert(tx, body, &actor)?.id,
                _ => {
                    return Err(ApiError::Invalid(
                        "give either display_id or display".into(),
                    ));
                }
            };
            let token = set_token(tx, id.0)?;
            crate::audit::record(
                tx,
                &actor,
                "display.adopt",
                &format!("display {id}"),
                json!({}),
            )?;
            Ok((id, token))
        })
        .await?;
    if !s.hub.adopt(&code, id, token) {
        return Err(ApiError::Conflict(
            "the display went away before it could be adopted; try again".into(),
        ));
    }
    Ok(Json(Adopted { display_id: id }))
}

#[derive(Debug, Serialize)]
pub struct IssuedToken {
    pub display_id: DisplayId,
    /// Shown once; only its hash is stored.
    pub token: String,
}

/// Issues a token without pairing, for displays provisioned from a first-boot file.
async fn issue_token(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<IssuedToken>> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    let token =
        s.db.transaction(move |tx| {
            let token = set_token(tx, id)?;
            crate::audit::record(
                tx,
                &actor,
                "display.token",
                &format!("display {id}"),
                json!({}),
            )?;
            Ok(token)
        })
        .await?;
    // Whoever held the old token is cut off.
    s.hub.disconnect(DisplayId(id));
    Ok(Json(IssuedToken {
        display_id: DisplayId(id),
        token,
    }))
}

async fn revoke(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        let n = tx.execute(
            "UPDATE displays SET revoked_at = ?2 WHERE id = ?1 AND token_hash IS NOT NULL",
            rusqlite::params![id, crate::db::now_text()],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!("adopted display {id}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "display.revoke",
            &format!("display {id}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    disconnect(
        &s.hub,
        DisplayId(id),
        RefusalReason::Revoked,
        "this display's token was revoked",
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn request_screenshot(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    staff.require(Role::Viewer)?;
    let display = DisplayId(id);
    s.db.call(move |c| store::get::<Display>(c, id)).await?;
    let msg_id = s.hub.message_id(AckKind::Other);
    let sent = s.hub.push(
        [display].iter(),
        &Hub::encode(&ServerMessage::ScreenshotRequest { id: msg_id }),
    );
    if sent == 0 {
        return Err(ApiError::Conflict(format!(
            "display {id} is offline; its last screenshot is still available"
        )));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "requested": true }))))
}

async fn screenshot(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    staff.require(Role::Viewer)?;
    let path = s.config.screenshots_dir().join(format!("{id}.png"));
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "image/png")], bytes).into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::NotFound(format!("screenshot of display {id}")))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct AtQuery {
    /// RFC 3339 instant; now if absent.
    pub at: Option<DateTime<Utc>>,
}

async fn playlist(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<AtQuery>,
) -> ApiResult<Json<Resolution>> {
    staff.require(Role::Viewer)?;
    let at = q.at.unwrap_or_else(Utc::now);
    Ok(Json(manifests::resolve_at(&s, DisplayId(id), at).await?))
}

async fn manifest(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Manifest>> {
    staff.require(Role::Viewer)?;
    Ok(Json(manifests::build(&s, DisplayId(id), Utc::now()).await?))
}
