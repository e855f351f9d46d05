//! An IANA time zone that serialises as its name ("Europe/Berlin").

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The time zone a display evaluates its schedules in. Defaults to Europe/Berlin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(pub Tz);

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone(Tz::Europe__Berlin)
    }
}

impl TimeZone {
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl std::str::FromStr for TimeZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Tz>().map(TimeZone).map_err(|_| {
            format!("unknown time zone {s:?} (expected an IANA name such as Europe/Berlin)")
        })
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
