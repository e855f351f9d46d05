//! Video decoding for the video and livestream zones, through GStreamer.
//! Knows nothing of Bevy: the app pulls frames from a [`VideoStream`] without
//! waiting and copies them into its image.
//!
//! ```text
//! playbin (uri, video only) ─► video-sink bin:
//!     videoconvert ─► videoscale ─► RGBA W×H ─► appsink (1 buffer, drop old)
//! ```
//!
//! GStreamer scales to the zone's size (the frame loop only copies bytes).
//! A file loops without a gap through segment seeks: the first seek after
//! preroll is a flushing segment seek, and every `SegmentDone` is answered
//! with a non-flushing one back to the start, so the decoder never drains;
//! a pad probe keeps the running time continuous across the seam.
//!
//! A stream has failed on a bus error, when a livestream ends, when no first
//! frame comes within [`FIRST_FRAME_TIMEOUT`], and when a livestream that
//! played delivers no new frame for [`STALL_TIMEOUT`] (a hung broadcaster's
//! playlist neither grows nor ends, and the demuxer waits without an error).

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long a stream may take to show its first frame before it counts as
/// failed (an HLS stream over the network needs a few segments' worth).
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(8);

/// How long a livestream that played may go without a new frame before it
/// counts as failed: a broadcaster that hangs leaves a playlist that neither
/// grows nor ends, and the demuxer waits for it without an error.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Error)]
pub enum VideoError {
    #[error("GStreamer unavailable: {0}")]
    Init(String),
    #[error("cannot build the video pipeline: {0}")]
    Build(String),
    #[error("cannot start playing: {0}")]
    Start(String),
    #[error("stream error from {source_element}: {error} ({debug})")]
    Stream {
        source_element: String,
        error: String,
        debug: String,
    },
    #[error("the stream ended")]
    Ended,
    #[error("no frame within {0:?}")]
    NoFrame(Duration),
    #[error("the livestream stalled: no new frame for {0:?}")]
    Stalled(Duration),
}

/// One decoded frame: tightly packed RGBA rows of the requested size.
#[derive(Debug)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    /// The buffer's presentation time in the stream (it starts again at
    /// each loop of a file).
    pub pts: Option<Duration>,
}

/// A playing pipeline. Dropping it stops it (state `Null`).
#[derive(Debug)]
pub struct VideoStream {
    pipeline: gst::Element,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    looping: bool,
    /// The first (flushing) segment seek was made.
    segment_seek: bool,
    started: Instant,
    frames: u64,
    /// When the last frame was pulled.
    last_frame: Instant,
}

impl VideoStream {
    /// Starts playing `uri` scaled to `width` × `height` (aspect kept,
    /// borders added by `videoscale`), without sound. `looping`: a file
    /// that starts again at its end; otherwise the end is an error (a
    /// livestream that stops).
    pub fn start(uri: &str, width: u32, height: u32, looping: bool) -> Result<Self, VideoError> {
        gst::init().map_err(|e| VideoError::Init(e.to_string()))?;
        let caps = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::Rgba)
            .width(width.max(2) as i32)
            .height(height.max(2) as i32)
            .pixel_aspect_ratio(gst::Fraction::new(1, 1))
            .build();
        let sink = gst_app::AppSink::builder()
            .caps(&caps)
            // Only the newest frame matters: the frame loop takes one per
            // update and an old one is never worth showing.
            .max_buffers(1)
            .drop(true)
            .sync(true)
            .build();
        let bin = gst::Bin::new();
        let convert = make("videoconvert")?;
        let scale = make("videoscale")?;
        bin.add_many([&convert, &scale, sink.upcast_ref()])
            .map_err(|e| VideoError::Build(e.to_string()))?;
        gst::Element::link_many([&convert, &scale, sink.upcast_ref()])
            .map_err(|e| VideoError::Build(e.to_string()))?;
        let pad = convert
            .static_pad("sink")
            .ok_or_else(|| VideoError::Build("videoconvert has no sink pad".into()))?;
        if looping {
            continuous_loops(&pad);
        }
        let ghost =
            gst::GhostPad::with_target(&pad).map_err(|e| VideoError::Build(e.to_string()))?;
        bin.add_pad(&ghost)
            .map_err(|e| VideoError::Build(e.to_string()))?;
        let pipeline = gst::ElementFactory::make("playbin")
            .property("uri", uri)
            .property("video-sink", &bin)
            // Signage has no sound: no audio branch is even decoded.
            .property("audio-sink", make("fakesink")?)
            .build()
            .map_err(|e| VideoError::Build(format!("playbin: {e}")))?;
        pipeline.set_property_from_str("flags", "video");
        let bus = pipeline
            .bus()
            .ok_or_else(|| VideoError::Build("playbin has no bus".into()))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| VideoError::Start(e.to_string()))?;
        Ok(Self {
            pipeline,
            sink,
            bus,
            looping,
            segment_seek: false,
            started: Instant::now(),
            frames: 0,
            last_frame: Instant::now(),
        })
    }

    /// Frames pulled so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Handles what the pipeline reported and returns the newest frame, if a
    /// new one arrived. Never waits. An error means the stream is over: the
    /// caller shows something else.
    pub fn poll(&mut self) -> Result<Option<Frame>, VideoError> {
        while let Some(msg) = self.bus.pop() {
            use gst::MessageView;
            match msg.view() {
                MessageView::Error(e) => {
                    return Err(VideoError::Stream {
                        source_element: e
                            .src()
                            .map(|s| s.path_string().to_string())
                            .unwrap_or_default(),
                        error: e.error().to_string(),
                        debug: e.debug().map(|d| d.to_string()).unwrap_or_default(),
                    });
                }
                MessageView::AsyncDone(_) if self.looping && !self.segment_seek => {
                    self.segment_seek = true;
                    // Failing here only costs the gap-free loop: EOS then
                    // restarts with a flushing seek.
                    let _ = self.seek_start(gst::SeekFlags::FLUSH | gst::SeekFlags::SEGMENT);
                }
                MessageView::SegmentDone(_) => {
                    let _ = self.seek_start(gst::SeekFlags::SEGMENT);
                }
                MessageView::Eos(_) if self.looping => {
                    self.seek_start(gst::SeekFlags::FLUSH)
                        .map_err(|e| VideoError::Start(format!("restart at the end: {e}")))?;
                }
                MessageView::Eos(_) => return Err(VideoError::Ended),
                _ => {}
            }
        }
        let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::ZERO) else {
            if self.frames == 0 && self.started.elapsed() > FIRST_FRAME_TIMEOUT {
                return Err(VideoError::NoFrame(FIRST_FRAME_TIMEOUT));
            }
            if !self.looping && self.frames > 0 && self.last_frame.elapsed() > STALL_TIMEOUT {
                return Err(VideoError::Stalled(STALL_TIMEOUT));
            }
            return Ok(None);
        };
        let frame = sample_to_frame(&sample);
        if frame.is_some() {
            self.frames += 1;
            self.last_frame = Instant::now();
        }
        Ok(frame)
    }

    fn seek_start(&self, flags: gst::SeekFlags) -> Result<(), gst::glib::BoolError> {
        self.pipeline.seek(
            1.0,
            flags,
            gst::SeekType::Set,
            gst::ClockTime::ZERO,
            gst::SeekType::None,
            gst::ClockTime::NONE,
        )
    }
}

