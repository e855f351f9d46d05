//! Asset uploads and downloads: content-addressed files under
//! `<assets_dir>/<sha[0..2]>/<sha>`, one `assets` row each.
//!
//! An upload is streamed into `<assets_dir>/tmp/`, hashed and size-checked on
//! the way, fsynced, validated (the real type comes from the magic bytes;
//! images are fully decoded under explicit limits), renamed into place (the
//! directory fsynced too), and only then recorded in the database. A file is
//! therefore never under its final name half-written, never in the database
//! before it is complete, and never served without a row. Temp files are
//! removed on every error path (and on cancellation, by a drop guard); leftovers
//! from a crash are swept by [`prepare_dirs`] at start-up.

use crate::auth::{Role, Staff};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use content::model::{AssetRef, ContentItem};
use futures_util::StreamExt as _;
use rand::RngCore as _;
use rusqlite::OptionalExtension as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path as FsPath, PathBuf};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{Mutex, Semaphore};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

mod upload;
// Player releases stream their uploads the same way (`api::releases`).
pub(crate) use upload::{Received, declared_length, receive};
mod validate;

/// Largest accepted image side, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Most memory one image decode may allocate.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// Thumbnails fit into this square.
pub const THUMBNAIL_SIZE: u32 = 320;
/// Content-addressed files never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// How many bytes of the file's start are kept for type detection.
const HEAD_LEN: usize = 128;

/// Decoding may take up to [`MAX_DECODE_BYTES`]; at most this many at once.
static DECODE_SLOTS: Semaphore = Semaphore::const_new(2);
/// Serialises "rename into place + insert row" against "delete row + file", so
/// a delete racing a re-upload of the same file cannot leave a row without file.
static COMMIT_LOCK: Mutex<()> = Mutex::const_new(());

fn tmp_dir(config: &Config) -> PathBuf {
    config.assets_dir().join("tmp")
}

fn thumbs_dir(config: &Config) -> PathBuf {
    config.assets_dir().join("thumbs")
}

/// Where the file with this (validated) hash lives.
pub fn asset_path(config: &Config, sha256: &str) -> PathBuf {
    config.assets_dir().join(&sha256[..2]).join(sha256)
}

fn thumbnail_path(config: &Config, sha256: &str) -> PathBuf {
    thumbs_dir(config).join(format!("{sha256}.png"))
}

/// Creates the asset directories and removes what a crash left in `tmp/`.
pub fn prepare_dirs(config: &Config) -> std::io::Result<()> {
    std::fs::create_dir_all(config.assets_dir())?;
    std::fs::create_dir_all(thumbs_dir(config))?;
    let tmp = tmp_dir(config);
    std::fs::create_dir_all(&tmp)?;
    for entry in std::fs::read_dir(&tmp)? {
        let entry = entry?;
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => tracing::info!(path = %path.display(), "removed unfinished upload"),
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot remove unfinished upload: {e}")
            }
        }
    }
    Ok(())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/assets",
            get(list)
                .post(upload::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/assets/{sha256}", get(download).delete(remove))
        .route("/api/assets/{sha256}/thumbnail", get(thumbnail))
}

/// An asset as the API shows it. `asset` is the reference to paste into items.
#[derive(Debug, Clone, Serialize)]
pub struct AssetInfo {
    pub sha256: String,
    pub size: u64,
    pub mime: String,
    pub filename: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumbnail: bool,
    pub uploaded_by: String,
    pub created_at: String,
    pub asset: AssetRef,
}

const SELECT_INFO: &str = "SELECT sha256, size, mime, filename, width, height, thumbnail, uploaded_by, created_at FROM assets";

fn info_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetInfo> {
    let sha256: String = r.get(0)?;
    let size = r.get::<_, i64>(1)? as u64;
    let mime: String = r.get(2)?;
    Ok(AssetInfo {
        asset: AssetRef {
            sha256: sha256.clone(),
            size,
            mime: mime.clone(),
        },
        sha256,
        size,
        mime,
        filename: r.get(3)?,
        width: r.get(4)?,
        height: r.get(5)?,
        thumbnail: r.get(6)?,
        uploaded_by: r.get(7)?,
        created_at: r.get(8)?,
    })
}

