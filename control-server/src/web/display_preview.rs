//! The console's preview page (`/konsole/vorschau`): what a chosen display
//! shows at a chosen time, as the player itself renders it
//! ([`crate::preview`]).

use super::PageQuery;
use super::console::{StaffPage, staff_page};
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new().route("/konsole/vorschau", get(page))
}

async fn page(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let page = StaffPage {
        body: include_str!("../../web/pages/display-preview.html"),
        title: "{{t:preview.title}} – {{t:console.name}}",
        scripts: &["display-preview.js"],
        styles: &[],
        section: "preview",
    };
    staff_page(&s, &q, &headers, &uri, &page).await
}

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
