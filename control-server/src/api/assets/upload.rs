//! Receiving an upload: streamed into `tmp/` with its hash and size checked on
//! the way, validated, moved into place durably, and only then recorded.

use super::validate::*;
use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct UploadQuery {
    filename: Option<String>,
}

/// A display name for the file: its last path component, printable, at most 255 bytes.
pub(super) fn clean_filename(raw: Option<&str>) -> String {
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
pub(crate) struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    pub(super) fn new(path: PathBuf) -> TempFile {
        TempFile { path: Some(path) }
    }
    pub(crate) fn path(&self) -> &FsPath {
        self.path.as_deref().expect("temp file is armed")
    }
    pub(crate) fn disarm(&mut self) {
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

pub(super) fn random_name(suffix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{}{suffix}", hex::encode(bytes))
}

pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What was received: the temp file, its hash, size and first bytes.
pub(crate) struct Received {
    pub(crate) temp: TempFile,
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) head: Vec<u8>,
}

/// Streams the body into a new file in `tmp/`, enforcing `limit` as it goes.
pub(crate) async fn receive(config: &Config, body: Body, limit: u64) -> ApiResult<Received> {
    let path = tmp_dir(config).join(random_name(".part"));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    let temp = TempFile::new(path);
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

/// Moves the verified temp file (and its thumbnail) to the final names and
/// makes that durable. Blocking.
pub(super) fn move_into_place(
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
pub(super) async fn upload(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
