//! Displays, layouts and content items.

use crate::{DisplayId, ItemId, LayoutId, TimeZone};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A screen on a square, as staff configure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Display {
    pub id: DisplayId,
    pub name: String,
    pub location: Location,
    pub resolution: Resolution,
    #[serde(default)]
    pub orientation: Orientation,
    #[serde(default)]
    pub timezone: TimeZone,
    /// Groups are staff-made sets ("Rathausplätze"); tags are free labels ("outdoor").
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Transit stops near the display, shown on its transit boards.
    #[serde(default)]
    pub transit_stops: Vec<StopRef>,
    /// `None` plays the built-in full-screen layout.
    #[serde(default)]
    pub layout_id: Option<LayoutId>,
    /// Night mode: when the screen is switched off (local wall-clock
    /// windows, see [`crate::screen`]). Empty: always on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screen_off: Vec<crate::screen::ScreenOff>,
}

impl Display {
    /// Checks the night windows ([`crate::screen::validate`]).
    pub fn validate_screen_off(&self) -> Result<(), String> {
        crate::screen::validate(&self.screen_off)
    }
}

/// Where a display stands: coordinates (WGS 84) and the official regional key,
/// which is how federal warnings (NINA) address an area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    /// Amtlicher Regionalschlüssel, 12 digits (e.g. 051620016016 for Kaarst).
    pub ars: Ars,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Location {
    pub fn validate(&self) -> Result<(), String> {
        if !(-90.0..=90.0).contains(&self.lat) || !(-180.0..=180.0).contains(&self.lon) {
            return Err(format!(
                "coordinates out of range: lat {} lon {}",
                self.lat, self.lon
            ));
        }
        Ok(())
    }
}

/// Amtlicher Regionalschlüssel (ARS): 2 digits Land, 1 Regierungsbezirk, 2 Kreis,
/// 4 Gemeindeverband, 3 Gemeinde. The 8-digit AGS is derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ars(String);

impl Ars {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Amtlicher Gemeindeschlüssel: Land, Bezirk, Kreis and Gemeinde digits.
    pub fn ags(&self) -> String {
        format!("{}{}", &self.0[..5], &self.0[9..])
    }

    /// The district (Kreis) level key padded with zeros, as NINA's dashboard uses it.
    pub fn district(&self) -> Ars {
        Ars(format!("{}0000000", &self.0[..5]))
    }

    /// Whether `self` lies inside the area `key` names. A key's trailing zero
    /// groups mean "the whole area", so 051620000000 contains 051620016016.
    ///
    /// Only whole groups count: trimming every trailing zero digit made Kreis
    /// Heinsberg (053700000000) contain the Oberbergische Kreis (05374…) and
    /// Saarland (100000000000) contain Berlin (11…).
    pub fn is_within(&self, key: &Ars) -> bool {
        // Where the groups end: Land, Regierungsbezirk, Kreis, Gemeindeverband, Gemeinde.
        const GROUP_ENDS: [usize; 6] = [0, 2, 3, 5, 9, 12];
        let significant = GROUP_ENDS
            .iter()
            .find(|&&end| key.0[end..].bytes().all(|b| b == b'0'))
            .map_or(key.0.as_str(), |&end| &key.0[..end]);
        self.0.starts_with(significant)
    }
}

impl TryFrom<String> for Ars {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Ars(s))
        } else {
            Err(format!("regional key (ARS) must be 12 digits, got {s:?}"))
        }
    }
}

impl std::str::FromStr for Ars {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ars::try_from(s.to_owned())
    }
}

impl From<Ars> for String {
    fn from(a: Ars) -> String {
        a.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub width: u32,
    pub height: u32,
}

impl Resolution {
    pub fn validate(&self) -> Result<(), String> {
        if !(64..=16384).contains(&self.width) || !(64..=16384).contains(&self.height) {
            return Err(format!(
                "resolution {}x{} out of range",
                self.width, self.height
            ));
        }
        Ok(())
    }
}

/// How the panel is mounted. The player rotates its output; layouts are designed
/// for the resulting logical orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    #[default]
    Landscape,
    Portrait,
    LandscapeFlipped,
    PortraitFlipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRef {
    /// GTFS `stop_id` (in Germany usually the DHID, e.g. "de:05162:4711").
    pub id: String,
    pub name: String,
}

/// A zone arrangement. Zone rectangles are in percent of the screen so one
/// layout serves every resolution of the same orientation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub id: LayoutId,
    pub name: String,
    pub zones: Vec<Zone>,
}

