//! The demo's council meeting: the next first Tuesday of a month at 17:00 in
//! Kaarst (when the demo's "Ratssitzung live" schedule runs), with an agenda
//! that has one closed item.

use crate::error::ApiError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Utc, Weekday};
use rusqlite::{Connection, params};

const AGENDA: [(&str, &str, bool); 6] = [
    (
        "1",
        "Eröffnung und Feststellung der Beschlussfähigkeit",
        true,
    ),
    ("2", "Einwohnerfragestunde", true),
    ("3", "Haushaltssatzung 2027 – Beratung und Beschluss", true),
    ("4", "Bebauungsplan Nr. 87 „Kaarster Bahnhof“", true),
    ("5", "Grundstücksangelegenheiten", false),
    ("6", "Mitteilungen und Anfragen", true),
];

/// 17:00 Kaarst time on the first Tuesday of the month on or after `now`.
fn next_first_tuesday(now: DateTime<Utc>) -> DateTime<Utc> {
    let berlin = chrono_tz::Europe::Berlin;
    let local = now.with_timezone(&berlin).date_naive();
    let mut month = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    for _ in 0..3 {
        let offset =
            (7 + Weekday::Tue.num_days_from_monday() - month.weekday().num_days_from_monday()) % 7;
        let day = month + Duration::days(i64::from(offset));
        if let Some(start) = day
            .and_hms_opt(17, 0, 0)
            .and_then(|t| berlin.from_local_datetime(&t).single())
            .map(|t| t.with_timezone(&Utc))
            && start > now
        {
            return start;
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(month);
    }
    now + Duration::days(7)
}

/// Adds the demo meeting and its agenda (inside the demo's transaction).
pub fn seed(c: &Connection, now: DateTime<Utc>) -> Result<(), ApiError> {
    let start = next_first_tuesday(now);
    let text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let created = text(now);
    c.execute(
        "INSERT INTO council_meetings (title, body, start, \"end\", location, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            "Sitzung des Rates der Stadt Kaarst",
            "Rat der Stadt Kaarst",
            text(start),
            text(start + Duration::hours(4)),
            "Ratssaal, Am Neumarkt 2, 41564 Kaarst",
            created
        ],
    )?;
    let meeting = c.last_insert_rowid();
    for (i, (number, title, public)) in AGENDA.iter().enumerate() {
        c.execute(
            "INSERT INTO council_agenda_items (meeting_id, position, number, title, public, planned_start)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                meeting,
                i as i64 + 1,
                number,
                title,
                public,
                text(start + Duration::minutes(30 * i as i64))
            ],
        )?;
    }
    c.execute(
        "INSERT INTO council_speakers (meeting_id, name, role) VALUES (?1, ?2, ?3), (?1, ?4, ?5)",
        params![
            meeting,
            "Ursula Baum",
            "Bürgermeisterin",
            "Lars Christoph",
            "Kämmerer"
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_meeting_is_on_a_first_tuesday_at_five_in_kaarst() {
        let now = "2026-11-22T07:00:00Z".parse().unwrap();
        assert_eq!(
            next_first_tuesday(now).to_rfc3339(),
            "2026-12-01T16:00:00+00:00"
        );
        // The same day, after the start: next month.
        let now = "2026-12-01T16:30:00Z".parse().unwrap();
        assert_eq!(
            next_first_tuesday(now).to_rfc3339(),
            "2027-01-05T16:00:00+00:00"
        );
    }
}
