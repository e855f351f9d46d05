//! Civic demo data for `control-server demo`: a sensor on a lamp post of each
//! of the five Kaarst squares with three days of readings, and a small GTFS
//! timetable (two bus lines through the squares' stops, every day of the
//! week), so the sensor panels and departure boards show something at once.
//!
//! Made up, not measured: the values follow a plausible daily curve (ozone
//! peaks in the afternoon, particulates and NO2 with the rush hours). While
//! the demo runs, [`keep_live`] adds a reading every ten minutes through the
//! normal ingest path, so the displays get live pushes and nothing goes stale.

use crate::civic::sensors::{self, Normalised, quantity_name};
use crate::civic::transit::gtfs::{Feed, store};
use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Duration, Timelike as _, Utc};
use content::live::Quantity;
use rusqlite::{Transaction, params};

const KAARST_ARS: &str = "051620016016";

/// The lamp-post sensors: id, name, position (next to the demo's squares).
pub const STATIONS: [(&str, &str, f64, f64); 5] = [
    (
        "demo-laterne-rathausplatz",
        "Laterne Kaarst Rathausplatz",
        51.2277,
        6.6170,
    ),
    (
        "demo-laterne-buettgen",
        "Laterne Büttgen Rathausplatz",
        51.2000,
        6.6030,
    ),
    (
        "demo-laterne-holzbuettgen",
        "Laterne Holzbüttgen Lindenplatz",
        51.2136,
        6.6351,
    ),
    (
        "demo-laterne-vorst",
        "Laterne Vorst St. Eustachiusplatz",
        51.2381,
        6.5858,
    ),
    (
        "demo-laterne-driesch",
        "Laterne Driesch Spielplatz",
        51.2198,
        6.6455,
    ),
];

const QUANTITIES: [Quantity; 7] = [
    Quantity::Pm10,
    Quantity::Pm25,
    Quantity::No2,
    Quantity::O3,
    Quantity::Temperature,
    Quantity::Humidity,
    Quantity::Pressure,
];

/// Days of readings seeded, one every half hour.
const HISTORY_DAYS: i64 = 3;
const STEP_S: i64 = 1800;

/// A demo value of `q` at station `station` at `t`: a daily curve plus a
/// little deterministic noise, always inside the plausible ranges.
pub fn value(station: usize, q: Quantity, t: DateTime<Utc>) -> f64 {
    // Local hour in Kaarst, near enough (CET) for a made-up curve.
    let hour = f64::from((t + Duration::hours(1)).hour()) + f64::from(t.minute()) / 60.0;
    let afternoon = ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos();
    let rush = (-(hour - 8.0).powi(2) / 3.0).exp() + (-(hour - 17.5).powi(2) / 4.0).exp();
    let seed = (t.timestamp() / STEP_S)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(station as i64 * 40_503);
    let noise = (seed.rem_euclid(1000) as f64 / 1000.0) - 0.5;
    let s = station as f64;
    let v = match q {
        Quantity::Pm10 => 14.0 + 12.0 * rush + 2.0 * s + 3.0 * noise,
        Quantity::Pm25 => 8.0 + 7.0 * rush + 1.2 * s + 2.0 * noise,
        Quantity::No2 => 16.0 + 22.0 * rush + 3.0 * s + 4.0 * noise,
        Quantity::O3 => 45.0 + 30.0 * afternoon - 2.0 * s + 5.0 * noise,
        Quantity::Temperature => 7.0 + 4.5 * afternoon + 0.3 * s + 0.4 * noise,
        Quantity::Humidity => 76.0 - 14.0 * afternoon + 2.0 * noise,
        Quantity::Pressure => {
            1014.0 + 4.0 * (t.timestamp() as f64 / 86_400.0 / 3.0).sin() + 0.3 * noise
        }
    };
    (v.max(0.0) * 10.0).round() / 10.0
}

/// Seeds the stations, their readings up to `now`, and the timetable.
pub fn seed(tx: &Transaction<'_>, now: DateTime<Utc>) -> Result<(), ApiError> {
    let created = crate::db::now_text();
    let last = now.timestamp().div_euclid(STEP_S) * STEP_S;
    let first = last - HISTORY_DAYS * 86_400;
    {
        let mut station = tx.prepare(
            "INSERT INTO sensors (id, name, lat, lon, ars, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut reading = tx.prepare(
            "INSERT OR REPLACE INTO sensor_readings (station, quantity, measured_at, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, (id, name, lat, lon)) in STATIONS.iter().enumerate() {
            station.execute(params![id, name, lat, lon, KAARST_ARS, created])?;
            for at in (first..=last).step_by(STEP_S as usize) {
                let t = sensors::unix(at);
                for q in QUANTITIES {
                    reading.execute(params![id, quantity_name(q), at, value(i, q, t)])?;
                }
            }
        }
    }
    store(tx, &timetable(now))?;
    Ok(())
}

