//! The console's feed health page (`/konsole/quellen`): every sensor, transit
//! and alert source with its last success, last error and the age of its data,
//! failing ones first.

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/quellen", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/feed-health.html"),
    title: "{{t:feeds.title}} – {{t:console.name}}",
    scripts: &["feed-health.js"],
    styles: &[],
    section: "feed-health",
};

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("feeds.title", "Datenquellen", "Data sources"),
    (
        "feeds.intro",
        "Sensoren, Nahverkehr und Warnungen: wann jede Quelle zuletzt Daten lieferte und was schiefging.",
        "Sensors, transit and alerts: when each source last delivered and what went wrong.",
    ),
    ("feeds.col_source", "Quelle", "Source"),
    ("feeds.col_kind", "Art", "Kind"),
    ("feeds.col_state", "Zustand", "State"),
    ("feeds.col_success", "Zuletzt erfolgreich", "Last success"),
    ("feeds.col_age", "Alter der Daten", "Data age"),
    ("feeds.col_error", "Letzter Fehler", "Last error"),
    ("js.feeds_ok", "in Ordnung", "working"),
    ("js.feeds_failing", "gestört", "failing"),
    (
        "js.feeds_none",
        "Noch keine Datenquelle gemeldet.",
        "No data source has reported yet.",
    ),
    ("js.feeds_never", "noch nie", "never"),
    (
        "js.feeds_summary",
        "{failing} von {total} gestört",
        "{failing} of {total} failing",
    ),
];
