//! Properties of the schedule engine on generated schedules.
//!
//! Generated windows and item validity edges all lie on quarter hours (local
//! wall clock, which in Berlin is also a UTC quarter hour), and the DST switches
//! happen at 01:00 UTC, so what a display plays is constant on every UTC
//! quarter hour. That makes a scan over quarter hours a complete oracle for
//! "nothing changes before `next_change`".

use crate::common::{World, config, instant, state_at, world};
use chrono::{DateTime, Duration, Timelike, Utc};
use content::model::MAIN_ZONE;
use content::resolve::{PlayEntry, PlayState, Playlist, resolve};
use content::schedule::{Layer, Schedule};
use proptest::prelude::*;

/// The zone a schedule plays in on the world's layout.
fn zone_of<'a>(w: &'a World, s: &'a Schedule) -> &'a str {
    if w.layout.zone(&s.zone).is_some() {
        &s.zone
    } else {
        MAIN_ZONE
    }
}

/// The entries `s` plays at `at` if it is active there and has a playable
/// item, computed from the public rule and item API (not from the engine).
fn live_entries(w: &World, s: &Schedule, at: DateTime<Utc>) -> Option<Vec<PlayEntry>> {
    let local = at.with_timezone(&w.display.timezone.0).naive_local();
    if !s.targets_display(&w.display)
        || s.rule.validate().is_err()
        || !s.rule.active_at_local(local)
    {
        return None;
    }
    let entries: Vec<PlayEntry> = s
        .entries
        .iter()
        .filter_map(|e| {
            let item = w.items.get(&e.item)?;
            item.is_valid_at(at).then(|| PlayEntry {
                item: e.item,
                duration_s: e.duration_s.unwrap_or(item.duration_s).max(1),
                schedule: s.id,
            })
        })
        .collect();
    (!entries.is_empty()).then_some(entries)
}

/// The schedules that play at `at`, in id order, with their entries.
fn live(w: &World, at: DateTime<Utc>) -> Vec<(&Schedule, Vec<PlayEntry>)> {
    let mut out: Vec<_> = w
        .schedules
        .iter()
        .filter_map(|s| Some((s, live_entries(w, s, at)?)))
        .collect();
    out.sort_by_key(|(s, _)| s.id);
    out
}

/// The concatenated playlists of the highest-priority schedules among `these`.
fn top_priority(these: &[&(&Schedule, Vec<PlayEntry>)]) -> Vec<PlayEntry> {
    let Some(top) = these.iter().map(|(s, _)| s.priority).max() else {
        return Vec::new();
    };
    these
        .iter()
        .filter(|(s, _)| s.priority == top)
        .flat_map(|(_, e)| e.iter().cloned())
        .collect()
}

fn all_playlists(state: &PlayState) -> impl Iterator<Item = (Option<&str>, &Playlist)> {
    state
        .zones
        .iter()
        .map(|(z, p)| (Some(z.as_str()), p))
        .chain(state.takeover.iter().map(|p| (None, p)))
}

