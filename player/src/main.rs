//! The kiosk player's command line; everything else is in the library.

mod kiosk_cli;

use anyhow::Context as _;
use clap::Parser;
use std::path::PathBuf;

/// Plays the town's schedule on a display, from its local cache when offline.
#[derive(Debug, Parser)]
#[command(name = "player", version)]
struct Cli {
    /// Control server base URL (plain http for now; TLS is not built in yet).
    #[arg(long, env = "PLAYER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Directory for the cache, the token and the local database.
    #[arg(long, env = "PLAYER_DATA_DIR", default_value = "player-data")]
    data_dir: PathBuf,
    /// Render offscreen (no window; Mesa's lavapipe is enough).
    #[arg(long)]
    headless: bool,
    /// With --headless: write one frame to this PNG and exit.
    #[arg(long, requires = "headless")]
    screenshot: Option<PathBuf>,
    /// With --screenshot: the instant to render (RFC 3339).
    #[arg(long, requires = "screenshot")]
    at: Option<String>,
    /// With --screenshot: render this manifest file instead of the cached one.
    #[arg(long, requires = "screenshot")]
    manifest: Option<PathBuf>,
    /// Show in a borderless full-screen window (the kiosk, e.g. under `cage`).
    #[arg(long, conflicts_with = "headless")]
    fullscreen: bool,
    /// How a window's frames reach the screen: `swapchain` (Vulkan, X11 or
    /// Wayland), `x11` (only the changed rectangles, into the player's own
    /// X11 window: cheaper on a software rasterizer), `auto` (`x11` when the
    /// renderer is a CPU and the display is X11).
    #[arg(long, value_enum, default_value_t = player::app::x11_output::Present::Auto, env = "PLAYER_PRESENT")]
    present: player::app::x11_output::Present,
    /// Exit after this many seconds (benchmarks).
    #[arg(long)]
    exit_after: Option<f64>,
    /// Print the count of drawn frames once a second (benchmarks).
    #[arg(long)]
    frame_log: bool,
    /// Frames per second while something moves (tickers, transitions).
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Live data (a JSON array of `live_data` payloads) to show from the
    /// start, until the server sends newer: benchmarks and offline demos.
    #[arg(long)]
    live: Option<PathBuf>,
    /// Largest total size of the asset cache in MiB. What no manifest uses is
    /// evicted, oldest first, to stay under it; a manifest that cannot fit is
    /// refused and reported. Default: bounded by the disk alone.
    #[arg(long, env = "PLAYER_CACHE_MAX_MB")]
    cache_max_mb: Option<u64>,
    /// A file whose text, when it exists and is not empty, is shown full
    /// screen as a setup problem (the kiosk's `kiosk-config` writes why it
    /// refused the first-boot file there).
    #[arg(long, env = "PLAYER_SETUP_PROBLEM_FILE")]
    setup_problem_file: Option<PathBuf>,
    /// A file that exists once the system clock is synchronised (the kiosk:
    /// systemd-timesyncd's `/run/systemd/timesync/synchronized`). Until it
    /// exists, or the server's time agrees with ours, the player plays its
    /// default content and shows no time. Unset: the clock is trusted unless
    /// the server's time disagrees.
    #[arg(long, env = "PLAYER_TIME_SYNC_FILE")]
    time_sync_file: Option<PathBuf>,
    /// How night mode switches the screen off: `blank` (a black frame, no
    /// drawing), `dpms` (X11 DPMS through the X11 output), `cec` (HDMI-CEC
    /// standby through `cec-ctl`), `auto` (`dpms` on the X11 output, else
    /// `blank`). Every one blanks too.
    #[arg(long, value_enum, default_value_t = player::app::screen_power::Backend::Auto, env = "PLAYER_SCREEN_POWER")]
    screen_power: player::app::screen_power::Backend,
    /// Send the system journal's warnings and errors (every unit, the
    /// kernel) to the server, which keeps them: on the kiosk the journal
    /// lives in RAM. Needs `journalctl` and read access to the journal.
    #[arg(long, env = "PLAYER_FORWARD_JOURNAL")]
    forward_journal: bool,
    /// Tests only: seconds added to the wall clock (a wrong clock).
    #[arg(long, hide = true, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset_s: i64,
    /// The public key player releases must be signed with (the kiosk image:
    /// `/etc/kiosk/update-key.pub`). Without it every update is refused.
    #[arg(long, env = "PLAYER_UPDATE_KEY")]
    update_key: Option<PathBuf>,
    /// A release on trial confirms itself once welcomed, its manifest current,
    /// and up this many seconds.
    #[arg(long, env = "PLAYER_UPDATE_CONFIRM_AFTER_S", default_value_t = 60)]
    update_confirm_after_s: u64,
    /// How long a new release may run unconfirmed before it is rolled back.
    #[arg(long, env = "PLAYER_UPDATE_TRIAL_S", default_value_t = player::update::slots::TRIAL_WINDOW_S)]
    update_trial_s: u64,
    /// Output size WIDTHxHEIGHT; defaults to the display's resolution.
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or("expected WIDTHxHEIGHT")?;
    let n = |v: &str| v.parse::<u32>().map_err(|e| e.to_string());
    Ok((n(w)?, n(h)?))
}

