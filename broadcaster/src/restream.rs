//! The RTMP(S) restream to a platform (YouTube, …), isolated from everything else.
//!
//! ```text
//!  program pipeline                                      restream pipeline (one per attempt)
//!  vt. ─ queue (leaky) ─┐
//!                       ├ flvmux ─ appsink ── callback ──► appsrc (leaky) ─ rtmp2sink
//!  at. ─ queue (leaky) ─┘         (drop, never blocks)
//! ```
//!
//! The FLV is muxed in the program pipeline behind leaky queues and leaves it through
//! an appsink that never blocks; the connection lives in a pipeline of its own. So
//! nothing the network does (refused, dropped, stalled) reaches the program pipeline:
//! an error of `rtmp2sink` is an error on the *restream* pipeline's bus, which is
//! torn down (`Null`) and rebuilt after a backoff of 1 s, doubling up to 30 s. An
//! attempt that raises no error but gets no media flowing within 10 s (a handshake
//! the peer never finishes) is given up the same way.
//!
//! A new connection gets the FLV stream headers (the caps' `streamheader`: FLV
//! header, metadata, AVC and AAC configuration) and then media from the next video
//! keyframe on; the encoder makes one every segment, so a reconnect starts within
//! `segment_s`. No keyframe is forced: that would cut the HLS segments short.
//!
//! RTMPS works through `rtmp2sink`'s TLS (GIO's TLS backend from glib-networking,
//! on Debian 12 with GStreamer 1.22); without a TLS backend the connection fails,
//! the error is reported, and it is retried like any other.

use content::broadcast::{RestreamState, RestreamStatus};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long an attempt may take to get media flowing. A handshake that hangs
/// (the peer accepts and then says nothing, or answers garbage) raises no
/// error on the bus; without this the restream would wait on it forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the appsink callback (a program streaming thread) shares with the studio.
#[derive(Default)]
struct Feed {
    /// The current attempt's source, if one is up.
    src: Option<gst_app::AppSrc>,
    /// Drop media until a video keyframe: FLV must begin with one.
    waiting_for_keyframe: bool,
    /// Media buffers handed to the current attempt.
    pushed: u64,
}

pub struct Restream {
    location: String,
    shown: String,
    feed: Arc<Mutex<Feed>>,
    pipeline: Option<gst::Pipeline>,
    connected: bool,
    attempts: u32,
    last_error: Option<String>,
    retry_at: Option<Instant>,
    /// When the attempt in progress gives up unless connected by then.
    connect_by: Option<Instant>,
    backoff: Duration,
}

/// `url` without its stream key: what status and logs show.
pub fn redact(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((head, _key)) => format!("{head}/…"),
        None => "…".into(),
    }
}

/// An FLV video tag carrying a keyframe (tag type 9, frame type 1).
fn is_video_keyframe(data: &[u8]) -> bool {
    data.len() > 11 && data[0] == 9 && data[11] >> 4 == 1
}

impl Restream {
    /// Takes the FLV from `appsink` (in the program pipeline); the first connection
    /// attempt is made by the first [`Restream::tick`].
    pub fn new(appsink: &gst_app::AppSink, url: &str) -> Restream {
        let feed = Arc::new(Mutex::new(Feed::default()));
        let shared = feed.clone();
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut feed = shared.lock().unwrap();
                    let Some(src) = feed.src.clone() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Some(buffer) = sample.buffer_owned() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    // Headers travel in the caps (`streamheader`), sent on connecting.
                    if buffer.flags().contains(gst::BufferFlags::HEADER) {
                        return Ok(gst::FlowSuccess::Ok);
                    }
                    if feed.waiting_for_keyframe {
                        let key = buffer.map_readable().is_ok_and(|m| is_video_keyframe(&m));
                        if !key {
                            return Ok(gst::FlowSuccess::Ok);
                        }
                        feed.waiting_for_keyframe = false;
                        if let Some(caps) = sample.caps_owned() {
                            src.set_caps(Some(&caps));
                        }
                    }
                    feed.pushed += 1;
                    // Never blocks (block=false, leaky): a slow platform loses
                    // restream data, never program time. Its errors are the
                    // restream pipeline's business.
                    let _ = src.push_buffer(buffer);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        Restream {
            location: url.to_owned(),
            shown: redact(url),
            feed,
            pipeline: None,
            connected: false,
            attempts: 0,
            last_error: None,
            retry_at: Some(Instant::now()),
            connect_by: None,
            backoff: FIRST_BACKOFF,
        }
    }

