//! Asset uploads and downloads (to be completed).

use crate::config::Config;
use crate::state::AppState;
use axum::Router;

pub fn prepare_dirs(config: &Config) -> std::io::Result<()> {
    std::fs::create_dir_all(config.assets_dir())
}

pub fn routes() -> Router<AppState> {
    Router::new()
}

pub async fn serve_file(_state: &AppState, sha256: &str, _req: axum::extract::Request) -> crate::error::ApiResult<axum::response::Response> {
    Err(crate::error::ApiError::NotFound(format!("asset {sha256}")))
}
