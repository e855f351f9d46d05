//! Choosing the H.264 encoder: a hardware encoder where one works, x264 otherwise.
//!
//! A factory being registered proves little (vaapih264enc loads on machines without
//! a VA driver), so each candidate is probed by encoding a few frames for real.
//! Every encoder is configured for live use: no B-frames, a keyframe exactly every
//! segment (`framerate × segment_s` frames), so each HLS segment and each archive
//! fragment starts with one.

use crate::config::{EncoderChoice, VideoConfig};
use gstreamer as gst;
use gstreamer::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    X264,
    Nvh264,
    Vaapih264,
    V4l2h264,
}

impl Encoder {
    pub fn factory(self) -> &'static str {
        match self {
            Encoder::X264 => "x264enc",
            Encoder::Nvh264 => "nvh264enc",
            Encoder::Vaapih264 => "vaapih264enc",
            Encoder::V4l2h264 => "v4l2h264enc",
        }
    }

    /// The launch description of the encoder, from raw video to parsed H.264.
    pub fn describe(self, v: &VideoConfig) -> String {
        let gop = v.framerate * v.segment_s;
        let kbps = v.bitrate_kbps;
        let enc = match self {
            // zerolatency: no lookahead, no B-frames, sliced threads; veryfast keeps a
            // 1080p30 stream within one or two cores.
            Encoder::X264 => format!(
                "x264enc tune=zerolatency speed-preset=veryfast bitrate={kbps} \
                 key-int-max={gop} bframes=0 vbv-buf-capacity=1000"
            ),
            Encoder::Nvh264 => format!(
                "nvh264enc bitrate={kbps} gop-size={gop} bframes=0 zerolatency=true rc-mode=cbr"
            ),
            Encoder::Vaapih264 => format!(
                "vaapih264enc bitrate={kbps} keyframe-period={gop} max-bframes=0 rate-control=cbr"
            ),
            Encoder::V4l2h264 => format!(
                "v4l2h264enc extra-controls=\"controls,video_bitrate={},h264_i_frame_period={gop}\"",
                kbps * 1000
            ),
        };
        format!("{enc} ! h264parse")
    }
}

/// The encoder to use for `v`: the configured one, or with `auto` the first hardware
/// encoder that passes a probe, else x264.
pub fn choose(v: &VideoConfig) -> Encoder {
    let wanted = match v.encoder {
        EncoderChoice::X264 => return Encoder::X264,
        EncoderChoice::Nvh264 => vec![Encoder::Nvh264],
        EncoderChoice::Vaapih264 => vec![Encoder::Vaapih264],
        EncoderChoice::V4l2h264 => vec![Encoder::V4l2h264],
        EncoderChoice::Auto => vec![Encoder::Nvh264, Encoder::Vaapih264, Encoder::V4l2h264],
    };
    for e in wanted {
        match probe(e, v) {
            Ok(()) => {
                tracing::info!("using hardware encoder {}", e.factory());
                return e;
            }
            Err(why) => tracing::info!("encoder {} not usable: {why}", e.factory()),
        }
    }
    Encoder::X264
}

/// Encodes a few small frames with `e`; `Ok` when they come out.
pub fn probe(e: Encoder, v: &VideoConfig) -> Result<(), String> {
    if gst::ElementFactory::find(e.factory()).is_none() {
        return Err("not installed".into());
    }
    let small = VideoConfig {
        width: 320,
        height: 180,
        ..v.clone()
    };
    let description = format!(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=180,framerate={}/1 ! {} ! fakesink",
        v.framerate,
        e.describe(&small)
    );
    let pipeline = gst::parse::launch(&description).map_err(|err| err.to_string())?;
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|err| err.to_string())?;
        let bus = pipeline.bus().ok_or("no bus")?;
        match bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(5),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            Some(m) if m.type_() == gst::MessageType::Eos => Ok(()),
            Some(m) => Err(format!("{m:?}")),
            None => Err("timed out".into()),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x264_passes_its_probe_and_unknown_hardware_is_skipped() {
        gst::init().unwrap();
        let v = VideoConfig::default();
        assert_eq!(probe(Encoder::X264, &v), Ok(()));
        // Whatever hardware this machine has, auto ends on an encoder that works.
        let chosen = choose(&v);
        assert_eq!(probe(chosen, &v), Ok(()));
    }
}
