//! The program pipeline: one session's cut, overlays, closed-part slate, encoders,
//! live HLS and archive.
//!
//! ```text
//!  intervideosrc cam-1 ─┐
//!  intervideosrc cam-2 ─┼ input-selector "vsel" ─ compositor (+ PiP: intervideosrc) ─ overlays ─┐
//!  tech slate ──────────┘   (cut, failover)          agenda item, speaker, LIVE+logo, clock      │
//!                                                                                                 │
//!  closed slate "Nichtöffentlicher Teil" ─────────── input-selector "closedv" ◄── gate ──────────┘
//!                                                        │
//!                                                   tee "rawt" ─┬ x264enc/hw ─ h264parse ─ tee "vt" ─┬ hlscmafsink (live, pruned)
//!                                                               │                                   ├ [archive bin] (EVENT→VOD)
//!                                                               │                                   └ leaky queue ─ flvmux ─ appsink (restream)
//!                                                               └ per rendition: videoscale ─ encoder ─ hlscmafsink (live)
//!  interaudiosrc cam-n ─ input-selector "asel" ─ volume (mute) ─ gate ─┐
//!  silence ────────────────────────────────── input-selector "closeda" ┴ level ─ AAC ─ tee "at" ─ (live, archive, restream)
//! ```
//!
//! The archive branches sit behind a firewall ([`crate::archive`]): a disk that
//! fills up ends the recording, never the live stream. The restream leaves through
//! an appsink that never blocks ([`crate::restream`]).
//!
//! Renditions (`[video] renditions`) are scaled from the program picture *after*
//! the closed-part selector, so the slate guarantee holds for every one of them;
//! every encoder has the same keyframe interval in frames (and x264 no scene-cut
//! keyframes), so segment boundaries line up across renditions. They are live
//! only: the archive keeps the full size.
//!
//! The closed part is decided *before* the encoders and the tee, so live and archive
//! get the same slate and silence: no camera frame or microphone sample of a closed
//! part reaches an encoder. Reopening is gated by timestamp: program buffers older
//! than the moment the closed part ended are dropped, so a frame queued during the
//! closed part cannot slip out when the selector switches back.

use crate::archive::Archive;
use crate::config::{Config, VideoConfig};
use crate::encoder::Encoder;
use crate::input::{AUDIO_CAPS, audio_channel, quote, video_caps, video_channel};
use crate::restream::Restream;
use crate::watchdog::{Verdict, Watchdog};
use content::broadcast::RestreamStatus;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("cannot build the program pipeline: {0}")]
    Build(String),
    #[error("the program pipeline has no element {0:?}")]
    Missing(String),
    #[error("the program pipeline did not start: {0}")]
    Start(String),
    #[error("the program pipeline did not stop cleanly: {0}")]
    Stop(String),
}

/// How long [`Program::stop`] waits for a first encoded frame.
const FIRST_FRAME_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The slate's colour, chosen to be told apart from any camera picture in tests and
/// by viewers: a dark blue, 0x1e3a5f.
pub const SLATE_RGB: [u8; 3] = [0x1e, 0x3a, 0x5f];
pub const SLATE_TEXT: &str = "Nichtöffentlicher Teil";

/// Figures the bus and probes collect while the pipeline runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub encoded_bytes: AtomicU64,
    pub dropped_frames: AtomicU64,
    /// Peak level of the broadcast audio over the last half second, dBFS.
    pub audio_level_db: Mutex<Option<f32>>,
    pub errors: Mutex<Vec<String>>,
    /// Running time of the first encoded video frame, ns + 1 (0 = not yet); written
    /// only by the one streaming thread of the video tee.
    pub first_pts: AtomicU64,
    /// Encoded audio has reached its tee.
    pub audio_seen: std::sync::atomic::AtomicBool,
    /// Buffers dropped because their time stepped back ([`forward_only`]).
    pub backwards: AtomicU64,
    eos: (Mutex<bool>, Condvar),
    /// Tells the bus thread to end.
    quit: std::sync::atomic::AtomicBool,
}

