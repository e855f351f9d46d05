//! CAP 1.2 ingest (`POST /api/cap`), the NINA poller against a fake NINA
//! server on 127.0.0.1, feed health and alert expiry.

use crate::common::*;
use axum::extract::{Path, State};
use axum::routing::get;
use content::alert::{AlertStatus, Severity};
use content::protocol::ServerMessage;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AREA_KAARST_POLYGON: &str = "<area><areaDesc>Kaarst</areaDesc><polygon>51.20,6.58 51.26,6.58 51.26,6.66 51.20,6.66 51.20,6.58</polygon></area>";

/// A CAP document; `extra` goes into <alert> (references), `area` into <info>.
fn cap(id: &str, msg_type: &str, status: &str, severity: &str, extra: &str, area: &str) -> String {
    // Fixed, so the same message sent twice is the same message.
    let sent = "2026-01-15T06:00:00+01:00";
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{id}</identifier>
  <sender>leitstelle@rhein-kreis-neuss.de</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {extra}
  <info>
    <language>de-DE</language>
    <category>Fire</category>
    <event>Brand</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    <headline>Warnung {id}</headline>
    <description>Starke Rauchentwicklung.</description>
    <instruction>Fenster und Türen schließen.</instruction>
    {area}
  </info>
</alert>"#
    )
}

fn refs(ids: &[&str]) -> String {
    let list: Vec<String> = ids
        .iter()
        .map(|id| format!("leitstelle@rhein-kreis-neuss.de,{id},2026-11-22T06:00:00+01:00"))
        .collect();
    format!("<references>{}</references>", list.join(" "))
}

async fn post_cap(
    server: &TestServer,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let resp = server
        .http
        .post(server.url("/api/cap"))
        .bearer_auth(token)
        .header("content-type", "application/cap+xml")
        .body(body)
        .send()
        .await
        .expect("request");
    decode(resp).await
}

async fn started(p: &mut WsPlayer) -> content::alert::Alert {
    p.expect(|m| match m {
        ServerMessage::AlertStart { alert, .. } => Some(alert),
        _ => None,
    })
    .await
}

async fn cancelled(p: &mut WsPlayer) -> String {
    p.expect(|m| match m {
        ServerMessage::AlertCancel { alert_id, .. } => Some(alert_id),
        _ => None,
    })
    .await
}

/// The next alert message, start or cancel, as ("start"|"cancel", id).
async fn next_alert_event(p: &mut WsPlayer) -> (&'static str, String) {
    p.expect(|m| match m {
        ServerMessage::AlertStart { alert, .. } => Some(("start", alert.id)),
        ServerMessage::AlertCancel { alert_id, .. } => Some(("cancel", alert_id)),
        _ => None,
    })
    .await
}

