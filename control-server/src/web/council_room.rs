//! The console's council-room page (`/konsole/rat`).

use super::PageQuery;
use super::console::{StaffPage, staff_page};
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new().route("/konsole/rat", get(page))
}

async fn page(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let page = StaffPage {
        body: include_str!("../../web/pages/council-room.html"),
        title: "{{t:room.title}} – {{t:console.name}}",
        scripts: &["council-room.js"],
        styles: &["council-room.css"],
        section: "council-room",
    };
    staff_page(&s, &q, &headers, &uri, &page).await
}

/// (key, German, English), see [`super::i18n`].
pub const TEXTS: &[(&str, &str, &str)] =
    &[("room.title", "Ratssitzung steuern", "Council control room")];
