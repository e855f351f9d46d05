//! Broadcaster benchmarks. `bench live-latency [--seconds N] [--width W --height H --fps F]`:
//! runs a real session on a test source, serves the live HLS directory over HTTP
//! and acts as a viewer polling it every 100 ms. At each poll it fetches the
//! playlist and the newest segment, and records the age of the newest playable
//! frame: now − (the segment's EXT-X-PROGRAM-DATE-TIME, the capture wall-clock
//! time of its first frame by the pipeline clock, + the segment's duration).
//! Prints p50/p95 and one JSON line.

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
    /// Which benchmark: live-latency.
    bench: String,
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
        other => bail!("unknown benchmark {other:?}; known: live-latency"),
    }
}

fn live_latency(cli: &Cli) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("broadcaster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let text = format!(
        "[output]\nlive_dir = \"{d}/live\"\narchive_dir = \"{d}/archive\"\n\n\
         [video]\nwidth = {}\nheight = {}\nframerate = {}\nencoder = \"x264\"\n\n\
         [[input]]\nname = \"totale\"\nsource = {{ kind = \"test\", pattern = \"ball\" }}\n",
        cli.width,
        cli.height,
        cli.fps,
        d = dir.display()
    );
    let config = Config::parse(&text, Path::new("bench.toml"))?;
    let mut studio = broadcaster::studio::Studio::new(config)?;
    let session = Session {
        meeting_id: "bench".into(),
        title: "Benchmark".into(),
        agenda: vec![AgendaItem {
            number: "1".into(),
            title: "Latenz".into(),
            public: true,
        }],
        start_item: Some("1".into()),
        download_allowed: false,
    };
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
