//! Broadcaster benchmarks. `bench live-latency [--seconds N] [--width W --height H --fps F]`:
//! runs a real session on a test source, serves the live HLS directory over HTTP
//! and acts as a viewer polling it every 100 ms. At each poll it fetches the
//! playlist and the newest segment, and records the age of the newest playable
//! frame: now − (the segment's EXT-X-PROGRAM-DATE-TIME, the capture wall-clock
//! time of its first frame by the pipeline clock, + the segment's duration).
//! Prints p50/p95 and one JSON line.
//!
//! `bench archive-crash [--kills 10]`: starts a recording in a child process
//! (`bench crash-child`, a real session on a test source that changes the speaker
//! every second, so the chapter log holds a recent offset/wall-clock pair), kills
//! it with SIGKILL at a random moment 2-6 s in, finalizes the recording as the
//! next start would, and reports the seconds lost (media time at the kill, by the
//! last chapter event, minus the recovered duration), whether every chapter event
//! survived, and whether the download MP4 decodes to the end.

use anyhow::{Context, bail};
use broadcaster::config::Config;
use chrono::{DateTime, Utc};
use clap::Parser;
use content::broadcast::{AgendaItem, ServerCommand, Session};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
struct Cli {
    /// Which benchmark: live-latency, archive-crash.
    bench: String,
    #[arg(long, default_value_t = 10)]
    kills: u32,
    /// For encode-child: the raw I420 file.
    #[arg(long)]
    raw: Option<PathBuf>,
    /// Seconds of video for encode-cost.
    #[arg(long, default_value_t = 10)]
    clip_s: u32,
    /// For crash-child: the working directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value_t = 1280)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
    #[arg(long, default_value_t = 30)]
    fps: u32,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.bench.as_str() {
        "live-latency" => live_latency(&cli),
        "archive-crash" => archive_crash(&cli),
        "crash-child" => crash_child(cli.dir.as_deref().context("--dir")?),
        "encode-cost" => encode_cost(&cli),
        "encode-child" => encode_child(&cli),
        other => {
            bail!("unknown benchmark {other:?}; known: live-latency, archive-crash, encode-cost")
        }
    }
}

fn bench_config(dir: &Path, cli: &Cli) -> anyhow::Result<Config> {
    let text = format!(
        "[output]\nlive_dir = \"{d}/live\"\narchive_dir = \"{d}/archive\"\n\n\
         [video]\nwidth = {}\nheight = {}\nframerate = {}\nencoder = \"x264\"\n\n\
         [[input]]\nname = \"totale\"\nsource = {{ kind = \"test\", pattern = \"ball\" }}\n",
        cli.width,
        cli.height,
        cli.fps,
        d = dir.display()
    );
    Ok(Config::parse(&text, Path::new("bench.toml"))?)
}

fn bench_session() -> Session {
    Session {
        meeting_id: "bench".into(),
        title: "Benchmark".into(),
        agenda: vec![AgendaItem {
            number: "1".into(),
            title: "Latenz".into(),
            public: true,
        }],
        start_item: Some("1".into()),
        download_allowed: true,
        closed: false,
    }
}

fn live_latency(cli: &Cli) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("broadcaster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut studio = broadcaster::studio::Studio::new(bench_config(&dir, cli)?)?;
    let session = bench_session();
    let mut out = Vec::new();
    studio
        .handle(&ServerCommand::StartSession { id: 1, session }, &mut out)
        .map_err(anyhow::Error::msg)?;
    let port = serve(dir.join("live"))?;
    let mut ages = Vec::new();
    let end = Instant::now() + Duration::from_secs(cli.seconds);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        studio.tick();
        let Ok(playlist) = get(port, "/video/video.m3u8") else {
            continue;
        };
        let playlist = String::from_utf8_lossy(&playlist).to_string();
        let Some((pdt, duration, uri)) = newest_segment(&playlist) else {
            continue;
        };
        // A viewer plays a frame only once the segment holding it is downloaded.
        if get(port, &format!("/video/{uri}")).is_err() {
            continue;
        }
        let age = Utc::now() - (pdt + chrono::Duration::milliseconds((duration * 1000.0) as i64));
        ages.push(age.num_milliseconds() as f64 / 1000.0);
    }
    studio.stop();
    let _ = std::fs::remove_dir_all(&dir);
    if ages.len() < 10 {
        bail!("only {} playable samples", ages.len());
    }
    ages.sort_by(f64::total_cmp);
    let pct = |p: f64| ages[((ages.len() - 1) as f64 * p).round() as usize];
    let (p50, p95) = (pct(0.5), pct(0.95));
    println!(
        "live-latency: {}x{}@{} x264 zerolatency, 1 s CMAF segments, {} samples over {} s",
        cli.width,
        cli.height,
        cli.fps,
        ages.len(),
        cli.seconds
    );
    println!("age of newest playable frame: p50 {p50:.2} s, p95 {p95:.2} s (target < 3 s)");
    println!(
        "{}",
        serde_json::json!({"bench": "live-latency", "width": cli.width, "height": cli.height,
            "fps": cli.fps, "samples": ages.len(), "p50_s": p50, "p95_s": p95})
    );
    Ok(())
}

