//! The `fanout` benchmark: how fast does one change reach thousands of
//! connected displays?
//!
//! It starts the real control-server, creates N displays through the API,
//! connects N simulated players from this process, then measures two pushes:
//! an emergency alert sent bypassing approval (`alert_start`), and a schedule
//! change that touches every display (`manifest_update`). For each it reports
//! the delay from the API response (and from sending the request) to each
//! player's receipt of the frame, plus the server's memory and CPU time.

use crate::api::{Api, KAARST_DISTRICT, alert_request, display_json_at};
use crate::player::{SimPlayer, sim_health};
use crate::proc_stats::{ProcStats, clk_tck};
use crate::server::{ServerOptions, ServerProcess};
use anyhow::{Context as _, anyhow, bail};
use clap::Parser;
use content::protocol::{Health, PlayerMessage, ServerMessage, decode, encode};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::Message;

pub const ANCHOR: &str = "Reference: Xibo batches non-urgent pushes every 5 s and its players otherwise poll \
                          every few minutes; target here: alert p99 < 250 ms at 10,000 displays.";

#[derive(Debug, Clone, Parser)]
#[command(
    name = "fanout",
    about = "Measures how fast alerts and schedule changes reach connected players."
)]
pub struct Args {
    /// Simulated players (and displays).
    #[arg(long, default_value_t = 10_000)]
    pub players: usize,
    /// API requests in flight while creating displays.
    #[arg(long, default_value_t = 32)]
    pub api_concurrency: usize,
    /// WebSocket handshakes in flight while connecting players.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// How long to wait for every player to receive a push.
    #[arg(long, default_value_t = 60)]
    pub push_timeout_s: u64,
    /// RUST_LOG for the server (its default when absent).
    #[arg(long)]
    pub server_log: Option<String>,
    /// How many times each push is measured; the summary pools all rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Threads of this process's async runtime (default: number of CPUs).
    #[arg(long)]
    pub client_threads: Option<usize>,
}

pub(crate) const PHASE_IDLE: u8 = 0;
pub(crate) const PHASE_ALERT: u8 = 1;
const PHASE_MANIFEST: u8 = 2;

/// What the player tasks share with the conductor.
pub(crate) struct Shared {
    pub(crate) epoch: Instant,
    pub(crate) phase: AtomicU8,
    /// Receipt time per player in ns since `epoch`, plus one; 0 = not yet.
    pub(crate) alert_at: Vec<AtomicU64>,
    manifest_at: Vec<AtomicU64>,
    pub(crate) alerts: AtomicUsize,
    manifests: AtomicUsize,
    pub(crate) welcomed: AtomicUsize,
    pub(crate) connect_failed: AtomicUsize,
    pub(crate) disconnected: AtomicUsize,
    pub(crate) server_errors: AtomicUsize,
    pub(crate) changed: Notify,
    pub(crate) stop: Notify,
}

impl Shared {
    pub(crate) fn new(n: usize) -> Shared {
        Shared {
            epoch: Instant::now(),
            phase: AtomicU8::new(PHASE_IDLE),
            alert_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            manifest_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            alerts: AtomicUsize::new(0),
            manifests: AtomicUsize::new(0),
            welcomed: AtomicUsize::new(0),
            connect_failed: AtomicUsize::new(0),
            disconnected: AtomicUsize::new(0),
            server_errors: AtomicUsize::new(0),
            changed: Notify::new(),
            stop: Notify::new(),
        }
    }

    fn stamp(&self, at: Instant) -> u64 {
        at.duration_since(self.epoch).as_nanos() as u64 + 1
    }

    pub(crate) fn instant(&self, stamp: u64) -> Option<Instant> {
        (stamp != 0).then(|| self.epoch + Duration::from_nanos(stamp - 1))
    }

    /// Records the first receipt of this phase's frame.
    fn record(&self, slots: &[AtomicU64], counter: &AtomicUsize, i: usize, at: Instant) {
        if slots[i]
            .compare_exchange(0, self.stamp(at), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            counter.fetch_add(1, Ordering::Relaxed);
            self.changed.notify_waiters();
        }
    }

