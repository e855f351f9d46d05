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
            get(list).post(upload).layer(DefaultBodyLimit::disable()),
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

async fn send_file(path: PathBuf, mime: &str, etag: &str, req: Request) -> ApiResult<Response> {
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

/// The kinds of files we take, told by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Png,
    Jpeg,
    Gif,
    WebP,
    Mp4,
    WebM,
}

impl Kind {
    fn mime(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::WebP => "image/webp",
            Kind::Mp4 => "video/mp4",
            Kind::WebM => "video/webm",
        }
    }

    fn image_format(self) -> Option<image::ImageFormat> {
        match self {
            Kind::Png => Some(image::ImageFormat::Png),
            Kind::Jpeg => Some(image::ImageFormat::Jpeg),
            Kind::Gif => Some(image::ImageFormat::Gif),
            Kind::WebP => Some(image::ImageFormat::WebP),
            Kind::Mp4 | Kind::WebM => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Png => "PNG",
            Kind::Jpeg => "JPEG",
            Kind::Gif => "GIF",
            Kind::WebP => "WebP",
            Kind::Mp4 => "MP4",
            Kind::WebM => "WebM",
        }
    }
}

const ACCEPTED: &str = "PNG, JPEG, GIF or WebP images, or MP4 or WebM videos";

/// Detects the real type from the magic bytes; `claimed` is only for the message.
fn sniff(head: &[u8], claimed: &str) -> Result<Kind, ApiError> {
    let unsupported =
        |what: &str| ApiError::UnsupportedMedia(format!("{what}; accepted are {ACCEPTED}"));
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Ok(Kind::Gif);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Ok(Kind::WebP);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        return match brand {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => Err(
                unsupported("HEIC/HEIF images are not supported (convert to JPEG)"),
            ),
            b"avif" | b"avis" => Err(unsupported("AVIF images are not supported")),
            b"qt  " => Err(unsupported(
                "QuickTime (.mov) files are not supported (export as MP4)",
            )),
            _ => Ok(Kind::Mp4),
        };
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        return if has(b"webm") {
            Ok(Kind::WebM)
        } else if has(b"matroska") {
            Err(unsupported(
                "Matroska (.mkv) files are not supported (remux as WebM or MP4)",
            ))
        } else {
            Err(unsupported(
                "the file has an EBML header but is not a WebM video",
            ))
        };
    }
    if head.is_empty() {
        return Err(ApiError::Invalid("the file is empty".into()));
    }
    let claimed = if claimed.is_empty() {
        String::new()
    } else {
        format!(" (sent as {claimed})")
    };
    Err(unsupported(&format!(
        "the file's content is not of a supported type{claimed}"
    )))
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    filename: Option<String>,
}

/// A display name for the file: its last path component, printable, at most 255 bytes.
fn clean_filename(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or_default();
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if name.len() > 255 {
        let mut end = 255;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

/// Removes its file when dropped, unless disarmed: covers errors, panics and
/// cancelled requests alike.
struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    fn path(&self) -> &FsPath {
        self.path.as_deref().expect("temp file is armed")
    }
    fn disarm(&mut self) {
        self.path = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.path.take()
            && let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), "cannot remove temp file: {e}");
        }
    }
}

