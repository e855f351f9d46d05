//! Live data the server pushes to players between manifest updates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A measured quantity, always in its normalised unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    Pm10,
    Pm25,
    No2,
    O3,
    Temperature,
    Humidity,
    Pressure,
}

impl Quantity {
    /// The unit every reading of this quantity is normalised to.
    pub fn unit(self) -> &'static str {
        match self {
            Quantity::Pm10 | Quantity::Pm25 | Quantity::No2 | Quantity::O3 => "µg/m³",
            Quantity::Temperature => "°C",
            Quantity::Humidity => "%",
            Quantity::Pressure => "hPa",
        }
    }

    /// German label for displays.
    pub fn label_de(self) -> &'static str {
        match self {
            Quantity::Pm10 => "Feinstaub PM10",
            Quantity::Pm25 => "Feinstaub PM2,5",
            Quantity::No2 => "Stickstoffdioxid",
            Quantity::O3 => "Ozon",
            Quantity::Temperature => "Temperatur",
            Quantity::Humidity => "Luftfeuchte",
            Quantity::Pressure => "Luftdruck",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Steady,
    Falling,
}

/// Umweltbundesamt air-quality index bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AirQualityClass {
    SehrGut,
    Gut,
    Maessig,
    Schlecht,
    SehrSchlecht,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorReading {
    pub station: String,
    pub quantity: Quantity,
    pub value: f64,
    pub measured_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<AirQualityClass>,
    /// Older than the server's configured age (`--sensor-stale-s`) when sent:
    /// the server sends a reading again with this set when it goes stale, so a
    /// display marks it even when no new data arrives. Left out when false, so
    /// players that predate the field still read every fresh reading.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stale: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occupancy {
    Empty,
    ManySeatsAvailable,
    FewSeatsAvailable,
    StandingRoomOnly,
    Full,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Departure {
    pub line: String,
    pub destination: String,
    pub planned: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<Occupancy>,
}

impl Departure {
    /// Delay in whole minutes, when a realtime estimate exists.
    pub fn delay_minutes(&self) -> Option<i64> {
        self.expected
            .map(|e| (e - self.planned).num_seconds().div_euclid(60))
    }
}

/// A public-transport service alert (GTFS-Realtime `Alert`: a moved stop, a
/// diversion, a strike) as a display shows it with the departures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAlert {
    /// The feed entity's id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The end of the period in force now; none: until the feed withdraws it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// One push of live data.
///
/// Unknown fields are refused, as in every other protocol message: without
/// `deny_unknown_fields` a `live_data` frame was the one message type that
/// silently accepted fields it does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LiveData {
    Sensors {
        readings: Vec<SensorReading>,
    },
    Departures {
        stop_id: String,
        /// When the source data was fetched; the player shows its age when old.
        as_of: DateTime<Utc>,
        departures: Vec<Departure>,
        /// Service alerts in force that name this stop or a line serving it.
        /// Left out when empty, so players that predate the field still read
        /// every board without alerts.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        alerts: Vec<ServiceAlert>,
    },
}