    /// Waits until `count()` reaches `target` or `timeout` passes; returns the count.
    pub(crate) async fn wait_count(
        &self,
        timeout: Duration,
        target: usize,
        count: impl Fn() -> usize,
    ) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let n = count();
            if n >= target {
                return n;
            }
            // Also wake periodically: notify_waiters may race with registration.
            let wake = (tokio::time::Instant::now() + Duration::from_millis(200)).min(deadline);
            tokio::select! {
                _ = &mut changed => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return count();
            }
        }
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest-rank percentiles of `values` (sorted here).
pub fn summarize(values: &mut [f64]) -> Summary {
    if values.is_empty() {
        return Summary::default();
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let k = ((p / 100.0) * values.len() as f64).ceil() as usize;
        values[k.clamp(1, values.len()) - 1]
    };
    Summary {
        p50: rank(50.0),
        p99: rank(99.0),
        max: values[values.len() - 1],
    }
}

/// One push scenario's result.
#[derive(Debug, Clone)]
pub struct PushResult {
    pub name: &'static str,
    pub expected: usize,
    pub received: usize,
    /// Request sent to response received.
    pub response_ms: f64,
    /// Receipt minus response, clamped at 0.
    pub after_response: Summary,
    /// Receipt minus request sent.
    pub after_send: Summary,
    /// How many receipts came before the response.
    pub before_response: usize,
    /// The samples behind the summaries, sorted.
    pub after_response_raw: Vec<f64>,
    pub after_send_raw: Vec<f64>,
    /// CPU seconds from the request until the last receipt (or the timeout).
    pub server_cpu_s: f64,
    pub client_cpu_s: f64,
}

impl PushResult {
    /// All rounds' samples as one distribution; response time is the median round's.
    fn pool(name: &'static str, rounds: &[PushResult]) -> PushResult {
        let mut after_response: Vec<f64> = rounds
            .iter()
            .flat_map(|r| r.after_response_raw.iter().copied())
            .collect();
        let mut after_send: Vec<f64> = rounds
            .iter()
            .flat_map(|r| r.after_send_raw.iter().copied())
            .collect();
        let mut responses: Vec<f64> = rounds.iter().map(|r| r.response_ms).collect();
        PushResult {
            name,
            expected: rounds.iter().map(|r| r.expected).sum(),
            received: rounds.iter().map(|r| r.received).sum(),
            response_ms: summarize(&mut responses).p50,
            after_response: summarize(&mut after_response),
            after_send: summarize(&mut after_send),
            before_response: rounds.iter().map(|r| r.before_response).sum(),
            after_response_raw: Vec::new(),
            after_send_raw: Vec::new(),
            server_cpu_s: rounds.iter().map(|r| r.server_cpu_s).sum(),
            client_cpu_s: rounds.iter().map(|r| r.client_cpu_s).sum(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{:<9} received {}/{}  API response {:.1} ms  | after response: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms \
             | after request sent: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} arrived before the response) \
             | CPU server {:.2} s, players {:.2} s",
            self.name,
            self.received,
            self.expected,
            self.response_ms,
            self.after_response.p50,
            self.after_response.p99,
            self.after_response.max,
            self.after_send.p50,
            self.after_send.p99,
            self.after_send.max,
            self.before_response,
            self.server_cpu_s,
            self.client_cpu_s,
        )
    }

    fn json(&self) -> Value {
        let s =
            |s: &Summary| json!({ "p50": round(s.p50), "p99": round(s.p99), "max": round(s.max) });
        json!({
            "expected": self.expected,
            "received": self.received,
            "response_ms": round(self.response_ms),
            "after_response_ms": s(&self.after_response),
            "after_send_ms": s(&self.after_send),
            "before_response": self.before_response,
            "server_cpu_s": round(self.server_cpu_s),
            "players_cpu_s": round(self.client_cpu_s),
        })
    }
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the benchmark; prints human-readable lines and one JSON line.
pub fn run(args: Args) -> anyhow::Result<()> {
    let threads = args
        .client_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let args = Args {
        client_threads: Some(threads),
        ..args
    };
    rt.block_on(run_async(args, threads))
}

