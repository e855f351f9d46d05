//! System tests: the real control-server binary (and, for council TV, the real
//! broadcaster), driven over HTTP and WebSocket
//! the way staff and players use it.
//!
//! The binaries must be built before these run; Cargo gives integration tests
//! only the binaries of their own package:
//!
//! ```text
//! cargo build -p control-server -p broadcaster && cargo test -p system-tests
//! ```
//!
//! (`CONTROL_SERVER_BIN=/path/to/control-server` and
//! `BROADCASTER_BIN=/path/to/broadcaster` test other builds.) Every
//! wait is for an event or an API state, with a timeout; nothing sleeps and hopes.

#[path = "system/alerts.rs"]
mod alerts;
#[path = "system/browser_harness.rs"]
mod browser_harness;
#[path = "system/council.rs"]
mod council;
#[path = "system/lifecycle.rs"]
mod lifecycle;
#[path = "system/pairing.rs"]
mod pairing;
#[path = "system/protocol.rs"]
mod protocol;
#[path = "system/web_alerts.rs"]
mod web_alerts;
#[path = "system/web_console.rs"]
mod web_console;
#[path = "system/web_council_room.rs"]
mod web_council_room;
#[path = "system/web_display.rs"]
mod web_display;
#[path = "system/web_flow.rs"]
mod web_flow;
#[path = "system/web_public.rs"]
mod web_public;
#[path = "system/web_releases.rs"]
mod web_releases;
#[path = "system/web_schedule.rs"]
mod web_schedule;

use serde_json::{Value, json};
use std::time::Duration;
use system_tests::{Api, ServerOptions, ServerProcess, SimPlayer, Welcome};

/// The wait for any single expected event.
pub const T: Duration = Duration::from_secs(10);

/// A fresh server and its admin.
pub async fn start() -> (ServerProcess, Api) {
    start_with(ServerOptions::default()).await
}

/// A fresh server started with `options`, and its admin.
pub async fn start_with(options: ServerOptions) -> (ServerProcess, Api) {
    let mut server = ServerProcess::start_with(options);
    match Api::admin(&server.base_url()).await {
        Ok(api) => (server, api),
        Err(e) => server.fail(&format!("admin login failed: {e:#}")),
    }
}

/// Creates a display in Kaarst through the provisioning path (no pairing);
/// returns its id and token.
pub async fn provisioned_display(api: &Api, name: &str) -> (i64, String) {
    let id = api
        .create_display(&system_tests::api::display_json(name))
        .await
        .unwrap();
    let token = api.display_token(id).await.unwrap();
    (id, token)
}

/// A provisioned display in a new group `group`; returns its id and token.
pub async fn grouped_display(api: &Api, name: &str, group: &str) -> (i64, String) {
    let (status, body) = api
        .post("/api/groups", &json!({ "name": group }))
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let (id, token) = provisioned_display(api, name).await;
    let mut in_group = system_tests::api::display_json(name);
    in_group["id"] = json!(id);
    in_group["groups"] = json!([group]);
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/displays/{id}"),
            Some(&in_group),
        )
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    (id, token)
}

/// Connects with `token`, checks the welcome, and takes the manifest update a
/// fresh connection gets; returns the player and that version.
pub async fn online(server: &ServerProcess, token: &str, display: i64) -> (SimPlayer, u64) {
    let (mut player, welcome): (SimPlayer, Welcome) =
        SimPlayer::connect_with_token(&server.ws_url(), token)
            .await
            .unwrap();
    assert_eq!(welcome.display_id.0, display);
    let version = player.expect_manifest_update(T).await.unwrap();
    (player, version)
}

/// `GET path` as `api`, insisting on 200.
pub async fn get_ok(api: &Api, path: &str) -> Value {
    let (status, body) = api.get(path).await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "GET {path}: {body}");
    body
}