/// A demo bus line: three stops, `gap` minutes apart, a bus every `headway` minutes.
struct Line {
    route: &'static str,
    name: &'static str,
    long: &'static str,
    stops: [&'static str; 3],
    gap: i64,
    headway: i64,
}

/// Two bus lines through the demo's five stops, both directions, every day
/// (05:00 to 24:00, then hourly through the night), valid from a week
/// before `now` for two years.
pub fn timetable(now: DateTime<Utc>) -> Feed {
    let mut feed = Feed::default();
    for (id, name) in [
        ("de:05162:7001", "Kaarst Rathaus"),
        ("de:05162:7101", "Büttgen Rathausplatz"),
        ("de:05162:7201", "Holzbüttgen Lindenplatz"),
        ("de:05162:7301", "Vorst Kirche"),
        ("de:05162:7401", "Driesch"),
    ] {
        feed.stops.push((id.into(), name.into(), None, None));
    }
    let lines = [
        Line {
            route: "demo-831",
            name: "831",
            long: "Büttgen – Kaarst – Holzbüttgen",
            stops: ["de:05162:7101", "de:05162:7001", "de:05162:7201"],
            gap: 6,
            headway: 20,
        },
        Line {
            route: "demo-833",
            name: "833",
            long: "Vorst – Kaarst – Driesch",
            stops: ["de:05162:7301", "de:05162:7001", "de:05162:7401"],
            gap: 7,
            headway: 30,
        },
    ];
    let service = "demo-taeglich";
    let start = (now - Duration::days(7)).format("%Y%m%d").to_string();
    let end = (now + Duration::days(730)).format("%Y%m%d").to_string();
    feed.calendar
        .push((service.into(), "1111111".into(), start, end));
    let name_of = |id: &str| {
        feed.stops
            .iter()
            .find(|s| s.0 == id)
            .map(|s| s.1.clone())
            .unwrap_or_default()
    };
    let mut trips = Vec::new();
    let mut stop_times = Vec::new();
    for Line {
        route,
        name,
        long,
        stops,
        gap,
        headway,
    } in lines
    {
        feed.routes.push((route.into(), name.into(), long.into()));
        for (dir, order) in [(0, stops), (1, [stops[2], stops[1], stops[0]])] {
            let headsign = name_of(order[2]);
            let mut start_s = 5 * 3600 + dir * 5 * 60;
            // Day service at the line's headway, then hourly night buses until
            // the next morning (times past 24:00 belong to the service day
            // before), so the boards are never empty in the demo.
            while start_s < 29 * 3600 {
                let trip = format!("{route}-{dir}-{:04}", start_s / 60);
                trips.push((
                    trip.clone(),
                    route.to_owned(),
                    service.to_owned(),
                    Some(headsign.clone()),
                ));
                for (seq, stop) in order.iter().enumerate() {
                    stop_times.push((
                        trip.clone(),
                        seq as i64 + 1,
                        (*stop).to_owned(),
                        start_s + seq as i64 * gap * 60,
                    ));
                }
                start_s += if start_s < 24 * 3600 {
                    headway * 60
                } else {
                    3600
                };
            }
        }
    }
    feed.trips = trips;
    feed.stop_times = stop_times;
    feed
}

/// While the demo runs: every ten minutes a new reading per demo station,
/// through the normal ingest (stored, pushed to the displays of the area).
pub async fn keep_live(state: AppState) {
    // The seed ends at the current half hour: the first new reading can wait a period.
    let period = std::time::Duration::from_secs(600);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Utc::now();
        for (i, (id, ..)) in STATIONS.iter().enumerate() {
            let readings = QUANTITIES
                .iter()
                .map(|&q| Normalised {
                    quantity: q,
                    value: value(i, q, now),
                    measured_at: now,
                })
                .collect();
            let r = sensors::ingest(&state.db, &state.hub, &state.sensors, id, readings, now).await;
            if let Err(e) = r {
                // A station deleted by staff: nothing to keep alive.
                tracing::debug!(station = id, "demo reading not stored: {e}");
            }
        }
    }
}
