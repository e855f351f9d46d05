//! One recording's directory under the archive dir, and what marks its life stages.
//!
//! ```text
//! <archive_dir>/<recording_id>/
//!   session.json        the meeting and agenda, written (and synced) before the first frame
//!   chapters.jsonl      the chapter sidecar log
//!   index.m3u8          multivariant playlist: video + audio rendition
//!   video/video.m3u8    CMAF media playlist (EVENT while recording, VOD when finalized)
//!   video/init_0.mp4, video/seg_00000.m4s, …   (audio/ likewise)
//!   chapters.vtt, poster.jpg, download.mp4     made when finalizing
//!   finalized.json      the RecordingFinalized report: its presence means "finalized"
//!   accepted            the control server took it over: stop reporting it
//! ```
//!
//! Each segment is written in full and synced (`fdatasync`, then its directory)
//! before the EVENT playlist naming it is replaced; the playlist is written beside
//! the old one, synced and renamed over it only once complete (see
//! [`crate::archive`]). So after a crash, a power cut or a full disk the playlist
//! names exactly the complete segments. The segment in progress is written ahead
//! in 0.25 s chunks to `inprogress_<seq>.m4s` (not synced) and its whole chunks
//! are salvaged when finalizing: after a crash at most one chunk (plus the
//! encoder's few frames) is lost, after a power cut at most one segment.
//! A segment cut short by a full disk is found by its MP4 boxes when finalizing.

use chrono::{DateTime, Utc};
use content::broadcast::{RecordingFinalized, Session};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SESSION_FILE: &str = "session.json";
pub const CHAPTER_LOG: &str = "chapters.jsonl";
pub const MASTER: &str = "index.m3u8";
pub const FINALIZED: &str = "finalized.json";
pub const ACCEPTED: &str = "accepted";

/// What `session.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub recording_id: String,
    pub started_at: DateTime<Utc>,
    pub session: Session,
}

/// A recording id: the meeting id reduced to safe characters, and the start time.
pub fn recording_id(meeting_id: &str, at: DateTime<Utc>) -> String {
    let safe: String = meeting_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{safe}-{}", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

#[derive(Debug, Clone)]
pub struct RecordingDir {
    pub archive_dir: PathBuf,
    pub id: String,
}

impl RecordingDir {
    pub fn new(archive_dir: &Path, id: &str) -> RecordingDir {
        RecordingDir {
            archive_dir: archive_dir.to_owned(),
            id: id.to_owned(),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.archive_dir.join(&self.id)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    /// `rel` as the protocol names it: relative to the archive dir.
    pub fn archive_rel(&self, rel: &str) -> String {
        format!("{}/{rel}", self.id)
    }

    /// Creates the directory and writes `session.json` and the master playlist.
    pub fn create(
        &self,
        file: &SessionFile,
        bandwidth: u32,
        w: u32,
        h: u32,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(self.path("video"))?;
        std::fs::create_dir_all(self.path("audio"))?;
        write_synced(
            &self.path(SESSION_FILE),
            serde_json::to_string_pretty(file)
                .expect("session files serialise")
                .as_bytes(),
        )?;
        write_synced(
            &self.path(MASTER),
            master_playlist(bandwidth, w, h).as_bytes(),
        )
    }

    pub fn session(&self) -> std::io::Result<SessionFile> {
        let text = std::fs::read_to_string(self.path(SESSION_FILE))?;
        serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn finalized(&self) -> Option<RecordingFinalized> {
        let text = std::fs::read_to_string(self.path(FINALIZED)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn is_accepted(&self) -> bool {
        self.path(ACCEPTED).exists()
    }

    pub fn mark_accepted(&self) -> std::io::Result<()> {
        write_synced(&self.path(ACCEPTED), b"")
    }
}

/// Recordings in `archive_dir` that were started but never finalized (a crash).
pub fn unfinished(archive_dir: &Path) -> Vec<RecordingDir> {
    recordings(archive_dir)
        .into_iter()
        .filter(|r| r.path(SESSION_FILE).exists() && !r.path(FINALIZED).exists())
        .collect()
}

/// Finalized recordings the control server has not accepted yet.
pub fn unaccepted(archive_dir: &Path) -> Vec<RecordingFinalized> {
    recordings(archive_dir)
        .into_iter()
        .filter(|r| !r.is_accepted())
        .filter_map(|r| r.finalized())
        .collect()
}

fn recordings(archive_dir: &Path) -> Vec<RecordingDir> {
    let Ok(entries) = std::fs::read_dir(archive_dir) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids.into_iter()
        .map(|id| RecordingDir::new(archive_dir, &id))
        .collect()
}

/// The multivariant playlist naming the video playlist and the audio rendition.
pub fn master_playlist(bandwidth: u32, w: u32, h: u32) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Ton\",LANGUAGE=\"de\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/audio.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={w}x{h},AUDIO=\"audio\"\n\
         video/video.m3u8\n"
    )
}

/// Writes `bytes` to a temporary file, syncs it and renames it over `path`, so a
/// reader (or a crash) sees the old file or the new one, never half of one.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_safe_path_components() {
        let at = DateTime::UNIX_EPOCH;
        let id = recording_id("https://oparl.kaarst.de/meeting/7", at);
        assert!(content::broadcast::is_safe_relative_path(&id));
        assert!(!id.contains('/'));
        assert!(id.ends_with("19700101T000000.000Z"));
    }
}