impl Drop for VideoStream {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Keeps the running time continuous across the loops of a file. A
/// non-flushing segment seek starts the next segment at the running time of
/// the demuxer's last *position*, the start of the last frame, not its end:
/// the first frame of the next loop would be due together with the last one
/// of this loop, and one of them dropped. This probe moves each new
/// segment's base on to where the last buffer ended (a flush starts over).
fn continuous_loops(pad: &gst::Pad) {
    #[derive(Default)]
    struct State {
        segment: Option<gst::FormattedSegment<gst::ClockTime>>,
        /// The running time at which the last buffer ends.
        end: Option<gst::ClockTime>,
    }
    let state = std::sync::Mutex::new(State::default());
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            match &info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    if let (Some(segment), Some(pts)) = (&state.segment, buffer.pts()) {
                        let end = pts + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
                        state.end = segment.to_running_time(end).or(state.end);
                    }
                }
                Some(gst::PadProbeData::Event(event)) => match event.view() {
                    gst::EventView::FlushStop(_) => state.end = None,
                    gst::EventView::Segment(e) => {
                        let Some(segment) = e.segment().downcast_ref::<gst::ClockTime>() else {
                            return gst::PadProbeReturn::Ok;
                        };
                        let mut segment = segment.clone();
                        if let (Some(end), Some(starts)) =
                            (state.end, segment.to_running_time(segment.start()))
                            && starts < end
                        {
                            let base = segment.base().unwrap_or(gst::ClockTime::ZERO);
                            segment.set_base(base + (end - starts));
                            let fixed = gst::event::Segment::builder(&segment)
                                .seqnum(event.seqnum())
                                .build();
                            info.data = Some(gst::PadProbeData::Event(fixed));
                        }
                        state.segment = Some(segment);
                    }
                    _ => {}
                },
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// The `file://` URI of a local file (`None` when the path cannot be made
/// absolute or converted: the zone keeps its card).
pub fn file_uri(path: &std::path::Path) -> Option<String> {
    let path = std::path::absolute(path).ok()?;
    gst::glib::filename_to_uri(&path, None)
        .ok()
        .map(|u| u.to_string())
}

fn make(factory: &str) -> Result<gst::Element, VideoError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| VideoError::Build(format!("{factory}: {e}")))
}

/// Copies a sample's RGBA rows, dropping any row padding.
fn sample_to_frame(sample: &gst::Sample) -> Option<Frame> {
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let buffer = sample.buffer()?;
    let map = buffer.map_readable().ok()?;
    let (w, h) = (info.width(), info.height());
    let row = w as usize * 4;
    let stride = usize::try_from(*info.stride().first()?).ok()?;
    let offset = *info.offset().first()?;
    let data = map.as_slice();
    let mut rgba = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        let start = offset + y * stride;
        rgba.extend_from_slice(data.get(start..start + row)?);
    }
    Some(Frame {
        width: w,
        height: h,
        rgba,
        pts: buffer.pts().map(|t| Duration::from_nanos(t.nseconds())),
    })
}
