//! The kiosk player: turns the control server's manifest into pixels, alone,
//! for days, from its own cache when the network is gone.
//!
//! - [`store`]: the data directory (token, device id, SQLite, asset cache).
//! - [`net`]: the network thread (WebSocket protocol, manifest and asset sync).
//! - [`show`]: what plays where at an instant (pure).
//! - [`clock`]: whether the wall clock is trusted (pure).
//! - [`app`]: the Bevy app (phases, zones, alerts, pairing, offscreen target).
//! - [`german`]: dates and times in German.
//! - [`video`]: GStreamer decoding for video and livestream zones.
//! - [`watchdog`]: systemd readiness, status and watchdog heartbeats.
//! - [`kiosk`]: the kiosk image's first-boot file (`kiosk.conf`), for `kiosk-config`.
//!
//! Invariant: the frame loop never waits on the network or a download; the
//! network thread never touches the ECS. They meet only in channels.

pub mod app;
pub mod clock;
pub mod german;
pub mod kiosk;
pub mod memory;
pub mod net;
pub mod show;
pub mod store;
pub mod update;
pub mod video;
pub mod watchdog;

use app::offscreen::{Captured, request_screenshot};
use app::redraw::{Frames, Pacing};
use app::{AppOptions, Output, link::NetLink};
use bevy::asset::AssetMetaCheck;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::settings::{RenderCreation, RenderResources, WgpuSettings};
use bevy::window::{ExitCondition, MonitorSelection, PresentMode, WindowMode, WindowResolution};
use bevy::winit::{UpdateMode, WinitPlugin, WinitSettings, WinitUserEvent};
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
    #[error(transparent)]
    X11(#[from] app::x11_output::X11Error),
}

/// Bevy with only what the player uses. The camera draws into an offscreen
/// image ([`Output::Screenshot`], [`Output::Offscreen`], [`Output::X11`]) or
/// into a window ([`Output::Window`]: winit, X11 or Wayland).
pub fn bevy_app(opts: &AppOptions, output: Output) -> App {
    bevy_app_with(opts, output, None)
}

