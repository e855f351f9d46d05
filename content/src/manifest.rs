//! The manifest: everything a player needs to keep playing, correctly
//! scheduled, for [`OFFLINE_DAYS`] without hearing from the server.

use crate::model::{AssetRef, ContentItem, Display, Layout};
use crate::resolve::{Inputs, PlayState, resolve_until, state_at};
use crate::schedule::{Layer, Schedule};
use chrono::{DateTime, Days, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How many days of timeline a manifest carries. One more than the week a
/// player must survive offline, so the last day is complete whenever it was built.
pub const OFFLINE_DAYS: u64 = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Increases whenever the content changes; a player asks for "newer than N".
    pub version: u64,
    pub generated_at: DateTime<Utc>,
    pub display: Display,
    pub layout: Layout,
    /// Contiguous segments from the start of the local day it was built on.
    pub timeline: Vec<Segment>,
    /// What plays while the player does not know the time (a board without
    /// a battery-backed clock before NTP has synchronised): per zone, the
    /// default-layer schedules that are active at every instant
    /// ([`Rule::is_always`](crate::schedule::Rule::is_always)), resolved as
    /// the timeline resolves them; never a takeover. Its items are in
    /// `items`, so they are cached. Empty zones show the idle screen.
    /// Absent in manifests from older servers (cached ones too): then every
    /// zone idles until the time is known.
    #[serde(default)]
    pub fallback: PlayState,
    /// Every item the timeline plays, by id.
    pub items: Vec<ContentItem>,
    /// Every file the items need, sorted and without duplicates.
    pub assets: Vec<AssetRef>,
    pub feeds: Feeds,
    /// The player release this display should run (set by the server after
    /// [`Manifest::build`]); absent: keep what runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_release: Option<crate::release::PlayerRelease>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    #[serde(flatten)]
    pub state: PlayState,
}

/// Live data the player subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Feeds {
    pub transit_stops: Vec<String>,
    pub sensor_stations: Vec<String>,
    /// Alerts for this regional key reach the player.
    pub alert_ars: String,
}

impl Manifest {
    /// Builds the manifest (with version 0; the server assigns versions) from
    /// the start of the display's local day containing `now`.
    pub fn build(inputs: Inputs<'_>, now: DateTime<Utc>) -> Manifest {
        let tz = inputs.display.timezone.0;
        let today = now.with_timezone(&tz).date_naive();
        // Midnight is never inside a DST gap in Europe; fall back to `now` elsewhere.
        let midnight = |day: chrono::NaiveDate| {
            let wall = day.and_hms_opt(0, 0, 0).expect("midnight exists");
            tz.from_local_datetime(&wall)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        let start = midnight(today).unwrap_or(now);
        // End at a local midnight, so the last day is complete, and no earlier
        // than a week after the end of today, so a week from `now` is covered
        // even when built late on a 25-hour day. (`start + 8 × 24 h` fell an hour
        // short of both across the autumn switch.) Depends on the day only, so
        // builds on the same day have the same content.
        let end = midnight(today + Days::new(OFFLINE_DAYS))
            .unwrap_or(start + Days::new(OFFLINE_DAYS))
            .max(midnight(today + Days::new(1)).unwrap_or(now) + Days::new(OFFLINE_DAYS - 1));

        let mut timeline = Vec::new();
        let mut t = start;
        while t < end {
            let r = resolve_until(inputs, t, end);
            let until = r.next_change.unwrap_or(end).min(end);
            timeline.push(Segment {
                from: t,
                until,
                state: r.state,
            });
            t = until;
        }

        let fallback = fallback(inputs, now);
        let used: BTreeSet<_> = timeline
            .iter()
            .map(|s| &s.state)
            .chain([&fallback])
            .flat_map(|s| s.zones.values().chain(s.takeover.iter()))
            .flat_map(|p| p.entries.iter().map(|e| e.item))
            .collect();
        let items: Vec<ContentItem> = used
            .iter()
            .filter_map(|id| inputs.items.get(id).cloned())
            .collect();
        let assets: BTreeSet<AssetRef> = items.iter().flat_map(|i| i.assets()).cloned().collect();
        let mut stops: BTreeSet<String> = inputs
            .display
            .transit_stops
            .iter()
            .map(|s| s.id.clone())
            .collect();
        let mut stations = BTreeSet::new();
        for item in &items {
            match &item.content {
                crate::model::ItemKind::TransitBoard { stops: s, .. } => {
                    stops.extend(s.iter().cloned())
                }
                crate::model::ItemKind::SensorPanel { stations: s, .. } => {
                    stations.extend(s.iter().cloned())
                }
                _ => {}
            }
        }
        Manifest {
            version: 0,
            generated_at: now,
            display: inputs.display.clone(),
            layout: inputs.layout.clone(),
            timeline,
            fallback,
            items,
            assets: assets.into_iter().collect(),
            feeds: Feeds {
                transit_stops: stops.into_iter().collect(),
                sensor_stations: stations.into_iter().collect(),
                alert_ars: inputs.display.location.ars.as_str().to_owned(),
            },
            player_release: None,
        }
    }

    /// Whether two manifests would play the same, ignoring version and build time.
    pub fn same_content(&self, other: &Manifest) -> bool {
        self.display == other.display
            && self.layout == other.layout
            && self.timeline == other.timeline
            && self.fallback == other.fallback
            && self.items == other.items
            && self.feeds == other.feeds
    }

    pub fn segment_at(&self, at: DateTime<Utc>) -> Option<&Segment> {
        self.timeline.iter().find(|s| s.from <= at && at < s.until)
    }

    /// The last instant this manifest knows what to play.
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.timeline.last().map(|s| s.until)
    }
}

/// The manifest's [`Manifest::fallback`]: only default-layer schedules whose
/// rule holds at every instant, resolved at `now` (which then decides no
/// more than which items are valid: their rules hold whatever the time).
pub fn fallback(inputs: Inputs<'_>, now: DateTime<Utc>) -> PlayState {
    let always: Vec<Schedule> = inputs
        .schedules
        .iter()
        .filter(|s| s.layer == Layer::Default && s.rule.is_always())
        .cloned()
        .collect();
    let mut state = state_at(
        Inputs {
            schedules: &always,
            ..inputs
        },
        now,
    );
    state.takeover = None;
    state
}

impl PartialOrd for AssetRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AssetRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.sha256, self.size, &self.mime).cmp(&(&other.sha256, other.size, &other.mime))
    }
}
