//! The Bevy app: phases, shared resources and the feature plugins.
//!
//! One plugin per feature file, composed here: [`link`] (network events in,
//! reports out), [`zones`] (layout, items, idle screen, clock, ticker),
//! [`alert`] (takeover and banner), [`pairing`] (the code screen) and
//! [`offscreen`] (the render target and screenshots) and [`redraw`] (a frame
//! is drawn only when something changed). Systems run in the chained
//! [`PlayerSet`]s: input, then decisions, then drawing.

pub mod alert;
pub mod fonts;
pub mod indicator;
pub mod link;
pub mod no_depth;
pub mod offscreen;
pub mod pairing;
pub mod redraw;
pub mod report;
pub mod screen_power;
pub mod targets;
pub mod video;
pub mod x11_output;
pub mod zones;

use bevy::prelude::*;
use chrono::{DateTime, Utc};
use content::alert::Alert;
use content::live::LiveData;
use content::manifest::Manifest;
use std::path::PathBuf;
use std::sync::Arc;

/// The window's title (window managers and tests find it by this name).
pub const WINDOW_TITLE: &str = "Stadtbildschirm";

/// The app's phases.
#[derive(States, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Phase {
    /// Before the first decision (a frame at most).
    #[default]
    Booting,
    /// No token: the pairing code fills the screen.
    Pairing,
    /// The schedule plays.
    Playing,
    /// The schedule plays from the cache; the server has been unreachable a while.
    Offline,
    /// A severe or extreme alert has the whole screen.
    Alert,
}

/// Ordering within a frame.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlayerSet {
    /// Network events become resources.
    Input,
    /// The phase follows from the resources.
    Decide,
    /// Entities follow from the phase and resources.
    Draw,
}

/// Where frames go; inserted before [`player_plugin`] (absent: offscreen).
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// One frame into an image, read back (`--screenshot`, tests).
    Screenshot,
    /// An offscreen image, frame after frame (`--headless`).
    #[default]
    Offscreen,
    /// The primary window (X11 or Wayland, e.g. under `cage`), through a
    /// Vulkan swap chain.
    Window,
    /// The offscreen image, its changed rectangles copied to the player's
    /// own X11 window ([`x11_output`]: for CPU renderers).
    X11,
}

/// The time the player shows: the wall clock, or a fixed instant (`--at`).
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct Now {
    pub fixed: Option<DateTime<Utc>>,
    /// Added to the wall clock (tests play a wrong clock: `--clock-offset-s`).
    pub offset: chrono::Duration,
}

impl Now {
    /// The wall clock (`None`) or a fixed instant.
    pub fn at(fixed: Option<DateTime<Utc>>) -> Now {
        Now {
            fixed,
            offset: chrono::Duration::zero(),
        }
    }

    pub fn get(&self) -> DateTime<Utc> {
        self.fixed.unwrap_or_else(|| Utc::now() + self.offset)
    }
}

/// Whether the wall clock is trusted ([`crate::clock`]); while it is not,
/// zones play the manifest's fallback and clocks show no time.
#[derive(Resource, Debug, Clone)]
pub struct ClockTrust {
    /// `--time-sync-file`: exists once NTP has synchronised.
    pub sync_file: Option<PathBuf>,
    /// What the server's `Welcome` said in this run.
    pub server: crate::clock::ServerCheck,
    pub trusted: bool,
    /// When the app started: the fallback's loops count from it (monotonic).
    pub started: std::time::Instant,
    /// The second (since `started`) the file was last looked at, and what was seen.
    checked: Option<(u64, bool)>,
    /// What was last logged (an untrusted start is logged, a trusted one not).
    reported: Option<bool>,
}

impl Default for ClockTrust {
    fn default() -> Self {
        ClockTrust::new(None)
    }
}

impl ClockTrust {
    pub fn new(sync_file: Option<PathBuf>) -> ClockTrust {
        let exists = sync_file.as_ref().map(|p| p.exists());
        ClockTrust {
            sync_file,
            server: Default::default(),
            trusted: crate::clock::trusted(exists, Default::default()),
            started: std::time::Instant::now(),
            checked: exists.map(|e| (0, e)),
            reported: None,
        }
    }

    /// Where the zones' playlists come from at `at`.
    pub fn source(&self, at: DateTime<Utc>) -> crate::show::Source {
        if self.trusted {
            crate::show::Source::Timeline
        } else {
            let ran = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
            crate::show::Source::Fallback {
                loop_start: at - ran,
            }
        }
    }
}

