//! The login rate limiter: per username and per client address, in memory.
//!
//! Each key counts consecutive failed logins. From the [`FREE_FAILURES`]th on,
//! every failure locks the key for an exponentially growing delay (1 s, 2 s,
//! 4 s, ... capped at [`MAX_LOCK`]). While a key is locked, attempts are refused
//! before any password is checked, so refusing costs a map lookup, not argon2.
//!
//! An attempt is counted as a failure when it *starts* ([`Limiter::begin`]):
//! parallel attempts on one key therefore cannot run more than
//! [`FREE_FAILURES`] password checks at once. A success forgets the keys
//! ([`Limiter::succeeded`]); a failure re-arms the lock from the moment it was
//! known ([`Limiter::failed`]).
//!
//! The clock is a parameter (`now`) of every method, so tests drive it with
//! made-up instants instead of sleeping.
//!
//! Memory is bounded: entries idle longer than [`IDLE_FORGET`] are forgotten
//! (and treated as fresh when touched again), and the map never holds more
//! than [`MAX_ENTRIES`]; when full, the least recently touched are evicted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures allowed before the first lock.
pub const FREE_FAILURES: u32 = 5;
/// Longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// An entry untouched for this long is forgotten.
pub const IDLE_FORGET: Duration = Duration::from_secs(60 * 60);
/// Most entries kept at once.
pub const MAX_ENTRIES: usize = 100_000;
/// How often the map is swept for idle entries.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What is limited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A username as typed at login, lowercased (whether or not it exists).
    User(String),
    /// A client address; IPv6 clients are grouped by their /64 network.
    Ip(IpAddr),
}

impl Key {
    /// The key for a login name: lowercased and cut to 64 characters, so an
    /// attacker cannot grow the map with huge keys.
    pub fn user(name: &str) -> Key {
        Key::User(name.trim().to_lowercase().chars().take(64).collect())
    }

