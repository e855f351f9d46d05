//! Schedules: which items play where, and when.
//!
//! A schedule is active at an instant when the display's *wall clock* (in its
//! own time zone) lies inside one of its daily windows on a day its rule
//! selects. Defining activity by wall-clock time is what makes daylight-saving
//! changes come out right: a 02:00–03:00 window is skipped on the spring day
//! (that hour does not exist) and lasts two real hours on the autumn day (the
//! clock shows it twice).

use crate::{DisplayId, ItemId, ScheduleId, model::Display};
use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub id: ScheduleId,
    pub name: String,
    /// The schedule applies to a display any target matches.
    pub targets: Vec<Target>,
    /// Zone of the display's layout; a layout without it plays the entries in its main zone.
    #[serde(default = "main_zone")]
    pub zone: String,
    /// The playlist, in order.
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub rule: Rule,
    #[serde(default)]
    pub layer: Layer,
    /// Within the normal layer, the highest priority active schedule wins its zone.
    #[serde(default)]
    pub priority: i32,
    /// `Some(p)`: the schedule does not replace the playlist underneath but is
    /// interleaved into it, taking `p` percent of the airtime ("share of voice").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_of_voice: Option<u8>,
}

fn main_zone() -> String {
    crate::model::MAIN_ZONE.to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub item: ItemId,
    /// Overrides the item's own duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    All,
    Display(DisplayId),
    Group(String),
    Tag(String),
}

impl Target {
    pub fn matches(&self, d: &Display) -> bool {
        match self {
            Target::All => true,
            Target::Display(id) => *id == d.id,
            Target::Group(g) => d.groups.iter().any(|x| x == g),
            Target::Tag(t) => d.tags.iter().any(|x| x == t),
        }
    }
}

/// Layers are strictly ordered: an active emergency schedule replaces every
/// zone of the display; normal schedules replace defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Plays only where nothing else is scheduled.
    Default,
    #[default]
    Normal,
    /// Always wins, on every zone (full-screen takeover).
    Emergency,
}

/// When a schedule is active: dates × recurrence × daily windows, minus exceptions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// First day (inclusive, local date). Also the anchor for "every N" recurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Last day (inclusive, local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    #[serde(default)]
    pub recurrence: Recurrence,
    /// Daily dayparts; empty means the whole day. A window whose end is not
    /// after its start runs past midnight into the next day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<Window>,
    /// Days the schedule is off (public holidays, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recurrence {
    /// Every `interval` days, counted from `Rule::from`.
    #[default]
    Day,
    Days {
        interval: u16,
    },
    /// The listed weekdays, every `interval` weeks counted from the week of `Rule::from`.
    Week {
        days: Vec<Weekday>,
        #[serde(default = "one")]
        interval: u16,
    },
    /// Days of the month; -1 is the last day.
    MonthDays {
        days: Vec<i8>,
    },
    /// The nth weekday of the month (1..=5, or -1 for the last), e.g. every first Tuesday.
    MonthWeekday {
        nth: i8,
        weekday: Weekday,
    },
}

fn one() -> u16 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    pub fn wraps_midnight(&self) -> bool {
        self.end <= self.start
    }
}

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    #[error("the schedule ends ({until}) before it starts ({from})")]
    EndsBeforeStart { from: NaiveDate, until: NaiveDate },
    #[error("the schedule has no targets")]
    NoTargets,
    #[error("the schedule has no entries")]
    NoEntries,
    #[error("share of voice must be 1..=100 percent, got {0}")]
    ShareOfVoice(u8),
    #[error("an emergency schedule cannot share airtime")]
    EmergencyShare,
    #[error("recurrence interval must be at least 1")]
    ZeroInterval,
    #[error("'every {0} days/weeks' needs a start date to count from")]
    IntervalWithoutStart(u16),
    #[error("weekly recurrence needs at least one weekday")]
    NoWeekdays,
    #[error("day of month {0} is out of range (1..=31 or -1 for the last day)")]
    MonthDay(i8),
    #[error("nth weekday {0} is out of range (1..=5 or -1 for the last)")]
    NthWeekday(i8),
    #[error("window {start}–{end} has no length")]
    EmptyWindow { start: NaiveTime, end: NaiveTime },
    #[error("entry duration must be 1..=86400 seconds, got {0}")]
    Duration(u32),
}

