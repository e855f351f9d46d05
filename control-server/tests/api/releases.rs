//! Player releases: upload (streamed, checked for form, never for trust),
//! list, assign to one display or all, the manifest naming the release, the
//! display's download, and bad input refused with a clear 4xx while accepted
//! releases stay.

use crate::common::{TestServer, decode, provisioned_display};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A well-formed (not necessarily trusted) signature: the server cannot tell.
fn signature(seed: u8) -> String {
    hex::encode([seed; 64])
}

async fn upload(server: &TestServer, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    decode(
        server
            .req(Method::POST, &format!("/api/releases?{query}"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("upload"),
    )
    .await
}

fn query(version: &str, bytes: &[u8], sig: &str) -> String {
    format!("version={version}&sha256={}&signature={sig}", sha(bytes))
}

async fn manifest(server: &TestServer, token: &str) -> Value {
    let (status, m) = server
        .call_as(token, Method::GET, "/api/player/manifest", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    m
}

/// `PUT /api/releases/assignment` as the admin.
async fn assign(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server
        .call(Method::PUT, "/api/releases/assignment", Some(body))
        .await
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_release_is_uploaded_assigned_named_in_manifests_and_served() {
    let server = TestServer::start().await;
    let (one, one_token) = provisioned_display(&server, "Markt").await;
    let (_two, two_token) = provisioned_display(&server, "Rathaus").await;
    let binary = b"\x7fELF pretend player 2.0".to_vec();
    let (status, r) = upload(
        &server,
        &query("2.0.0", &binary, &signature(1)),
        binary.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["version"], "2.0.0");
    assert_eq!(r["size"], binary.len());
    assert_eq!(r["sha256"], sha(&binary));
    assert_eq!(
        std::fs::read(server.data_dir().join("releases").join(sha(&binary))).unwrap(),
        binary
    );
    assert!(files_in(&server.data_dir().join("assets/tmp")).is_empty());
    // Not assigned: manifests name no release, the download is refused.
    assert!(
        manifest(&server, &one_token)
            .await
            .get("player_release")
            .is_none()
    );
    let path = format!("/api/player/releases/{}", sha(&binary));
    let (status, _) = server.call_as(&one_token, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // One display: its manifest version moves and names the release.
    let before = manifest(&server, &one_token).await["version"]
        .as_u64()
        .unwrap();
    let (status, list) = assign(&server, json!({ "version": "2.0.0", "displays": [one] })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["displays"], json!([one]));
    let m = manifest(&server, &one_token).await;
    assert!(m["version"].as_u64().unwrap() > before);
    assert_eq!(
        m["player_release"],
        json!({
            "version": "2.0.0",
            "sha256": sha(&binary),
            "size": binary.len(),
            "signature": signature(1),
            "path": path,
        })
    );
    assert!(
        manifest(&server, &two_token)
            .await
            .get("player_release")
            .is_none()
    );
    let resp = server
        .http
        .get(server.url(&path))
        .bearer_auth(&one_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), binary);
    let (status, _) = server.call_as(&two_token, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not assigned to display two");
    // Staff tokens are not display tokens.
    let (status, _) = server.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Globally: display two follows; one keeps its own.
    let other = b"\x7fELF pretend player 3.0".to_vec();
    let (status, r) = upload(
        &server,
        &query("3.0.0", &other, &signature(2)),
        other.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, list) = assign(&server, json!({ "version": "3.0.0" })).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[1]["global"], true);
    assert_eq!(
        manifest(&server, &two_token).await["player_release"]["version"],
        "3.0.0"
    );
    assert_eq!(
        manifest(&server, &one_token).await["player_release"]["version"],
        "2.0.0"
    );
    // Removing display one's own assignment: it follows the global one.
    let (status, _) = assign(&server, json!({ "version": null, "displays": [one] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        manifest(&server, &one_token).await["player_release"]["version"],
        "3.0.0"
    );

    // Audited.
    let (_, audit) = server.call(Method::GET, "/api/audit", None).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("release.")).count(),
        5,
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_clearly_and_accepted_releases_stay() {
    let server = TestServer::start_with(|c| c.max_upload_mb = 1).await;
    let good = b"a player".to_vec();
    let (status, _) = upload(&server, &query("1.0.0", &good, &signature(1)), good.clone()).await;
    assert_eq!(status, StatusCode::CREATED);

    let big = vec![7u8; 1024 * 1024 + 1];
    let (status, body) = upload(&server, &query("1.1.0", &big, &signature(1)), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let b = b"another".to_vec();
    let cases: Vec<(String, &str)> = vec![
        (query("1.2.0", &b, "abc"), "signature"),
        (query("1.2.0", &b, &"zz".repeat(64)), "signature"),
        (
            format!("sha256={}&signature={}", sha(&b), signature(1)),
            "version is missing",
        ),
        (
            format!("version=1.2.0&signature={}", signature(1)),
            "sha256 is missing",
        ),
        (
            format!("version=1.2.0&sha256={}", sha(&b)),
            "signature is missing",
        ),
        (
            query("1.2.0%0Asha256=00", &b, &signature(1)),
            "version may hold",
        ),
        (query("1.2.0", b"something else", &signature(1)), "not the"),
        (
            format!("version=1.2.0&sha256=xyz&signature={}", signature(1)),
            "sha256 must be",
        ),
    ];
    for (q, says) in cases {
        let (status, body) = upload(&server, &q, b.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert!(
            body["message"].as_str().unwrap_or_default().contains(says),
            "{q}: {body}"
        );
    }
    // The same version or the same binary again: a conflict.
    let (status, body) = upload(&server, &query("1.0.0", &b, &signature(1)), b.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = upload(&server, &query("1.3.0", &good, &signature(1)), good.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Only admins upload and assign.
    let editor = server.user("redaktion", "editor").await;
    let (status, _) = decode(
        server
            .http
            .post(server.url(&format!(
                "/api/releases?{}",
                query("1.4.0", &b, &signature(1))
            )))
            .bearer_auth(&editor)
            .body(b.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = assign(&server, json!({ "version": "9.9" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = assign(&server, json!({ "version": "1.0.0", "displays": [4711] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = assign(&server, json!({ "displays": "all" })).await;
    assert!(status.is_client_error(), "{status} {body}");

    // Nothing but the accepted release was kept, and it survives a restart.
    assert_eq!(
        files_in(&server.data_dir().join("releases")),
        vec![sha(&good)]
    );
    assert!(files_in(&server.data_dir().join("assets/tmp")).is_empty());
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let (_, list) = server.call(Method::GET, "/api/releases", None).await;
    let versions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["version"].as_str())
        .collect();
    assert_eq!(versions, vec!["1.0.0"]);
}
