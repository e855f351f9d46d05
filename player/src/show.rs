//! What is on screen at an instant: pure functions of the manifest, the
//! active alerts and the time, shared by the app and the tests.

use chrono::{DateTime, Utc};
use content::ItemId;
use content::alert::{Alert, AlertStatus, Presentation};
use content::manifest::Manifest;
use content::model::{ContentItem, Zone};
use content::resolve::{PlayEntry, PlayState, Playlist};

/// One zone's current entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Showing<'a> {
    pub item: &'a ContentItem,
    pub entry: &'a PlayEntry,
    /// When this showing began and ends (loop position from the segment start).
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Where the playlists come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The timeline's segment for the instant: the clock is trusted.
    Timeline,
    /// The manifest's `fallback` (see [`crate::clock`]): the clock is not
    /// trusted, so the loops count from `loop_start` (the wall time minus
    /// the monotonic time the player has run), not from a segment's start.
    Fallback { loop_start: DateTime<Utc> },
}

/// The playlists that play at `at` and the instant their loops start from.
fn state_at(
    manifest: &Manifest,
    at: DateTime<Utc>,
    source: Source,
) -> Option<(&PlayState, DateTime<Utc>)> {
    match source {
        Source::Timeline => manifest.segment_at(at).map(|s| (&s.state, s.from)),
        Source::Fallback { loop_start } => Some((&manifest.fallback, loop_start)),
    }
}

/// Each zone of the layout with what it shows; `None` is the idle screen
/// (town name and clock), never black.
pub fn zones_at(manifest: &Manifest, at: DateTime<Utc>) -> Vec<(&Zone, Option<Showing<'_>>)> {
    zones_from(manifest, at, Source::Timeline)
}

/// [`zones_at`] from the given [`Source`].
pub fn zones_from(
    manifest: &Manifest,
    at: DateTime<Utc>,
    source: Source,
) -> Vec<(&Zone, Option<Showing<'_>>)> {
    let segment = state_at(manifest, at, source);
    let mut zones: Vec<_> = manifest.layout.zones.iter().collect();
    zones.sort_by_key(|z| z.z);
    zones
        .into_iter()
        .map(|zone| {
            let showing = segment.and_then(|(state, from)| {
                let playlist = state.takeover.as_ref().filter(|p| !p.is_empty());
                let playlist = match playlist {
                    // An emergency takeover plays in the main zone only.
                    Some(p) if zone.name == content::model::MAIN_ZONE => p,
                    _ => state.zones.get(&zone.name)?,
                };
                showing(manifest, playlist, from, at)
            });
            (zone, showing)
        })
        .collect()
}

/// What a zone shows instead of its scheduled entry when the items in `skip`
/// failed to play (a broken video): the next entry of the same playlist whose
/// item did not fail, for the rest of the scheduled entry's time. `None` when
/// every other entry failed too (or there is none).
pub fn substitute<'a>(
    manifest: &'a Manifest,
    zone: &str,
    at: DateTime<Utc>,
    source: Source,
    skip: &[ItemId],
) -> Option<Showing<'a>> {
    let (state, from) = state_at(manifest, at, source)?;
    let playlist = match state.takeover.as_ref().filter(|p| !p.is_empty()) {
        Some(p) if zone == content::model::MAIN_ZONE => p,
        _ => state.zones.get(zone)?,
    };
    let scheduled = showing(manifest, playlist, from, at)?;
    let index = playlist
        .entries
        .iter()
        .position(|e| std::ptr::eq(e, scheduled.entry))?;
    let n = playlist.entries.len();
    (1..n)
        .map(|k| &playlist.entries[(index + k) % n])
        .filter(|e| !skip.contains(&e.item))
        .find_map(|entry| {
            let item = manifest.items.iter().find(|i| i.id == entry.item)?;
            Some(Showing {
                item,
                entry,
                started_at: scheduled.started_at,
                ends_at: scheduled.ends_at,
            })
        })
}

fn showing<'a>(
    manifest: &'a Manifest,
    playlist: &'a Playlist,
    from: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Option<Showing<'a>> {
    let elapsed = (at - from).num_milliseconds().max(0) as u64;
    let (index, left_s) = playlist.position_at(elapsed / 1000)?;
    let entry = &playlist.entries[index];
    let item = manifest.items.iter().find(|i| i.id == entry.item)?;
    // Whole seconds: the entry ends `left_s` seconds after the start of this second.
    let second_start = from + chrono::Duration::seconds((elapsed / 1000) as i64);
    let ends_at = second_start + chrono::Duration::seconds(left_s as i64);
    let started_at = ends_at - chrono::Duration::seconds(i64::from(entry.duration_s));
    Some(Showing {
        item,
        entry,
        started_at,
        ends_at,
    })
}

