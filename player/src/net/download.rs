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

/// Fetches one asset unless it is cached already.
pub async fn fetch_asset(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    store: &Arc<Mutex<Store>>,
    asset: &AssetRef,
) -> Result<(), DownloadError> {
    if !asset.is_well_formed() {
        return Err(DownloadError::Malformed(asset.sha256.clone()));
    }
    let a = asset.clone();
    if with_store(store, move |s| s.has_asset(&a)).await? {
        return Ok(());
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
    let mut file = tokio::fs::File::create(&partial).await?;
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
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    tokio::fs::rename(&partial, &final_path).await?;
    let a = asset.clone();
    with_store(store, move |s| {
        if let Some(dir) = s.asset_path(&a.sha256).parent() {
            sync_dir(dir)?;
        }
        s.add_asset(&a)
    })
    .await
}