async fn run_async(args: Args, client_threads: usize) -> anyhow::Result<()> {
    let n = args.players;
    if n == 0 || args.rounds == 0 {
        bail!("--players and --rounds must be at least 1");
    }
    let nofile = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    println!("fanout: {n} players; RLIMIT_NOFILE raised to {nofile} (the server inherits it)");
    if (nofile as usize) < n + 256 {
        bail!(
            "RLIMIT_NOFILE is {nofile}, too low for {n} connections; raise the hard limit (ulimit -Hn)"
        );
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {cores} cores, load average {} before starting (other work on the machine skews the figures)",
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "note: the {n} simulated players run in this process ({client_threads} runtime threads) on the same \
         {cores} CPU cores as the server; their CPU time competes with the server's and is part of every latency below."
    );

    let mut options = ServerOptions::default();
    if let Some(log) = &args.server_log {
        options.env.push(("RUST_LOG".into(), log.clone()));
    }
    let mut server = ServerProcess::start_with(options);
    let pid = server.pid();
    println!(
        "server: pid {pid} at {} ({})",
        server.base_url(),
        crate::server::server_binary().display()
    );
    let outcome = bench(&args, &mut server, pid).await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            server.fail(&format!("fanout benchmark failed: {e:#}"));
        }
    }
}

