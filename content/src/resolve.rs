//! The schedule engine: which items play, in which order and for how long, on
//! one display at one instant, and when that answer next changes.
//!
//! Per zone, the winner is decided by layer, then priority:
//! 1. An active **emergency** schedule takes over the whole screen.
//! 2. Otherwise the active **normal** schedules of the highest priority play,
//!    their playlists concatenated in schedule-id order.
//! 3. Otherwise the active **default** schedules of the highest priority play.
//! 4. Active schedules with a **share of voice** are interleaved into that
//!    playlist so they get (to the nearest whole showing) their share of
//!    airtime, but only into a playlist of their own rank (layer, then
//!    priority) or lower: an advert never interrupts a higher-priority
//!    council livestream.
//!
//! A schedule whose items have all expired counts as inactive, so a zone falls
//! through to the next layer instead of going blank.

use crate::model::{ContentItem, Display, Layout, MAIN_ZONE};
use crate::schedule::{Layer, Schedule};
use crate::{ItemId, ScheduleId};
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Offset as _, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How far ahead [`resolve`] looks for the next change before it calls the
/// playlist permanent.
pub const DEFAULT_HORIZON_DAYS: u64 = 400;

/// Everything the engine reads.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub display: &'a Display,
    pub layout: &'a Layout,
    pub schedules: &'a [Schedule],
    pub items: &'a BTreeMap<ItemId, ContentItem>,
}

/// What a display plays at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub state: PlayState,
    /// The first instant after `at` at which [`PlayState`] differs; `None` if
    /// nothing changes within the horizon.
    pub next_change: Option<DateTime<Utc>>,
}

/// The playlists of every zone, and the emergency takeover if one is active.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlayState {
    /// Every zone of the layout, in name order; an empty playlist shows the
    /// player's idle screen (town logo and clock), never black.
    pub zones: BTreeMap<String, Playlist>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takeover: Option<Playlist>,
}

/// A loop of entries, played in order from the start of its segment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Playlist {
    pub entries: Vec<PlayEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayEntry {
    pub item: ItemId,
    pub duration_s: u32,
    pub schedule: ScheduleId,
}

impl Playlist {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn loop_duration_s(&self) -> u64 {
        self.entries.iter().map(|e| u64::from(e.duration_s)).sum()
    }

    /// The entry playing `elapsed_s` seconds after the loop started, and the
    /// seconds left of it. Lets a restarted player rejoin mid-loop, in step with
    /// the schedule.
    pub fn position_at(&self, elapsed_s: u64) -> Option<(usize, u64)> {
        let total = self.loop_duration_s();
        if total == 0 {
            return None;
        }
        let mut t = elapsed_s % total;
        for (i, e) in self.entries.iter().enumerate() {
            let d = u64::from(e.duration_s);
            if t < d {
                return Some((i, d - t));
            }
            t -= d;
        }
        None
    }
}

/// Resolves what `inputs.display` plays at `at`, looking up to
/// [`DEFAULT_HORIZON_DAYS`] ahead for the next change.
pub fn resolve(inputs: Inputs<'_>, at: DateTime<Utc>) -> Resolution {
    resolve_until(inputs, at, at + Days::new(DEFAULT_HORIZON_DAYS))
}

/// Like [`resolve`], but looks for the next change only up to `horizon`.
pub fn resolve_until(inputs: Inputs<'_>, at: DateTime<Utc>, horizon: DateTime<Utc>) -> Resolution {
    let engine = Engine::new(inputs);
    let state = engine.state_at(at);
    let next_change = engine.next_change(at, horizon, &state);
    Resolution {
        at,
        state,
        next_change,
    }
}

/// What `inputs.display` plays at `at`, without looking for the next change.
pub fn state_at(inputs: Inputs<'_>, at: DateTime<Utc>) -> PlayState {
    Engine::new(inputs).state_at(at)
}

struct Engine<'a> {
    inputs: Inputs<'a>,
    tz: Tz,
    /// Schedules that target this display and are not permanently empty, by id.
    relevant: Vec<&'a Schedule>,
}

impl<'a> Engine<'a> {
    fn new(inputs: Inputs<'a>) -> Self {
        let mut relevant: Vec<&Schedule> = inputs
            .schedules
            .iter()
            .filter(|s| s.targets_display(inputs.display) && s.rule.validate().is_ok())
            .collect();
        relevant.sort_by_key(|s| s.id);
        Engine {
            inputs,
            tz: inputs.display.timezone.0,
            relevant,
        }
    }