/// The name of the zone every layout has and schedules default to.
pub const MAIN_ZONE: &str = "main";

impl Layout {
    /// The layout a display without one plays: a single full-screen zone.
    pub fn fullscreen() -> Layout {
        Layout {
            id: LayoutId(0),
            name: "Vollbild".into(),
            zones: vec![Zone {
                name: MAIN_ZONE.into(),
                x: 0.0,
                y: 0.0,
                width: 100.0,
                height: 100.0,
                z: 0,
            }],
        }
    }

    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.zone(MAIN_ZONE).is_none() {
            return Err(format!("layout needs a zone named {MAIN_ZONE:?}"));
        }
        for (i, z) in self.zones.iter().enumerate() {
            if self.zones[..i].iter().any(|o| o.name == z.name) {
                return Err(format!("zone name {:?} used twice", z.name));
            }
            let fits =
                |start: f32, len: f32| start >= 0.0 && len > 0.0 && start + len <= 100.0 + 1e-3;
            if !fits(z.x, z.width) || !fits(z.y, z.height) {
                return Err(format!(
                    "zone {:?} lies outside the screen (percent 0..100)",
                    z.name
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// Stacking order: higher draws on top.
    #[serde(default)]
    pub z: i32,
}

/// A piece of content staff can schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentItem {
    pub id: ItemId,
    pub name: String,
    /// What the item shows, tagged by `type`.
    pub content: ItemKind,
    /// How long one showing lasts unless the schedule entry says otherwise.
    pub duration_s: u32,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The item never plays before `valid_from` or after `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl ContentItem {
    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| at >= f) && self.expires_at.is_none_or(|e| at < e)
    }

    /// Every asset the item needs on the player's disk.
    pub fn assets(&self) -> Vec<&AssetRef> {
        match &self.content {
            ItemKind::Announcement { image, .. } => image.iter().collect(),
            ItemKind::Image { asset, .. } | ItemKind::Video { asset, .. } => vec![asset],
            _ => Vec::new(),
        }
    }
}

/// What an item shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItemKind {
    Announcement {
        title: String,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<AssetRef>,
    },
    Image {
        asset: AssetRef,
        #[serde(default)]
        fit: Fit,
    },
    Video {
        asset: AssetRef,
        #[serde(default)]
        muted: bool,
    },
    /// Current readings of the sensors near the display.
    SensorPanel {
        /// Sensor station ids; empty means every station configured for the display's area.
        #[serde(default)]
        stations: Vec<String>,
        quantities: Vec<crate::live::Quantity>,
    },
    /// Next departures; empty `stops` means the display's own stops.
    TransitBoard {
        #[serde(default)]
        stops: Vec<String>,
        #[serde(default = "default_rows")]
        max_rows: u8,
    },
    Clock {
        #[serde(default = "yes")]
        show_date: bool,
    },
    Ticker {
        text: String,
        #[serde(default = "default_ticker_speed")]
        speed_px_per_s: u16,
    },
    /// The council TV stream. Web-safe: HLS from our own server only.
    Livestream { hls_path: String },
    /// An emergency alert as content (used when staff schedule a warning notice).
    EmergencyAlert(crate::alert::Alert),
}

fn default_rows() -> u8 {
    6
}
fn yes() -> bool {
    true
}
fn default_ticker_speed() -> u16 {
    120
}

impl ItemKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ItemKind::Announcement { .. } => "announcement",
            ItemKind::Image { .. } => "image",
            ItemKind::Video { .. } => "video",
            ItemKind::SensorPanel { .. } => "sensor_panel",
            ItemKind::TransitBoard { .. } => "transit_board",
            ItemKind::Clock { .. } => "clock",
            ItemKind::Ticker { .. } => "ticker",
            ItemKind::Livestream { .. } => "livestream",
            ItemKind::EmergencyAlert(_) => "emergency_alert",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Whole image visible, letterboxed on the zone's background.
    #[default]
    Contain,
    /// Zone filled, edges cropped.
    Cover,
}

/// A file the player must download: content-addressed, so a checksum match is
/// the whole proof that the cached copy is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetRef {
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    pub size: u64,
    pub mime: String,
}

impl AssetRef {
    pub fn is_well_formed(&self) -> bool {
        self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}