fn find_info(c: &rusqlite::Connection, sha256: &str) -> rusqlite::Result<Option<AssetInfo>> {
    c.query_row(
        &format!("{SELECT_INFO} WHERE sha256 = ?1"),
        [sha256],
        info_from_row,
    )
    .optional()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 404 for anything that is not 64 lower-case hex digits (no path tricks).
fn checked_sha(sha256: &str) -> ApiResult<&str> {
    if is_sha256(sha256) {
        Ok(sha256)
    } else {
        Err(ApiError::NotFound(format!("asset {sha256:?}")))
    }
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<AssetInfo>>> {
    staff.require(Role::Viewer)?;
    let assets =
        s.db.call(|c| {
            let mut stmt = c.prepare(&format!(
                "{SELECT_INFO} ORDER BY created_at DESC, rowid DESC"
            ))?;
            let rows = stmt.query_map([], info_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(assets))
}

async fn download(
    staff: Staff,
    State(s): State<AppState>,
    Path(sha256): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    staff.require(Role::Viewer)?;
    serve_file(&s, &sha256, req).await
}

async fn thumbnail(
    staff: Staff,
    State(s): State<AppState>,
    Path(sha256): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    staff.require(Role::Viewer)?;
    let sha = checked_sha(&sha256)?.to_owned();
    let key = sha.clone();
    let has: Option<bool> =
        s.db.call(move |c| {
            Ok(c.query_row(
                "SELECT thumbnail FROM assets WHERE sha256 = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await?;
    if has != Some(true) {
        return Err(ApiError::NotFound(format!("thumbnail of asset {sha}")));
    }
    send_file(
        thumbnail_path(&s.config, &sha),
        "image/png",
        &format!("\"{sha}-thumb\""),
        req,
    )
    .await
}

/// Serves a stored asset (for staff and players): only hashes with a row, with
/// Range support, the recorded Content-Type and an immutable cache policy.
pub async fn serve_file(state: &AppState, sha256: &str, req: Request) -> ApiResult<Response> {
    let sha = checked_sha(sha256)?.to_owned();
    let key = sha.clone();
    let mime: Option<String> = state
        .db
        .call(move |c| {
            Ok(
                c.query_row("SELECT mime FROM assets WHERE sha256 = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await?;
    let mime = mime.ok_or_else(|| ApiError::NotFound(format!("asset {sha}")))?;
    send_file(
        asset_path(&state.config, &sha),
        &mime,
        &format!("\"{sha}\""),
        req,
    )
    .await
}

pub(crate) async fn send_file(
    path: PathBuf,
    mime: &str,
    etag: &str,
    req: Request,
) -> ApiResult<Response> {
    let etag = HeaderValue::from_str(etag).map_err(|e| ApiError::internal(format!("etag: {e}")))?;
    let content_type = HeaderValue::from_str(mime)
        .map_err(|e| ApiError::internal(format!("stored mime {mime:?}: {e}")))?;
    let immutable = HeaderValue::from_static(IMMUTABLE);
    let matches = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t).as_bytes() == etag.as_bytes()
        });
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, immutable)],
        )
            .into_response());
    }
    let resp = match ServeFile::new(&path).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    if status == StatusCode::NOT_FOUND {
        tracing::error!(path = %path.display(), "asset has a row but no file");
        return Err(ApiError::NotFound("asset file".into()));
    }
    let mut resp = resp.map(Body::new);
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let h = resp.headers_mut();
        if status.is_success() {
            h.insert(header::CONTENT_TYPE, content_type);
        }
        h.insert(header::CACHE_CONTROL, immutable);
        h.insert(header::ETAG, etag);
    }
    Ok(resp)
}

/// DELETE /api/assets/{sha256}: refused (409) while an item uses the file.
async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(sha256): Path<String>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Editor)?;
    let sha = checked_sha(&sha256)?.to_owned();
    let actor = staff.username.clone();
    let _commit = COMMIT_LOCK.lock().await;
    let key = sha.clone();
    s.db.transaction(move |tx| {
        let users: Vec<String> = crate::store::all::<ContentItem>(tx)?
            .into_iter()
            .filter(|i| i.assets().iter().any(|a| a.sha256 == key))
            .map(|i| format!("{:?} ({})", i.name, i.id))
            .collect();
        if !users.is_empty() {
            return Err(ApiError::Conflict(format!(
                "asset {key} is used by item(s): {}",
                users.join(", ")
            )));
        }
        if tx.execute("DELETE FROM assets WHERE sha256 = ?1", [&key])? == 0 {
            return Err(ApiError::NotFound(format!("asset {key}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "asset.delete",
            &format!("asset {key}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    // The row is gone, so the files are no longer served; now remove them.
    for path in [asset_path(&s.config, &sha), thumbnail_path(&s.config, &sha)] {
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), "cannot remove deleted asset file: {e}");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lowercase_hex_is_a_hash() {
        assert!(is_sha256(&"ab".repeat(32)));
        assert!(!is_sha256(&"AB".repeat(32)));
        assert!(!is_sha256("../../control.db"));
        assert!(!is_sha256(&format!("{}/", "a".repeat(63))));
    }
}
