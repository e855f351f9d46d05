//! Council sessions: meetings and roles, OParl import (the recorded sample in
//! tests/fixtures/oparl served over real HTTP, and hostile sources), the
//! public live state with closed items, the archive (search, Range requests,
//! download switch, retention) and a real broadcaster over `/ws/broadcaster`.

use crate::common::*;
use axum::extract::State;
use axum::http::Uri;
use axum::response::IntoResponse;
use content::broadcast::{
    self, BroadcastRefusal, BroadcasterMessage, Chapter, Hello, RecordingFinalized, ServerCommand,
    Status, VodFiles,
};
use control_server::council::archive::{ChapterIn, NewRecording};
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CLOSED: &str = "Nichtöffentlicher Teil";

fn meeting_json(title: &str, start: &str) -> Value {
    json!({
        "title": title,
        "body": "Rat der Stadt Kaarst",
        "start": start,
        "location": "Ratssaal, Am Neumarkt 2",
        "items": [
            { "number": "1", "title": "Eröffnung der Sitzung" },
            { "number": "2", "title": "Haushaltssatzung 2027" },
            { "number": "3", "title": "Personalangelegenheiten", "public": false },
            { "number": "4", "title": "Anfragen der Fraktionen" }
        ]
    })
}

/// The ids of a meeting's agenda items, in order.
fn item_ids(meeting: &Value) -> Vec<i64> {
    meeting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

async fn create_meeting(server: &TestServer, title: &str, start: &str) -> Value {
    let (status, body) = server
        .call(
            Method::POST,
            "/api/council/meetings",
            Some(meeting_json(title, start)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn live(server: &TestServer) -> Value {
    let resp = server
        .http
        .get(server.url("/api/council/live"))
        .send()
        .await
        .unwrap();
    let (status, body) = decode(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn audit_actions(server: &TestServer) -> Vec<String> {
    let (status, body) = server.call(Method::GET, "/api/audit?limit=500", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = body
        .as_array()
        .or_else(|| body["entries"].as_array())
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn meetings_are_crud_with_roles_and_audited() {
    let server = TestServer::start().await;
    let viewer = server.user("leser", "viewer").await;
    let editor = server.user("redaktion", "editor").await;

    // Nobody unauthenticated, viewers read only.
    let resp = server
        .http
        .get(server.url("/api/council/meetings"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body = meeting_json("Sitzung des Rates", "2026-12-08T17:00:00+01:00");
    let (status, _) = server
        .call_as(
            &viewer,
            Method::POST,
            "/api/council/meetings",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, created) = server
        .call_as(&editor, Method::POST, "/api/council/meetings", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["start"], "2026-12-08T16:00:00.000Z");
    assert_eq!(created["state"], "planned");
    assert_eq!(created["items"].as_array().unwrap().len(), 4);
    assert_eq!(created["items"][2]["public"], false);

    let (status, read) = server
        .call_as(
            &viewer,
            Method::GET,
            &format!("/api/council/meetings/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["title"], "Sitzung des Rates");

    // Bad input gets a clear error and the meeting stays as it was.
    for (bad, needle) in [
        (
            json!({ "title": "", "start": "2026-12-08T17:00:00+01:00" }),
            "title",
        ),
        (
            json!({ "title": "X", "start": "8.12.2026 17 Uhr" }),
            "RFC 3339",
        ),
        (
            json!({ "title": "X", "start": "2026-12-08T17:00:00+01:00", "end": "2026-12-08T16:00:00+01:00" }),
            "ends before",
        ),
        (
            json!({ "title": "X", "start": "2026-12-08T17:00:00+01:00", "colour": "red" }),
            "unknown field",
        ),
    ] {
        let (status, err) = server
            .call_as(
                &editor,
                Method::PUT,
                &format!("/api/council/meetings/{id}"),
                Some(bad),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["message"].as_str().unwrap().contains(needle), "{err}");
    }
    let (_, still) = server
        .call(Method::GET, &format!("/api/council/meetings/{id}"), None)
        .await;
    assert_eq!(still["title"], "Sitzung des Rates");

    let (status, updated) = server.call_as(&editor,
        Method::PUT,
        &format!("/api/council/meetings/{id}"),
        Some(
            json!({ "title": "Sitzung des Rates (verlegt)", "start": "2026-12-09T17:00:00+01:00" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["title"], "Sitzung des Rates (verlegt)");

    // Agenda items and speakers.
    let (status, item) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/items"),
            Some(json!({ "number": "5", "title": "Verschiedenes" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    assert_eq!(item["position"], 5);
    let item_id = item["id"].as_i64().unwrap();
    let (status, item) = server
        .call_as(
            &editor,
            Method::PUT,
            &format!("/api/council/items/{item_id}"),
            Some(json!({ "number": "5", "title": "Verschiedenes", "public": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["public"], false);
    let (status, _) = server
        .call_as(
            &viewer,
            Method::DELETE,
            &format!("/api/council/items/{item_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call_as(
            &editor,
            Method::DELETE,
            &format!("/api/council/items/{item_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, speaker) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/speakers"),
            Some(json!({ "name": "Ursula Baum", "role": "Bürgermeisterin" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{speaker}");
    let (_, read) = server
        .call(Method::GET, &format!("/api/council/meetings/{id}"), None)
        .await;
    assert_eq!(read["items"].as_array().unwrap().len(), 4);
    assert_eq!(read["speakers"][0]["name"], "Ursula Baum");

    let (status, _) = server
        .call_as(
            &editor,
            Method::DELETE,
            &format!("/api/council/meetings/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .call(Method::GET, &format!("/api/council/meetings/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let actions = audit_actions(&server).await;
    for a in [
        "council.meeting.create",
        "council.meeting.update",
        "council.item.create",
        "council.item.update",
        "council.item.delete",
        "council.speaker.create",
        "council.meeting.delete",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------- OParl

const RECORDED_BASE: &str = "https://ris.kaarst.example/oparl/v1";

/// How the local OParl server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Recorded,
    /// The second meeting page is an HTML error page.
    NotJson,
    /// An agenda item's `public` is a string.
    WrongType,
    /// The second meeting page's `next` leads back to the first.
    EndlessNext,
    /// The second meeting page is far over the size limit.
    Huge,
    /// The body list is gone.
    Missing,
    /// The second meeting page streams on without a length (chunked).
    HugeChunked,
    /// The second meeting page never answers.
    Hang,
}

#[derive(Clone)]
struct Fixture {
    source: Arc<Mutex<Source>>,
    base: String,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oparl")
}

/// Serves the recorded sample, rewriting its URLs to this server.
async fn oparl_page(State(f): State<Fixture>, uri: Uri) -> axum::response::Response {
    let source = *f.source.lock().unwrap();
    let rest = uri.path().trim_start_matches("/oparl/v1/");
    let mut name = rest.replace('/', "_");
    if let Some(q) = uri.query() {
        name.push_str(&q.replace("page=", "_page"));
    }
    if source == Source::Missing && name == "body" {
        return (axum::http::StatusCode::NOT_FOUND, "weg").into_response();
    }
    let page2 = name == "body_1_meeting_page2";
    if page2 && source == Source::NotJson {
        return (
            [("content-type", "text/html")],
            "<html><body><h1>Wartungsarbeiten</h1></body></html>",
        )
            .into_response();
    }
    if page2 && source == Source::HugeChunked {
        let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 4096]));
        return axum::body::Body::from_stream(futures_util::stream::iter(chunks)).into_response();
    }
    if page2 && source == Source::Hang {
        return std::future::pending().await;
    }
    if page2 && source == Source::Huge {
        let filler = "x".repeat(300 * 1024);
        return (
            [("content-type", "application/json")],
            format!("{{\"data\": [], \"filler\": \"{filler}\"}}"),
        )
            .into_response();
    }
    let Ok(text) = std::fs::read_to_string(fixture_dir().join(format!("{name}.json"))) else {
        return (axum::http::StatusCode::NOT_FOUND, "unbekannt").into_response();
    };
    let mut text = text.replace(RECORDED_BASE, &f.base);
    if page2 && source == Source::EndlessNext {
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["links"]["next"] = json!(format!("{}/body/1/meeting", f.base));
        text = v.to_string();
    }
    if name == "body_1_meeting" && source == Source::WrongType {
        text = text.replacen("\"public\": true", "\"public\": \"ja\"", 1);
    }
    ([("content-type", "application/json")], text).into_response()
}

async fn oparl_server() -> (SocketAddr, Arc<Mutex<Source>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let source = Arc::new(Mutex::new(Source::Recorded));
    let app = axum::Router::new()
        .fallback(oparl_page)
        .with_state(Fixture {
            source: source.clone(),
            base: format!("http://{addr}/oparl/v1"),
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, source)
}

async fn import(server: &TestServer) -> (StatusCode, Value) {
    server.call(Method::POST, "/api/council/import", None).await
}

async fn meetings(server: &TestServer) -> Vec<Value> {
    let (status, body) = server
        .call(Method::GET, "/api/council/meetings", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut out = Vec::new();
    for m in body.as_array().unwrap() {
        let (_, detail) = server
            .call(
                Method::GET,
                &format!("/api/council/meetings/{}", m["id"]),
                None,
            )
            .await;
        out.push(detail);
    }
    out
}

#[tokio::test]
async fn oparl_import_follows_pages_and_a_reimport_changes_nothing() {
    let (addr, _) = oparl_server().await;
    let server = TestServer::start_with(|c| {
        c.council.oparl_url = Some(format!("http://{addr}/oparl/v1/system"));
    })
    .await;
    let editor = server.user("redaktion", "editor").await;
    let viewer = server.user("leser", "viewer").await;
    // A manual meeting: the fallback, untouched by imports.
    create_meeting(
        &server,
        "Sondersitzung (manuell)",
        "2026-12-15T18:00:00+01:00",
    )
    .await;

    let (status, _) = server
        .call_as(&viewer, Method::POST, "/api/council/import", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, report) = server
        .call_as(&editor, Method::POST, "/api/council/import", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let r = &report["imported"];
    assert_eq!(r["meetings_created"], 3, "{report}");
    assert_eq!(r["items_created"], 10, "{report}");
    assert_eq!(r["skipped"], 1, "the deleted meeting: {report}");

    let all = meetings(&server).await;
    assert_eq!(all.len(), 4);
    let rat = all
        .iter()
        .find(|m| m["title"] == "Sitzung des Rates der Stadt Kaarst")
        .expect("council meeting imported");
    assert_eq!(rat["body"], "Rat der Stadt Kaarst");
    assert_eq!(rat["start"], "2026-12-08T16:00:00.000Z");
    assert_eq!(rat["location"], "Ratssaal, Am Neumarkt 2");
    let items = rat["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(
        items[2]["title"],
        "Bebauungsplan Nr. 87 „Kaarster Bahnhof“ – Satzungsbeschluss"
    );
    assert_eq!(items[3]["public"], false);
    assert_eq!(items[3]["planned_start"], "2026-12-08T18:00:00.000Z");
    // The meeting on page 2 whose agenda was only at its own URL.
    let schule = all
        .iter()
        .find(|m| m["body"] == "Schul- und Sportausschuss")
        .expect("page 2 imported");
    assert_eq!(schule["items"].as_array().unwrap().len(), 2);

    // Staff close an item the source calls public; a re-import keeps it closed
    // and adds nothing.
    let open_item = &items[1];
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/council/items/{}", open_item["id"]),
            Some(json!({ "number": "2", "title": "Einwohnerfragestunde", "public": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, report) = import(&server).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["imported"]["meetings_created"], 0, "{report}");
    assert_eq!(report["imported"]["meetings_updated"], 3, "{report}");
    assert_eq!(report["imported"]["items_created"], 0, "{report}");
    let again = meetings(&server).await;
    assert_eq!(again.len(), 4);
    let rat2 = again.iter().find(|m| m["id"] == rat["id"]).unwrap();
    assert_eq!(rat2["items"].as_array().unwrap().len(), 5);
    assert_eq!(
        rat2["items"][1]["public"], false,
        "staff's closing survives"
    );
    assert!(
        audit_actions(&server)
            .await
            .iter()
            .any(|a| a == "council.import")
    );
    server.stop().await;
}

#[tokio::test]
async fn hostile_oparl_sources_get_clear_errors_and_keep_the_data() {
    let (addr, source) = oparl_server().await;
    let server = TestServer::start_with(|c| {
        c.council.oparl_url = Some(format!("http://{addr}/oparl/v1/system"));
        c.council.oparl_max_page_kb = 64;
        c.feed_timeout_ms = 1_000;
    })
    .await;
    let (status, report) = import(&server).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let before = meetings(&server).await;
    assert_eq!(before.len(), 3);

    for (bad, needle) in [
        (Source::NotJson, "is not JSON"),
        (
            Source::WrongType,
            "invalid type: string \"ja\", expected a boolean",
        ),
        (Source::EndlessNext, "leads back to a page already read"),
        (Source::Huge, "larger than the limit of 65536 bytes"),
        (Source::HugeChunked, "larger than the limit of 65536 bytes"),
        (Source::Hang, "timed out"),
        (Source::Missing, "answered HTTP 404"),
    ] {
        *source.lock().unwrap() = bad;
        let (status, err) = import(&server).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {err}");
        let msg = err["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{bad:?}: {msg}");
        assert!(msg.contains("nothing was changed"), "{msg}");
        assert_eq!(meetings(&server).await, before, "{bad:?} changed data");
    }
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    let feed = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "oparl")
        .expect("oparl in feed health");
    assert!(
        feed["last_error"].as_str().unwrap().contains("404"),
        "{feed}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_endless_chain_of_new_pages_stops_at_the_page_limit() {
    // Each page names a fresh next page: no loop to detect, only the limit.
    async fn page(uri: Uri) -> axum::Json<Value> {
        let n: u32 = uri
            .query()
            .and_then(|q| q.strip_prefix("page="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let host = "http://HOST";
        axum::Json(
            json!({ "data": [], "links": { "next": format!("{host}/list?page={}", n + 1) } }),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/system",
            axum::routing::get(move || async move {
                axum::Json(json!({ "body": format!("http://{addr}/list") }))
            }),
        )
        .route(
            "/list",
            axum::routing::get(move |uri: Uri| async move {
                let axum::Json(v) = page(uri).await;
                axum::Json(
                    serde_json::from_str::<Value>(
                        &v.to_string()
                            .replace("http://HOST", &format!("http://{addr}")),
                    )
                    .unwrap(),
                )
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = TestServer::start_with(|c| {
        c.council.oparl_url = Some(format!("http://{addr}/system"));
        c.council.oparl_max_pages = 25;
    })
    .await;
    let (status, err) = import(&server).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("more than 25 pages"),
        "{err}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------- live state

#[tokio::test]
async fn live_state_shows_closed_items_only_as_nichtoeffentlicher_teil() {
    let server = TestServer::start().await;
    let editor = server.user("redaktion", "editor").await;
    let publisher = server.user("leitung", "publisher").await;
    let start = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let m = create_meeting(&server, "Sitzung des Rates", &start).await;
    let id = m["id"].as_i64().unwrap();
    let items = item_ids(&m);

    // Nothing live: the next session is announced.
    let state = live(&server).await;
    assert_eq!(state["live"], false);
    assert_eq!(state["next"]["id"], id);
    assert_eq!(state["hls_url"], Value::Null);

    let (status, _) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/start"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "editors do not start broadcasts"
    );
    let (status, started) = server
        .call_as(
            &publisher,
            Method::POST,
            &format!("/api/council/meetings/{id}/start"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["delivered"], 0);
    let state = live(&server).await;
    assert_eq!(state["live"], true);
    assert_eq!(state["meeting"]["title"], "Sitzung des Rates");
    assert_eq!(state["hls_url"], "/council/live/index.m3u8");
    assert_eq!(state["next"], Value::Null);

    let go = |item: i64| {
        let editor = editor.clone();
        let server = &server;
        async move {
            let (status, body) = server
                .call_as(
                    &editor,
                    Method::POST,
                    &format!("/api/council/meetings/{id}/goto"),
                    Some(json!({ "item_id": item })),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    go(items[1]).await;
    let (status, _) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/speaker"),
            Some(json!({ "speaker": { "name": "Ursula Baum", "role": "Bürgermeisterin" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = live(&server).await;
    assert_eq!(state["item"]["title"], "Haushaltssatzung 2027");
    assert_eq!(state["item"]["number"], "2");
    assert_eq!(state["closed"], false);
    assert_eq!(state["speaker"]["name"], "Ursula Baum");

    // The closed item: neither its title, its number nor the speaker shows.
    let (status, _) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/next"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = live(&server).await;
    assert_eq!(state["closed"], true);
    assert_eq!(state["item"]["title"], CLOSED);
    assert_eq!(state["item"]["number"], "");
    assert_eq!(state["speaker"], Value::Null);
    assert!(!state.to_string().contains("Personal"), "{state}");

    // An item closed while on air is closed in the very next answer.
    go(items[3]).await;
    assert_eq!(live(&server).await["closed"], false);
    let (status, _) = server
        .call_as(
            &editor,
            Method::PUT,
            &format!("/api/council/items/{}", items[3]),
            Some(json!({ "number": "4", "title": "Anfragen der Fraktionen", "public": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = live(&server).await;
    assert_eq!(state["closed"], true);
    assert_eq!(state["item"]["title"], CLOSED);

    // The manual closed part, on and off, over a public item.
    go(items[0]).await;
    for (on, title) in [(true, CLOSED), (false, "Eröffnung der Sitzung")] {
        let (status, _) = server
            .call_as(
                &editor,
                Method::POST,
                &format!("/api/council/meetings/{id}/closed"),
                Some(json!({ "closed": on })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let state = live(&server).await;
        assert_eq!(state["closed"], on);
        assert_eq!(state["item"]["title"], title);
    }

    // A live meeting made non-public is closed throughout, its title too.
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/api/council/meetings/{id}"),
            Some(json!({ "title": "Sitzung des Rates", "start": start, "public": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let state = live(&server).await;
    assert_eq!(state["closed"], true);
    assert_eq!(state["meeting"]["title"], CLOSED);
    assert_eq!(state["item"]["title"], CLOSED);

    // A second meeting cannot go live at the same time; stopping ends it.
    let other = create_meeting(&server, "Ausschuss", &start).await;
    let (status, err) = server
        .call_as(
            &publisher,
            Method::POST,
            &format!("/api/council/meetings/{}/start", other["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, stopped) = server
        .call_as(
            &publisher,
            Method::POST,
            &format!("/api/council/meetings/{id}/stop"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["meeting"]["state"], "ended");
    let state = live(&server).await;
    assert_eq!(state["live"], false);
    assert_eq!(state["next"]["id"], other["id"]);
    let actions = audit_actions(&server).await;
    for a in [
        "council.broadcast.start",
        "council.broadcast.item",
        "council.broadcast.speaker",
        "council.broadcast.closed",
        "council.broadcast.stop",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_live_hls_directory_is_served_with_no_cache_playlists() {
    let server = TestServer::start().await;
    let dir = server.data_dir().join("council/live");
    std::fs::write(
        dir.join("index.m3u8"),
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n",
    )
    .unwrap();
    std::fs::write(dir.join("segment-00001.m4s"), vec![7u8; 1000]).unwrap();
    let resp = server
        .http
        .get(server.url("/council/live/index.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert!(
        resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-cache")
    );
    let resp = server
        .http
        .get(server.url("/council/live/segment-00001.m4s"))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap().len(), 10);
    for bad in [
        "/council/live/..%2Fcontrol.db",
        "/council/live/.hidden",
        "/council/live/nope.m3u8",
    ] {
        let resp = server.http.get(server.url(bad)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------- archive

/// Writes a small VOD package under the archive dir and returns its directory name.
fn vod_package(server: &TestServer, name: &str) -> PathBuf {
    let dir = server.data_dir().join("council/archive").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("vod.m3u8"),
        "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.0,\nseg0.m4s\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    std::fs::write(dir.join("init.mp4"), vec![1u8; 100]).unwrap();
    std::fs::write(dir.join("seg0.m4s"), vec![2u8; 5000]).unwrap();
    let mp4: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("sitzung.mp4"), mp4).unwrap();
    // The broadcaster's own files name the closed item; they must never be served.
    std::fs::write(
        dir.join("chapters.vtt"),
        "WEBVTT\n\n3\n00:15:00.000 --> 00:25:00.000\n3 Personalangelegenheiten\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chapters.jsonl"),
        "{\"kind\":\"item\",\"number\":\"3\",\"title\":\"Personalangelegenheiten\",\"public\":false}\n",
    )
    .unwrap();
    dir
}

/// A meeting that ran and ended, with the ids of its agenda items.
async fn ended_meeting(server: &TestServer, title: &str) -> (i64, Vec<i64>) {
    let m = create_meeting(server, title, "2026-11-03T17:00:00+01:00").await;
    let id = m["id"].as_i64().unwrap();
    for step in ["start", "stop"] {
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/api/council/meetings/{id}/{step}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    let items = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    (id, items)
}

async fn register(
    server: &TestServer,
    meeting: i64,
    dir: &str,
    recorded_at: &str,
    items: &[i64],
) -> i64 {
    let chapters = [
        (0.0, "1 Eröffnung der Sitzung"),
        (120.0, "2 Haushaltssatzung 2027"),
        (900.0, "3 Personalangelegenheiten"),
        (1500.0, "4 Anfragen der Fraktionen"),
    ]
    .iter()
    .zip(items)
    .map(|((start_s, title), id)| ChapterIn {
        start_s: *start_s,
        kind: "agenda".into(),
        title: (*title).into(),
        agenda_item_id: Some(*id),
    })
    .collect();
    control_server::council::archive::register(
        server.state.clone(),
        NewRecording {
            meeting_id: Some(meeting),
            dir: dir.into(),
            playlist: "vod.m3u8".into(),
            mp4: Some("sitzung.mp4".into()),
            poster: None,
            chapters_vtt: Some("chapters.vtt".into()),
            duration_s: Some(1800.0),
            recorded_at: recorded_at.into(),
            chapters,
        },
        "test".into(),
    )
    .await
    .expect("recording registered")
}

async fn archive(server: &TestServer, q: &str) -> Vec<Value> {
    let resp = server
        .http
        .get(server.url("/api/council/archive"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    let (status, body) = decode(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn the_archive_lists_sessions_with_chapters_and_searches_public_titles() {
    let server = TestServer::start().await;
    let (rat, rat_items) = ended_meeting(&server, "Sitzung des Rates").await;
    vod_package(&server, "rat-1");
    register(&server, rat, "rat-1", "2026-11-03T16:00:00Z", &rat_items).await;
    let (aus, aus_items) = ended_meeting(&server, "Sitzung des Umweltausschusses").await;
    vod_package(&server, "umwelt-1");
    register(&server, aus, "umwelt-1", "2026-11-04T16:00:00Z", &aus_items).await;
    // A public agenda item only the second meeting has.
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{aus}/items"),
            Some(json!({ "number": "5", "title": "Baumschutzsatzung" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let all = archive(&server, "").await;
    assert_eq!(all.len(), 2);
    let rec = &all.iter().find(|e| e["meeting"]["id"] == rat).unwrap()["recordings"][0];
    assert_eq!(
        rec["hls_url"],
        format!("/council/archive/{}/vod.m3u8", rec["id"])
    );
    let chapters = rec["chapters"].as_array().unwrap();
    assert_eq!(chapters.len(), 4);
    assert_eq!(chapters[1]["title"], "2 Haushaltssatzung 2027");
    assert_eq!(chapters[2]["title"], CLOSED);
    assert_eq!(chapters[2]["public"], false);
    assert!(!serde_json::to_string(&all).unwrap().contains("Personal"));
    // The chapters as WebVTT come from the server, closed part untitled; the
    // broadcaster's own VTT and chapter log are not served.
    let resp = server
        .http
        .get(server.url(rec["chapters_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/vtt; charset=utf-8");
    let vtt = resp.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    assert!(
        vtt.contains("00:15:00.000 --> 00:25:00.000\nNichtöffentlicher Teil\n"),
        "{vtt}"
    );
    assert!(!vtt.contains("Personal"), "{vtt}");
    for file in ["chapters.vtt", "chapters.jsonl"] {
        let resp = server
            .http
            .get(server.url(&format!("/council/archive/{}/{file}", rec["id"])))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{file}");
    }

    let found = archive(&server, "baumschutz").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["meeting"]["id"], aus);
    assert_eq!(archive(&server, "Haushaltssatzung").await.len(), 2);
    // A closed item's title finds nothing: the search does not leak it.
    assert!(archive(&server, "Personalangelegenheiten").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn vod_files_serve_ranges_and_the_download_switch_refuses_only_the_mp4() {
    let server = TestServer::start().await;
    let (rat, items) = ended_meeting(&server, "Sitzung des Rates").await;
    vod_package(&server, "rat-1");
    let rec = register(&server, rat, "rat-1", "2026-11-03T16:00:00Z", &items).await;
    let expected: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();

    let resp = server
        .http
        .get(server.url(&format!("/council/archive/{rec}/sitzung.mp4")))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-range"], "bytes 1000-1999/10000");
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.bytes().await.unwrap(), &expected[1000..2000]);
    let resp = server
        .http
        .get(server.url(&format!("/api/council/recordings/{rec}/download")))
        .header("range", "bytes=-100")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(resp.bytes().await.unwrap(), &expected[9900..]);
    let resp = server
        .http
        .get(server.url(&format!("/council/archive/{rec}/sitzung.mp4")))
        .header("range", "bytes=20000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Downloads off: the MP4 is refused both ways, HLS VOD still plays.
    let viewer = server.user("leser", "viewer").await;
    let off = json!({ "retention": "forever", "downloads": false });
    let (status, _) = server
        .call_as(
            &viewer,
            Method::PUT,
            "/api/council/settings",
            Some(off.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = server
        .call(Method::PUT, "/api/council/settings", Some(off))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in [
        format!("/council/archive/{rec}/sitzung.mp4"),
        format!("/api/council/recordings/{rec}/download"),
    ] {
        let resp = server.http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for (file, kind) in [
        ("vod.m3u8", "application/vnd.apple.mpegurl"),
        ("init.mp4", "video/mp4"),
        ("seg0.m4s", "video/iso.segment"),
    ] {
        let resp = server
            .http
            .get(server.url(&format!("/council/archive/{rec}/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{file}");
        assert_eq!(resp.headers()["content-type"], kind);
    }
    let listed = archive(&server, "").await;
    assert_eq!(listed[0]["recordings"][0]["download_url"], Value::Null);
    // Outside the recording's directory nothing is served.
    let resp = server
        .http
        .get(server.url(&format!("/council/archive/{rec}/..%2F..%2Fcontrol.db")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn retention_deletes_expired_recordings_rows_and_files() {
    let server = TestServer::start().await;
    let (old_m, old_items) = ended_meeting(&server, "Sitzung im Oktober").await;
    let (new_m, new_items) = ended_meeting(&server, "Sitzung im November").await;
    let now = chrono::Utc::now();
    let old_dir = vod_package(&server, "oktober");
    let new_dir = vod_package(&server, "november");
    let old_at = (now - chrono::Duration::days(40)).to_rfc3339();
    let new_at = (now - chrono::Duration::days(2)).to_rfc3339();
    let old_rec = register(&server, old_m, "oktober", &old_at, &old_items).await;
    register(&server, new_m, "november", &new_at, &new_items).await;

    // Keep forever: nothing goes.
    let sweep = |at| control_server::council::retention::sweep(&server.state, at);
    assert_eq!(sweep(now).await.unwrap(), 0);
    let (status, err) = server
        .call(
            Method::PUT,
            "/api/council/settings",
            Some(json!({ "retention": "days", "downloads": true })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/council/settings",
            Some(json!({ "retention": "days", "retention_days": 30, "downloads": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sweep(now).await.unwrap(), 1);
    assert!(!old_dir.exists(), "expired files deleted");
    assert!(new_dir.exists());
    let listed = archive(&server, "").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["meeting"]["id"], new_m);
    let resp = server
        .http
        .get(server.url(&format!("/council/archive/{old_rec}/vod.m3u8")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // After the minutes are approved.
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/council/settings",
            Some(json!({ "retention": "minutes_approved", "downloads": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sweep(now).await.unwrap(), 0, "minutes not yet approved");
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/api/council/meetings/{new_m}"),
            Some(json!({
                "title": "Sitzung im November",
                "start": "2026-11-03T17:00:00+01:00",
                "minutes_approved_at": (now - chrono::Duration::hours(1)).to_rfc3339()
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sweep(now).await.unwrap(), 1);
    assert!(!new_dir.exists());
    assert!(archive(&server, "").await.is_empty());
    assert!(
        audit_actions(&server)
            .await
            .iter()
            .any(|a| a == "council.recording.expire")
    );
    server.stop().await;
}

// ---------------------------------------------------------------- broadcaster

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, msg: &BroadcasterMessage) {
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        broadcast::encode(msg),
    ))
    .await
    .expect("ws send");
}

/// The next command from the server; panics after 10 s or on close.
async fn next_command(ws: &mut Ws) -> ServerCommand {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a command within 10 s")
            .expect("socket open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = frame {
            return broadcast::decode(&t).expect("valid command");
        }
    }
}

async fn connect(server: &TestServer, token: &str) -> Ws {
    connect_running(server, token, None).await
}

/// Connects and says hello, optionally reporting a session already running.
async fn connect_running(
    server: &TestServer,
    token: &str,
    session: Option<broadcast::RunningSession>,
) -> Ws {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/broadcaster", server.addr))
            .await
            .expect("ws connect");
    send(
        &mut ws,
        &BroadcasterMessage::Hello(Hello {
            protocol: broadcast::BROADCAST_PROTOCOL_VERSION,
            broadcaster_version: "test".into(),
            token: token.into(),
            session,
        }),
    )
    .await;
    ws
}

#[tokio::test]
async fn a_broadcaster_gets_commands_and_reports_status_and_recordings() {
    let server = TestServer::start().await;
    let editor = server.user("redaktion", "editor").await;
    let (status, _) = server
        .call_as(
            &editor,
            Method::POST,
            "/api/council/broadcasters",
            Some(json!({ "name": "Ratssaal" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "admins issue broadcaster tokens"
    );
    let (status, created) = server
        .call(
            Method::POST,
            "/api/council/broadcasters",
            Some(json!({ "name": "Ratssaal" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();

    // A wrong token is refused with the reason.
    let mut stranger = connect(&server, "falsch").await;
    match next_command(&mut stranger).await {
        ServerCommand::Refused { reason, .. } => {
            assert_eq!(reason, BroadcastRefusal::UnknownToken)
        }
        other => panic!("expected refusal, got {other:?}"),
    }

    let mut ws = connect(&server, &token).await;
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::Welcome { .. }
    ));
    let m = create_meeting(&server, "Sitzung des Rates", "2026-12-08T17:00:00+01:00").await;
    let id = m["id"].as_i64().unwrap();
    let items = item_ids(&m);
    let (status, started) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/start"),
            Some(json!({ "start_item_id": items[0] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["delivered"], 1);
    let start_id = match next_command(&mut ws).await {
        ServerCommand::StartSession { id: cid, session } => {
            assert_eq!(session.meeting_id, id.to_string());
            assert_eq!(session.start_item.as_deref(), Some("1"));
            assert_eq!(session.agenda.len(), 4);
            assert!(!session.agenda[2].public, "the closed item goes as closed");
            assert!(!session.closed, "a public meeting begins open");
            cid
        }
        other => panic!("expected start_session, got {other:?}"),
    };
    send(&mut ws, &BroadcasterMessage::Ack { id: start_id }).await;

    // Going to the closed item: the slate is ordered before the item changes.
    let (status, _) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/goto"),
            Some(json!({ "item_id": items[2] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::ClosedPart { closed: true, .. }
    ));
    let goto_id = match next_command(&mut ws).await {
        ServerCommand::GoToItem { id: cid, number } => {
            assert_eq!(number, "3");
            cid
        }
        other => panic!("expected go_to_item, got {other:?}"),
    };
    send(
        &mut ws,
        &BroadcasterMessage::Rejected {
            id: goto_id,
            reason: "Testfall".into(),
        },
    )
    .await;
    // Closing the public item on air reaches the broadcaster at once.
    let (status, _) = server
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/council/meetings/{id}/goto"),
            Some(json!({ "item_id": items[3] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::GoToItem { .. }
    ));
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::ClosedPart { closed: false, .. }
    ));
    let (status, _) = server
        .call_as(
            &editor,
            Method::PUT,
            &format!("/api/council/items/{}", items[3]),
            Some(json!({ "number": "4", "title": "Anfragen der Fraktionen", "public": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::ClosedPart { closed: true, .. }
    ));
    for (path, body) in [
        ("camera", json!({ "name": "totale" })),
        (
            "speaker",
            json!({ "speaker": { "name": "Ursula Baum", "party": "CDU" } }),
        ),
    ] {
        let (status, _) = server
            .call_as(
                &editor,
                Method::POST,
                &format!("/api/council/meetings/{id}/{path}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::Camera { name, .. } if name == "totale"
    ));
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::Speaker { speaker: Some(s), .. } if s.name == "Ursula Baum"
    ));

    // Status reports are kept and shown.
    send(
        &mut ws,
        &BroadcasterMessage::Status(Status {
            state: broadcast::BroadcastState::Live,
            at: chrono::Utc::now(),
            meeting_id: Some(id.to_string()),
            item: Some("4".into()),
            closed: true,
            bitrate_kbps: Some(4500),
            dropped_frames: 3,
            audio_level_db: Some(-18.5),
            disk_free_bytes: Some(120_000_000_000),
            ..Status::default()
        }),
    )
    .await;

    // A chapter event (e.g. from the broadcaster's own CLI) moves the live
    // state; an undecodable frame is answered with an error, which also tells
    // us the reader has handled everything before it.
    send(
        &mut ws,
        &BroadcasterMessage::Chapter(broadcast::ChapterEvent {
            meeting_id: id.to_string(),
            offset_ms: 600_000,
            at: chrono::Utc::now(),
            kind: broadcast::ChapterKind::Item {
                number: "2".into(),
                title: "Haushaltssatzung 2027".into(),
                public: true,
            },
        }),
    )
    .await;
    ws.send(tokio_tungstenite::tungstenite::Message::text("kein json"))
        .await
        .unwrap();
    match next_command(&mut ws).await {
        ServerCommand::Error { message } => assert!(message.contains("JSON"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let state = live(&server).await;
    assert_eq!(state["item"]["title"], "Haushaltssatzung 2027");
    assert_eq!(state["closed"], false);

    let (status, stopped) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/stop"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert!(matches!(
        next_command(&mut ws).await,
        ServerCommand::Stop { .. }
    ));

    // A recording naming a file outside its directory is not taken.
    vod_package(&server, "rat-20261208");
    let finalized = |files: VodFiles| {
        BroadcasterMessage::RecordingFinalized(RecordingFinalized {
            id: 900,
            recording_id: "rat-20261208".into(),
            meeting_id: id.to_string(),
            started_at: "2026-12-08T16:00:00Z".parse().unwrap(),
            duration_ms: 1_800_000,
            recovered: false,
            files,
            chapters: [
                ("1", "Eröffnung der Sitzung", true, 0),
                ("2", "Haushaltssatzung 2027", true, 120_000),
                ("3", "Personalangelegenheiten", false, 900_000),
                ("4", "Anfragen der Fraktionen", true, 1_500_000),
            ]
            .into_iter()
            .map(|(number, title, public, start_ms)| Chapter {
                number: number.into(),
                title: title.into(),
                public,
                start_ms,
                end_ms: start_ms + 100_000,
            })
            .collect(),
        })
    };
    let good = VodFiles {
        hls_playlist: "rat-20261208/vod.m3u8".into(),
        hls_files: vec![
            "rat-20261208/init.mp4".into(),
            "rat-20261208/seg0.m4s".into(),
        ],
        mp4: Some("rat-20261208/sitzung.mp4".into()),
        chapters_vtt: "rat-20261208/chapters.vtt".into(),
        poster: None,
        chapter_log: "rat-20261208/chapters.jsonl".into(),
    };
    let mut bad = good.clone();
    bad.mp4 = Some("anderswo/sitzung.mp4".into());
    send(&mut ws, &finalized(bad)).await;
    match next_command(&mut ws).await {
        ServerCommand::Error { message } => assert!(message.contains("not inside"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    send(&mut ws, &finalized(good)).await;
    match next_command(&mut ws).await {
        ServerCommand::RecordingAccepted {
            id: 900,
            recording_id,
        } => {
            assert_eq!(recording_id, "rat-20261208")
        }
        other => panic!("expected recording_accepted, got {other:?}"),
    }

    // Status and command outcomes are visible (the reader handled them in order,
    // before the accepted recording).
    let (status, list) = server
        .call(Method::GET, "/api/council/broadcasters", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let b = &list[0];
    assert_eq!(b["connected"], true);
    assert_eq!(b["status"]["bitrate_kbps"], 4500);
    assert_eq!(b["status"]["dropped_frames"], 3);
    assert_eq!(b["status"]["audio_level_db"], -18.5);
    assert_eq!(b["status"]["disk_free_bytes"], 120_000_000_000u64);
    let recent = b["connection"]["recent_commands"].as_array().unwrap();
    let outcome = |cid: u64| {
        recent
            .iter()
            .find(|r| r["id"] == cid)
            .map(|r| r["outcome"].as_str().unwrap().to_owned())
    };
    assert_eq!(outcome(start_id).as_deref(), Some("ack"));
    assert_eq!(outcome(goto_id).as_deref(), Some("rejected"));

    // The recording is in the archive, its closed chapter untitled.
    let listed = archive(&server, "").await;
    assert_eq!(listed.len(), 1);
    let rec = &listed[0]["recordings"][0];
    assert_eq!(rec["duration_s"], 1800.0);
    let chapters = rec["chapters"].as_array().unwrap();
    assert_eq!(chapters.len(), 4);
    assert_eq!(chapters[0]["title"], "1 Eröffnung der Sitzung");
    assert_eq!(chapters[2]["title"], CLOSED);
    assert_eq!(
        chapters[3]["title"], CLOSED,
        "closed on air, closed in the archive"
    );
    let resp = server
        .http
        .get(server.url(rec["hls_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Revoking the token hangs up.
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/council/broadcasters/{}", created["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "revoked broadcaster disconnected");
    let actions = audit_actions(&server).await;
    for a in [
        "council.broadcaster.create",
        "council.broadcast.camera",
        "council.recording.register",
        "council.broadcaster.revoke",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_demo_has_a_council_meeting_with_a_closed_item() {
    let server = TestServer::start().await;
    assert!(control_server::demo::seed(&server.state).await.unwrap());
    let all = meetings(&server).await;
    assert_eq!(all.len(), 1);
    let items = all[0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items.iter().filter(|i| i["public"] == false).count(), 1);
    assert_eq!(live(&server).await["next"]["id"], all[0]["id"]);
    server.stop().await;
}

#[tokio::test]
async fn a_reconnecting_broadcaster_is_brought_up_to_date_and_replaces_its_old_socket() {
    let server = TestServer::start().await;
    let (_, created) = server
        .call(
            Method::POST,
            "/api/council/broadcasters",
            Some(json!({ "name": "Ratssaal" })),
        )
        .await;
    let token = created["token"].as_str().unwrap().to_owned();
    let m = create_meeting(&server, "Sitzung des Rates", "2026-12-08T17:00:00+01:00").await;
    let id = m["id"].as_i64().unwrap();
    let closed_item = m["items"][2]["id"].as_i64().unwrap();
    // The session runs on while no broadcaster is connected.
    for (path, body) in [
        ("start", None),
        ("goto", Some(json!({ "item_id": closed_item }))),
    ] {
        let (status, r) = server
            .call(
                Method::POST,
                &format!("/api/council/meetings/{id}/{path}"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["delivered"], 0);
    }
    // It comes back saying it is live for this meeting: the slate first, then the item.
    let mut first = connect_running(
        &server,
        &token,
        Some(broadcast::RunningSession {
            meeting_id: id.to_string(),
            started_at: chrono::Utc::now(),
            item: Some("1".into()),
        }),
    )
    .await;
    assert!(matches!(
        next_command(&mut first).await,
        ServerCommand::Welcome { .. }
    ));
    assert!(matches!(
        next_command(&mut first).await,
        ServerCommand::ClosedPart { closed: true, .. }
    ));
    assert!(matches!(
        next_command(&mut first).await,
        ServerCommand::GoToItem { number, .. } if number == "3"
    ));

    // The same token again: the newer connection wins, the old one is closed.
    let mut second = connect(&server, &token).await;
    assert!(matches!(
        next_command(&mut second).await,
        ServerCommand::Welcome { .. }
    ));
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match first.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the replaced connection is closed");
    let (status, r) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/next"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["delivered"], 1);
    assert!(matches!(
        next_command(&mut second).await,
        ServerCommand::GoToItem { number, .. } if number == "4"
    ));
    assert!(matches!(
        next_command(&mut second).await,
        ServerCommand::ClosedPart { closed: false, .. }
    ));
    server.stop().await;
}

#[tokio::test]
async fn a_configured_oparl_poll_imports_without_being_asked() {
    let (addr, _) = oparl_server().await;
    let server = TestServer::start_with(|c| {
        c.council.oparl_url = Some(format!("http://{addr}/oparl/v1/system"));
        c.council.oparl_poll_s = 3600;
    })
    .await;
    // The poll's first round runs at start; wait for its result, not a fixed time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = server
            .call(Method::GET, "/api/council/meetings", None)
            .await;
        if list.as_array().is_some_and(|l| l.len() == 3) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poll imported nothing within 10 s: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let actions = audit_actions(&server).await;
    assert!(actions.iter().any(|a| a == "council.import"));
    server.stop().await;
}

/// The part every command on a live meeting shares (`commands::on_air`): a
/// meeting that is not live refuses them all with 409 and nothing is changed
/// or audited; a refused change (past the last item) leaves the item as it was.
#[tokio::test]
async fn commands_need_a_live_meeting_and_a_refused_one_changes_nothing() {
    let server = TestServer::start().await;
    let m = create_meeting(&server, "Sitzung des Rates", "2026-12-08T17:00:00+01:00").await;
    let id = m["id"].as_i64().unwrap();
    let items = item_ids(&m);
    let commands = [
        ("next", json!({})),
        ("goto", json!({ "item_id": items[1] })),
        ("speaker", json!({ "speaker": { "name": "Ursula Baum" } })),
        ("camera", json!({ "name": "totale" })),
        ("closed", json!({ "closed": true })),
        ("stop", json!({})),
    ];
    let refused_all = |when: &'static str| {
        let server = &server;
        let commands = &commands;
        async move {
            for (command, body) in commands {
                let (status, err) = server
                    .call(
                        Method::POST,
                        &format!("/api/council/meetings/{id}/{command}"),
                        Some(body.clone()),
                    )
                    .await;
                assert_eq!(status, StatusCode::CONFLICT, "{command} {when}: {err}");
                assert!(
                    err["message"].as_str().unwrap().contains("is not live"),
                    "{command} {when}: {err}"
                );
            }
        }
    };
    refused_all("while planned").await;
    let (_, planned) = server
        .call(Method::GET, &format!("/api/council/meetings/{id}"), None)
        .await;
    assert_eq!(planned["state"], "planned", "{planned}");
    assert_eq!(planned["current_item_id"], Value::Null, "{planned}");
    let actions = audit_actions(&server).await;
    assert!(
        !actions.iter().any(|a| a.starts_with("council.broadcast.")),
        "{actions:?}"
    );

    // Live at the last item: "next" is refused and the item stays.
    let last = *items.last().unwrap();
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/start"),
            Some(json!({ "start_item_id": last })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, err) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/next"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("last agenda item"),
        "{err}"
    );
    let (status, err) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/camera"),
            Some(json!({ "name": "  " })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, live_meeting) = server
        .call(Method::GET, &format!("/api/council/meetings/{id}"), None)
        .await;
    assert_eq!(live_meeting["current_item_id"], last, "{live_meeting}");
    let actions = audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("council.broadcast."))
            .collect::<Vec<_>>(),
        ["council.broadcast.start"],
        "{actions:?}"
    );

    // Ended: refused again.
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/api/council/meetings/{id}/stop"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], 0, "no broadcaster is connected");
    refused_all("once ended").await;
    server.stop().await;
}