fn random_name(suffix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{}{suffix}", hex::encode(bytes))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What was received: the temp file, its hash, size and first bytes.
struct Received {
    temp: TempFile,
    sha256: String,
    size: u64,
    head: Vec<u8>,
}

/// Streams the body into a new file in `tmp/`, enforcing `limit` as it goes.
async fn receive(config: &Config, body: Body, limit: u64) -> ApiResult<Received> {
    let path = tmp_dir(config).join(random_name(".part"));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    let temp = TempFile { path: Some(path) };
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(HEAD_LEN);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::TooLarge(limit));
        }
        if head.len() < HEAD_LEN {
            let take = (HEAD_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    Ok(Received {
        temp,
        sha256: hex::encode(hasher.finalize()),
        size,
        head,
    })
}

/// Decodes the image fully under limits and writes its thumbnail to a temp
/// file; returns the dimensions and that file. Blocking.
fn check_image(
    config: &Config,
    src: &FsPath,
    format: image::ImageFormat,
    kind: Kind,
) -> ApiResult<(u32, u32, TempFile)> {
    use image::ImageDecoder as _;
    let corrupt = |e: &dyn std::fmt::Display| {
        ApiError::UnsupportedMedia(format!(
            "the file is not a valid {} image (corrupt or truncated): {e}",
            kind.name()
        ))
    };
    let too_large = |what: String| {
        ApiError::Invalid(format!(
            "the image is too large to process safely: {what}; at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} pixels and {} MiB of decoded pixels are accepted",
            MAX_DECODE_BYTES / (1024 * 1024)
        ))
    };
    let map = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => too_large(l.to_string()),
        image::ImageError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            ApiError::from(io)
        }
        other => corrupt(&other),
    };
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader =
        image::ImageReader::with_format(std::io::BufReader::new(std::fs::File::open(src)?), format);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(map)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(corrupt(&"it has no pixels"));
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(too_large(format!("it is {width}×{height} pixels")));
    }
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(too_large(format!(
            "{width}×{height} pixels would need {} MiB decoded",
            decoder.total_bytes() / (1024 * 1024)
        )));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(map)?;

    let thumb = if width > THUMBNAIL_SIZE || height > THUMBNAIL_SIZE {
        img.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    } else {
        img
    };
    let thumb = image::DynamicImage::ImageRgba8(thumb.to_rgba8());
    let tmp = TempFile {
        path: Some(tmp_dir(config).join(random_name(".thumb.part"))),
    };
    {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp.path())?;
        let mut w = std::io::BufWriter::new(file);
        thumb
            .write_to(&mut w, image::ImageFormat::Png)
            .map_err(|e| match e {
                image::ImageError::IoError(io) => ApiError::from(io),
                other => ApiError::internal(format!("encoding thumbnail: {other}")),
            })?;
        let file = w.into_inner().map_err(|e| ApiError::from(e.into_error()))?;
        file.sync_all()?;
    }
    Ok((width, height, tmp))
}

/// Moves the verified temp file (and its thumbnail) to the final names and
/// makes that durable. Blocking.
fn move_into_place(
    config: &Config,
    src: &FsPath,
    thumb: Option<&FsPath>,
    sha256: &str,
) -> std::io::Result<()> {
    if let Some(thumb) = thumb {
        std::fs::rename(thumb, thumbnail_path(config, sha256))?;
        std::fs::File::open(thumbs_dir(config))?.sync_all()?;
    }
    let dest = asset_path(config, sha256);
    let dir = dest.parent().expect("asset path has a parent");
    std::fs::create_dir_all(dir)?;
    std::fs::rename(src, &dest)?;
    std::fs::File::open(dir)?.sync_all()?;
    std::fs::File::open(config.assets_dir())?.sync_all()?;
    Ok(())
}

