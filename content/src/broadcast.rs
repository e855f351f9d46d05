//! The WebSocket protocol between control server and broadcaster (`/ws/broadcaster`).
//!
//! Decisions, so both sides read them the same way:
//!
//! - **Framing** is that of [`crate::protocol`]: JSON text frames, one message each,
//!   tagged by `type` (snake_case), unknown fields refused. [`decode`] turns anything
//!   unknown or malformed into a [`ProtocolError`]; it is the same error type the
//!   player protocol uses.
//! - **Hello first.** The broadcaster opens with [`BroadcasterMessage::Hello`] carrying
//!   its protocol version and its broadcaster token (issued by staff, kept in the
//!   broadcaster's config file). The server answers [`ServerCommand::Welcome`] or
//!   [`ServerCommand::Refused`] (then closes). A hello also says what the broadcaster
//!   is doing right now ([`Hello::session`]), so after a reconnect the server learns
//!   that a session kept running while it was away. The pipeline never waits for the
//!   server: commands steer it, their absence never stops it.
//! - **Commands carry an `id`** ([`MessageId`]) that the broadcaster answers with
//!   [`BroadcasterMessage::Ack`] (done) or [`BroadcasterMessage::Rejected`] (refused,
//!   with the reason, e.g. "no such camera"). Commands are idempotent where they can
//!   be (go to item 3 twice is item 3), so a server that resends an unanswered
//!   command after a reconnect does no harm. `next_item` is the exception; a server
//!   that resends should prefer `go_to_item`.
//! - **Agenda items are named by their `number`** as printed on the agenda ("3",
//!   "Ö 4.1"); numbers are unique within one session's agenda ([`Session::check`]).
//!   A non-public item (`public: false`) is broadcast as the closed-part slate with
//!   muted audio from the moment it becomes current: the agenda alone is enough,
//!   `closed_part` is the manual override for a closed part the agenda did not plan.
//! - **Status** is reported every `status_interval_s` (from the welcome) and on each
//!   state change, as [`Status`]; measurements the broadcaster cannot take are `None`,
//!   never a made-up zero.
//! - **Recordings** are handed over with [`BroadcasterMessage::RecordingFinalized`]
//!   naming the VOD package's files as relative paths (`/`-separated) under the
//!   archive directory the two share (a mount, or a directory the server serves);
//!   [`is_safe_relative_path`] is the check the server applies before touching one.
//!   It carries an `id` the server acknowledges with [`ServerCommand::RecordingAccepted`];
//!   until then the broadcaster resends it after every reconnect (a recording is
//!   finalized once, reported until accepted). Recovered recordings (finalized after a
//!   crash, on the next start) say so with `recovered: true`.
//! - **Time**: instants are RFC 3339 UTC; offsets inside a recording are milliseconds
//!   from its first frame.

use crate::protocol::{MessageId, ProtocolError, Tagged};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The version this build speaks.
pub const BROADCAST_PROTOCOL_VERSION: u16 = 1;
/// The oldest version this build still accepts.
pub const MIN_BROADCAST_PROTOCOL_VERSION: u16 = 1;

/// Messages from the broadcaster to the control server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BroadcasterMessage {
    Hello(Hello),
    /// The command with this id was carried out.
    Ack {
        id: MessageId,
    },
    /// The command with this id was refused; nothing changed.
    Rejected {
        id: MessageId,
        reason: String,
    },
    Status(Status),
    /// A chapter event as it happens (also fsynced to the archive's sidecar log), so
    /// the server's live state (which item now, who speaks) needs no polling.
    Chapter(ChapterEvent),
    RecordingFinalized(RecordingFinalized),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol: u16,
    pub broadcaster_version: String,
    /// The broadcaster token staff issued for this broadcaster.
    pub token: String,
    /// The session running right now, if any (it survives server outages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<RunningSession>,
}

impl Hello {
    pub fn check_version(&self) -> Result<(), ProtocolError> {
        if (MIN_BROADCAST_PROTOCOL_VERSION..=BROADCAST_PROTOCOL_VERSION).contains(&self.protocol) {
            Ok(())
        } else {
            Err(ProtocolError::UnsupportedVersion { got: self.protocol })
        }
    }
}

