//! The console's preview page (`/konsole/vorschau`): what a chosen display
//! shows at a chosen time, as the player itself renders it
//! ([`crate::preview`]).

use super::console::{StaffPage, staff_route};
use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    staff_route("/konsole/vorschau", &PAGE)
}

static PAGE: StaffPage = StaffPage {
    body: include_str!("../../web/pages/display-preview.html"),
    title: "{{t:preview.title}} – {{t:console.name}}",
    scripts: &["display-preview.js"],
    styles: &[],
    section: "preview",
};

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("preview.title", "Vorschau", "Preview"),
    (
        "preview.intro",
        "So zeigt der Bildschirm das Programm zum gewählten Zeitpunkt: vom Player selbst gezeichnet.",
        "What the display shows at the chosen time, drawn by the player itself.",
    ),
    ("preview.display", "Bildschirm", "Display"),
    ("preview.date", "Datum", "Date"),
    ("preview.time", "Uhrzeit", "Time"),
    ("preview.show", "Vorschau zeigen", "Show preview"),
    (
        "js.preview_rendering",
        "Die Vorschau wird gezeichnet …",
        "Drawing the preview …",
    ),
    ("js.preview_of", "Vorschau von", "Preview of"),
    ("js.preview_at", "am", "at"),
    (
        "js.preview_none",
        "Noch kein Bildschirm angelegt.",
        "No display yet.",
    ),
];