/// [`bevy_app`] on a renderer made beforehand (`None`: Bevy makes it).
pub fn bevy_app_with(opts: &AppOptions, output: Output, renderer: Option<RenderResources>) -> App {
    let mut app = App::new();
    let (width, height) = opts
        .size
        .unwrap_or_else(|| app::output_size(opts.manifest.as_ref()));
    let primary_window = (output == Output::Window).then(|| Window {
        title: app::WINDOW_TITLE.into(),
        // The layout is computed in pixels of the display's resolution.
        resolution: WindowResolution::new(width, height).with_scale_factor_override(1.0),
        mode: if opts.fullscreen {
            WindowMode::BorderlessFullscreen(MonitorSelection::Primary)
        } else {
            WindowMode::Windowed
        },
        // Frames are paced by the app (reactive updates), not by vblank.
        present_mode: PresentMode::AutoNoVsync,
        // A kiosk has no frame. On Wayland winit draws its own title bar
        // (client-side, sctk-adwaita) unless told not to, and a compositor
        // that maximizes instead of granting full screen (cage 0.1.4) would
        // leave it 35 px of the output.
        decorations: !opts.fullscreen,
        // Two swap-chain images, not three: a reactive player never queues
        // frames ahead, and at 1080p each image is 8 MB (in system memory on a
        // Pi or with lavapipe).
        desired_maximum_frame_latency: std::num::NonZero::new(1),
        ..default()
    });
    let mut plugins = DefaultPlugins
        .set(WindowPlugin {
            primary_window,
            exit_condition: if output == Output::Window {
                ExitCondition::OnPrimaryClosed
            } else {
                ExitCondition::DontExit
            },
            close_when_requested: output == Output::Window,
            ..default()
        })
        .set(RenderPlugin {
            // Every pipeline ready for the first frame: no half-drawn frame.
            synchronous_pipeline_compilation: true,
            render_creation: match renderer {
                Some(r) => RenderCreation::Manual(r),
                None => RenderCreation::default(),
            },
            ..default()
        })
        .set(AssetPlugin {
            file_path: opts.data_dir.to_string_lossy().into_owned(),
            meta_check: AssetMetaCheck::Never,
            ..default()
        })
        .build();
    if output != Output::Window {
        // No display needed offscreen (the X11 output opens its own window):
        // winit would open a connection to one.
        plugins = plugins.disable::<WinitPlugin>();
    }
    if output == Output::Screenshot {
        // A screenshot pumps frames itself; rendering in step keeps that simple.
        plugins = plugins.disable::<PipelinedRenderingPlugin>();
    }
    app.add_plugins(plugins);
    app.insert_resource(output);
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
    let mut app = bevy_app(opts, Output::Screenshot);
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
    /// Largest total size of cached assets in MiB; `None`: the disk's size.
    pub cache_max_mb: Option<u64>,
    pub size: Option<(u32, u32)>,
    /// Frames per second while something animates.
    pub fps: f64,
    /// Offscreen or a window.
    pub output: Output,
    /// With [`Output::Window`]: borderless full screen on the primary monitor.
    pub fullscreen: bool,
    /// With [`Output::Window`]: how frames reach the screen.
    pub present: app::x11_output::Present,
    /// Exit after this long (benchmarks); `None`: run until closed.
    pub exit_after: Option<Duration>,
    /// Print the count of drawn frames once a second (benchmarks).
    pub frame_log: bool,
    /// Live data to show until the server sends newer (benchmarks, demos).
    pub live: Vec<content::live::LiveData>,
    /// Why the kiosk's setup file was refused, shown on screen.
    pub setup_problem: Option<String>,
    /// Exists once NTP has synchronised (`--time-sync-file`); `None`: the
    /// clock is trusted unless the server disagrees ([`clock`]).
    pub time_sync_file: Option<std::path::PathBuf>,
    /// Added to the wall clock (tests of a wrong clock).
    pub clock_offset: chrono::Duration,
    /// How night mode switches the screen off.
    pub screen_power: app::screen_power::Backend,
    /// Player updates from the control server ([`update`]); `None`: off.
    pub update: Option<update::UpdateConfig>,
    /// Send the system log's warnings to the server ([`net::journal`]).
    pub forward_journal: bool,
}

