//! The player's benchmarks; each prints human lines and one JSON line.
//!
//! - `cold-start`: process start to the first content frame drawn from the
//!   cache, with the server unreachable (offscreen, and in a window when an X
//!   display is there or Xvfb can be started).
//! - `player-vs-browser`: the same 1080p playlist in the player's window and
//!   in Chromium in kiosk mode (a generated, equivalent HTML page from a local
//!   file), both under one Xvfb with Mesa's software rasterizers, 60 s each,
//!   a static and an animated (scrolling ticker) scene. CPU seconds and PSS of
//!   each whole process tree (from /proc), achieved frame rate, and ratios.
//!
//! Build the player in release first: `cargo build --release -p player`.

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "player-bench")]
struct Cli {
    /// The player binary (default: `player` next to this one).
    #[arg(long)]
    player: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Process start to the first content frame from the cache, server unreachable.
    ColdStart {
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
    /// The player's window against Chromium in kiosk mode, both under Xvfb.
    PlayerVsBrowser {
        /// Seconds each run lasts (the first 10 are start-up, left out of
        /// the steady-state figures).
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value = "chromium")]
        chromium: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let player = match cli.player {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("no directory")?
            .join("player"),
    };
    if !player.exists() {
        bail!(
            "{} not found; build it: cargo build --release -p player",
            player.display()
        );
    }
    match cli.cmd {
        Cmd::ColdStart { runs } => cold_start(&player, runs),
        Cmd::PlayerVsBrowser { seconds, chromium } => {
            player_vs_browser(&player, Duration::from_secs(seconds), &chromium)
        }
    }
}

// ---------------------------------------------------------------- scenes

const W: f64 = 1920.0;
const H: f64 = 1080.0;
const TICKER: &str = "+++ Rathaus am Montag ab 12 Uhr geschlossen +++ Grünschnittannahme samstags 9–14 Uhr +++ Weihnachtsmarkt vom 27. November bis 23. Dezember +++";
const TICKER_SPEED: f64 = 120.0;
const TITLE: &str = "Weihnachtsmarkt auf dem Marktplatz";
const BODY: &str = "Vom 27. November bis 23. Dezember, täglich 11–21 Uhr. Glühwein, Kunsthandwerk und Musik. Bitte nutzen Sie Bus und Bahn: die Parkplätze am Rathaus sind gesperrt.";

/// Zones in percent: name, x, y, width, height.
fn zones(animated: bool) -> Vec<(&'static str, f64, f64, f64, f64)> {
    let h = if animated { 88.0 } else { 100.0 };
    let mut z = vec![
        ("main", 0.0, 0.0, 60.0, h),
        ("clock", 60.0, 0.0, 40.0, h * 0.25),
        ("sensors", 60.0, h * 0.25, 40.0, h * 0.33),
        ("transit", 60.0, h * 0.58, 40.0, h * 0.42),
    ];
    if animated {
        z.push(("ticker", 0.0, 88.0, 100.0, 12.0));
    }
    z
}

fn manifest(now: DateTime<Utc>, animated: bool) -> Value {
    let zone_json: Vec<Value> = zones(animated)
        .iter()
        .map(|(n, x, y, w, h)| json!({"name": n, "x": x, "y": y, "width": w, "height": h}))
        .collect();
    let one =
        |item: i64| json!({ "entries": [{ "item": item, "duration_s": 86400, "schedule": 1 }] });
    let item = |id: i64, content: Value| json!({ "id": id, "name": format!("Item {id}"), "duration_s": 86400, "content": content });
    let mut playlists =
        json!({ "main": one(1), "clock": one(2), "sensors": one(3), "transit": one(4) });
    let mut items = vec![
        item(
            1,
            json!({"type": "announcement", "title": TITLE, "body": BODY}),
        ),
        item(2, json!({"type": "clock", "show_date": true})),
        item(
            3,
            json!({"type": "sensor_panel", "quantities": ["pm10", "no2", "temperature"]}),
        ),
        item(4, json!({"type": "transit_board", "max_rows": 5})),
    ];
    if animated {
        playlists["ticker"] = one(5);
        items.push(item(
            5,
            json!({"type": "ticker", "text": TICKER, "speed_px_per_s": TICKER_SPEED as u16}),
        ));
    }
    json!({
        "version": 1,
        "generated_at": now - ChronoDuration::hours(1),
        "display": {
            "id": 1, "name": "Kaarst Marktplatz",
            "location": { "lat": 51.2276, "lon": 6.6172, "ars": "051620016016" },
            "resolution": { "width": W as u32, "height": H as u32 },
            "orientation": "landscape", "timezone": "Europe/Berlin",
        },
        "layout": { "id": 1, "name": "Bench", "zones": zone_json },
        "timeline": [{
            "from": now - ChronoDuration::hours(1),
            "until": now + ChronoDuration::days(1),
            "zones": playlists,
        }],
        "items": items,
        "assets": [],
        "feeds": { "transit_stops": [], "sensor_stations": [], "alert_ars": "051620016016" },
    })
}