async fn bench(args: &Args, server: &mut ServerProcess, pid: u32) -> anyhow::Result<()> {
    let n = args.players;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let api = Api::admin(&server.base_url()).await?;

    // 1. Displays and their tokens.
    let t0 = Instant::now();
    let tokens = create_displays(&api, n, args.api_concurrency).await?;
    let create_s = t0.elapsed().as_secs_f64();
    println!(
        "created {n} displays with tokens in {create_s:.1} s ({:.0} displays/s, 2 requests each, {} in flight)",
        n as f64 / create_s,
        args.api_concurrency
    );

    // 2. Players.
    let empty = ProcStats::read(pid)?;
    let shared = Arc::new(Shared::new(n));
    let t0 = Instant::now();
    let connect_limit = Arc::new(Semaphore::new(args.connect_concurrency));
    let ws_url = server.ws_url();
    let mut tasks = Vec::with_capacity(n);
    for (i, token) in tokens.into_iter().enumerate() {
        tasks.push(tokio::spawn(player_task(
            i,
            ws_url.clone(),
            token,
            shared.clone(),
            connect_limit.clone(),
        )));
    }
    let connect_timeout = Duration::from_secs(60 + n as u64 / 50);
    let welcomed = shared
        .wait_count(connect_timeout, n, || {
            shared.welcomed.load(Ordering::Relaxed) + shared.connect_failed.load(Ordering::Relaxed)
        })
        .await;
    let connect_s = t0.elapsed().as_secs_f64();
    let failed = shared.connect_failed.load(Ordering::Relaxed);
    let welcomed_ok = shared.welcomed.load(Ordering::Relaxed);
    println!(
        "connected {welcomed_ok}/{n} players (welcome received) in {connect_s:.1} s ({:.0}/s, {} handshakes in flight); {failed} failed",
        welcomed_ok as f64 / connect_s,
        args.connect_concurrency
    );
    if welcomed < n || failed > 0 {
        bail!(
            "only {welcomed_ok} of {n} players got a welcome ({failed} failed) within {connect_timeout:?}"
        );
    }

    let background = settle(pid).await?;
    println!(
        "server background load with {n} idle players: {:.1}% of one core",
        background * 100.0
    );
    let idle = ProcStats::read(pid)?;
    let client_before = ProcStats::read_self()?;
    let per_conn_kib = idle.rss_kib.saturating_sub(empty.rss_kib) as f64 / n as f64;
    println!(
        "server RSS: {:.1} MiB before the players connected, {:.1} MiB with {n} connected ({per_conn_kib:.1} KiB per connection)",
        empty.rss_kib as f64 / 1024.0,
        idle.rss_kib as f64 / 1024.0,
    );

    // 3. The pushes, `rounds` times each: an emergency alert bypassing approval
    // to every display in the district, then a schedule change touching every display.
    let item = api
        .create_announcement("Hinweis", "Bürgerversammlung", "Heute 19 Uhr im Rathaus")
        .await?;
    let timeout = Duration::from_secs(args.push_timeout_s);
    let mut alerts = Vec::new();
    let mut schedules = Vec::new();
    for round in 1..=args.rounds {
        let body = alert_request(
            &format!("Bombenentschärfung: Innenstadt räumen ({round})"),
            &[KAARST_DISTRICT],
        );
        let r = measure("alert", &shared, PHASE_ALERT, pid, timeout, || async {
            let (status, answer) = api.call(Method::POST, "/api/alerts", Some(&body)).await?;
            if status != StatusCode::CREATED {
                bail!("POST /api/alerts answered {status}: {answer}");
            }
            Ok(())
        })
        .await?;
        println!("round {round}: {}", r.line());
        alerts.push(r);
        settle(pid).await?;

        let schedule = json!({ "name": format!("Alle {round}"), "targets": [{ "kind": "all" }], "entries": [{ "item": item }] });
        let r = measure(
            "schedule",
            &shared,
            PHASE_MANIFEST,
            pid,
            timeout,
            || async {
                let (status, answer) = api
                    .call(Method::POST, "/api/schedules", Some(&schedule))
                    .await?;
                if status != StatusCode::CREATED {
                    bail!("POST /api/schedules answered {status}: {answer}");
                }
                Ok(())
            },
        )
        .await?;
        println!("round {round}: {}", r.line());
        schedules.push(r);
        settle(pid).await?;
    }
    let alert = PushResult::pool("alert", &alerts);
    let manifest = PushResult::pool("schedule", &schedules);
    println!("all {} rounds pooled:", args.rounds);
    println!("  {}", alert.line());
    println!("  {}", manifest.line());

    let after = ProcStats::read(pid)?;
    let client_after = ProcStats::read_self()?;
    let tck = clk_tck() as f64;
    let server_cpu = (after.cpu_ticks - idle.cpu_ticks) as f64 / tck;
    let client_cpu = (client_after.cpu_ticks - client_before.cpu_ticks) as f64 / tck;
    println!(
        "server: RSS {:.1} MiB after the pushes (peak {:.1} MiB); CPU {:.2} s across all publish phases including \
         the receipt writes after them (players' process: {:.2} s)",
        after.rss_kib as f64 / 1024.0,
        after.hwm_kib as f64 / 1024.0,
        server_cpu,
        client_cpu
    );
    let disconnected = shared.disconnected.load(Ordering::Relaxed);
    let server_errors = shared.server_errors.load(Ordering::Relaxed);
    if disconnected > 0 || server_errors > 0 {
        println!(
            "warning: {disconnected} players were disconnected, {server_errors} got error/refused messages"
        );
    }

    // 4. Clean shutdown with everyone connected.
    let t0 = Instant::now();
    server.sigterm_and_wait();
    let shutdown_s = t0.elapsed().as_secs_f64();
    shared.stop.notify_waiters();
    println!("server shut down cleanly (exit 0) in {shutdown_s:.2} s with {n} players connected");
    for t in tasks {
        t.abort();
    }

    println!("{ANCHOR}");
    let pass = alert.received == alert.expected && alert.after_response.p99 < 250.0;
    let worst = alerts
        .iter()
        .map(|r| r.after_response.p99)
        .fold(0.0, f64::max);
    println!(
        "verdict: alert p99 after the API response {:.1} ms at {n} displays ({} rounds pooled; worst round {worst:.1} ms): {}",
        alert.after_response.p99,
        args.rounds,
        if pass {
            "within the 250 ms target"
        } else {
            "MISSES the 250 ms target"
        }
    );
    let line = json!({
        "bench": "fanout",
        "players": n,
        "cores": cores,
        "client_threads": args.client_threads,
        "create_displays_s": round(create_s),
        "connect_s": round(connect_s),
        "rounds": args.rounds,
        "alert": alert.json(),
        "schedule": manifest.json(),
        "alert_rounds": alerts.iter().map(PushResult::json).collect::<Vec<_>>(),
        "schedule_rounds": schedules.iter().map(PushResult::json).collect::<Vec<_>>(),
        "server": {
            "rss_mib_before_players": round(empty.rss_kib as f64 / 1024.0),
            "rss_mib_connected": round(idle.rss_kib as f64 / 1024.0),
            "rss_kib_per_connection": round(per_conn_kib),
            "rss_mib_after": round(after.rss_kib as f64 / 1024.0),
            "rss_mib_peak": round(after.hwm_kib as f64 / 1024.0),
            "cpu_s_publish": round(server_cpu),
            "background_cpu_share": round(background),
            "shutdown_s": round(shutdown_s),
        },
        "client_cpu_s_publish": round(client_cpu),
        "disconnected": disconnected,
        "target_alert_p99_ms": 250,
        "note": "players share the machine's cores with the server",
    });
    println!("{line}");
    Ok(())
}

