//! Content approval where the town switches it on: an editor's item stays off
//! the screens until a publisher approves it, an edit needs approving again, a
//! publisher's own save approves itself, and switching approval off plays
//! everything.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The item ids in the display's manifest.
async fn playing(server: &TestServer, display: i64) -> Vec<i64> {
    let (status, m) = server
        .call(
            Method::GET,
            &format!("/api/displays/{display}/manifest"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    m["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

fn announcement(title: &str) -> Value {
    json!({
        "name": title,
        "duration_s": 10,
        "content": { "type": "announcement", "title": title, "body": "" },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_approval_on_only_approved_content_plays() {
    let server = TestServer::start().await;
    let (status, display) = server
        .call(
            Method::POST,
            "/api/displays",
            Some(display_json("Rathausplatz")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{display}");
    let display = display["id"].as_i64().unwrap();
    let eve = server.user("eve", "editor").await;
    let bob = server.user("bob", "publisher").await;

    let (status, body) = server
        .call_as(
            &eve,
            Method::PUT,
            "/api/content/approval",
            Some(json!({ "approval_required": true })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only admins switch it: {body}"
    );
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/content/approval",
            Some(json!({ "approval_required": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, item) = server
        .call_as(
            &eve,
            Method::POST,
            "/api/items",
            Some(announcement("Markt")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let item = item["id"].as_i64().unwrap();
    let (status, body) = server.call_as(&eve,
        Method::POST,
        "/api/schedules",
        Some(json!({ "name": "Alle", "targets": [{ "kind": "all" }], "entries": [{ "item": item }] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        playing(&server, display).await.is_empty(),
        "unapproved content plays"
    );
    let (_, approvals) = server.call(Method::GET, "/api/items/approvals", None).await;
    assert_eq!(
        approvals,
        json!([{ "item": item, "approved": false, "approved_by": null, "approved_at": null }])
    );

    let (status, body) = server
        .call_as(
            &eve,
            Method::POST,
            &format!("/api/items/{item}/approve"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "editors propose, publishers approve: {body}"
    );
    let (status, body) = server
        .call_as(
            &bob,
            Method::POST,
            &format!("/api/items/{item}/approve"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(playing(&server, display).await, vec![item]);
    let (_, approvals) = server.call(Method::GET, "/api/items/approvals", None).await;
    assert_eq!(approvals[0]["approved_by"], "bob");

    // The editor changes it: off the screens until approved again.
    let mut changed = announcement("Markt fällt aus");
    changed["id"] = json!(item);
    let (status, body) = server
        .call_as(
            &eve,
            Method::PUT,
            &format!("/api/items/{item}"),
            Some(changed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(playing(&server, display).await.is_empty());
    // A publisher's own save approves itself.
    changed["duration_s"] = json!(12);
    let (status, body) = server
        .call_as(
            &bob,
            Method::PUT,
            &format!("/api/items/{item}"),
            Some(changed),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(playing(&server, display).await, vec![item]);

    // Switched off, everything plays again, approved or not.
    let (_, other) = server
        .call_as(
            &eve,
            Method::POST,
            "/api/items",
            Some(announcement("Kirmes")),
        )
        .await;
    let other = other["id"].as_i64().unwrap();
    let (status, _) = server.call_as(&eve,
        Method::POST,
        "/api/schedules",
        Some(json!({ "name": "Kirmes", "targets": [{ "kind": "all" }], "entries": [{ "item": other }] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(playing(&server, display).await, vec![item]);
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/content/approval",
            Some(json!({ "approval_required": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut now = playing(&server, display).await;
    now.sort_unstable();
    assert_eq!(now, vec![item, other]);
    let (_, audit) = server.call(Method::GET, "/api/audit", None).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"item.approve") && actions.contains(&"content.approval_setting"),
        "{actions:?}"
    );
}
