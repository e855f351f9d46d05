//! The archive's retention policy, applied by a periodic task.
//!
//! Rows go first (with their audit entry, in one transaction), files after:
//! once the row is gone nothing serves the files, so a crash between the two
//! leaves at worst an unserved directory, never a listed recording without files.

use super::archive::{Retention, load_settings};
use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::json;

/// Deletes the recordings the policy says are due at `now`; returns how many.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let dirs = state
        .db
        .transaction(move |tx| {
            let settings = load_settings(tx)?;
            let due: Vec<(i64, String)> = match settings.retention {
                Retention::Forever => Vec::new(),
                Retention::Days => {
                    let days = i64::from(settings.retention_days.unwrap_or(u32::MAX).max(1));
                    let cutoff = now
                        .checked_sub_signed(Duration::days(days))
                        .unwrap_or(DateTime::<Utc>::MIN_UTC)
                        .to_rfc3339_opts(SecondsFormat::Millis, true);
                    let mut stmt = tx
                        .prepare("SELECT id, dir FROM council_recordings WHERE recorded_at < ?1")?;
                    let rows = stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<Result<_, _>>()?
                }
                Retention::MinutesApproved => {
                    let now = now.to_rfc3339_opts(SecondsFormat::Millis, true);
                    let mut stmt = tx.prepare(
                        "SELECT r.id, r.dir FROM council_recordings r
                           JOIN council_meetings m ON m.id = r.meeting_id
                          WHERE m.minutes_approved_at IS NOT NULL AND m.minutes_approved_at <= ?1",
                    )?;
                    let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<Result<_, _>>()?
                }
            };
            for (id, dir) in &due {
                tx.execute("DELETE FROM council_recordings WHERE id = ?1", [id])?;
                crate::audit::record(
                    tx,
                    "retention",
                    "council.recording.expire",
                    &format!("recording {id}"),
                    json!({ "dir": dir, "policy": settings }),
                )?;
            }
            Ok(due.into_iter().map(|(_, d)| d).collect::<Vec<_>>())
        })
        .await?;
    let root = state.config.council.archive_dir(&state.config.data_dir);
    for dir in &dirs {
        // Directories were checked when registered; check again, this deletes.
        if !super::files::is_safe_relative(dir) {
            tracing::error!(dir, "refusing to delete an unsafe recording path");
            continue;
        }
        let path = root.join(dir);
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => tracing::info!(path = %path.display(), "expired recording deleted"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot delete expired recording: {e}")
            }
        }
    }
    Ok(dirs.len())
}

/// Runs [`sweep`] every `--council-retention-interval-s` seconds.
pub async fn run(state: AppState) {
    let every = std::time::Duration::from_secs(state.config.council.retention_interval_s.max(1));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&state, Utc::now()).await {
            tracing::warn!("council retention sweep failed: {e}");
        }
    }
}
