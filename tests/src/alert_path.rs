//! The `alert-path` benchmark: from a CAP message arriving at the server to
//! the full-screen takeover on real players, and to the delivery receipts of
//! every display.
//!
//! ```text
//!  this process ──POST /api/cap (CAP 1.2 XML, severity Extreme)──► control-server
//!                                                                   │ WebSocket push
//!        ┌──────────────────────────────────────────────────────────┤
//!        ▼                                                          ▼
//!  3 real `player --headless` processes              N simulated players (this process)
//!  (Bevy, offscreen on lavapipe): ack on receipt,    ack on receipt, AlertShown at once
//!  AlertShown when the takeover is drawn
//!        └───────────── receipts: received_at (ack), shown_at ──────┘
//!                       GET /api/alerts/{id} ◄── polled until complete
//! ```
//!
//! Takeover is measured with the receipts API, the place staff see it: the
//! real player's `shown_at` is the time it reports in its `alert_shown`
//! message, which it sends from the frame that draws the takeover. All clocks
//! are the one machine's, so the server's and players' timestamps compare with
//! the instant this process sent the CAP request.

use crate::api::{Api, display_json_at};
use crate::fanout::{self, PHASE_ALERT, PHASE_IDLE, Shared};
use crate::proc_stats::{ProcStats, clk_tck};
use crate::server::{ServerOptions, ServerProcess};
use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Targets from issue 6.
pub const TARGET_TAKEOVER_MS: f64 = 1000.0;
pub const TARGET_RECEIPTS_MS: f64 = 2000.0;

const CAP_SENDER: &str = "leitstelle@rhein-kreis-neuss.de";

#[derive(Debug, Clone, Parser)]
#[command(
    name = "alert-path",
    about = "Measures a CAP alert from the server to the takeover on real players and to receipts at thousands of displays."
)]
pub struct Args {
    /// Simulated players (and displays) besides the real ones.
    #[arg(long, default_value_t = 10_000)]
    pub players: usize,
    /// Real headless `player` processes.
    #[arg(long, default_value_t = 3)]
    pub real_players: usize,
    /// Measured alerts (after one unmeasured warm-up alert).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Output size of the real players, WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080")]
    pub player_size: String,
    /// The player binary (default: $PLAYER_BIN, else target/debug/player).
    #[arg(long)]
    pub player_bin: Option<PathBuf>,
    /// How long to wait for all receipts of one alert.
    #[arg(long, default_value_t = 60)]
    pub timeout_s: u64,
    /// Milliseconds between polls of the receipts API.
    #[arg(long, default_value_t = 100)]
    pub poll_ms: u64,
    /// API requests in flight while creating displays.
    #[arg(long, default_value_t = 32)]
    pub api_concurrency: usize,
    /// WebSocket handshakes in flight while connecting players.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// RUST_LOG for the server (its default when absent).
    #[arg(long)]
    pub server_log: Option<String>,
    /// Keep the real players' output in this directory (player-N.log)
    /// instead of their temporary data directories.
    #[arg(long)]
    pub player_log_dir: Option<PathBuf>,
}

/// A real player process, killed when dropped; its output goes to a file
/// that is printed when the benchmark fails.
struct PlayerProcess {
    child: std::process::Child,
    log: PathBuf,
    display: i64,
    _dir: tempfile::TempDir,
}

