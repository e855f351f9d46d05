//! Reporting what the screen really showed, not what the app meant to show:
//!
//! - frames drawn per second (a frame counts when the render world drew it
//!   with an active camera), for heartbeats;
//! - "alert shown" only once a frame drawn after the alert was spawned has
//!   been rendered: the app's reports pass through a gate that holds
//!   [`AppReport::AlertShown`] until then;
//! - a screenshot of the current frame when the server asks for one
//!   ([`Requests`], fed by the network thread); the PNG is encoded and
//!   uploaded on the network side, never in the frame loop.
//!
//! Without a render sub-app (headless logic tests) the gate is not installed
//! and reports pass unchanged.

use super::link::NetLink;
use super::offscreen::{Captured, request_screenshot};
use super::redraw::Pacing;
use crate::net::{AppReport, AppRequest};
use bevy::prelude::*;
use bevy::render::camera::ExtractedCamera;
use bevy::render::{Extract, ExtractSchedule, Render, RenderApp, RenderSystems};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the network side asks of the app; inserted by `run`.
#[derive(Resource, Debug)]
pub struct Requests(pub async_channel::Receiver<AppRequest>);

/// The storage is full (from the network side); see [`super::indicator`].
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DiskFull(pub bool);

/// A screenshot the server asked for and the app has not taken yet.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ScreenshotWanted(bool);

/// The number of the current update, counted from 1 in [`First`].
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpdateNumber(pub u64);

/// Drawn frames, shared by the main and the render world.
#[derive(Resource, Debug, Default, Clone)]
pub struct Drawn(Arc<DrawnCounts>);

#[derive(Debug, Default)]
struct DrawnCounts {
    /// Frames rendered with an active camera.
    frames: AtomicU64,
    /// The update number of the last frame rendered.
    last_update: AtomicU64,
}

impl Drawn {
    pub fn frames(&self) -> u64 {
        self.0.frames.load(Ordering::Acquire)
    }

    /// The update whose frame was rendered last (0: none yet).
    pub fn last_update(&self) -> u64 {
        self.0.last_update.load(Ordering::Acquire)
    }
}

/// The update number as the render world sees it (the frame it renders).
#[derive(Resource, Debug, Default)]
struct RenderingUpdate(u64);

/// Holds "alert shown" reports until their frame is drawn.
#[derive(Resource, Debug)]
struct Gate {
    /// The network's real report channel.
    forward: async_channel::Sender<AppReport>,
    /// Where the app's reports arrive now.
    incoming: async_channel::Receiver<AppReport>,
    /// Alerts spawned, with the update that spawned them.
    held: Vec<(u64, String)>,
}

/// Whether reports are gated (a render world exists to say what was drawn).
#[derive(Resource, Debug, Clone, Copy)]
struct Gated(bool);

pub fn plugin(app: &mut App) {
    let drawn = Drawn::default();
    let gated = app.get_sub_app(RenderApp).is_some();
    app.insert_resource(drawn.clone())
        .insert_resource(Gated(gated))
        .init_resource::<UpdateNumber>()
        .init_resource::<DiskFull>()
        .init_resource::<ScreenshotWanted>()
        .add_systems(Update, take_requests.in_set(super::PlayerSet::Input))
        .add_systems(First, |mut n: ResMut<UpdateNumber>| n.0 += 1)
        .add_systems(Last, (gate, frame_rate, screenshots));
    if let Some(render) = app.get_sub_app_mut(RenderApp) {
        render
            .insert_resource(drawn)
            .init_resource::<RenderingUpdate>()
            .add_systems(ExtractSchedule, extract_update)
            .add_systems(Render, count_drawn.in_set(RenderSystems::Cleanup));
    }
}

fn extract_update(n: Extract<Res<UpdateNumber>>, mut r: ResMut<RenderingUpdate>) {
    r.0 = n.0;
}

/// Runs after the frame was submitted; an inactive camera is not extracted,
/// so a frame without one drew nothing.
fn count_drawn(
    cameras: Query<(), With<ExtractedCamera>>,
    r: Res<RenderingUpdate>,
    drawn: Res<Drawn>,
) {
    if cameras.is_empty() {
        return;
    }
    drawn.0.frames.fetch_add(1, Ordering::AcqRel);
    drawn.0.last_update.fetch_max(r.0, Ordering::AcqRel);
}

