//! The offline manifest: a contiguous timeline of at least a week, the items
//! it plays and their assets, each once.

use crate::common::{
    BERLIN, DST_DAYS, World, announcement, berlin_midnight, config, date, instant, items_map,
    kaarst_display, main_and_ticker, simple_schedule, state_at, utc, world,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use content::manifest::{Manifest, OFFLINE_DAYS};
use content::model::{AssetRef, ContentItem, ItemKind};
use content::resolve::Inputs;
use content::schedule::{Layer, Rule};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Checks every structural promise of a manifest built at `now`.
fn check_manifest(w: &World, m: &Manifest, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    let inputs = w.inputs();
    let day = now.with_timezone(&BERLIN).date_naive();
    let timeline = &m.timeline;
    prop_assert!(!timeline.is_empty());
    prop_assert_eq!(
        timeline[0].from,
        berlin_midnight(day),
        "starts at the local midnight"
    );
    prop_assert!(
        m.valid_until().unwrap() >= now + Duration::days(7),
        "covers a week from {}",
        now
    );
    prop_assert!(
        m.valid_until().unwrap() >= berlin_midnight(day + Duration::days(OFFLINE_DAYS as i64)),
        "the last local day is complete"
    );
    for pair in timeline.windows(2) {
        prop_assert_eq!(pair[0].until, pair[1].from, "segments are contiguous");
        prop_assert_ne!(&pair[0].state, &pair[1].state, "adjacent segments differ");
    }
    for seg in timeline {
        prop_assert!(seg.from < seg.until);
        prop_assert_eq!(&state_at(inputs, seg.from), &seg.state, "at {}", seg.from);
        let last = seg.until - Duration::seconds(1);
        prop_assert_eq!(&state_at(inputs, last), &seg.state, "at {}", last);
        prop_assert_eq!(m.segment_at(seg.from), Some(seg));
    }
    prop_assert_eq!(m.segment_at(m.valid_until().unwrap()), None);

    // The fallback: only default schedules that hold at every instant, no takeover.
    prop_assert!(m.fallback.takeover.is_none());
    for e in m.fallback.zones.values().flat_map(|p| &p.entries) {
        let s = w.schedule(e.schedule);
        prop_assert!(s.layer == Layer::Default && s.rule.is_always(), "{:?}", s);
    }
    // Items: exactly those played (the fallback too), sorted by id, each once.
    let played: BTreeSet<_> = timeline
        .iter()
        .map(|s| &s.state)
        .chain([&m.fallback])
        .flat_map(|s| s.zones.values().chain(s.takeover.iter()))
        .flat_map(|p| p.entries.iter().map(|e| e.item))
        .collect();
    let ids: Vec<_> = m.items.iter().map(|i| i.id).collect();
    prop_assert_eq!(ids, played.into_iter().collect::<Vec<_>>());
    for item in &m.items {
        prop_assert_eq!(Some(item), w.items.get(&item.id));
    }
    // Assets: every one an item needs, sorted, without duplicates.
    let needed: BTreeSet<&AssetRef> = m.items.iter().flat_map(ContentItem::assets).collect();
    prop_assert_eq!(m.assets.iter().collect::<BTreeSet<_>>(), needed);
    prop_assert!(
        m.assets.windows(2).all(|p| p[0] < p[1]),
        "sorted and unique"
    );
    prop_assert_eq!(&m.feeds.alert_ars, "051620016016");
    Ok(())
}

/// Gives generated items images, some of them shared, so asset dedup is exercised.
fn with_images(mut w: World) -> World {
    for (id, item) in w.items.iter_mut() {
        let shared = AssetRef {
            sha256: format!("{:064x}", id.0 % 2),
            size: 1000 + id.0.unsigned_abs() % 2,
            mime: "image/png".into(),
        };
        if let ItemKind::Announcement { image, .. } = &mut item.content {
            *image = Some(shared);
        }
    }
    w
}

/// A local day in 2026–2027, the DST switch days often.
fn local_day() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (0..730u64).prop_map(|d| date("2026-01-01") + chrono::Days::new(d)),
        (0..DST_DAYS.len(), -1..=1i64).prop_map(|(i, o)| date(DST_DAYS[i]) + Duration::days(o)),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn manifest_timeline_is_contiguous_and_complete(w in world().prop_map(with_images), now in instant()) {
        let m = Manifest::build(w.inputs(), now);
        prop_assert_eq!(m.generated_at, now);
        prop_assert_eq!(m.version, 0);
        check_manifest(&w, &m, now)?;
    }

    /// Two builds on the same local day carry the same content; the version
    /// and build time are not content.
    #[test]
    fn builds_on_the_same_local_day_have_the_same_content(
        w in world(),
        day in local_day(),
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
    ) {
        let (start, end) = (berlin_midnight(day), berlin_midnight(day + Duration::days(1)));
        let len = (end - start).num_seconds() as f64;
        let at = |f: f64| start + Duration::seconds((len * f) as i64);
        let (first, second) = (Manifest::build(w.inputs(), at(a)), Manifest::build(w.inputs(), at(b)));
        prop_assert!(first.same_content(&second), "built at {} and {}", at(a), at(b));
        let mut bumped = second.clone();
        bumped.version += 1;
        prop_assert!(first.same_content(&bumped));
        // The next day's manifest starts a day later.
        let next_day = Manifest::build(w.inputs(), end);
        prop_assert!(!first.same_content(&next_day));
    }
}

