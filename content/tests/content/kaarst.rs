//! A realistic week on the display at the Kaarst Rathausplatz, as snapshots.
//!
//! Monday–Friday 06:00–10:00 a morning announcement with departures; weekends
//! 09:00–18:00 the market; on the first Tuesday of the month 17:00–21:00 the
//! council session live (higher priority); 07:00–17:00 a 20 % share of voice
//! for volunteer recruitment; a clock whenever nothing else plays; a ticker
//! strip all day. Built on Tuesday 2026-12-01, the first Tuesday of December.

use crate::common::{BERLIN, kaarst_display, main_and_ticker, utc, window};
use chrono::{DateTime, Datelike, Utc, Weekday};
use content::manifest::Manifest;
use content::model::{AssetRef, ContentItem, Display, Fit, ItemKind, Layout};
use content::resolve::{Inputs, Playlist, resolve};
use content::schedule::{Entry, Layer, Recurrence, Rule, Schedule, Target};
use content::{DisplayId, ItemId, ScheduleId};
use serde::Serialize;
use std::collections::BTreeMap;

struct Kaarst {
    display: Display,
    layout: Layout,
    schedules: Vec<Schedule>,
    items: BTreeMap<ItemId, ContentItem>,
}

fn asset(byte: &str, size: u64, mime: &str) -> AssetRef {
    AssetRef {
        sha256: byte.repeat(32),
        size,
        mime: mime.into(),
    }
}

fn item(id: i64, name: &str, duration_s: u32, content: ItemKind) -> ContentItem {
    ContentItem {
        id: ItemId(id),
        name: name.into(),
        content,
        duration_s,
        tags: Vec::new(),
        valid_from: None,
        expires_at: None,
    }
}

fn schedule(
    id: i64,
    name: &str,
    targets: Vec<Target>,
    entries: &[(i64, Option<u32>)],
    rule: Rule,
) -> Schedule {
    Schedule {
        id: ScheduleId(id),
        name: name.into(),
        targets,
        zone: "main".into(),
        entries: entries
            .iter()
            .map(|&(i, d)| Entry {
                item: ItemId(i),
                duration_s: d,
            })
            .collect(),
        rule,
        layer: Layer::Normal,
        priority: 0,
        share_of_voice: None,
    }
}

fn weekly(days: &[Weekday], from: &str, until: &str) -> Rule {
    Rule {
        recurrence: Recurrence::Week {
            days: days.to_vec(),
            interval: 1,
        },
        windows: vec![window(from, until)],
        ..Rule::default()
    }
}