/// POST /api/assets?filename=…: the raw file is the body. 201 with the new
/// record, 200 with the existing one when the same file was uploaded before.
async fn upload(
    staff: Staff,
    State(s): State<AppState>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<AssetInfo>)> {
    staff.require(Role::Editor)?;
    let limit = s.config.max_upload_bytes();
    if declared_length(&headers).is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let filename = clean_filename(q.filename.as_deref());
    let claimed = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();

    let Received {
        mut temp,
        sha256,
        size,
        head,
    } = receive(&s.config, body, limit).await?;
    let kind = sniff(&head, &claimed)?;
    let mime = kind.mime();

    // The same file again: nothing to store.
    let key = sha256.clone();
    if let Some(existing) = s.db.call(move |c| Ok(find_info(c, &key)?)).await?
        && tokio::fs::metadata(asset_path(&s.config, &sha256))
            .await
            .is_ok_and(|m| m.len() == existing.size)
    {
        return Ok((StatusCode::OK, Json(existing)));
    }

    let (width, height, mut thumb) = match kind.image_format() {
        Some(format) => {
            let _slot = DECODE_SLOTS
                .acquire()
                .await
                .map_err(|e| ApiError::internal(format!("decode semaphore: {e}")))?;
            let (config, src) = (s.config.clone(), temp.path().to_owned());
            let (w, h, thumb) =
                tokio::task::spawn_blocking(move || check_image(&config, &src, format, kind))
                    .await
                    .map_err(|e| ApiError::internal(format!("image check task: {e}")))??;
            (Some(w), Some(h), Some(thumb))
        }
        // Videos are not decoded; the container magic was checked by `sniff`.
        None => (None, None, None),
    };

    // Thumbnail and file are moved under the lock, so a concurrent delete of
    // the same hash cannot remove them between here and the insert.
    let _commit = COMMIT_LOCK.lock().await;
    let (config, src, sha) = (s.config.clone(), temp.path().to_owned(), sha256.clone());
    let thumb_src = thumb.as_ref().map(|t| t.path().to_owned());
    tokio::task::spawn_blocking(move || move_into_place(&config, &src, thumb_src.as_deref(), &sha))
        .await
        .map_err(|e| ApiError::internal(format!("rename task: {e}")))??;
    temp.disarm();
    if let Some(t) = thumb.as_mut() {
        t.disarm();
    }

    let actor = staff.username.clone();
    let thumbnail = width.is_some();
    let key = sha256.clone();
    let (created, info) = s
        .db
        .transaction(move |tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO assets (sha256, size, mime, filename, width, height, thumbnail, uploaded_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![key, size as i64, mime, filename, width, height, thumbnail, actor, crate::db::now_text()],
            )?;
            if n == 1 {
                crate::audit::record(
                    tx,
                    &actor,
                    "asset.upload",
                    &format!("asset {key}"),
                    json!({ "filename": filename, "size": size, "mime": mime }),
                )?;
            }
            let info = find_info(tx, &key)?.ok_or_else(|| ApiError::internal("asset row vanished after insert"))?;
            Ok((n == 1, info))
        })
        .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(info),
    ))
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
    fn sniffs_by_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n rest", "").unwrap(), Kind::Png);
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0], "").unwrap(), Kind::Jpeg);
        assert_eq!(sniff(b"GIF89a....", "").unwrap(), Kind::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ", "").unwrap(), Kind::WebP);
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0", "").unwrap(), Kind::Mp4);
        assert_eq!(
            sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "").unwrap(),
            Kind::WebM
        );
        assert!(matches!(
            sniff(b"\0\0\0\x18ftypheic", ""),
            Err(ApiError::UnsupportedMedia(_))
        ));
        assert!(matches!(
            sniff(b"\x1a\x45\xdf\xa3\x42\x82\x88matroska", ""),
            Err(ApiError::UnsupportedMedia(_))
        ));
        assert!(
            matches!(sniff(b"hello, I am a PNG", "image/png"), Err(ApiError::UnsupportedMedia(m)) if m.contains("image/png"))
        );
        assert!(matches!(sniff(b"", ""), Err(ApiError::Invalid(_))));
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(
            clean_filename(Some("C:\\Users\\a\\Bild 1.png")),
            "Bild 1.png"
        );
        assert_eq!(clean_filename(Some("a\nb.png")), "ab.png");
        assert_eq!(clean_filename(None), "upload");
        assert_eq!(clean_filename(Some("dir/")), "upload");
        assert!(clean_filename(Some(&"ä".repeat(300))).len() <= 255);
    }

    #[test]
    fn only_lowercase_hex_is_a_hash() {
        assert!(is_sha256(&"ab".repeat(32)));
        assert!(!is_sha256(&"AB".repeat(32)));
        assert!(!is_sha256("../../control.db"));
        assert!(!is_sha256(&format!("{}/", "a".repeat(63))));
    }
}
