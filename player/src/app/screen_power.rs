//! Night mode: the screen off by the display's schedule
//! ([`content::screen`], staff set it on the display), on again in the
//! morning or for an alert.
//!
//! The screen is off when the clock is trusted ([`crate::clock`]: a wrong
//! clock must not switch a square dark by day), a night window covers
//! now, and no alert is shown. Off always means blank: one black frame over
//! everything, then no drawing at all (updates idle at one a second, no
//! camera draws), so the board's CPU rests. The backend (`--screen-power`)
//! decides what else happens:
//!
//! - `blank`: nothing else (the panel stays lit, black).
//! - `dpms`: the X server's DPMS is forced `Off`/`On` through the player's
//!   own X11 window ([`super::x11_output`]); needs that output.
//! - `cec`: Debian's `cec-ctl` (v4l-utils) sends the TV standby or "image
//!   view on" over HDMI-CEC, on a thread of its own (never in the frame loop).
//! - `auto`: `dpms` on the X11 output, `blank` otherwise.
//!
//! A backend that fails is logged, and the screen stays blanked. One-frame
//! screenshots (`--screenshot`, the server's preview of an instant) show
//! what plays, night or not; a running player's screenshot at night is black.

use super::x11_output::X11Window;
use super::{Alerts, ClockTrust, CurrentManifest, Now, PlayerSet};
use bevy::prelude::*;

/// How the screen is switched off (`--screen-power`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// `dpms` on the X11 output, else `blank`.
    #[default]
    Auto,
    /// A black frame, then no drawing.
    Blank,
    /// X11 DPMS (and blank).
    Dpms,
    /// HDMI-CEC standby through `cec-ctl` (and blank).
    Cec,
}

/// The CEC device `cec-ctl` drives.
pub const CEC_DEVICE: &str = "/dev/cec0";

/// Updates drawn after the screen went black before drawing stops: the
/// black frame must reach the screen (pipelined rendering, a window's
/// swap chain).
const SETTLE_UPDATES: u32 = 5;

/// The screen's state.
#[derive(Resource, Debug, Default)]
pub struct ScreenPower {
    /// As configured; `Auto` is resolved when the screen first goes off.
    pub backend: Backend,
    /// The screen is off (blanked, and powered down where the backend can).
    pub off: bool,
    /// Drawn updates left before drawing stops.
    settle: u32,
}

impl ScreenPower {
    /// Nothing is to be drawn: the screen is off and its black frame shown.
    pub fn dark(&self) -> bool {
        self.off && self.settle == 0
    }
}

/// The black layer over everything while the screen is off.
#[derive(Component, Debug)]
pub struct Blackout;

pub fn plugin(app: &mut App) {
    app.init_resource::<ScreenPower>()
        // Before the zones are drawn: they empty when the screen goes off.
        .add_systems(Update, switch.in_set(PlayerSet::Decide));
}

/// Whether the screen should be off: pure, for the system and the tests.
pub fn wants_off(
    manifest: Option<&content::manifest::Manifest>,
    at: chrono::DateTime<chrono::Utc>,
    clock_trusted: bool,
    alert_shown: bool,
) -> bool {
    clock_trusted
        && !alert_shown
        && manifest.is_some_and(|m| !content::screen::screen_on_at(&m.display, at))
}

