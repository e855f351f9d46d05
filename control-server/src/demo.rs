//! Demo data: the five Kaarst squares, German announcements and a council
//! session schedule. Seeded into an empty database only, so restarting the
//! demo never duplicates or overwrites what staff changed.
//!
//! Coordinates are the squares' approximate centres (WGS 84). Stop ids follow
//! the DHID pattern of the Rhein-Kreis Neuss but are made up for the demo.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use chrono::{NaiveTime, Weekday};
use content::model::{ContentItem, Display, ItemKind, Layout, Location, Resolution, StopRef, Zone};
use content::schedule::{Entry, Layer, Recurrence, Rule, Schedule, Target, Window};
use content::{DisplayId, ItemId, LayoutId, ScheduleId};
use rusqlite::Connection;

const KAARST_ARS: &str = "051620016016";

const SQUARES: [(&str, f64, f64, &str, &str); 5] = [
    (
        "Kaarst Rathausplatz",
        51.2276,
        6.6172,
        "de:05162:7001",
        "Kaarst Rathaus",
    ),
    (
        "Büttgen Rathausplatz",
        51.1999,
        6.6032,
        "de:05162:7101",
        "Büttgen Rathausplatz",
    ),
    (
        "Holzhütten Lindenplatz",
        51.2135,
        6.6353,
        "de:05162:7201",
        "Holzbüttgen Lindenplatz",
    ),
    (
        "Vorst St. Eustachiusplatz",
        51.2380,
        6.5860,
        "de:05162:7301",
        "Vorst Kirche",
    ),
    (
        "Driesch Spielplatz",
        51.2197,
        6.6457,
        "de:05162:7401",
        "Driesch",
    ),
];