fn kaarst() -> Kaarst {
    use Weekday::*;
    let rathaus_foto = asset("3a", 482_113, "image/jpeg");
    let markt_foto = asset("7c", 1_204_332, "image/jpeg");
    let items = [
        item(1, "Uhr", 30, ItemKind::Clock { show_date: true }),
        item(
            2,
            "Guten Morgen",
            15,
            ItemKind::Announcement {
                title: "Guten Morgen, Kaarst!".into(),
                body: "Das Bürgerbüro im Rathaus hat heute von 8:00 bis 12:30 Uhr geöffnet.".into(),
                image: Some(rathaus_foto.clone()),
            },
        ),
        item(
            3,
            "Abfahrten Rathaus",
            20,
            ItemKind::TransitBoard {
                stops: Vec::new(),
                max_rows: 6,
            },
        ),
        item(
            4,
            "Wochenmarkt",
            10,
            ItemKind::Image {
                asset: markt_foto.clone(),
                fit: Fit::Cover,
            },
        ),
        ContentItem {
            expires_at: Some(utc("2026-12-24T13:00:00Z")),
            ..item(
                5,
                "Weihnachtsmarkt",
                12,
                ItemKind::Announcement {
                    title: "Weihnachtsmarkt auf dem Rathausplatz".into(),
                    body: "Glühwein, Reibekuchen und Musik – Samstag und Sonntag ab 11 Uhr.".into(),
                    image: Some(markt_foto.clone()),
                },
            )
        },
        item(
            6,
            "Ratssitzung live",
            600,
            ItemKind::Livestream {
                hls_path: "/live/ratssitzung/index.m3u8".into(),
            },
        ),
        item(
            7,
            "Ehrenamt gesucht",
            10,
            ItemKind::Announcement {
                title: "Ehrenamt gesucht".into(),
                body: "Die Kaarster Tafel sucht Fahrerinnen und Fahrer. Infos: kaarst.de/ehrenamt"
                    .into(),
                image: Some(rathaus_foto.clone()),
            },
        ),
        item(
            8,
            "Laufband",
            60,
            ItemKind::Ticker {
                text: "Ratssitzung am Dienstag ab 17 Uhr live hier und auf kaarst.de +++ \
                   Maubisstraße bis Freitag gesperrt"
                    .into(),
                speed_px_per_s: 120,
            },
        ),
        ContentItem {
            expires_at: Some(utc("2026-09-01T00:00:00Z")),
            ..item(
                9,
                "Sommerfest (abgelaufen)",
                15,
                ItemKind::Announcement {
                    title: "Sommerfest im Stadtpark".into(),
                    body: "Am 29. August ab 14 Uhr.".into(),
                    image: Some(asset("e1", 99_000, "image/png")),
                },
            )
        },
    ];
    let rathausplaetze = Target::Group("Rathausplätze".into());
    let here = Target::Display(DisplayId(1));
    let schedules = vec![
        Schedule {
            layer: Layer::Default,
            ..schedule(1, "Uhr", vec![Target::All], &[(1, None)], Rule::default())
        },
        schedule(
            2,
            "Morgenansage werktags",
            vec![rathausplaetze],
            &[(2, None), (3, None), (9, None)],
            weekly(&[Mon, Tue, Wed, Thu, Fri], "06:00", "10:00"),
        ),
        schedule(
            3,
            "Wochenende",
            vec![here.clone()],
            &[(4, None), (5, None)],
            weekly(&[Sat, Sun], "09:00", "18:00"),
        ),
        Schedule {
            priority: 10,
            ..schedule(
                4,
                "Ratssitzung",
                vec![here.clone()],
                &[(6, Some(4 * 3600))],
                Rule {
                    recurrence: Recurrence::MonthWeekday {
                        nth: 1,
                        weekday: Tue,
                    },
                    windows: vec![window("17:00", "21:00")],
                    ..Rule::default()
                },
            )
        },
        Schedule {
            share_of_voice: Some(20),
            ..schedule(
                5,
                "Ehrenamt (20 %)",
                vec![Target::All],
                &[(7, None)],
                Rule {
                    windows: vec![window("07:00", "17:00")],
                    ..Rule::default()
                },
            )
        },
        Schedule {
            zone: "ticker".into(),
            ..schedule(
                6,
                "Laufband",
                vec![Target::Tag("outdoor".into())],
                &[(8, None)],
                Rule::default(),
            )
        },
        // A warning for another display: never on this one.
        Schedule {
            layer: Layer::Emergency,
            ..schedule(
                7,
                "Warnung Büttgen",
                vec![Target::Display(DisplayId(2))],
                &[(5, None)],
                Rule::default(),
            )
        },
    ];
    Kaarst {
        display: kaarst_display(),
        layout: main_and_ticker(),
        schedules,
        items: items.into_iter().map(|i| (i.id, i)).collect(),
    }
}

impl Kaarst {
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            display: &self.display,
            layout: &self.layout,
            schedules: &self.schedules,
            items: &self.items,
        }
    }
}

fn local(t: DateTime<Utc>) -> String {
    let t = t.with_timezone(&BERLIN);
    let day =
        ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"][t.weekday().num_days_from_monday() as usize];
    format!("{day} {}", t.format("%d.%m. %H:%M"))
}

fn names(k: &Kaarst, p: &Playlist) -> Vec<String> {
    p.entries
        .iter()
        .map(|e| format!("{} ({} s)", k.items[&e.item].name, e.duration_s))
        .collect()
}

