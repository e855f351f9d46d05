//! Finalizing a recording into a VOD package: closed VOD playlists, WebVTT chapters,
//! a poster image and a single MP4 for download. Runs at session end and, for a
//! recording a crash left open, on the next start; it only reads what the recording
//! left on disk, so both cases are the same code.

use crate::chapters;
use crate::recording::{self, RecordingDir};
use content::broadcast::{RecordingFinalized, VodFiles};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::io::Write;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum VodError {
    #[error("recording {id}: {what}: {source}")]
    Io {
        id: String,
        what: String,
        source: std::io::Error,
    },
    #[error("recording {id}: nothing was recorded")]
    Empty { id: String },
}

/// A media playlist's segments, as the playlist names them.
#[derive(Debug, Default, PartialEq)]
pub struct MediaPlaylist {
    /// Init segments and media segments in playback order.
    pub files: Vec<String>,
    pub duration_ms: u64,
    pub ended: bool,
}

pub fn parse_media_playlist(text: &str) -> MediaPlaylist {
    let mut p = MediaPlaylist::default();
    for line in text.lines().map(str::trim) {
        if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
            if let Some(uri) = attrs
                .split("URI=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
            {
                p.files.push(uri.to_owned());
            }
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let secs: f64 = d.split(',').next().unwrap_or("0").parse().unwrap_or(0.0);
            p.duration_ms += (secs * 1000.0).round() as u64;
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            p.files.push(line.to_owned());
        }
    }
    p
}

