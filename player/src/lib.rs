//! The kiosk player: turns the control server's manifest into pixels, alone,
//! for days, from its own cache when the network is gone.
//!
//! - [`store`]: the data directory (token, device id, SQLite, asset cache).
//! - [`net`]: the network thread (WebSocket protocol, manifest and asset sync).
//! - [`show`]: what plays where at an instant (pure).
//! - [`app`]: the Bevy app (phases, zones, alerts, pairing, offscreen target).
//! - [`german`]: dates and times in German.
//!
//! Invariant: the frame loop never waits on the network or a download; the
//! network thread never touches the ECS. They meet only in channels.

pub mod app;
pub mod german;
pub mod net;
pub mod show;
pub mod store;

use app::offscreen::{Captured, request_screenshot};
use app::{AppOptions, link::NetLink};
use bevy::app::ScheduleRunnerPlugin;
use bevy::asset::AssetMetaCheck;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::window::ExitCondition;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlayerError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot start the network thread: {0}")]
    Thread(std::io::Error),
    #[error("no frame was captured within {0:?}")]
    NoFrame(Duration),
    #[error("captured frame cannot be converted: {0}")]
    Convert(String),
}

/// Bevy with only what the player uses, windowless; the camera draws into an
/// offscreen image.
pub fn bevy_app(opts: &AppOptions, one_shot: bool) -> App {
    let mut app = App::new();
    let mut plugins = DefaultPlugins
        .set(WindowPlugin {
            primary_window: None,
            exit_condition: ExitCondition::DontExit,
            close_when_requested: false,
            ..default()
        })
        .set(RenderPlugin {
            // Every pipeline ready for the first frame: no half-drawn frame.
            synchronous_pipeline_compilation: true,
            ..default()
        })
        .set(AssetPlugin {
            file_path: opts.data_dir.to_string_lossy().into_owned(),
            meta_check: AssetMetaCheck::Never,
            ..default()
        })
        .build();
    if one_shot {
        // A screenshot pumps frames itself; rendering in step keeps that simple.
        plugins = plugins.disable::<PipelinedRenderingPlugin>();
    }
    app.add_plugins(plugins);
    app::player_plugin(&mut app, opts);
    app
}

/// How rendering one frame went.
#[derive(Debug, Clone)]
pub struct FrameStats {
    /// From the start of the app build to the captured frame.
    pub total: Duration,
    pub frames: u32,
    /// Update time of the frames after the first (layout, text, render).
    pub frame_times: Vec<Duration>,
}

/// The longest a screenshot may take.
pub const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Renders one frame offscreen and returns it.
pub fn render_frame(opts: &AppOptions) -> Result<(image::RgbaImage, FrameStats), PlayerError> {
    let start = Instant::now();
    let mut app = bevy_app(opts, true);
    app.finish();
    app.cleanup();
    let mut frame_times = Vec::new();
    let mut requested = false;
    let mut ready_frames = 0;
    let mut frames = 0u32;
    loop {
        let t = Instant::now();
        app.update();
        frames += 1;
        frame_times.push(t.elapsed());
        if let Some(image) = app.world_mut().resource_mut::<Captured>().0.take() {
            let rgba = image
                .try_into_dynamic()
                .map_err(|e| PlayerError::Convert(e.to_string()))?
                .to_rgba8();
            frame_times.remove(0);
            return Ok((
                rgba,
                FrameStats {
                    total: start.elapsed(),
                    frames,
                    frame_times,
                },
            ));
        }
        if start.elapsed() > SCREENSHOT_TIMEOUT {
            return Err(PlayerError::NoFrame(SCREENSHOT_TIMEOUT));
        }
        if !requested {
            // Images decode on the asset threads; text needs a frame after its font.
            if images_settled(app.world_mut()) {
                ready_frames += 1;
            }
            if ready_frames >= 3 {
                request_screenshot(app.world_mut());
                requested = true;
            }
        }
    }
}

fn images_settled(world: &mut World) -> bool {
    let mut nodes = world.query::<&ImageNode>();
    let handles: Vec<Handle<Image>> = nodes.iter(world).map(|n| n.image.clone()).collect();
    let assets = world.resource::<AssetServer>();
    handles.iter().all(|h| {
        assets.is_loaded_with_dependencies(h)
            || assets.load_state(h).is_failed()
            || assets.get_path(h.id()).is_none()
    })
}

/// Where the player runs against.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub server: String,
    pub data_dir: std::path::PathBuf,
    pub size: Option<(u32, u32)>,
    /// Frames per second of the offscreen loop.
    pub fps: f64,
}

/// Runs the player: cache first, network thread, frame loop (offscreen).
pub fn run(opts: RunOptions) -> Result<(), PlayerError> {
    let store = store::Store::open(&opts.data_dir)?;
    let manifest = store.manifest()?;
    let has_token = store.token()?.is_some();
    let net = net::spawn(
        net::NetConfig::new(&opts.server),
        Arc::new(Mutex::new(store)),
    )
    .map_err(PlayerError::Thread)?;
    let app_opts = AppOptions {
        data_dir: opts.data_dir.clone(),
        server: opts.server.clone(),
        manifest,
        has_token,
        at: None,
        size: opts.size,
        alerts: Vec::new(),
        pairing_code: None,
    };
    let mut app = bevy_app(&app_opts, false);
    app.insert_resource(NetLink {
        events: net.events.clone(),
        reports: net.reports.clone(),
    })
    .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(
        1.0 / opts.fps.max(1.0),
    )));
    app.run();
    net.stop();
    Ok(())
}