fn crash_child(dir: &Path) -> anyhow::Result<()> {
    let cli = Cli::parse_from(["bench", "crash-child", "--width", "1280", "--height", "720"]);
    let mut studio = broadcaster::studio::Studio::new(bench_config(dir, &cli)?)?;
    let mut out = Vec::new();
    studio
        .handle(
            &ServerCommand::StartSession {
                id: 1,
                session: bench_session(),
            },
            &mut out,
        )
        .map_err(anyhow::Error::msg)?;
    for n in 0u64.. {
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(100));
            studio.tick();
        }
        let speaker = content::broadcast::Speaker {
            name: format!("Redner {n}"),
            role: None,
            party: None,
        };
        studio
            .handle(
                &ServerCommand::Speaker {
                    id: n + 2,
                    speaker: Some(speaker),
                },
                &mut out,
            )
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

fn archive_crash(cli: &Cli) -> anyhow::Result<()> {
    broadcaster::studio::init_gstreamer()?;
    let root = std::env::temp_dir().join(format!("broadcaster-crash-{}", std::process::id()));
    let mut seed = Utc::now().timestamp_subsec_nanos() as u64 | 1;
    let mut lost = Vec::new();
    let mut all_play = true;
    let mut all_chapters = true;
    for kill in 0..cli.kills {
        let dir = root.join(kill.to_string());
        std::fs::create_dir_all(&dir)?;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args(["crash-child", "--dir"])
            .arg(&dir)
            .env("RUST_LOG", "error")
            .spawn()?;
        // xorshift: a kill moment 2-6 s after the first segment.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait_ms = 2000 + seed % 4000;
        let archive = dir.join("archive");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !recording_has_segment(&archive) {
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("no segment within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill()?;
        child.wait()?;
        let killed_at = Utc::now();
        let rec = broadcaster::recording::unfinished(&archive)
            .pop()
            .context("no unfinished recording")?;
        let (events, torn) =
            broadcaster::chapters::read(&rec.path(broadcaster::recording::CHAPTER_LOG))?;
        let last = events.last().context("no chapter")?;
        let media_at_kill = last.offset_ms as f64 / 1000.0
            + (killed_at - last.at).num_milliseconds() as f64 / 1000.0;
        let report = broadcaster::vod::finalize(&rec, 1, true)?;
        let seconds_lost = media_at_kill - report.duration_ms as f64 / 1000.0;
        let plays = report.files.mp4.as_ref().is_some_and(|mp4| {
            broadcaster::vod::run_to_eos(
                &format!(
                    "filesrc location=\"{}\" ! qtdemux ! h264parse ! avdec_h264 ! fakesink",
                    archive.join(mp4).display()
                ),
                gstreamer::ClockTime::from_seconds(60),
            )
            .is_ok()
        });
        // Each speaker event is written before the next second starts; all must be there.
        let chapters_ok =
            torn.is_none() && events.len() as f64 >= (last.offset_ms as f64 / 1000.0).floor();
        println!(
            "kill {}: after {:.1} s of media, lost {seconds_lost:.2} s, {} chapter events, plays: {plays}",
            kill + 1,
            media_at_kill,
            events.len()
        );
        all_play &= plays;
        all_chapters &= chapters_ok;
        lost.push(seconds_lost);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&root);
    let mean = lost.iter().sum::<f64>() / lost.len() as f64;
    let max = lost.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "archive-crash: {} SIGKILLs, seconds lost mean {mean:.2}, max {max:.2} (target <= 1 s); every file plays: {all_play}; no chapter lost: {all_chapters}",
        lost.len()
    );
    println!(
        "{}",
        serde_json::json!({"bench": "archive-crash", "kills": lost.len(), "lost_mean_s": mean,
            "lost_max_s": max, "all_play": all_play, "no_chapter_lost": all_chapters})
    );
    Ok(())
}

/// Encodes the raw clip with the broadcaster's x264 settings (`Encoder::describe`).
fn encode_child(cli: &Cli) -> anyhow::Result<()> {
    broadcaster::studio::init_gstreamer()?;
    let v = broadcaster::config::VideoConfig {
        width: cli.width,
        height: cli.height,
        framerate: cli.fps,
        ..Default::default()
    };
    let raw = cli.raw.as_ref().context("--raw")?;
    broadcaster::vod::run_to_eos(
        &format!(
            "filesrc location=\"{}\" ! rawvideoparse format=i420 width={} height={} framerate={}/1 ! {} ! fakesink",
            raw.display(),
            cli.width,
            cli.height,
            cli.fps,
            broadcaster::encoder::Encoder::X264.describe(&v)
        ),
        gstreamer::ClockTime::from_seconds(600),
    )
    .map_err(anyhow::Error::msg)
}

/// CPU seconds (user + system) a shell command's children used: the shell reads
/// its own cutime/cstime from /proc after the command, so both encoders are
/// measured the same way.
fn child_cpu_s(command: &str) -> anyhow::Result<f64> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{command} >/dev/null 2>&1 || exit 1; cat /proc/$$/stat"
        ))
        .output()?;
    if !out.status.success() {
        bail!("{command} failed");
    }
    let stat = String::from_utf8(out.stdout)?;
    // Fields after the parenthesised name: cutime and cstime are the 16th and 17th.
    let rest = stat.rsplit(')').next().context("stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[13].parse::<f64>()? + fields[14].parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn encode_cost(cli: &Cli) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("broadcaster-encode-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    broadcaster::studio::init_gstreamer()?;
    let me = std::env::current_exe()?;
    let mut results = Vec::new();
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let raw = dir.join(format!("{w}x{h}.yuv"));
        let frames = cli.clip_s * 30;
        // The same moving test picture for both encoders.
        broadcaster::vod::run_to_eos(
            &format!(
                "videotestsrc num-buffers={frames} pattern=ball motion=sweep background-color=0xff336699 ! \
                 video/x-raw,format=I420,width={w},height={h},framerate=30/1 ! filesink location=\"{}\"",
                raw.display()
            ),
            gstreamer::ClockTime::from_seconds(600),
        )
        .map_err(anyhow::Error::msg)?;
        let ours = child_cpu_s(&format!(
            "{} encode-child --raw {} --width {w} --height {h} --fps 30",
            me.display(),
            raw.display()
        ))?;
        let kbps = broadcaster::config::VideoConfig::default().bitrate_kbps;
        let ffmpeg = child_cpu_s(&format!(
            "ffmpeg -nostdin -hide_banner -f rawvideo -pix_fmt yuv420p -s {w}x{h} -r 30 -i {} \
             -c:v libx264 -preset veryfast -tune zerolatency -b:v {kbps}k -maxrate {kbps}k -bufsize {kbps}k \
             -g 30 -bf 0 -f null -",
            raw.display()
        ))?;
        let per_min = 60.0 / cli.clip_s as f64;
        let (ours_m, ffmpeg_m) = (ours * per_min, ffmpeg * per_min);
        println!(
            "encode-cost {w}x{h}@30: broadcaster x264 {ours_m:.1} CPU-s per minute, ffmpeg libx264 {ffmpeg_m:.1} ({:+.1} %)",
            (ours_m / ffmpeg_m - 1.0) * 100.0
        );
        results.push(
            serde_json::json!({"resolution": format!("{w}x{h}"), "ours_cpu_s_per_min": ours_m,
            "ffmpeg_cpu_s_per_min": ffmpeg_m}),
        );
        let _ = std::fs::remove_file(&raw);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}",
        serde_json::json!({"bench": "encode-cost", "clip_s": cli.clip_s, "results": results})
    );
    Ok(())
}

