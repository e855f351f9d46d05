//! The player's own disk: its token and device id (small files written
//! atomically), the content-addressed asset cache, and a SQLite database (WAL)
//! with the current manifest, the cache metadata and unsent proof-of-play records.
//!
//! Everything here blocks; the network thread calls it from `spawn_blocking`,
//! the app only at start-up (before the first frame).

use content::manifest::Manifest;
use content::model::AssetRef;
use content::protocol::PlayRecord;
use rusqlite::{Connection, OptionalExtension as _, params};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

const TOKEN_FILE: &str = "token";
const DEVICE_ID_FILE: &str = "device-id";
const DB_FILE: &str = "player.db";
const CACHE_DIR: &str = "cache";
const PARTIAL_DIR: &str = "cache/partial";
/// Records per proof-of-play batch.
pub const MAX_PLAYS_PER_BATCH: usize = 500;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS manifest (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS plays (
    id INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    batch INTEGER
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS manifest_skipped (
    line TEXT NOT NULL
);
";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("player database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("stored manifest is unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The data directory, opened.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    db: Connection,
}

impl Store {
    /// Opens (creating) the data directory and its database. Leftover partial
    /// downloads from a crash are removed: a file in the cache under its final
    /// name is always complete and verified.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let partial = dir.join(PARTIAL_DIR);
        std::fs::create_dir_all(&partial).map_err(io(&partial))?;
        for entry in std::fs::read_dir(&partial).map_err(io(&partial))? {
            let path = entry.map_err(io(&partial))?.path();
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        let db = Connection::open(dir.join(DB_FILE))?;
        db.pragma_update(None, "journal_mode", "wal")?;
        db.pragma_update(None, "synchronous", "normal")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Store {
            dir: dir.to_owned(),
            db,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The display token, when this player was adopted or provisioned.
    pub fn token(&self) -> Result<Option<String>, StoreError> {
        read_small(&self.dir.join(TOKEN_FILE))
    }

    pub fn save_token(&self, token: &str) -> Result<(), StoreError> {
        write_atomic(&self.dir.join(TOKEN_FILE), token.as_bytes())
    }

    /// Forgets a token the server refused, so the player pairs again.
    pub fn clear_token(&self) -> Result<(), StoreError> {
        let path = self.dir.join(TOKEN_FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(()),
        }
    }

    /// A random id kept for life, so a reconnecting unpaired player keeps its code.
    pub fn device_id(&self) -> Result<String, StoreError> {
        let path = self.dir.join(DEVICE_ID_FILE);
        if let Some(id) = read_small(&path)? {
            return Ok(id);
        }
        let id = format!("{:032x}", rand::random::<u128>());
        write_atomic(&path, id.as_bytes())?;
        Ok(id)
    }

    pub fn manifest(&self) -> Result<Option<Manifest>, StoreError> {
        let json: Option<String> = self
            .db
            .query_row("SELECT json FROM manifest WHERE one = 1", [], |r| r.get(0))
            .optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    pub fn manifest_version(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .db
            .query_row("SELECT version FROM manifest WHERE one = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(|v| v as u64))
    }

    /// Makes `m` the manifest that plays. Call only when every asset is cached.
    pub fn set_manifest(&self, m: &Manifest) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO manifest (one, version, json) VALUES (1, ?1, ?2)
             ON CONFLICT (one) DO UPDATE SET version = excluded.version, json = excluded.json",
            params![m.version as i64, serde_json::to_string(m)?],
        )?;
        Ok(())
    }

    /// Keeps what the current manifest had to leave out (items this build
    /// cannot decode), so the report survives a restart.
    pub fn set_manifest_skipped(&mut self, lines: &[String]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM manifest_skipped", [])?;
        for l in lines {
            tx.execute("INSERT INTO manifest_skipped (line) VALUES (?1)", [l])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn manifest_skipped(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT line FROM manifest_skipped ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Where the verified file of an asset lives.
    pub fn asset_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(CACHE_DIR).join(sha256)
    }

    /// Where a download in progress is written.
    pub fn partial_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(PARTIAL_DIR).join(sha256)
    }

    /// Whether the asset is cached: recorded, and its file present at its size.
    pub fn has_asset(&self, a: &AssetRef) -> Result<bool, StoreError> {
        let known: Option<i64> = self
            .db
            .query_row(
                "SELECT size FROM assets WHERE sha256 = ?1",
                [&a.sha256],
                |r| r.get(0),
            )
            .optional()?;
        if known != Some(a.size as i64) {
            return Ok(false);
        }
        Ok(std::fs::metadata(self.asset_path(&a.sha256)).is_ok_and(|m| m.len() == a.size))
    }

    /// Records a verified file that is already in place under [`Store::asset_path`].
    pub fn add_asset(&self, a: &AssetRef) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT OR REPLACE INTO assets (sha256, size, mime, added_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                a.sha256,
                a.size as i64,
                a.mime,
                chrono::Utc::now().to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Cached assets and their total size.
    pub fn cache_usage(&self) -> Result<(u32, u64), StoreError> {
        Ok(self.db.query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM assets",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Deletes cached assets that `keep` does not name (files, then rows);
    /// returns how many went. Called after a switch, so the cache holds what
    /// the current manifest plays.
    pub fn evict_except(&self, keep: &[AssetRef]) -> Result<usize, StoreError> {
        let known: Vec<String> = {
            let mut stmt = self.db.prepare("SELECT sha256 FROM assets")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut gone = 0;
        for sha in known {
            if keep.iter().any(|a| a.sha256 == sha) {
                continue;
            }
            self.remove_asset(&sha)?;
            gone += 1;
        }
        Ok(gone)
    }

    /// Evicts cached assets that `keep` does not name, oldest first, until
    /// `need` more bytes fit under `limit`. Returns the bytes in use afterwards;
    /// the caller compares (`used + need > limit` means it does not fit even
    /// with everything evictable gone).
    pub fn make_room(&self, need: u64, limit: u64, keep: &[AssetRef]) -> Result<u64, StoreError> {
        let (_, mut used) = self.cache_usage()?;
        if used.saturating_add(need) <= limit {
            return Ok(used);
        }
        let candidates: Vec<(String, u64)> = {
            let mut stmt = self
                .db
                .prepare("SELECT sha256, size FROM assets ORDER BY added_at, sha256")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (sha, size) in candidates {
            if used.saturating_add(need) <= limit {
                break;
            }
            if keep.iter().any(|a| a.sha256 == sha) {
                continue;
            }
            self.remove_asset(&sha)?;
            tracing::info!("evicted cached asset {sha} ({size} bytes) to make room");
            used = used.saturating_sub(size);
        }
        Ok(used)
    }

    /// Deletes one cached asset: the file first, then its row, so a row never
    /// names a missing file that [`Store::has_asset`] would trust.
    fn remove_asset(&self, sha: &str) -> Result<(), StoreError> {
        let path = self.asset_path(sha);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {}
        }
        self.db
            .execute("DELETE FROM assets WHERE sha256 = ?1", [sha])?;
        Ok(())
    }

    pub fn add_play(&self, r: &PlayRecord) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO plays (record) VALUES (?1)",
            [serde_json::to_string(r)?],
        )?;
        Ok(())
    }

    /// The batch to send: the oldest one sent but not accepted, else a new one
    /// of unsent records. `None` when nothing waits.
    pub fn next_batch(&mut self) -> Result<Option<(u64, Vec<PlayRecord>)>, StoreError> {
        let tx = self.db.transaction()?;
        let mut batch: Option<i64> =
            tx.query_row("SELECT min(batch) FROM plays", [], |r| r.get(0))?;
        if batch.is_none() {
            let unsent: i64 =
                tx.query_row("SELECT count(*) FROM plays WHERE batch IS NULL", [], |r| {
                    r.get(0)
                })?;
            if unsent == 0 {
                return Ok(None);
            }
            let n: i64 = tx.query_row(
                "INSERT INTO counters (name, value) VALUES ('batch', 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                [],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE plays SET batch = ?1 WHERE id IN
                 (SELECT id FROM plays WHERE batch IS NULL ORDER BY id LIMIT ?2)",
                params![n, MAX_PLAYS_PER_BATCH as i64],
            )?;
            batch = Some(n);
        }
        let Some(batch) = batch else { return Ok(None) };
        let records = {
            let mut stmt = tx.prepare("SELECT record FROM plays WHERE batch = ?1 ORDER BY id")?;
            let rows = stmt.query_map([batch], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(serde_json::from_str(&row?)?);
            }
            out
        };
        tx.commit()?;
        Ok(Some((batch as u64, records)))
    }

    /// The server stored `batch`: forget its records.
    pub fn accept_batch(&self, batch: u64) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM plays WHERE batch = ?1", [batch as i64])?;
        Ok(())
    }

    /// Records not yet accepted by the server.
    pub fn pending_plays(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .query_row("SELECT count(*) FROM plays", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

fn read_small(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new
/// content: a temp file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{}.tmp", name.unwrap_or_default()));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use content::ItemId;

    fn play(n: i64) -> PlayRecord {
        PlayRecord {
            item: ItemId(n),
            zone: "main".into(),
            schedule: None,
            started_at: chrono::Utc::now(),
            duration_ms: 1000,
        }
    }

    #[test]
    fn token_and_device_id_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.token().unwrap(), None);
        s.save_token("abc").unwrap();
        let id = s.device_id().unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.token().unwrap().as_deref(), Some("abc"));
        assert_eq!(s.device_id().unwrap(), id);
        s.clear_token().unwrap();
        assert_eq!(s.token().unwrap(), None);
    }

    #[test]
    fn plays_are_kept_until_their_batch_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.next_batch().unwrap(), None);
        s.add_play(&play(1)).unwrap();
        s.add_play(&play(2)).unwrap();
        let (b1, records) = s.next_batch().unwrap().unwrap();
        assert_eq!(records.len(), 2);
        // Not accepted: the same batch again (after a reconnect, say).
        s.add_play(&play(3)).unwrap();
        assert_eq!(s.next_batch().unwrap().unwrap().0, b1);
        s.accept_batch(b1).unwrap();
        let (b2, records) = s.next_batch().unwrap().unwrap();
        assert!(b2 > b1);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].item, ItemId(3));
        s.accept_batch(b2).unwrap();
        assert_eq!(s.pending_plays().unwrap(), 0);
    }

    #[test]
    fn partial_downloads_are_swept_and_assets_need_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let a = AssetRef {
            sha256: "ab".repeat(32),
            size: 3,
            mime: "image/png".into(),
        };
        std::fs::write(s.partial_path(&a.sha256), b"ha").unwrap();
        s.add_asset(&a).unwrap();
        assert!(!s.has_asset(&a).unwrap(), "recorded but no file");
        std::fs::write(s.asset_path(&a.sha256), b"abc").unwrap();
        assert!(s.has_asset(&a).unwrap());
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert!(!s.partial_path(&a.sha256).exists());
        assert_eq!(s.cache_usage().unwrap(), (1, 3));
    }

    #[test]
    fn making_room_evicts_the_oldest_unreferenced_assets_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let asset = |c: &str, size: u64| AssetRef {
            sha256: c.repeat(64),
            size,
            mime: "image/png".into(),
        };
        let (old, kept, newer) = (asset("a", 40), asset("b", 30), asset("c", 20));
        for (i, x) in [&old, &kept, &newer].into_iter().enumerate() {
            std::fs::write(s.asset_path(&x.sha256), vec![0u8; x.size as usize]).unwrap();
            s.add_asset(x).unwrap();
            // Distinct ages, oldest first.
            s.db.execute(
                "UPDATE assets SET added_at = ?1 WHERE sha256 = ?2",
                params![format!("2026-11-2{i}T00:00:00+00:00"), x.sha256],
            )
            .unwrap();
        }
        let keep = std::slice::from_ref(&kept);
        // Fits already: nothing goes.
        assert_eq!(s.make_room(10, 100, keep).unwrap(), 90);
        assert!(s.has_asset(&old).unwrap());
        // 30 more under 100: the oldest unreferenced one goes, the newer stays.
        assert_eq!(s.make_room(30, 100, keep).unwrap(), 50);
        assert!(!s.has_asset(&old).unwrap());
        assert!(!s.asset_path(&old.sha256).exists());
        assert!(s.has_asset(&newer).unwrap());
        // Never what is kept, even when it cannot fit otherwise.
        assert_eq!(s.make_room(90, 100, keep).unwrap(), 30);
        assert!(s.has_asset(&kept).unwrap());
        assert!(!s.has_asset(&newer).unwrap());
    }

    #[test]
    fn skipped_items_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        assert!(s.manifest_skipped().unwrap().is_empty());
        s.set_manifest_skipped(&["a".into(), "b".into()]).unwrap();
        drop(s);
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.manifest_skipped().unwrap(), ["a", "b"]);
        s.set_manifest_skipped(&[]).unwrap();
        assert!(s.manifest_skipped().unwrap().is_empty());
    }

    #[test]
    fn eviction_keeps_only_what_the_manifest_names() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let asset = |c: &str| AssetRef {
            sha256: c.repeat(64),
            size: 1,
            mime: "image/png".into(),
        };
        let (a, b) = (asset("a"), asset("b"));
        for x in [&a, &b] {
            std::fs::write(s.asset_path(&x.sha256), b"x").unwrap();
            s.add_asset(x).unwrap();
        }
        assert_eq!(s.evict_except(std::slice::from_ref(&a)).unwrap(), 1);
        assert!(s.has_asset(&a).unwrap());
        assert!(!s.has_asset(&b).unwrap());
        assert!(!s.asset_path(&b.sha256).exists());
        assert_eq!(s.cache_usage().unwrap(), (1, 1));
    }
}
