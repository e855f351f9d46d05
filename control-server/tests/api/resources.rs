use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn announcement(title: &str) -> serde_json::Value {
    json!({ "name": title, "duration_s": 10, "content": { "type": "announcement", "title": title, "body": "Größe: 5 m² – süß" } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_and_schedules_round_trip() {
    let server = TestServer::start().await;
    let (status, item) = server
        .call(
            Method::POST,
            "/api/items",
            Some(announcement("Straßenfest")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let id = item["id"].as_i64().unwrap();
    assert_eq!(item["content"]["body"], "Größe: 5 m² – süß");

    let schedule = json!({
        "name": "Werktags",
        "targets": [{ "kind": "all" }],
        "entries": [{ "item": id }],
        "rule": { "recurrence": { "every": "week", "days": ["Mon", "Tue"] },
                  "windows": [{ "start": "06:00:00", "end": "22:00:00" }] }
    });
    let (status, s) = server
        .call(Method::POST, "/api/schedules", Some(schedule.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let sid = s["id"].as_i64().unwrap();

    let mut changed = schedule.clone();
    changed["name"] = json!("Werktags (geändert)");
    let (status, s) = server
        .call(Method::PUT, &format!("/api/schedules/{sid}"), Some(changed))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["name"], "Werktags (geändert)");
    assert_eq!(s["id"], sid);

    // A scheduled item cannot be deleted from under its schedule.
    let (status, body) = server
        .call(Method::DELETE, &format!("/api/items/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Werktags"));

    let (status, _) = server
        .call(Method::DELETE, &format!("/api/schedules/{sid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/items/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server
        .call(Method::GET, &format!("/api/items/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let server = TestServer::start().await;
    // Malformed JSON: 400 with a JSON error body.
    let resp = server
        .req(Method::POST, "/api/items")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = decode(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");

    // Unknown fields are refused, not ignored.
    let mut item = announcement("x");
    item["colour"] = json!("red");
    let (status, body) = server.call(Method::POST, "/api/items", Some(item)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );

    // Oversize JSON (over 2 MiB) is refused on its declared length, before
    // the body is sent: a raw request, since a client that keeps writing a
    // refused body races the server's close.
    let head = format!(
        "POST /api/items HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        server.admin,
        3 * 1024 * 1024
    );
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut reply),
    )
    .await
    .expect("the server answers without waiting for the body")
    .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("too_large"), "{reply}");

    // A schedule that ends before it starts.
    let (_, item) = server
        .call(Method::POST, "/api/items", Some(announcement("ok")))
        .await;
    let id = item["id"].as_i64().unwrap();
    let backwards = json!({
        "name": "rückwärts", "targets": [{ "kind": "all" }], "entries": [{ "item": id }],
        "rule": { "from": "2026-12-31", "until": "2026-12-01" }
    });
    let (status, body) = server
        .call(Method::POST, "/api/schedules", Some(backwards))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("ends"), "{body}");

    // Unknown display, unknown item.
    for (targets, entries) in [
        (
            json!([{ "kind": "display", "value": 999 }]),
            json!([{ "item": id }]),
        ),
        (json!([{ "kind": "all" }]), json!([{ "item": 424242 }])),
    ] {
        let s = json!({ "name": "x", "targets": targets, "entries": entries });
        let (status, body) = server.call(Method::POST, "/api/schedules", Some(s)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("unknown"),
            "{body}"
        );
    }

    // Wrong content type.
    let resp = server
        .req(Method::POST, "/api/items")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // No credentials at all.
    let resp = server
        .http
        .get(server.url("/api/items"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layouts_need_a_main_zone_and_stay_while_used() {
    let server = TestServer::start().await;
    let no_main = json!({ "name": "x", "zones": [{ "name": "side", "x": 0, "y": 0, "width": 50, "height": 100 }] });
    let (status, _) = server
        .call(Method::POST, "/api/layouts", Some(no_main))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let layout = json!({ "name": "Laufband", "zones": [
        { "name": "main", "x": 0, "y": 0, "width": 100, "height": 90 },
        { "name": "ticker", "x": 0, "y": 90, "width": 100, "height": 10 }
    ]});
    let (status, l) = server
        .call(Method::POST, "/api/layouts", Some(layout))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut d = display_json("Kaarst Rathausplatz");
    d["layout_id"] = l["id"].clone();
    let (status, body) = server.call(Method::POST, "/api/displays", Some(d)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/layouts/{}", l["id"]), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route() {
    let server = TestServer::start().await;
    let (status, doc) = server.call(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30);
    // Every documented operation is routed: the router's own 404/405 has an
    // empty body, ours are JSON.
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            if path == "/ws/player" {
                continue;
            }
            let concrete = path
                .replace("{id}", "1")
                .replace("{name}", "x")
                .replace("{sha256}", &"a".repeat(64));
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = server
                .http
                .request(m, server.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let body = resp.text().await.unwrap();
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED
                    && !(status == StatusCode::NOT_FOUND && body.is_empty()),
                "{method} {path} is documented but not routed ({status})"
            );
        }
    }
    server.stop().await;
}
