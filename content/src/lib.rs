//! The shared language of the system: the domain model, the wire protocol between
//! control server and players, and the schedule engine.
//!
//! Invariant: this crate does no I/O and depends on no runtime (tokio, Bevy,
//! GStreamer, SQLite). Everything here is a pure function of its inputs, so the
//! server, the player (offline, from its cache) and the tests all resolve a
//! schedule to the very same playlist.
//!
//! - [`model`]: displays, layouts, content items, assets.
//! - [`schedule`]: schedules and their rules (dates, recurrence, dayparts, priority).
//! - [`resolve()`]: schedules + display + instant → playlists and the next change.
//! - [`screen`]: night mode, when a display's screen is off.
//! - [`manifest`]: everything a player needs to run offline for a week.
//! - [`alert`]: emergency alerts and their geo-targeting.
//! - [`live`]: live data (sensor readings, departures) pushed to players.
//! - [`protocol`]: the versioned WebSocket messages.
//! - [`lenient`]: manifest decoding for players that skips items they cannot decode.
//! - [`broadcast`]: the broadcaster's WebSocket protocol (sessions, agenda, status, recordings).

pub mod alert;
pub mod broadcast;
pub mod ids;
pub mod lenient;
pub mod live;
pub mod manifest;
pub mod model;
pub mod protocol;
pub mod release;
pub mod resolve;
pub mod schedule;
pub mod screen;
mod tz;

pub use ids::{DisplayId, ItemId, LayoutId, ScheduleId};
pub use resolve::{Resolution, resolve};
pub use tz::TimeZone;