/// What a broadcaster that is already live tells a (re)connecting server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunningSession {
    pub meeting_id: String,
    pub started_at: DateTime<Utc>,
    /// The current agenda item's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

/// Messages from the control server to the broadcaster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerCommand {
    Welcome {
        protocol: u16,
        server_time: DateTime<Utc>,
        /// How often the broadcaster sends [`Status`] when nothing changes.
        status_interval_s: u32,
    },
    Refused {
        reason: BroadcastRefusal,
        message: String,
    },
    /// Go live for this meeting: the live stream and a new recording start, at the
    /// first agenda item (or before it, with `start_item: None`).
    StartSession { id: MessageId, session: Session },
    /// Advance to the agenda item after the current one.
    NextItem { id: MessageId },
    /// Make the item with this number current.
    GoToItem { id: MessageId, number: String },
    /// Show this speaker's lower third; `None` takes it down.
    Speaker {
        id: MessageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaker: Option<Speaker>,
    },
    /// Cut to the camera with this name (as named in the broadcaster's config).
    Camera { id: MessageId, name: String },
    /// Show (or hide, `None`) the picture-in-picture input, e.g. the sign-language
    /// interpreter, by its config name.
    PictureInPicture {
        id: MessageId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Manual override: a closed part begins (`true`) or ends (`false`) regardless of
    /// the agenda's public flag.
    ClosedPart { id: MessageId, closed: bool },
    /// End the session: the live stream ends, the recording is finalized and reported.
    Stop { id: MessageId },
    /// The server has taken over the recording with this id; stop resending it.
    RecordingAccepted { id: MessageId, recording_id: String },
    /// The broadcaster sent something the server could not use; the connection stays open.
    Error { message: String },
}

