//! The console's schedule editor (`/konsole/programm`).

use super::PageQuery;
use super::console::{StaffPage, staff_page};
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new().route("/konsole/programm", get(page))
}

async fn page(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let page = StaffPage {
        body: include_str!("../../web/pages/schedule-editor.html"),
        title: "{{t:schedule.title}} – {{t:console.name}}",
        scripts: &["schedule-editor.js"],
        styles: &["schedule-editor.css"],
        section: "schedule",
    };
    staff_page(&s, &q, &headers, &uri, &page).await
}

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] = &[("schedule.title", "Programm", "Schedule")];
