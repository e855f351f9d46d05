//! Notices a live session whose program pipeline has stopped encoding.
//!
//! Why: a pipeline can stall without an error message (CI once caught the
//! program pipeline held at PAUSED with every sink waiting for preroll), and a
//! session that says "live" while nothing reaches viewers is the failure council
//! TV must never have unnoticed. The studio feeds the encoded byte count in
//! every 100 ms tick; the program reports the stall as an error in its status and
//! sets its pipeline to PLAYING again, once per stall period, until bytes flow.

use std::time::{Duration, Instant};

/// Audio alone encodes a frame every 21 ms: five seconds without one byte is a
/// stall, not a slow encoder.
pub const STALL_AFTER: Duration = Duration::from_secs(5);
/// The first frames wait for the encoders to start, slower on a loaded board.
pub const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Bytes flow, or the wait is not over yet.
    Fine,
    /// No byte for a stall period (again): time to act.
    Stalled,
    /// Bytes flow again after a stall.
    Recovered,
}

#[derive(Debug)]
pub struct Watchdog {
    bytes: u64,
    /// When `bytes` last changed, or when the last stall period ended.
    since: Instant,
    /// No byte ever: the first period is [`FIRST_BYTES_WITHIN`].
    started: bool,
    stalled: bool,
}

impl Watchdog {
    pub fn new(now: Instant) -> Watchdog {
        Watchdog {
            bytes: 0,
            since: now,
            started: false,
            stalled: false,
        }
    }

    /// Called with the count of encoded bytes so far.
    pub fn check(&mut self, bytes: u64, now: Instant) -> Verdict {
        if bytes != self.bytes {
            self.bytes = bytes;
            self.since = now;
            self.started = true;
            return if std::mem::take(&mut self.stalled) {
                Verdict::Recovered
            } else {
                Verdict::Fine
            };
        }
        let period = if self.started {
            STALL_AFTER
        } else {
            FIRST_BYTES_WITHIN
        };
        if now.duration_since(self.since) < period {
            return Verdict::Fine;
        }
        // The next period starts now: a retry every period while it lasts.
        self.since = now;
        self.stalled = true;
        Verdict::Stalled
    }

    /// What to tell staff while stalled.
    pub fn problem(&self) -> Option<String> {
        self.stalled.then(|| {
            if self.started {
                format!(
                    "the program pipeline has encoded nothing for over {} s; restarting it",
                    STALL_AFTER.as_secs()
                )
            } else {
                format!(
                    "the program pipeline encoded nothing in its first {} s; restarting it",
                    FIRST_BYTES_WITHIN.as_secs()
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_reported_each_period_until_bytes_flow_again() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Start-up: a slow first frame is not a stall.
        assert_eq!(w.check(0, at(9_900)), Verdict::Fine);
        assert_eq!(w.check(100, at(9_950)), Verdict::Fine);
        assert_eq!(w.problem(), None);
        // Running: silence for less than the period is fine, then a stall.
        assert_eq!(w.check(100, at(14_900)), Verdict::Fine);
        assert_eq!(w.check(100, at(14_950)), Verdict::Stalled);
        assert!(w.problem().unwrap().contains("for over 5 s"));
        // Still stalled: once more per period, not every tick.
        assert_eq!(w.check(100, at(15_000)), Verdict::Fine);
        assert_eq!(w.check(100, at(19_950)), Verdict::Stalled);
        assert!(w.problem().is_some());
        assert_eq!(w.check(300, at(20_000)), Verdict::Recovered);
        assert_eq!(w.problem(), None);
        assert_eq!(w.check(400, at(20_100)), Verdict::Fine);
    }

    #[test]
    fn nothing_at_all_from_the_start_is_a_stall_after_the_start_period() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(t0);
        assert_eq!(w.check(0, t0 + Duration::from_secs(10)), Verdict::Stalled);
        assert!(w.problem().unwrap().contains("first 10 s"));
    }
}
