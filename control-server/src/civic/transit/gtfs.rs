//! GTFS static import: a zip with stops.txt, routes.txt, trips.txt,
//! stop_times.txt and calendar.txt and/or calendar_dates.txt, read with the
//! `zip` and `csv` crates and written in one transaction that replaces the
//! previous data.

use crate::error::ApiError;
use rusqlite::{Transaction, params};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

const REQUIRED: [&str; 4] = ["stops.txt", "routes.txt", "trips.txt", "stop_times.txt"];

#[derive(Debug, thiserror::Error)]
pub enum GtfsError {
    #[error("not a zip archive: {0}")]
    NotZip(String),
    #[error("the GTFS zip lacks {0}")]
    Missing(String),
    #[error("{file} line {line}: {message}")]
    Row {
        file: &'static str,
        line: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: &'static str, message: String },
}

impl From<GtfsError> for ApiError {
    fn from(e: GtfsError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

#[derive(Debug, Default)]
pub struct Feed {
    pub stops: Vec<(String, String, Option<String>, Option<String>)>,
    pub routes: Vec<(String, String, String)>,
    pub trips: Vec<(String, String, String, Option<String>)>,
    pub stop_times: Vec<(String, i64, String, i64)>,
    pub calendar: Vec<(String, String, String, String)>,
    pub calendar_dates: Vec<(String, String, i64)>,
}

/// "HH:MM:SS" (hours may exceed 24) → seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let mut it = s.trim().split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let sec: i64 = it.next()?.parse().ok()?;
    if it.next().is_some()
        || !(0..60).contains(&m)
        || !(0..61).contains(&sec)
        || !(0..48).contains(&h)
    {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

struct Table {
    file: &'static str,
    index: HashMap<String, usize>,
    rows: csv::StringRecordsIntoIter<std::io::Cursor<Vec<u8>>>,
}

impl Table {
    fn open<R: Read + std::io::Seek>(
        zip: &mut zip::ZipArchive<R>,
        file: &'static str,
    ) -> Result<Option<Table>, GtfsError> {
        let mut entry = match zip.by_name(file) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => {
                return Err(GtfsError::File {
                    file,
                    message: e.to_string(),
                });
            }
        };
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| GtfsError::File {
            file,
            message: e.to_string(),
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(std::io::Cursor::new(data));
        let headers = reader.headers().map_err(|e| GtfsError::File {
            file,
            message: e.to_string(),
        })?;
        let index = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_owned(), i))
            .collect();
        Ok(Some(Table {
            file,
            index,
            rows: reader.into_records(),
        }))
    }

    fn column(&self, name: &str) -> Result<usize, GtfsError> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| GtfsError::File {
                file: self.file,
                message: format!("has no {name} column"),
            })
    }

    fn each(
        self,
        required: &[&str],
        optional: &[&str],
        mut f: impl FnMut(u64, Vec<&str>, Vec<Option<&str>>) -> Result<(), GtfsError>,
    ) -> Result<(), GtfsError> {
        let req: Vec<usize> = required
            .iter()
            .map(|c| self.column(c))
            .collect::<Result<_, _>>()?;
        let opt: Vec<Option<usize>> = optional
            .iter()
            .map(|c| self.index.get(*c).copied())
            .collect();
        let file = self.file;
        for (n, row) in self.rows.enumerate() {
            let line = n as u64 + 2;
            let row = row.map_err(|e| GtfsError::Row {
                file,
                line,
                message: e.to_string(),
            })?;
            let r: Vec<&str> = req
                .iter()
                .map(|&i| row.get(i).unwrap_or("").trim())
                .collect();
            let o: Vec<Option<&str>> = opt
                .iter()
                .map(|i| {
                    i.and_then(|i| row.get(i))
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                })
                .collect();
            f(line, r, o)?;
        }
        Ok(())
    }
}