/// Departures and readings, as the server would push them.
fn live(now: DateTime<Utc>) -> Value {
    let m = |min: i64| now + ChronoDuration::minutes(min);
    json!([
        { "kind": "sensors", "readings": [
            { "station": "s1", "quantity": "pm10", "value": 12.3, "measured_at": m(-5), "trend": "steady", "class": "gut" },
            { "station": "s1", "quantity": "no2", "value": 41.0, "measured_at": m(-5), "trend": "rising", "class": "maessig" },
            { "station": "s1", "quantity": "temperature", "value": 4.5, "measured_at": m(-5), "trend": "falling" },
        ]},
        { "kind": "departures", "stop_id": "kaarst-rathaus", "as_of": m(0), "departures": [
            { "line": "S28", "destination": "Düsseldorf Hbf", "planned": m(3), "expected": m(3) },
            { "line": "854", "destination": "Neuss Hbf", "planned": m(6), "expected": m(10), "occupancy": "few_seats_available" },
            { "line": "S28", "destination": "Mettmann", "planned": m(9), "cancelled": true },
            { "line": "830", "destination": "Büttgen Bahnhof", "planned": m(14) },
            { "line": "S28", "destination": "Düsseldorf Hbf", "planned": m(23), "expected": m(24) },
        ]},
    ])
}

/// A data directory with the scene's manifest cached and no token (the
/// server is never reached, so the player stays on its cache).
fn data_dir(now: DateTime<Utc>, animated: bool) -> Result<(Scratch, PathBuf)> {
    let dir = Scratch::new()?;
    let m: content::manifest::Manifest = serde_json::from_value(manifest(now, animated))?;
    let store = player::store::Store::open(dir.path())?;
    store.set_manifest(&m)?;
    store.save_token("bench-token")?;
    let live_path = dir.path().join("live.json");
    std::fs::write(&live_path, serde_json::to_vec(&live(now))?)?;
    Ok((dir, live_path))
}