fn recording_has_segment(archive: &Path) -> bool {
    broadcaster::recording::unfinished(archive).iter().any(|r| {
        std::fs::read_to_string(r.path("video/video.m3u8")).is_ok_and(|t| t.contains("#EXTINF"))
    })
}

/// The last segment's program date-time, duration and URI. A date-time tag applies
/// to the segment after it; later segments follow on by their durations.
fn newest_segment(playlist: &str) -> Option<(DateTime<Utc>, f64, String)> {
    let mut pdt: Option<DateTime<Utc>> = None;
    let mut duration = None;
    let mut newest = None;
    for line in playlist.lines() {
        if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pdt = DateTime::parse_from_rfc3339(t.trim())
                .ok()
                .map(|t| t.with_timezone(&Utc));
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.split(',').next().and_then(|d| d.parse::<f64>().ok());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (start, d) = (pdt?, duration?);
            newest = Some((start, d, line.trim().to_owned()));
            pdt = Some(start + chrono::Duration::milliseconds((d * 1000.0) as i64));
        }
    }
    newest
}

/// Serves `root` over HTTP/1.0 on a free port, one thread per request.
fn serve(root: PathBuf) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &root);
            });
        }
    });
    Ok(port)
}

fn answer(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    if path.contains("..") {
        return stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    }
    match std::fs::read(root.join(path.trim_start_matches('/'))) {
        Ok(body) => {
            write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)
        }
        Err(_) => stream.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n"),
    }
}

fn get(port: u16, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no header end")?;
    if !response.starts_with(b"HTTP/1.0 200") {
        bail!("{path}: not found");
    }
    Ok(response[split + 4..].to_vec())
}
