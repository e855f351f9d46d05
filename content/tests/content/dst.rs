//! Daylight-saving switches in Europe/Berlin, worked out by hand.
//!
//! Spring: at 01:00 UTC the clock jumps from 02:00 CET to 03:00 CEST (local
//! 02:00–02:59 does not exist). Autumn: at 01:00 UTC it falls back from 03:00
//! CEST to 02:00 CET (local 02:00–02:59 happens twice).

use crate::common::{announcement, date, items_map, simple_schedule, state_at, utc, window};
use chrono::{DateTime, Duration, Utc, Weekday};
use content::ItemId;
use content::model::{ContentItem, Display, Layout};
use content::resolve::{Inputs, resolve};
use content::schedule::{Recurrence, Rule, Schedule, Window};
use std::collections::BTreeMap;

struct Fixture {
    display: Display,
    layout: Layout,
    schedules: Vec<Schedule>,
    items: BTreeMap<ItemId, ContentItem>,
}

impl Fixture {
    /// One item, scheduled daily in `windows` (or all day when empty).
    fn daily(windows: Vec<Window>) -> Fixture {
        Fixture::with_rule(Rule {
            windows,
            ..Rule::default()
        })
    }

    fn with_rule(rule: Rule) -> Fixture {
        Fixture {
            display: crate::common::kaarst_display(),
            layout: Layout::fullscreen(),
            schedules: vec![simple_schedule(1, &[1], rule)],
            items: items_map([announcement(1, "Nachtruhe", 20)]),
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            display: &self.display,
            layout: &self.layout,
            schedules: &self.schedules,
            items: &self.items,
        }
    }

    fn playing(&self, t: DateTime<Utc>) -> bool {
        !state_at(self.inputs(), t).zones["main"].is_empty()
    }

    /// Follows `next_change` from `start`, `n` times.
    fn changes(&self, start: &str, n: usize) -> Vec<DateTime<Utc>> {
        let mut t = utc(start);
        let mut out = Vec::new();
        for _ in 0..n {
            let next = resolve(self.inputs(), t)
                .next_change
                .expect("the schedule keeps changing");
            out.push(next);
            t = next;
        }
        out
    }

    /// Real minutes the item plays in `[from, until)`, sampled every minute.
    fn minutes_playing(&self, from: &str, until: &str) -> i64 {
        let (mut t, until) = (utc(from), utc(until));
        let mut n = 0;
        while t < until {
            n += i64::from(self.playing(t));
            t += Duration::minutes(1);
        }
        n
    }
}

fn instants(list: &[&str]) -> Vec<DateTime<Utc>> {
    list.iter().map(|s| utc(s)).collect()
}

#[test]
fn window_in_the_skipped_spring_hour_never_plays() {
    let f = Fixture::daily(vec![window("02:00", "03:00")]);
    // The local day 2026-03-29 runs from 23:00 UTC to 22:00 UTC (23 hours).
    assert_eq!(
        f.minutes_playing("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"),
        0
    );
    // The days around it play their hour.
    assert_eq!(
        f.minutes_playing("2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z"),
        60
    );
    assert_eq!(
        f.minutes_playing("2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z"),
        60
    );
    assert_eq!(
        f.changes("2026-03-28T00:00:00Z", 4),
        instants(&[
            "2026-03-28T01:00:00Z", // 02:00 CET
            "2026-03-28T02:00:00Z", // 03:00 CET
            "2026-03-30T00:00:00Z", // 02:00 CEST; 2026-03-29 is skipped
            "2026-03-30T01:00:00Z", // 03:00 CEST
        ])
    );
    // The same in 2027.
    assert_eq!(
        f.minutes_playing("2027-03-27T23:00:00Z", "2027-03-28T22:00:00Z"),
        0
    );
    assert_eq!(
        f.changes("2027-03-27T12:00:00Z", 2),
        instants(&["2027-03-29T00:00:00Z", "2027-03-29T01:00:00Z"])
    );
}