fn main() -> anyhow::Result<()> {
    // The kiosk image links `kiosk-config` to this binary (one program
    // less to ship).
    if std::env::args_os()
        .next()
        .is_some_and(|a| std::path::Path::new(&a).file_name() == Some("kiosk-config".as_ref()))
    {
        return kiosk_cli::main();
    }
    // And `player-launch`, the kiosk's ExecStart: picks the A/B slot and
    // execs it (player::update::launch).
    if std::env::args_os()
        .next()
        .is_some_and(|a| std::path::Path::new(&a).file_name() == Some("player-launch".as_ref()))
    {
        return player::update::launch::main();
    }
    let cli = Cli::parse();
    let live: Vec<content::live::LiveData> = match &cli.live {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing {}", path.display()))?,
        None => Vec::new(),
    };
    if let Some(out) = &cli.screenshot {
        let at = cli
            .at
            .as_deref()
            .map(chrono::DateTime::parse_from_rfc3339)
            .transpose()
            .context("--at must be an RFC 3339 time, e.g. 2026-11-22T10:00:00+01:00")?
            .map(|t| t.with_timezone(&chrono::Utc));
        let manifest = match &cli.manifest {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Some(
                    serde_json::from_str(&text)
                        .with_context(|| format!("parsing {}", path.display()))?,
                )
            }
            None => {
                let store = player::store::Store::open(&cli.data_dir)?;
                store.manifest()?
            }
        };
        let opts = player::app::AppOptions {
            data_dir: cli.data_dir.clone(),
            server: cli.server.clone(),
            manifest,
            has_token: true,
            at: Some(at.unwrap_or_else(chrono::Utc::now)),
            size: cli.size,
            alerts: Vec::new(),
            pairing_code: None,
            fullscreen: false,
            live: live.clone(),
        };
        let (image, stats) = player::render_frame(&opts)?;
        image
            .save(out)
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "wrote {} ({}x{}) in {:.0?} after {} frames",
            out.display(),
            image.width(),
            image.height(),
            stats.total,
            stats.frames
        );
        return Ok(());
    }
    let setup_problem = cli
        .setup_problem_file
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    player::run(player::RunOptions {
        server: cli.server,
        data_dir: cli.data_dir.clone(),
        cache_max_mb: cli.cache_max_mb,
        size: cli.size,
        fps: cli.fps,
        output: if cli.headless {
            player::app::Output::Offscreen
        } else {
            player::app::Output::Window
        },
        fullscreen: cli.fullscreen,
        present: cli.present,
        exit_after: cli.exit_after.map(std::time::Duration::from_secs_f64),
        frame_log: cli.frame_log,
        live,
        setup_problem,
        time_sync_file: cli.time_sync_file,
        clock_offset: chrono::Duration::seconds(cli.clock_offset_s),
        screen_power: cli.screen_power,
        update: Some(player::update::UpdateConfig {
            data_dir: cli.data_dir.clone(),
            key: cli.update_key,
            running: player::update::Running::from_env(),
            confirm_after: std::time::Duration::from_secs(cli.update_confirm_after_s),
            trial_window: std::time::Duration::from_secs(cli.update_trial_s),
            max_starts: player::update::slots::MAX_STARTS,
        }),
        forward_journal: cli.forward_journal,
    })?;
    Ok(())
}