/// Looks at the sync file once a second and decides; logs each change.
fn check_clock(mut clock: ResMut<ClockTrust>) {
    let second = clock.started.elapsed().as_secs();
    let exists = match &clock.sync_file {
        None => None,
        Some(_) if clock.checked.is_some_and(|(s, _)| s == second) => clock.checked.map(|(_, e)| e),
        Some(path) => {
            let e = path.exists();
            clock.bypass_change_detection().checked = Some((second, e));
            Some(e)
        }
    };
    let trusted = crate::clock::trusted(exists, clock.server);
    let reported = clock.reported;
    if reported != Some(trusted) && (reported.is_some() || !trusted) {
        if trusted {
            info!("the clock is trusted now: the schedule plays");
        } else {
            warn!(
                "the clock is not trusted (sync file present: {exists:?}, server: {:?}): the fallback plays, clocks show no time",
                clock.server
            );
        }
    }
    clock.bypass_change_detection().reported = Some(trusted);
    if trusted != clock.trusted {
        clock.trusted = trusted;
    }
}

/// The manifest that plays (every asset cached), if any.
#[derive(Resource, Debug, Clone, Default)]
pub struct CurrentManifest(pub Option<Arc<Manifest>>);

/// Alerts received and not cancelled.
#[derive(Resource, Debug, Clone, Default)]
pub struct Alerts(pub Vec<Alert>);

/// The latest live data, per kind and stop.
#[derive(Resource, Debug, Clone, Default)]
pub struct Live(pub Vec<LiveData>);

/// What the player knows of its server connection.
#[derive(Resource, Debug, Clone, Default)]
pub struct Connection {
    pub server: String,
    pub has_token: bool,
    pub online: bool,
    /// Since when the server is unreachable.
    pub offline_since: Option<DateTime<Utc>>,
    pub pairing_code: Option<String>,
}

/// Where the cache lives, the size the layout is computed in (the display's
/// resolution from the manifest) and the output's size at start (a window
/// may be resized later; [`offscreen::Fit`] scales the layout to it).
#[derive(Resource, Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub width: u32,
    pub height: u32,
    pub output_width: u32,
    pub output_height: u32,
}

/// Everything the app starts from.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub data_dir: PathBuf,
    pub server: String,
    pub manifest: Option<Manifest>,
    pub has_token: bool,
    pub at: Option<DateTime<Utc>>,
    /// Output size; defaults to the manifest's display resolution. The
    /// layout keeps the manifest's resolution and is scaled to fit.
    pub size: Option<(u32, u32)>,
    /// Alerts active from the start (screenshots of alerts).
    pub alerts: Vec<Alert>,
    /// A pairing code to show from the start (screenshots of the pairing screen).
    pub pairing_code: Option<String>,
    /// With a window: borderless full screen.
    pub fullscreen: bool,
    /// Live data known from the start (screenshots, benchmarks).
    pub live: Vec<LiveData>,
}

/// The output size for a manifest: its display's resolution in the logical
/// orientation (portrait panels are taller than wide).
pub fn output_size(m: Option<&Manifest>) -> (u32, u32) {
    use content::model::Orientation;
    let Some(d) = m.map(|m| &m.display) else {
        return (1920, 1080);
    };
    let (w, h) = (d.resolution.width, d.resolution.height);
    match d.orientation {
        Orientation::Portrait | Orientation::PortraitFlipped => (w.min(h), w.max(h)),
        Orientation::Landscape | Orientation::LandscapeFlipped => (w.max(h), w.min(h)),
    }
}

/// The player's own plugins and resources (not Bevy's).
pub fn player_plugin(app: &mut App, opts: &AppOptions) {
    let (output_width, output_height) = opts
        .size
        .unwrap_or_else(|| output_size(opts.manifest.as_ref()));
    // Without a manifest (pairing, nothing cached) the layout is the output.
    let (width, height) = match &opts.manifest {
        Some(m) => output_size(Some(m)),
        None => (output_width, output_height),
    };
    app.insert_resource(Now::at(opts.at))
        .init_resource::<ClockTrust>()
        .insert_resource(CurrentManifest(opts.manifest.clone().map(Arc::new)))
        .insert_resource(Settings {
            data_dir: opts.data_dir.clone(),
            width,
            height,
            output_width,
            output_height,
        })
        .insert_resource(Connection {
            server: opts.server.clone(),
            has_token: opts.has_token,
            pairing_code: opts.pairing_code.clone(),
            ..default()
        })
        .insert_resource(Alerts(opts.alerts.clone()))
        .insert_resource(Live(opts.live.clone()))
        .init_state::<Phase>()
        .configure_sets(
            Update,
            (PlayerSet::Input, PlayerSet::Decide, PlayerSet::Draw).chain(),
        )
        .add_systems(Update, decide_phase.in_set(PlayerSet::Decide))
        .add_systems(
            Update,
            check_clock.in_set(PlayerSet::Input).after(link::poll),
        )
        .add_plugins((
            screen_power::plugin,
            fonts::plugin,
            offscreen::plugin,
            targets::plugin,
            no_depth::plugin,
            redraw::plugin,
            link::plugin,
            zones::plugin,
            alert::plugin,
            pairing::plugin,
            report::plugin,
            indicator::plugin,
            video::plugin,
        ));
}

/// Minutes without the server before the corner indicator shows.
pub const OFFLINE_NOTICE_MIN: i64 = 10;

