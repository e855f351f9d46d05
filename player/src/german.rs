//! Dates and times as a German reader expects them.

use chrono::{DateTime, Datelike as _, TimeZone, Timelike as _, Weekday};

const MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

pub fn weekday(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Montag",
        Weekday::Tue => "Dienstag",
        Weekday::Wed => "Mittwoch",
        Weekday::Thu => "Donnerstag",
        Weekday::Fri => "Freitag",
        Weekday::Sat => "Samstag",
        Weekday::Sun => "Sonntag",
    }
}

/// "Sonntag, 22. November 2026"
pub fn long_date<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!(
        "{}, {}. {} {}",
        weekday(t.weekday()),
        t.day(),
        MONTHS[t.month0() as usize],
        t.year()
    )
}

/// "07:05" (24-hour clock)
pub fn time_hm<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// "22.11.2026, 07:05 Uhr"
pub fn short_date_time<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    format!(
        "{:02}.{:02}.{}, {} Uhr",
        t.day(),
        t.month(),
        t.year(),
        time_hm(t)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    #[test]
    fn formats_in_german() {
        let t = "2026-11-22T06:05:00Z"
            .parse::<DateTime<chrono::Utc>>()
            .unwrap()
            .with_timezone(&Berlin);
        assert_eq!(long_date(&t), "Sonntag, 22. November 2026");
        assert_eq!(time_hm(&t), "07:05");
        assert_eq!(short_date_time(&t), "22.11.2026, 07:05 Uhr");
        let march = "2026-03-04T22:30:00Z"
            .parse::<DateTime<chrono::Utc>>()
            .unwrap()
            .with_timezone(&Berlin);
        assert_eq!(long_date(&march), "Mittwoch, 4. März 2026");
        assert_eq!(time_hm(&march), "23:30");
    }
}
