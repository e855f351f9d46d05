//! Fixtures and proptest strategies shared by the test modules.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone as _, Utc, Weekday};
use chrono_tz::Tz;
use content::model::{
    ContentItem, Display, ItemKind, Layout, Location, Orientation, Resolution, StopRef, Zone,
};
use content::resolve::{Inputs, PlayState, resolve_until};
use content::schedule::{Entry, Layer, Recurrence, Rule, Schedule, Target, Window};
use content::{DisplayId, ItemId, LayoutId, ScheduleId, TimeZone};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::collections::BTreeMap;

pub const BERLIN: Tz = Tz::Europe__Berlin;

/// The four daylight-saving switch days of 2026–2027 in Europe/Berlin. Every
/// switch happens at 01:00 UTC.
pub const DST_DAYS: [&str; 4] = ["2026-03-29", "2026-10-25", "2027-03-28", "2027-10-31"];

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse()
        .unwrap_or_else(|e| panic!("bad instant {s:?}: {e}"))
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

pub fn time(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap_or_else(|e| panic!("bad time {s:?}: {e}"))
}

pub fn window(start: &str, end: &str) -> Window {
    Window {
        start: time(start),
        end: time(end),
    }
}

/// The first instant of a local day in Berlin (midnight is never in a gap there).
pub fn berlin_midnight(day: NaiveDate) -> DateTime<Utc> {
    BERLIN
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// What the display plays at `t`, without searching for the next change.
pub fn state_at(inputs: Inputs<'_>, t: DateTime<Utc>) -> PlayState {
    resolve_until(inputs, t, t).state
}

pub fn kaarst_location() -> Location {
    Location {
        lat: 51.2276,
        lon: 6.6172,
        ars: "051620016016".parse().unwrap(),
        address: Some("Am Neumarkt 2, 41564 Kaarst".into()),
    }
}

pub fn kaarst_display() -> Display {
    Display {
        id: DisplayId(1),
        name: "Kaarst Rathausplatz".into(),
        location: kaarst_location(),
        resolution: Resolution {
            width: 1920,
            height: 1080,
        },
        orientation: Orientation::Landscape,
        timezone: TimeZone::default(),
        groups: vec!["Rathausplätze".into()],
        tags: vec!["outdoor".into()],
        transit_stops: vec![StopRef {
            id: "de:05162:4711".into(),
            name: "Kaarst, Rathaus".into(),
        }],
        layout_id: Some(LayoutId(1)),
        screen_off: Vec::new(),
    }
}

/// Main zone above a ticker strip.
pub fn main_and_ticker() -> Layout {
    Layout {
        id: LayoutId(1),
        name: "Hauptbereich mit Laufband".into(),
        zones: vec![
            Zone {
                name: "main".into(),
                x: 0.0,
                y: 0.0,
                width: 100.0,
                height: 90.0,
                z: 0,
            },
            Zone {
                name: "ticker".into(),
                x: 0.0,
                y: 90.0,
                width: 100.0,
                height: 10.0,
                z: 1,
            },
        ],
    }
}

pub fn announcement(id: i64, title: &str, duration_s: u32) -> ContentItem {
    ContentItem {
        id: ItemId(id),
        name: title.into(),
        content: ItemKind::Announcement {
            title: title.into(),
            body: String::new(),
            image: None,
        },
        duration_s,
        tags: Vec::new(),
        valid_from: None,
        expires_at: None,
    }
}

/// A normal-layer schedule for every display, whole days, main zone.
pub fn simple_schedule(id: i64, items: &[i64], rule: Rule) -> Schedule {
    Schedule {
        id: ScheduleId(id),
        name: format!("Plan {id}"),
        targets: vec![Target::All],
        zone: "main".into(),
        entries: items
            .iter()
            .map(|&i| Entry {
                item: ItemId(i),
                duration_s: None,
            })
            .collect(),
        rule,
        layer: Layer::Normal,
        priority: 0,
        share_of_voice: None,
    }
}

pub fn items_map(items: impl IntoIterator<Item = ContentItem>) -> BTreeMap<ItemId, ContentItem> {
    items.into_iter().map(|i| (i.id, i)).collect()
}

/// `cases` cases (or `PROPTEST_CASES` when set, for a longer hunt), failures
/// persisted next to the test source.
pub fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            cases
        },
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..default
    }
}

