//! systemd's service notification (`sd_notify`), so a hung player is
//! restarted: `READY=1` once the first screen with content (or the pairing
//! code) is drawn, `WATCHDOG=1` from the app's own update loop, and a
//! `STATUS=` line a technician reads in `systemctl status`.
//!
//! The heartbeat is sent by a system in the `Last` schedule, so it comes only
//! while updates run: a frame loop that hangs (in the app, or in the render
//! thread, which the next update waits for) stops the heartbeats, and
//! systemd (`WatchdogSec=`) kills and restarts the player. The interval is
//! half of `WATCHDOG_USEC`; an idle loop is woken often enough to keep it.
//!
//! The protocol is one datagram per message on the Unix socket named by
//! `NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`),
//! `KEY=value` lines. Without `NOTIFY_SOCKET` (not under systemd) nothing is
//! sent and the plugin adds no system.

use crate::app::redraw::{Frames, Pacing};
use crate::app::{Alerts, Connection, CurrentManifest, Now, Phase};
use bevy::prelude::*;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// The socket named by `NOTIFY_SOCKET`, if set; `Err` when it is set but
    /// cannot be used (logged by the caller: the player plays on).
    pub fn from_env() -> Option<io::Result<Notifier>> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        Some(Notifier::new(&name.to_string_lossy()))
    }

    /// `name`: a path, or `@name` for a Linux abstract socket.
    pub fn new(name: &str) -> io::Result<Notifier> {
        let addr = match name.strip_prefix('@') {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt as _;
                SocketAddr::from_abstract_name(abstract_name.as_bytes())?
            }
            None if name.starts_with('/') => SocketAddr::from_pathname(name)?,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("NOTIFY_SOCKET {name:?} is neither a path nor @abstract"),
                ));
            }
        };
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            addr,
        })
    }

    /// Sends one message: `KEY=value` lines.
    pub fn notify(&self, message: &str) -> io::Result<()> {
        let sent = self.socket.send_to_addr(message.as_bytes(), &self.addr)?;
        if sent != message.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "notification truncated",
            ));
        }
        Ok(())
    }
}

/// Half of `WATCHDOG_USEC`, when the watchdog is on for this process
/// (`WATCHDOG_PID`, when set, names it, or names its parent: on the kiosk
/// systemd starts cage, which runs the player, and the unit's watchdog
/// means the player's frame loop; `NotifyAccess=all` accepts its pings).
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID") {
        let pid = pid.to_string_lossy().parse::<u32>().ok();
        if pid != Some(std::process::id()) && pid != Some(std::os::unix::process::parent_id()) {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec) / 2)
}

/// The notifier and what was sent.
#[derive(Resource, Debug)]
pub struct Watchdog {
    notifier: Notifier,
    /// Between heartbeats; `None`: no watchdog, only readiness and status.
    interval: Option<Duration>,
    last_beat: Option<Instant>,
    ready: bool,
    status: String,
}

/// Adds the notifications when `NOTIFY_SOCKET` is set (see the module doc).
pub fn plugin(app: &mut App) {
    let notifier = match Notifier::from_env() {
        None => return,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            warn!("NOTIFY_SOCKET: {e}; systemd is not told how the player is");
            return;
        }
    };
    let interval = watchdog_interval();
    if let Some(i) = interval {
        info!("systemd watchdog: a heartbeat every {i:?}");
    }
    app.insert_resource(Watchdog {
        notifier,
        interval,
        last_beat: None,
        ready: false,
        status: String::new(),
    })
    .add_systems(Last, notify);
}

/// The longest an idle loop may sleep so that beats `interval` apart are
/// never late by more than a quarter of it.
fn idle_cap(interval: Duration) -> Duration {
    interval / 4
}

// A Bevy system reads what it needs as parameters.
#[allow(clippy::too_many_arguments)]
fn notify(
    mut dog: ResMut<Watchdog>,
    mut pacing: ResMut<Pacing>,
    frames: Res<Frames>,
    phase: Res<State<Phase>>,
    manifest: Res<CurrentManifest>,
    conn: Res<Connection>,
    alerts: Res<Alerts>,
    now: Res<Now>,
) {
    let mut message = String::new();
    let phase = *phase.get();
    if !dog.ready
        && (frames.first_content.is_some() || phase == Phase::Pairing && frames.rendered > 0)
    {
        dog.ready = true;
        message.push_str("READY=1\n");
    }
    let status = status_line(phase, &manifest, &conn, &alerts, &now);
    if status != dog.status {
        message.push_str(&format!("STATUS={status}\n"));
        dog.status = status;
    }
    if let Some(interval) = dog.interval {
        let cap = idle_cap(interval);
        if pacing.idle_wait > cap {
            pacing.idle_wait = cap;
        }
        if dog.last_beat.is_none_or(|t| t.elapsed() >= interval) {
            dog.last_beat = Some(Instant::now());
            message.push_str("WATCHDOG=1\n");
        }
    }
    if !message.is_empty()
        && let Err(e) = dog.notifier.notify(&message)
    {
        // Logged, not fatal: without the heartbeat systemd restarts us,
        // which is the right answer to a notify socket that went away.
        warn!("sd_notify: {e}");
    }
}

/// What `systemctl status` shows: the phase, the manifest, how long offline.
fn status_line(
    phase: Phase,
    manifest: &CurrentManifest,
    conn: &Connection,
    alerts: &Alerts,
    now: &Now,
) -> String {
    let offline = conn
        .offline_since
        .map(|s| (now.get() - s).num_minutes().max(0));
    let mut line = match phase {
        Phase::Booting => "starting".to_string(),
        Phase::Pairing => match &conn.pairing_code {
            Some(code) => format!("pairing, code {code}"),
            None => "pairing, waiting for a code".to_string(),
        },
        Phase::Alert => format!("alert takeover ({} active)", alerts.0.len()),
        Phase::Playing | Phase::Offline => match &manifest.0 {
            Some(m) => format!("playing manifest {}", m.version),
            None => "no manifest yet".to_string(),
        },
    };
    if let Some(min) = offline {
        line.push_str(&format!(", offline {min} min"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        Notifier::new(path.to_str().unwrap())
            .unwrap()
            .notify("READY=1\n")
            .unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");

        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("player-watchdog-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        Notifier::new(&format!("@{name}"))
            .unwrap()
            .notify("WATCHDOG=1\n")
            .unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1\n");

        assert!(Notifier::new("relative/path").is_err());
    }

    #[test]
    fn the_status_tells_manifest_and_offline_minutes() {
        let at: chrono::DateTime<chrono::Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let now = Now::at(Some(at));
        let conn = Connection {
            offline_since: Some(at - chrono::Duration::minutes(5)),
            ..default()
        };
        let line = status_line(
            Phase::Offline,
            &CurrentManifest(None),
            &conn,
            &Alerts::default(),
            &now,
        );
        assert_eq!(line, "no manifest yet, offline 5 min");
        let conn = Connection {
            pairing_code: Some("123456".into()),
            ..default()
        };
        let line = status_line(
            Phase::Pairing,
            &CurrentManifest(None),
            &conn,
            &Alerts::default(),
            &now,
        );
        assert_eq!(line, "pairing, code 123456");
    }
}