fn two_schedules() -> World {
    let rule = |w: &str, e: &str| Rule {
        windows: vec![crate::common::window(w, e)],
        ..Rule::default()
    };
    World {
        display: kaarst_display(),
        layout: main_and_ticker(),
        schedules: vec![
            simple_schedule(1, &[1, 2], rule("08:00", "12:00")),
            simple_schedule(2, &[3], rule("18:00", "02:00")),
        ],
        items: items_map([
            announcement(1, "Bürgerbüro", 10),
            announcement(2, "Stadtbücherei", 10),
            announcement(3, "Nachtbus", 10),
        ]),
    }
}

/// Built in the last hour of the 25-hour autumn switch day, the manifest must
/// still reach a full week ahead (it used to end an hour short).
#[test]
fn manifest_built_late_on_the_long_autumn_day_covers_a_week() {
    let w = two_schedules();
    for now in [
        "2026-10-25T22:30:00Z",
        "2027-10-31T22:59:59Z",
        "2026-03-29T21:59:59Z",
    ] {
        let now = utc(now);
        let m = Manifest::build(w.inputs(), now);
        check_manifest(&w, &m, now).unwrap();
    }
    let m = Manifest::build(w.inputs(), utc("2026-10-25T22:30:00Z"));
    assert_eq!(m.timeline[0].from, utc("2026-10-24T22:00:00Z"));
    assert_eq!(
        m.valid_until(),
        Some(utc("2026-11-01T23:00:00Z")),
        "local midnight 2026-11-02"
    );
}

/// An ordinary week: eight local days, midnight to midnight.
#[test]
fn manifest_spans_eight_local_days() {
    let w = two_schedules();
    let m = Manifest::build(w.inputs(), utc("2026-06-10T12:00:00Z"));
    assert_eq!(
        m.timeline.first().unwrap().from,
        utc("2026-06-09T22:00:00Z")
    );
    assert_eq!(m.valid_until(), Some(utc("2026-06-17T22:00:00Z")));
    // 08–12 and 18–02 each day: segments start at 00:00, 02:00, 08:00, 12:00, 18:00.
    let starts: Vec<String> = m
        .timeline
        .iter()
        .take(6)
        .map(|s| {
            s.from
                .with_timezone(&BERLIN)
                .format("%d. %H:%M")
                .to_string()
        })
        .collect();
    assert_eq!(
        starts,
        [
            "10. 00:00",
            "10. 02:00",
            "10. 08:00",
            "10. 12:00",
            "10. 18:00",
            "11. 02:00"
        ]
    );
}

