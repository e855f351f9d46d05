//! The archive: finalized recordings of public sessions with their chapters,
//! searchable by agenda-item title, served as HLS VOD (Range requests) and,
//! where the town allows it, as a single MP4 download; and the town's archive
//! policy (retention, download switch).
//!
//! A recording lives in its own directory under the archive dir
//! (`--council-archive-dir`); only files of a recording with a row are served,
//! and only while its meeting is public. Closed parts are slates in the media
//! itself (the broadcaster's job); here their chapters are titled
//! [`CLOSED_TITLE`](super::live::CLOSED_TITLE) whatever the broadcaster sent.

use super::files::{self, Caching};
use super::live::{CLOSED_TITLE, PublicMeeting};
use super::meetings;
use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/council/archive", get(list))
        .route("/api/council/recordings/{id}/download", get(download))
        .route(
            "/api/council/recordings/{id}/chapters.vtt",
            get(chapters_vtt),
        )
        .route("/council/archive/{id}/{*path}", get(vod_file))
        .route("/api/council/settings", get(settings).put(put_settings))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// Recordings stay for good.
    Forever,
    /// Deleted `retention_days` after the recording.
    Days,
    /// Deleted once the meeting's minutes are approved.
    MinutesApproved,
}

impl Retention {
    fn as_str(self) -> &'static str {
        match self {
            Retention::Forever => "forever",
            Retention::Days => "days",
            Retention::MinutesApproved => "minutes_approved",
        }
    }
    fn parse(s: &str) -> Retention {
        match s {
            "days" => Retention::Days,
            "minutes_approved" => Retention::MinutesApproved,
            _ => Retention::Forever,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub retention: Retention,
    /// Required with `retention: "days"`.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Whether the single-MP4 download is offered; HLS VOD plays either way.
    pub downloads: bool,
}

pub fn load_settings(c: &Connection) -> Result<Settings, ApiError> {
    Ok(c.query_row(
        "SELECT retention, retention_days, downloads FROM council_settings WHERE id = 1",
        [],
        |r| {
            Ok(Settings {
                retention: Retention::parse(&r.get::<_, String>(0)?),
                retention_days: r.get(1)?,
                downloads: r.get(2)?,
            })
        },
    )?)
}

async fn settings(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Settings>> {
    staff.require(Role::Viewer)?;
    Ok(Json(s.db.call(|c| load_settings(c)).await?))
}

async fn put_settings(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(new): ApiJson<Settings>,
) -> ApiResult<Json<Settings>> {
    staff.require(Role::Admin)?;
    match (new.retention, new.retention_days) {
        (Retention::Days, None | Some(0)) => {
            return Err(ApiError::Invalid(
                "retention \"days\" needs retention_days of at least 1".into(),
            ));
        }
        (Retention::Forever | Retention::MinutesApproved, Some(_)) => {
            return Err(ApiError::Invalid(
                "retention_days only goes with retention \"days\"".into(),
            ));
        }
        _ => {}
    }
    let actor = staff.username;
    let saved =
        s.db.transaction(move |tx| {
            tx.execute(
                "UPDATE council_settings SET retention = ?1, retention_days = ?2, downloads = ?3,
                     updated_at = ?4 WHERE id = 1",
                params![
                    new.retention.as_str(),
                    new.retention_days,
                    new.downloads,
                    crate::db::now_text()
                ],
            )?;
            crate::audit::record(
                tx,
                &actor,
                "council.settings.update",
                "council settings",
                serde_json::to_value(&new)?,
            )?;
            load_settings(tx)
        })
        .await?;
    Ok(Json(saved))
}

/// A chapter as it comes from the broadcaster, before the server titles it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChapterIn {
    pub start_s: f64,
    /// "agenda", "speaker" or "closed".
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub agenda_item_id: Option<i64>,
}

/// What a "recording finalized" report says, in the server's terms.
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub meeting_id: Option<i64>,
    /// Relative to the archive dir.
    pub dir: String,
    /// HLS VOD playlist, relative to `dir`.
    pub playlist: String,
    pub mp4: Option<String>,
    pub poster: Option<String>,
    pub chapters_vtt: Option<String>,
    pub duration_s: Option<f64>,
    /// When the session was recorded (RFC 3339).
    pub recorded_at: String,
    pub chapters: Vec<ChapterIn>,
}

