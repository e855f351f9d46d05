//! Open data: the public GeoJSON of displays and the SMIL export.

use crate::common::*;
use quick_xml::events::Event;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn scheduled_display(server: &TestServer) -> i64 {
    let (id, _) = provisioned_display(server, "Kaarst Rathausplatz").await;
    let (status, item) = server
        .call(
            Method::POST,
            "/api/items",
            Some(json!({ "name": "Markt", "duration_s": 12,
                         "content": { "type": "announcement", "title": "Wochenmarkt & Kirmes",
                                      "body": "Samstag 8–13 Uhr" } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/schedules",
            Some(json!({ "name": "immer", "targets": [{ "kind": "all" }],
                         "entries": [{ "item": item["id"] }] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn displays_are_public_geojson_with_a_licence() {
    let server = TestServer::start_with(|c| c.open_data_licence = "dl-de/zero-2-0".into()).await;
    let id = scheduled_display(&server).await;
    // No authentication.
    let resp = server
        .http
        .get(server.url("/api/open/displays.geojson"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/geo+json");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["type"], "FeatureCollection");
    assert_eq!(doc["licence"]["id"], "dl-de/zero-2-0");
    assert!(
        doc["licence"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let f = &doc["features"][0];
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["id"], id);
    assert_eq!(
        f["geometry"],
        json!({ "type": "Point", "coordinates": [6.6172, 51.2276] })
    );
    assert_eq!(f["properties"]["name"], "Kaarst Rathausplatz");
    assert_eq!(f["properties"]["ars"], "051620016016");
    let zone = &f["properties"]["zones"][0];
    assert_eq!(zone["zone"], "main");
    assert_eq!(zone["items"][0]["title"], "Wochenmarkt & Kirmes");
    assert_eq!(zone["items"][0]["type"], "announcement");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_schedule_exports_as_smil() {
    let server = TestServer::start().await;
    let id = scheduled_display(&server).await;
    let path = format!("/api/displays/{id}/schedule.smil");
    let anonymous = server.http.get(server.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let resp = server.req(Method::GET, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/smil+xml");
    let text = resp.text().await.unwrap();

    // Parse it: a well-formed SMIL 3.0 document with regions, <par>/<seq> and media.
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut seen: Vec<(String, Vec<(String, String)>)> = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid SMIL ({e}): {text}"))
        {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect();
                seen.push((name, attrs));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let attr = |el: &(String, Vec<(String, String)>), k: &str| {
        el.1.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    let root = &seen[0];
    assert_eq!(root.0, "smil");
    assert_eq!(attr(root, "version").as_deref(), Some("3.0"));
    assert!(
        seen.iter()
            .any(|e| e.0 == "region" && attr(e, "xml:id").as_deref() == Some("main"))
    );
    assert!(
        seen.iter()
            .any(|e| e.0 == "par" && attr(e, "dur").is_some())
    );
    assert!(seen.iter().any(|e| e.0 == "seq"));
    let text_el = seen
        .iter()
        .find(|e| e.0 == "text")
        .unwrap_or_else(|| panic!("no <text>: {text}"));
    assert_eq!(attr(text_el, "dur").as_deref(), Some("12s"));
    assert_eq!(attr(text_el, "region").as_deref(), Some("main"));
    assert!(attr(text_el, "src").unwrap().starts_with("data:text/plain"));
    assert!(seen.iter().any(|e| e.0 == "meta"
        && attr(e, "name").as_deref() == Some("licence")
        && attr(e, "content").as_deref() == Some("dl-de/by-2-0")));
    server.stop().await;
}
