//! Manifest versions and their delivery.
//!
//! A display's manifest version is the global revision at which its content
//! last changed. A change bumps the versions of exactly the displays it touches,
//! in the same transaction, and then announces the new version to those that
//! are connected. Manifests themselves are built on request from the current
//! data (`content::manifest::Manifest::build`), so nothing stored can go stale.

use crate::error::ApiError;
use crate::hub::{AckKind, Hub};
use crate::state::AppState;
use crate::store;
use chrono::{DateTime, Utc};
use content::manifest::Manifest;
use content::model::{ContentItem, Display, Layout};
use content::protocol::ServerMessage;
use content::resolve::{Inputs, Resolution};
use content::schedule::{Schedule, Target};
use content::{DisplayId, ItemId};
use rusqlite::{Connection, Transaction};
use std::collections::{BTreeMap, BTreeSet};

pub async fn current_version(state: &AppState, display: DisplayId) -> Result<u64, ApiError> {
    state
        .db
        .call(move |c| {
            let v: i64 = c.query_row(
                "SELECT manifest_version FROM displays WHERE id = ?1",
                [display.0],
                |r| r.get(0),
            )?;
            Ok(v as u64)
        })
        .await
}

/// Sets the manifest version of `displays` to a fresh revision; returns it.
pub fn bump(tx: &Transaction<'_>, displays: &BTreeSet<DisplayId>) -> Result<u64, ApiError> {
    let rev = crate::db::next_revision(tx)?;
    let mut stmt = tx.prepare_cached("UPDATE displays SET manifest_version = ?2 WHERE id = ?1")?;
    for d in displays {
        stmt.execute(rusqlite::params![d.0, rev as i64])?;
    }
    Ok(rev)
}

/// Tells the connected `displays` that `version` is out; returns how many were told.
pub fn announce(hub: &Hub, displays: &BTreeSet<DisplayId>, version: u64) -> usize {
    if displays.is_empty() {
        return 0;
    }
    let id = hub.message_id(AckKind::Manifest { version });
    hub.push(
        displays.iter(),
        &Hub::encode(&ServerMessage::ManifestUpdate { id, version }),
    )
}

/// The displays any of `targets` selects.
pub fn targeted(displays: &[Display], targets: &[Target]) -> BTreeSet<DisplayId> {
    displays
        .iter()
        .filter(|d| targets.iter().any(|t| t.matches(d)))
        .map(|d| d.id)
        .collect()
}

/// The displays whose schedules play any of `items`.
pub fn playing(
    c: &Connection,
    displays: &[Display],
    items: &[ItemId],
) -> Result<BTreeSet<DisplayId>, ApiError> {
    let schedules: Vec<Schedule> = store::all(c)?;
    Ok(schedules
        .iter()
        .filter(|s| s.entries.iter().any(|e| items.contains(&e.item)))
        .flat_map(|s| targeted(displays, &s.targets))
        .collect())
}

/// Everything the engine needs for one display, loaded in one go.
struct Loaded {
    display: Display,
    version: u64,
    layout: Layout,
    schedules: Vec<Schedule>,
    items: BTreeMap<ItemId, ContentItem>,
}

impl Loaded {
    fn load(c: &Connection, display: DisplayId) -> Result<Loaded, ApiError> {
        let d: Display = store::get(c, display.0)?;
        let version: i64 = c.query_row(
            "SELECT manifest_version FROM displays WHERE id = ?1",
            [display.0],
            |r| r.get(0),
        )?;
        let layout = match d.layout_id {
            Some(l) => store::find::<Layout>(c, l.0)?.unwrap_or_else(Layout::fullscreen),
            None => Layout::fullscreen(),
        };
        let items = crate::approval::playable(c, store::all::<ContentItem>(c)?)?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        Ok(Loaded {
            display: d,
            version: version as u64,
            layout,
            schedules: store::all(c)?,
            items,
        })
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            display: &self.display,
            layout: &self.layout,
            schedules: &self.schedules,
            items: &self.items,
        }
    }
}

/// Builds the manifest `display` should play from `now` on.
pub async fn build(
    state: &AppState,
    display: DisplayId,
    now: DateTime<Utc>,
) -> Result<Manifest, ApiError> {
    let loaded = state.db.call(move |c| Loaded::load(c, display)).await?;
    let mut m = Manifest::build(loaded.inputs(), now);
    m.version = loaded.version;
    m.player_release = state
        .db
        .call(move |c| Ok(crate::api::releases::desired(c, display)?))
        .await?;
    Ok(m)
}

/// What `display` plays at `at`, and when that changes.
pub async fn resolve_at(
    state: &AppState,
    display: DisplayId,
    at: DateTime<Utc>,
) -> Result<Resolution, ApiError> {
    let loaded = state.db.call(move |c| Loaded::load(c, display)).await?;
    Ok(content::resolve(loaded.inputs(), at))
}

/// Raises every display's manifest version and announces it; returns the version.
///
/// Run daily so a player's timeline keeps reaching [`content::manifest::OFFLINE_DAYS`]
/// ahead even when nobody edits anything.
pub async fn refresh_all(state: &AppState) -> Result<u64, ApiError> {
    let (all, version) = state
        .db
        .transaction(|tx| {
            let all: BTreeSet<DisplayId> = tx
                .prepare("SELECT id FROM displays")?
                .query_map([], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(DisplayId))
                .collect::<Result<_, _>>()?;
            let version = bump(tx, &all)?;
            Ok((all, version))
        })
        .await?;
    announce(&state.hub, &all, version);
    Ok(version)
}

/// Calls [`refresh_all`] a few minutes after every local midnight (Europe/Berlin,
/// the zone of every display we serve; a display's own day starts within the hour).
pub async fn daily_refresh(state: AppState) {
    loop {
        let now = Utc::now();
        let wait = until_after_midnight(now, chrono_tz::Europe::Berlin);
        tokio::time::sleep(wait).await;
        match refresh_all(&state).await {
            Ok(v) => tracing::info!(version = v, "daily manifest refresh"),
            Err(e) => tracing::error!("daily manifest refresh failed: {e}"),
        }
    }
}

/// Time from `now` until five minutes past the next local midnight in `tz`.
fn until_after_midnight(now: DateTime<Utc>, tz: chrono_tz::Tz) -> std::time::Duration {
    use chrono::TimeZone as _;
    let tomorrow = now
        .with_timezone(&tz)
        .date_naive()
        .succ_opt()
        .unwrap_or_else(|| now.date_naive());
    let target = tomorrow
        .and_hms_opt(0, 5, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map_or(now + chrono::Duration::hours(24), |t| t.with_timezone(&Utc));
    (target - now)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_waits_until_after_local_midnight() {
        let now: DateTime<Utc> = "2026-10-24T21:30:00Z".parse().unwrap(); // 23:30 CEST
        // Next local midnight is 2026-10-25 00:05 CEST = 22:05 UTC.
        assert_eq!(
            until_after_midnight(now, chrono_tz::Europe::Berlin).as_secs(),
            35 * 60
        );
        let now: DateTime<Utc> = "2026-10-25T22:30:00Z".parse().unwrap(); // 23:30 CET, after the switch
        assert_eq!(
            until_after_midnight(now, chrono_tz::Europe::Berlin).as_secs(),
            35 * 60
        );
    }
}
