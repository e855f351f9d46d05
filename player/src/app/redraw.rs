//! Reactive rendering: a frame is drawn only when something on screen
//! changed. A full-screen UI frame costs tens of milliseconds of CPU on a
//! software rasterizer, so an unchanged screen must cost nothing.
//!
//! Every update runs the logic (network events, clock, schedule); at its end
//! [`decide`] looks for damage (UI components added, changed or removed,
//! images loaded, the window resized) and switches cameras on for this
//! frame only if there is any: a changed node of a zone with its own camera
//! (see [`super::offscreen`]) switches on that camera only; anything else
//! switches on all of them ([`Plan`]). An inactive camera is not extracted:
//! nothing is rasterized, and a window keeps its last presented frame (Bevy
//! acquires no swap-chain texture for a window no active camera targets).
//!
//! How often updates run is [`Pacing`]'s business: at the output frame rate
//! while something animates (tickers, transitions, video: entities marked
//! [`Animated`]), otherwise only once a second or when the network wakes the
//! loop. The runners (the winit window in `lib.rs`'s `run`, or the offscreen
//! loop) read [`Pacing::animating`] after each update.

use bevy::prelude::*;
use bevy::text::TextLayoutInfo;
use bevy::ui::{ComputedNode, ComputedUiTargetCamera, UiGlobalTransform};
use bevy::window::WindowResized;
use std::time::{Duration, Instant};

use super::offscreen::{Overlay, Target, ZoneCamera};

pub fn plugin(app: &mut App) {
    app.init_resource::<Pacing>()
        .init_resource::<Frames>()
        .add_systems(Last, decide);
}

/// Marks an entity that changes every frame while it exists (a ticker, a
/// transition, a video); while any exists, updates run at the frame rate.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct Animated;

/// How the runner should pace the next update.
#[derive(Resource, Debug, Clone)]
pub struct Pacing {
    /// Something moves: run the next update one frame interval after this one.
    pub animating: bool,
    /// The interval between frames while animating.
    pub frame_interval: Duration,
    /// The longest an idle loop sleeps (the clock's resolution).
    pub idle_wait: Duration,
    /// Frames to draw whatever the damage (start-up, screenshots).
    pub force: u32,
    /// A frame was drawn less than [`SETTLE`] ago: keep updating at the
    /// frame interval, so what follows a drawn frame (its completion on the
    /// pipelined render thread, which can take a while for new glyphs;
    /// "alert shown" reports; screenshots) is seen at once, not one idle wait
    /// later. Updates that find no damage draw nothing.
    pub settle: bool,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            animating: false,
            frame_interval: Duration::from_secs_f64(1.0 / 30.0),
            idle_wait: Duration::from_secs(1),
            // The first frames draw unconditionally: pipelines, fonts and the
            // window's first present settle there.
            force: 3,
            settle: false,
        }
    }
}

/// How long after a drawn frame updates keep the frame interval.
pub const SETTLE: Duration = Duration::from_millis(500);

/// Counts of what the loop did, for heartbeats and benchmarks.
#[derive(Resource, Debug, Clone, Default)]
pub struct Frames {
    /// Updates run (logic).
    pub updates: u64,
    /// Frames drawn (the camera was active).
    pub rendered: u64,
    /// When the last frame was drawn.
    pub last_rendered: Option<Instant>,
    /// When the first frame with content was drawn (see [`Frames::content`]).
    pub first_content: Option<Instant>,
    /// Whether the last drawn frame had a zone or screen layer with content.
    pub content: bool,
}

/// Asks for the next frame to be drawn whatever the damage.
pub fn force_redraw(world: &mut World) {
    world.resource_mut::<Pacing>().force = world.resource::<Pacing>().force.max(1);
}

type Damaged = Or<(
    Changed<Node>,
    Changed<ComputedNode>,
    Changed<UiGlobalTransform>,
    Changed<Text>,
    Changed<TextColor>,
    Changed<TextFont>,
    Changed<TextLayoutInfo>,
    Changed<BackgroundColor>,
    Changed<ImageNode>,
    Changed<Visibility>,
    Changed<ZIndex>,
    Changed<GlobalZIndex>,
)>;

/// Which cameras draw this update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Everything: the base camera clears the main texture, so every zone
    /// camera and the overlay camera must draw over it again.
    pub all: bool,
    /// Otherwise, the zone cameras whose nodes changed.
    pub zones: Vec<Entity>,
}

