//! GTFS-Realtime: the subset of `gtfs-realtime.proto` (proto2) we read, written
//! by hand as prost messages (no build script, no protoc), and what a decoded
//! feed means for departures.
//!
//! Field tags follow the specification
//! (<https://gtfs.org/documentation/realtime/proto/>); fields we do not need
//! are skipped by prost like any unknown field.

use chrono::{DateTime, Utc};
use content::live::Occupancy;
use prost::Message as _;
use std::collections::HashMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct FeedMessage {
    #[prost(message, optional, tag = "1")]
    pub header: Option<FeedHeader>,
    #[prost(message, repeated, tag = "2")]
    pub entity: Vec<FeedEntity>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FeedHeader {
    #[prost(string, optional, tag = "1")]
    pub gtfs_realtime_version: Option<String>,
    /// 0 FULL_DATASET, 1 DIFFERENTIAL.
    #[prost(int32, optional, tag = "2")]
    pub incrementality: Option<i32>,
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FeedEntity {
    #[prost(string, optional, tag = "1")]
    pub id: Option<String>,
    #[prost(bool, optional, tag = "2")]
    pub is_deleted: Option<bool>,
    #[prost(message, optional, tag = "3")]
    pub trip_update: Option<TripUpdate>,
    #[prost(message, optional, tag = "4")]
    pub vehicle: Option<VehiclePosition>,
    #[prost(message, optional, tag = "5")]
    pub alert: Option<Alert>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TripUpdate {
    #[prost(message, optional, tag = "1")]
    pub trip: Option<TripDescriptor>,
    #[prost(message, repeated, tag = "2")]
    pub stop_time_update: Vec<StopTimeUpdate>,
    #[prost(uint64, optional, tag = "4")]
    pub timestamp: Option<u64>,
    #[prost(int32, optional, tag = "5")]
    pub delay: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StopTimeEvent {
    #[prost(int32, optional, tag = "1")]
    pub delay: Option<i32>,
    #[prost(int64, optional, tag = "2")]
    pub time: Option<i64>,
    #[prost(int32, optional, tag = "3")]
    pub uncertainty: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StopTimeUpdate {
    #[prost(uint32, optional, tag = "1")]
    pub stop_sequence: Option<u32>,
    #[prost(message, optional, tag = "2")]
    pub arrival: Option<StopTimeEvent>,
    #[prost(message, optional, tag = "3")]
    pub departure: Option<StopTimeEvent>,
    #[prost(string, optional, tag = "4")]
    pub stop_id: Option<String>,
    #[prost(enumeration = "StopScheduleRelationship", optional, tag = "5")]
    pub schedule_relationship: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum StopScheduleRelationship {
    Scheduled = 0,
    Skipped = 1,
    NoData = 2,
    Unscheduled = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TripDescriptor {
    #[prost(string, optional, tag = "1")]
    pub trip_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub start_time: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub start_date: Option<String>,
    #[prost(enumeration = "TripScheduleRelationship", optional, tag = "4")]
    pub schedule_relationship: Option<i32>,
    #[prost(string, optional, tag = "5")]
    pub route_id: Option<String>,
    #[prost(uint32, optional, tag = "6")]
    pub direction_id: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TripScheduleRelationship {
    Scheduled = 0,
    Added = 1,
    Unscheduled = 2,
    Canceled = 3,
    Replacement = 5,
    Duplicated = 6,
    Deleted = 7,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VehiclePosition {
    #[prost(message, optional, tag = "1")]
    pub trip: Option<TripDescriptor>,
    #[prost(uint64, optional, tag = "5")]
    pub timestamp: Option<u64>,
    #[prost(enumeration = "OccupancyStatus", optional, tag = "9")]
    pub occupancy_status: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum OccupancyStatus {
    Empty = 0,
    ManySeatsAvailable = 1,
    FewSeatsAvailable = 2,
    StandingRoomOnly = 3,
    CrushedStandingRoomOnly = 4,
    Full = 5,
    NotAcceptingPassengers = 6,
    NoDataAvailable = 7,
    NotBoardable = 8,
}

impl OccupancyStatus {
    pub fn to_occupancy(self) -> Option<Occupancy> {
        match self {
            OccupancyStatus::Empty => Some(Occupancy::Empty),
            OccupancyStatus::ManySeatsAvailable => Some(Occupancy::ManySeatsAvailable),
            OccupancyStatus::FewSeatsAvailable => Some(Occupancy::FewSeatsAvailable),
            OccupancyStatus::StandingRoomOnly => Some(Occupancy::StandingRoomOnly),
            OccupancyStatus::CrushedStandingRoomOnly
            | OccupancyStatus::Full
            | OccupancyStatus::NotAcceptingPassengers => Some(Occupancy::Full),
            OccupancyStatus::NoDataAvailable | OccupancyStatus::NotBoardable => None,
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Alert {
    #[prost(message, repeated, tag = "1")]
    pub active_period: Vec<TimeRange>,
    #[prost(message, repeated, tag = "5")]
    pub informed_entity: Vec<EntitySelector>,
    #[prost(int32, optional, tag = "6")]
    pub cause: Option<i32>,
    #[prost(int32, optional, tag = "7")]
    pub effect: Option<i32>,
    #[prost(message, optional, tag = "10")]
    pub header_text: Option<TranslatedString>,
    #[prost(message, optional, tag = "11")]
    pub description_text: Option<TranslatedString>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeRange {
    #[prost(uint64, optional, tag = "1")]
    pub start: Option<u64>,
    #[prost(uint64, optional, tag = "2")]
    pub end: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EntitySelector {
    #[prost(string, optional, tag = "1")]
    pub agency_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub route_id: Option<String>,
    #[prost(message, optional, tag = "4")]
    pub trip: Option<TripDescriptor>,
    #[prost(string, optional, tag = "5")]
    pub stop_id: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TranslatedString {
    #[prost(message, repeated, tag = "1")]
    pub translation: Vec<Translation>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Translation {
    #[prost(string, optional, tag = "1")]
    pub text: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub language: Option<String>,
}

impl TranslatedString {
    /// German if present, else the first text.
    pub fn best(&self) -> Option<String> {
        self.translation
            .iter()
            .find(|t| t.language.as_deref() == Some("de"))
            .or_else(|| self.translation.first())
            .and_then(|t| t.text.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RtError {
    #[error("the GTFS-Realtime feed is not valid protobuf: {0}")]
    Decode(String),
    #[error("the GTFS-Realtime feed has no header with gtfs_realtime_version")]
    NoHeader,
    #[error("the GTFS-Realtime feed is larger than {0} bytes")]
    TooLarge(usize),
    #[error("fetching the GTFS-Realtime feed failed: {0}")]
    Fetch(String),
}

/// One stop's realtime estimate within a trip.
#[derive(Debug, Clone, PartialEq)]
pub struct StopEstimate {
    pub stop_sequence: Option<u32>,
    pub stop_id: Option<String>,
    /// Seconds late (negative: early), when given as a delay.
    pub delay: Option<i32>,
    /// Absolute departure (or arrival) time, when given as a time.
    pub time: Option<DateTime<Utc>>,
    pub skipped: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TripState {
    pub cancelled: bool,
    /// Trip-level delay, used where no stop estimate applies.
    pub delay: Option<i32>,
    pub stops: Vec<StopEstimate>,
    pub occupancy: Option<Occupancy>,
}

/// A service alert, reduced to what the API and the displays show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceAlert {
    pub id: String,
    pub header: Option<String>,
    pub description: Option<String>,
    /// Stops it names (an informed entity with a stop).
    pub stop_ids: Vec<String>,
    /// Lines it names (an informed entity with a route, or a trip of one).
    pub route_ids: Vec<String>,
    /// When it is in force; empty: always, while the feed carries it.
    pub active_periods: Vec<Period>,
}

/// A GTFS-Realtime `TimeRange`; a missing end is open.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Period {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl ServiceAlert {
    /// The period in force at `now`, if any (an alert without periods always is).
    pub fn in_force(&self, now: DateTime<Utc>) -> Option<Period> {
        if self.active_periods.is_empty() {
            return Some(Period {
                start: None,
                end: None,
            });
        }
        self.active_periods
            .iter()
            .find(|p| p.start.is_none_or(|s| s <= now) && p.end.is_none_or(|e| now < e))
            .copied()
    }

    /// Whether it concerns a stop (or its station) or one of `routes`.
    pub fn affects(&self, stops: &[&str], routes: &[String]) -> bool {
        self.stop_ids.iter().any(|s| stops.contains(&s.as_str()))
            || self.route_ids.iter().any(|r| routes.contains(r))
    }

    /// As pushed to displays, when in force at `now`.
    pub fn for_display(&self, now: DateTime<Utc>) -> Option<content::live::ServiceAlert> {
        let period = self.in_force(now)?;
        Some(content::live::ServiceAlert {
            id: self.id.clone(),
            header: self.header.clone(),
            description: self.description.clone(),
            until: period.end,
        })
    }
}

fn unix_time(secs: Option<u64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| i64::try_from(s).ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

/// The last good realtime data and when it was received.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub as_of: DateTime<Utc>,
    pub trips: HashMap<String, TripState>,
    pub alerts: Vec<ServiceAlert>,
}

/// Decodes and interprets a feed; nothing is changed when it fails.
pub fn decode(bytes: &[u8], received: DateTime<Utc>) -> Result<Snapshot, RtError> {
    let feed = FeedMessage::decode(bytes).map_err(|e| RtError::Decode(e.to_string()))?;
    let header = feed.header.as_ref().ok_or(RtError::NoHeader)?;
    if header
        .gtfs_realtime_version
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        return Err(RtError::NoHeader);
    }
    let mut trips: HashMap<String, TripState> = HashMap::new();
    let mut alerts = Vec::new();
    for e in &feed.entity {
        if e.is_deleted == Some(true) {
            continue;
        }
        if let Some(tu) = &e.trip_update
            && let Some(trip_id) = tu.trip.as_ref().and_then(|t| t.trip_id.clone())
        {
            let st = trips.entry(trip_id).or_default();
            let rel = tu.trip.as_ref().and_then(|t| t.schedule_relationship);
            st.cancelled = matches!(
                rel.and_then(|r| TripScheduleRelationship::try_from(r).ok()),
                Some(TripScheduleRelationship::Canceled | TripScheduleRelationship::Deleted)
            );
            st.delay = tu.delay;
            st.stops = tu
                .stop_time_update
                .iter()
                .map(|u| {
                    let ev = u.departure.as_ref().or(u.arrival.as_ref());
                    StopEstimate {
                        stop_sequence: u.stop_sequence,
                        stop_id: u.stop_id.clone(),
                        delay: ev.and_then(|e| e.delay),
                        time: ev
                            .and_then(|e| e.time)
                            .and_then(|t| DateTime::from_timestamp(t, 0)),
                        skipped: u.schedule_relationship
                            == Some(StopScheduleRelationship::Skipped as i32),
                    }
                })
                .collect();
        }
        if let Some(v) = &e.vehicle
            && let Some(trip_id) = v.trip.as_ref().and_then(|t| t.trip_id.clone())
        {
            let occ = v
                .occupancy_status
                .and_then(|o| OccupancyStatus::try_from(o).ok())
                .and_then(OccupancyStatus::to_occupancy);
            trips.entry(trip_id).or_default().occupancy = occ;
        }
        if let Some(a) = &e.alert {
            alerts.push(ServiceAlert {
                id: e.id.clone().unwrap_or_default(),
                header: a.header_text.as_ref().and_then(TranslatedString::best),
                description: a.description_text.as_ref().and_then(TranslatedString::best),
                stop_ids: a
                    .informed_entity
                    .iter()
                    .filter_map(|s| s.stop_id.clone())
                    .collect(),
                route_ids: a
                    .informed_entity
                    .iter()
                    .filter_map(|s| {
                        s.route_id
                            .clone()
                            .or_else(|| s.trip.as_ref().and_then(|t| t.route_id.clone()))
                    })
                    .collect(),
                active_periods: a
                    .active_period
                    .iter()
                    .map(|p| Period {
                        start: unix_time(p.start),
                        end: unix_time(p.end),
                    })
                    .collect(),
            });
        }
    }
    Ok(Snapshot {
        as_of: received,
        trips,
        alerts,
    })
}

impl TripState {
    /// The estimate for a stop: an exact match, or the delay propagated from
    /// the last earlier update (GTFS-Realtime propagation rule).
    pub fn estimate(
        &self,
        stop_sequence: u32,
        stop_id: &str,
        planned: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, bool) {
        let exact = self.stops.iter().find(|s| {
            s.stop_sequence == Some(stop_sequence)
                || (s.stop_sequence.is_none() && s.stop_id.as_deref() == Some(stop_id))
        });
        if let Some(s) = exact {
            if s.skipped {
                return (None, true);
            }
            if let Some(t) = s.time {
                return (Some(t), false);
            }
            if let Some(d) = s.delay {
                return (Some(planned + chrono::Duration::seconds(d.into())), false);
            }
        }
        let earlier = self
            .stops
            .iter()
            .filter(|s| s.stop_sequence.is_some_and(|q| q < stop_sequence) && !s.skipped)
            .max_by_key(|s| s.stop_sequence);
        let delay = earlier.and_then(|s| s.delay).or(self.delay);
        (
            delay.map(|d| planned + chrono::Duration::seconds(d.into())),
            false,
        )
    }
}