impl ServerCommand {
    /// The id the broadcaster answers with `ack`/`rejected`, for commands that need it.
    pub fn command_id(&self) -> Option<MessageId> {
        match self {
            ServerCommand::StartSession { id, .. }
            | ServerCommand::NextItem { id }
            | ServerCommand::GoToItem { id, .. }
            | ServerCommand::Speaker { id, .. }
            | ServerCommand::Camera { id, .. }
            | ServerCommand::PictureInPicture { id, .. }
            | ServerCommand::ClosedPart { id, .. }
            | ServerCommand::Stop { id } => Some(*id),
            ServerCommand::Welcome { .. }
            | ServerCommand::Refused { .. }
            | ServerCommand::RecordingAccepted { .. }
            | ServerCommand::Error { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastRefusal {
    UnsupportedProtocol,
    UnknownToken,
    /// Another broadcaster with this token is connected.
    AlreadyConnected,
    /// The first message was not a hello.
    NoHello,
}

/// A meeting as the broadcaster needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// The control server's meeting id (opaque to the broadcaster; also names the
    /// recording's directory after [`sanitising`](is_safe_relative_path)).
    pub meeting_id: String,
    /// E.g. "Sitzung des Rates der Stadt Kaarst".
    pub title: String,
    pub agenda: Vec<AgendaItem>,
    /// The item to begin with; `None` begins before the first item (a "Beginn" chapter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_item: Option<String>,
    /// Whether the town allows downloading the recording (a single MP4 is then made).
    #[serde(default = "yes")]
    pub download_allowed: bool,
    /// Begin on the slate whatever the start item: a non-public meeting, or a
    /// closed part staff switched on before the start. Without it a session
    /// that begins before its first item would be public until the following
    /// `closed_part` command arrived.
    #[serde(default)]
    pub closed: bool,
}

fn yes() -> bool {
    true
}

impl Session {
    /// Agenda numbers must be unique and non-empty; the start item must exist.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for item in &self.agenda {
            if item.number.trim().is_empty() {
                return Err(format!("agenda item {:?} has no number", item.title));
            }
            if !seen.insert(item.number.as_str()) {
                return Err(format!("agenda number {:?} appears twice", item.number));
            }
        }
        if let Some(start) = &self.start_item
            && !seen.contains(start.as_str())
        {
            return Err(format!("start item {start:?} is not on the agenda"));
        }
        Ok(())
    }

    /// The item with this number and its position in the agenda.
    pub fn item(&self, number: &str) -> Option<(usize, &AgendaItem)> {
        self.agenda
            .iter()
            .enumerate()
            .find(|(_, item)| item.number == number)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaItem {
    /// As printed on the agenda: "3", "3.1", "Ö 4".
    pub number: String,
    pub title: String,
    /// `false`: a closed (non-public) item, broadcast as the slate with muted audio.
    pub public: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speaker {
    pub name: String,
    /// "Bürgermeisterin", "Ratsmitglied", "Kämmerer".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// "SPD", "CDU", "Grüne", …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
}

impl Speaker {
    /// The lower third's second line: "Ratsmitglied, SPD", "SPD", or "".
    pub fn subtitle(&self) -> String {
        match (&self.role, &self.party) {
            (Some(r), Some(p)) => format!("{r}, {p}"),
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (None, None) => String::new(),
        }
    }
}

/// Periodic and on-change state report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub state: BroadcastState,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<String>,
    /// The current agenda item's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Whether the slate is on air (closed item or manual override).
    #[serde(default)]
    pub closed: bool,
    /// The camera on air (config name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// Encoded video+audio bitrate over the last interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    /// Frames lost since the session started (late or dropped in the pipeline).
    #[serde(default)]
    pub dropped_frames: u64,
    /// Peak audio level over the last interval, dBFS (≤ 0; silence is very negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_level_db: Option<f32>,
    /// Free space where the archive is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_free_bytes: Option<u64>,
    /// Each configured input and whether it delivers.
    #[serde(default)]
    pub inputs: Vec<InputStatus>,
    /// Problems a technician should know of, in plain words (newest last).
    #[serde(default)]
    pub errors: Vec<String>,
    /// Why the archive stopped recording this session (disk full, a write error,
    /// the free-space reserve reached); the live stream goes on without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_error: Option<String>,
    /// The RTMP(S) restream, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restream: Option<RestreamStatus>,
}

/// Where the restream to a platform (YouTube, …) stands. It never holds up the
/// live HLS output or the recording: a failed connection is retried with backoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestreamStatus {
    /// The target without its stream key (`rtmps://host/app/…`).
    pub target: String,
    pub state: RestreamState,
    /// Connection attempts this session, the first included.
    #[serde(default)]
    pub attempts: u32,
    /// Why the last attempt failed or the connection dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestreamState {
    /// Connecting (or connected, waiting for the next keyframe to begin with).
    Connecting,
    /// Media is flowing to the platform.
    Connected,
    /// The last attempt failed; the next one is due after a backoff.
    Reconnecting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastState {
    /// Running, no session: nothing is streamed or recorded.
    #[default]
    Idle,
    Starting,
    Live,
    /// Stop received; the recording is being finalized.
    Finalizing,
    /// The pipeline failed; `errors` says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputStatus {
    pub name: String,
    pub ok: bool,
}

/// A chapter event: agenda item, speaker, or closed part; what the sidecar log holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChapterEvent {
    pub meeting_id: String,
    /// Offset into the recording.
    pub offset_ms: u64,
    pub at: DateTime<Utc>,
    pub kind: ChapterKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChapterKind {
    Item {
        number: String,
        title: String,
        public: bool,
    },
    Speaker {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaker: Option<Speaker>,
    },
    /// The slate went on (`true`) or off; covers closed items and manual overrides.
    Closed { closed: bool },
}

/// A finished VOD package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingFinalized {
    /// The server answers with [`ServerCommand::RecordingAccepted`] naming this id.
    pub id: MessageId,
    /// Unique per recording, e.g. `"<meeting>-20260122T170000Z"`; also its directory.
    pub recording_id: String,
    pub meeting_id: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Finalized after a crash, on the next start.
    #[serde(default)]
    pub recovered: bool,
    pub files: VodFiles,
    /// Agenda chapters in order; the VTT file has the same.
    pub chapters: Vec<Chapter>,
}

/// Paths relative to the shared archive directory, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VodFiles {
    /// HLS VOD playlist (`#EXT-X-PLAYLIST-TYPE:VOD`, `#EXT-X-ENDLIST`).
    pub hls_playlist: String,
    /// Every file the playlist references (segments, init segments).
    #[serde(default)]
    pub hls_files: Vec<String>,
    /// A single MP4 for download; `None` where the town does not allow downloads or
    /// it could not be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4: Option<String>,
    /// WebVTT chapters from the agenda.
    pub chapters_vtt: String,
    /// A JPEG poster image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poster: Option<String>,
    /// The chapter sidecar log (JSON lines of [`ChapterEvent`]).
    pub chapter_log: String,
}

impl VodFiles {
    /// Every path named, for checking them all at once.
    pub fn all(&self) -> Vec<&str> {
        let mut v = vec![self.hls_playlist.as_str(), self.chapters_vtt.as_str()];
        v.extend(self.hls_files.iter().map(String::as_str));
        v.extend(self.mp4.as_deref());
        v.extend(self.poster.as_deref());
        v.push(self.chapter_log.as_str());
        v
    }
}

/// One agenda chapter in the recording. Closed items are chapters too (the viewer
/// sees the slate there), titled as the agenda titles them; the server decides what
/// it shows of a non-public item's title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chapter {
    pub number: String,
    pub title: String,
    pub public: bool,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// `true` for a non-empty relative `/`-separated path with no `..`, `.`, empty or
/// backslash-bearing component and no leading `/`: safe to join onto the archive dir.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(':'))
}

