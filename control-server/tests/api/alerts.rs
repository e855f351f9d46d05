use crate::common::*;
use content::protocol::{PlayerMessage, ServerMessage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn alert(status: &str) -> Value {
    json!({
        "severity": "extreme",
        "status": status,
        "headline": "Großbrand in Kaarst – Fenster und Türen schließen",
        "area_description": "Kaarst",
        "area": { "ars": ["051620000000"] }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_publisher_must_approve() {
    let server = TestServer::start().await;
    let (_, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;
    let mut far = display_json("Düsseldorf");
    far["location"] = json!({ "lat": 51.2277, "lon": 6.7735, "ars": "051110000000" });
    let (_, far_view) = server.call(Method::POST, "/api/displays", Some(far)).await;
    let mut p = WsPlayer::online(&server, &token).await;

    let alice = server.user("alice", "publisher").await;
    let bob = server.user("bob", "publisher").await;
    let eve = server.user("eve", "editor").await;

    // An editor proposes (pending, like anyone's), but cannot send at once.
    let (status, _) = server.call_as(&eve, Method::POST, "/api/alerts",
        Some(
            json!({ "alert": alert("actual"), "bypass_approval": true, "bypass_reason": "Brand" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "editors cannot send alerts");
    let (status, proposed) = server
        .call_as(
            &eve,
            Method::POST,
            "/api/alerts",
            Some(json!({ "alert": alert("actual") })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{proposed}");
    assert_eq!(proposed["state"], "pending");
    let proposed = proposed["alert"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .call_as(
            &alice,
            Method::POST,
            &format!("/api/alerts/{proposed}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, created) = server
        .call_as(
            &alice,
            Method::POST,
            "/api/alerts",
            Some(json!({ "alert": alert("actual") })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "pending");
    let id = created["alert"]["id"].as_str().unwrap().to_owned();

    let (status, body) = server
        .call_as(
            &alice,
            Method::POST,
            &format!("/api/alerts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = server
        .call_as(
            &bob,
            Method::POST,
            &format!("/api/alerts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approved_by"], "bob");

    let (msg_id, got) = p
        .expect(|m| {
            if let ServerMessage::AlertStart { id, alert } = m {
                Some((id, alert))
            } else {
                None
            }
        })
        .await;
    assert_eq!(got.id, id);
    p.send(&PlayerMessage::Ack { id: msg_id }).await;
    p.send(&PlayerMessage::AlertShown {
        alert_id: id.clone(),
        at: chrono::Utc::now(),
    })
    .await;

    // Receipts fill in; the display in Düsseldorf is not a target at all.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, detail) = server
            .call(Method::GET, &format!("/api/alerts/{id}"), None)
            .await;
        let receipts = detail["receipts"].as_array().unwrap().clone();
        assert_eq!(
            receipts.len(),
            1,
            "only Kaarst is inside the area: {detail}"
        );
        assert_ne!(receipts[0]["display_id"], far_view["id"]);
        if receipts[0]["received_at"].is_string() && receipts[0]["shown_at"].is_string() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "receipts never arrived: {detail}"
        );
        tokio::task::yield_now().await;
    }

    let (status, body) = server
        .call_as(
            &bob,
            Method::POST,
            &format!("/api/alerts/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cancelled = p
        .expect(|m| {
            if let ServerMessage::AlertCancel { alert_id, .. } = m {
                Some(alert_id)
            } else {
                None
            }
        })
        .await;
    assert_eq!(cancelled, id);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_needs_a_reason_and_is_audited() {
    let server = TestServer::start().await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/alerts",
            Some(json!({ "alert": alert("actual"), "bypass_approval": true })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/alerts",
            Some(json!({ "alert": alert("actual"), "bypass_approval": true, "bypass_reason": "Brand, keine Zeit" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "active");
    let (status, audit) = server.call(Method::GET, "/api/audit", None).await;
    assert_eq!(status, StatusCode::OK);
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "alert.send_bypassing_approval")
        .unwrap_or_else(|| panic!("bypass not audited: {audit}"));
    assert_eq!(entry["actor"], "admin");
    assert!(entry["detail"].to_string().contains("Brand, keine Zeit"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_alerts_are_refused_and_tests_never_reach_screens() {
    let server = TestServer::start().await;
    let mut no_area = alert("actual");
    no_area["area"] = json!({});
    let (status, body) = server
        .call(
            Method::POST,
            "/api/alerts",
            Some(json!({ "alert": no_area })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("area"));
    let mut bad_severity = alert("actual");
    bad_severity["severity"] = json!("apocalyptic");
    let (status, _) = server
        .call(
            Method::POST,
            "/api/alerts",
            Some(json!({ "alert": bad_severity })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;
    let mut p = WsPlayer::online(&server, &token).await;
    let reason = json!("Probealarm");
    let (status, _) = server
        .call(
            Method::POST,
            "/api/alerts",
            Some(
                json!({ "alert": alert("test"), "bypass_approval": true, "bypass_reason": reason }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .call(Method::POST, "/api/alerts", Some(json!({ "alert": alert("exercise"), "bypass_approval": true, "bypass_reason": reason })))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // The exercise arrives (marked); the technical test never does.
    let got = p
        .expect(|m| {
            if let ServerMessage::AlertStart { alert, .. } = m {
                Some(alert)
            } else {
                None
            }
        })
        .await;
    assert_eq!(got.status, content::alert::AlertStatus::Exercise);
    server.stop().await;
}