fn decide_phase(
    now: Res<Now>,
    manifest: Res<CurrentManifest>,
    alerts: Res<Alerts>,
    conn: Res<Connection>,
    phase: Res<State<Phase>>,
    mut next: ResMut<NextState<Phase>>,
) {
    let at = now.get();
    let target = if crate::show::alert_to_show(&alerts.0, at).is_some_and(crate::show::is_takeover)
    {
        Phase::Alert
    } else if !conn.has_token && manifest.0.is_none() {
        Phase::Pairing
    } else if conn
        .offline_since
        .is_some_and(|s| at - s > chrono::Duration::minutes(OFFLINE_NOTICE_MIN))
    {
        Phase::Offline
    } else {
        Phase::Playing
    };
    if *phase.get() != target {
        next.set(target);
    }
}

/// A layer over the whole screen at `z` (pairing screen, notices): its
/// texts (the children) in a centred column on the background.
pub(crate) fn full_screen(base: f32, z: i32) -> impl Bundle {
    (
        Node {
            position_type: PositionType::Absolute,
            width: percent(100),
            height: percent(100),
            flex_direction: FlexDirection::Column,
            justify_content: JustifyContent::Center,
            align_items: AlignItems::Center,
            row_gap: px(base * 0.04),
            padding: UiRect::all(px(base * 0.06)),
            ..default()
        },
        GlobalZIndex(z),
        BackgroundColor(palette::BACKGROUND),
    )
}

/// Colours of the normal screens.
pub mod palette {
    use bevy::prelude::Color;
    pub const BACKGROUND: Color = Color::srgb(0.04, 0.15, 0.27);
    pub const PANEL: Color = Color::srgb(0.07, 0.22, 0.38);
    pub const TEXT: Color = Color::WHITE;
    pub const MUTED: Color = Color::srgb(0.75, 0.82, 0.9);
    pub const ALERT_BG: Color = Color::srgb(0.70, 0.0, 0.08);
    pub const BANNER_BG: Color = Color::srgb(1.0, 0.76, 0.03);
    pub const BANNER_TEXT: Color = Color::BLACK;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::NetEvent;
    use bevy::state::app::StatesPlugin;

    fn alert(severity: &str) -> Alert {
        serde_json::from_value(serde_json::json!({
            "id": "a1",
            "severity": severity,
            "headline": "Unwetter",
            "area_description": "Kaarst",
            "area": {},
            "sent": "2026-11-22T09:00:00Z",
        }))
        .unwrap()
    }

    /// The app's logic without rendering: link and phase decision only.
    fn logic_app() -> (App, async_channel::Sender<NetEvent>) {
        let (events_tx, events) = async_channel::unbounded();
        let (reports, _reports_rx) = async_channel::unbounded();
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, StatesPlugin))
            .insert_resource(Now::default())
            .insert_resource(Connection {
                has_token: true,
                ..default()
            })
            .init_resource::<CurrentManifest>()
            .init_resource::<Alerts>()
            .init_resource::<Live>()
            .init_state::<Phase>()
            .insert_resource(link::NetLink { events, reports })
            .configure_sets(
                Update,
                (PlayerSet::Input, PlayerSet::Decide, PlayerSet::Draw).chain(),
            )
            .add_systems(Update, decide_phase.in_set(PlayerSet::Decide))
            .add_plugins(link::plugin);
        (app, events_tx)
    }

    fn phase(app: &App) -> Phase {
        *app.world().resource::<State<Phase>>().get()
    }

    #[test]
    fn a_severe_alert_takes_over_at_once_and_cancel_returns() {
        let (mut app, events) = logic_app();
        app.update();
        app.update();
        assert_eq!(phase(&app), Phase::Playing);
        events
            .try_send(NetEvent::AlertStart(alert("severe")))
            .unwrap();
        app.update();
        // Decided in the frame the event arrived; the state applies at the next
        // transition point.
        app.update();
        assert_eq!(phase(&app), Phase::Alert);
        events
            .try_send(NetEvent::AlertCancel {
                alert_id: "a1".into(),
            })
            .unwrap();
        app.update();
        app.update();
        assert_eq!(phase(&app), Phase::Playing);
        assert!(app.world().resource::<Alerts>().0.is_empty());
    }

    #[test]
    fn a_minor_alert_does_not_take_over_and_pairing_needs_no_token() {
        let (mut app, events) = logic_app();
        events
            .try_send(NetEvent::AlertStart(alert("minor")))
            .unwrap();
        app.update();
        app.update();
        assert_eq!(phase(&app), Phase::Playing);
        assert_eq!(app.world().resource::<Alerts>().0.len(), 1);
        events
            .try_send(NetEvent::Pairing {
                code: "123456".into(),
                expires_at: chrono::Utc::now(),
            })
            .unwrap();
        app.update();
        app.update();
        assert_eq!(phase(&app), Phase::Pairing);
        assert_eq!(
            app.world().resource::<Connection>().pairing_code.as_deref(),
            Some("123456")
        );
    }
}
