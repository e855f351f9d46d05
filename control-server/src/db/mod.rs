//! The one SQLite database (WAL mode), opened only by this crate.
//!
//! SQLite calls block, so they never run on the async workers: every access goes
//! through [`Db::call`], which runs the closure on tokio's blocking pool with the
//! single connection. One connection serialises writers, which SQLite does
//! anyway, and keeps transactions simple.

mod migrations;

use crate::error::ApiError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("migration {version} failed: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this build knows ({known}); refusing to start"
    )]
    TooNew {
        path: String,
        found: u32,
        known: u32,
    },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let open_err = |source| DbError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(open_err)?;
        migrations::apply(&mut conn, path)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, ApiError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a previous closure poisons the mutex; the connection
            // itself is still sound (SQLite rolls back unfinished transactions).
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` inside one transaction, committed when `f` succeeds and rolled
    /// back (by dropping it) when `f` fails.
    pub async fn transaction<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<R, ApiError> + Send + 'static,
    {
        self.call(move |c| {
            let tx = c.transaction()?;
            let r = f(&tx)?;
            tx.commit()?;
            Ok(r)
        })
        .await
    }

    /// Checkpoints the WAL into the main file; called on shutdown so the file
    /// is complete on its own.
    pub fn checkpoint(&self) -> Result<(), DbError> {
        let guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        guard.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

/// Raises the global revision and returns it; manifest versions are revisions.
pub fn next_revision(tx: &rusqlite::Transaction<'_>) -> Result<u64, rusqlite::Error> {
    tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|v| v as u64)
}

/// Current time as stored in the database (RFC 3339, UTC, seconds).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
