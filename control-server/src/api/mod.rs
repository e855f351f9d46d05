//! The HTTP surface: one `routes()` per module, merged here.

pub mod alerts;
pub mod assets;
pub mod cap;
pub mod display_logs;
pub mod displays;
pub mod groups;
pub mod open_data;
pub mod openapi;
pub mod player;
pub mod releases;
pub mod resources;

use crate::config::MAX_JSON_BYTES;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use axum::{Json, Router};
use content::model::{ContentItem, Layout};
use content::schedule::Schedule;
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;

/// The whole application, ready to serve; tests drive it without a socket too.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/api/openapi.json", get(openapi::document))
        .route("/ws/player", get(crate::hub::ws_player))
        .merge(crate::auth::routes())
        .merge(resources::routes::<ContentItem>("/api/items"))
        .merge(resources::routes::<Layout>("/api/layouts"))
        .merge(resources::routes::<Schedule>("/api/schedules"))
        .merge(displays::routes())
        .merge(display_logs::routes())
        .merge(crate::preview::routes())
        .merge(crate::approval::routes())
        .merge(groups::routes())
        .merge(alerts::routes())
        .merge(player::routes())
        .merge(crate::civic::feeds::routes())
        .merge(open_data::routes())
        .merge(crate::civic::sensors::routes())
        .merge(crate::civic::sensorthings::routes())
        .merge(crate::civic::transit::routes())
        .merge(crate::council::routes())
        .merge(crate::web::routes())
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        // Upload routes replace the JSON limit with their own streaming limit.
        .merge(assets::routes())
        .merge(releases::routes())
        .merge(cap::routes())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}