pub struct Program {
    pipeline: gst::Pipeline,
    vsel: gst::Element,
    asel: gst::Element,
    closedv: gst::Element,
    closeda: gst::Element,
    program_vpad: gst::Pad,
    program_apad: gst::Pad,
    slate_vpad: gst::Pad,
    silence_apad: gst::Pad,
    tech_vpad: gst::Pad,
    tech_apad: gst::Pad,
    /// Camera name → (video pad, audio pad) on the selectors.
    cameras: Vec<(String, gst::Pad, gst::Pad)>,
    pip: Option<(String, gst::Pad)>,
    agenda: gst::Element,
    lower: gst::Element,
    volume: gst::Element,
    /// One `volume` right after each camera's sound source: muting there silences
    /// everything downstream, queued samples included.
    source_volumes: Vec<gst::Element>,
    /// Program buffers with a timestamp below this (ns) are dropped at the gate.
    reopen_at: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
    bus_thread: Option<std::thread::JoinHandle<()>>,
    archive: Archive,
    restream: Option<Restream>,
    watchdog: Watchdog,
}

/// Where the two outputs go.
pub struct Outputs<'a> {
    pub live_dir: &'a Path,
    pub live_segments: u32,
    /// This recording's directory (see [`crate::recording`]).
    pub recording_dir: &'a Path,
    /// The archive stops below this much free space (MiB).
    pub min_free_mb: u64,
}

/// A rendition of the live output: its directory under `live_dir` and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// Sub-directory of the live dir holding its `video.m3u8`.
    pub dir: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

/// The live video renditions: the full size first (in `video/`), then the ladder.
pub fn renditions(v: &VideoConfig) -> Vec<Rendition> {
    let mut out = vec![Rendition {
        dir: "video".into(),
        width: v.width,
        height: v.height,
        bitrate_kbps: v.bitrate_kbps,
    }];
    for &h in &v.renditions {
        let w = v.width_for(h);
        // Bitrate by pixel count, with a floor below which x264 turns to mush.
        let kbps = (v.bitrate_kbps as u64 * (w * h) as u64 / (v.width * v.height) as u64) as u32;
        out.push(Rendition {
            dir: format!("video_{h}"),
            width: w,
            height: h,
            bitrate_kbps: kbps.max(150),
        });
    }
    out
}

/// The live multivariant playlist: one variant per rendition, sound shared.
/// CODECS is given where the profile is known (x264: High, level 4.0 covers up to
/// 1080p30); a hardware encoder's profile varies, so there it is left out.
pub fn live_master_playlist(v: &VideoConfig, encoder: Encoder) -> String {
    let mut m = String::from(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Ton\",LANGUAGE=\"de\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/audio.m3u8\"\n",
    );
    let codecs = match encoder {
        Encoder::X264 => ",CODECS=\"avc1.640028,mp4a.40.2\"",
        _ => "",
    };
    for r in renditions(v) {
        m += &format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{}{codecs},AUDIO=\"audio\"\n{}/video.m3u8\n",
            (r.bitrate_kbps + v.audio_bitrate_kbps) * 1100,
            r.width,
            r.height,
            r.dir
        );
    }
    m
}

fn sink(name: &str, dir: &Path, stem: &str, v: &VideoConfig, live: Option<u32>) -> String {
    let d = dir.to_string_lossy();
    let kind = match live {
        // The live playlist names the newest six segments; a few more stay on disk
        // for viewers still fetching them.
        // Program date-time maps each segment to the wall-clock time of its first
        // frame's capture (pipeline clock), for players and for measuring latency.
        Some(keep) => format!(
            "max-files={keep} playlist-length=6 enable-program-date-time=true program-date-time-reference=pipeline"
        ),
        // EVENT while recording (every segment stays), VOD with ENDLIST at EOS.
        None => "playlist-type=vod".into(),
    };
    format!(
        "hlscmafsink name={name} target-duration={seg} sync=false {kind} \
         playlist-location={pl} init-location={init} location={loc}",
        seg = v.segment_s,
        pl = quote(&format!("{d}/{stem}.m3u8")),
        init = quote(&format!("{d}/init_%d.mp4")),
        loc = quote(&format!("{d}/seg_%05d.m4s")),
    )
}

