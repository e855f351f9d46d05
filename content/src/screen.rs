//! Night mode: when a display's screen is switched off, by the windows staff
//! set on the display ([`Display::screen_off`]).
//!
//! A window is local wall-clock time in the display's own time zone, like a
//! schedule's daypart, and is evaluated the same way (it *is* a
//! [`Rule`] with one daily window): a window whose end is not after its start
//! runs past midnight and belongs to the day it starts on (Friday 23:00–05:30
//! ends Saturday morning); on the spring day a 02:00–03:00 window does not
//! exist, on the autumn day it lasts two real hours.

use crate::model::Display;
use crate::resolve::{instants, offset_change};
use crate::schedule::{Recurrence, Rule, Window};
use chrono::{DateTime, Days, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Most windows a display may have (a week of two windows a day, with room).
pub const MAX_SCREEN_OFF_WINDOWS: usize = 32;

/// The screen is off from `start` to `end` (local wall-clock time) on the
/// listed weekdays (the day the window starts; empty: every day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenOff {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl ScreenOff {
    /// The window as a schedule rule, so it is evaluated exactly as schedules are.
    fn rule(&self) -> Rule {
        Rule {
            recurrence: if self.days.is_empty() {
                Recurrence::Day
            } else {
                Recurrence::Week {
                    days: self.days.clone(),
                    interval: 1,
                }
            },
            windows: vec![Window {
                start: self.start,
                end: self.end,
            }],
            ..Rule::default()
        }
    }
}