/// Registers a finalized recording (idempotent by directory: a broadcaster
/// that re-sends after a reconnect updates the same row). The files must be
/// where the report says, or nothing is stored.
pub async fn register(state: AppState, rec: NewRecording, actor: String) -> ApiResult<i64> {
    let root = state.config.council.archive_dir(&state.config.data_dir);
    if !files::is_safe_relative(&rec.dir) {
        return Err(ApiError::Invalid(format!(
            "recording dir {:?} is not a plain path below the archive dir",
            rec.dir
        )));
    }
    let dir = root.join(&rec.dir);
    let names: Vec<String> = [&rec.playlist]
        .into_iter()
        .chain(rec.mp4.iter())
        .chain(rec.poster.iter())
        .chain(rec.chapters_vtt.iter())
        .cloned()
        .collect();
    for name in names {
        let file = dir.join(&name);
        let present = files::is_safe_relative(&name)
            && tokio::fs::metadata(&file)
                .await
                .map(|m| m.is_file())
                .unwrap_or(false);
        if !present {
            return Err(ApiError::Invalid(format!(
                "recording file {name:?} is not in {}",
                rec.dir
            )));
        }
    }
    let recorded_at = meetings::normalize_time("recorded_at", &rec.recorded_at)?;
    state
        .db
        .transaction(move |tx| {
            if let Some(m) = rec.meeting_id {
                meetings::load_meeting(tx, m)?;
            }
            let now = crate::db::now_text();
            let id: i64 = tx.query_row(
                "INSERT INTO council_recordings (meeting_id, dir, playlist, mp4, poster, chapters,
                     duration_s, recorded_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (dir) DO UPDATE SET meeting_id = excluded.meeting_id,
                     playlist = excluded.playlist, mp4 = excluded.mp4, poster = excluded.poster,
                     chapters = excluded.chapters, duration_s = excluded.duration_s,
                     recorded_at = excluded.recorded_at
                 RETURNING id",
                params![
                    rec.meeting_id,
                    rec.dir,
                    rec.playlist,
                    rec.mp4,
                    rec.poster,
                    rec.chapters_vtt,
                    rec.duration_s,
                    recorded_at,
                    now
                ],
                |r| r.get(0),
            )?;
            tx.execute(
                "DELETE FROM council_chapters WHERE recording_id = ?1",
                [id],
            )?;
            for (seq, ch) in rec.chapters.iter().enumerate() {
                let item = match ch.agenda_item_id {
                    Some(i) => meetings::find_item(tx, i)?,
                    None => None,
                };
                // The agenda decides what is closed; a chapter of a closed item
                // or one the broadcaster marked closed is never titled.
                let public = ch.kind != "closed" && item.as_ref().is_none_or(|i| i.public);
                let title = if public {
                    meetings::check_text("chapter title", &ch.title, false)?
                } else {
                    CLOSED_TITLE.to_owned()
                };
                tx.execute(
                    "INSERT INTO council_chapters (recording_id, seq, start_s, kind, title,
                         agenda_item_id, public) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        seq as i64,
                        ch.start_s.max(0.0),
                        ch.kind,
                        title,
                        item.as_ref().map(|i| i.id),
                        public
                    ],
                )?;
            }
            crate::audit::record(
                tx,
                &actor,
                "council.recording.register",
                &format!("recording {id}"),
                json!({ "meeting": rec.meeting_id, "dir": rec.dir, "chapters": rec.chapters.len() }),
            )?;
            Ok(id)
        })
        .await
}

#[derive(Debug, Serialize)]
pub struct PublicChapter {
    pub start_s: f64,
    pub kind: String,
    pub title: String,
    pub public: bool,
}

#[derive(Debug, Serialize)]
pub struct PublicRecording {
    pub id: i64,
    pub hls_url: String,
    /// Absent when downloads are off or there is no single MP4.
    pub download_url: Option<String>,
    pub poster_url: Option<String>,
    pub chapters_url: Option<String>,
    pub duration_s: Option<f64>,
    pub recorded_at: String,
    pub chapters: Vec<PublicChapter>,
}

#[derive(Debug, Serialize)]
pub struct ArchiveEntry {
    pub meeting: PublicMeeting,
    pub recordings: Vec<PublicRecording>,
}