/// Turns an EVENT playlist (cut short by a crash, or already ended) into a VOD one.
pub fn close_playlist(text: &str) -> String {
    let mut out: String = text
        .lines()
        .map(|l| {
            if l.trim() == "#EXT-X-PLAYLIST-TYPE:EVENT" {
                "#EXT-X-PLAYLIST-TYPE:VOD"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    if !out.contains("#EXT-X-ENDLIST") {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// Finalizes the recording and writes `finalized.json`; returns the report.
pub fn finalize(
    rec: &RecordingDir,
    message_id: u64,
    recovered: bool,
) -> Result<RecordingFinalized, VodError> {
    let io = |what: &str| {
        let id = rec.id.clone();
        let what = what.to_owned();
        move |source| VodError::Io { id, what, source }
    };
    let session = rec.session().map_err(io("reading session.json"))?;
    // Leftovers of writes a crash interrupted (GIO's temporary files) are not part of it.
    for sub in ["video", "audio"] {
        if let Ok(entries) = std::fs::read_dir(rec.path(sub)) {
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(".goutputstream")
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    let mut playlists = Vec::new();
    for (sub, name) in [("video", "video.m3u8"), ("audio", "audio.m3u8")] {
        let rel = format!("{sub}/{name}");
        let path = rec.path(&rel);
        let text = std::fs::read_to_string(&path).map_err(io(&format!("reading {rel}")))?;
        let closed = close_playlist(&text);
        recording::write_synced(&path, closed.as_bytes()).map_err(io(&format!("writing {rel}")))?;
        let parsed = parse_media_playlist(&closed);
        playlists.push((sub, rel, parsed));
    }
    let duration_ms = playlists[0].2.duration_ms;
    if playlists[0].2.files.len() < 2 {
        return Err(VodError::Empty { id: rec.id.clone() });
    }

    let (events, torn) =
        chapters::read(&rec.path(recording::CHAPTER_LOG)).map_err(io("reading chapters"))?;
    if let Some(torn) = torn {
        tracing::warn!(
            recording = rec.id,
            "chapter log ends in a torn line ({torn}); it is ignored"
        );
    }
    let agenda = chapters::agenda_chapters(&events, duration_ms);
    recording::write_synced(
        &rec.path("chapters.vtt"),
        chapters::webvtt(&agenda).as_bytes(),
    )
    .map_err(io("writing chapters.vtt"))?;

    // Concatenating init + fragments gives a valid fragmented MP4 per track, which
    // the remux and the poster read.
    let tmp = rec.path("tmp");
    std::fs::create_dir_all(&tmp).map_err(io("creating tmp"))?;
    let mut track_files = Vec::new();
    for (sub, _, parsed) in &playlists {
        let out = tmp.join(format!("{sub}.mp4"));
        let mut f = std::fs::File::create(&out).map_err(io("writing track"))?;
        for file in &parsed.files {
            let bytes = std::fs::read(rec.path(&format!("{sub}/{file}")))
                .map_err(io(&format!("reading {sub}/{file}")))?;
            f.write_all(&bytes).map_err(io("writing track"))?;
        }
        f.sync_all().map_err(io("writing track"))?;
        track_files.push(out);
    }
    let poster = match make_poster(&track_files[0], &rec.path("poster.jpg")) {
        Ok(()) => Some(rec.archive_rel("poster.jpg")),
        Err(e) => {
            tracing::warn!(recording = rec.id, "no poster: {e}");
            None
        }
    };
    let mp4 = if session.session.download_allowed {
        match remux(&track_files[0], &track_files[1], &rec.path("download.mp4")) {
            Ok(()) => Some(rec.archive_rel("download.mp4")),
            Err(e) => {
                tracing::warn!(recording = rec.id, "no download MP4: {e}");
                None
            }
        }
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&tmp);

    let mut hls_files = vec![
        rec.archive_rel("video/video.m3u8"),
        rec.archive_rel("audio/audio.m3u8"),
    ];
    for (sub, _, parsed) in &playlists {
        hls_files.extend(
            parsed
                .files
                .iter()
                .map(|f| rec.archive_rel(&format!("{sub}/{f}"))),
        );
    }
    let report = RecordingFinalized {
        id: message_id,
        recording_id: rec.id.clone(),
        meeting_id: session.session.meeting_id.clone(),
        started_at: session.started_at,
        duration_ms,
        recovered,
        files: VodFiles {
            hls_playlist: rec.archive_rel(recording::MASTER),
            hls_files,
            mp4,
            chapters_vtt: rec.archive_rel("chapters.vtt"),
            poster,
            chapter_log: rec.archive_rel(recording::CHAPTER_LOG),
        },
        chapters: agenda,
    };
    recording::write_synced(
        &rec.path(recording::FINALIZED),
        serde_json::to_string_pretty(&report)
            .expect("reports serialise")
            .as_bytes(),
    )
    .map_err(io("writing finalized.json"))?;
    Ok(report)
}

/// Runs a finite pipeline to EOS; an error names the element and says why.
pub fn run_to_eos(description: &str, timeout: gst::ClockTime) -> Result<(), String> {
    let pipeline = gst::parse::launch(description).map_err(|e| e.to_string())?;
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| e.to_string())?;
        let bus = pipeline.bus().ok_or("no bus")?;
        match bus.timed_pop_filtered(timeout, &[gst::MessageType::Eos, gst::MessageType::Error]) {
            Some(m) => match m.view() {
                gst::MessageView::Eos(_) => Ok(()),
                gst::MessageView::Error(e) => Err(format!(
                    "{}: {} ({:?})",
                    e.src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default(),
                    e.error(),
                    e.debug()
                )),
                _ => unreachable!("filtered"),
            },
            None => Err("timed out".into()),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn location(p: &Path) -> String {
    crate::input::quote(&p.to_string_lossy())
}

fn make_poster(video: &Path, out: &Path) -> Result<(), String> {
    run_to_eos(
        &format!(
            "filesrc location={} ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! jpegenc snapshot=true ! filesink location={}",
            location(video),
            location(out)
        ),
        gst::ClockTime::from_seconds(30),
    )
}

fn remux(video: &Path, audio: &Path, out: &Path) -> Result<(), String> {
    let tmp = out.with_extension("mp4.part");
    run_to_eos(
        &format!(
            "mp4mux name=mux faststart=true ! filesink location={} \
             filesrc location={} ! qtdemux ! h264parse ! queue ! mux.video_0 \
             filesrc location={} ! qtdemux ! aacparse ! queue ! mux.audio_0",
            location(&tmp),
            location(video),
            location(audio)
        ),
        gst::ClockTime::from_seconds(600),
    )?;
    std::fs::rename(&tmp, out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:EVENT\n\
        #EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:1,\nseg_00000.m4s\n#EXTINF:0.967,\nseg_00001.m4s\n";

    #[test]
    fn a_crashed_event_playlist_becomes_vod() {
        let closed = close_playlist(EVENT);
        assert!(closed.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(closed.ends_with("seg_00001.m4s\n#EXT-X-ENDLIST\n"));
        assert_eq!(
            close_playlist(&closed),
            closed,
            "closing twice changes nothing"
        );
        let p = parse_media_playlist(&closed);
        assert_eq!(p.files, ["init_0.mp4", "seg_00000.m4s", "seg_00001.m4s"]);
        assert_eq!(p.duration_ms, 1967);
        assert!(p.ended);
    }
}