/// The alert to show: the most severe active one that is not a technical test.
pub fn alert_to_show(alerts: &[Alert], at: DateTime<Utc>) -> Option<&Alert> {
    alerts
        .iter()
        .filter(|a| a.status != AlertStatus::Test && a.is_active_at(at))
        .max_by_key(|a| (a.severity, a.sent))
}

/// Whether the alert takes the whole screen.
pub fn is_takeover(a: &Alert) -> bool {
    a.presentation() == Presentation::Takeover
}

/// A key that changes exactly when a zone must be drawn anew.
pub fn zone_key(s: &Option<Showing<'_>>) -> Option<(ItemId, DateTime<Utc>)> {
    s.as_ref().map(|s| (s.item.id, s.started_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use content::alert::Severity;

    fn alert(id: &str, severity: Severity, status: AlertStatus) -> Alert {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "status": status,
            "severity": severity,
            "headline": "h",
            "area_description": "a",
            "area": {},
            "sent": "2026-11-22T09:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn the_fallback_loops_from_its_own_start_whatever_the_timeline_says() {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "version": 1,
            "generated_at": "2026-11-22T00:00:00Z",
            "display": {
                "id": 1, "name": "Rathausplatz",
                "location": { "lat": 51.2, "lon": 6.6, "ars": "051620016016" },
                "resolution": { "width": 1920, "height": 1080 },
            },
            "layout": { "id": 0, "name": "Vollbild",
                "zones": [{ "name": "main", "x": 0.0, "y": 0.0, "width": 100.0, "height": 100.0 }] },
            "timeline": [{ "from": "2026-11-22T00:00:00Z", "until": "2026-11-23T00:00:00Z",
                "zones": { "main": { "entries": [{ "item": 1, "duration_s": 60, "schedule": 1 }] } } }],
            "items": ([1, 2, 3].map(|id| serde_json::json!({ "id": id, "name": "x", "duration_s": 10, "content": { "type": "clock" } }))),
            "assets": [],
            "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
        }))
        .unwrap();
        m.fallback = serde_json::from_value(serde_json::json!({ "zones": { "main": { "entries": [
            { "item": 2, "duration_s": 10, "schedule": 2 },
            { "item": 3, "duration_s": 10, "schedule": 2 },
        ] } } }))
        .unwrap();
        let at: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let item = |source| {
            zones_from(&m, at, source)[0]
                .1
                .as_ref()
                .map(|s| s.item.id.0)
        };
        assert_eq!(item(Source::Timeline), Some(1));
        let loop_start = at - chrono::Duration::seconds(15);
        assert_eq!(item(Source::Fallback { loop_start }), Some(3));
        let s = zones_from(&m, at, Source::Fallback { loop_start });
        let s = s[0].1.as_ref().unwrap();
        assert_eq!(s.started_at, loop_start + chrono::Duration::seconds(10));
        // Outside the timeline (a clock years off) the fallback still plays.
        let wrong: DateTime<Utc> = "2001-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(zones_from(&m, wrong, Source::Timeline)[0].1, None);
        let far = zones_from(&m, wrong, Source::Fallback { loop_start: wrong });
        assert_eq!(far[0].1.as_ref().map(|s| s.item.id.0), Some(2));
        // A failed item is replaced by the fallback's next one.
        let sub = substitute(
            &m,
            "main",
            wrong,
            Source::Fallback { loop_start: wrong },
            &[ItemId(2)],
        );
        assert_eq!(sub.map(|s| s.item.id.0), Some(3));
    }

    #[test]
    fn most_severe_alert_wins_and_tests_are_never_shown() {
        let at = "2026-11-22T10:00:00Z".parse().unwrap();
        let alerts = vec![
            alert("minor", Severity::Minor, AlertStatus::Actual),
            alert("test", Severity::Extreme, AlertStatus::Test),
            alert("severe", Severity::Severe, AlertStatus::Exercise),
        ];
        let a = alert_to_show(&alerts, at).unwrap();
        assert_eq!(a.id, "severe");
        assert!(is_takeover(a));
        assert!(!is_takeover(&alerts[0]));
        assert!(alert_to_show(&alerts[1..2], at).is_none());
    }
}
