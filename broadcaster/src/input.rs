//! Inputs, each in a pipeline of its own, handing frames and samples to the program
//! pipeline through `intervideosink`/`interaudiosink` channels.
//!
//! ```text
//!  source (v4l2src | uridecodebin | videotestsrc) ─ convert/scale/rate ─ intervideosink "<name>-video"
//!  sound  (alsasrc | uridecodebin | audiotestsrc) ─ convert/resample ── interaudiosink "<name>-audio"
//! ```
//!
//! Why separate pipelines: a camera that errors out, hangs or reaches EOS takes only
//! its own pipeline down. The program pipeline's `intervideosrc` keeps producing
//! frames (the last one, then black) on the program clock, so the stream never
//! stops; the supervisor here restarts the input with backoff, and the health it
//! publishes (time of the last frame) lets the program cut to the backup within a
//! fraction of a second and back when the camera returns.

use crate::config::{InputConfig, SourceConfig, VideoConfig};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A frame older than this means the input is down.
pub const STALE_AFTER: Duration = Duration::from_millis(400);
/// An input stale this long while "playing" is restarted (a hung RTSP camera posts no error).
const HUNG_AFTER: Duration = Duration::from_secs(3);

/// Raw formats every input is normalised to, so the program never renegotiates.
pub fn video_caps(v: &VideoConfig) -> String {
    format!(
        "video/x-raw,format=I420,width={},height={},framerate={}/1,pixel-aspect-ratio=1/1",
        v.width, v.height, v.framerate
    )
}

pub const AUDIO_CAPS: &str = "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2";

pub fn video_channel(name: &str) -> String {
    format!("{name}-video")
}

pub fn audio_channel(name: &str) -> String {
    format!("{name}-audio")
}

/// The launch description of an input's pipeline.
pub fn describe(input: &InputConfig, video: &VideoConfig) -> String {
    let vcaps = video_caps(video);
    let vtail = format!(
        "videoconvert ! videoscale ! videorate ! {vcaps} ! intervideosink name=vsink channel={}",
        video_channel(&input.name)
    );
    let atail = format!(
        "audioconvert ! audioresample ! audiorate ! {AUDIO_CAPS} ! interaudiosink channel={}",
        audio_channel(&input.name)
    );
    match &input.source {
        SourceConfig::Test { pattern, tone_hz } => {
            let wave = if *tone_hz > 0.0 {
                format!("wave=sine freq={tone_hz}")
            } else {
                "wave=silence".into()
            };
            format!(
                "videotestsrc is-live=true pattern={} ! {vtail} \
                 audiotestsrc is-live=true {wave} volume=0.3 ! {atail}",
                quote(pattern)
            )
        }
        SourceConfig::V4l2 {
            device,
            audio_device,
        } => {
            let audio = match audio_device {
                Some(dev) => format!("alsasrc device={} ! {atail}", quote(dev)),
                None => String::new(),
            };
            format!(
                "v4l2src device={} ! {vtail} {audio}",
                quote(&device.to_string_lossy())
            )
        }
        SourceConfig::File { path } => {
            let uri = format!("file://{}", path.to_string_lossy());
            decoded(&uri, &vtail, &atail)
        }
        SourceConfig::Rtsp { url } | SourceConfig::Srt { url } => decoded(url, &vtail, &atail),
    }
}

fn decoded(uri: &str, vtail: &str, atail: &str) -> String {
    // uridecodebin's pads appear later; the parser links them when they do.
    format!(
        "uridecodebin uri={} name=dec dec. ! queue ! {vtail} dec. ! queue ! {atail}",
        quote(uri)
    )
}

/// Quotes a value for a launch description.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What the program pipeline knows about an input.
#[derive(Debug)]
pub struct Health {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last frame + 1; 0 = never.
    last_frame_ms: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl Health {
    fn new() -> Self {
        Health {
            epoch: Instant::now(),
            last_frame_ms: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        }
    }

    fn frame(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64 + 1;
        self.last_frame_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last frame; `None` before the first.
    pub fn since_last_frame(&self) -> Option<Duration> {
        match self.last_frame_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(
                self.epoch
                    .elapsed()
                    .saturating_sub(Duration::from_millis(ms - 1)),
            ),
        }
    }

    pub fn ok(&self) -> bool {
        self.since_last_frame().is_some_and(|d| d < STALE_AFTER)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }
}

/// A supervised input; dropping it stops its pipeline.
pub struct Input {
    pub name: String,
    pub health: Arc<Health>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Input {
    pub fn start(config: &InputConfig, video: &VideoConfig) -> Input {
        let health = Arc::new(Health::new());
        let stop = Arc::new(AtomicBool::new(false));
        let description = describe(config, video);
        let name = config.name.clone();
        let thread = {
            let (health, stop, name) = (health.clone(), stop.clone(), name.clone());
            std::thread::Builder::new()
                .name(format!("input-{name}"))
                .spawn(move || supervise(&name, &description, &health, &stop))
                .expect("spawning a thread")
        };
        Input {
            name,
            health,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the input's pipeline until `stop`, restarting it with backoff whenever it
/// fails, ends or hangs.
fn supervise(name: &str, description: &str, health: &Health, stop: &AtomicBool) {
    let mut backoff = Duration::from_millis(200);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let outcome = run_once(description, health, stop);
        if let Err(e) = &outcome {
            tracing::warn!(input = name, "input failed: {e}");
            *health.last_error.lock().unwrap() = Some(e.clone());
        }
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(200);
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn run_once(description: &str, health: &Health, stop: &AtomicBool) -> Result<(), String> {
    let pipeline = gst::parse::launch(description)
        .map_err(|e| format!("cannot build input pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "input description is not a pipeline".to_string())?;
    let result = watch(&pipeline, health, stop);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn watch(pipeline: &gst::Pipeline, health: &Health, stop: &AtomicBool) -> Result<(), String> {
    // Health is "a frame reached the inter sink", the only thing the program cares about.
    let sink = pipeline
        .by_name("vsink")
        .ok_or("input pipeline has no video sink")?;
    let pad = sink.static_pad("sink").ok_or("video sink has no pad")?;
    // The streaming thread only counts; this loop turns progress into health every
    // 50 ms, which keeps the probe free of locks and clocks.
    let frames = Arc::new(AtomicU64::new(0));
    {
        let frames = frames.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            frames.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| "input refused to start".to_string())?;
    let bus = pipeline.bus().ok_or("pipeline without bus")?;
    let mut seen = 0;
    let mut last_progress = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(50),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            return Err(match msg.view() {
                gst::MessageView::Error(e) => format!(
                    "{}: {}",
                    e.src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default(),
                    e.error()
                ),
                _ => "input ended".to_string(),
            });
        }
        let now = frames.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            last_progress = Instant::now();
            health.frame();
        } else if last_progress.elapsed() > HUNG_AFTER {
            return Err(format!("no frame for {} s", HUNG_AFTER.as_secs()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_quote_paths() {
        let input = InputConfig {
            name: "a".into(),
            backup: None,
            pip: false,
            source: SourceConfig::File {
                path: "/srv/a \"b\".mp4".into(),
            },
        };
        let d = describe(&input, &VideoConfig::default());
        assert!(d.contains(r#"uri="file:///srv/a \"b\".mp4""#), "{d}");
        assert!(d.contains("channel=a-video"));
    }
}