/// A deterministic shuffle (Fisher–Yates on a small LCG) of `v` by `seed`.
fn shuffled<T: Clone>(v: &[T], mut seed: u64) -> Vec<T> {
    let mut out = v.to_vec();
    for i in (1..out.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = ((seed >> 33) % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

fn next_quarter_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp().div_euclid(900) * 900 + 900;
    DateTime::from_timestamp(secs, 0).unwrap()
}

proptest! {
    #![proptest_config(config(256))]

    /// An active emergency schedule targeting the display always takes over
    /// the whole screen with emergency entries only; without one there is no takeover.
    #[test]
    fn emergency_always_wins(w in world(), at in instant()) {
        let r = resolve(w.inputs(), at);
        let live = live(&w, at);
        let emergencies: Vec<_> = live.iter().filter(|(s, _)| s.layer == Layer::Emergency).collect();
        if emergencies.is_empty() {
            prop_assert_eq!(r.state.takeover, None);
        } else {
            let takeover = r.state.takeover.clone();
            prop_assert!(takeover.is_some(), "an emergency is active but there is no takeover");
            let takeover = takeover.unwrap();
            for e in &takeover.entries {
                prop_assert_eq!(w.schedule(e.schedule).layer, Layer::Emergency, "{:?}", e);
            }
            prop_assert_eq!(takeover.entries, top_priority(&emergencies));
        }
    }

    /// Nothing plays outside its schedule's windows, on a display it does not
    /// target, in a zone it does not belong to, or while its item is not valid.
    #[test]
    fn entries_play_only_inside_their_windows(w in world(), at in instant()) {
        let r = resolve(w.inputs(), at);
        let local = at.with_timezone(&w.display.timezone.0).naive_local();
        let zones: Vec<&str> = w.layout.zones.iter().map(|z| z.name.as_str()).collect();
        prop_assert_eq!(r.state.zones.keys().map(String::as_str).collect::<Vec<_>>(), zones);
        for (zone, playlist) in all_playlists(&r.state) {
            for e in &playlist.entries {
                let s = w.schedule(e.schedule);
                prop_assert!(s.targets_display(&w.display), "{:?} does not target the display", s.id);
                prop_assert!(
                    s.rule.active_at_local(local),
                    "{:?} plays at {} (local {}) outside its rule {:?}", s.id, at, local, s.rule
                );
                prop_assert!(w.items[&e.item].is_valid_at(at), "item {:?} is not valid at {}", e.item, at);
                prop_assert!(s.entries.iter().any(|x| x.item == e.item));
                match zone {
                    Some(z) => {
                        prop_assert_ne!(s.layer, Layer::Emergency);
                        prop_assert_eq!(zone_of(&w, s), z);
                    }
                    None => prop_assert_eq!(s.layer, Layer::Emergency),
                }
            }
        }
    }

    /// `next_change` is after `at`, the state is the same at every instant
    /// before it and different at it.
    #[test]
    fn next_change_is_exact(
        w in world(),
        at in instant(),
        fractions in proptest::collection::vec(0.0f64..1.0, 4),
    ) {
        let r = resolve(w.inputs(), at);
        prop_assert_eq!(r.at, at);
        prop_assert_eq!(&state_at(w.inputs(), at), &r.state);
        if let Some(next) = r.next_change {
            prop_assert!(next > at, "next change {} is not after {}", next, at);
            prop_assert!(
                next.timestamp() % 900 == 0 && next.nanosecond() == 0,
                "every edge lies on a quarter hour, got {}", next
            );
            prop_assert_ne!(&state_at(w.inputs(), next), &r.state, "nothing changes at {}", next);
            let before = next - Duration::seconds(1);
            prop_assert_eq!(&state_at(w.inputs(), before), &r.state, "changed already at {}", before);
            let span = (next - at).num_seconds();
            for f in &fractions {
                let t = at + Duration::seconds((span as f64 * f) as i64);
                prop_assert_eq!(&state_at(w.inputs(), t), &r.state, "changed already at {}", t);
            }
        }
        // The complete check, for up to 8 days: every quarter hour before the change.
        let end = r.next_change.map_or(at + Duration::days(8), |n| n.min(at + Duration::days(8)));
        let mut t = next_quarter_hour(at);
        while t < end {
            prop_assert_eq!(
                &state_at(w.inputs(), t), &r.state,
                "the state changes at {} but next_change is {:?} (at {})", t, r.next_change, at
            );
            t += Duration::minutes(15);
        }
    }

    /// Resolving is a pure function of its inputs: the same twice, and
    /// independent of the order schedules are listed in.
    #[test]
    fn resolution_is_deterministic(w in world(), at in instant(), seed in any::<u64>()) {
        let first = resolve(w.inputs(), at);
        prop_assert_eq!(&resolve(w.inputs(), at), &first);
        let mut other = w.clone();
        other.schedules = shuffled(&w.schedules, seed);
        prop_assert_eq!(&resolve(other.inputs(), at), &first);
    }

    /// Per zone: the highest-priority normal schedules replace lower ones and
    /// every default; defaults (shared or not) play only where no normal
    /// schedule is; share-of-voice schedules are interleaved without
    /// disturbing the order of the playlist underneath (unless together they
    /// claim 100 % of the airtime, which leaves nothing underneath).
    #[test]
    fn layers_and_priorities(w in world(), at in instant()) {
        let state = resolve(w.inputs(), at).state;
        let live = live(&w, at);
        for zone in &w.layout.zones {
            let here: Vec<_> = live
                .iter()
                .filter(|(s, _)| s.layer != Layer::Emergency && zone_of(&w, s) == zone.name)
                .collect();
            let plain = |layer: Layer| -> Vec<_> {
                here.iter().copied().filter(|(s, _)| s.layer == layer && s.share_of_voice.is_none()).collect()
            };
            let (normal, default) = (plain(Layer::Normal), plain(Layer::Default));
            // A share mixes only into a playlist of its own rank (layer, priority) or lower.
            let rank = |list: &[&(&Schedule, Vec<PlayEntry>)], layer| list.iter().map(|(s, _)| (layer, s.priority)).max();
            let base_rank = rank(&normal, Layer::Normal).or_else(|| rank(&default, Layer::Default));
            let eligible = |s: &Schedule| base_rank.is_none_or(|r| (s.layer, s.priority) >= r);
            let shared: u32 = here
                .iter()
                .filter_map(|(s, _)| s.share_of_voice.filter(|_| eligible(s)))
                .map(u32::from)
                .sum();
            // Shares of 100 % or more take all the airtime.
            let expected_base = if shared >= 100 {
                Vec::new()
            } else if normal.is_empty() {
                top_priority(&default)
            } else {
                top_priority(&normal)
            };
            let playlist = &state.zones[&zone.name];
            let base: Vec<PlayEntry> = playlist
                .entries
                .iter()
                .filter(|e| w.schedule(e.schedule).share_of_voice.is_none())
                .cloned()
                .collect();
            // The base loop may be repeated whole to bring shares nearer their target.
            let repeats = if expected_base.is_empty() { 0 } else { base.len() / expected_base.len() };
            prop_assert!(repeats >= 1 || expected_base.is_empty(), "zone {}: base lost: {:?}", zone.name, base);
            let repeated: Vec<PlayEntry> = expected_base.iter().cloned().cycle().take(expected_base.len() * repeats).collect();
            prop_assert_eq!(&base, &repeated, "zone {}", zone.name);
            if !normal.is_empty() {
                for e in &playlist.entries {
                    prop_assert_ne!(
                        w.schedule(e.schedule).layer, Layer::Default,
                        "a default schedule plays in zone {} although a normal one is active: {:?}",
                        zone.name, playlist
                    );
                }
            }
            for (s, _) in here.iter().filter(|(s, _)| s.share_of_voice.is_some()) {
                let plays = playlist.entries.iter().any(|e| e.schedule == s.id);
                prop_assert_eq!(plays, eligible(s), "shared schedule {:?} in zone {}: {:?}", s.id, zone.name, playlist);
            }
        }
    }
}

/// Found by `layers_and_priorities`: a default-layer schedule with a share of
/// voice used to be interleaved into a normal playlist.
#[test]
fn shared_default_schedule_stays_under_normal_ones() {
    use crate::common::{
        announcement, items_map, kaarst_display, main_and_ticker, simple_schedule,
    };
    use content::schedule::Rule;
    let normal = simple_schedule(1, &[1], Rule::default());
    let shared_default = Schedule {
        layer: Layer::Default,
        share_of_voice: Some(30),
        ..simple_schedule(2, &[2], Rule::default())
    };
    let clock = Schedule {
        layer: Layer::Default,
        ..simple_schedule(3, &[3], Rule::default())
    };
    let w = World {
        display: kaarst_display(),
        layout: main_and_ticker(),
        schedules: vec![normal.clone(), shared_default.clone(), clock.clone()],
        items: items_map([
            announcement(1, "Bürgerbüro", 10),
            announcement(2, "Werbung", 10),
            announcement(3, "Uhr", 10),
        ]),
    };
    let main = |w: &World| -> Vec<i64> {
        let at = crate::common::utc("2026-12-01T08:00:00Z");
        state_at(w.inputs(), at).zones["main"]
            .entries
            .iter()
            .map(|e| e.item.0)
            .collect()
    };
    assert_eq!(main(&w), [1], "the normal schedule plays alone");
    // Without the normal schedule the default one plays, with its share.
    let defaults_only = World {
        schedules: vec![shared_default, clock],
        ..w
    };
    // 30 % of airtime in whole 10 s showings: two in seven (28.6 %), the base
    // loop repeated to get there, the shared item spread out.
    assert_eq!(main(&defaults_only), [3, 2, 3, 3, 2, 3, 3]);
}