/// Checks a display's night windows: at most [`MAX_SCREEN_OFF_WINDOWS`], none
/// without length, no weekday listed twice in one window.
pub fn validate(windows: &[ScreenOff]) -> Result<(), String> {
    if windows.len() > MAX_SCREEN_OFF_WINDOWS {
        return Err(format!(
            "screen_off: at most {MAX_SCREEN_OFF_WINDOWS} windows, got {}",
            windows.len()
        ));
    }
    for (i, w) in windows.iter().enumerate() {
        if w.start == w.end {
            return Err(format!(
                "screen_off[{i}]: the window {}–{} has no length (an end before the start runs past midnight)",
                w.start.format("%H:%M"),
                w.end.format("%H:%M")
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(d) = w
            .days
            .iter()
            .find(|d| !seen.insert(d.num_days_from_monday()))
        {
            return Err(format!("screen_off[{i}]: {d} is listed twice"));
        }
    }
    Ok(())
}

/// Whether the display's screen is on at `at` (no window covers it).
pub fn screen_on_at(display: &Display, at: DateTime<Utc>) -> bool {
    let local = at.with_timezone(&display.timezone.0).naive_local();
    !display
        .screen_off
        .iter()
        .any(|w| w.rule().active_at_local(local))
}

/// The first instant after `at` at which [`screen_on_at`] changes; `None`
/// without windows. Windows repeat weekly, so eight days are enough.
pub fn next_screen_change(display: &Display, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if display.screen_off.is_empty() {
        return None;
    }
    let tz = display.timezone.0;
    let now_on = screen_on_at(display, at);
    let today = at.with_timezone(&tz).date_naive();
    let mut day = today.checked_sub_days(Days::new(1))?;
    let last = today.checked_add_days(Days::new(8))?;
    while day <= last {
        let mut edges: BTreeSet<DateTime<Utc>> = display
            .screen_off
            .iter()
            .flat_map(|w| [day.and_time(w.start), day.and_time(w.end)])
            .flat_map(|wall| instants(tz, wall))
            .collect();
        // The clock falling back passes no wall time, yet a window can open
        // or close right there.
        edges.extend(offset_change(tz, day));
        if let Some(t) = edges
            .into_iter()
            .filter(|t| *t > at)
            .find(|t| screen_on_at(display, *t) != now_on)
        {
            return Some(t);
        }
        day = day.succ_opt()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Location, Resolution};
    use crate::{DisplayId, TimeZone};

    fn display(windows: Vec<ScreenOff>) -> Display {
        Display {
            id: DisplayId(1),
            name: "Rathausplatz".into(),
            location: Location {
                lat: 51.2,
                lon: 6.6,
                ars: "051620016016".parse().unwrap(),
                address: None,
            },
            resolution: Resolution {
                width: 1920,
                height: 1080,
            },
            orientation: Default::default(),
            timezone: TimeZone::default(),
            groups: vec![],
            tags: vec![],
            transit_stops: vec![],
            layout_id: None,
            screen_off: windows,
        }
    }

    fn window(days: &[Weekday], start: &str, end: &str) -> ScreenOff {
        ScreenOff {
            days: days.to_vec(),
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_past_midnight_belongs_to_the_day_it_starts() {
        // Fridays 23:00–05:30 Berlin time (CET, UTC+1 in November).
        let d = display(vec![window(&[Weekday::Fri], "23:00", "05:30")]);
        assert!(screen_on_at(&d, t("2026-11-27T21:59:59Z"))); // Fri 22:59:59
        assert!(!screen_on_at(&d, t("2026-11-27T22:00:00Z"))); // Fri 23:00
        assert!(!screen_on_at(&d, t("2026-11-28T04:29:59Z"))); // Sat 05:29:59
        assert!(screen_on_at(&d, t("2026-11-28T04:30:00Z"))); // Sat 05:30
        assert!(screen_on_at(&d, t("2026-11-28T22:30:00Z"))); // Sat 23:30: not Saturday's
        assert_eq!(
            next_screen_change(&d, t("2026-11-27T12:00:00Z")),
            Some(t("2026-11-27T22:00:00Z"))
        );
        assert_eq!(
            next_screen_change(&d, t("2026-11-27T22:00:00Z")),
            Some(t("2026-11-28T04:30:00Z"))
        );
        // From Saturday morning the next is next Friday's.
        assert_eq!(
            next_screen_change(&d, t("2026-11-28T04:30:00Z")),
            Some(t("2026-12-04T22:00:00Z"))
        );
    }

    #[test]
    fn every_night_without_days() {
        let d = display(vec![window(&[], "01:00", "05:00")]);
        assert!(!screen_on_at(&d, t("2026-11-22T00:30:00Z"))); // 01:30 CET
        assert!(screen_on_at(&d, t("2026-11-22T04:00:00Z"))); // 05:00 CET
        assert_eq!(
            next_screen_change(&display(vec![]), t("2026-11-22T00:00:00Z")),
            None
        );
        assert!(screen_on_at(&display(vec![]), t("2026-11-22T00:00:00Z")));
    }

    #[test]
    fn night_windows_follow_the_wall_clock_across_dst() {
        // Every night 01:00–03:00. Spring: 2026-03-29, 02:00 CET → 03:00 CEST.
        let d = display(vec![window(&[], "01:00", "03:00")]);
        // Off at 01:00 CET (00:00 UTC), on again at 03:00 CEST (01:00 UTC):
        // one real hour.
        assert_eq!(
            next_screen_change(&d, t("2026-03-28T23:00:00Z")),
            Some(t("2026-03-29T00:00:00Z"))
        );
        assert_eq!(
            next_screen_change(&d, t("2026-03-29T00:00:00Z")),
            Some(t("2026-03-29T01:00:00Z"))
        );
        // Autumn: 2026-10-25, 03:00 CEST → 02:00 CET. Off from 01:00 CEST
        // (23:00 UTC) to 03:00 CET (02:00 UTC): three real hours.
        assert_eq!(
            next_screen_change(&d, t("2026-10-24T22:00:00Z")),
            Some(t("2026-10-24T23:00:00Z"))
        );
        assert!(!screen_on_at(&d, t("2026-10-25T01:30:00Z"))); // the second 02:30
        assert_eq!(
            next_screen_change(&d, t("2026-10-24T23:00:00Z")),
            Some(t("2026-10-25T02:00:00Z"))
        );
        // A window inside the skipped hour does not exist on the spring day.
        let gap = display(vec![window(&[], "02:15", "02:45")]);
        assert!(screen_on_at(&gap, t("2026-03-29T01:20:00Z"))); // 03:20 CEST
        assert_eq!(
            next_screen_change(&gap, t("2026-03-28T23:00:00Z")),
            Some(t("2026-03-30T00:15:00Z")) // 02:15 CEST the next night
        );
    }

    #[test]
    fn bad_windows_are_refused_with_the_reason() {
        assert!(validate(&[window(&[Weekday::Mon], "23:00", "05:30")]).is_ok());
        let e = validate(&[window(&[], "22:00", "22:00")]).unwrap_err();
        assert!(
            e.contains("screen_off[0]") && e.contains("no length"),
            "{e}"
        );
        let e = validate(&[window(&[Weekday::Mon, Weekday::Mon], "22:00", "23:00")]).unwrap_err();
        assert!(e.contains("Mon is listed twice"), "{e}");
        let many = vec![window(&[], "01:00", "02:00"); MAX_SCREEN_OFF_WINDOWS + 1];
        assert!(validate(&many).unwrap_err().contains("at most"));
    }

    #[test]
    fn windows_decode_from_json_and_old_displays_have_none() {
        let w: ScreenOff =
            serde_json::from_str(r#"{"days":["fri","sat"],"start":"23:00:00","end":"05:30:00"}"#)
                .unwrap();
        assert_eq!(w, window(&[Weekday::Fri, Weekday::Sat], "23:00", "05:30"));
        assert!(
            serde_json::from_str::<ScreenOff>(r#"{"start":"23:00:00","end":"05:30:00","x":1}"#)
                .is_err()
        );
        let mut v = serde_json::to_value(display(vec![])).unwrap();
        assert!(v.get("screen_off").is_none());
        v.as_object_mut().unwrap().remove("screen_off");
        let d: Display = serde_json::from_value(v).unwrap();
        assert!(d.screen_off.is_empty());
    }
}
