//! Numbered SQL migrations, applied at start-up inside one transaction each.
//! The schema version is SQLite's `user_version`.

use super::DbError;
use rusqlite::Connection;
use std::path::Path;

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_civic_alerts.sql")),
    (3, include_str!("../../migrations/0003_sensors_transit.sql")),
    (4, include_str!("../../migrations/0004_council.sql")),
    (
        5,
        include_str!("../../migrations/0005_content_approval.sql"),
    ),
    (6, include_str!("../../migrations/0006_player_releases.sql")),
    (7, include_str!("../../migrations/0007_display_logs.sql")),
];

pub fn apply(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(DbError::TooNew {
            path: path.display().to_string(),
            found: current,
            known,
        });
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|source| DbError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