    /// The zone a schedule lands in on this display's layout.
    fn zone_of(&self, s: &Schedule) -> &'a str {
        match self.inputs.layout.zone(&s.zone) {
            Some(z) => &z.name,
            None => MAIN_ZONE,
        }
    }

    fn entries(&self, s: &Schedule, at: DateTime<Utc>) -> Vec<PlayEntry> {
        s.entries
            .iter()
            .filter_map(|e| {
                let item = self.inputs.items.get(&e.item)?;
                item.is_valid_at(at).then(|| PlayEntry {
                    item: e.item,
                    duration_s: e.duration_s.unwrap_or(item.duration_s).max(1),
                    schedule: s.id,
                })
            })
            .collect()
    }

    /// The schedules active at `at` with the entries they would play.
    fn active(&self, at: DateTime<Utc>) -> Vec<(&'a Schedule, Vec<PlayEntry>)> {
        let local = at.with_timezone(&self.tz).naive_local();
        self.relevant
            .iter()
            .filter(|s| s.rule.active_at_local(local))
            .map(|s| (*s, self.entries(s, at)))
            .filter(|(_, e)| !e.is_empty())
            .collect()
    }

    fn state_at(&self, at: DateTime<Utc>) -> PlayState {
        let active = self.active(at);
        let takeover = winners(active.iter().filter(|(s, _)| s.layer == Layer::Emergency));
        let zones = self
            .inputs
            .layout
            .zones
            .iter()
            .map(|zone| {
                let here: Vec<_> = active
                    .iter()
                    .filter(|(s, _)| s.layer != Layer::Emergency && self.zone_of(s) == zone.name)
                    .collect();
                let plain = |layer: Layer| {
                    here.iter()
                        .copied()
                        .filter(move |(s, _)| s.layer == layer && s.share_of_voice.is_none())
                };
                let top = |layer: Layer| plain(layer).map(|(s, _)| (layer, s.priority)).max();
                // The rank of the playlist underneath: normal beats default.
                let base_rank = top(Layer::Normal).or_else(|| top(Layer::Default));
                let base = winners(plain(Layer::Normal))
                    .or_else(|| winners(plain(Layer::Default)))
                    .unwrap_or_default();
                // A share of voice mixes only into playlists of its own rank or
                // lower: an advert never interrupts a higher-priority livestream,
                // and a default never mixes into a normal schedule.
                let shares: Vec<(u8, &[PlayEntry])> = here
                    .iter()
                    .filter(|(s, _)| base_rank.is_none_or(|rank| (s.layer, s.priority) >= rank))
                    .filter_map(|(s, e)| s.share_of_voice.map(|p| (p, e.as_slice())))
                    .collect();
                (zone.name.clone(), interleave(base, &shares))
            })
            .collect();
        PlayState { zones, takeover }
    }

    /// The earliest instant in `(at, horizon]` whose state differs from `state`.
    fn next_change(
        &self,
        at: DateTime<Utc>,
        horizon: DateTime<Utc>,
        state: &PlayState,
    ) -> Option<DateTime<Utc>> {
        let signature = |t: DateTime<Utc>| -> Vec<(ScheduleId, Vec<ItemId>)> {
            self.active(t)
                .into_iter()
                .map(|(s, e)| (s.id, e.into_iter().map(|p| p.item).collect()))
                .collect()
        };
        let base = signature(at);
        let item_edges: BTreeSet<DateTime<Utc>> = self
            .relevant
            .iter()
            .flat_map(|s| s.entries.iter())
            .filter_map(|e| self.inputs.items.get(&e.item))
            .flat_map(|i| [i.valid_from, i.expires_at])
            .flatten()
            .filter(|t| *t > at && *t <= horizon)
            .collect();
        let first_day = at.with_timezone(&self.tz).date_naive();
        let mut day = first_day;
        loop {
            let mut candidates: BTreeSet<DateTime<Utc>> = self
                .day_edges(day)
                .into_iter()
                .filter(|t| *t > at && *t <= horizon)
                .collect();
            let day_end = self
                .instants(day.succ_opt()?.and_hms_opt(0, 0, 0)?)
                .into_iter()
                .next();
            candidates.extend(
                item_edges
                    .iter()
                    .filter(|t| day_end.is_none_or(|end| **t < end)),
            );
            for t in candidates {
                if signature(t) != base && self.state_at(t) != *state {
                    return Some(t);
                }
            }
            if day_end.is_none_or(|end| end > horizon) {
                return None;
            }
            day = day.succ_opt()?;
        }
    }

    /// Every instant on a local day at which some schedule may switch.
    fn day_edges(&self, day: NaiveDate) -> Vec<DateTime<Utc>> {
        let mut wall: BTreeSet<NaiveDateTime> = BTreeSet::new();
        if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
            wall.insert(midnight);
        }
        for s in &self.relevant {
            for w in &s.rule.windows {
                wall.insert(day.and_time(w.start));
                wall.insert(day.and_time(w.end));
            }
        }
        let mut edges: Vec<DateTime<Utc>> =
            wall.into_iter().flat_map(|w| self.instants(w)).collect();
        // When the clock falls back it passes no wall time of ours, yet a window
        // can open or close right there (01:00–02:30 plays again when 03:00 CEST
        // becomes 02:00 CET), so the switch itself is an edge.
        edges.extend(self.offset_change(day));
        edges
    }

    fn offset_change(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        offset_change(self.tz, day)
    }

    fn instants(&self, wall: NaiveDateTime) -> Vec<DateTime<Utc>> {
        instants(self.tz, wall)
    }
}

