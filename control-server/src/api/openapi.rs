//! The OpenAPI document at `/api/openapi.json` (to be completed).

use axum::Json;
use serde_json::{Value, json};

pub async fn document() -> Json<Value> {
    Json(json!({ "openapi": "3.1.0", "info": { "title": "control-server", "version": env!("CARGO_PKG_VERSION") }, "paths": {} }))
}