/// Runs the player: cache first, network thread, frame loop (offscreen or a
/// window), drawing only when something changed (see [`app::redraw`]).
pub fn run(opts: RunOptions) -> Result<(), PlayerError> {
    let started = Instant::now();
    memory::tune_allocator();
    let store = store::Store::open(&opts.data_dir)?;
    let manifest = store.manifest()?;
    let has_token = store.token()?.is_some();
    let net = net::spawn(
        net::NetConfig {
            cache_max_bytes: opts.cache_max_mb.map(|mb| mb.saturating_mul(1024 * 1024)),
            clock_offset: opts.clock_offset,
            player_version: opts.update.as_ref().map_or_else(
                || env!("CARGO_PKG_VERSION").to_owned(),
                |u| u.running.version.clone(),
            ),
            update: opts.update.clone(),
            journal: opts
                .forward_journal
                .then(|| net::journal::Journal::start(&opts.data_dir)),
            ..net::NetConfig::new(&opts.server)
        },
        Arc::new(Mutex::new(store)),
    )
    .map_err(PlayerError::Thread)?;
    let mut app_opts = AppOptions {
        data_dir: opts.data_dir.clone(),
        server: opts.server.clone(),
        manifest,
        has_token,
        at: None,
        size: opts.size,
        alerts: Vec::new(),
        pairing_code: None,
        fullscreen: opts.fullscreen,
        live: opts.live.clone(),
    };
    let (output, renderer, x11) = choose_output(&opts, &mut app_opts)?;
    let mut app = bevy_app_with(&app_opts, output, renderer);
    info!("frames go to {output:?}");
    if let Some(p) = &opts.setup_problem {
        app.insert_resource(app::indicator::SetupProblem(p.clone()));
    }
    app.insert_resource(app::ClockTrust::new(opts.time_sync_file.clone()));
    app.world_mut().resource_mut::<app::Now>().offset = opts.clock_offset;
    app.world_mut()
        .resource_mut::<app::screen_power::ScreenPower>()
        .backend = opts.screen_power;
    watchdog::plugin(&mut app);
    memory::plugin(&mut app);
    let frame_interval = Duration::from_secs_f64(1.0 / opts.fps.max(1.0));
    app.world_mut().resource_mut::<Pacing>().frame_interval = frame_interval;
    // The network's events pass through a relay that wakes the frame loop, so
    // an alert is drawn in the next frame, not at the next idle tick.
    let (events_tx, events) = async_channel::unbounded();
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<()>();
    app.insert_resource(NetLink {
        events,
        reports: net.reports.clone(),
    })
    .insert_resource(app::report::Requests(net.requests.clone()));
    let log = FrameLog {
        started,
        exit_after: opts.exit_after,
        every_second: opts.frame_log,
    };
    match output {
        Output::Window => {
            app.insert_resource(WinitSettings {
                focused_mode: UpdateMode::reactive_low_power(IDLE_WAIT),
                unfocused_mode: UpdateMode::reactive_low_power(IDLE_WAIT),
            })
            .insert_resource(log)
            .add_systems(Last, (pace_window, log_frames).chain());
            let proxy = (**app.world().resource::<bevy::winit::EventLoopProxyWrapper>()).clone();
            spawn_relay(net.events.clone(), events_tx, move || {
                proxy.send_event(WinitUserEvent::WakeUp).is_ok()
            })?;
            app.run();
        }
        Output::Offscreen | Output::Screenshot | Output::X11 => {
            if let Some(out) = x11 {
                let wake = wake_tx.clone();
                out.watch(move || {
                    // The loop is gone only when the app ends.
                    let _ = wake.send(());
                })
                .map_err(PlayerError::Thread)?;
                app::x11_output::plugin(&mut app, out);
            }
            spawn_relay(net.events.clone(), events_tx, move || {
                wake_tx.send(()).is_ok()
            })?;
            app.insert_resource(log).add_systems(Last, log_frames);
            app.set_runner(move |app| offscreen_loop(app, wake_rx));
            app.run();
        }
    }
    net.stop();
    Ok(())
}

/// Where a window's frames go ([`app::x11_output`]): for `--present auto`
/// on an X display the renderer is made first, and a CPU renderer gets the
/// X11 output (at the screen's size when full screen); otherwise, or when
/// that window cannot be opened, the swap chain. The renderer made for the
/// question is the one the app uses.
#[allow(clippy::type_complexity)]
fn choose_output(
    opts: &RunOptions,
    app_opts: &mut AppOptions,
) -> Result<
    (
        Output,
        Option<RenderResources>,
        Option<Arc<app::x11_output::X11Output>>,
    ),
    PlayerError,
> {
    use app::x11_output::{Present, X11Output, choose};
    if opts.output != Output::Window {
        return Ok((opts.output, None, None));
    }
    // Made only when the choice depends on it, then kept for the app.
    let mut renderer = None;
    let x11 = choose(opts.present, || {
        let settings = WgpuSettings::default();
        let backends = settings.backends.unwrap_or_default();
        let made = bevy::tasks::block_on(bevy::render::renderer::initialize_renderer(
            backends, None, &settings,
        ));
        let cpu = made.2.device_type == wgpu_types::DeviceType::Cpu;
        renderer = Some(made);
        cpu
    });
    if !x11 {
        return Ok((Output::Window, renderer, None));
    }
    let size = app_opts
        .size
        .unwrap_or_else(|| app::output_size(app_opts.manifest.as_ref()));
    match X11Output::open(size, opts.fullscreen, app::palette::BACKGROUND) {
        Ok(out) => {
            app_opts.size = Some((out.size.x, out.size.y));
            Ok((Output::X11, renderer, Some(out)))
        }
        Err(e) if opts.present == Present::X11 => Err(e.into()),
        Err(e) => {
            // Before the app's log exists; the journal keeps stderr.
            eprintln!("the X11 output cannot be used ({e}): frames go through the swap chain");
            Ok((Output::Window, renderer, None))
        }
    }
}