/// The instant on local `day` at which the UTC offset changes, if it does
/// (one switch per day at most, as in every real zone).
pub(crate) fn offset_change(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    let start = instants(tz, day.and_hms_opt(0, 0, 0)?).into_iter().next()?;
    let end = instants(tz, day.succ_opt()?.and_hms_opt(0, 0, 0)?)
        .into_iter()
        .next()?;
    let offset = |t: i64| {
        let utc = DateTime::from_timestamp(t, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        tz.offset_from_utc_datetime(&utc).fix()
    };
    let after = offset(end.timestamp());
    if offset(start.timestamp()) == after {
        return None;
    }
    first_second(start.timestamp(), end.timestamp(), |t| offset(t) == after)
}

/// The instants at which the wall clock of `tz` passes `wall`: one normally,
/// two in the repeated autumn hour, and the end of the gap in the skipped
/// spring hour.
pub(crate) fn instants(tz: Tz, wall: NaiveDateTime) -> Vec<DateTime<Utc>> {
    use chrono::LocalResult;
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        LocalResult::None => gap_end(tz, wall).into_iter().collect(),
    }
}

/// The first instant whose wall-clock time is at or after `wall`, for a
/// `wall` inside a spring-forward gap.
fn gap_end(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    // A gap is shorter than a day, so interpreting `wall` as UTC shifted by a
    // day either side brackets the transition. The search runs on whole
    // seconds: halving a Duration lands on fractions of a second, and the
    // result was then up to a second late (01:00:00.2197 instead of 01:00:00).
    let lo = wall.and_utc().timestamp() - 86_400;
    let hi = wall.and_utc().timestamp() + 86_400;
    let local = |t: i64| DateTime::from_timestamp(t, 0).map(|t| t.with_timezone(&tz).naive_local());
    if local(hi).is_none_or(|l| l < wall) {
        return None;
    }
    first_second(lo, hi, |t| local(t).is_some_and(|l| l >= wall))
}

/// The first whole second in `(lo, hi]` at which the monotonic `pred` holds,
/// given that it fails at `lo` and holds at `hi`.
fn first_second(mut lo: i64, mut hi: i64, pred: impl Fn(i64) -> bool) -> Option<DateTime<Utc>> {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { hi = mid } else { lo = mid }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The concatenated entries of the highest-priority schedules, or `None`.
fn winners<'s, 'e: 's>(
    candidates: impl Iterator<Item = &'s (&'e Schedule, Vec<PlayEntry>)>,
) -> Option<Playlist> {
    let candidates: Vec<_> = candidates.collect();
    let top = candidates.iter().map(|(s, _)| s.priority).max()?;
    let entries = candidates
        .into_iter()
        .filter(|(s, _)| s.priority == top)
        .flat_map(|(_, e)| e.iter().cloned())
        .collect();
    Some(Playlist { entries })
}

/// The most times the base playlist is repeated to bring shares of voice
/// closer to their target when one showing of a shared item is long.
const MAX_BASE_REPEATS: u64 = 6;

