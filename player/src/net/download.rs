//! Downloads into the content-addressed cache: streamed into `cache/partial/`,
//! hashed on the way, checked against the manifest's SHA-256 and size, and
//! only then moved under its final name and recorded.

use crate::store::{Store, StoreError, sync_dir};
use content::model::AssetRef;
use sha2::{Digest as _, Sha256};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::io::AsyncWriteExt as _;

#[derive(Debug, Error)]
pub enum DownloadError {
    #[error("asset {0} has a malformed checksum")]
    Malformed(String),
    #[error("the server's manifest: {0}")]
    Manifest(#[from] content::lenient::LenientError),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("server answered {status} for {what}")]
    Status {
        status: reqwest::StatusCode,
        what: String,
    },
    #[error("asset {sha256}: expected {expected} bytes, got {got}")]
    Size {
        sha256: String,
        expected: u64,
        got: u64,
    },
    #[error("asset {sha256}: checksum mismatch (got {got})")]
    Hash { sha256: String, got: String },
    #[error("cache write: {0}")]
    Io(#[from] std::io::Error),
    /// The disk (or the file size the process may write) is exhausted; the
    /// partial file is gone and what is cached keeps playing.
    #[error("disk full while caching asset {sha256}: {source}")]
    DiskFull {
        sha256: String,
        source: std::io::Error,
    },
    /// Refused before writing a byte: the asset does not fit under the cache
    /// limit next to what plays now and what the new manifest needs.
    #[error(
        "asset {sha256} ({size} bytes) does not fit the cache limit of {limit} bytes \
         ({used} bytes in use by assets that play or will play)"
    )]
    CacheFull {
        sha256: String,
        size: u64,
        limit: u64,
        used: u64,
    },
    #[error(
        "manifest {version} needs {needed} bytes of assets, more than the cache limit of {limit} bytes"
    )]
    ManifestTooBig {
        version: u64,
        needed: u64,
        limit: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Runs a closure on the store off the async workers.
pub async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, DownloadError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    })
    .await
    .map_err(|e| DownloadError::Task(e.to_string()))?
    .map_err(DownloadError::from)
}

impl DownloadError {
    /// Whether this is the disk (or cache limit) being full, which a technician
    /// on site must hear of, rather than a network or server problem.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            DownloadError::DiskFull { .. }
                | DownloadError::CacheFull { .. }
                | DownloadError::ManifestTooBig { .. }
        )
    }
}

/// Whether a write failed because the storage is exhausted: no space
/// (ENOSPC), a quota, or the largest file this process may write (EFBIG,
/// RLIMIT_FSIZE).
pub fn is_storage_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

/// The cache limit and the assets that must stay while one downloads.
#[derive(Debug, Clone, Default)]
pub struct Room {
    /// Largest total of cached asset bytes; `None` is no limit but the disk.
    pub limit: Option<u64>,
    /// What plays now and what the new manifest needs: never evicted for room.
    pub keep: Vec<AssetRef>,
}

/// Fetches one asset unless it is cached already.
pub async fn fetch_asset(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    store: &Arc<Mutex<Store>>,
    asset: &AssetRef,
    room: &Room,
) -> Result<(), DownloadError> {
    if !asset.is_well_formed() {
        return Err(DownloadError::Malformed(asset.sha256.clone()));
    }
    let a = asset.clone();
    if with_store(store, move |s| s.has_asset(&a)).await? {
        return Ok(());
    }
    if let Some(limit) = room.limit {
        // Room first: an asset that cannot fit is refused before a byte is written.
        let (size, keep) = (asset.size, room.keep.clone());
        let used = with_store(store, move |s| s.make_room(size, limit, &keep)).await?;
        if used.saturating_add(asset.size) > limit {
            return Err(DownloadError::CacheFull {
                sha256: asset.sha256.clone(),
                size: asset.size,
                limit,
                used,
            });
        }
    }
    let (partial, final_path) = {
        let s = store.lock().unwrap_or_else(|p| p.into_inner());
        (s.partial_path(&asset.sha256), s.asset_path(&asset.sha256))
    };
    let url = format!("{base}/api/player/assets/{}", asset.sha256);
    let mut resp = http.get(&url).bearer_auth(token).send().await?;
    if !resp.status().is_success() {
        return Err(DownloadError::Status {
            status: resp.status(),
            what: format!("asset {}", asset.sha256),
        });
    }
    let mut file = match tokio::fs::File::create(&partial).await {
        Ok(f) => f,
        Err(source) if is_storage_full(&source) => {
            return Err(DownloadError::DiskFull {
                sha256: asset.sha256.clone(),
                source,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    let result = async {
        while let Some(chunk) = resp.chunk().await? {
            got += chunk.len() as u64;
            if got > asset.size {
                // More than announced: not the file we want; stop reading.
                return Err(DownloadError::Size {
                    sha256: asset.sha256.clone(),
                    expected: asset.size,
                    got,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        if got != asset.size {
            return Err(DownloadError::Size {
                sha256: asset.sha256.clone(),
                expected: asset.size,
                got,
            });
        }
        let digest = hex::encode(hasher.finalize());
        if digest != asset.sha256 {
            return Err(DownloadError::Hash {
                sha256: asset.sha256.clone(),
                got: digest,
            });
        }
        file.sync_all().await?;
        Ok::<(), DownloadError>(())
    }
    .await;
    drop(file);
    if let Err(e) = result {
        // Never leave half a file behind: not on a bad download, and above
        // all not on a full disk, where it would hold the space we lack.
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(match e {
            DownloadError::Io(source) if is_storage_full(&source) => DownloadError::DiskFull {
                sha256: asset.sha256.clone(),
                source,
            },
            e => e,
        });
    }
    if let Err(e) = tokio::fs::rename(&partial, &final_path).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e.into());
    }
    let a = asset.clone();
    let recorded = with_store(store, move |s| {
        if let Some(dir) = s.asset_path(&a.sha256).parent() {
            sync_dir(dir)?;
        }
        s.add_asset(&a)
    })
    .await;
    if recorded.is_err() {
        // A file without its row is never used; do not let it hold the space.
        let _ = tokio::fs::remove_file(&final_path).await;
    }
    recorded
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_full_device_and_the_file_size_limit_count_as_a_full_disk() {
        // /dev/full answers every write with the kernel's real ENOSPC.
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let e = full.write_all(&[0u8; 4096]).unwrap_err();
        assert!(is_storage_full(&e), "{e:?}");
        // EFBIG, what RLIMIT_FSIZE gives (the system test runs into it for real).
        assert!(is_storage_full(&std::io::Error::from_raw_os_error(27)));
        // Not every failure is a full disk.
        let e = std::fs::File::open("/nonexistent/player-test").unwrap_err();
        assert!(!is_storage_full(&e));
        let full = DownloadError::DiskFull {
            sha256: "ab".into(),
            source: std::io::Error::from_raw_os_error(28),
        };
        assert!(full.is_disk_full());
        assert!(
            full.to_string()
                .starts_with("disk full while caching asset ab")
        );
        assert!(!DownloadError::Malformed("x".into()).is_disk_full());
    }
}