impl Plan {
    /// What to draw, given where damage happened: `global` (removed nodes,
    /// loaded images, a resize, a forced frame), and for each changed node the
    /// camera its tree draws with (`None`: the base or overlay camera).
    /// Overlays (alerts, notices) lie over the zones: while any exists, each
    /// drawn frame draws everything, in order, so they stay on top.
    pub fn new(
        global: bool,
        damaged: impl IntoIterator<Item = Option<Entity>>,
        overlays: bool,
    ) -> Plan {
        let mut plan = Plan {
            all: global,
            zones: Vec::new(),
        };
        for camera in damaged {
            match camera {
                Some(c) => {
                    if !plan.zones.contains(&c) {
                        plan.zones.push(c);
                    }
                }
                None => plan.all = true,
            }
        }
        if overlays && !plan.zones.is_empty() {
            plan.all = true;
        }
        plan
    }

    pub fn draws(&self) -> bool {
        self.all || !self.zones.is_empty()
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    target: Option<Res<Target>>,
    mut cameras: Query<&mut Camera>,
    zone_cameras: Query<Entity, With<ZoneCamera>>,
    mut pacing: ResMut<Pacing>,
    mut frames: ResMut<Frames>,
    damaged: Query<Option<&ComputedUiTargetCamera>, Damaged>,
    overlays: Query<(), With<Overlay>>,
    animated: Query<(), With<Animated>>,
    content: Query<(), With<super::zones::ZoneBox>>,
    mut removed: RemovedComponents<ComputedNode>,
    mut images: MessageReader<AssetEvent<Image>>,
    mut resized: MessageReader<WindowResized>,
    power: Option<Res<super::screen_power::ScreenPower>>,
) {
    frames.updates += 1;
    // Night mode: once the black frame is shown nothing is drawn (a forced
    // frame aside, e.g. an X11 expose: it draws the black layer again).
    let dark = power.is_some_and(|p| p.dark());
    let removed = removed.read().count() > 0;
    // Only loads and edits of images matter; the count drains the reader.
    let images = images
        .read()
        .filter(|e| {
            matches!(
                e,
                AssetEvent::LoadedWithDependencies { .. } | AssetEvent::Modified { .. }
            )
        })
        .count()
        > 0;
    let resized = resized.read().last().map(|r| (r.width, r.height));
    if let Some((w, h)) = resized {
        // For whoever reads the log on site: the output's size is not the
        // display's configured resolution (or a compositor resized it).
        info!("window resized to {w}x{h}");
        // Like the first frames: a window's surface is configured anew, and
        // a compositor may show the buffer of the next frame or two only.
        pacing.force = pacing.force.max(3);
    }
    let global = pacing.force > 0 || removed || images || resized.is_some();
    let plan = if dark && pacing.force == 0 {
        Plan::default()
    } else {
        Plan::new(
            global,
            damaged.iter().map(|c| {
                c.and_then(ComputedUiTargetCamera::get)
                    .filter(|c| zone_cameras.contains(*c))
            }),
            !overlays.is_empty(),
        )
    };
    let draw = plan.draws();
    pacing.force = pacing.force.saturating_sub(1);
    pacing.animating = !animated.is_empty() && !dark;
    pacing.settle = draw || (!dark && frames.last_rendered.is_some_and(|t| t.elapsed() < SETTLE));
    let Some(target) = target else { return };
    let mut set = |camera: Entity, active: bool| {
        if let Ok(mut camera) = cameras.get_mut(camera)
            && camera.is_active != active
        {
            camera.is_active = active;
        }
    };
    set(target.camera, plan.all);
    for zone in &zone_cameras {
        set(zone, plan.all || plan.zones.contains(&zone));
    }
    // A window's swap-chain image holds nothing from earlier frames (wgpu
    // clears a newly acquired one before anything loads it): the overlay
    // camera copies the whole persistent main texture into it.
    set(target.overlay, plan.all || (draw && target.is_window()));
    if draw {
        let now = Instant::now();
        frames.rendered += 1;
        frames.last_rendered = Some(now);
        frames.content = !content.is_empty();
        if frames.content && frames.first_content.is_none() {
            frames.first_content = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_zones_draw_unless_something_global_or_an_overlay() {
        let ticker = Entity::from_raw_u32(7).unwrap();
        let clock = Entity::from_raw_u32(8).unwrap();
        assert!(!Plan::new(false, [], false).draws());
        let p = Plan::new(false, [Some(ticker), Some(ticker)], false);
        assert_eq!(
            p,
            Plan {
                all: false,
                zones: vec![ticker]
            }
        );
        // A node of the zone layer or an overlay changed: all of it.
        assert!(Plan::new(false, [Some(ticker), None], false).all);
        assert!(Plan::new(true, [], false).all);
        // An overlay must stay over the ticker it covers.
        assert!(Plan::new(false, [Some(clock)], true).all);
        assert!(!Plan::new(false, [], true).draws());
    }
}
