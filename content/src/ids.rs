//! Typed identifiers. They are database row ids on the server; the newtypes keep
//! a display id from being passed where an item id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type! {
    /// A screen on a square.
    DisplayId;
    /// A piece of content (announcement, image, clock, ...).
    ItemId;
    /// A zone arrangement.
    LayoutId;
    /// A rule that places items on displays.
    ScheduleId;
}