impl Schedule {
    /// Checks everything that can be checked without the database (unknown
    /// displays and items are the server's to report).
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.targets.is_empty() {
            return Err(ScheduleError::NoTargets);
        }
        if self.entries.is_empty() {
            return Err(ScheduleError::NoEntries);
        }
        for e in &self.entries {
            if let Some(d) = e.duration_s
                && !(1..=86_400).contains(&d)
            {
                return Err(ScheduleError::Duration(d));
            }
        }
        if let Some(p) = self.share_of_voice {
            if !(1..=100).contains(&p) {
                return Err(ScheduleError::ShareOfVoice(p));
            }
            if self.layer == Layer::Emergency {
                return Err(ScheduleError::EmergencyShare);
            }
        }
        self.rule.validate()
    }

    pub fn targets_display(&self, d: &Display) -> bool {
        self.targets.iter().any(|t| t.matches(d))
    }
}

impl Rule {
    /// Whether the rule is active at every instant: no dates, every day, no
    /// daily windows, no exceptions. Only such default schedules make a
    /// manifest's [`fallback`](crate::manifest::Manifest::fallback), what
    /// plays while a player does not know the time.
    pub fn is_always(&self) -> bool {
        self.from.is_none()
            && self.until.is_none()
            && matches!(
                self.recurrence,
                Recurrence::Day | Recurrence::Days { interval: 1 }
            )
            && self.windows.is_empty()
            && self.except.is_empty()
    }

    pub fn validate(&self) -> Result<(), ScheduleError> {
        if let (Some(from), Some(until)) = (self.from, self.until)
            && until < from
        {
            return Err(ScheduleError::EndsBeforeStart { from, until });
        }
        match &self.recurrence {
            Recurrence::Day => {}
            Recurrence::Days { interval } => self.check_interval(*interval)?,
            Recurrence::Week { days, interval } => {
                self.check_interval(*interval)?;
                if days.is_empty() {
                    return Err(ScheduleError::NoWeekdays);
                }
            }
            Recurrence::MonthDays { days } => {
                if let Some(d) = days.iter().find(|d| !(**d == -1 || (1..=31).contains(*d))) {
                    return Err(ScheduleError::MonthDay(*d));
                }
            }
            Recurrence::MonthWeekday { nth, .. } => {
                if !(*nth == -1 || (1..=5).contains(nth)) {
                    return Err(ScheduleError::NthWeekday(*nth));
                }
            }
        }
        for w in &self.windows {
            if w.start == w.end {
                return Err(ScheduleError::EmptyWindow {
                    start: w.start,
                    end: w.end,
                });
            }
        }
        Ok(())
    }

    fn check_interval(&self, interval: u16) -> Result<(), ScheduleError> {
        match interval {
            0 => Err(ScheduleError::ZeroInterval),
            1 => Ok(()),
            n if self.from.is_none() => Err(ScheduleError::IntervalWithoutStart(n)),
            _ => Ok(()),
        }
    }

    /// Whether the rule selects this local calendar day (windows aside).
    pub fn selects_day(&self, day: NaiveDate) -> bool {
        if self.from.is_some_and(|f| day < f) || self.until.is_some_and(|u| day > u) {
            return false;
        }
        if self.except.contains(&day) {
            return false;
        }
        match &self.recurrence {
            Recurrence::Day => true,
            Recurrence::Days { interval } => {
                let anchor = self.from.unwrap_or(day);
                (day - anchor)
                    .num_days()
                    .rem_euclid(i64::from((*interval).max(1)))
                    == 0
            }
            Recurrence::Week { days, interval } => {
                if !days.contains(&day.weekday()) {
                    return false;
                }
                let anchor = self.from.unwrap_or(day);
                let week = |d: NaiveDate| {
                    (d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday())))
                        .num_days_from_ce()
                        / 7
                };
                i64::from(week(day) - week(anchor)).rem_euclid(i64::from((*interval).max(1))) == 0
            }
            Recurrence::MonthDays { days } => {
                let last = last_day_of_month(day);
                days.iter().any(|&d| {
                    if d == -1 {
                        day.day() == last
                    } else {
                        i64::from(d) == i64::from(day.day())
                    }
                })
            }
            Recurrence::MonthWeekday { nth, weekday } => {
                if day.weekday() != *weekday {
                    return false;
                }
                if *nth == -1 {
                    day.day() + 7 > last_day_of_month(day)
                } else {
                    i64::from((day.day() - 1) / 7 + 1) == i64::from(*nth)
                }
            }
        }
    }

    /// Whether the rule is active at a local wall-clock moment.
    pub fn active_at_local(&self, local: chrono::NaiveDateTime) -> bool {
        let (day, time) = (local.date(), local.time());
        if self.windows.is_empty() {
            return self.selects_day(day);
        }
        let today = self.selects_day(day);
        let yesterday = || day.pred_opt().is_some_and(|y| self.selects_day(y));
        self.windows.iter().any(|w| {
            if w.wraps_midnight() {
                (today && time >= w.start) || (time < w.end && yesterday())
            } else {
                today && time >= w.start && time < w.end
            }
        })
    }
}