/// An equivalent HTML page: the same zones, colours, font and texts; the
/// clock ticks from a one-second timer, the ticker is a CSS animation (what
/// browser-based players do). With `count_frames`, a requestAnimationFrame
/// loop counts frames and logs the count to the console every second.
fn html(now: DateTime<Utc>, animated: bool) -> String {
    let live = live(now);
    let tz = chrono_tz::Europe::Berlin;
    let hm = |t: &str| {
        let t: DateTime<Utc> = t.parse().unwrap_or(now);
        t.with_timezone(&tz).format("%H:%M").to_string()
    };
    let mut sensors = String::new();
    for r in live[0]["readings"].as_array().into_iter().flatten() {
        let (label, unit) = match r["quantity"].as_str().unwrap_or("") {
            "pm10" => ("Feinstaub PM10", "µg/m³"),
            "no2" => ("Stickstoffdioxid", "µg/m³"),
            _ => ("Temperatur", "°C"),
        };
        let class = match r["class"].as_str() {
            Some("gut") => "gut",
            Some("maessig") => "mäßig",
            _ => "",
        };
        let trend = match r["trend"].as_str() {
            Some("rising") => "↑",
            Some("falling") => "↓",
            _ => "→",
        };
        let value = format!("{:.1}", r["value"].as_f64().unwrap_or(0.0)).replace('.', ",");
        sensors.push_str(&format!(
            "<tr><td>{label}</td><td>{value} {unit} {trend}</td><td>{class}</td></tr>"
        ));
    }
    let mut transit = String::new();
    for d in live[1]["departures"].as_array().into_iter().flatten() {
        let planned = hm(d["planned"].as_str().unwrap_or(""));
        let status = if d["cancelled"].as_bool() == Some(true) {
            "fällt aus".to_owned()
        } else {
            match (d["expected"].as_str(), d["planned"].as_str()) {
                (Some(e), Some(p)) => {
                    let delay = (e.parse::<DateTime<Utc>>().unwrap_or(now)
                        - p.parse::<DateTime<Utc>>().unwrap_or(now))
                    .num_minutes();
                    if delay > 0 {
                        format!("+{delay}")
                    } else {
                        "pünktlich".to_owned()
                    }
                }
                _ => String::new(),
            }
        };
        transit.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{planned}</td><td>{status}</td></tr>",
            d["line"].as_str().unwrap_or(""),
            d["destination"].as_str().unwrap_or("")
        ));
    }
    let mut boxes = String::new();
    for (name, x, y, w, h) in zones(animated) {
        let inner = match name {
            "main" => format!("<div class=pad><h1>{TITLE}</h1><p>{BODY}</p></div>"),
            "clock" => "<div class=clock><div id=time></div><div id=date></div></div>".to_owned(),
            "sensors" => format!("<div class=pad><h2>Messwerte</h2><table>{sensors}</table></div>"),
            "transit" => format!("<div class=pad><h2>Abfahrten</h2><table>{transit}</table></div>"),
            _ => format!("<div class=ticker><span id=tick>{TICKER}</span></div>"),
        };
        let class = if matches!(name, "sensors" | "transit" | "ticker") {
            "zone panel"
        } else {
            "zone"
        };
        boxes.push_str(&format!(
            "<div class='{class}' style='left:{x}%;top:{y}%;width:{w}%;height:{h}%'>{inner}</div>"
        ));
    }
    let ticker_h = H * 0.12;
    let ticker_px = (ticker_h * 0.6).round();
    format!(
        r#"<!doctype html><html lang=de><head><meta charset=utf-8><title>bench</title><style>
html,body{{margin:0;width:100%;height:100%;overflow:hidden;background:#0a2645;color:#fff;font-family:'DejaVu Sans',sans-serif}}
.zone{{position:absolute;overflow:hidden;background:#0a2645;box-sizing:border-box}}
.panel{{background:#123861}}
.pad{{padding:40px}}
h1{{font-size:70px;margin:0 0 30px}} p{{font-size:44px;color:#bfd1e6;margin:0}}
h2{{font-size:40px;margin:0 0 12px}} table{{font-size:30px;width:100%;border-collapse:collapse}} td{{padding:2px 8px 2px 0;white-space:nowrap}}
.clock{{height:100%;display:flex;flex-direction:column;justify-content:center;align-items:center}}
#time{{font-size:150px;font-weight:bold}} #date{{font-size:44px;color:#bfd1e6}}
.ticker{{height:100%;display:flex;align-items:center;white-space:nowrap;font-size:{ticker_px}px}}
#tick{{display:inline-block;will-change:transform}}
</style></head><body>{boxes}<script>
const days=['Sonntag','Montag','Dienstag','Mittwoch','Donnerstag','Freitag','Samstag'];
const months=['Januar','Februar','März','April','Mai','Juni','Juli','August','September','Oktober','November','Dezember'];
function tick(){{const d=new Date();const p=n=>String(n).padStart(2,'0');
const t=p(d.getHours())+':'+p(d.getMinutes());const e=document.getElementById('time');if(e.textContent!==t)e.textContent=t;
const s=days[d.getDay()]+', '+d.getDate()+'. '+months[d.getMonth()]+' '+d.getFullYear();const f=document.getElementById('date');if(f.textContent!==s)f.textContent=s;}}
tick();setInterval(tick,1000);
const tk=document.getElementById('tick');
if(tk){{const w=tk.getBoundingClientRect().width;const zw={W};const dur=(zw+w)/{TICKER_SPEED};
tk.animate([{{transform:'translateX('+zw+'px)'}},{{transform:'translateX('+(-w)+'px)'}}],{{duration:dur*1000,iterations:Infinity}});
let frames=0;function raf(){{frames++;requestAnimationFrame(raf);}}requestAnimationFrame(raf);
setInterval(()=>console.log('BENCH_FRAMES '+frames),1000);}}
</script></body></html>"#
    )
}

/// A fresh directory under the system's temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "player-bench-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- /proc

/// Clock ticks per second of /proc's times (100 on Linux everywhere we run).
const CLK_TCK: f64 = 100.0;

/// The process and all its descendants.
fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(f) = stat_fields(pid) {
                parents.push((pid, f[1] as u32));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// Fields of /proc/PID/stat after the command name, from `state` on (so
/// index 1 is ppid, 11 utime, 12 stime, 13 cutime, 14 cstime).
fn stat_fields(pid: u32) -> Option<Vec<i64>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse::<i64>().unwrap_or(0))
            .collect(),
    )
}

/// CPU seconds of the tree: its live processes plus what its reaped children used.
fn cpu_s(root: u32) -> f64 {
    let ticks: i64 = tree(root)
        .iter()
        .filter_map(|p| stat_fields(*p))
        .map(|f| f[11] + f[12] + f[13] + f[14])
        .sum();
    ticks as f64 / CLK_TCK
}

/// Proportional set size of the tree, MiB.
fn pss_mib(root: u32) -> f64 {
    let kib: u64 = tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum();
    kib as f64 / 1024.0
}

/// Lines of a child's stream, with their arrival time, on a channel.
fn lines_of(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<(Instant, String)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// Ends a process group started with `process_group(0)`: TERM, then KILL.
fn stop_group(child: &mut Child) {
    let pgid = format!("-{}", child.id());
    let quiet = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &pgid])
            .stderr(Stdio::null())
            .status();
    };
    quiet("-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    quiet("-KILL");
    let _ = child.wait();
}

/// An X display: the one in `DISPLAY`, or a new Xvfb at 1920x1080.
struct Display {
    name: String,
    xvfb: Option<Child>,
}

impl Display {
    fn get() -> Result<Display> {
        if let Ok(d) = std::env::var("DISPLAY")
            && !d.is_empty()
        {
            return Ok(Display {
                name: d,
                xvfb: None,
            });
        }
        // `-displayfd`: Xvfb takes the first number whose sockets it can
        // bind (a killed server's leftovers in /tmp do not count) and
        // writes it once it accepts connections.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1920x1080x24",
                "-nolisten",
                "tcp",
                "-nocursor",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting Xvfb")?;
        let stdout = xvfb.stdout.take().context("Xvfb's stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let number = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .and_then(|line| line.trim().parse::<u32>().ok());
        let Some(number) = number else {
            stop_group(&mut xvfb);
            bail!("Xvfb did not come up with a display number");
        };
        let name = format!(":{number}");
        Ok(Display {
            name,
            xvfb: Some(xvfb),
        })
    }

    fn cpu_s(&self) -> Option<f64> {
        self.xvfb.as_ref().map(|x| cpu_s(x.id()))
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(x) = &mut self.xvfb {
            stop_group(x);
        }
    }
}

// ---------------------------------------------------------------- cold-start

fn cold_start(player: &Path, runs: u32) -> Result<()> {
    let display = Display::get().ok();
    let mut results = serde_json::Map::new();
    for window in [false, true] {
        if window && display.is_none() {
            println!("cold-start window: skipped (no X display, no Xvfb)");
            continue;
        }
        let mode = if window { "window" } else { "offscreen" };
        let mut walls = Vec::new();
        for _ in 0..runs {
            let (dir, live_path) = data_dir(Utc::now(), false)?;
            let mut cmd = Command::new(player);
            cmd.args(["--server", "http://127.0.0.1:9", "--data-dir"])
                .arg(dir.path())
                .arg("--live")
                .arg(&live_path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0);
            if window {
                cmd.env("DISPLAY", display.as_ref().map_or("", |d| d.name.as_str()))
                    .env_remove("WAYLAND_DISPLAY");
            } else {
                cmd.arg("--headless");
            }
            let start = Instant::now();
            let mut child = cmd.spawn().context("starting the player")?;
            let lines = lines_of(child.stdout.take().context("stdout")?);
            let first = loop {
                match lines.recv_timeout(Duration::from_secs(30)) {
                    Ok((at, l)) if l.starts_with("first content frame") => break Some(at),
                    Ok(_) => continue,
                    Err(_) => break None,
                }
            };
            stop_group(&mut child);
            let Some(at) = first else {
                bail!("cold-start {mode}: no content frame within 30 s");
            };
            walls.push((at - start).as_secs_f64());
        }
        walls.sort_by(f64::total_cmp);
        let median = walls[walls.len() / 2];
        println!(
            "cold-start {mode}: process start to first content frame, {runs} runs: median {:.3} s, min {:.3} s, max {:.3} s (target < 2 s)",
            median,
            walls[0],
            walls[walls.len() - 1]
        );
        results.insert(
            mode.to_owned(),
            json!({ "median_s": median, "min_s": walls[0], "max_s": walls[walls.len() - 1], "runs": runs }),
        );
    }
    println!(
        "{}",
        json!({ "bench": "cold-start", "results": results, "target_s": 2.0 })
    );
    Ok(())
}

// ---------------------------------------------------------------- player-vs-browser

#[derive(Debug, Clone, serde::Serialize)]
struct Measured {
    /// CPU seconds of the process tree over the whole run (start-up included).
    cpu_s: f64,
    /// CPU seconds per second after the first 10 s (steady state).
    steady_cpu_per_s: f64,
    /// PSS of the process tree near the end, MiB.
    pss_mib: f64,
    /// Frames per second over the steady part; `None` where not measured.
    fps: Option<f64>,
    /// CPU seconds the X server spent during the run (both push pixels to it).
    xvfb_cpu_s: Option<f64>,
}

fn measure(
    mut child: Child,
    run: Duration,
    display: &Display,
    grab: Option<PathBuf>,
    frames: impl Fn(&mpsc::Receiver<(Instant, String)>) -> Option<u64>,
    lines: mpsc::Receiver<(Instant, String)>,
) -> Measured {
    let pid = child.id();
    let start = Instant::now();
    let x0 = display.cpu_s();
    let warm = Duration::from_secs(10).min(run / 2);
    let mut cpu_warm = None;
    let mut frames_warm = None;
    let mut last_frames = None;
    let mut pss = 0.0;
    while start.elapsed() < run {
        std::thread::sleep(Duration::from_millis(250));
        if let Some(f) = frames(&lines) {
            last_frames = Some(f);
        }
        if cpu_warm.is_none() && start.elapsed() >= warm {
            if let Some(path) = &grab {
                grab_screen(display, path);
            }
            cpu_warm = Some((Instant::now(), cpu_s(pid)));
            frames_warm = last_frames;
        }
        if start.elapsed() + Duration::from_secs(5) >= run && pss == 0.0 {
            pss = pss_mib(pid);
        }
    }
    let end = Instant::now();
    let cpu_end = cpu_s(pid);
    if let Some(f) = frames(&lines) {
        last_frames = Some(f);
    }
    let x1 = display.cpu_s();
    stop_group(&mut child);
    let (t_warm, c_warm) = cpu_warm.unwrap_or((start, 0.0));
    let steady = (end - t_warm).as_secs_f64();
    Measured {
        cpu_s: cpu_end,
        steady_cpu_per_s: (cpu_end - c_warm) / steady,
        pss_mib: pss,
        fps: match (frames_warm, last_frames) {
            (Some(a), Some(b)) => Some((b - a) as f64 / steady),
            _ => None,
        },
        xvfb_cpu_s: x0.zip(x1).map(|(a, b)| b - a),
    }
}

/// Writes what the X display shows to a PNG (ffmpeg's x11grab), so a run
/// can be checked by eye: both scenes must look alike.
fn grab_screen(display: &Display, path: &Path) {
    let ok = Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "x11grab",
            "-video_size",
            "1920x1080",
            "-i",
        ])
        .arg(&display.name)
        .args(["-frames:v", "1"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("could not grab the screen to {}", path.display());
    }
}

/// Where to put a screen grab of a run (`PLAYER_BENCH_GRAB=DIR`).
fn grab_path(who: &str, animated: bool) -> Option<PathBuf> {
    let dir = std::env::var_os("PLAYER_BENCH_GRAB")?;
    let scene = if animated { "animated" } else { "static" };
    Some(PathBuf::from(dir).join(format!("{who}-{scene}.png")))
}

/// The latest value of a counter line `PREFIX N` among the lines so far.
fn latest_counter(lines: &mpsc::Receiver<(Instant, String)>, prefix: &str) -> Option<u64> {
    lines
        .try_iter()
        .filter_map(|(_, l)| {
            let at = l.find(prefix)?;
            l[at + prefix.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())?
                .parse()
                .ok()
        })
        .last()
}

fn run_player(player: &Path, display: &Display, run: Duration, animated: bool) -> Result<Measured> {
    let (dir, live_path) = data_dir(Utc::now(), animated)?;
    let mut child = Command::new(player)
        .args(["--server", "http://127.0.0.1:9", "--data-dir"])
        .arg(dir.path())
        .arg("--live")
        .arg(&live_path)
        .args(["--size", "1920x1080", "--frame-log"])
        .env("DISPLAY", &display.name)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting the player")?;
    let lines = lines_of(child.stdout.take().context("stdout")?);
    let m = measure(
        child,
        run,
        display,
        grab_path("player", animated),
        |l| latest_counter(l, "frames drawn "),
        lines,
    );
    drop(dir);
    Ok(m)
}

fn run_chromium(
    chromium: &str,
    display: &Display,
    run: Duration,
    animated: bool,
) -> Result<Measured> {
    let dir = Scratch::new()?;
    let page = dir.path().join("scene.html");
    std::fs::write(&page, html(Utc::now(), animated))?;
    let profile = dir.path().join("profile");
    let mut child = Command::new(chromium)
        .args([
            "--kiosk",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--no-default-browser-check",
            "--noerrdialogs",
            "--disable-features=Translate,TranslateUI",
            "--lang=de",
            "--window-position=0,0",
            "--window-size=1920,1080",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .env("DISPLAY", &display.name)
        .env_remove("WAYLAND_DISPLAY")
        // The page's clock in the display's zone, like the player's.
        .env("TZ", "Europe/Berlin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("starting chromium")?;
    let lines = lines_of(child.stderr.take().context("stderr")?);
    let m = measure(
        child,
        run,
        display,
        grab_path("chromium", animated),
        |l| latest_counter(l, "BENCH_FRAMES "),
        lines,
    );
    drop(dir);
    Ok(m)
}

fn player_vs_browser(player: &Path, run: Duration, chromium: &str) -> Result<()> {
    let display = Display::get()?;
    let mut scenes = serde_json::Map::new();
    for animated in [false, true] {
        let scene = if animated { "animated" } else { "static" };
        let p = run_player(player, &display, run, animated)?;
        let c = run_chromium(chromium, &display, run, animated)?;
        let fmt_fps = |f: Option<f64>| f.map_or("n/a".to_owned(), |f| format!("{f:.1}"));
        println!(
            "{scene}: player   cpu {:.2} s ({:.3}/s steady), pss {:.0} MiB, {} fps, Xvfb cpu {:.2} s",
            p.cpu_s,
            p.steady_cpu_per_s,
            p.pss_mib,
            fmt_fps(p.fps),
            p.xvfb_cpu_s.unwrap_or(f64::NAN)
        );
        println!(
            "{scene}: chromium cpu {:.2} s ({:.3}/s steady), pss {:.0} MiB, {} fps, Xvfb cpu {:.2} s",
            c.cpu_s,
            c.steady_cpu_per_s,
            c.pss_mib,
            fmt_fps(c.fps),
            c.xvfb_cpu_s.unwrap_or(f64::NAN)
        );
        let cpu_ratio = p.cpu_s / c.cpu_s;
        let steady_ratio = p.steady_cpu_per_s / c.steady_cpu_per_s;
        let mem_ratio = p.pss_mib / c.pss_mib;
        println!(
            "{scene}: player/chromium cpu {cpu_ratio:.2} (steady {steady_ratio:.2}), memory {mem_ratio:.2}"
        );
        scenes.insert(
            scene.to_owned(),
            json!({ "player": p, "chromium": c, "cpu_ratio": cpu_ratio,
                    "steady_cpu_ratio": steady_ratio, "memory_ratio": mem_ratio }),
        );
    }
    println!(
        "{}",
        json!({ "bench": "player-vs-browser", "seconds": run.as_secs(), "scenes": scenes })
    );
    Ok(())
}