impl Program {
    pub fn build(
        config: &Config,
        encoder: Encoder,
        out: &Outputs<'_>,
    ) -> Result<Program, PipelineError> {
        let v = &config.video;
        let vcaps = video_caps(v);
        let (w, h, f) = (v.width, v.height, v.framerate);
        let mut d = String::new();
        let text_font = |size: u32| quote(&format!("Sans Bold {size}"));
        // The cut and the failover slate.
        d += "input-selector name=vsel sync-streams=false cache-buffers=false ! queue max-size-buffers=3 ! comp.sink_0 ";
        for cam in config.cameras() {
            d += &format!(
                "intervideosrc channel={} timeout=2000000000 ! {vcaps} ! queue max-size-buffers=3 leaky=downstream name=camv_{n} ! vsel. ",
                video_channel(&cam.name),
                n = cam.name
            );
            d += &format!(
                "interaudiosrc channel={} ! {AUDIO_CAPS} ! volume name=mute_{n} ! queue name=cama_{n} ! asel. ",
                audio_channel(&cam.name),
                n = cam.name
            );
        }
        d += &format!(
            "videotestsrc is-live=true pattern=solid-color foreground-color=0xff202020 ! {vcaps} ! \
             textoverlay text={} valignment=center halignment=center font-desc={} ! queue name=techv ! vsel. ",
            quote("Bitte einen Moment Geduld"),
            text_font(18)
        );
        d += &format!(
            "audiotestsrc is-live=true wave=silence ! {AUDIO_CAPS} ! queue name=techa ! asel. "
        );
        // Picture in picture: bottom right, a quarter of the size, hidden (alpha 0) until asked for.
        let pip = config.inputs().find(|i| i.pip).map(|i| i.name.clone());
        let (pw, ph) = (w / 4 / 2 * 2, h / 4 / 2 * 2);
        let comp_pip = if pip.is_some() {
            format!(
                "sink_1::xpos={} sink_1::ypos={} sink_1::alpha=0 sink_1::zorder=1",
                w - pw - w / 40,
                h - ph - h / 6
            )
        } else {
            String::new()
        };
        if let Some(name) = &pip {
            d += &format!(
                "intervideosrc channel={} timeout=2000000000 ! {vcaps} ! videoscale ! video/x-raw,width={pw},height={ph} ! \
                 queue max-size-buffers=3 leaky=downstream name=pipq ! comp.sink_1 ",
                video_channel(name)
            );
        }
        let town = config.overlay.town.clone().unwrap_or_default();
        let live_mark = if town.is_empty() {
            "● LIVE".to_string()
        } else {
            format!("● LIVE  {town}")
        };
        let logo = match &config.overlay.logo {
            Some(path) => format!(
                "! gdkpixbufoverlay location={} relative-x=0.86 relative-y=0.10 overlay-width={} overlay-height={} ",
                quote(&path.to_string_lossy()),
                w / 10,
                w / 10
            ),
            None => String::new(),
        };
        d += &format!(
            "compositor name=comp background=black start-time-selection=first {comp_pip} ! videoconvert ! {vcaps} ! \
             textoverlay name=agenda silent=true valignment=top halignment=left xpad=16 ypad=12 font-desc={} shaded-background=true ! \
             textoverlay name=lower silent=true valignment=bottom halignment=left xpad=24 ypad={} font-desc={} shaded-background=true ! \
             textoverlay text={} valignment=top halignment=right xpad=16 ypad=12 font-desc={} color=0xffff4040 shaded-background=true ! \
             clockoverlay time-format=%H:%M:%S valignment=bottom halignment=right xpad=16 ypad=12 font-desc={} shaded-background=true \
             {logo}! queue max-size-buffers=3 name=progv ! closedv. ",
            text_font(12),
            h / 8,
            text_font(16),
            quote(&live_mark),
            text_font(12),
            text_font(10),
        );
        d += &format!(
            "videotestsrc is-live=true pattern=solid-color foreground-color=0xff{:02x}{:02x}{:02x} ! {vcaps} ! \
             textoverlay text={} valignment=center halignment=center font-desc={} ! queue max-size-buffers=3 name=slatev ! closedv. ",
            SLATE_RGB[0],
            SLATE_RGB[1],
            SLATE_RGB[2],
            quote(SLATE_TEXT),
            text_font(20)
        );
        let ladder = renditions(v);
        // With renditions, scene-cut keyframes would differ between them and shift
        // their segment boundaries apart: keyframes come only every `gop` frames.
        let aligned = if ladder.len() > 1 && encoder == Encoder::X264 {
            " option-string=scenecut=0"
        } else {
            ""
        };
        let describe = |r: &Rendition| {
            let rv = VideoConfig {
                width: r.width,
                height: r.height,
                bitrate_kbps: r.bitrate_kbps,
                ..v.clone()
            };
            encoder
                .describe(&rv)
                .replacen(" ! h264parse", &format!("{aligned} ! h264parse"), 1)
        };
        d += &format!(
            "input-selector name=closedv sync-streams=false cache-buffers=false ! videoconvert ! {vcaps} ! tee name=rawt \
             rawt. ! queue max-size-buffers=5 ! {} ! tee name=vt ",
            describe(&ladder[0])
        );
        for r in &ladder[1..] {
            d += &format!(
                "rawt. ! queue max-size-buffers=5 ! videoscale ! video/x-raw,width={},height={} ! {} ! queue ! {} ",
                r.width,
                r.height,
                describe(r),
                sink(
                    &format!("live_{}", r.dir),
                    &out.live_dir.join(&r.dir),
                    "video",
                    v,
                    Some(out.live_segments)
                )
            );
        }
        d += "input-selector name=asel sync-streams=false cache-buffers=false ! volume name=progvol ! queue name=proga ! closeda. ";
        d += &format!(
            "audiotestsrc is-live=true wave=silence ! {AUDIO_CAPS} ! queue name=silencea ! closeda. "
        );
        // Perfect timestamps: AAC frames follow each other gaplessly instead of
        // tracking the jitter of the inter sources (which could step time back).
        d += &format!(
            "input-selector name=closeda sync-streams=false cache-buffers=false ! level name=level interval=500000000 ! \
             audioconvert ! avenc_aac bitrate={} perfect-timestamp=true ! aacparse ! tee name=at ",
            v.audio_bitrate_kbps * 1000
        );
        let arch = out.recording_dir;
        d += &format!(
            "vt. ! queue ! {} ",
            sink(
                "live_v",
                &out.live_dir.join("video"),
                "video",
                v,
                Some(out.live_segments)
            )
        );
        d += &format!(
            "at. ! queue ! {} ",
            sink(
                "live_a",
                &out.live_dir.join("audio"),
                "audio",
                v,
                Some(out.live_segments)
            )
        );
        if config.restream.is_some() {
            // Bounded and leaky: a restream that falls behind drops its own data.
            let leaky = "queue leaky=downstream max-size-time=2000000000 max-size-buffers=0 max-size-bytes=0";
            d += &format!(
                "flvmux name=rtmpmux streamable=true ! appsink name=rtmp_out sync=false drop=true max-buffers=200 \
                 vt. ! {leaky} ! rtmpmux.video at. ! {leaky} ! rtmpmux.audio "
            );
        }
        let _ = f;

        let pipeline = gst::parse::launch(&d)
            .map_err(|e| PipelineError::Build(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| PipelineError::Build("not a pipeline".into()))?;
        let by_name = |n: &str| {
            pipeline
                .by_name(n)
                .ok_or_else(|| PipelineError::Missing(n.into()))
        };
        // The selector pad an upstream element feeds.
        let peer_of = |n: &str| -> Result<gst::Pad, PipelineError> {
            by_name(n)?
                .static_pad("src")
                .and_then(|p| p.peer())
                .ok_or_else(|| PipelineError::Missing(format!("{n} → selector")))
        };
        let mut cameras = Vec::new();
        for cam in config.cameras() {
            cameras.push((
                cam.name.clone(),
                peer_of(&format!("camv_{}", cam.name))?,
                peer_of(&format!("cama_{}", cam.name))?,
            ));
        }
        let pip = match pip {
            Some(name) => Some((name, peer_of("pipq")?)),
            None => None,
        };
        let mut archive = Archive::new(&pipeline, out.recording_dir, out.min_free_mb);
        for (bin, tee, name, sub) in [
            ("archive_v", "vt", "arch_v", "video"),
            ("archive_a", "at", "arch_a", "audio"),
        ] {
            archive
                .attach(
                    &pipeline,
                    &by_name(tee)?,
                    bin,
                    &sink(name, &arch.join(sub), sub, v, None),
                )
                .map_err(|e| PipelineError::Build(format!("archive: {e}")))?;
            let sink = archive
                .sink(name)
                .ok_or_else(|| PipelineError::Missing(name.into()))?;
            archive.take_over_streams(&sink, &arch.join(sub));
            archive
                .write_ahead(&sink, &arch.join(sub))
                .map_err(|e| PipelineError::Build(format!("archive: {e}")))?;
        }
        archive.watch(&pipeline.bus().expect("pipelines have a bus"));
        let restream = match &config.restream {
            Some(r) => {
                let appsink = by_name("rtmp_out")?
                    .downcast::<gstreamer_app::AppSink>()
                    .map_err(|_| PipelineError::Missing("rtmp_out appsink".into()))?;
                Some(Restream::new(&appsink, &r.url))
            }
            None => None,
        };
        let stats = Arc::new(Stats::default());
        let program = Program {
            vsel: by_name("vsel")?,
            asel: by_name("asel")?,
            closedv: by_name("closedv")?,
            closeda: by_name("closeda")?,
            program_vpad: peer_of("progv")?,
            program_apad: peer_of("proga")?,
            slate_vpad: peer_of("slatev")?,
            silence_apad: peer_of("silencea")?,
            tech_vpad: peer_of("techv")?,
            tech_apad: peer_of("techa")?,
            cameras,
            pip,
            agenda: by_name("agenda")?,
            lower: by_name("lower")?,
            volume: by_name("progvol")?,
            source_volumes: config
                .cameras()
                .map(|c| by_name(&format!("mute_{}", c.name)))
                .collect::<Result<_, _>>()?,
            reopen_at: Arc::new(AtomicU64::new(0)),
            stats,
            bus_thread: None,
            archive,
            restream,
            watchdog: Watchdog::new(std::time::Instant::now()),
            pipeline: pipeline.clone(),
        };
        program.install_probes(&by_name("rawt")?, &by_name("vt")?, &by_name("at")?);
        never_wait_for_preroll(&pipeline);
        Ok(program)
    }

    fn install_probes(&self, rawtee: &gst::Element, vtee: &gst::Element, atee: &gst::Element) {
        // Every encoder and sink below sees time only move forward (see `forward_only`).
        for tee in [rawtee, atee] {
            if let Some(pad) = tee.static_pad("sink") {
                forward_only(&pad, self.stats.clone());
            }
        }
        // On the queue's side of the link, so a dropped buffer never reaches the selector.
        if let Some(gate_pad) = self.program_vpad.peer() {
            let reopen_at = self.reopen_at.clone();
            gate_pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let gate = reopen_at.load(Ordering::Acquire);
                match info.buffer().and_then(|b| running_time(pad, b)) {
                    Some(rt) if rt < gate => gst::PadProbeReturn::Drop,
                    _ => gst::PadProbeReturn::Ok,
                }
            });
        }
        for (tee, first) in [(vtee, true), (atee, false)] {
            let stats = self.stats.clone();
            if let Some(pad) = tee.static_pad("sink") {
                pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                    if let Some(b) = info.buffer() {
                        stats
                            .encoded_bytes
                            .fetch_add(b.size() as u64, Ordering::Relaxed);
                        if !first && !stats.audio_seen.load(Ordering::Relaxed) {
                            stats.audio_seen.store(true, Ordering::Release);
                        }
                        if first
                            && stats.first_pts.load(Ordering::Relaxed) == 0
                            && let Some(rt) = running_time(pad, b)
                        {
                            stats.first_pts.store(rt + 1, Ordering::Release);
                        }
                    }
                    gst::PadProbeReturn::Ok
                });
            }
        }
    }

    /// Starts the pipeline with the first camera on air (or the slate when `closed`).
    pub fn start(&mut self, closed: bool) -> Result<(), PipelineError> {
        self.cut_to(Some(0));
        self.set_closed(closed);
        self.spawn_bus_thread();
        self.watchdog = Watchdog::new(std::time::Instant::now());
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| PipelineError::Start(format!("{e}: {}", self.errors().join("; "))))?;
        Ok(())
    }

    fn spawn_bus_thread(&mut self) {
        let bus = self.pipeline.bus().expect("pipelines have a bus");
        let stats = self.stats.clone();
        let archive_bins = self.archive.weak_bins();
        let archive_failure = self.archive.failure.clone();
        self.bus_thread = Some(
            std::thread::Builder::new()
                .name("program-bus".into())
                .spawn(move || {
                    loop {
                        if stats.quit.load(Ordering::Relaxed) {
                            break;
                        }
                        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                            continue;
                        };
                        match msg.view() {
                            gst::MessageView::Eos(_) => {
                                let (lock, cv) = &stats.eos;
                                *lock.lock().unwrap() = true;
                                cv.notify_all();
                            }
                            gst::MessageView::Error(e) => {
                                let text = format!(
                                    "{}: {} ({:?})",
                                    e.src()
                                        .map(|s| s.path_string().to_string())
                                        .unwrap_or_default(),
                                    e.error(),
                                    e.debug()
                                );
                                // The archive's own errors end the archive, not the program.
                                if e.src().is_some_and(|s| Archive::owns(&archive_bins, s)) {
                                    tracing::warn!("archive: {text}");
                                    archive_failure.record(text);
                                    continue;
                                }
                                tracing::error!("program pipeline: {text}");
                                stats.errors.lock().unwrap().push(text);
                                let (lock, cv) = &stats.eos;
                                *lock.lock().unwrap() = true;
                                cv.notify_all();
                            }
                            gst::MessageView::Qos(q) => {
                                let (_processed, dropped) = q.stats();
                                if let gst::GenericFormattedValue::Buffers(Some(n)) = dropped {
                                    stats.dropped_frames.fetch_max(*n, Ordering::Relaxed);
                                }
                            }
                            gst::MessageView::Element(e) => {
                                if let Some(s) = e.structure()
                                    && s.name() == "level"
                                    && let Ok(peaks) = s.get::<gst::glib::ValueArray>("peak")
                                {
                                    let peak = peaks
                                        .iter()
                                        .filter_map(|v| v.get::<f64>().ok())
                                        .fold(f64::NEG_INFINITY, f64::max);
                                    *stats.audio_level_db.lock().unwrap() =
                                        Some(peak.max(-200.0) as f32);
                                }
                            }
                            _ => {}
                        }
                    }
                })
                .expect("spawning a thread"),
        );
    }

    /// The current running time in ms since the first encoded video frame: the offset
    /// chapters use, on the same timeline as the recording's timestamps.
    pub fn offset_ms(&self) -> u64 {
        let now = self.running_time_ns();
        match self.stats.first_pts.load(Ordering::Acquire) {
            0 => 0,
            first => now.saturating_sub(first - 1) / 1_000_000,
        }
    }

    fn running_time_ns(&self) -> u64 {
        let clock = self.pipeline.clock();
        let now = clock.as_ref().map(|c| c.time());
        match (now, self.pipeline.base_time()) {
            (Some(now), Some(base)) => now.saturating_sub(base).nseconds(),
            _ => 0,
        }
    }

    /// Slate and silence on (`true`) or the program picture back (`false`; the sound
    /// follows with [`Program::unmute`]).
    pub fn set_closed(&self, closed: bool) {
        if closed {
            // Audio first: muting at each source is instant, the selector switch follows.
            self.set_muted(true);
            self.closeda.set_property("active-pad", &self.silence_apad);
            self.closedv.set_property("active-pad", &self.slate_vpad);
            // Nothing of the program may pass until reopened.
            self.reopen_at.store(u64::MAX, Ordering::Release);
        } else {
            // Only what was captured from now on may go out.
            self.reopen_at
                .store(self.running_time_ns(), Ordering::Release);
            self.closedv.set_property("active-pad", &self.program_vpad);
            // Still muted at the sources: the selector passes silence until `unmute`.
            self.closeda.set_property("active-pad", &self.program_apad);
        }
    }

    /// Lets the microphones through again. Called a guard time after the closed part
    /// ends: the inter channels and queues upstream still hold sound captured during
    /// the closed part, and it must leave as the silence it was muted to.
    pub fn unmute(&self) {
        self.set_muted(false);
    }

    fn set_muted(&self, muted: bool) {
        self.volume.set_property("mute", muted);
        for v in &self.source_volumes {
            v.set_property("mute", muted);
        }
    }

    /// Which camera is on air: an index into the cameras, or `None` for the
    /// technical slate.
    pub fn cut_to(&self, camera: Option<usize>) {
        let (vpad, apad) = match camera.and_then(|i| self.cameras.get(i)) {
            Some((_, v, a)) => (v, a),
            None => (&self.tech_vpad, &self.tech_apad),
        };
        self.vsel.set_property("active-pad", vpad);
        self.asel.set_property("active-pad", apad);
    }

    pub fn camera_index(&self, name: &str) -> Option<usize> {
        self.cameras.iter().position(|(n, _, _)| n == name)
    }

    pub fn camera_names(&self) -> Vec<String> {
        self.cameras.iter().map(|(n, _, _)| n.clone()).collect()
    }

    /// Shows the picture-in-picture input (`true`) or hides it; `Err` without one.
    pub fn set_pip(&self, visible: bool) -> Result<(), String> {
        let (_, pad) = self
            .pip
            .as_ref()
            .ok_or("no picture-in-picture input is configured")?;
        pad.set_property("alpha", if visible { 1.0f64 } else { 0.0f64 });
        Ok(())
    }

    pub fn pip_name(&self) -> Option<&str> {
        self.pip.as_ref().map(|(n, _)| n.as_str())
    }

    pub fn set_agenda_text(&self, text: Option<&str>) {
        set_text(&self.agenda, text);
    }

    pub fn set_lower_third(&self, text: Option<&str>) {
        set_text(&self.lower, text);
    }

    pub fn errors(&self) -> Vec<String> {
        self.stats.errors.lock().unwrap().clone()
    }

    /// Archive and restream upkeep: cut off a failed archive, stop it at the
    /// reserve, (re)connect the restream; and the stall watchdog. Called by the
    /// studio every 100 ms.
    pub fn tick(&mut self) {
        self.archive.tick();
        if let Some(r) = &mut self.restream {
            r.tick();
        }
        let bytes = self.stats.encoded_bytes.load(Ordering::Relaxed);
        match self.watchdog.check(bytes, std::time::Instant::now()) {
            Verdict::Fine => {}
            Verdict::Stalled => {
                let (_, current, pending) = self.pipeline.state(gst::ClockTime::ZERO);
                tracing::error!(
                    "{} (state {current:?}, pending {pending:?})",
                    self.watchdog.problem().unwrap_or_default()
                );
                // Every sink is out of the state change (`never_wait_for_preroll`),
                // so this completes at once wherever the pipeline was held.
                if let Err(e) = self.pipeline.set_state(gst::State::Playing) {
                    tracing::error!("the program pipeline refuses PLAYING: {e}");
                }
            }
            Verdict::Recovered => tracing::warn!("the program pipeline encodes again"),
        }
    }

    /// Why the program is not reaching viewers though it has no error, if so.
    pub fn stalled(&self) -> Option<String> {
        self.watchdog.problem()
    }

    /// The first encoded video and audio have left the encoders.
    pub fn on_air(&self) -> bool {
        self.stats.first_pts.load(Ordering::Acquire) != 0
            && self.stats.audio_seen.load(Ordering::Acquire)
    }

    /// The pipeline itself, for tests that break it on purpose.
    #[doc(hidden)]
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Why the archive stopped recording, if it has (the live stream goes on).
    pub fn archive_error(&self) -> Option<String> {
        self.archive.stopped().map(str::to_owned)
    }

    pub fn restream_status(&self) -> Option<RestreamStatus> {
        self.restream.as_ref().map(|r| r.status())
    }

    /// Ends the streams: EOS through every branch so the HLS playlists get their
    /// ENDLIST and the archive its last fragment, then `Null`.
    pub fn stop(mut self) -> Result<(), PipelineError> {
        self.await_first_frame(FIRST_FRAME_WAIT);
        // A branch half-way out (idle probe pending) is finished first, so the EOS
        // below waits only for branches still linked.
        self.archive.settle();
        let result = self.finish();
        if let Some(r) = &mut self.restream {
            r.stop();
        }
        self.shut();
        result
    }

    /// A session stopped before its first encoded frames would leave no recording
    /// at all (and the server no report): staff who start and stop at once, or a
    /// machine slow to start its encoders, still get a short one. Bounded: a
    /// pipeline that never produces a frame is stopped anyway.
    fn await_first_frame(&self, within: std::time::Duration) {
        let deadline = std::time::Instant::now() + within;
        while !self.on_air() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn finish(&mut self) -> Result<(), PipelineError> {
        self.pipeline.send_event(gst::event::Eos::new());
        let (lock, cv) = &self.stats.eos;
        let guard = lock.lock().unwrap();
        let (_guard, timeout) = cv
            .wait_timeout_while(guard, std::time::Duration::from_secs(10), |eos| !*eos)
            .unwrap();
        drop(_guard);
        if timeout.timed_out() {
            return Err(PipelineError::Stop("EOS did not arrive within 10 s".into()));
        }
        match self.errors().last() {
            Some(e) => Err(PipelineError::Stop(e.clone())),
            None => Ok(()),
        }
    }

    fn shut(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        // Going to Null the archive sinks wrote their last playlist (ENDLIST).
        self.archive.persist();
        self.stats.quit.store(true, Ordering::Relaxed);
        if let Some(t) = self.bus_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Program {
    /// Every exit path leaves the pipeline in `Null` (a no-op after `stop`).
    fn drop(&mut self) {
        self.shut();
    }
}

/// Takes every sink in the pipeline (the appsinks inside the `hlscmafsink`s and
/// the restream's) out of the state change: a live pipeline has nothing to preroll.
///
/// Why: CI caught the restream test's pipeline stuck in PAUSED for good (stacks:
/// every muxer's appsink waiting in preroll, the sources pushing, nothing encoded,
/// and `send_event(EOS)` waiting on the state lock), so the session said "live"
/// and made nothing. Not reproduced here; a sink that never completes its
/// asynchronous state change holds the whole pipeline at PAUSED, and with
/// `async=false` none can.
fn never_wait_for_preroll(pipeline: &gst::Pipeline) {
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        // Base sinks: flagged as sinks and with the `async` property (bins have neither).
        if element.element_flags().contains(gst::ElementFlags::SINK)
            && element.find_property("async").is_some()
        {
            element.set_property("async", false);
        }
    }
}

/// Drops every buffer on `pad` whose running time is not after the one before.
///
/// Why: a selector switch or an audio encoder resyncing to jittery input can step
/// time back by a few milliseconds. Players stall on it, and hlssink3 0.14 panics
/// (and takes the live stream down) when a segment starts before the first one:
/// its program date-time subtraction overflows. Losing one raw frame or one
/// 21 ms AAC frame is inaudible and invisible; the pad carries raw video or
/// encoded audio, where every buffer stands alone.
fn forward_only(pad: &gst::Pad, stats: Arc<Stats>) {
    // Running time + 1 of the last buffer let through (0: none yet); one
    // streaming thread per pad writes it.
    let last = AtomicU64::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(rt) = info.buffer().and_then(|b| running_time(pad, b)) else {
            return gst::PadProbeReturn::Ok;
        };
        if rt < last.load(Ordering::Relaxed) {
            if stats.backwards.fetch_add(1, Ordering::Relaxed) == 0 {
                let at = pad.parent_element().map(|e| e.name().to_string());
                tracing::warn!(
                    ?at,
                    "time stepped back: the buffer is dropped (logged once)"
                );
            }
            return gst::PadProbeReturn::Drop;
        }
        last.store(rt + 1, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
}

/// A buffer's running time (ns) by its pad's segment. Encoders shift timestamps
/// (x264enc by an hour, to leave room for negative DTS); running time is what every
/// branch shares with the pipeline clock.
fn running_time(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<u64> {
    let pts = buffer.pts()?;
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::format::Time>()?;
    segment.to_running_time(pts).map(|t| t.nseconds())
}

fn set_text(overlay: &gst::Element, text: Option<&str>) {
    match text {
        Some(t) => {
            overlay.set_property("text", t);
            overlay.set_property("silent", false);
        }
        None => overlay.set_property("silent", true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gstreamer_app as gst_app;

    #[test]
    fn time_that_steps_back_is_dropped_before_the_encoders() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(
            "appsrc name=src format=time caps=audio/mpeg,mpegversion=4 ! identity name=guard ! appsink name=out sync=false",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let by = |n: &str| pipeline.by_name(n).unwrap();
        let stats = Arc::new(Stats::default());
        forward_only(&by("guard").static_pad("sink").unwrap(), stats.clone());
        let src = by("src").downcast::<gst_app::AppSrc>().unwrap();
        let out = by("out").downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        // 72 ms, then a step back to 58 ms (as seen from a resyncing AAC encoder),
        // a repeat, and time moving on again.
        for ms in [50, 72, 58, 72, 93, 114] {
            let mut b = gst::Buffer::with_size(4).unwrap();
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(ms));
            src.push_buffer(b).unwrap();
        }
        src.end_of_stream().unwrap();
        let mut passed = Vec::new();
        while let Ok(sample) = out.pull_sample() {
            passed.push(sample.buffer().unwrap().pts().unwrap().mseconds());
        }
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(passed, [50, 72, 93, 114]);
        assert_eq!(stats.backwards.load(Ordering::Relaxed), 2);
    }
}