/// One push: arms the players for `phase`, runs `publish` (the API request),
/// waits for every player's receipt and collects the figures.
async fn measure<F, Fut>(
    name: &'static str,
    shared: &Shared,
    phase: u8,
    pid: u32,
    timeout: Duration,
    publish: F,
) -> anyhow::Result<PushResult>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (slots, counter) = match phase {
        PHASE_ALERT => (&shared.alert_at, &shared.alerts),
        _ => (&shared.manifest_at, &shared.manifests),
    };
    for s in slots {
        s.store(0, Ordering::Relaxed);
    }
    counter.store(0, Ordering::Relaxed);
    shared.phase.store(phase, Ordering::SeqCst);
    let server_before = ProcStats::read(pid)?;
    let client_before = ProcStats::read_self()?;
    let sent = Instant::now();
    publish().await?;
    let response = Instant::now();
    shared
        .wait_count(timeout, slots.len(), || counter.load(Ordering::Relaxed))
        .await;
    let server_after = ProcStats::read(pid)?;
    let client_after = ProcStats::read_self()?;
    shared.phase.store(PHASE_IDLE, Ordering::SeqCst);
    let mut r = result(name, shared, slots, sent, response);
    let tck = clk_tck() as f64;
    r.server_cpu_s = (server_after.cpu_ticks - server_before.cpu_ticks) as f64 / tck;
    r.client_cpu_s = (client_after.cpu_ticks - client_before.cpu_ticks) as f64 / tck;
    Ok(r)
}

fn result(
    name: &'static str,
    shared: &Shared,
    slots: &[AtomicU64],
    sent: Instant,
    response: Instant,
) -> PushResult {
    let mut after_response = Vec::with_capacity(slots.len());
    let mut after_send = Vec::with_capacity(slots.len());
    let mut before_response = 0;
    for s in slots {
        if let Some(at) = shared.instant(s.load(Ordering::Relaxed)) {
            if at < response {
                before_response += 1;
            }
            after_response.push(ms(at.saturating_duration_since(response)));
            after_send.push(ms(at.saturating_duration_since(sent)));
        }
    }
    PushResult {
        name,
        expected: slots.len(),
        received: after_send.len(),
        response_ms: ms(response - sent),
        after_response: summarize(&mut after_response),
        after_send: summarize(&mut after_send),
        before_response,
        after_response_raw: after_response,
        after_send_raw: after_send,
        server_cpu_s: 0.0,
        client_cpu_s: 0.0,
    }
}

/// Creates `n` displays in Kaarst and a token for each, `concurrency` requests in flight.
pub(crate) async fn create_displays(
    api: &Api,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let api = api.clone();
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            // Spread over about 1 km around the town hall; all inside Kaarst.
            let lat = 51.2276 + ((i % 100) as f64 - 50.0) * 0.0001;
            let lon = 6.6172 + ((i / 100 % 100) as f64 - 50.0) * 0.0001;
            let id = api
                .create_display(&display_json_at(&format!("Stele {i:05}"), lat, lon))
                .await?;
            let token = api.display_token(id).await?;
            Ok::<_, anyhow::Error>((i, token))
        });
    }
    let mut tokens = vec![String::new(); n];
    let mut done = 0usize;
    while let Some(r) = set.join_next().await {
        let (i, token) = r.map_err(|e| anyhow!("display task: {e}"))??;
        tokens[i] = token;
        done += 1;
        if done.is_multiple_of(2000) && done < n {
            println!("  ... {done} displays");
        }
    }
    Ok(tokens)
}