/// One segment in local time and item names, for reading.
#[derive(Serialize)]
struct Row {
    von: String,
    bis: String,
    main: Vec<String>,
    ticker: Vec<String>,
}

fn readable(k: &Kaarst, m: &Manifest) -> Vec<Row> {
    m.timeline
        .iter()
        .map(|s| Row {
            von: local(s.from),
            bis: local(s.until),
            main: names(k, &s.state.zones["main"]),
            ticker: names(k, &s.state.zones["ticker"]),
        })
        .collect()
}

fn manifest() -> (Kaarst, Manifest) {
    let k = kaarst();
    let m = Manifest::build(k.inputs(), utc("2026-12-01T08:00:00Z"));
    (k, m)
}

#[test]
fn kaarst_week_timeline() {
    let (k, m) = manifest();
    insta::assert_json_snapshot!("kaarst_week_timeline", readable(&k, &m));
}

#[test]
fn kaarst_manifest() {
    let (_, m) = manifest();
    insta::assert_json_snapshot!("kaarst_manifest", m);
}

#[test]
fn kaarst_resolutions() {
    let k = kaarst();
    let at = [
        "2026-12-01T08:00:00Z", // Tue 09:00: morning announcement, volunteers
        "2026-12-01T16:30:00Z", // Tue 17:30: council session live
        "2026-12-05T10:00:00Z", // Sat 11:00: market
        "2026-12-08T16:30:00Z", // second Tuesday 17:30: only the clock
    ];
    let resolutions: Vec<_> = at.iter().map(|t| resolve(k.inputs(), utc(t))).collect();
    insta::assert_json_snapshot!("kaarst_resolutions", resolutions);
}

/// What the snapshots show, asserted, so a wrong snapshot cannot be accepted
/// by accident.
#[test]
fn kaarst_week_facts() {
    let (k, m) = manifest();
    assert_eq!(
        m.timeline.first().unwrap().from,
        utc("2026-11-30T23:00:00Z")
    );
    assert_eq!(m.valid_until(), Some(utc("2026-12-08T23:00:00Z")));
    let live: Vec<_> = m
        .timeline
        .iter()
        .filter(|s| {
            s.state.zones["main"]
                .entries
                .iter()
                .any(|e| e.item == ItemId(6))
        })
        .map(|s| (s.from, s.until))
        .collect();
    assert_eq!(
        live,
        [(utc("2026-12-01T16:00:00Z"), utc("2026-12-01T20:00:00Z"))]
    );
    for seg in &m.timeline {
        assert_eq!(seg.state.takeover, None);
        assert_eq!(names(&k, &seg.state.zones["ticker"]), ["Laufband (60 s)"]);
        let main = &seg.state.zones["main"];
        assert!(!main.is_empty(), "the clock fills every gap");
        assert!(
            main.entries.iter().all(|e| e.item != ItemId(9)),
            "expired item plays"
        );
    }
    // 09:00 on Tuesday: announcement, volunteers interleaved, departures.
    let nine = m.segment_at(utc("2026-12-01T08:00:00Z")).unwrap();
    assert_eq!(
        names(&k, &nine.state.zones["main"]),
        [
            "Guten Morgen (15 s)",
            "Ehrenamt gesucht (10 s)",
            "Abfahrten Rathaus (20 s)"
        ]
    );
    let ids: Vec<i64> = m.items.iter().map(|i| i.id.0).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(m.assets.len(), 2, "two photos, each listed once");
    assert_eq!(m.feeds.transit_stops, ["de:05162:4711"]);
    assert_eq!(m.feeds.alert_ars, "051620016016");
    let text = serde_json::to_string(&m).unwrap();
    assert!(text.contains("Das Bürgerbüro im Rathaus hat heute von 8:00 bis 12:30 Uhr geöffnet."));
    assert!(text.contains("Maubisstraße"));
    for s in &k.schedules {
        s.validate().unwrap();
    }
}
