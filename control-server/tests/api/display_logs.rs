use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn entry(message: &str) -> Value {
    json!({ "at": "2026-11-22T03:04:05Z", "priority": 4, "source": "kernel", "message": message })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_logs_are_checked_kept_bounded_and_survive_a_restart() {
    let server = TestServer::start().await;
    let (id, token) = provisioned_display(&server, "Büttgen Rathausplatz").await;
    let post = |body: Value| server.call_as(&token, Method::POST, "/api/player/logs", Some(body));

    let (status, body) = post(json!([entry("EXT4-fs (vda3): Warnung"), entry("zweite")])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Refused whole, each with a message saying why; nothing of them is kept.
    let mut bad = entry("x");
    bad["priority"] = json!(9);
    let (status, body) = post(json!([entry("ok"), bad])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("log entry 1: priority 9"),
        "{body}"
    );
    let (status, body) = post(json!([entry(&"x".repeat(2001))])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("2000"), "{body}");
    let (status, body) = post(json!(vec![entry("x"); 501])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("at most 500"),
        "{body}"
    );
    let (status, _) =
        post(json!([{ "at": "gestern", "priority": 4, "source": "k", "message": "m" }])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let resp = server
        .http
        .post(server.url("/api/player/logs"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("[{\"at\":")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Only a display may send, only staff may read.
    let (status, _) = server
        .call(Method::POST, "/api/player/logs", Some(json!([])))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .call_as(
            &token,
            Method::GET,
            &format!("/api/displays/{id}/logs"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let viewer = server.user("vera", "viewer").await;
    let (status, lines) = server
        .call_as(
            &viewer,
            Method::GET,
            &format!("/api/displays/{id}/logs"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    let messages: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["zweite", "EXT4-fs (vda3): Warnung"],
        "newest first"
    );
    assert_eq!(lines[0]["source"], "kernel");
    assert_eq!(lines[0]["at"], "2026-11-22T03:04:05Z");

    // Filtered by severity on the server: an error among warnings.
    let mut error = entry("Failed to start player.service");
    error["priority"] = json!(3);
    error["source"] = json!("systemd");
    let (status, body) = post(json!([error, entry("dritte")])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, lines) = server
        .call(
            Method::GET,
            &format!("/api/displays/{id}/logs?max_priority=3"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    assert_eq!(lines.as_array().unwrap().len(), 1, "{lines}");
    assert_eq!(lines[0]["message"], "Failed to start player.service");
    assert_eq!(lines[0]["priority"], 3);
    let (_, lines) = server
        .call(
            Method::GET,
            &format!("/api/displays/{id}/logs?max_priority=4&limit=2"),
            None,
        )
        .await;
    let messages: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["dritte", "Failed to start player.service"]);
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/api/displays/{id}/logs?max_priority=8"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = server
        .call(Method::GET, "/api/displays/999/logs", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/api/displays/{id}/logs?limit=0"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bounded: eleven full batches leave the newest 5000.
    for batch in 0..11 {
        let entries: Vec<Value> = (0..500).map(|i| entry(&format!("{batch}-{i}"))).collect();
        let (status, _) = post(json!(entries)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let (_, lines) = server
        .call(
            Method::GET,
            &format!("/api/displays/{id}/logs?limit=5000"),
            None,
        )
        .await;
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 5000);
    assert_eq!(lines[0]["message"], "10-499");
    assert_eq!(lines[4999]["message"], "1-0");
    server.stop().await;
}