/// Reads the feed from a zip file on disk.
pub fn read(path: &Path) -> Result<Feed, GtfsError> {
    let file = std::fs::File::open(path).map_err(|e| GtfsError::NotZip(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| GtfsError::NotZip(e.to_string()))?;
    let mut missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| zip.index_for_name(f).is_none())
        .collect();
    if zip.index_for_name("calendar.txt").is_none()
        && zip.index_for_name("calendar_dates.txt").is_none()
    {
        missing.push("calendar.txt or calendar_dates.txt");
    }
    if !missing.is_empty() {
        return Err(GtfsError::Missing(missing.join(", ")));
    }
    let mut feed = Feed::default();
    let open = |zip: &mut zip::ZipArchive<std::fs::File>, f| {
        Table::open(zip, f)?.ok_or(GtfsError::Missing(f.to_owned()))
    };
    open(&mut zip, "stops.txt")?.each(
        &["stop_id"],
        &["stop_name", "platform_code", "parent_station"],
        |_, r, o| {
            feed.stops.push((
                r[0].to_owned(),
                o[0].unwrap_or("").to_owned(),
                o[1].map(str::to_owned),
                o[2].map(str::to_owned),
            ));
            Ok(())
        },
    )?;
    open(&mut zip, "routes.txt")?.each(
        &["route_id"],
        &["route_short_name", "route_long_name"],
        |_, r, o| {
            feed.routes.push((
                r[0].to_owned(),
                o[0].unwrap_or("").to_owned(),
                o[1].unwrap_or("").to_owned(),
            ));
            Ok(())
        },
    )?;
    open(&mut zip, "trips.txt")?.each(
        &["route_id", "service_id", "trip_id"],
        &["trip_headsign"],
        |_, r, o| {
            feed.trips.push((
                r[2].to_owned(),
                r[0].to_owned(),
                r[1].to_owned(),
                o[0].map(str::to_owned),
            ));
            Ok(())
        },
    )?;
    open(&mut zip, "stop_times.txt")?.each(
        &["trip_id", "stop_id", "stop_sequence"],
        &["departure_time", "arrival_time"],
        |line, r, o| {
            let bad = |message: String| GtfsError::Row {
                file: "stop_times.txt",
                line,
                message,
            };
            let seq: i64 = r[2]
                .parse()
                .map_err(|_| bad(format!("stop_sequence {:?} is not a number", r[2])))?;
            // Times may be empty for untimed stops; those are not departures we can show.
            let Some(time) = o[0].or(o[1]) else {
                return Ok(());
            };
            let secs =
                parse_time(time).ok_or_else(|| bad(format!("time {time:?} is not HH:MM:SS")))?;
            feed.stop_times
                .push((r[0].to_owned(), seq, r[1].to_owned(), secs));
            Ok(())
        },
    )?;
    if let Some(t) = Table::open(&mut zip, "calendar.txt")? {
        t.each(
            &[
                "service_id",
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
                "start_date",
                "end_date",
            ],
            &[],
            |line, r, _| {
                let days: String = r[1..8]
                    .iter()
                    .map(|d| if *d == "1" { '1' } else { '0' })
                    .collect();
                for d in [r[8], r[9]] {
                    if chrono::NaiveDate::parse_from_str(d, "%Y%m%d").is_err() {
                        return Err(GtfsError::Row {
                            file: "calendar.txt",
                            line,
                            message: format!("date {d:?} is not YYYYMMDD"),
                        });
                    }
                }
                feed.calendar
                    .push((r[0].to_owned(), days, r[8].to_owned(), r[9].to_owned()));
                Ok(())
            },
        )?;
    }
    if let Some(t) = Table::open(&mut zip, "calendar_dates.txt")? {
        t.each(
            &["service_id", "date", "exception_type"],
            &[],
            |line, r, _| {
                let kind = match r[2] {
                    "1" => 1,
                    "2" => 2,
                    other => {
                        return Err(GtfsError::Row {
                            file: "calendar_dates.txt",
                            line,
                            message: format!("exception_type {other:?} is not 1 or 2"),
                        });
                    }
                };
                feed.calendar_dates
                    .push((r[0].to_owned(), r[1].to_owned(), kind));
                Ok(())
            },
        )?;
    }
    Ok(feed)
}

/// Replaces the stored GTFS data with `feed`.
pub fn store(tx: &Transaction<'_>, feed: &Feed) -> Result<(), ApiError> {
    tx.execute_batch(
        "DELETE FROM gtfs_stops; DELETE FROM gtfs_routes; DELETE FROM gtfs_trips;
         DELETE FROM gtfs_stop_times; DELETE FROM gtfs_calendar; DELETE FROM gtfs_calendar_dates;",
    )?;
    let mut s = tx.prepare(
        "INSERT OR REPLACE INTO gtfs_stops (stop_id, name, platform_code, parent_station) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for r in &feed.stops {
        s.execute(params![r.0, r.1, r.2, r.3])?;
    }
    let mut s = tx.prepare(
        "INSERT OR REPLACE INTO gtfs_routes (route_id, short_name, long_name) VALUES (?1, ?2, ?3)",
    )?;
    for r in &feed.routes {
        s.execute(params![r.0, r.1, r.2])?;
    }
    let mut s = tx.prepare(
        "INSERT OR REPLACE INTO gtfs_trips (trip_id, route_id, service_id, headsign) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for r in &feed.trips {
        s.execute(params![r.0, r.1, r.2, r.3])?;
    }
    let mut s = tx.prepare(
        "INSERT OR REPLACE INTO gtfs_stop_times (trip_id, stop_sequence, stop_id, departure_s) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for r in &feed.stop_times {
        s.execute(params![r.0, r.1, r.2, r.3])?;
    }
    let mut s = tx.prepare(
        "INSERT OR REPLACE INTO gtfs_calendar (service_id, days, start_date, end_date) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for r in &feed.calendar {
        s.execute(params![r.0, r.1, r.2, r.3])?;
    }
    let mut s = tx.prepare(
        "INSERT OR REPLACE INTO gtfs_calendar_dates (service_id, date, exception_type) VALUES (?1, ?2, ?3)",
    )?;
    for r in &feed.calendar_dates {
        s.execute(params![r.0, r.1, r.2])?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO gtfs_import (id, imported_at, stops, trips, stop_times) VALUES (1, ?1, ?2, ?3, ?4)",
        params![
            crate::db::now_text(),
            feed.stops.len() as i64,
            feed.trips.len() as i64,
            feed.stop_times.len() as i64
        ],
    )?;
    Ok(())
}