impl Tagged for BroadcasterMessage {
    const TYPES: &'static [&'static str] = &[
        "hello",
        "ack",
        "rejected",
        "status",
        "chapter",
        "recording_finalized",
    ];
}

impl Tagged for ServerCommand {
    const TYPES: &'static [&'static str] = &[
        "welcome",
        "refused",
        "start_session",
        "next_item",
        "go_to_item",
        "speaker",
        "camera",
        "picture_in_picture",
        "closed_part",
        "stop",
        "recording_accepted",
        "error",
    ];
}

/// Decodes one frame ([`BroadcasterMessage`] or [`ServerCommand`]) with an error that
/// says what was wrong (same limits and errors as [`crate::protocol::decode`]).
pub fn decode<T: DeserializeOwned + Tagged>(text: &str) -> Result<T, ProtocolError> {
    crate::protocol::decode(text)
}

pub fn encode<T: Serialize>(message: &T) -> String {
    crate::protocol::encode(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            meeting_id: "m1".into(),
            title: "Rat".into(),
            agenda: vec![
                AgendaItem {
                    number: "1".into(),
                    title: "Eröffnung".into(),
                    public: true,
                },
                AgendaItem {
                    number: "Ö 2".into(),
                    title: "Personal".into(),
                    public: false,
                },
            ],
            start_item: None,
            download_allowed: true,
            closed: false,
        }
    }

    #[test]
    fn commands_round_trip_and_are_all_tagged() {
        let commands = [
            ServerCommand::Welcome {
                protocol: 1,
                server_time: DateTime::UNIX_EPOCH,
                status_interval_s: 5,
            },
            ServerCommand::Refused {
                reason: BroadcastRefusal::UnknownToken,
                message: "no".into(),
            },
            ServerCommand::StartSession {
                id: 1,
                session: session(),
            },
            ServerCommand::NextItem { id: 2 },
            ServerCommand::GoToItem {
                id: 3,
                number: "Ö 2".into(),
            },
            ServerCommand::Speaker {
                id: 4,
                speaker: Some(Speaker {
                    name: "A. B.".into(),
                    role: Some("Ratsmitglied".into()),
                    party: Some("SPD".into()),
                }),
            },
            ServerCommand::Camera {
                id: 5,
                name: "totale".into(),
            },
            ServerCommand::PictureInPicture { id: 6, name: None },
            ServerCommand::ClosedPart {
                id: 7,
                closed: true,
            },
            ServerCommand::Stop { id: 8 },
            ServerCommand::RecordingAccepted {
                id: 9,
                recording_id: "r".into(),
            },
            ServerCommand::Error {
                message: "x".into(),
            },
        ];
        assert_eq!(commands.len(), ServerCommand::TYPES.len());
        for c in commands {
            let text = encode(&c);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(ServerCommand::TYPES.contains(&v["type"].as_str().unwrap()));
            assert_eq!(decode::<ServerCommand>(&text).unwrap(), c);
        }
    }

    #[test]
    fn broadcaster_messages_round_trip_and_are_all_tagged() {
        let messages = [
            BroadcasterMessage::Hello(Hello {
                protocol: BROADCAST_PROTOCOL_VERSION,
                broadcaster_version: "0.1.0".into(),
                token: "t".into(),
                session: None,
            }),
            BroadcasterMessage::Ack { id: 1 },
            BroadcasterMessage::Rejected {
                id: 1,
                reason: "no such camera".into(),
            },
            BroadcasterMessage::Status(Status {
                state: BroadcastState::Live,
                audio_level_db: Some(-20.0),
                archive_error: Some("disk full".into()),
                restream: Some(RestreamStatus {
                    target: "rtmps://a.example/live2/…".into(),
                    state: RestreamState::Reconnecting,
                    attempts: 3,
                    last_error: Some("connection refused".into()),
                }),
                ..Status::default()
            }),
            BroadcasterMessage::Chapter(ChapterEvent {
                meeting_id: "m1".into(),
                offset_ms: 1000,
                at: DateTime::UNIX_EPOCH,
                kind: ChapterKind::Closed { closed: true },
            }),
            BroadcasterMessage::RecordingFinalized(RecordingFinalized {
                id: 1,
                recording_id: "r".into(),
                meeting_id: "m1".into(),
                started_at: DateTime::UNIX_EPOCH,
                duration_ms: 10,
                recovered: false,
                files: VodFiles {
                    hls_playlist: "r/vod.m3u8".into(),
                    hls_files: vec!["r/seg0.m4s".into()],
                    mp4: None,
                    chapters_vtt: "r/chapters.vtt".into(),
                    poster: None,
                    chapter_log: "r/chapters.jsonl".into(),
                },
                chapters: vec![],
            }),
        ];
        assert_eq!(messages.len(), BroadcasterMessage::TYPES.len());
        for m in messages {
            let text = encode(&m);
            assert_eq!(decode::<BroadcasterMessage>(&text).unwrap(), m);
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            decode::<ServerCommand>(r#"{"type":"self_destruct"}"#),
            Err(ProtocolError::UnknownType("self_destruct".into()))
        );
        assert!(matches!(
            decode::<ServerCommand>(r#"{"type":"camera","id":1}"#),
            Err(ProtocolError::Invalid { kind, .. }) if kind == "camera"
        ));
        let old = Hello {
            protocol: 0,
            broadcaster_version: "x".into(),
            token: "t".into(),
            session: None,
        };
        assert!(old.check_version().is_err());
    }

    #[test]
    fn sessions_are_checked() {
        assert!(session().check().is_ok());
        let mut twice = session();
        twice.agenda[1].number = "1".into();
        assert!(twice.check().unwrap_err().contains("twice"));
        let mut missing = session();
        missing.start_item = Some("9".into());
        assert!(missing.check().is_err());
        assert_eq!(session().item("Ö 2").unwrap().0, 1);
    }

    #[test]
    fn paths_are_checked() {
        assert!(is_safe_relative_path("m1-2026/vod.m3u8"));
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "c:x"] {
            assert!(!is_safe_relative_path(bad), "{bad}");
        }
    }

    #[test]
    fn speaker_subtitle() {
        let s = Speaker {
            name: "X".into(),
            role: None,
            party: Some("CDU".into()),
        };
        assert_eq!(s.subtitle(), "CDU");
    }
}