#[derive(Debug, Deserialize)]
struct ArchiveQuery {
    /// Words that must appear in a public agenda item's title or a public chapter's.
    q: Option<String>,
    /// Only this recording (the recording page asks for its own).
    recording: Option<i64>,
}

struct RecordingRow {
    id: i64,
    meeting_id: i64,
    playlist: String,
    mp4: Option<String>,
    poster: Option<String>,
    duration_s: Option<f64>,
    recorded_at: String,
}

/// GET /api/council/archive?q=&recording=: ended public sessions with recordings, newest
/// first. Closed items and chapters are never searched, so a search cannot
/// reveal what a closed part was about.
async fn list(
    State(s): State<AppState>,
    Query(q): Query<ArchiveQuery>,
) -> ApiResult<Json<Vec<ArchiveEntry>>> {
    let needle =
        q.q.map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
    if needle.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(ApiError::Invalid(
            "the search is limited to 200 characters".into(),
        ));
    }
    let entries =
        s.db.call(move |c| {
            let downloads = load_settings(c)?.downloads;
            let mut stmt = c.prepare(
                "SELECT r.id, r.meeting_id, r.playlist, r.mp4, r.poster, r.chapters, r.duration_s,
                        r.recorded_at
                   FROM council_recordings r JOIN council_meetings m ON m.id = r.meeting_id
                  WHERE m.public = 1 AND m.state = 'ended' AND (?1 IS NULL OR r.id = ?1)
                  ORDER BY m.start DESC, r.recorded_at, r.id",
            )?;
            let rows = stmt
                .query_map([q.recording], |r| {
                    Ok(RecordingRow {
                        id: r.get(0)?,
                        meeting_id: r.get(1)?,
                        playlist: r.get(2)?,
                        mp4: r.get(3)?,
                        poster: r.get(4)?,
                        duration_s: r.get(6)?,
                        recorded_at: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut entries: Vec<ArchiveEntry> = Vec::new();
            for row in rows {
                let chapters = chapters_of(c, row.id)?;
                let rec = PublicRecording {
                    id: row.id,
                    hls_url: format!("/council/archive/{}/{}", row.id, row.playlist),
                    download_url: row
                        .mp4
                        .filter(|_| downloads)
                        .map(|_| format!("/api/council/recordings/{}/download", row.id)),
                    poster_url: row
                        .poster
                        .map(|p| format!("/council/archive/{}/{p}", row.id)),
                    // Generated from the chapters below, never the broadcaster's
                    // file (`row.chapters_vtt`), which titles closed items.
                    chapters_url: (!chapters.is_empty())
                        .then(|| format!("/api/council/recordings/{}/chapters.vtt", row.id)),
                    duration_s: row.duration_s,
                    recorded_at: row.recorded_at,
                    chapters,
                };
                match entries.last_mut() {
                    Some(e) if e.meeting.id == row.meeting_id => e.recordings.push(rec),
                    _ => {
                        let m = meetings::load_meeting(c, row.meeting_id)?;
                        entries.push(ArchiveEntry {
                            meeting: PublicMeeting::from(&m),
                            recordings: vec![rec],
                        });
                    }
                }
            }
            if let Some(needle) = needle {
                let mut kept = Vec::new();
                for e in entries {
                    let in_agenda = meetings::items_of(c, e.meeting.id)?
                        .iter()
                        .any(|i| i.public && i.title.to_lowercase().contains(&needle));
                    let in_chapters = e.recordings.iter().any(|r| {
                        r.chapters
                            .iter()
                            .any(|ch| ch.public && ch.title.to_lowercase().contains(&needle))
                    });
                    if in_agenda || in_chapters {
                        kept.push(e);
                    }
                }
                entries = kept;
            }
            Ok(entries)
        })
        .await?;
    Ok(Json(entries))
}

fn chapters_of(c: &Connection, recording: i64) -> Result<Vec<PublicChapter>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT start_s, kind, title, public FROM council_chapters
          WHERE recording_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([recording], |r| {
        Ok(PublicChapter {
            start_s: r.get(0)?,
            kind: r.get(1)?,
            title: r.get(2)?,
            public: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether recording `id` exists and belongs to a public, ended meeting (the
/// only ones anybody outside may see).
pub fn is_public(c: &Connection, id: i64) -> Result<bool, ApiError> {
    Ok(c.query_row(
        "SELECT 1 FROM council_recordings r JOIN council_meetings m ON m.id = r.meeting_id
          WHERE r.id = ?1 AND m.public = 1 AND m.state = 'ended'",
        [id],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// A recording of a public, ended meeting: (dir, mp4 name).
async fn public_recording(s: &AppState, id: i64) -> ApiResult<(String, Option<String>, bool)> {
    let found =
        s.db.call(move |c| {
            let downloads = load_settings(c)?.downloads;
            let row = c
                .query_row(
                    "SELECT r.dir, r.mp4 FROM council_recordings r
                       JOIN council_meetings m ON m.id = r.meeting_id
                      WHERE r.id = ?1 AND m.public = 1 AND m.state = 'ended'",
                    [id],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .optional()?;
            Ok(row.map(|(dir, mp4)| (dir, mp4, downloads)))
        })
        .await?;
    found.ok_or_else(|| ApiError::NotFound(format!("recording {id}")))
}

fn downloads_off() -> ApiError {
    ApiError::Forbidden(
        "this town does not offer recordings for download; watch them in the archive".into(),
    )
}

/// GET /council/archive/{id}/{*path}: the recording's files. The single MP4
/// is refused (403) while downloads are off; the HLS VOD plays regardless.
async fn vod_file(
    State(s): State<AppState>,
    Path((id, path)): Path<(i64, String)>,
    req: Request,
) -> ApiResult<Response> {
    let (dir, mp4, downloads) = public_recording(&s, id).await?;
    if !downloads && mp4.as_deref() == Some(path.as_str()) {
        return Err(downloads_off());
    }
    let root = s.config.council.archive_dir(&s.config.data_dir);
    let file = files::resolve(&root.join(dir), &path)?;
    files::send(file, req, Caching::Archive).await
}

/// GET /api/council/recordings/{id}/download: the single MP4 as an attachment.
async fn download(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    req: Request,
) -> ApiResult<Response> {
    let (dir, mp4, downloads) = public_recording(&s, id).await?;
    if !downloads {
        return Err(downloads_off());
    }
    let mp4 = mp4.ok_or_else(|| ApiError::NotFound(format!("a download of recording {id}")))?;
    let root = s.config.council.archive_dir(&s.config.data_dir);
    let file = files::resolve(&root.join(dir), &mp4)?;
    let mut resp = files::send(file, req, Caching::Archive).await?;
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"sitzung-{id}.mp4\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn vtt_time(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The public chapters as WebVTT: each runs to the next one (the last to the
/// recording's end); closed parts carry only the closed-part title.
pub fn vtt(chapters: &[PublicChapter], duration_s: Option<f64>) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, ch) in chapters.iter().enumerate() {
        let end = chapters
            .get(i + 1)
            .map(|n| n.start_s)
            .or(duration_s)
            .unwrap_or(ch.start_s + 1.0)
            .max(ch.start_s);
        // A cue's text ends at the first blank line; titles are single-line.
        let title = ch.title.replace(['\r', '\n'], " ");
        out.push_str(&format!(
            "\n{}\n{} --> {}\n{title}\n",
            i + 1,
            vtt_time(ch.start_s),
            vtt_time(end)
        ));
    }
    out
}

/// GET /api/council/recordings/{id}/chapters.vtt
async fn chapters_vtt(State(s): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    public_recording(&s, id).await?;
    let text =
        s.db.call(move |c| {
            let duration: Option<f64> = c.query_row(
                "SELECT duration_s FROM council_recordings WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?;
            Ok(vtt(&chapters_of(c, id)?, duration))
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_become_webvtt_cues() {
        let ch = |start_s: f64, title: &str| PublicChapter {
            start_s,
            kind: "agenda".into(),
            title: title.into(),
            public: true,
        };
        let text = vtt(
            &[ch(0.0, "1 Eröffnung"), ch(3725.5, "2 Haushalt")],
            Some(4000.0),
        );
        assert_eq!(
            text,
            "WEBVTT\n\n1\n00:00:00.000 --> 01:02:05.500\n1 Eröffnung\n\n2\n01:02:05.500 --> 01:06:40.000\n2 Haushalt\n"
        );
    }
}
