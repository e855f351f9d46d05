//! The WebSocket protocol between control server and player (`/ws/player`).
//!
//! JSON text frames, one message each, tagged by `type`. The player opens with
//! [`Hello`] naming its protocol version; the server answers [`ServerMessage::Welcome`]
//! or [`ServerMessage::Refused`]. Messages that need an acknowledgement carry an
//! `id` the player returns in [`PlayerMessage::Ack`]; the server resends what is
//! not acknowledged after a reconnect. Unknown or malformed messages decode to a
//! [`ProtocolError`], never a panic.

use crate::alert::Alert;
use crate::live::LiveData;
use crate::{DisplayId, ItemId, ScheduleId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use thiserror::Error;

/// The version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest version this build still accepts.
pub const MIN_PROTOCOL_VERSION: u16 = 1;
/// Frames larger than this are refused unread.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// An id the receiver acknowledges; unique per server process and connection history.
pub type MessageId = u64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlayerMessage {
    Hello(Hello),
    Heartbeat(Health),
    Ack {
        id: MessageId,
    },
    /// Plays since the last acknowledged batch; the player keeps them until
    /// [`ServerMessage::PlaysAccepted`] names the batch.
    ProofOfPlay {
        batch: u64,
        records: Vec<PlayRecord>,
    },
    /// The alert is on screen (as opposed to merely received, which `Ack` says).
    AlertShown {
        alert_id: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol: u16,
    pub player_version: String,
    /// The display token; `None` asks for a pairing code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A random id the unpaired player keeps, so a reconnect keeps its pairing code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The manifest version the player has; the server pushes a newer one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub uptime_s: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_temp_c: Option<f32>,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub disk_free_bytes: u64,
    pub disk_total_bytes: u64,
    pub fps: f32,
    /// What plays in each zone right now.
    #[serde(default)]
    pub now_playing: Vec<NowPlaying>,
    #[serde(default)]
    pub cache: CacheState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_version: Option<u64>,
    /// Problems a technician should know of, in plain words.
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NowPlaying {
    pub zone: String,
    pub item: ItemId,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheState {
    pub assets_ready: u32,
    pub assets_missing: u32,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayRecord {
    pub item: ItemId,
    pub zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleId>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u32,
}

/// One line of the board's system log (the journal), forwarded by the
/// player: `POST /api/player/logs` takes a batch of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    /// syslog priority: 0 emergency … 3 error, 4 warning … 7 debug.
    pub priority: u8,
    /// Who logged it: the syslog identifier or unit ("kernel", "player").
    pub source: String,
    pub message: String,
}

impl LogEntry {
    /// At most this many entries per batch.
    pub const MAX_BATCH: usize = 500;
    /// Longer messages are cut (by the player) or refused (by the server).
    pub const MAX_MESSAGE_CHARS: usize = 2000;
    pub const MAX_SOURCE_CHARS: usize = 64;

    /// Why the server refuses it, if it does.
    pub fn problem(&self) -> Option<String> {
        if self.priority > 7 {
            return Some(format!("priority {} is not 0 to 7", self.priority));
        }
        if self.source.chars().count() > Self::MAX_SOURCE_CHARS {
            return Some(format!("source over {} characters", Self::MAX_SOURCE_CHARS));
        }
        if self.message.chars().count() > Self::MAX_MESSAGE_CHARS {
            return Some(format!(
                "message over {} characters",
                Self::MAX_MESSAGE_CHARS
            ));
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    Welcome {
        protocol: u16,
        display_id: DisplayId,
        server_time: DateTime<Utc>,
        heartbeat_interval_s: u32,
    },
    /// Show this code full screen until staff adopt the display.
    PairingCode {
        code: String,
        expires_at: DateTime<Utc>,
    },
    /// Staff adopted the display: keep the token and reconnect with it.
    Adopted {
        display_id: DisplayId,
        token: String,
    },
    Refused {
        reason: RefusalReason,
        message: String,
    },
    /// A newer manifest exists: fetch it from `GET /api/player/manifest`.
    ManifestUpdate {
        id: MessageId,
        version: u64,
    },
    LiveData(LiveData),
    AlertStart {
        id: MessageId,
        alert: Alert,
    },
    AlertCancel {
        id: MessageId,
        alert_id: String,
    },
    ScreenshotRequest {
        id: MessageId,
    },
    PlaysAccepted {
        batch: u64,
    },
    /// The player sent something the server could not use; the connection stays open.
    Error {
        message: String,
    },
}

impl ServerMessage {
    /// The id the player must acknowledge, for messages that need it.
    pub fn ack_id(&self) -> Option<MessageId> {
        match self {
            ServerMessage::ManifestUpdate { id, .. }
            | ServerMessage::AlertStart { id, .. }
            | ServerMessage::AlertCancel { id, .. }
            | ServerMessage::ScreenshotRequest { id } => Some(*id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    UnsupportedProtocol,
    UnknownToken,
    Revoked,
    /// The first message was not a hello.
    NoHello,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("message is not valid JSON: {0}")]
    NotJson(String),
    #[error("message has no \"type\" field")]
    MissingType,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("invalid {kind} message: {detail}")]
    Invalid { kind: String, detail: String },
    #[error(
        "protocol version {got} is not supported (this server speaks {MIN_PROTOCOL_VERSION}..={PROTOCOL_VERSION})"
    )]
    UnsupportedVersion { got: u16 },
}

/// Decodes one frame into `T` ([`PlayerMessage`] or [`ServerMessage`]) with an
/// error that says what was wrong.
pub fn decode<T: DeserializeOwned + Tagged>(text: &str) -> Result<T, ProtocolError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::TooLarge(text.len()));
    }
    match serde_json::from_str::<T>(text) {
        Ok(m) => Ok(m),
        Err(e) => Err(classify::<T>(text, e)),
    }
}

pub fn encode<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).expect("protocol messages always serialise")
}

