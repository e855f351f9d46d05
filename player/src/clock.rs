//! Whether the player may believe its wall clock.
//!
//! A Raspberry Pi has no battery-backed clock: after power-on its time is
//! wrong but plausible until NTP synchronises, and a wrong daypart on a
//! town's square is worse than the default loop. So the player plays the
//! manifest's `fallback` (and shows no time) until the clock is trusted:
//!
//! - with no sync file configured (`--time-sync-file`, unset on desktops and
//!   in development), or once that file exists (systemd-timesyncd touches
//!   `/run/systemd/timesync/synchronized` when it has synchronised), or
//! - once the server's `Welcome { server_time }` agreed with the local clock
//!   within [`TOLERANCE`] in this run.
//!
//! The server overrules the file: a `Welcome` whose time differs by more than
//! [`TOLERANCE`] makes the clock untrusted, whatever the file says, until a
//! later `Welcome` agrees. Pure: the app asks once a second.

use chrono::Duration;

/// How far the server's time may lie from ours (network round trip, a
/// server's own small error) before one of them is wrong.
pub const TOLERANCE: Duration = Duration::minutes(2);

/// What the server's clock said, in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerCheck {
    /// No `Welcome` yet (offline since the start).
    #[default]
    Unknown,
    Agrees,
    Disagrees,
}

impl ServerCheck {
    /// From `server_time - local time` at the `Welcome`.
    pub fn from_skew(skew: Duration) -> ServerCheck {
        if skew.abs() <= TOLERANCE {
            ServerCheck::Agrees
        } else {
            ServerCheck::Disagrees
        }
    }
}

/// Whether the clock is trusted. `sync_file`: `None` when no sync file is
/// configured, else whether it exists.
pub fn trusted(sync_file: Option<bool>, server: ServerCheck) -> bool {
    match server {
        ServerCheck::Agrees => true,
        ServerCheck::Disagrees => false,
        ServerCheck::Unknown => sync_file.unwrap_or(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_decides_until_the_server_has_spoken() {
        use ServerCheck::*;
        // A desktop: no file configured.
        assert!(trusted(None, Unknown));
        // A board before and after NTP.
        assert!(!trusted(Some(false), Unknown));
        assert!(trusted(Some(true), Unknown));
        // The server agrees: trusted without NTP.
        assert!(trusted(Some(false), Agrees));
        // The server disagrees: untrusted whatever the file or configuration says.
        assert!(!trusted(Some(true), Disagrees));
        assert!(!trusted(None, Disagrees));
    }

    #[test]
    fn skew_within_the_tolerance_agrees() {
        assert_eq!(
            ServerCheck::from_skew(Duration::zero()),
            ServerCheck::Agrees
        );
        assert_eq!(
            ServerCheck::from_skew(Duration::seconds(-119)),
            ServerCheck::Agrees
        );
        assert_eq!(ServerCheck::from_skew(TOLERANCE), ServerCheck::Agrees);
        assert_eq!(
            ServerCheck::from_skew(TOLERANCE + Duration::seconds(1)),
            ServerCheck::Disagrees
        );
        assert_eq!(
            ServerCheck::from_skew(-Duration::days(400)),
            ServerCheck::Disagrees
        );
    }
}