/// Kaarst (the default test display) and Düsseldorf, both online.
async fn two_players(server: &TestServer) -> (WsPlayer, WsPlayer) {
    let (_, kaarst) = provisioned_display(server, "Kaarst Rathausplatz").await;
    let mut far = display_json("Düsseldorf Burgplatz");
    far["location"] = json!({ "lat": 51.2277, "lon": 6.7735, "ars": "051110000000" });
    let (status, body) = server.call(Method::POST, "/api/displays", Some(far)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (_, tok) = server
        .call(Method::POST, &format!("/api/displays/{id}/token"), None)
        .await;
    let duesseldorf = tok["token"].as_str().unwrap().to_owned();
    (
        WsPlayer::online(server, &kaarst).await,
        WsPlayer::online(server, &duesseldorf).await,
    )
}

/// Polls `GET path` until `done` holds, or fails after 10 s.
async fn wait_for(
    server: &TestServer,
    path: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = server.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_alert_update_cancel_reach_the_displays_inside_the_area() {
    let server = TestServer::start().await;
    let county = server.user("kreisleitstelle", "publisher").await;
    let (mut kaarst, mut duesseldorf) = two_players(&server).await;

    // Alert by polygon: Kaarst only.
    let (status, body) = post_cap(
        &server,
        &county,
        cap("A-1", "Alert", "Actual", "Severe", "", AREA_KAARST_POLYGON),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"], "created");
    let a = started(&mut kaarst).await;
    assert_eq!(a.id, "A-1");
    assert_eq!(a.severity, Severity::Severe);
    assert_eq!(a.instruction, "Fenster und Türen schließen.");
    assert_eq!(a.area_description, "Kaarst");

    // The same message again changes nothing.
    let (status, body) = post_cap(
        &server,
        &county,
        cap("A-1", "Alert", "Actual", "Severe", "", AREA_KAARST_POLYGON),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "unchanged");

    // Update by circle replaces it on screen: cancel the old, start the new.
    let circle = "<area><areaDesc>Kaarst Mitte</areaDesc><circle>51.23,6.62 2</circle></area>";
    let (status, body) = post_cap(
        &server,
        &county,
        cap(
            "A-2",
            "Update",
            "Actual",
            "Extreme",
            &refs(&["A-1"]),
            circle,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["cancelled"], json!(["A-1"]));
    assert_eq!(
        next_alert_event(&mut kaarst).await,
        ("cancel", "A-1".into())
    );
    assert_eq!(next_alert_event(&mut kaarst).await, ("start", "A-2".into()));

    // Cancel via references.
    let (status, body) = post_cap(
        &server,
        &county,
        cap("A-3", "Cancel", "Actual", "Extreme", &refs(&["A-2"]), ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "cancelled");
    assert_eq!(cancelled(&mut kaarst).await, "A-2");
    let (_, a1) = server.call(Method::GET, "/api/alerts/A-1", None).await;
    assert_eq!(a1["state"], "cancelled");
    assert_eq!(a1["source"], "cap:kreisleitstelle");
    assert_eq!(
        a1["approved_by"],
        Value::Null,
        "official alerts need no approval"
    );

    // Geocodes: an AGS for Düsseldorf reaches Düsseldorf only.
    let ags = "<area><areaDesc>Düsseldorf</areaDesc><geocode><valueName>AGS</valueName><value>05111000</value></geocode></area>";
    let (status, body) = post_cap(
        &server,
        &county,
        cap("B-1", "Alert", "Actual", "Moderate", "", ags),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = started(&mut duesseldorf).await;
    assert_eq!(b.id, "B-1", "Düsseldorf saw nothing of the Kaarst alerts");
    assert_eq!(b.presentation(), content::alert::Presentation::Banner);

    // A technical test is stored but never shown.
    let (status, body) = post_cap(
        &server,
        &county,
        cap("T-1", "Alert", "Test", "Extreme", "", AREA_KAARST_POLYGON),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sent_to"], 0);

    // An ARS for the whole Land reaches both; Kaarst's next alert is this one,
    // so it never got B-1 (Düsseldorf) nor T-1 (a test).
    let land = "<area><areaDesc>NRW</areaDesc><geocode><valueName>ARS</valueName><value>050000000000</value></geocode></area>";
    let (status, body) = post_cap(
        &server,
        &county,
        cap("C-1", "Alert", "Exercise", "Minor", "", land),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let c = started(&mut kaarst).await;
    assert_eq!(c.id, "C-1");
    assert_eq!(c.status, AlertStatus::Exercise);
    assert_eq!(started(&mut duesseldorf).await.id, "C-1");

    let (_, detail) = server.call(Method::GET, "/api/alerts/T-1", None).await;
    assert_eq!(detail["alert"]["status"], "test");
    let (status, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    assert_eq!(status, StatusCode::OK);
    let feed = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "cap:kreisleitstelle")
        .unwrap_or_else(|| panic!("no feed row: {feeds}"));
    assert_eq!(feed["kind"], "cap");
    assert_eq!(feed["ok"], true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_invalid_cap_is_refused_with_a_clear_4xx() {
    let server = TestServer::start().await;
    let county = server.user("kreisleitstelle", "publisher").await;
    let editor = server.user("redaktion", "editor").await;

    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"#;
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE alert [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"#;
    let undeclared = cap("X-1", "Alert", "Actual", "Severe", "", AREA_KAARST_POLYGON)
        .replace("Starke Rauchentwicklung.", "&xxe;");
    let mut huge = cap("X-2", "Alert", "Actual", "Severe", "", AREA_KAARST_POLYGON);
    huge = huge.replace(
        "Starke Rauchentwicklung.",
        &"Rauch ".repeat(5 * 1024 * 1024 / 6),
    );
    assert!(huge.len() > 5 * 1024 * 1024 - 64);
    let deep = format!(
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">{}{}</alert>",
        "<info>".repeat(10_000),
        "</info>".repeat(10_000)
    );

    for (what, body, status, says) in [
        (
            "billion laughs",
            laughs.to_owned(),
            StatusCode::BAD_REQUEST,
            "DOCTYPE",
        ),
        (
            "external entity",
            xxe.to_owned(),
            StatusCode::BAD_REQUEST,
            "DOCTYPE",
        ),
        (
            "undeclared entity",
            undeclared,
            StatusCode::BAD_REQUEST,
            "malformed XML",
        ),
        (
            "5 MiB document",
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit",
        ),
        (
            "deep nesting",
            deep,
            StatusCode::BAD_REQUEST,
            "nests deeper",
        ),
        (
            "not CAP",
            "<rss/>".to_owned(),
            StatusCode::BAD_REQUEST,
            "not a CAP",
        ),
        (
            "no area",
            cap("X-3", "Alert", "Actual", "Severe", "", ""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no usable area",
        ),
        (
            "unusable area",
            cap(
                "X-4",
                "Alert",
                "Actual",
                "Severe",
                "",
                "<area><areaDesc>Bezirk</areaDesc><geocode><valueName>WARNCELLID</valueName><value>105162000</value></geocode></area>",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no usable area",
        ),
        (
            "unknown severity",
            cap(
                "X-5",
                "Alert",
                "Actual",
                "Catastrophic",
                "",
                AREA_KAARST_POLYGON,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown CAP severity \"Catastrophic\"",
        ),
        (
            "draft",
            cap("X-6", "Alert", "Draft", "Severe", "", AREA_KAARST_POLYGON),
            StatusCode::UNPROCESSABLE_ENTITY,
            "\"Draft\"",
        ),
        (
            "cancel of nothing",
            cap("X-7", "Cancel", "Actual", "Severe", &refs(&["nope"]), ""),
            StatusCode::NOT_FOUND,
            "nope",
        ),
    ] {
        let (got, body) = post_cap(&server, &county, body).await;
        assert_eq!(got, status, "{what}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(says),
            "{what}: {message:?} should say {says:?}"
        );
        // The server is fine afterwards.
        let (health, _) = server.call(Method::GET, "/api/health", None).await;
        assert_eq!(health, StatusCode::OK, "after {what}");
    }

    // CAP's own "Unknown" severity is taken and shown as a banner.
    let (status, body) = post_cap(
        &server,
        &county,
        cap("U-1", "Alert", "Actual", "Unknown", "", AREA_KAARST_POLYGON),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, detail) = server.call(Method::GET, "/api/alerts/U-1", None).await;
    assert_eq!(detail["alert"]["severity"], "unknown");

    // Only publishers send CAP.
    let (status, _) = post_cap(
        &server,
        &editor,
        cap("E-1", "Alert", "Actual", "Severe", "", AREA_KAARST_POLYGON),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The refusals show in the feed-health view.
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    let feed = &feeds.as_array().unwrap()[0];
    assert_eq!(feed["name"], "cap:kreisleitstelle", "{feeds}");
    assert!(feed["last_error"].is_string(), "{feeds}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_past_its_expiry_is_marked_expired_and_taken_down() {
    let server = TestServer::start_with(|c| c.alert_expiry_ms = 50).await;
    let county = server.user("kreisleitstelle", "publisher").await;
    let (_, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;
    let mut p = WsPlayer::online(&server, &token).await;
    let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(3000))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let doc = cap(
        "EXP-1",
        "Alert",
        "Actual",
        "Severe",
        "",
        AREA_KAARST_POLYGON,
    )
    .replace(
        "<headline>",
        &format!("<expires>{expires}</expires><headline>"),
    );
    let (status, body) = post_cap(&server, &county, doc).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(started(&mut p).await.id, "EXP-1");
    assert_eq!(cancelled(&mut p).await, "EXP-1");
    let detail = wait_for(&server, "/api/alerts/EXP-1", "expiry", |d| {
        d["state"] == "expired"
    })
    .await;
    assert!(detail["expired_at"].is_string());
    server.stop().await;
}

/// A fake NINA server: a dashboard per district and warnings by id; it can hang.
#[derive(Default)]
struct FakeNina {
    dashboard: Mutex<Value>,
    warnings: Mutex<HashMap<String, Value>>,
    hang: std::sync::atomic::AtomicBool,
}

async fn fake_nina(fake: Arc<FakeNina>) -> (String, tokio::task::JoinHandle<()>) {
    async fn hang_if(fake: &FakeNina) {
        if fake.hang.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
    let app = axum::Router::new()
        .route(
            "/dashboard/{file}",
            get(
                |State(f): State<Arc<FakeNina>>, Path(_file): Path<String>| async move {
                    hang_if(&f).await;
                    axum::Json(f.dashboard.lock().unwrap().clone())
                },
            ),
        )
        .route(
            "/warnings/{file}",
            get(
                |State(f): State<Arc<FakeNina>>, Path(file): Path<String>| async move {
                    hang_if(&f).await;
                    let id = file.trim_end_matches(".json");
                    match f.warnings.lock().unwrap().get(id) {
                        Some(w) => axum::Json(w.clone()).into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

use axum::response::IntoResponse as _;

const WARNING_ID: &str = "mow.DE-NW-NE-SE043-20261122-43-000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nina_warnings_appear_and_withdrawn_ones_are_cancelled() {
    let fake = Arc::new(FakeNina::default());
    *fake.dashboard.lock().unwrap() = json!([]);
    fake.warnings.lock().unwrap().insert(
        WARNING_ID.into(),
        serde_json::from_str(include_str!("../fixtures/nina/warning.json")).unwrap(),
    );
    let (base, fake_task) = fake_nina(fake.clone()).await;
    let server = TestServer::start_with(|c| {
        c.nina_url = Some(base);
        c.nina_ars = vec!["051620000000".into()];
        c.nina_interval_ms = 50;
    })
    .await;
    let (mut kaarst, mut duesseldorf) = two_players(&server).await;

    *fake.dashboard.lock().unwrap() =
        serde_json::from_str(include_str!("../fixtures/nina/dashboard.json")).unwrap();
    let a = started(&mut kaarst).await;
    assert_eq!(a.id, WARNING_ID);
    assert_eq!(a.severity, Severity::Severe);
    assert!(
        a.headline.starts_with("Großbrand"),
        "the German info: {}",
        a.headline
    );
    assert_eq!(a.area.ars[0].as_str(), "051620016016");
    let (_, detail) = server
        .call(Method::GET, &format!("/api/alerts/{WARNING_ID}"), None)
        .await;
    assert_eq!(detail["source"], "nina");
    assert_eq!(detail["state"], "active");

    wait_for(&server, "/api/feeds", "a healthy NINA feed", |f| {
        f.as_array().unwrap().iter().any(|f| {
            f["name"] == "nina:051620000000" && f["ok"] == true && f["data_age_s"].is_number()
        })
    })
    .await;

    // Withdrawn from the dashboard: cancelled on screen.
    *fake.dashboard.lock().unwrap() = json!([]);
    assert_eq!(cancelled(&mut kaarst).await, WARNING_ID);
    let (_, detail) = server
        .call(Method::GET, &format!("/api/alerts/{WARNING_ID}"), None)
        .await;
    assert_eq!(detail["state"], "cancelled");

    // Düsseldorf was never inside the area: its first alert event is a manual one.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/alerts",
            Some(json!({
                "alert": { "severity": "minor", "headline": "Probe", "area_description": "D",
                           "area": { "ars": ["051110000000"] } },
                "bypass_approval": true, "bypass_reason": "Test der Kette"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (kind, id) = next_alert_event(&mut duesseldorf).await;
    assert_eq!(kind, "start");
    assert_ne!(id, WARNING_ID);
    server.stop().await;
    fake_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_nina_server_is_reported_as_a_timeout_and_blocks_nothing() {
    let fake = Arc::new(FakeNina::default());
    *fake.dashboard.lock().unwrap() = json!([]);
    fake.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    let (base, fake_task) = fake_nina(fake.clone()).await;
    let server = TestServer::start_with(|c| {
        c.nina_url = Some(base);
        c.nina_ars = vec!["051620000000".into()];
        c.nina_interval_ms = 50;
        c.feed_timeout_ms = 300;
    })
    .await;
    // The API answers at once while the poller waits on the hanging server.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    for _ in 0..5 {
        let resp = quick.get(server.url("/api/health")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let feeds = wait_for(&server, "/api/feeds", "a timeout report", |f| {
        f.as_array().unwrap().iter().any(|f| {
            f["name"] == "nina:051620000000"
                && f["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("timeout"))
        })
    })
    .await;
    let feed = &feeds.as_array().unwrap()[0];
    assert_eq!(feed["ok"], false);
    assert_eq!(feed["last_success"], Value::Null);
    let resp = quick.get(server.url("/api/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // When the server recovers, the feed turns healthy again.
    fake.hang.store(false, std::sync::atomic::Ordering::SeqCst);
    wait_for(&server, "/api/feeds", "recovery", |f| {
        f.as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "nina:051620000000" && f["ok"] == true)
    })
    .await;
    server.stop().await;
    fake_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_cap_alert_moves_to_the_displays_of_its_new_area() {
    let server = TestServer::start().await;
    let county = server.user("kreisleitstelle", "publisher").await;
    let (mut kaarst, mut duesseldorf) = two_players(&server).await;
    let (status, body) = post_cap(
        &server,
        &county,
        cap("M-1", "Alert", "Actual", "Severe", "", AREA_KAARST_POLYGON),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(started(&mut kaarst).await.id, "M-1");
    // The same identifier from the same sender, now for Düsseldorf.
    let ags = "<area><areaDesc>Düsseldorf</areaDesc><geocode><valueName>AGS</valueName><value>05111000</value></geocode></area>";
    let (status, body) = post_cap(
        &server,
        &county,
        cap("M-1", "Alert", "Actual", "Severe", "", ags),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "replaced");
    assert_eq!(cancelled(&mut kaarst).await, "M-1");
    let moved = started(&mut duesseldorf).await;
    assert_eq!(
        (moved.id.as_str(), moved.area_description.as_str()),
        ("M-1", "Düsseldorf")
    );
    // Another sender cannot take over the identifier.
    let other = server.user("feuerwehr", "publisher").await;
    let (status, body) = post_cap(
        &server,
        &other,
        cap("M-1", "Alert", "Actual", "Minor", "", ags),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0002_keeps_existing_alerts_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../../migrations/0001_init.sql"))
            .unwrap();
        c.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO displays (id, name, body, created_at, updated_at)
                 VALUES (1, 'Kaarst', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
             INSERT INTO alerts (id, body, state, created_by, created_at)
                 VALUES ('old-1', '{}', 'active', 'alice', '2026-01-01T00:00:00Z');
             INSERT INTO alert_receipts (alert_id, display_id, received_at)
                 VALUES ('old-1', 1, '2026-01-01T00:00:01Z');",
        )
        .unwrap();
    }
    let db = control_server::db::Db::open(&path).unwrap();
    let (source, receipts, fk_target) = db
        .call(|c| {
            let source: String =
                c.query_row("SELECT source FROM alerts WHERE id = 'old-1'", [], |r| r.get(0))?;
            let receipts: i64 =
                c.query_row("SELECT COUNT(*) FROM alert_receipts", [], |r| r.get(0))?;
            let fk_target: String = c.query_row(
                "SELECT \"table\" FROM pragma_foreign_key_list('alert_receipts') WHERE \"from\" = 'alert_id'",
                [],
                |r| r.get(0),
            )?;
            c.execute(
                "UPDATE alerts SET state = 'expired' WHERE id = 'old-1'",
                [],
            )?;
            Ok((source, receipts, fk_target))
        })
        .await
        .unwrap();
    assert_eq!(source, "staff");
    assert_eq!(receipts, 1);
    assert_eq!(fk_target, "alerts");
}