/// Message enums that know their `type` tags, so an unknown type can be told
/// apart from a known one with bad fields.
pub trait Tagged {
    const TYPES: &'static [&'static str];
}

impl Tagged for PlayerMessage {
    const TYPES: &'static [&'static str] =
        &["hello", "heartbeat", "ack", "proof_of_play", "alert_shown"];
}

impl Tagged for ServerMessage {
    const TYPES: &'static [&'static str] = &[
        "welcome",
        "pairing_code",
        "adopted",
        "refused",
        "manifest_update",
        "live_data",
        "alert_start",
        "alert_cancel",
        "screenshot_request",
        "plays_accepted",
        "error",
    ];
}

fn classify<T: Tagged>(text: &str, err: serde_json::Error) -> ProtocolError {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return ProtocolError::NotJson(e.to_string()),
    };
    match value.get("type").and_then(|t| t.as_str()) {
        None => ProtocolError::MissingType,
        Some(t) if !T::TYPES.contains(&t) => ProtocolError::UnknownType(t.to_owned()),
        Some(t) => ProtocolError::Invalid {
            kind: t.to_owned(),
            detail: err.to_string(),
        },
    }
}

impl Hello {
    pub fn check_version(&self) -> Result<(), ProtocolError> {
        if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&self.protocol) {
            Ok(())
        } else {
            Err(ProtocolError::UnsupportedVersion { got: self.protocol })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips() {
        let m = PlayerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            player_version: "0.1.0".into(),
            token: Some("t".into()),
            device_id: None,
            manifest_version: Some(3),
        });
        assert_eq!(decode::<PlayerMessage>(&encode(&m)).unwrap(), m);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(matches!(
            decode::<PlayerMessage>("{nope"),
            Err(ProtocolError::NotJson(_))
        ));
        assert_eq!(
            decode::<PlayerMessage>(r#"{"id":1}"#),
            Err(ProtocolError::MissingType)
        );
        assert_eq!(
            decode::<PlayerMessage>(r#"{"type":"launch_missiles"}"#),
            Err(ProtocolError::UnknownType("launch_missiles".into()))
        );
        assert!(matches!(
            decode::<PlayerMessage>(r#"{"type":"ack","id":"x"}"#),
            Err(ProtocolError::Invalid { kind, .. }) if kind == "ack"
        ));
        assert!(matches!(
            decode::<PlayerMessage>(r#"{"type":"ack","id":1,"extra":true}"#),
            Err(ProtocolError::Invalid { .. })
        ));
        let big = format!(
            r#"{{"type":"ack","id":1,"pad":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert!(matches!(
            decode::<PlayerMessage>(&big),
            Err(ProtocolError::TooLarge(_))
        ));
    }

    #[test]
    fn every_tag_is_listed() {
        // A message type added without a tag entry would be reported as "unknown".
        let samples = [
            encode(&ServerMessage::ScreenshotRequest { id: 1 }),
            encode(&ServerMessage::PlaysAccepted { batch: 1 }),
            encode(&ServerMessage::Error {
                message: "x".into(),
            }),
        ];
        for s in samples {
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            assert!(ServerMessage::TYPES.contains(&v["type"].as_str().unwrap()));
        }
    }

    #[test]
    fn old_versions_are_refused() {
        let h = Hello {
            protocol: 0,
            player_version: "x".into(),
            token: None,
            device_id: None,
            manifest_version: None,
        };
        assert_eq!(
            h.check_version(),
            Err(ProtocolError::UnsupportedVersion { got: 0 })
        );
    }
}