    pub fn ip(addr: IpAddr) -> Key {
        match addr {
            IpAddr::V4(_) => Key::Ip(addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Key::Ip(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Key::Ip(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct Limiter {
    entries: HashMap<Key, Entry>,
    last_sweep: Option<Instant>,
}

/// The lock after `failures` consecutive failures (none below the threshold).
pub fn lock_for(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    // 2^10 s already exceeds the cap; avoid overflowing the shift.
    let secs = 1u64 << over.min(10);
    Some(Duration::from_secs(secs).min(MAX_LOCK))
}

impl Limiter {
    /// Starts an attempt on `keys`: refused with the time left when any of them
    /// is locked (nothing is counted then); otherwise counted as a failure
    /// until [`Limiter::succeeded`] says otherwise.
    pub fn begin(&mut self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        self.sweep(now);
        let wait = keys
            .iter()
            .filter_map(|k| self.live(k, now))
            .filter_map(|e| e.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in keys {
            self.make_room(now);
            let e = self.entry(key, now);
            e.failures = e.failures.saturating_add(1);
            e.last = now;
            if let Some(lock) = lock_for(e.failures) {
                e.locked_until = Some(now + lock);
            }
        }
        Ok(())
    }

    /// The attempt begun on `keys` failed: the lock, if any, runs from `now`.
    pub fn failed(&mut self, keys: &[Key], now: Instant) {
        for key in keys {
            if let Some(e) = self.entries.get_mut(key) {
                e.last = now;
                if let Some(lock) = lock_for(e.failures) {
                    let until = now + lock;
                    e.locked_until = Some(e.locked_until.map_or(until, |u| u.max(until)));
                }
            }
        }
    }

    /// The attempt succeeded: the keys' failure streaks end.
    pub fn succeeded(&mut self, keys: &[Key]) {
        for key in keys {
            self.entries.remove(key);
        }
    }

    /// How long `key` is still locked, if it is.
    pub fn locked(&self, key: &Key, now: Instant) -> Option<Duration> {
        let until = self.live(key, now)?.locked_until?;
        (until > now).then(|| until - now)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `key` unless it has been idle long enough to be forgotten.
    fn live(&self, key: &Key, now: Instant) -> Option<&Entry> {
        self.entries.get(key).filter(|e| !idle(e, now))
    }

    fn entry(&mut self, key: &Key, now: Instant) -> &mut Entry {
        let e = self.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            locked_until: None,
            last: now,
        });
        if idle(e, now) {
            *e = Entry {
                failures: 0,
                locked_until: None,
                last: now,
            };
        }
        e
    }

    /// Forgets idle entries, at most once per [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.entries.retain(|_, e| !idle(e, now));
    }

    /// Keeps the map under [`MAX_ENTRIES`]: first drops idle entries, then the
    /// least recently touched tenth.
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        self.entries.retain(|_, e| !idle(e, now));
        self.last_sweep = Some(now);
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        let mut lasts: Vec<Instant> = self.entries.values().map(|e| e.last).collect();
        let cut = MAX_ENTRIES / 10;
        let (_, nth, _) = lasts.select_nth_unstable(cut);
        let threshold = *nth;
        self.entries.retain(|_, e| e.last > threshold);
        tracing::warn!("login limiter full; evicted the least recently used entries");
    }
}

fn idle(e: &Entry, now: Instant) -> bool {
    now.saturating_duration_since(e.last) > IDLE_FORGET
        && e.locked_until.is_none_or(|until| until <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Vec<Key> {
        vec![Key::user(name)]
    }

    #[test]
    fn locks_after_five_failures_and_doubles() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let keys = user("Alice");
        for _ in 0..FREE_FAILURES {
            l.begin(&keys, t0).expect("free attempt");
            l.failed(&keys, t0);
        }
        // Locked for 1 s from the fifth failure.
        assert_eq!(l.begin(&keys, t0), Err(Duration::from_secs(1)));
        let t = t0 + Duration::from_millis(999);
        assert!(l.begin(&keys, t).is_err());
        // Expired: one more attempt is let through, fails, and locks for 2 s.
        let t = t0 + Duration::from_secs(1);
        l.begin(&keys, t).expect("lock expired");
        l.failed(&keys, t);
        assert_eq!(l.locked(&keys[0], t), Some(Duration::from_secs(2)));
        let t = t + Duration::from_secs(2);
        l.begin(&keys, t).expect("lock expired");
        l.failed(&keys, t);
        assert_eq!(l.locked(&keys[0], t), Some(Duration::from_secs(4)));
    }

    #[test]
    fn lock_is_capped_at_fifteen_minutes() {
        assert_eq!(lock_for(4), None);
        assert_eq!(lock_for(5), Some(Duration::from_secs(1)));
        assert_eq!(lock_for(6), Some(Duration::from_secs(2)));
        assert_eq!(lock_for(14), Some(Duration::from_secs(512)));
        assert_eq!(lock_for(15), Some(MAX_LOCK));
        assert_eq!(lock_for(u32::MAX), Some(MAX_LOCK));

        let mut l = Limiter::default();
        let keys = user("bob");
        let mut t = Instant::now();
        for _ in 0..40 {
            if let Some(wait) = l.locked(&keys[0], t) {
                assert!(wait <= MAX_LOCK);
                t += wait;
            }
            l.begin(&keys, t).expect("not locked");
            l.failed(&keys, t);
        }
        assert_eq!(l.locked(&keys[0], t), Some(MAX_LOCK));
    }

    #[test]
    fn success_resets_the_streak() {
        let mut l = Limiter::default();
        let t = Instant::now();
        let keys = user("carol");
        for _ in 0..FREE_FAILURES - 1 {
            l.begin(&keys, t).unwrap();
            l.failed(&keys, t);
        }
        l.begin(&keys, t).unwrap();
        l.succeeded(&keys);
        assert!(l.is_empty());
        for _ in 0..FREE_FAILURES {
            l.begin(&keys, t).expect("streak was reset");
            l.failed(&keys, t);
        }
        assert!(l.begin(&keys, t).is_err());
    }

    #[test]
    fn pending_attempts_count_so_parallel_ones_are_bounded() {
        let mut l = Limiter::default();
        let t = Instant::now();
        let keys = user("dave");
        let started = (0..100).filter(|_| l.begin(&keys, t).is_ok()).count();
        assert_eq!(started, FREE_FAILURES as usize);
    }

    #[test]
    fn address_and_username_lock_independently() {
        let mut l = Limiter::default();
        let t = Instant::now();
        let ip = Key::ip("192.0.2.7".parse().unwrap());
        // Spraying many usernames from one address locks the address.
        for i in 0..FREE_FAILURES {
            let keys = [Key::user(&format!("user{i}")), ip.clone()];
            l.begin(&keys, t).unwrap();
            l.failed(&keys, t);
        }
        assert!(l.begin(&[Key::user("fresh"), ip.clone()], t).is_err());
        // The same username from elsewhere is fine.
        let other = Key::ip("192.0.2.8".parse().unwrap());
        assert!(l.begin(&[Key::user("user0"), other], t).is_ok());
    }

    #[test]
    fn ipv6_is_grouped_by_network_and_mapped_v4_is_v4() {
        let a = Key::ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Key::ip("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = Key::ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Key::ip("::ffff:192.0.2.1".parse().unwrap()),
            Key::ip("192.0.2.1".parse().unwrap())
        );
        assert_eq!(Key::user("  AdMin "), Key::User("admin".into()));
    }

    #[test]
    fn idle_entries_are_forgotten() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let keys = user("erin");
        for _ in 0..FREE_FAILURES - 1 {
            l.begin(&keys, t0).unwrap();
            l.failed(&keys, t0);
        }
        // After an hour of quiet the streak starts over.
        let t1 = t0 + IDLE_FORGET + Duration::from_secs(1);
        for _ in 0..FREE_FAILURES {
            l.begin(&keys, t1).expect("forgotten");
            l.failed(&keys, t1);
        }
        assert!(l.begin(&keys, t1).is_err());
        // And the sweep removes entries nobody touches again.
        l.begin(&user("other"), t1).unwrap();
        assert_eq!(l.len(), 2);
        let t2 = t1 + IDLE_FORGET + MAX_LOCK;
        l.begin(&user("late"), t2).unwrap();
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn the_map_is_capped() {
        let mut l = Limiter::default();
        let t = Instant::now();
        for i in 0..MAX_ENTRIES + 10 {
            let now = t + Duration::from_micros(i as u64);
            l.begin(&[Key::user(&format!("u{i}"))], now).unwrap();
        }
        assert!(l.len() <= MAX_ENTRIES);
        // The most recent one survived the eviction.
        let last = Key::user(&format!("u{}", MAX_ENTRIES + 9));
        assert!(l.entries.contains_key(&last));
    }
}