/// One player: connect (a few tries), wait for the welcome, then record
/// receipts, acknowledge and heartbeat until stopped.
pub(crate) async fn player_task(
    i: usize,
    ws_url: String,
    token: String,
    shared: Arc<Shared>,
    limit: Arc<Semaphore>,
) {
    let permit = limit.acquire_owned().await.expect("semaphore open");
    let mut attempt = 0;
    let (player, welcome) = loop {
        attempt += 1;
        match SimPlayer::connect_with_token(&ws_url, &token).await {
            Ok(ok) => break ok,
            Err(e) if attempt >= 5 => {
                eprintln!("player {i}: giving up after {attempt} attempts: {e:#}");
                shared.connect_failed.fetch_add(1, Ordering::Relaxed);
                shared.changed.notify_waiters();
                return;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100 * attempt)).await,
        }
    };
    drop(permit);
    shared.welcomed.fetch_add(1, Ordering::Relaxed);
    shared.changed.notify_waiters();

    let mut ws = player.ws;
    let every = Duration::from_secs(u64::from(welcome.heartbeat_interval_s.max(1)));
    // Spread heartbeats evenly instead of in lockstep.
    let offset = every.mul_f64((i.wrapping_mul(7919) % 1000) as f64 / 1000.0);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
    let health = encode(&PlayerMessage::Heartbeat(Health { ..sim_health() }));
    let stop = shared.stop.notified();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            frame = ws.next() => {
                let at = Instant::now();
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Binary(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        shared.disconnected.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let Ok(msg) = decode::<ServerMessage>(&text) else {
                    shared.server_errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let phase = shared.phase.load(Ordering::Relaxed);
                let mut replies = Vec::with_capacity(2);
                match &msg {
                    ServerMessage::AlertStart { alert, .. } => {
                        if phase == PHASE_ALERT {
                            shared.record(&shared.alert_at, &shared.alerts, i, at);
                        }
                        replies.push(encode(&PlayerMessage::AlertShown { alert_id: alert.id.clone(), at: chrono::Utc::now() }));
                    }
                    ServerMessage::ManifestUpdate { .. } if phase == PHASE_MANIFEST => {
                        shared.record(&shared.manifest_at, &shared.manifests, i, at);
                    }
                    ServerMessage::Error { .. } | ServerMessage::Refused { .. } => {
                        shared.server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                if let Some(id) = msg.ack_id() {
                    replies.insert(0, encode(&PlayerMessage::Ack { id }));
                }
                // Both replies in one write: feed them, then flush.
                let mut sent = Ok(());
                for r in replies {
                    sent = sent.and(ws.feed(Message::text(r)).await);
                }
                if sent.and(ws.flush().await).is_err() {
                    shared.disconnected.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            _ = heartbeat.tick() => {
                if ws.send(Message::text(health.clone())).await.is_err() {
                    shared.disconnected.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            _ = &mut stop => return,
        }
    }
}

/// Waits (at most 15 s) until the server's CPU use over half a second drops
/// below 15% of one core, so one phase's tail does not run into the next.
/// Returns the last measured share of one core.
pub(crate) async fn settle(pid: u32) -> anyhow::Result<f64> {
    let window = Duration::from_millis(500);
    let deadline = Instant::now() + Duration::from_secs(15);
    let tck = clk_tck() as f64;
    loop {
        let a = ProcStats::read(pid)?;
        let t = Instant::now();
        tokio::time::sleep(window).await;
        let b = ProcStats::read(pid)?;
        let share = (b.cpu_ticks - a.cpu_ticks) as f64 / tck / t.elapsed().as_secs_f64();
        if share < 0.15 || Instant::now() >= deadline {
            return Ok(share);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&mut v);
        assert_eq!((s.p50, s.p99, s.max), (50.0, 99.0, 100.0));
        let mut one = vec![7.0];
        let s = summarize(&mut one);
        assert_eq!((s.p50, s.p99, s.max), (7.0, 7.0, 7.0));
    }
}