#[allow(clippy::too_many_arguments)]
fn switch(
    mut commands: Commands,
    now: Res<Now>,
    manifest: Res<CurrentManifest>,
    alerts: Res<Alerts>,
    clock: Res<ClockTrust>,
    mut power: ResMut<ScreenPower>,
    x11: Option<Res<X11Window>>,
    output: Option<Res<super::Output>>,
    blackouts: Query<Entity, With<Blackout>>,
) {
    // A screenshot (the server's preview of an instant) shows what plays,
    // also at night.
    if output.is_some_and(|o| *o == super::Output::Screenshot) {
        return;
    }
    let at = now.get();
    let alert = crate::show::alert_to_show(&alerts.0, at).is_some();
    let off = wants_off(manifest.0.as_deref(), at, clock.trusted, alert);
    if off == power.off {
        if power.settle > 0 {
            power.settle -= 1;
        }
        return;
    }
    power.off = off;
    let backend = match power.backend {
        Backend::Auto if x11.is_some() => Backend::Dpms,
        Backend::Auto => Backend::Blank,
        b => b,
    };
    if off {
        let until = manifest
            .0
            .as_deref()
            .and_then(|m| content::screen::next_screen_change(&m.display, at))
            .map_or_else(|| "further notice".to_owned(), |t| t.to_rfc3339());
        info!("screen off (night mode, {backend:?}) until {until}");
        power.settle = SETTLE_UPDATES;
        commands.spawn((
            Blackout,
            Node {
                position_type: PositionType::Absolute,
                width: percent(100),
                height: percent(100),
                ..default()
            },
            GlobalZIndex(i32::MAX / 2),
            BackgroundColor(Color::BLACK),
        ));
    } else {
        info!(
            "screen on ({})",
            if alert { "an alert" } else { "schedule" }
        );
        power.settle = 0;
        for e in &blackouts {
            commands.entity(e).despawn();
        }
        // Everything again: nothing was drawn while dark.
        commands.queue(super::redraw::force_redraw);
    }
    match backend {
        Backend::Auto | Backend::Blank => {}
        Backend::Dpms => match &x11 {
            Some(w) => {
                if let Err(e) = w.0.set_dpms(!off) {
                    warn!("DPMS failed ({e}): the screen is only blanked");
                }
            }
            None => warn!("DPMS needs the X11 output (--present x11): the screen is only blanked"),
        },
        Backend::Cec => cec(!off),
    }
}

/// Sends the TV standby or "image view on" over HDMI-CEC, off the frame loop.
fn cec(on: bool) {
    let message = if on { "--image-view-on" } else { "--standby" };
    let spawned = std::thread::Builder::new()
        .name("cec".into())
        .spawn(move || {
            // `--playback` gives the adapter a logical address first (a
            // fresh adapter has none and sends nothing).
            let out = std::process::Command::new("cec-ctl")
                .args(["-d", CEC_DEVICE, "--playback", "--to", "0", message])
                .stdin(std::process::Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => info!("cec-ctl {message}: done"),
                Ok(o) => warn!(
                    "cec-ctl {message} failed ({}): {}; the screen is only blanked",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => warn!("cannot run cec-ctl ({e}): the screen is only blanked"),
            }
        });
    if let Err(e) = spawned {
        warn!("cannot start the CEC thread ({e}): the screen is only blanked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use content::manifest::Manifest;

    fn manifest(screen_off: serde_json::Value) -> Manifest {
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "generated_at": "2026-11-22T00:00:00Z",
            "display": {
                "id": 1, "name": "Rathausplatz",
                "location": { "lat": 51.2, "lon": 6.6, "ars": "051620016016" },
                "resolution": { "width": 1920, "height": 1080 },
                "screen_off": screen_off,
            },
            "layout": { "id": 0, "name": "Vollbild", "zones": [] },
            "timeline": [], "items": [], "assets": [],
            "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
        }))
        .unwrap()
    }

    #[test]
    fn off_only_at_night_with_a_known_clock_and_no_alert() {
        // Every night 23:00–05:30 Berlin time.
        let m = manifest(serde_json::json!([{ "start": "23:00:00", "end": "05:30:00" }]));
        let night = "2026-11-22T23:00:00Z".parse().unwrap(); // 00:00 CET
        let day = "2026-11-22T11:00:00Z".parse().unwrap();
        assert!(wants_off(Some(&m), night, true, false));
        assert!(!wants_off(Some(&m), day, true, false));
        // A clock not trusted never switches the screen off.
        assert!(!wants_off(Some(&m), night, false, false));
        // An alert switches it on.
        assert!(!wants_off(Some(&m), night, true, true));
        // No manifest, no windows: on.
        assert!(!wants_off(None, night, true, false));
        assert!(!wants_off(
            Some(&manifest(serde_json::json!([]))),
            night,
            true,
            false
        ));
    }
}