fn last_day_of_month(day: NaiveDate) -> u32 {
    let (y, m) = (day.year(), day.month());
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn month_weekday_first_and_last() {
        let rule = Rule {
            recurrence: Recurrence::MonthWeekday {
                nth: 1,
                weekday: Weekday::Tue,
            },
            ..Default::default()
        };
        assert!(rule.selects_day(d("2026-12-01")));
        assert!(!rule.selects_day(d("2026-12-08")));
        let last = Rule {
            recurrence: Recurrence::MonthWeekday {
                nth: -1,
                weekday: Weekday::Thu,
            },
            ..Default::default()
        };
        assert!(last.selects_day(d("2026-11-26")));
        assert!(!last.selects_day(d("2026-11-19")));
    }

    #[test]
    fn every_second_week_counts_from_start() {
        let rule = Rule {
            from: Some(d("2026-11-02")),
            recurrence: Recurrence::Week {
                days: vec![Weekday::Mon],
                interval: 2,
            },
            ..Default::default()
        };
        assert!(rule.selects_day(d("2026-11-02")));
        assert!(!rule.selects_day(d("2026-11-09")));
        assert!(rule.selects_day(d("2026-11-16")));
    }

    #[test]
    fn last_day_of_month_in_february() {
        let rule = Rule {
            recurrence: Recurrence::MonthDays { days: vec![-1] },
            ..Default::default()
        };
        assert!(rule.selects_day(d("2028-02-29")));
        assert!(!rule.selects_day(d("2028-02-28")));
        assert!(rule.selects_day(d("2027-02-28")));
    }

    #[test]
    fn wrapping_window_belongs_to_its_start_day() {
        let rule = Rule {
            recurrence: Recurrence::Week {
                days: vec![Weekday::Fri],
                interval: 1,
            },
            windows: vec![Window {
                start: "22:00:00".parse().unwrap(),
                end: "02:00:00".parse().unwrap(),
            }],
            ..Default::default()
        };
        let at = |s: &str| rule.active_at_local(s.parse().unwrap());
        assert!(at("2026-11-27T23:00:00")); // Friday night
        assert!(at("2026-11-28T01:59:59")); // Saturday early morning, still Friday's window
        assert!(!at("2026-11-28T02:00:00"));
        assert!(!at("2026-11-28T23:00:00")); // Saturday night
    }

    #[test]
    fn only_a_rule_without_any_limit_is_always() {
        assert!(Rule::default().is_always());
        let every_day = Rule {
            recurrence: Recurrence::Days { interval: 1 },
            ..Default::default()
        };
        assert!(every_day.is_always());
        let limited = [
            Rule {
                from: Some(d("2026-01-01")),
                ..Default::default()
            },
            Rule {
                until: Some(d("2027-01-01")),
                ..Default::default()
            },
            Rule {
                except: vec![d("2026-12-25")],
                ..Default::default()
            },
            Rule {
                windows: vec![Window {
                    start: "00:00:00".parse().unwrap(),
                    end: "23:59:59".parse().unwrap(),
                }],
                ..Default::default()
            },
            Rule {
                recurrence: Recurrence::Week {
                    days: vec![Weekday::Mon],
                    interval: 1,
                },
                ..Default::default()
            },
        ];
        for r in limited {
            assert!(!r.is_always(), "{r:?}");
        }
    }

    #[test]
    fn invalid_rules_are_refused() {
        let r = Rule {
            from: Some(d("2026-12-01")),
            until: Some(d("2026-11-01")),
            ..Default::default()
        };
        assert!(matches!(
            r.validate(),
            Err(ScheduleError::EndsBeforeStart { .. })
        ));
        let r = Rule {
            recurrence: Recurrence::Days { interval: 3 },
            ..Default::default()
        };
        assert_eq!(r.validate(), Err(ScheduleError::IntervalWithoutStart(3)));
    }
}