    /// Attempts a connection when one is due, handles the current attempt's bus
    /// messages, and notices when media flows. Called by the studio every 100 ms.
    pub fn tick(&mut self) {
        if let Some(pipeline) = &self.pipeline {
            let bus = pipeline.bus().expect("pipelines have a bus");
            let mut failure = None;
            while let Some(msg) = bus.pop() {
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        failure = Some(format!("{} ({})", e.error(), element_name(&msg)));
                        break;
                    }
                    gst::MessageView::Eos(_) => {
                        failure = Some("the platform ended the stream".into());
                        break;
                    }
                    _ => {}
                }
            }
            if let Some(why) = failure {
                self.fail(why);
            } else if !self.connected && self.media_flows() {
                self.connected = true;
                self.connect_by = None;
                self.backoff = FIRST_BACKOFF;
                tracing::info!(
                    target = self.shown,
                    attempt = self.attempts,
                    "restream connected"
                );
            } else if self.connect_by.is_some_and(|t| Instant::now() >= t) {
                self.fail(format!(
                    "no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
        }
        if self.pipeline.is_none() && self.retry_at.is_some_and(|t| Instant::now() >= t) {
            self.retry_at = None;
            self.connect();
        }
    }

    /// Connected: `rtmp2sink` reports a live connection with bytes acknowledged
    /// beyond the handshake, and media has been handed to it.
    fn media_flows(&self) -> bool {
        let pushed = self.feed.lock().unwrap().pushed;
        let Some(sink) = self.pipeline.as_ref().and_then(|p| p.by_name("rtmp")) else {
            return false;
        };
        let stats = sink.property::<Option<gst::Structure>>("stats");
        let sent = stats
            .as_ref()
            .and_then(|s| s.get::<u64>("out-bytes-total").ok())
            .unwrap_or(0);
        pushed > 0 && sent > 0 && sink.current_state() == gst::State::Playing
    }

    fn connect(&mut self) {
        self.attempts += 1;
        tracing::info!(
            target = self.shown,
            attempt = self.attempts,
            "restream connecting"
        );
        let description = format!(
            "appsrc name=src is-live=true format=time block=false max-bytes=4000000 leaky-type=downstream ! \
             rtmp2sink name=rtmp sync=false async=false location={}",
            crate::input::quote(&self.location)
        );
        let pipeline = match gst::parse::launch(&description) {
            Ok(p) => p
                .downcast::<gst::Pipeline>()
                .expect("a launch line is a pipeline"),
            Err(e) => return self.fail(format!("cannot build the restream pipeline: {e}")),
        };
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .expect("the description names an appsrc");
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            let _ = pipeline.set_state(gst::State::Null);
            return self.fail(format!("cannot start the restream: {e}"));
        }
        *self.feed.lock().unwrap() = Feed {
            src: Some(src),
            waiting_for_keyframe: true,
            pushed: 0,
        };
        self.pipeline = Some(pipeline);
        self.connect_by = Some(Instant::now() + CONNECT_TIMEOUT);
    }

    fn fail(&mut self, why: String) {
        self.teardown();
        self.connected = false;
        self.connect_by = None;
        tracing::warn!(
            target = self.shown,
            attempt = self.attempts,
            retry_in_s = self.backoff.as_secs(),
            "restream failed: {why}"
        );
        self.last_error = Some(why);
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn teardown(&mut self) {
        // The callback stops feeding first, so nothing is pushed into a dying source.
        *self.feed.lock().unwrap() = Feed::default();
        if let Some(p) = self.pipeline.take() {
            // On a thread of its own: rtmp2sink's shutdown waits on its connection,
            // and a connection that hangs must not hold up the studio thread.
            let _ = std::thread::Builder::new()
                .name("restream-teardown".into())
                .spawn(move || {
                    let _ = p.set_state(gst::State::Null);
                });
        }
    }

    pub fn status(&self) -> RestreamStatus {
        RestreamStatus {
            target: self.shown.clone(),
            state: if self.pipeline.is_none() {
                RestreamState::Reconnecting
            } else if self.connected {
                RestreamState::Connected
            } else {
                RestreamState::Connecting
            },
            attempts: self.attempts,
            last_error: self.last_error.clone(),
        }
    }

    /// Ends the stream: EOS to the platform (briefly awaited), then `Null`.
    pub fn stop(&mut self) {
        let src = self.feed.lock().unwrap().src.take();
        if let (Some(src), Some(p)) = (src, &self.pipeline) {
            let _ = src.end_of_stream();
            if self.connected {
                let _ = p.bus().expect("pipelines have a bus").timed_pop_filtered(
                    gst::ClockTime::from_seconds(2),
                    &[gst::MessageType::Eos, gst::MessageType::Error],
                );
            }
        }
        self.teardown();
        self.retry_at = None;
    }
}

impl Drop for Restream {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn element_name(msg: &gst::Message) -> String {
    msg.src().map(|s| s.name().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_key_is_never_shown() {
        assert_eq!(
            redact("rtmps://a.rtmps.youtube.com/live2/abcd-efgh"),
            "rtmps://a.rtmps.youtube.com/live2/…"
        );
    }

    #[test]
    fn keyframes_are_told_from_other_tags() {
        let mut tag = vec![0u8; 16];
        tag[0] = 9;
        tag[11] = 0x17; // keyframe, AVC
        assert!(is_video_keyframe(&tag));
        tag[11] = 0x27; // inter frame
        assert!(!is_video_keyframe(&tag));
        tag[0] = 8; // audio
        assert!(!is_video_keyframe(&tag));
    }
}
