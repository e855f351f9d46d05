//! The HTTP side of the player protocol: manifest, assets, screenshots, plays.
//! Authenticated by the display's own bearer token.

use crate::auth::PlayerAuth;
use crate::error::{ApiError, ApiResult};
use crate::manifests;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::Utc;
use content::DisplayId;
use content::protocol::PlayRecord;
use serde::Deserialize;

/// Screenshots are PNGs of at most 4K; anything bigger is not one.
const MAX_SCREENSHOT_BYTES: usize = 16 * 1024 * 1024;
/// More records than a week offline at one play per second per zone would be refused.
const MAX_PLAYS_PER_BATCH: usize = 10_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/player/manifest", get(manifest))
        .route("/api/player/assets/{sha256}", get(asset))
        .route("/api/player/releases/{sha256}", get(release))
        .route(
            "/api/player/screenshot",
            put(screenshot).layer(DefaultBodyLimit::max(MAX_SCREENSHOT_BYTES)),
        )
}

#[derive(Debug, Deserialize)]
struct Since {
    since: Option<u64>,
}

/// The current manifest, or 304 when the player's version is current.
async fn manifest(
    auth: PlayerAuth,
    State(s): State<AppState>,
    Query(q): Query<Since>,
) -> ApiResult<Response> {
    let current = manifests::current_version(&s, auth.display_id).await?;
    if q.since.is_some_and(|v| v >= current) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(Json(manifests::build(&s, auth.display_id, Utc::now()).await?).into_response())
}

async fn asset(
    _auth: PlayerAuth,
    State(s): State<AppState>,
    Path(sha256): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    crate::api::assets::serve_file(&s, &sha256, req).await
}

/// The binary of the player release assigned to this display (`api::releases`).
async fn release(
    auth: PlayerAuth,
    State(s): State<AppState>,
    Path(sha256): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    crate::api::releases::serve(&s, auth.display_id, &sha256, req).await
}

async fn screenshot(
    auth: PlayerAuth,
    State(s): State<AppState>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !body.starts_with(PNG_MAGIC) {
        return Err(ApiError::UnsupportedMedia(
            "a screenshot must be a PNG".into(),
        ));
    }
    let dir = s.config.screenshots_dir();
    let id = auth.display_id;
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        // Decoding checks it is a whole, sane PNG before it replaces the last good one.
        let mut reader =
            image::ImageReader::with_format(std::io::Cursor::new(&body), image::ImageFormat::Png);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(8192);
        limits.max_image_height = Some(8192);
        limits.max_alloc = Some(256 * 1024 * 1024);
        reader.limits(limits);
        reader.decode().map_err(|e| {
            ApiError::UnsupportedMedia(format!("screenshot is not a valid PNG: {e}"))
        })?;
        let tmp = dir.join(format!(".{id}.png.tmp"));
        std::fs::write(&tmp, &body)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(format!("{id}.png")))?;
        Ok(())
    })
    .await
    .map_err(|e| ApiError::internal(format!("screenshot task: {e}")))??;
    Ok(StatusCode::NO_CONTENT)
}

/// Stores a proof-of-play batch. Idempotent: a re-sent batch adds nothing twice.
pub async fn store_plays(
    state: &AppState,
    display: DisplayId,
    records: Vec<PlayRecord>,
) -> Result<(), ApiError> {
    if records.len() > MAX_PLAYS_PER_BATCH {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_PLAYS_PER_BATCH} records per batch"
        )));
    }
    let now = Utc::now() + chrono::Duration::minutes(5);
    if let Some(r) = records
        .iter()
        .find(|r| r.started_at > now || r.zone.len() > 64)
    {
        return Err(ApiError::Invalid(format!("implausible play record: {r:?}")));
    }
    state
        .db
        .transaction(move |tx| {
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO proof_of_play (display_id, item_id, zone, schedule_id, started_at, duration_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for r in records {
                    stmt.execute(rusqlite::params![
                        display.0,
                        r.item.0,
                        r.zone,
                        r.schedule.map(|s| s.0),
                        r.started_at.to_rfc3339(),
                        r.duration_ms
                    ])?;
                }
            }
            Ok(())
        })
        .await
}
