//! (a) Pairing, reconnecting with the token, manifest updates and the
//! player's HTTP manifest endpoint.

use super::{T, get_ok, start};
use serde_json::json;
use system_tests::api::{display_json, player_get};
use system_tests::{PairingPlayer, SimPlayer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paired_player_follows_schedule_changes() {
    let (server, api) = start().await;
    let ws = server.ws_url();

    // An unpaired player shows a code; staff adopt it as a new display.
    let pairing = PairingPlayer::start(&ws, "sim-device-0001").await.unwrap();
    assert_eq!(pairing.code.len(), 6, "pairing code {:?}", pairing.code);
    let id = api
        .adopt(&pairing.code, &display_json("Rathaus Foyer"))
        .await
        .unwrap();
    let (display_id, token) = pairing.adopted(T).await.unwrap();
    assert_eq!(display_id.0, id);

    // It reconnects with its token: welcome, then the manifest it lacks.
    let (mut player, welcome) = SimPlayer::connect_with_token(&ws, &token).await.unwrap();
    assert_eq!(welcome.display_id, display_id);
    let first = player.expect_manifest_update(T).await.unwrap();

    // A schedule for this display produces a newer manifest, which it acknowledges.
    let item = api
        .create_announcement("Hinweis", "Bürgerversammlung", "Heute 19 Uhr im Rathaus")
        .await
        .unwrap();
    api.create_schedule(
        "Foyer",
        json!([{ "kind": "display", "value": id }]),
        &[item],
    )
    .await
    .unwrap();
    let version = player.expect_manifest_update(T).await.unwrap();
    assert!(version > first, "update {version} after {first}");

    // The server recorded the acknowledgement.
    let path = format!("/api/displays/{id}");
    eventually(T, "the acknowledged manifest version", || async {
        let d = get_ok(&api, &path).await;
        Ok((d["acked_manifest"] == json!(version)).then_some(()))
    })
    .await;
    let d = get_ok(&api, &path).await;
    assert_eq!(d["manifest_version"], json!(version));
    assert_eq!(d["online"], json!(true));

    // The player's HTTP side: the manifest at that version, then 304.
    let http = system_tests::api::http_client();
    let base = server.base_url();
    let (status, manifest) = player_get(&http, &base, &token, "/api/player/manifest")
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{manifest}");
    assert_eq!(manifest["version"], json!(version));
    assert_eq!(manifest["display"]["id"], json!(id));
    assert!(
        manifest["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == json!(item)),
        "{manifest}"
    );
    let (status, body) = player_get(
        &http,
        &base,
        &token,
        &format!("/api/player/manifest?since={version}"),
    )
    .await
    .unwrap();
    assert_eq!(status, reqwest::StatusCode::NOT_MODIFIED, "{body}");
    let (status, _) = player_get(
        &http,
        &base,
        &token,
        &format!("/api/player/manifest?since={first}"),
    )
    .await
    .unwrap();
    assert_eq!(status, reqwest::StatusCode::OK);

    player.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_an_unknown_code_is_refused() {
    let (_server, api) = start().await;
    let (status, body) = api
        .post(
            "/api/displays/adopt",
            &json!({ "code": "000000", "display": display_json("Nirgends") }),
        )
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{body}");
}