impl PlayerProcess {
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for PlayerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the player binary is: the flag, `$PLAYER_BIN`, else `target/debug/player`.
pub fn player_binary(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match (flag, std::env::var_os("PLAYER_BIN")) {
        (Some(p), _) => p.to_owned(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("debug")
            .join(format!("player{}", std::env::consts::EXE_SUFFIX)),
    };
    if !path.is_file() {
        bail!(
            "the player binary is missing at {}: run `cargo build -p player` first (or pass --player-bin)",
            path.display()
        );
    }
    Ok(path)
}

/// A CAP 1.2 alert (or, with `cancels`, the cancellation of one) for Kaarst.
pub fn cap_document(identifier: &str, sent: &str, cancels: Option<(&str, &str)>) -> String {
    let (msg_type, references) = match cancels {
        Some((id, at)) => (
            "Cancel",
            format!("<references>{CAP_SENDER},{id},{at}</references>"),
        ),
        None => ("Alert", String::new()),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{CAP_SENDER}</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {references}
  <info>
    <language>de-DE</language>
    <category>Fire</category>
    <event>Großbrand</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <headline>Großbrand in Kaarst: Fenster und Türen schließen</headline>
    <description>Starke Rauchentwicklung über der Innenstadt.</description>
    <instruction>Fenster und Türen schließen, Lüftungen abschalten.</instruction>
    <area><areaDesc>Kaarst</areaDesc><geocode><valueName>ARS</valueName><value>051620000000</value></geocode></area>
  </info>
</alert>"#
    )
}

/// One alert's figures, in milliseconds from sending the CAP request.
#[derive(Debug, Clone, Default)]
pub struct Round {
    pub response_ms: f64,
    /// Per real player: `shown_at` (the takeover frame).
    pub takeover_ms: Vec<f64>,
    /// Per real player: the server's receipt of its acknowledgement.
    pub real_received_ms: Vec<f64>,
    /// Simulated players: the frame's arrival, the last of them.
    pub sim_frame_max_ms: f64,
    /// The last `received_at` and `shown_at` over every display.
    pub all_received_ms: f64,
    pub all_shown_ms: f64,
    /// When a poll of the receipts API first showed every display's receipt
    /// (received and shown): an upper bound, one poll interval coarse.
    pub api_complete_ms: f64,
    pub displays: usize,
    pub server_cpu_s: f64,
}

impl Round {
    fn json(&self) -> Value {
        json!({
            "response_ms": r2(self.response_ms),
            "takeover_ms": self.takeover_ms.iter().copied().map(r2).collect::<Vec<_>>(),
            "real_received_ms": self.real_received_ms.iter().copied().map(r2).collect::<Vec<_>>(),
            "sim_frame_max_ms": r2(self.sim_frame_max_ms),
            "all_received_ms": r2(self.all_received_ms),
            "all_shown_ms": r2(self.all_shown_ms),
            "api_complete_ms": r2(self.api_complete_ms),
            "displays": self.displays,
            "server_cpu_s": r2(self.server_cpu_s),
        })
    }
}

fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Runs the benchmark; prints human-readable lines and one JSON line.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    if args.real_players == 0 || args.rounds == 0 {
        bail!("--real-players and --rounds must be at least 1");
    }
    let player_bin = player_binary(args.player_bin.as_deref())?;
    let nofile = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    if (nofile as usize) < args.players + 256 {
        bail!(
            "RLIMIT_NOFILE is {nofile}, too low for {} connections",
            args.players
        );
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "alert-path: {} real players ({}, {}) + {} simulated; {cores} cores, load average {} before starting",
        args.real_players,
        player_bin.display(),
        args.player_size,
        args.players,
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut options = ServerOptions::default();
    if let Some(log) = &args.server_log {
        options.env.push(("RUST_LOG".into(), log.clone()));
    }
    let mut server = ServerProcess::start_with(options);
    println!(
        "server: pid {} at {} ({})",
        server.pid(),
        server.base_url(),
        crate::server::server_binary().display()
    );
    let mut players = Vec::new();
    let outcome = bench(&args, &mut server, &player_bin, &mut players).await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            for p in &players {
                eprintln!(
                    "==== player for display {} (last lines of {}) ====\n{}",
                    p.display,
                    p.log.display(),
                    p.tail()
                );
            }
            server.fail(&format!("alert-path benchmark failed: {e:#}"));
        }
    }
}

