//! The integration test suite of the `content` crate, as one test binary.
//!
//! - `schedule_props`: proptest properties of the schedule engine on generated
//!   schedules and instants across 2026–2027, DST switch nights included.
//! - `dst`: hand-computed daylight-saving cases with literal UTC instants.
//! - `kaarst`: insta snapshots of a realistic display in Kaarst.
//! - `protocol`: wire round trips and garbage that must be refused.
//! - `manifest`: the offline manifest's timeline, items and assets.
//! - `lenient`: a player's decoding of a manifest with items it does not know.
//! - `alert`: which displays a warning reaches.

#[path = "content/alert.rs"]
mod alert;
#[path = "content/common.rs"]
mod common;
#[path = "content/dst.rs"]
mod dst;
#[path = "content/kaarst.rs"]
mod kaarst;
#[path = "content/lenient.rs"]
mod lenient;
#[path = "content/manifest.rs"]
mod manifest;
#[path = "content/protocol.rs"]
mod protocol;
#[path = "content/schedule_props.rs"]
mod schedule_props;