fn gate(
    mut commands: Commands,
    gated: Res<Gated>,
    link: Option<ResMut<NetLink>>,
    gate: Option<ResMut<Gate>>,
    number: Res<UpdateNumber>,
    drawn: Res<Drawn>,
) {
    if !gated.0 {
        return;
    }
    let Some(mut gate) = gate else {
        // The first update with a link: its reports go through the gate from now.
        if let Some(mut link) = link {
            let (tx, incoming) = async_channel::unbounded();
            let forward = std::mem::replace(&mut link.reports, tx);
            commands.insert_resource(Gate {
                forward,
                incoming,
                held: Vec::new(),
            });
        }
        return;
    };
    while let Ok(r) = gate.incoming.try_recv() {
        match r {
            // Spawned in this update (the alert plugin draws in `Update`).
            AppReport::AlertShown { alert_id, .. } => gate.held.push((number.0, alert_id)),
            other => {
                let _ = gate.forward.try_send(other);
            }
        }
    }
    let last = drawn.last_update();
    let mut released = Vec::new();
    gate.held.retain(|(n, id)| {
        let done = *n <= last;
        if done {
            released.push(id.clone());
        }
        !done
    });
    for alert_id in released {
        let _ = gate.forward.try_send(AppReport::AlertShown {
            alert_id,
            at: chrono::Utc::now(),
        });
    }
}

/// Sends the drawn frame rate about once a second.
fn frame_rate(
    link: Option<Res<NetLink>>,
    drawn: Res<Drawn>,
    mut last: Local<Option<(Instant, u64)>>,
) {
    let Some(link) = link else { return };
    let now = Instant::now();
    let frames = drawn.frames();
    match *last {
        Some((since, before)) if now - since >= Duration::from_secs(1) => {
            let fps = (frames - before) as f64 / (now - since).as_secs_f64();
            link.report(AppReport::FrameRate { fps: fps as f32 });
            *last = Some((now, frames));
        }
        Some(_) => {}
        None => *last = Some((now, frames)),
    }
}

/// Takes the network side's requests into resources.
fn take_requests(
    requests: Option<Res<Requests>>,
    mut disk_full: ResMut<DiskFull>,
    mut wanted: ResMut<ScreenshotWanted>,
) {
    let Some(requests) = requests else { return };
    while let Ok(r) = requests.0.try_recv() {
        match r {
            AppRequest::Screenshot => wanted.0 = true,
            AppRequest::DiskFull(full) => {
                if disk_full.0 != full {
                    disk_full.0 = full;
                }
            }
        }
    }
}

/// Where a screenshot request stands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Shot {
    #[default]
    Idle,
    /// Frames are forced; the screenshot is taken in the next update, whose
    /// camera is then surely active (a screenshot of an undrawn frame reads
    /// back nothing).
    Forced,
    /// Waiting for the read-back.
    Waiting,
}

/// Asks for a screenshot when the server wants one, and hands it over when
/// it is read back.
fn screenshots(
    mut commands: Commands,
    mut wanted: ResMut<ScreenshotWanted>,
    link: Option<Res<NetLink>>,
    captured: Option<ResMut<Captured>>,
    pacing: Option<ResMut<Pacing>>,
    mut stage: Local<Shot>,
) {
    let (Some(link), Some(mut captured)) = (link, captured) else {
        return;
    };
    match *stage {
        Shot::Idle => {
            if std::mem::take(&mut wanted.0) {
                if let Some(mut pacing) = pacing {
                    pacing.force = pacing.force.max(3);
                }
                *stage = Shot::Forced;
            }
        }
        Shot::Forced => {
            commands.queue(request_screenshot);
            *stage = Shot::Waiting;
        }
        Shot::Waiting => {
            let Some(image) = captured.0.take() else {
                return;
            };
            *stage = Shot::Idle;
            let (width, height) = (image.width(), image.height());
            match image.try_into_dynamic() {
                Ok(img) => link.report(AppReport::Screenshot {
                    width,
                    height,
                    rgba: img.to_rgba8().into_raw(),
                }),
                Err(e) => warn!("screenshot cannot be converted: {e}"),
            }
        }
    }
}