async fn bench(
    args: &Args,
    server: &mut ServerProcess,
    player_bin: &Path,
    players: &mut Vec<PlayerProcess>,
) -> anyhow::Result<()> {
    let pid = server.pid();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let api = Api::admin(&server.base_url()).await?;

    // 1. The real players: a display and token each, started on their own data directory.
    for i in 0..args.real_players {
        let lat = 51.2276 + i as f64 * 0.001;
        let id = api
            .create_display(&display_json_at(&format!("Kaarst Platz {i}"), lat, 6.6172))
            .await?;
        let token = api.display_token(id).await?;
        let dir = tempfile::Builder::new()
            .prefix("alert-path-player-")
            .tempdir()?;
        // The file the player keeps its token in (player::store), as if adopted.
        std::fs::write(dir.path().join("token"), &token)?;
        let log = match &args.player_log_dir {
            Some(keep) => {
                std::fs::create_dir_all(keep)?;
                keep.join(format!("player-{i}.log"))
            }
            None => dir.path().join("player.log"),
        };
        let out = std::fs::File::create(&log)?;
        let child = std::process::Command::new(player_bin)
            .arg("--headless")
            .arg("--server")
            .arg(server.base_url())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--size")
            .arg(&args.player_size)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", player_bin.display()))?;
        players.push(PlayerProcess {
            child,
            log,
            display: id,
            _dir: dir,
        });
    }
    let real_ids: Vec<i64> = players.iter().map(|p| p.display).collect();

    // 2. The simulated players.
    let n = args.players;
    let t0 = Instant::now();
    let tokens = fanout::create_displays(&api, n, args.api_concurrency).await?;
    println!(
        "created {n} simulated displays in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let shared = Arc::new(Shared::new(n));
    let limit = Arc::new(Semaphore::new(args.connect_concurrency));
    let mut tasks = Vec::with_capacity(n);
    for (i, token) in tokens.into_iter().enumerate() {
        tasks.push(tokio::spawn(fanout::player_task(
            i,
            server.ws_url(),
            token,
            shared.clone(),
            limit.clone(),
        )));
    }
    let welcomed = shared
        .wait_count(Duration::from_secs(60 + n as u64 / 50), n, || {
            shared.welcomed.load(Ordering::Relaxed) + shared.connect_failed.load(Ordering::Relaxed)
        })
        .await;
    let failed = shared.connect_failed.load(Ordering::Relaxed);
    if welcomed < n || failed > 0 {
        bail!("only {welcomed} of {n} simulated players connected ({failed} failed)");
    }
    println!("connected {n} simulated players");

    // 3. The real players online (Bevy and lavapipe start slowly on a busy machine).
    let deadline = Instant::now() + Duration::from_secs(180);
    for (p, id) in players.iter_mut().zip(&real_ids) {
        loop {
            if let Some(status) = p.child.try_wait()? {
                bail!("player for display {id} exited ({status}) before it came online");
            }
            let (_, d) = api.get(&format!("/api/displays/{id}")).await?;
            if d["online"] == json!(true) {
                break;
            }
            if Instant::now() > deadline {
                bail!("player for display {id} not online within 180 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!("{} real players online", players.len());

    // 4. One warm-up alert (not counted: the players' first alert frame loads
    // fonts and builds pipelines), then the measured rounds.
    let total = n + players.len();
    let mut rounds = Vec::new();
    for round in 0..=args.rounds {
        let r = one_alert(args, &api, &shared, pid, &real_ids, total, round).await?;
        if round == 0 {
            println!("warm-up: {}", line(&r));
        } else {
            println!("round {round}: {}", line(&r));
            rounds.push(r);
        }
        fanout::settle(pid).await?;
    }
    for p in players.iter_mut() {
        if let Some(status) = p.child.try_wait()? {
            bail!("player for display {} exited ({status})", p.display);
        }
    }

    // 5. Summary and verdict.
    let takeover: Vec<f64> = rounds.iter().flat_map(|r| r.takeover_ms.clone()).collect();
    let takeover_max = takeover.iter().copied().fold(0.0, f64::max);
    let mut sorted = takeover.clone();
    let takeover_p50 = fanout::summarize(&mut sorted).p50;
    let receipts_max = rounds
        .iter()
        .map(|r| r.all_received_ms.max(r.all_shown_ms))
        .fold(0.0, f64::max);
    let api_max = rounds.iter().map(|r| r.api_complete_ms).fold(0.0, f64::max);
    let takeover_ok = takeover_max <= TARGET_TAKEOVER_MS;
    let receipts_ok = receipts_max <= TARGET_RECEIPTS_MS;
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    println!(
        "takeover on {} real players over {} rounds: p50 {takeover_p50:.1} ms, max {takeover_max:.1} ms: {} the {TARGET_TAKEOVER_MS:.0} ms target",
        players.len(),
        rounds.len(),
        verdict(takeover_ok)
    );
    println!(
        "all {total} receipts (received and shown) recorded by the server within {receipts_max:.1} ms at worst: {} the {TARGET_RECEIPTS_MS:.0} ms target; \
         complete in the receipts API within {api_max:.1} ms (polled every {} ms)",
        verdict(receipts_ok),
        args.poll_ms
    );
    let disconnected = shared.disconnected.load(Ordering::Relaxed);
    if disconnected > 0 {
        println!("warning: {disconnected} simulated players were disconnected");
    }
    server.sigterm_and_wait();
    shared.stop.notify_waiters();
    for t in tasks {
        t.abort();
    }
    let line = json!({
        "bench": "alert-path",
        "real_players": players.len(),
        "player_size": args.player_size,
        "simulated_players": n,
        "displays": total,
        "cores": cores,
        "rounds": rounds.len(),
        "takeover_ms": { "p50": r2(takeover_p50), "max": r2(takeover_max), "samples": takeover.len() },
        "receipts_recorded_max_ms": r2(receipts_max),
        "receipts_api_complete_max_ms": r2(api_max),
        "per_round": rounds.iter().map(Round::json).collect::<Vec<_>>(),
        "target_takeover_ms": TARGET_TAKEOVER_MS,
        "target_receipts_ms": TARGET_RECEIPTS_MS,
        "takeover_ok": takeover_ok,
        "receipts_ok": receipts_ok,
        "disconnected": disconnected,
    });
    println!("{line}");
    Ok(())
}

fn line(r: &Round) -> String {
    format!(
        "CAP response {:.1} ms | takeover {} ms | last simulated frame {:.1} ms | all received {:.1} ms, all shown {:.1} ms \
         | complete in the API {:.1} ms ({} displays) | server CPU {:.2} s",
        r.response_ms,
        r.takeover_ms
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(" / "),
        r.sim_frame_max_ms,
        r.all_received_ms,
        r.all_shown_ms,
        r.api_complete_ms,
        r.displays,
        r.server_cpu_s,
    )
}

/// Sends one CAP alert, waits for every receipt, then cancels it.
async fn one_alert(
    args: &Args,
    api: &Api,
    shared: &Shared,
    pid: u32,
    real_ids: &[i64],
    total: usize,
    round: usize,
) -> anyhow::Result<Round> {
    for s in &shared.alert_at {
        s.store(0, Ordering::Relaxed);
    }
    shared.alerts.store(0, Ordering::Relaxed);
    shared.phase.store(PHASE_ALERT, Ordering::SeqCst);
    let identifier = format!("alert-path-{}-{round}", Utc::now().timestamp_millis());
    let sent_text = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = cap_document(&identifier, &sent_text, None);
    let cpu_before = ProcStats::read(pid)?;

    let sent_utc = Utc::now();
    let sent = Instant::now();
    let resp = api
        .http
        .post(api.url("/api/cap"))
        .bearer_auth(&api.token)
        .header("content-type", "application/cap+xml")
        .body(body)
        .send()
        .await
        .context("POST /api/cap")?;
    let response_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let (status, answer) = crate::api::decode(resp).await;
    if status != StatusCode::CREATED {
        bail!("POST /api/cap answered {status}: {answer}");
    }
    let Some(alert_id) = answer["alert_id"].as_str().map(str::to_owned) else {
        bail!("POST /api/cap answered without alert_id: {answer}");
    };
    let timeout = Duration::from_secs(args.timeout_s);
    let n = shared.alert_at.len();
    shared
        .wait_count(timeout, n, || shared.alerts.load(Ordering::Relaxed))
        .await;

    // Receipts: poll until every display has received and shown it.
    let deadline = Instant::now() + timeout;
    let (receipts, complete_ms) = loop {
        let (status, detail) = api.get(&format!("/api/alerts/{alert_id}")).await?;
        if status != StatusCode::OK {
            bail!("GET /api/alerts/{alert_id} answered {status}: {detail}");
        }
        let at = sent.elapsed().as_secs_f64() * 1000.0;
        let receipts = detail["receipts"].as_array().cloned().unwrap_or_default();
        let done = receipts
            .iter()
            .filter(|r| r["received_at"].is_string() && r["shown_at"].is_string())
            .count();
        if receipts.len() >= total && done == receipts.len() {
            break (receipts, at);
        }
        if Instant::now() > deadline {
            bail!(
                "round {round}: only {done} of {} receipts complete after {timeout:?}; \
                 simulated frames received: {}",
                receipts.len(),
                shared.alerts.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
    };
    shared.phase.store(PHASE_IDLE, Ordering::SeqCst);
    let cpu_after = ProcStats::read(pid)?;

    let time = |r: &Value, key: &str| -> anyhow::Result<f64> {
        let text = r[key].as_str().unwrap_or_default();
        let t = DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("receipt {key} {text:?}"))?;
        Ok(ms_between(sent_utc, t.with_timezone(&Utc)))
    };
    let mut result = Round {
        response_ms,
        api_complete_ms: complete_ms,
        displays: receipts.len(),
        server_cpu_s: (cpu_after.cpu_ticks - cpu_before.cpu_ticks) as f64 / clk_tck() as f64,
        ..Round::default()
    };
    for r in &receipts {
        let received = time(r, "received_at")?;
        let shown = time(r, "shown_at")?;
        result.all_received_ms = result.all_received_ms.max(received);
        result.all_shown_ms = result.all_shown_ms.max(shown);
        if real_ids.iter().any(|id| r["display_id"] == json!(id)) {
            result.takeover_ms.push(shown);
            result.real_received_ms.push(received);
        }
    }
    result.sim_frame_max_ms = shared
        .alert_at
        .iter()
        .filter_map(|s| shared.instant(s.load(Ordering::Relaxed)))
        .map(|at| at.saturating_duration_since(sent).as_secs_f64() * 1000.0)
        .fold(0.0, f64::max);

    // Take it down again, so the next round's alert is the one on screen.
    let cancel = cap_document(
        &format!("{identifier}-cancel"),
        &Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Some((&identifier, &sent_text)),
    );
    let resp = api
        .http
        .post(api.url("/api/cap"))
        .bearer_auth(&api.token)
        .header("content-type", "application/cap+xml")
        .body(cancel)
        .send()
        .await
        .context("POST /api/cap (cancel)")?;
    let (status, answer) = crate::api::decode(resp).await;
    if !status.is_success() {
        bail!("cancelling {alert_id} answered {status}: {answer}");
    }
    Ok(result)
}