/// How long an idle loop sleeps at most: the clock's resolution.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Forwards the network's events to the app and wakes its loop for each.
fn spawn_relay(
    from: async_channel::Receiver<net::NetEvent>,
    to: async_channel::Sender<net::NetEvent>,
    wake: impl Fn() -> bool + Send + 'static,
) -> Result<(), PlayerError> {
    std::thread::Builder::new()
        .name("net-relay".into())
        .spawn(move || {
            while let Ok(event) = from.recv_blocking() {
                if to.send_blocking(event).is_err() || !wake() {
                    break;
                }
            }
        })
        .map(drop)
        .map_err(PlayerError::Thread)
}

/// Sets the window loop's pace after each update: the frame interval while
/// something animates, otherwise a wake-up a second (or on a network event).
fn pace_window(pacing: Res<Pacing>, mut winit: ResMut<WinitSettings>) {
    let mode = if pacing.animating || pacing.force > 0 || pacing.settle {
        UpdateMode::reactive_low_power(pacing.frame_interval)
    } else {
        UpdateMode::reactive_low_power(pacing.idle_wait)
    };
    // Only on a change: winit restarts its schedule when the mode changes.
    if winit.focused_mode != mode {
        winit.focused_mode = mode;
        winit.unfocused_mode = mode;
    }
}

/// Start-up and exit bookkeeping for the running player.
#[derive(Resource, Debug, Clone)]
struct FrameLog {
    started: Instant,
    exit_after: Option<Duration>,
    every_second: bool,
}

/// Logs the first content frame (the cold-start figure) and ends a timed run
/// with a summary line.
fn log_frames(
    log: Res<FrameLog>,
    frames: Res<Frames>,
    mut logged: Local<bool>,
    mut last_second: Local<u64>,
    mut exit: MessageWriter<AppExit>,
) {
    let second = log.started.elapsed().as_secs();
    if log.every_second && second != *last_second {
        *last_second = second;
        println!(
            "frames drawn {} updates {}",
            frames.rendered, frames.updates
        );
    }
    if !*logged && let Some(at) = frames.first_content {
        *logged = true;
        // Printed, not logged: benchmarks read it whatever the log filter.
        println!(
            "first content frame {:.3} s after start",
            (at - log.started).as_secs_f64()
        );
    }
    if log.exit_after.is_some_and(|d| log.started.elapsed() >= d) {
        println!(
            "frames: {} updates, {} drawn in {:.1} s",
            frames.updates,
            frames.rendered,
            log.started.elapsed().as_secs_f64()
        );
        exit.write(AppExit::Success);
    }
}

/// The offscreen loop: an update, then a sleep until the next frame while
/// something animates (deadlines on a fixed grid, so a slow frame does not
/// shift the later ones), otherwise until the next second or a network event.
fn offscreen_loop(mut app: App, wake: std::sync::mpsc::Receiver<()>) -> AppExit {
    app.finish();
    app.cleanup();
    let mut next_frame = Instant::now();
    loop {
        app.update();
        if let Some(exit) = app.should_exit() {
            return exit;
        }
        let pacing = app.world().resource::<Pacing>();
        let deadline = if pacing.animating || pacing.force > 0 || pacing.settle {
            next_frame += pacing.frame_interval;
            let now = Instant::now();
            if next_frame < now {
                // Fell behind: start a new grid rather than rush to catch up.
                next_frame = now;
            }
            next_frame
        } else {
            next_frame = Instant::now() + pacing.idle_wait;
            next_frame
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match wake.recv_timeout(left) {
            Ok(()) => next_frame = Instant::now(),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // The network thread ended; keep playing from the cache.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(left),
        }
    }
}