// ---------------------------------------------------------------------------
// Generated worlds
// ---------------------------------------------------------------------------

/// A display, its layout, and generated schedules and items.
#[derive(Debug, Clone)]
pub struct World {
    pub display: Display,
    pub layout: Layout,
    pub schedules: Vec<Schedule>,
    pub items: BTreeMap<ItemId, ContentItem>,
}

impl World {
    pub fn inputs(&self) -> Inputs<'_> {
        Inputs {
            display: &self.display,
            layout: &self.layout,
            schedules: &self.schedules,
            items: &self.items,
        }
    }

    pub fn schedule(&self, id: ScheduleId) -> &Schedule {
        self.schedules
            .iter()
            .find(|s| s.id == id)
            .expect("entry names a known schedule")
    }
}

/// 2026-01-01T00:00:00Z.
pub fn start_2026() -> DateTime<Utc> {
    utc("2026-01-01T00:00:00Z")
}

/// Seconds in 2026 and 2027 together.
pub const TWO_YEARS_S: i64 = 730 * 86_400;

/// Any instant (whole seconds) in 2026–2027, with a strong bias to the night
/// of a DST switch (local 00:00–06:00) and to the whole switch day.
pub fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        3 => (0..TWO_YEARS_S).prop_map(|s| start_2026() + Duration::seconds(s)),
        3 => (0..DST_DAYS.len(), 0..6 * 3600i64)
            .prop_map(|(d, s)| berlin_midnight(date(DST_DAYS[d])) + Duration::seconds(s)),
        1 => (0..DST_DAYS.len(), 0..25 * 3600i64)
            .prop_map(|(d, s)| berlin_midnight(date(DST_DAYS[d])) + Duration::seconds(s)),
    ]
}

/// A quarter-hour instant in (roughly) 2026–2027, for item validity edges.
fn quarter_hour_instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0..TWO_YEARS_S / 900).prop_map(|q| start_2026() + Duration::seconds(q * 900)),
        (0..DST_DAYS.len(), 0..24i64)
            .prop_map(|(d, q)| berlin_midnight(date(DST_DAYS[d])) + Duration::minutes(q * 15)),
    ]
}

/// A local quarter-hour, biased to the DST hours 00:00–05:00.
fn quarter_hour_time() -> impl Strategy<Value = NaiveTime> {
    prop_oneof![0u32..20, 0u32..96]
        .prop_map(|q| NaiveTime::from_hms_opt(q / 4, (q % 4) * 15, 0).unwrap())
}

fn window_strategy() -> impl Strategy<Value = Window> {
    (quarter_hour_time(), quarter_hour_time()).prop_map(|(start, mut end)| {
        if end == start {
            end = start + Duration::minutes(45);
        }
        Window { start, end }
    })
}

fn day_in_range() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (0..800u64).prop_map(|d| date("2025-12-01") + chrono::Days::new(d)),
        (0..DST_DAYS.len(), -1..=1i64).prop_map(|(i, off)| date(DST_DAYS[i]) + Duration::days(off)),
    ]
}

fn weekday() -> impl Strategy<Value = Weekday> {
    (0u8..7).prop_map(|d| Weekday::try_from(d).unwrap())
}

