//! Emergency alerts, shaped after CAP 1.2 (the format of the federal warning
//! system) so an incoming CAP message and a staff-made alert are the same thing.

use crate::model::{Ars, Location};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// CAP `identifier`, unique per sender.
    pub id: String,
    #[serde(default)]
    pub status: AlertStatus,
    pub severity: Severity,
    #[serde(default)]
    pub urgency: Urgency,
    pub headline: String,
    #[serde(default)]
    pub description: String,
    /// What people should do ("Fenster und Türen schließen").
    #[serde(default)]
    pub instruction: String,
    /// Human-readable area ("Kaarst, Rhein-Kreis Neuss").
    pub area_description: String,
    pub area: AlertArea,
    pub sent: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// Who issued it ("Stadt Kaarst", "DWD", ...).
    #[serde(default)]
    pub sender: String,
}

impl Alert {
    /// Extreme and severe alerts take the whole screen; the rest run as a banner.
    pub fn presentation(&self) -> Presentation {
        match self.severity {
            Severity::Extreme | Severity::Severe => Presentation::Takeover,
            Severity::Moderate | Severity::Minor | Severity::Unknown => Presentation::Banner,
        }
    }

    pub fn is_active_at(&self, at: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|e| at < e)
    }

    pub fn covers(&self, location: &Location) -> bool {
        self.area.covers(location)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    #[default]
    Actual,
    /// Drills: shown marked "Übung", never mistaken for a real warning.
    Exercise,
    /// Technical tests: never shown to the public.
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Unknown,
    Minor,
    Moderate,
    Severe,
    Extreme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Immediate,
    Expected,
    Future,
    Past,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presentation {
    Takeover,
    Banner,
}

/// The union of regional keys, polygons and circles; a display inside any of
/// them receives the alert.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertArea {
    #[serde(default)]
    pub ars: Vec<Ars>,
    /// Rings of (lat, lon) points; closing the ring is optional.
    #[serde(default)]
    pub polygons: Vec<Vec<(f64, f64)>>,
    #[serde(default)]
    pub circles: Vec<Circle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Circle {
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
}

impl AlertArea {
    pub fn is_empty(&self) -> bool {
        self.ars.is_empty() && self.polygons.is_empty() && self.circles.is_empty()
    }

    pub fn covers(&self, loc: &Location) -> bool {
        self.ars.iter().any(|key| loc.ars.is_within(key))
            || self
                .polygons
                .iter()
                .any(|ring| point_in_ring(loc.lat, loc.lon, ring))
            || self
                .circles
                .iter()
                .any(|c| haversine_km(c.lat, c.lon, loc.lat, loc.lon) <= c.radius_km)
    }
}

/// Even-odd ray casting. Planar in lat/lon, which is exact enough for
/// municipal-sized polygons far from the poles and the antimeridian.
fn point_in_ring(lat: f64, lon: f64, ring: &[(f64, f64)]) -> bool {
    if ring.len() < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (yi, xi) = ring[i];
        let (yj, xj) = ring[j];
        if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kaarst() -> Location {
        Location {
            lat: 51.2276,
            lon: 6.6172,
            ars: "051620016016".parse().unwrap(),
            address: None,
        }
    }

    #[test]
    fn district_key_covers_town() {
        let area = AlertArea {
            ars: vec!["051620000000".parse().unwrap()],
            ..Default::default()
        };
        assert!(area.covers(&kaarst()));
        let other = AlertArea {
            ars: vec!["051660000000".parse().unwrap()],
            ..Default::default()
        };
        assert!(!other.covers(&kaarst()));
    }

    #[test]
    fn polygon_and_circle() {
        let square = AlertArea {
            polygons: vec![vec![(51.2, 6.6), (51.3, 6.6), (51.3, 6.7), (51.2, 6.7)]],
            ..Default::default()
        };
        assert!(square.covers(&kaarst()));
        let far = AlertArea {
            circles: vec![Circle {
                lat: 51.4556,
                lon: 7.0116,
                radius_km: 10.0,
            }],
            ..Default::default()
        };
        assert!(!far.covers(&kaarst()));
        let near = AlertArea {
            circles: vec![Circle {
                lat: 51.23,
                lon: 6.62,
                radius_km: 1.0,
            }],
            ..Default::default()
        };
        assert!(near.covers(&kaarst()));
    }

    #[test]
    fn ags_from_ars() {
        let ars: Ars = "051620016016".parse().unwrap();
        assert_eq!(ars.ags(), "05162016");
        assert_eq!(ars.district().as_str(), "051620000000");
        assert!("05162".parse::<Ars>().is_err());
    }
}