#[test]
fn window_in_the_repeated_autumn_hour_plays_two_real_hours() {
    let f = Fixture::daily(vec![window("02:00", "03:00")]);
    // The local day 2026-10-25 runs from 22:00 UTC to 23:00 UTC (25 hours).
    assert_eq!(
        f.minutes_playing("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
        120
    );
    assert!(f.playing(utc("2026-10-25T00:59:59Z"))); // 02:59:59 CEST
    assert!(f.playing(utc("2026-10-25T01:00:00Z"))); // 02:00:00 CET, again
    assert_eq!(
        f.changes("2026-10-24T12:00:00Z", 3),
        instants(&[
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T02:00:00Z", // 03:00 CET, two hours later
            "2026-10-26T01:00:00Z", // 02:00 CET the next night
        ])
    );
    assert_eq!(
        f.minutes_playing("2027-10-30T22:00:00Z", "2027-10-31T23:00:00Z"),
        120
    );
    assert_eq!(
        f.changes("2027-10-30T12:00:00Z", 2),
        instants(&["2027-10-31T00:00:00Z", "2027-10-31T02:00:00Z"])
    );
}

#[test]
fn night_window_across_the_spring_switch_is_an_hour_short() {
    let f = Fixture::daily(vec![window("22:00", "02:00")]);
    // Saturday 22:00 CET until the clock would show 02:00, which it skips: the
    // window ends when the clock jumps to 03:00 CEST.
    assert_eq!(
        f.changes("2026-03-28T20:00:00Z", 4),
        instants(&[
            "2026-03-28T21:00:00Z", // Sat 22:00 CET
            "2026-03-29T01:00:00Z", // Sun 03:00 CEST (02:00 does not exist)
            "2026-03-29T20:00:00Z", // Sun 22:00 CEST
            "2026-03-30T00:00:00Z", // Mon 02:00 CEST
        ])
    );
    assert_eq!(
        f.minutes_playing("2026-03-28T20:00:00Z", "2026-03-29T12:00:00Z"),
        4 * 60
    );
    assert_eq!(
        f.changes("2027-03-27T20:00:00Z", 2),
        instants(&["2027-03-27T21:00:00Z", "2027-03-28T01:00:00Z"])
    );
}

#[test]
fn night_window_across_the_autumn_switch_ends_at_the_first_two_oclock() {
    let f = Fixture::daily(vec![window("22:00", "02:00")]);
    // 22:00 CEST until the clock first shows 02:00; when it shows 02:00 again
    // (CET) the window is over and stays over.
    assert_eq!(
        f.changes("2026-10-24T19:00:00Z", 4),
        instants(&[
            "2026-10-24T20:00:00Z", // Sat 22:00 CEST
            "2026-10-25T00:00:00Z", // Sun 02:00 CEST
            "2026-10-25T21:00:00Z", // Sun 22:00 CET
            "2026-10-26T01:00:00Z", // Mon 02:00 CET
        ])
    );
    assert!(!f.playing(utc("2026-10-25T01:30:00Z"))); // 02:30 CET
    assert_eq!(
        f.minutes_playing("2026-10-24T19:00:00Z", "2026-10-25T12:00:00Z"),
        4 * 60
    );
    assert_eq!(
        f.changes("2027-10-30T19:00:00Z", 2),
        instants(&["2027-10-30T20:00:00Z", "2027-10-31T00:00:00Z"])
    );
}

#[test]
fn window_ending_inside_the_repeated_hour_plays_again_when_the_clock_falls_back() {
    let f = Fixture::daily(vec![window("01:00", "02:30")]);
    // 01:00–02:30 CEST, then at the switch the clock shows 02:00 (CET) again,
    // inside the window, until 02:30 CET.
    assert!(!f.playing(utc("2026-10-25T00:45:00Z"))); // 02:45 CEST
    assert!(f.playing(utc("2026-10-25T01:15:00Z"))); // 02:15 CET
    assert_eq!(
        f.changes("2026-10-24T22:00:00Z", 5),
        instants(&[
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET: the clock falls back into the window
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-26T00:00:00Z", // 01:00 CET the next night
        ])
    );
    assert_eq!(
        f.minutes_playing("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
        120
    );
}

#[test]
fn window_starting_in_a_switch_hour() {
    let f = Fixture::daily(vec![window("02:30", "04:00")]);
    // Spring: 02:30 never shows; the window opens when the clock jumps to 03:00.
    assert_eq!(
        f.changes("2026-03-28T23:00:00Z", 3),
        instants(&[
            "2026-03-29T01:00:00Z", // 03:00 CEST, exactly at the jump
            "2026-03-29T02:00:00Z", // 04:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST the next night
        ])
    );
    // Autumn: 02:30–03:00 CEST, closed while the clock repeats 02:00–02:30,
    // then 02:30 CET–04:00 CET.
    assert_eq!(
        f.changes("2026-10-24T23:00:00Z", 4),
        instants(&[
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET: the clock falls back out of the window
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-25T03:00:00Z", // 04:00 CET
        ])
    );
    assert_eq!(
        f.changes("2027-03-27T23:00:00Z", 1),
        instants(&["2027-03-28T01:00:00Z"])
    );
}

#[test]
fn whole_day_schedules_follow_the_local_day_length() {
    let f = Fixture::with_rule(Rule {
        recurrence: Recurrence::Week {
            days: vec![Weekday::Sun],
            interval: 1,
        },
        ..Rule::default()
    });
    // Sunday 2026-03-29 has 23 hours, Sunday 2026-10-25 has 25.
    assert_eq!(
        f.changes("2026-03-28T12:00:00Z", 2),
        instants(&["2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"])
    );
    assert_eq!(
        f.changes("2026-10-24T12:00:00Z", 2),
        instants(&["2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"])
    );
}

#[test]
fn date_range_edges_are_local_midnights() {
    let f = Fixture::with_rule(Rule {
        from: Some(date("2026-03-29")),
        until: Some(date("2026-10-25")),
        ..Rule::default()
    });
    assert!(!f.playing(utc("2026-03-28T22:59:59Z")));
    assert!(f.playing(utc("2026-03-28T23:00:00Z")));
    assert_eq!(
        f.changes("2026-01-01T00:00:00Z", 2),
        instants(&["2026-03-28T23:00:00Z", "2026-10-25T23:00:00Z"])
    );
    // Nothing changes after the last day.
    assert_eq!(
        resolve(f.inputs(), utc("2026-10-26T00:00:00Z")).next_change,
        None
    );
}