fn recurrence() -> impl Strategy<Value = Recurrence> {
    prop_oneof![
        3 => Just(Recurrence::Day),
        1 => (1u16..4).prop_map(|interval| Recurrence::Days { interval }),
        2 => (proptest::collection::btree_set(weekday().prop_map(|w| w.num_days_from_monday()), 1..4), 1u16..3)
            .prop_map(|(days, interval)| Recurrence::Week {
                days: days.into_iter().map(|d| Weekday::try_from(d as u8).unwrap()).collect(),
                interval,
            }),
        1 => proptest::collection::vec(prop_oneof![Just(1i8), Just(15), Just(25), Just(28), Just(29), Just(31), Just(-1)], 1..3)
            .prop_map(|days| Recurrence::MonthDays { days }),
        1 => (prop_oneof![Just(1i8), Just(2), Just(4), Just(5), Just(-1)], weekday())
            .prop_map(|(nth, weekday)| Recurrence::MonthWeekday { nth, weekday }),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::weighted(0.2, day_in_range()),
        proptest::option::weighted(0.2, day_in_range()),
        recurrence(),
        proptest::collection::vec(window_strategy(), 0..3),
        proptest::collection::vec(day_in_range(), 0..2),
    )
        .prop_map(|(mut from, mut until, recurrence, windows, except)| {
            // "every N" needs an anchor; give it one so most rules are valid.
            let needs_anchor = matches!(
                recurrence,
                Recurrence::Days { interval } | Recurrence::Week { interval, .. } if interval > 1
            );
            if needs_anchor {
                from = from.or(Some(date("2026-01-05")));
            }
            if let (Some(f), Some(u)) = (from, until)
                && u < f
            {
                (from, until) = (Some(u), Some(f));
            }
            Rule {
                from,
                until,
                recurrence,
                windows,
                except,
            }
        })
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        4 => Just(Target::All),
        3 => Just(Target::Display(DisplayId(1))),
        1 => Just(Target::Display(DisplayId(2))),
        1 => Just(Target::Group("Rathausplätze".into())),
        1 => Just(Target::Group("Schulen".into())),
        1 => Just(Target::Tag("outdoor".into())),
        1 => Just(Target::Tag("indoor".into())),
    ]
}

fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![3 => Just(Layer::Default), 6 => Just(Layer::Normal), 1 => Just(Layer::Emergency)]
}

/// A schedule without its id (assigned by [`world`]). Item 9 never exists.
fn schedule() -> impl Strategy<Value = Schedule> {
    (
        proptest::collection::vec(target(), 1..3),
        prop_oneof![
            4 => Just("main"),
            2 => Just("ticker"),
            1 => Just("gibt-es-nicht")
        ],
        proptest::collection::vec(
            (
                prop_oneof![9 => 1i64..=6, 1 => Just(9i64)],
                proptest::option::weighted(0.3, 1u32..=90),
            ),
            1..4,
        ),
        rule(),
        layer(),
        0i32..3,
        proptest::option::weighted(0.2, 5u8..=60),
    )
        .prop_map(
            |(targets, zone, entries, rule, layer, priority, share)| Schedule {
                id: ScheduleId(0),
                name: "generiert".into(),
                targets,
                zone: zone.into(),
                entries: entries
                    .into_iter()
                    .map(|(item, duration_s)| Entry {
                        item: ItemId(item),
                        duration_s,
                    })
                    .collect(),
                rule,
                layer,
                priority,
                // An emergency schedule cannot share airtime (validation refuses it).
                share_of_voice: share.filter(|_| layer != Layer::Emergency),
            },
        )
}

fn item(id: i64) -> impl Strategy<Value = ContentItem> {
    (
        5u32..=60,
        proptest::option::weighted(0.1, quarter_hour_instant()),
        proptest::option::weighted(0.1, quarter_hour_instant()),
    )
        .prop_map(move |(duration_s, valid_from, expires_at)| ContentItem {
            valid_from,
            expires_at,
            ..announcement(id, &format!("Meldung {id}"), duration_s)
        })
}

/// The Kaarst display and layout with 1–6 generated schedules (ids 1..=n) over
/// items 1..=6.
pub fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(schedule(), 1..8),
        (1i64..=6).prop_flat_map(|n| (1..=n).map(item).collect::<Vec<_>>()),
    )
        .prop_map(|(mut schedules, items)| {
            for (i, s) in schedules.iter_mut().enumerate() {
                s.id = ScheduleId(i as i64 + 1);
                s.name = format!("Plan {}", i + 1);
            }
            World {
                display: kaarst_display(),
                layout: main_and_ticker(),
                schedules,
                items: items_map(items),
            }
        })
}
