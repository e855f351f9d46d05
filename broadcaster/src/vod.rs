//! Finalizing a recording into a VOD package: closed VOD playlists, WebVTT chapters,
//! a poster image and a single MP4 for download. Runs at session end and, for a
//! recording a crash left open, on the next start; it only reads what the recording
//! left on disk, so both cases are the same code.
//!
//! After a crash the EVENT playlist names the complete segments; the segment that
//! was in progress exists as the archive's in-progress copy (its CMAF chunks as
//! they came, see [`crate::archive`]). Finalizing keeps that copy's whole
//! `moof`+`mdat` pairs (the same box walk that finds a short write), drops a torn
//! tail, writes it as the next segment and names it in the playlist with its real
//! duration (the samples' durations in `trun`/`tfhd`, by the init segment's
//! timescale), so the VOD playlist, the download and the chapters include it. It
//! starts with the fragment's keyframe, as every segment does. Copies that are
//! already in the playlist (a clean end) are recognised by their first decode
//! time (`tfdt`) and only removed.

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

/// Whether `bytes` are whole MP4 boxes, the last ending at the end of the file.
pub fn complete_mp4(bytes: &[u8]) -> bool {
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 8) else {
            return false;
        };
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let size = match size {
            // 64-bit size follows the type.
            1 => match bytes.get(at + 8..at + 16) {
                Some(b) => u64::from_be_bytes(b.try_into().unwrap()) as usize,
                None => return false,
            },
            // "To the end of the file": only whole if nothing is missing, unknowable.
            0 => return true,
            n => n,
        };
        if size < 8 {
            return false;
        }
        at += size;
    }
    at == bytes.len()
}

/// `text` without the segment `file` and everything after it.
pub fn cut_before(text: &str, file: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.trim() == file)
        .unwrap_or(lines.len());
    // The segment's own tags (#EXTINF, date-time) stand right before it.
    let mut keep = end;
    while keep > 0
        && lines[keep - 1].starts_with("#EXT")
        && !lines[keep - 1].starts_with("#EXT-X-MAP")
    {
        if lines[keep - 1].starts_with("#EXTINF") {
            keep -= 1;
            break;
        }
        keep -= 1;
    }
    let mut out = lines[..keep].join("\n");
    out.push('\n');
    out
}

/// The MP4 boxes of `bytes` in order: (type, start, end), as far as they are whole.
fn boxes(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let (size, header) = match size {
            1 => match bytes.get(at + 8..at + 16) {
                Some(b) => (u64::from_be_bytes(b.try_into().unwrap()) as usize, 16),
                None => break,
            },
            0 => (bytes.len() - at, 8),
            n => (n, 8),
        };
        if size < header || at + size > bytes.len() {
            break;
        }
        out.push(([head[4], head[5], head[6], head[7]], at + header, at + size));
        at += size;
    }
    out
}

fn child<'a>(bytes: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let (_, start, end) = boxes(bytes).into_iter().find(|(t, _, _)| &t == first)?;
    let inner = &bytes[start..end];
    if rest.is_empty() {
        Some(inner)
    } else {
        child(inner, rest)
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The media timescale of an init segment's (first) track.
pub fn timescale(init: &[u8]) -> Option<u32> {
    let mdhd = child(init, &[b"moov", b"trak", b"mdia", b"mdhd"])?;
    be32(mdhd, if mdhd.first()? == &1 { 20 } else { 12 })
}

/// The base media decode time of a media segment's first fragment.
pub fn first_decode_time(segment: &[u8]) -> Option<u64> {
    let tfdt = child(segment, &[b"moof", b"traf", b"tfdt"])?;
    if tfdt.first()? == &1 {
        Some(u64::from_be_bytes(tfdt.get(4..12)?.try_into().ok()?))
    } else {
        be32(tfdt, 4).map(u64::from)
    }
}

/// The leading whole `moof`+`mdat` pairs of a segment cut short: how many bytes,
/// and their duration in timescale units (the samples' durations in `trun`, or
/// `tfhd`'s default).
pub fn whole_fragments(segment: &[u8]) -> (usize, u64) {
    let all = boxes(segment);
    let (mut keep, mut duration) = (0, 0);
    for pair in all.windows(2) {
        let ((moof, ms, me), (mdat, _, de)) = (pair[0], pair[1]);
        if &moof != b"moof" || &mdat != b"mdat" {
            continue;
        }
        let Some(d) = fragment_duration(&segment[ms..me]) else {
            break;
        };
        keep = de;
        duration += d;
    }
    (keep, duration)
}

fn fragment_duration(moof: &[u8]) -> Option<u64> {
    let traf = child(moof, &[b"traf"])?;
    let tfhd = child(traf, &[b"tfhd"])?;
    let flags = be32(tfhd, 0)? & 0xff_ffff;
    let mut at = 8 + if flags & 0x01 != 0 { 8 } else { 0 } + if flags & 0x02 != 0 { 4 } else { 0 };
    let default = if flags & 0x08 != 0 {
        let d = be32(tfhd, at)?;
        at += 4;
        Some(d)
    } else {
        None
    };
    let _ = at;
    let mut total = 0u64;
    for (t, s, e) in boxes(traf) {
        if &t != b"trun" {
            continue;
        }
        let trun = &traf[s..e];
        let flags = be32(trun, 0)? & 0xff_ffff;
        let count = be32(trun, 4)? as usize;
        let mut at =
            8 + if flags & 0x01 != 0 { 4 } else { 0 } + if flags & 0x04 != 0 { 4 } else { 0 };
        let per = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|f| flags & **f != 0)
            .count()
            * 4;
        for _ in 0..count {
            total += u64::from(if flags & 0x100 != 0 {
                be32(trun, at)?
            } else {
                default?
            });
            at += per;
        }
    }
    Some(total)
}

