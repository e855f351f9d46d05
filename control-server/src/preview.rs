//! What a display shows at a chosen time, rendered by the player's own
//! headless renderer (`player --headless --screenshot`): real pixels, the same
//! code that draws the square, not an approximation in HTML.
//!
//! The server builds the display's manifest for that time, lays the assets out
//! as the player's cache (symlinks to the stored files), and runs the player in
//! a scratch directory with a time limit. One render at a time: a 1080p frame
//! costs a core for a few seconds on a software renderer, and staff wait for
//! one preview, not a queue of them. Live feeds (sensors, departures) are not
//! passed in: their boards show as a player without data yet shows them.

use crate::api::displays::AtQuery;
use crate::auth::{Role, Staff};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use content::DisplayId;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::Semaphore;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/displays/{id}/preview.png", get(preview))
}

/// GET /api/displays/{id}/preview.png?at=: the display's frame at `at` (now
/// if absent), as a PNG.
async fn preview(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<AtQuery>,
) -> Result<Response, ApiError> {
    staff.require(Role::Viewer)?;
    let png = render(&s, DisplayId(id), q.at.unwrap_or_else(Utc::now)).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// Longest a render may take before it is given up.
const RENDER_LIMIT: Duration = Duration::from_secs(60);

static ONE_AT_A_TIME: Semaphore = Semaphore::const_new(1);

/// The player binary: the configured one, else `player` beside this binary.
fn player_bin(state: &AppState) -> Result<PathBuf, ApiError> {
    let path = match &state.config.player_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| ApiError::internal(format!("current_exe: {e}")))?
            .with_file_name("player"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(ApiError::Unavailable(format!(
            "previews need the player binary, not found at {} (--player-bin)",
            path.display()
        )))
    }
}

/// A PNG of display `id` at `at`.
pub async fn render(
    state: &AppState,
    id: DisplayId,
    at: DateTime<Utc>,
) -> Result<Vec<u8>, ApiError> {
    let bin = player_bin(state)?;
    let manifest = crate::manifests::build(state, id, at).await?;
    let _slot = ONE_AT_A_TIME
        .acquire()
        .await
        .map_err(|e| ApiError::internal(format!("preview slot: {e}")))?;
    let scratch = tempfile::Builder::new()
        .prefix("preview-")
        .tempdir_in(&state.config.data_dir)
        .map_err(|e| ApiError::internal(format!("preview dir: {e}")))?;
    let cache = scratch.path().join("player").join("cache");
    std::fs::create_dir_all(&cache)
        .map_err(|e| ApiError::internal(format!("preview cache: {e}")))?;
    for asset in &manifest.assets {
        let stored = crate::api::assets::asset_path(&state.config, &asset.sha256);
        std::os::unix::fs::symlink(&stored, cache.join(&asset.sha256))
            .map_err(|e| ApiError::internal(format!("preview asset: {e}")))?;
    }
    let manifest_path = scratch.path().join("manifest.json");
    let text = serde_json::to_vec(&manifest).map_err(|e| ApiError::internal(e.to_string()))?;
    std::fs::write(&manifest_path, text)
        .map_err(|e| ApiError::internal(format!("preview: {e}")))?;
    let out = scratch.path().join("preview.png");
    let r = &manifest.display.resolution;
    let log_path = scratch.path().join("player.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| ApiError::internal(format!("preview log: {e}")))?;
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("--headless")
        .arg("--data-dir")
        .arg(scratch.path().join("player"))
        .arg("--screenshot")
        .arg(&out)
        .arg("--at")
        .arg(at.to_rfc3339())
        .arg("--manifest")
        .arg(&manifest_path)
        .arg("--size")
        .arg(format!("{}x{}", r.width, r.height))
        .arg("--server")
        .arg(format!("http://{}", state.config.listen))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    // A blocking wait with a deadline (tokio's process support is not built in:
    // one child per preview does not justify it).
    let status = tokio::task::spawn_blocking(
        move || -> std::io::Result<Option<std::process::ExitStatus>> {
            let mut child = cmd.spawn()?;
            let deadline = std::time::Instant::now() + RENDER_LIMIT;
            loop {
                if let Some(status) = child.try_wait()? {
                    return Ok(Some(status));
                }
                if std::time::Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        },
    )
    .await
    .map_err(|e| ApiError::internal(format!("preview task: {e}")))?
    .map_err(|e| ApiError::internal(format!("running {}: {e}", bin.display())))?;
    let Some(status) = status else {
        return Err(ApiError::Unavailable(format!(
            "the preview took over {} s",
            RENDER_LIMIT.as_secs()
        )));
    };
    if !status.success() {
        let why = std::fs::read_to_string(&log_path).unwrap_or_default();
        tracing::warn!("preview of display {id} failed: {why}");
        return Err(ApiError::internal(format!(
            "player exited with {status}: {why}"
        )));
    }
    std::fs::read(&out).map_err(|e| ApiError::internal(format!("preview output: {e}")))
}