/// Interleaves share-of-voice playlists into `base`, spread evenly between
/// base entries. Each shared playlist plays at least once per cycle; the base
/// loop is repeated (up to [`MAX_BASE_REPEATS`] times) where that brings the
/// shares' airtime closer to their targets, since airtime comes in whole showings.
fn interleave(base: Playlist, shares: &[(u8, &[PlayEntry])]) -> Playlist {
    if shares.is_empty() {
        return base;
    }
    let total_share: u32 = shares
        .iter()
        .map(|(p, _)| u32::from(*p))
        .sum::<u32>()
        .min(100);
    if base.is_empty() || total_share >= 100 {
        let entries = shares.iter().flat_map(|(_, e)| e.iter().cloned()).collect();
        return Playlist { entries };
    }
    let base_s = base.loop_duration_s().max(1);
    let loop_s = |entries: &[PlayEntry]| {
        entries
            .iter()
            .map(|e| u64::from(e.duration_s))
            .sum::<u64>()
            .max(1)
    };
    // For r base repeats: plays of each share so it takes its percentage of
    // the cycle T = r·B / (1 − S), and the summed error of the result.
    let plan = |repeats: u64| -> (f64, Vec<u64>) {
        let cycle_s = (repeats * base_s) as f64 * 100.0 / f64::from(100 - total_share);
        let plays: Vec<u64> = shares
            .iter()
            .map(|(p, e)| {
                (cycle_s * f64::from(*p) / 100.0 / loop_s(e) as f64)
                    .round()
                    .max(1.0) as u64
            })
            .collect();
        let total = (repeats * base_s
            + shares
                .iter()
                .zip(&plays)
                .map(|((_, e), n)| n * loop_s(e))
                .sum::<u64>()) as f64;
        let error = shares
            .iter()
            .zip(&plays)
            .map(|((p, e), n)| ((n * loop_s(e)) as f64 / total - f64::from(*p) / 100.0).abs())
            .sum();
        (error, plays)
    };
    let (repeats, plays) = (1..=MAX_BASE_REPEATS)
        .map(|r| (r, plan(r)))
        .min_by(|(ra, (ea, _)), (rb, (eb, _))| {
            // Prefer fewer repeats unless more repeats are clearly closer.
            (ea + 0.005 * *ra as f64).total_cmp(&(eb + 0.005 * *rb as f64))
        })
        .map(|(r, (_, plays))| (r, plays))
        .expect("at least one plan");
    let base = Playlist {
        entries: base
            .entries
            .iter()
            .cloned()
            .cycle()
            .take(base.entries.len() * repeats as usize)
            .collect(),
    };
    // Round-robin the shared playlists, each repeated `plays` times.
    let mut queues: Vec<Vec<PlayEntry>> = shares
        .iter()
        .zip(&plays)
        .map(|((_, entries), n)| {
            entries
                .iter()
                .cloned()
                .cycle()
                .take(entries.len() * *n as usize)
                .collect()
        })
        .collect();
    let mut inserts = Vec::new();
    let mut idx = 0;
    while queues.iter().any(|q| idx < q.len()) {
        for q in &mut queues {
            if let Some(e) = q.get(idx) {
                inserts.push(e.clone());
            }
        }
        idx += 1;
    }
    // Insert k entries among m base entries: shared entry j follows base entry
    // floor((j+1)·m/(k+1)) (1-based), which spreads them evenly.
    let (m, k) = (base.entries.len(), inserts.len());
    let mut out = Vec::with_capacity(m + k);
    let mut inserts = inserts.into_iter().enumerate().peekable();
    for (i, e) in base.entries.into_iter().enumerate() {
        out.push(e);
        while let Some((j, _)) = inserts.peek() {
            if (j + 1) * m / (k + 1) <= i + 1 {
                out.push(inserts.next().expect("peeked").1);
            } else {
                break;
            }
        }
    }
    out.extend(inserts.map(|(_, e)| e));
    Playlist { entries: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(item: i64, d: u32) -> PlayEntry {
        PlayEntry {
            item: ItemId(item),
            duration_s: d,
            schedule: ScheduleId(1),
        }
    }

    #[test]
    fn share_of_voice_takes_its_share() {
        let base = Playlist {
            entries: (1..=6).map(|i| entry(i, 10)).collect(),
        };
        let ad = [entry(99, 10)];
        let out = interleave(base, &[(25, &ad)]);
        let total: u64 = out.loop_duration_s();
        let shared: u64 = out
            .entries
            .iter()
            .filter(|e| e.item == ItemId(99))
            .map(|e| u64::from(e.duration_s))
            .sum();
        assert_eq!(shared, 20, "25% of an 80 s cycle is 20 s: {out:?}");
        assert_eq!(total, 80);
        // Spread out, not bunched together.
        let pos: Vec<usize> = out
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.item == ItemId(99))
            .map(|(i, _)| i)
            .collect();
        assert!(pos[1] - pos[0] >= 3, "{pos:?}");
    }

    #[test]
    fn position_wraps_the_loop() {
        let p = Playlist {
            entries: vec![entry(1, 10), entry(2, 5)],
        };
        assert_eq!(p.position_at(0), Some((0, 10)));
        assert_eq!(p.position_at(12), Some((1, 3)));
        assert_eq!(p.position_at(15), Some((0, 10)));
        assert_eq!(Playlist::default().position_at(3), None);
    }
}
