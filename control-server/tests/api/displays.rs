use crate::common::*;
use content::protocol::ServerMessage;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn displays_are_validated() {
    let server = TestServer::start().await;
    let mut bad = display_json("x");
    bad["location"]["ars"] = json!("5162");
    let (status, body) = server.call(Method::POST, "/api/displays", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("12 digits"),
        "{body}"
    );
    let mut bad = display_json("x");
    bad["timezone"] = json!("Mars/Olympus");
    let (status, _) = server.call(Method::POST, "/api/displays", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut bad = display_json("x");
    bad["groups"] = json!(["gibt es nicht"]);
    let (status, _) = server.call(Method::POST, "/api/displays", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let viewer = server.user("vera", "viewer").await;
    let resp = server
        .http
        .post(server.url("/api/displays"))
        .bearer_auth(&viewer)
        .json(&display_json("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_round_trip_and_reject_non_pngs() {
    let server = TestServer::start().await;
    let (id, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/displays/{id}/screenshot"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an offline display cannot take a screenshot"
    );

    let mut p = WsPlayer::online(&server, &token).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/displays/{id}/screenshot"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.expect(|m| matches!(m, ServerMessage::ScreenshotRequest { .. }).then_some(()))
        .await;

    let put = |body: Vec<u8>| {
        server
            .http
            .put(server.url("/api/player/screenshot"))
            .bearer_auth(&token)
            .body(body)
            .send()
    };
    assert_eq!(
        put(b"GIF89a not a png".to_vec()).await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let mut png = Vec::new();
    image::RgbImage::from_pixel(64, 36, image::Rgb([0, 80, 160]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let truncated = png[..png.len() / 2].to_vec();
    assert_eq!(
        put(truncated).await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        put(png.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let got = server
        .req(Method::GET, &format!("/api/displays/{id}/screenshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_previews_the_council_session() {
    let server = TestServer::start().await;
    assert!(control_server::demo::seed(&server.state).await.unwrap());
    assert!(
        !control_server::demo::seed(&server.state).await.unwrap(),
        "seeding twice changes nothing"
    );
    let (_, displays) = server.call(Method::GET, "/api/displays", None).await;
    let displays = displays.as_array().unwrap();
    assert_eq!(displays.len(), 5);
    let kaarst = displays
        .iter()
        .find(|d| d["name"] == "Kaarst Rathausplatz")
        .unwrap();
    // Tuesday 2026-12-01 is the first Tuesday: 18:00 in Kaarst is 17:00 UTC.
    let (status, playlist) = server
        .call(
            Method::GET,
            &format!(
                "/api/displays/{}/playlist?at=2026-12-01T17:00:00Z",
                kaarst["id"]
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{playlist}");
    let (_, items) = server.call(Method::GET, "/api/items", None).await;
    let live = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["content"]["type"] == "livestream")
        .unwrap();
    assert_eq!(playlist["zones"]["main"]["entries"][0]["item"], live["id"]);
    assert_eq!(playlist["next_change"], "2026-12-01T20:00:00Z");
    let driesch = displays
        .iter()
        .find(|d| d["name"] == "Driesch Spielplatz")
        .unwrap();
    let (_, playlist) = server
        .call(
            Method::GET,
            &format!(
                "/api/displays/{}/playlist?at=2026-12-01T17:00:00Z",
                driesch["id"]
            ),
            None,
        )
        .await;
    assert_ne!(
        playlist["zones"]["main"]["entries"][0]["item"], live["id"],
        "Driesch is not a Rathausplatz"
    );
    server.stop().await;
}

/// `PUT /api/displays/{id}` with these night windows.
async fn put_screen_off(
    server: &TestServer,
    id: i64,
    windows: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let mut d = display_json("Kaarst Nachtplatz");
    d["screen_off"] = windows;
    server
        .call(Method::PUT, &format!("/api/displays/{id}"), Some(d))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn night_windows_are_validated_audited_and_pushed() {
    let server = TestServer::start().await;
    let (id, token) = provisioned_display(&server, "Kaarst Nachtplatz").await;
    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some(&token), content::protocol::PROTOCOL_VERSION)
        .await;
    let version = |m| match m {
        ServerMessage::ManifestUpdate { version, .. } => Some(version),
        _ => None,
    };
    let first = p.expect(version).await;
    let path = format!("/api/displays/{id}");
    let put = |windows: serde_json::Value| put_screen_off(&server, id, windows);

    // Refused in words: no length, a weekday twice, no weekday at all.
    let (status, body) = put(json!([{ "start": "22:00:00", "end": "22:00:00" }])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("screen_off[0]") && message.contains("no length"),
        "{message}"
    );
    let (status, body) = put(json!([
        { "start": "01:00:00", "end": "02:00:00" },
        { "days": ["Mon", "Mon"], "start": "23:00:00", "end": "05:30:00" },
    ]))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("screen_off[1]: Mon is listed twice"),
        "{body}"
    );
    let (status, _) =
        put(json!([{ "days": ["Funday"], "start": "23:00:00", "end": "05:30:00" }])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Accepted: stored, audited with the windows, and pushed to the player.
    let night = json!([{ "days": ["Fri", "Sat"], "start": "23:00:00", "end": "05:30:00" }]);
    let (status, body) = put(night.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["screen_off"], night);
    let (_, read) = server.call(Method::GET, &path, None).await;
    assert_eq!(read["screen_off"], night);
    let (_, audit) = server.call(Method::GET, "/api/audit?limit=1", None).await;
    let entry = &audit[0];
    assert_eq!(entry["action"], "display.update", "{audit}");
    assert_eq!(entry["detail"]["screen_off"], night, "{audit}");
    let pushed = p.expect(version).await;
    assert!(pushed > first, "{pushed} after {first}");
    let resp = server
        .http
        .get(server.url("/api/player/manifest"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let manifest: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(manifest["display"]["screen_off"], night);
    assert_eq!(manifest["version"], json!(pushed));
    server.stop().await;
}