#[test]
fn shared_assets_are_listed_once() {
    let photo = AssetRef {
        sha256: "ab".repeat(32),
        size: 52_431,
        mime: "image/jpeg".into(),
    };
    let video = AssetRef {
        sha256: "0f".repeat(32),
        size: 9_000_000,
        mime: "video/mp4".into(),
    };
    let mut items = vec![
        announcement(1, "Rathaus", 10),
        announcement(2, "Rathaus bei Nacht", 10),
        announcement(3, "Ohne Bild", 10),
    ];
    for i in &mut items[..2] {
        if let ItemKind::Announcement { image, .. } = &mut i.content {
            *image = Some(photo.clone());
        }
    }
    items.push(ContentItem {
        content: ItemKind::Video {
            asset: video.clone(),
            muted: true,
        },
        ..announcement(4, "Imagefilm", 30)
    });
    items.push(ContentItem {
        content: ItemKind::Image {
            asset: photo.clone(),
            fit: Default::default(),
        },
        ..announcement(5, "Rathaus als Bild", 10)
    });
    // Item 6 is never scheduled: its asset must not be listed.
    items.push(ContentItem {
        content: ItemKind::Image {
            asset: AssetRef {
                sha256: "11".repeat(32),
                size: 1,
                mime: "image/png".into(),
            },
            fit: Default::default(),
        },
        ..announcement(6, "Nicht geplant", 10)
    });
    let (display, layout) = (kaarst_display(), main_and_ticker());
    let schedules = vec![simple_schedule(1, &[1, 2, 3, 4, 5], Rule::default())];
    let items = items_map(items);
    let inputs = Inputs {
        display: &display,
        layout: &layout,
        schedules: &schedules,
        items: &items,
    };
    let m = Manifest::build(inputs, utc("2026-12-01T08:00:00Z"));
    assert_eq!(
        m.assets,
        vec![video, photo],
        "sorted by checksum, each once"
    );
    assert_eq!(m.items.len(), 5);
    assert_eq!(m.timeline.len(), 1, "nothing changes all week");
}

#[test]
fn the_fallback_plays_only_the_always_on_defaults() {
    let display = kaarst_display();
    let layout = main_and_ticker();
    let mut always = simple_schedule(1, &[1], Rule::default());
    always.layer = Layer::Default;
    let mut evenings = simple_schedule(
        2,
        &[2],
        Rule {
            windows: vec![crate::common::window("18:00", "22:00")],
            ..Rule::default()
        },
    );
    evenings.layer = Layer::Default;
    evenings.priority = 5;
    let normal = simple_schedule(3, &[3], Rule::default());
    let mut emergency = simple_schedule(4, &[4], Rule::default());
    emergency.layer = Layer::Emergency;
    let schedules = [always, evenings, normal, emergency];
    let items = items_map((1..=4).map(|i| announcement(i, &format!("Item {i}"), 20)));
    let inputs = Inputs {
        display: &display,
        layout: &layout,
        schedules: &schedules,
        items: &items,
    };
    let now = utc("2026-11-22T12:00:00Z");
    let m = Manifest::build(inputs, now);
    let main: Vec<_> = m.fallback.zones["main"]
        .entries
        .iter()
        .map(|e| e.item.0)
        .collect();
    assert_eq!(main, [1], "only the always-on default, whatever the time");
    assert!(m.fallback.zones["ticker"].is_empty());
    assert!(m.fallback.takeover.is_none());
    // The timeline never plays item 1 (normal and emergency win), yet it is
    // in the manifest, so the player has it cached.
    assert!(
        m.timeline
            .iter()
            .all(|s| s.state.zones["main"].entries.iter().all(|e| e.item.0 != 1))
    );
    assert!(m.items.iter().any(|i| i.id.0 == 1));
    // Deterministic: the same inputs give the same fallback.
    assert_eq!(Manifest::build(inputs, now).fallback, m.fallback);
    // Old manifests (cached before the field) decode, with an empty fallback.
    let mut v = serde_json::to_value(&m).unwrap();
    v.as_object_mut().unwrap().remove("fallback");
    let old: Manifest = serde_json::from_value(v).unwrap();
    assert_eq!(old.fallback, Default::default());
}