/// Adds to `text` (a media playlist of `sub`) what a crash left of the fragments in
/// progress: each in-progress copy ([`crate::archive::write_ahead`]'s) that starts
/// after the playlist's last segment is cut to its whole chunks, written as the
/// next segment and named with its real duration. At a clean end every copy is in
/// the playlist already; the copies are removed either way.
///
/// [`crate::archive::write_ahead`]: crate::archive::Archive::write_ahead
fn salvage(rec: &RecordingDir, sub: &str, mut text: String) -> String {
    let dir = rec.path(sub);
    let mut copies: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with(crate::archive::IN_PROGRESS_PREFIX)
                .then(|| (name, e.path()))
        })
        .collect();
    copies.sort();
    let parsed = parse_media_playlist(&text);
    if parsed.ended {
        copies.clear();
    }
    let files = parsed.files;
    let init = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#EXT-X-MAP:"))
        .filter_map(|a| a.split("URI=\"").nth(1)?.split('"').next())
        .next_back()
        .map(str::to_owned);
    let timescale = init
        .as_ref()
        .and_then(|i| std::fs::read(dir.join(i)).ok())
        .and_then(|b| timescale(&b));
    let last = files.last().filter(|f| Some(*f) != init.as_ref());
    let mut after = last
        .and_then(|f| std::fs::read(dir.join(f)).ok())
        .and_then(|b| first_decode_time(&b));
    let mut index = last
        .and_then(|f| {
            f.strip_prefix("seg_")?
                .strip_suffix(".m4s")?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |n| n + 1);
    for (name, path) in &copies {
        let Some(scale) = timescale.filter(|s| *s > 0) else {
            break;
        };
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Some(start) = first_decode_time(&bytes) else {
            continue;
        };
        if after.is_some_and(|a| start <= a) {
            continue;
        }
        let (keep, duration) = whole_fragments(&bytes);
        if keep == 0 || duration == 0 {
            continue;
        }
        let seg = format!("seg_{index:05}.m4s");
        if let Err(e) = recording::write_synced(&dir.join(&seg), &bytes[..keep]) {
            tracing::warn!(recording = rec.id, "cannot salvage {sub}/{name}: {e}");
            break;
        }
        let secs = duration as f64 / f64::from(scale);
        tracing::info!(
            recording = rec.id,
            "salvaged {secs:.3} s of the fragment in progress at the crash as {sub}/{seg}"
        );
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text += &format!("#EXTINF:{secs:.3},\n{seg}\n");
        after = Some(start);
        index += 1;
    }
    for (_, path) in &copies {
        let _ = std::fs::remove_file(path);
    }
    text
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
                let name = e.file_name().to_string_lossy().to_string();
                // GIO's temporary files, and a playlist update never completed.
                if name.starts_with(".goutputstream") || name.ends_with(".m3u8.part") {
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
        // A disk that filled up may have taken a segment's tail while the sink
        // went on (a short write): the playlist ends before the first segment
        // whose MP4 boxes do not add up.
        // Only the end can be short: every earlier segment was complete before
        // the next one began.
        let files = parse_media_playlist(&text).files;
        let incomplete = files[files.len().saturating_sub(3)..]
            .iter()
            .find(|f| {
                std::fs::read(rec.path(&format!("{sub}/{f}"))).is_ok_and(|b| !complete_mp4(&b))
            })
            .cloned();
        let text = match incomplete {
            Some(f) => {
                tracing::warn!(
                    recording = rec.id,
                    "{sub}/{f} is incomplete; the recording ends before it"
                );
                cut_before(&text, &f)
            }
            None => text,
        };
        let text = salvage(rec, sub, text);
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
    // the remux and the poster read. They need room as large as the recording; on a
    // disk that filled up they are skipped (with a warning) and the HLS VOD, the
    // chapters and the report are still made.
    let tmp = rec.path("tmp");
    let tracks = (|| -> std::io::Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(&tmp)?;
        let mut track_files = Vec::new();
        for (sub, _, parsed) in &playlists {
            let out = tmp.join(format!("{sub}.mp4"));
            let mut f = std::fs::File::create(&out)?;
            for file in &parsed.files {
                f.write_all(&std::fs::read(rec.path(&format!("{sub}/{file}")))?)?;
            }
            f.sync_all()?;
            track_files.push(out);
        }
        Ok(track_files)
    })();
    let (poster, mp4) = match tracks {
        Ok(track_files) => {
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
            (poster, mp4)
        }
        Err(e) => {
            tracing::warn!(recording = rec.id, "no poster and no download MP4: {e}");
            (None, None)
        }
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
    )
    // A half-written download (a full disk) must not hold on to the space.
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    std::fs::rename(&tmp, out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:EVENT\n\
        #EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:1,\nseg_00000.m4s\n#EXTINF:0.967,\nseg_00001.m4s\n";

    #[test]
    fn a_truncated_segment_is_told_and_cut() {
        let boxed = |ty: &[u8; 4], n: usize| {
            let mut b = ((n + 8) as u32).to_be_bytes().to_vec();
            b.extend(ty);
            b.extend(vec![0u8; n]);
            b
        };
        let mut seg = boxed(b"moof", 20);
        seg.extend(boxed(b"mdat", 100));
        assert!(complete_mp4(&seg));
        assert!(!complete_mp4(&seg[..seg.len() - 1]));
        assert!(!complete_mp4(&seg[..30]));
        let cut = cut_before(EVENT, "seg_00001.m4s");
        assert!(cut.ends_with("#EXTINF:1,\nseg_00000.m4s\n"), "{cut}");
        assert_eq!(parse_media_playlist(&cut).duration_ms, 1000);
    }

    #[test]
    fn the_whole_chunks_of_a_torn_segment_are_kept_with_their_duration() {
        let boxed = |ty: &[u8; 4], body: &[u8]| {
            let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend(ty);
            b.extend(body);
            b
        };
        let full = |flags: u32, rest: &[u32]| {
            let mut b = flags.to_be_bytes().to_vec();
            for r in rest {
                b.extend(r.to_be_bytes());
            }
            b
        };
        // tfhd with a default duration of 512; trun of 3 samples using it.
        let mut traf = boxed(b"tfhd", &full(0x08, &[1, 512]));
        let mut tfdt = 1u32.to_be_bytes().to_vec();
        tfdt[0] = 1;
        tfdt.extend(90_000u64.to_be_bytes());
        traf.extend(boxed(b"tfdt", &tfdt));
        traf.extend(boxed(b"trun", &full(0x01, &[3, 0])));
        let mut seg = boxed(b"moof", &boxed(b"traf", &traf));
        seg.extend(boxed(b"mdat", &[0; 30]));
        // A chunk with durations per sample (and sizes): 100 + 200.
        let mut traf = boxed(b"tfhd", &full(0, &[1]));
        traf.extend(boxed(b"trun", &full(0x301, &[2, 0, 100, 10, 200, 10])));
        seg.extend(boxed(b"moof", &boxed(b"traf", &traf)));
        seg.extend(boxed(b"mdat", &[0; 20]));
        let whole = seg.len();
        // The next chunk, torn.
        seg.extend(boxed(b"moof", &boxed(b"traf", &traf)));
        seg.extend(&boxed(b"mdat", &[0; 20])[..12]);
        assert_eq!(whole_fragments(&seg), (whole, 3 * 512 + 300));
        assert_eq!(first_decode_time(&seg), Some(90_000));
        let mut mdhd = vec![0u8; 12];
        mdhd.extend(90_000u32.to_be_bytes());
        mdhd.extend([0; 8]);
        let init = boxed(
            b"moov",
            &boxed(b"trak", &boxed(b"mdia", &boxed(b"mdhd", &mdhd))),
        );
        assert_eq!(timescale(&init), Some(90_000));
    }

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