/// Seeds the demo into an empty database; returns false if data existed.
/// Either way, the demo's lamp-post sensors get a new reading every ten
/// minutes while the process runs (`civic::demo::keep_live`).
pub async fn seed(state: &AppState) -> anyhow::Result<bool> {
    let seeded = state
        .db
        .call(|c| {
            let existing: i64 = c.query_row("SELECT COUNT(*) FROM displays", [], |r| r.get(0))?;
            if existing > 0 {
                return Ok(false);
            }
            let tx = c.transaction()?;
            seed_into(&tx)?;
            // Sensors with three days of readings and a timetable for the squares' stops.
            crate::civic::demo::seed(&tx, chrono::Utc::now())?;
            // The next council meeting with its agenda (one item closed).
            crate::council::demo::seed(&tx, chrono::Utc::now())?;
            crate::audit::record(&tx, "demo", "demo.seed", "database", serde_json::json!({}))?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if seeded {
        tracing::info!("seeded the Kaarst demo data");
    }
    tokio::spawn(crate::civic::demo::keep_live(state.clone()));
    Ok(seeded)
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

fn item(name: &str, duration_s: u32, content: ItemKind) -> ContentItem {
    ContentItem {
        id: ItemId(0),
        name: name.into(),
        content,
        duration_s,
        tags: vec![],
        valid_from: None,
        expires_at: None,
    }
}

fn announcement(title: &str, body: &str) -> ItemKind {
    ItemKind::Announcement {
        title: title.into(),
        body: body.into(),
        image: None,
    }
}

fn seed_into(c: &Connection) -> Result<(), ApiError> {
    for (name, description) in [
        (
            "Rathausplätze",
            "Die beiden Rathausplätze in Kaarst und Büttgen",
        ),
        ("Stadtteile", "Plätze in den Stadtteilen"),
    ] {
        c.execute(
            "INSERT INTO groups (name, description) VALUES (?1, ?2)",
            [name, description],
        )?;
    }

    let mut layout = Layout {
        id: LayoutId(0),
        name: "Hauptbereich mit Laufband".into(),
        zones: vec![
            Zone {
                name: "main".into(),
                x: 0.0,
                y: 0.0,
                width: 100.0,
                height: 88.0,
                z: 0,
            },
            Zone {
                name: "ticker".into(),
                x: 0.0,
                y: 88.0,
                width: 100.0,
                height: 12.0,
                z: 1,
            },
        ],
    };
    store::insert(c, &mut layout)?;

    let mut displays = Vec::new();
    for (i, (name, lat, lon, stop_id, stop_name)) in SQUARES.iter().enumerate() {
        let group = if i < 2 {
            "Rathausplätze"
        } else {
            "Stadtteile"
        };
        let mut d = Display {
            id: DisplayId(0),
            name: (*name).into(),
            location: Location {
                lat: *lat,
                lon: *lon,
                ars: KAARST_ARS.parse().map_err(ApiError::internal)?,
                address: Some(format!("{name}, 41564 Kaarst")),
            },
            resolution: Resolution {
                width: 1920,
                height: 1080,
            },
            orientation: Default::default(),
            timezone: Default::default(),
            groups: vec![group.into()],
            tags: vec!["outdoor".into()],
            transit_stops: vec![StopRef {
                id: (*stop_id).into(),
                name: (*stop_name).into(),
            }],
            layout_id: Some(layout.id),
            // Night mode off: tests use the demo at any time of day.
            screen_off: Vec::new(),
        };
        store::insert(c, &mut d)?;
        displays.push(d);
    }

    let mut items = vec![
        item(
            "Wochenmarkt",
            15,
            announcement(
                "Wochenmarkt auf dem Rathausplatz",
                "Dienstags und freitags von 7 bis 13 Uhr: frisches Obst, Gemüse und Blumen aus der Region.",
            ),
        ),
        item(
            "Bürgerbüro",
            12,
            announcement(
                "Bürgerbüro: Termine online buchen",
                "Personalausweis, Reisepass, Meldebescheinigung – vereinbaren Sie Ihren Termin unter kaarst.de.",
            ),
        ),
        item(
            "Ratssitzung live",
            3600,
            ItemKind::Livestream { hls_path: "/live/council/index.m3u8".into() },
        ),
        item("Uhr", 20, ItemKind::Clock { show_date: true }),
        item(
            "Abfahrten",
            20,
            ItemKind::TransitBoard { stops: vec![], max_rows: 6 },
        ),
        item(
            "Luftqualität",
            15,
            ItemKind::SensorPanel {
                stations: vec![],
                quantities: vec![
                    content::live::Quantity::O3,
                    content::live::Quantity::Pm10,
                    content::live::Quantity::Temperature,
                ],
            },
        ),
        item(
            "Laufband",
            60,
            ItemKind::Ticker {
                text: "Stadt Kaarst – Straßenfest am Samstag ab 11 Uhr • Grünschnittannahme geöffnet • Bürgerbüro heute bis 18 Uhr"
                    .into(),
                speed_px_per_s: 120,
            },
        ),
        item(
            "Wochenende",
            15,
            announcement("Schönes Wochenende!", "Die Stadtbücherei hat samstags von 10 bis 14 Uhr geöffnet."),
        ),
    ];
    for i in &mut items {
        store::insert(c, i)?;
    }
    let id = |name: &str| {
        items
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.id)
            .expect("seeded item")
    };
    let entries = |names: &[&str]| {
        names
            .iter()
            .map(|n| Entry {
                item: id(n),
                duration_s: None,
            })
            .collect()
    };
    let weekdays = vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    let mut schedules = vec![
        Schedule {
            id: ScheduleId(0),
            name: "Standard: Uhr und Luftqualität".into(),
            targets: vec![Target::All],
            zone: "main".into(),
            entries: entries(&["Uhr", "Luftqualität"]),
            rule: Rule::default(),
            layer: Layer::Default,
            priority: 0,
            share_of_voice: None,
        },
        Schedule {
            id: ScheduleId(0),
            name: "Werktags: Bürgerinformation".into(),
            targets: vec![Target::All],
            zone: "main".into(),
            entries: entries(&["Bürgerbüro", "Abfahrten", "Luftqualität"]),
            rule: Rule {
                recurrence: Recurrence::Week {
                    days: weekdays,
                    interval: 1,
                },
                windows: vec![Window {
                    start: t(6, 0),
                    end: t(22, 0),
                }],
                ..Default::default()
            },
            layer: Layer::Normal,
            priority: 10,
            share_of_voice: None,
        },
        Schedule {
            id: ScheduleId(0),
            name: "Markttage auf den Rathausplätzen".into(),
            targets: vec![Target::Group("Rathausplätze".into())],
            zone: "main".into(),
            entries: entries(&["Wochenmarkt"]),
            rule: Rule {
                recurrence: Recurrence::Week {
                    days: vec![Weekday::Tue, Weekday::Fri],
                    interval: 1,
                },
                windows: vec![Window {
                    start: t(6, 0),
                    end: t(13, 0),
                }],
                ..Default::default()
            },
            layer: Layer::Normal,
            priority: 10,
            share_of_voice: Some(25),
        },
        Schedule {
            id: ScheduleId(0),
            name: "Wochenende".into(),
            targets: vec![Target::All],
            zone: "main".into(),
            entries: entries(&["Wochenende", "Abfahrten", "Uhr"]),
            rule: Rule {
                recurrence: Recurrence::Week {
                    days: vec![Weekday::Sat, Weekday::Sun],
                    interval: 1,
                },
                windows: vec![Window {
                    start: t(8, 0),
                    end: t(22, 0),
                }],
                ..Default::default()
            },
            layer: Layer::Normal,
            priority: 10,
            share_of_voice: None,
        },
        Schedule {
            id: ScheduleId(0),
            name: "Ratssitzung live (erster Dienstag im Monat)".into(),
            targets: vec![Target::Group("Rathausplätze".into())],
            zone: "main".into(),
            entries: entries(&["Ratssitzung live"]),
            rule: Rule {
                recurrence: Recurrence::MonthWeekday {
                    nth: 1,
                    weekday: Weekday::Tue,
                },
                windows: vec![Window {
                    start: t(17, 0),
                    end: t(21, 0),
                }],
                ..Default::default()
            },
            layer: Layer::Normal,
            priority: 50,
            share_of_voice: None,
        },
        Schedule {
            id: ScheduleId(0),
            name: "Laufband".into(),
            targets: vec![Target::All],
            zone: "ticker".into(),
            entries: entries(&["Laufband"]),
            rule: Rule::default(),
            layer: Layer::Normal,
            priority: 0,
            share_of_voice: None,
        },
    ];
    for s in &mut schedules {
        s.validate()
            .map_err(|e| ApiError::internal(format!("demo schedule {:?}: {e}", s.name)))?;
        store::insert(c, s)?;
    }
    Ok(())
}
