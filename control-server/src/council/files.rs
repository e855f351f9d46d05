//! Serving files of the live and archive directories: safe relative paths,
//! Range requests (tower-http's `ServeFile`), media types and cache headers.

use crate::error::{ApiError, ApiResult};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::path::{Path, PathBuf};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

/// Most path segments below a live or recording directory (renditions nest one level).
const MAX_DEPTH: usize = 4;

/// True for a plain file or directory name: ASCII letters, digits, `.`, `_`
/// and `-`, not starting with a dot (so no `..`, no hidden files).
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// True for a relative path of safe names separated by `/`.
pub fn is_safe_relative(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() <= MAX_DEPTH && parts.iter().all(|p| is_safe_name(p))
}

/// `dir/path` when `path` is safe; a 404 otherwise (no hint why).
pub fn resolve(dir: &Path, path: &str) -> ApiResult<PathBuf> {
    if is_safe_relative(path) {
        Ok(dir.join(path))
    } else {
        Err(ApiError::NotFound(format!("file {path:?}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Live HLS: playlists are rewritten every segment.
    Live,
    /// A finalized recording: nothing changes until it is deleted.
    Archive,
}

fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" => "video/iso.segment",
        "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "ts" => "video/mp2t",
        "aac" => "audio/aac",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// Only media is served from the live and archive directories. The
/// broadcaster's chapter log and WebVTT file lie there too and name closed
/// items; the public chapters come from the database instead
/// (`/api/council/recordings/{id}/chapters.vtt`).
fn is_media(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        "m3u8" | "m4s" | "mp4" | "m4a" | "m4v" | "ts" | "aac" | "jpg" | "jpeg" | "png"
    )
}

fn cache_control(path: &Path, caching: Caching) -> &'static str {
    let playlist = path.extension().is_some_and(|e| e == "m3u8");
    match (caching, playlist) {
        (Caching::Live, true) => "no-cache, no-store, must-revalidate",
        (Caching::Live, false) => "public, max-age=60",
        (Caching::Archive, _) => "public, max-age=3600",
    }
}

/// Serves `path` with Range support; 404 (JSON) when it is missing or a directory.
pub async fn send(path: PathBuf, req: Request, caching: Caching) -> ApiResult<Response> {
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() && is_media(&path) => {}
        _ => {
            return Err(ApiError::NotFound(format!(
                "file {:?}",
                path.file_name().unwrap_or_default()
            )));
        }
    }
    let resp = match ServeFile::new(&path).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    if status == StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound("file".into()));
    }
    let mut resp = resp.map(Body::new);
    let h = resp.headers_mut();
    if status.is_success() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media_type(&path)),
        );
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&path, caching)),
    );
    // Players on other origins (the public page, a CDN) fetch these too.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert!(is_safe_relative("index.m3u8"));
        assert!(is_safe_relative("720p/segment-00001.m4s"));
        assert!(!is_safe_relative("../control.db"));
        assert!(!is_safe_relative("a/../../b"));
        assert!(!is_safe_relative(".hidden"));
        assert!(!is_safe_relative("/etc/passwd"));
        assert!(!is_safe_relative("a//b"));
        assert!(!is_safe_relative("a\\b"));
        assert!(!is_safe_relative("a/b/c/d/e"));
    }

    #[test]
    fn chapter_logs_and_subtitles_are_not_media() {
        assert!(is_media(Path::new("x/vod.m3u8")));
        assert!(is_media(Path::new("x/seg-1.m4s")));
        assert!(!is_media(Path::new("x/chapters.vtt")));
        assert!(!is_media(Path::new("x/chapters.jsonl")));
        assert!(!is_media(Path::new("x/README")));
    }
}
