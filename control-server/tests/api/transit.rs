//! Transit: GTFS import from the sample in tests/fixtures/gtfs, realtime
//! updates (delay, cancellation, occupancy, alerts), bad feeds, operator
//! occupancy and departures pushed to players.

use crate::common::*;
use content::live::{LiveData, Occupancy};
use content::protocol::ServerMessage;
use control_server::civic::transit::rt;
use prost::Message as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::Write as _;

const KAARST: &str = "de:05162:7001";
/// Monday 23 November 2026, 07:55 in Kaarst (CET).
const MONDAY_0755: &str = "2026-11-23T06:55:00Z";

/// The sample feed zipped, leaving out `skip`.
fn sample_zip(skip: &[&str]) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gtfs");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".txt") && !skip.contains(&n.as_str()))
        .collect();
    names.sort();
    for name in names {
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(&std::fs::read(dir.join(&name)).unwrap())
            .unwrap();
    }
    out.finish().unwrap().into_inner()
}

async fn upload(server: &TestServer, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = server
        .req(Method::POST, path)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    decode(resp).await
}

async fn imported() -> TestServer {
    let server = TestServer::start().await;
    let (status, body) = upload(&server, "/api/transit/gtfs", sample_zip(&[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server
}

async fn board(server: &TestServer, stop: &str, at: &str) -> Value {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/api/transit/departures?stop={stop}&at={at}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn summary(board: &Value) -> Vec<(String, String, String)> {
    board["departures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_str().unwrap().to_owned(),
                d["destination"].as_str().unwrap().to_owned(),
                d["planned"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn gtfs_sample_imports_and_gives_departures_in_local_time() {
    let server = TestServer::start().await;
    let (status, body) = upload(&server, "/api/transit/gtfs", sample_zip(&[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["imported"]["stops"], 6);
    assert_eq!(body["imported"]["trips"], 5);
    assert_eq!(body["imported"]["stop_times"], 14);

    // The station lists its platforms' departures; 08:00 CET is 07:00 UTC.
    let b = board(&server, KAARST, MONDAY_0755).await;
    assert_eq!(
        summary(&b),
        [
            (
                "831".into(),
                "Holzbüttgen Lindenplatz".into(),
                "2026-11-23T07:00:00Z".into()
            ),
            (
                "S28".into(),
                "Mettmann Stadtwald".into(),
                "2026-11-23T07:05:30Z".into()
            ),
            (
                "831".into(),
                "Holzbüttgen Lindenplatz".into(),
                "2026-11-23T07:30:00Z".into()
            ),
        ]
    );
    assert_eq!(b["departures"][0]["platform"], "1");
    assert_eq!(b["departures"][1]["platform"], "2");
    assert_eq!(b["realtime"], false);
    // The last stop of a trip is no departure.
    let b = board(&server, "de:05162:7201", MONDAY_0755).await;
    assert_eq!(summary(&b), []);

    // 25:05:00 on Monday's service day is Tuesday 01:05 CET.
    let b = board(&server, KAARST, "2026-11-24T00:00:00Z").await;
    assert_eq!(
        summary(&b),
        [(
            "S28".into(),
            "Mettmann Stadtwald".into(),
            "2026-11-24T00:05:00Z".into()
        )]
    );
    // Christmas Eve (a Thursday) runs the weekend timetable (calendar_dates);
    // a trip without headsign shows its last stop.
    let b = board(&server, KAARST, "2026-12-24T08:30:00Z").await;
    assert_eq!(
        summary(&b),
        [(
            "831".into(),
            "Büttgen Rathausplatz".into(),
            "2026-12-24T09:00:00Z".into()
        )]
    );
    // Summer time: 08:00 CEST is 06:00 UTC.
    let b = board(&server, "de:05162:7001:1", "2026-07-01T05:55:00Z").await;
    assert_eq!(summary(&b)[0].2, "2026-07-01T06:00:00Z");

    // Only admins import.
    let editor = server.user("eva", "editor").await;
    let resp = server
        .http
        .post(server.url("/api/transit/gtfs"))
        .bearer_auth(editor)
        .body(sample_zip(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn a_gtfs_zip_with_missing_files_is_refused_naming_them() {
    let server = TestServer::start().await;
    let (status, body) = upload(
        &server,
        "/api/transit/gtfs",
        sample_zip(&["stop_times.txt", "calendar.txt", "calendar_dates.txt"]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["message"],
        "the GTFS zip lacks stop_times.txt, calendar.txt or calendar_dates.txt"
    );
    let (status, body) = upload(
        &server,
        "/api/transit/gtfs",
        b"PK not really a zip".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("not a zip archive"),
        "{body}"
    );
    // Over the size limit: 413.
    let server2 = TestServer::start_with(|c| c.transit.gtfs_max_mb = 0).await;
    let (status, _) = upload(&server2, "/api/transit/gtfs", sample_zip(&[])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    server2.stop().await;
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    let gtfs = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "gtfs")
        .expect("gtfs feed");
    assert_eq!(gtfs["ok"], false);
    assert!(
        gtfs["last_error"]
            .as_str()
            .unwrap()
            .starts_with("not a zip archive"),
        "{gtfs}"
    );
    // Nothing was imported.
    let b = board(&server, KAARST, MONDAY_0755).await;
    assert_eq!(summary(&b), []);
    server.stop().await;
}

fn trip(
    id: &str,
    relationship: Option<rt::TripScheduleRelationship>,
) -> Option<rt::TripDescriptor> {
    Some(rt::TripDescriptor {
        trip_id: Some(id.into()),
        schedule_relationship: relationship.map(|r| r as i32),
        ..Default::default()
    })
}

/// A service alert entity in German, in force during `period` (always without).
fn service_alert(
    id: &str,
    entity: rt::EntitySelector,
    header: &str,
    period: Option<(&str, &str)>,
) -> rt::FeedEntity {
    let unix = |t: &str| {
        t.parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp() as u64
    };
    rt::FeedEntity {
        id: Some(id.into()),
        alert: Some(rt::Alert {
            active_period: period
                .map(|(start, end)| rt::TimeRange {
                    start: Some(unix(start)),
                    end: Some(unix(end)),
                })
                .into_iter()
                .collect(),
            informed_entity: vec![entity],
            header_text: Some(rt::TranslatedString {
                translation: vec![
                    rt::Translation {
                        text: Some(format!("EN: {header}")),
                        language: Some("en".into()),
                    },
                    rt::Translation {
                        text: Some(header.into()),
                        language: Some("de".into()),
                    },
                ],
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A realtime snapshot: 831 at 08:00 three minutes late, the S28 cancelled,
/// the 831 at 08:30 with few seats, and service alerts: one for the stop, one
/// for the S28 line from 06:00 to 11:00 that Monday, one for a platform of the
/// station, and one long over.
fn snapshot() -> Vec<u8> {
    let feed = rt::FeedMessage {
        header: Some(rt::FeedHeader {
            gtfs_realtime_version: Some("2.0".into()),
            incrementality: Some(0),
            timestamp: Some(1_795_417_000),
        }),
        entity: vec![
            rt::FeedEntity {
                id: Some("1".into()),
                trip_update: Some(rt::TripUpdate {
                    trip: trip("t831-0800", Some(rt::TripScheduleRelationship::Scheduled)),
                    stop_time_update: vec![rt::StopTimeUpdate {
                        stop_sequence: Some(1),
                        departure: Some(rt::StopTimeEvent {
                            delay: Some(180),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
            rt::FeedEntity {
                id: Some("2".into()),
                trip_update: Some(rt::TripUpdate {
                    trip: trip("tS28-0805", Some(rt::TripScheduleRelationship::Canceled)),
                    ..Default::default()
                }),
                ..Default::default()
            },
            rt::FeedEntity {
                id: Some("3".into()),
                vehicle: Some(rt::VehiclePosition {
                    trip: trip("t831-0830", None),
                    occupancy_status: Some(rt::OccupancyStatus::FewSeatsAvailable as i32),
                    ..Default::default()
                }),
                ..Default::default()
            },
            rt::FeedEntity {
                id: Some("alert-1".into()),
                alert: Some(rt::Alert {
                    informed_entity: vec![rt::EntitySelector {
                        stop_id: Some(KAARST.into()),
                        ..Default::default()
                    }],
                    header_text: Some(rt::TranslatedString {
                        translation: vec![rt::Translation {
                            text: Some("Haltestelle verlegt".into()),
                            language: Some("de".into()),
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            service_alert(
                "alert-s28",
                rt::EntitySelector {
                    route_id: Some("rS28".into()),
                    ..Default::default()
                },
                "S28: Ersatzverkehr mit Bussen",
                Some(("2026-11-23T05:00:00Z", "2026-11-23T10:00:00Z")),
            ),
            service_alert(
                "alert-platform",
                rt::EntitySelector {
                    stop_id: Some(format!("{KAARST}:1")),
                    ..Default::default()
                },
                "Gleis 1: Aufzug außer Betrieb",
                None,
            ),
            // Over long ago: kept in the feed by a sloppy producer, never shown.
            service_alert(
                "alert-old",
                rt::EntitySelector {
                    stop_id: Some(KAARST.into()),
                    ..Default::default()
                },
                "Weihnachtsmarkt 2020",
                Some(("2020-12-01T00:00:00Z", "2020-12-24T00:00:00Z")),
            ),
        ],
    };
    feed.encode_to_vec()
}

#[tokio::test]
async fn realtime_updates_apply_and_bad_feeds_keep_the_last_good_data() {
    let server = imported().await;
    let (status, body) = upload(&server, "/api/transit/realtime", snapshot()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["trips"].as_u64(), body["alerts"].as_u64()),
        (Some(3), Some(4))
    );
    let as_of = body["as_of"].clone();

    let check = |b: &Value| {
        let d = &b["departures"];
        assert_eq!(d[0]["expected"], "2026-11-23T07:03:00Z", "{b}");
        assert_eq!(d[0]["delay_minutes"], 3);
        assert_eq!(d[0]["cancelled"], false);
        assert_eq!(d[1]["line"], "S28");
        assert_eq!(d[1]["cancelled"], true);
        assert_eq!(d[2]["occupancy"], "few_seats_available");
        // In force and naming the station, a line serving it, or one of its
        // platforms; German text chosen; the one long over is left out.
        let alerts: Vec<&str> = b["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["header"].as_str().unwrap())
            .collect();
        assert_eq!(
            alerts,
            [
                "Haltestelle verlegt",
                "S28: Ersatzverkehr mit Bussen",
                "Gleis 1: Aufzug außer Betrieb"
            ]
        );
        assert_eq!(b["realtime"], true);
    };
    let b = board(&server, KAARST, MONDAY_0755).await;
    check(&b);
    assert_eq!(b["as_of"], as_of);
    // As open data, without logging in: the alerts in force now (the S28
    // period lies on the sample's Monday), with the licence and the feed's time.
    let resp = server
        .http
        .get(server.url("/api/open/transit/alerts"))
        .send()
        .await
        .unwrap();
    let (status, open) = decode(resp).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["licence"], "dl-de/by-2-0");
    assert_eq!(open["as_of"], as_of);
    let ids: Vec<&str> = open["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"alert-1") && ids.contains(&"alert-platform"),
        "{open}"
    );
    assert!(!ids.contains(&"alert-old"), "{open}");
    assert_eq!(open["alerts"][0]["stop_ids"], json!([KAARST]));
    // The delay propagates to later stops of the trip.
    let b = board(&server, "de:05162:7101", MONDAY_0755).await;
    let d = b["departures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["planned"] == "2026-11-23T07:09:00Z")
        .unwrap();
    assert_eq!(d["expected"], "2026-11-23T07:12:00Z");

    // Garbage and a truncated feed: a clear 422, the last good data stays with its time.
    let (status, body) = upload(
        &server,
        "/api/transit/realtime",
        b"<html>502 Bad Gateway</html>".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("GTFS-Realtime"),
        "{body}"
    );
    let full = snapshot();
    let (status, body) = upload(
        &server,
        "/api/transit/realtime",
        full[..full.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not valid protobuf"),
        "{body}"
    );
    // Empty bytes decode to a message without header: refused too.
    let (status, body) = upload(&server, "/api/transit/realtime", Vec::new()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let b = board(&server, KAARST, MONDAY_0755).await;
    check(&b);
    assert_eq!(b["as_of"], as_of);
    assert!(b["age_s"].as_i64().unwrap() >= 0);
    // The feed-health view shows the failure and the age of the data kept.
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    let rt = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "gtfs-rt")
        .expect("gtfs-rt feed");
    assert_eq!(rt["ok"], false, "{rt}");
    assert!(
        rt["last_error"].as_str().unwrap().contains("no header"),
        "{rt}"
    );
    assert!(rt["data_age_s"].as_i64().is_some(), "{rt}");

    // An operator's VDV 454 Besetztgrad wins over the feed.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/transit/occupancy",
            Some(json!({ "trip_id": "t831-0830", "besetztgrad": 4 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b = board(&server, KAARST, MONDAY_0755).await;
    assert_eq!(b["departures"][2]["occupancy"], "full");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/transit/occupancy",
            Some(json!({ "trip_id": "t831-0830", "besetztgrad": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn departures_are_pushed_to_players_when_they_change() {
    let server = imported().await;
    let mut display = display_json("Rathausplatz");
    display["transit_stops"] = json!([{ "id": KAARST, "name": "Kaarst Rathaus" }]);
    let (status, body) = server
        .call(Method::POST, "/api/displays", Some(display))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (_, body) = server
        .call(Method::POST, &format!("/api/displays/{id}/token"), None)
        .await;
    let token = body["token"].as_str().unwrap().to_owned();
    let mut player = WsPlayer::online(&server, &token).await;

    let now: chrono::DateTime<chrono::Utc> = MONDAY_0755.parse().unwrap();
    let s = &server.state;
    assert_eq!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap(),
        1
    );
    let (stop, deps) = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Departures {
                stop_id,
                departures,
                ..
            }) => Some((stop_id, departures)),
            _ => None,
        })
        .await;
    assert_eq!(stop, KAARST);
    assert_eq!(deps.len(), 3);
    assert_eq!(deps[0].line, "831");
    assert_eq!(deps[0].expected, None);

    // Nothing changed: nothing pushed.
    assert_eq!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap(),
        0
    );
    // Realtime arrives: the board changes and is pushed with the feed's time.
    let (status, _) = upload(&server, "/api/transit/realtime", snapshot()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap(),
        1
    );
    let (deps, alerts) = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Departures {
                departures, alerts, ..
            }) => Some((departures, alerts)),
            _ => None,
        })
        .await;
    assert_eq!(deps[0].delay_minutes(), Some(3));
    assert!(deps[1].cancelled);
    assert_eq!(deps[2].occupancy, Some(Occupancy::FewSeatsAvailable));
    // The service alerts in force for the stop travel with its board.
    let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["alert-1", "alert-s28", "alert-platform"]);
    assert_eq!(
        alerts[1].header.as_deref(),
        Some("S28: Ersatzverkehr mit Bussen")
    );
    assert_eq!(
        alerts[1].until,
        Some("2026-11-23T10:00:00Z".parse().unwrap())
    );
    assert_eq!(alerts[0].until, None);
    // When the S28 alert's period ends, the board changes and is pushed without it.
    let after: chrono::DateTime<chrono::Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    assert_eq!(
        control_server::civic::transit::refresh(s, after)
            .await
            .unwrap(),
        1
    );
    let alerts = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Departures { alerts, .. }) => Some(alerts),
            _ => None,
        })
        .await;
    let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["alert-1", "alert-platform"]);
    // Back to the morning board for what follows.
    assert_eq!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap(),
        1
    );
    player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Departures { .. }) => Some(()),
            _ => None,
        })
        .await;

    // A player that reconnects gets the current board at the next refresh,
    // though the board did not change.
    drop(player);
    let mut player = WsPlayer::online(&server, &token).await;
    assert_eq!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap(),
        1
    );
    let deps = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Departures { departures, .. }) => Some(departures),
            _ => None,
        })
        .await;
    assert_eq!(deps[0].delay_minutes(), Some(3));
    assert_eq!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap(),
        0
    );
    server.stop().await;
}

#[tokio::test]
async fn the_realtime_poller_keeps_the_last_good_feed_when_the_source_fails() {
    use axum::routing::get;
    let good = snapshot();
    let app = axum::Router::new()
        .route("/good", get(move || async move { good }))
        .route(
            "/garbage",
            get(|| async { b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec() }),
        )
        .route("/hang", get(std::future::pending::<Vec<u8>>))
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feeds = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let server = TestServer::start_with(|c| c.transit.gtfs_rt_timeout_ms = 700).await;
    let (status, body) = upload(&server, "/api/transit/gtfs", sample_zip(&[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = &server.state;
    let url = |p: &str| format!("http://{feeds}{p}");
    let first = control_server::civic::transit::poll_rt(s, &url("/good"))
        .await
        .unwrap();
    assert_eq!(first.trips.len(), 3);

    let err = control_server::civic::transit::poll_rt(s, &url("/garbage"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid protobuf"), "{err}");
    let err = control_server::civic::transit::poll_rt(s, &url("/gone"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let hang_url = url("/hang");
    let hang = control_server::civic::transit::poll_rt(s, &hang_url);
    let (health, err) = tokio::join!(server.call(Method::GET, "/api/health", None), hang);
    assert_eq!(health.0, StatusCode::OK);
    assert!(err.unwrap_err().to_string().contains("timeout"));

    let b = board(&server, KAARST, MONDAY_0755).await;
    assert_eq!(b["departures"][0]["delay_minutes"], 3, "{b}");
    assert_eq!(b["as_of"], json!(first.as_of));
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    let rt = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "gtfs-rt")
        .unwrap();
    assert_eq!(rt["ok"], false);
    assert!(
        rt["last_error"].as_str().unwrap().contains("timeout"),
        "{rt}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_demo_shows_sensor_readings_and_departures_at_every_square() {
    let server = TestServer::start().await;
    assert!(control_server::demo::seed(&server.state).await.unwrap());
    let now = chrono::Utc::now();
    let (_, displays) = server.call(Method::GET, "/api/displays", None).await;
    let displays = displays.as_array().unwrap().clone();
    assert_eq!(displays.len(), 5);
    // Every square's stop has departures at any hour (night buses included).
    for d in &displays {
        let stop = d["transit_stops"][0]["id"].as_str().unwrap();
        for h in (0..24).step_by(2) {
            let at = (now + chrono::Duration::hours(h))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let b = board(&server, stop, &at).await;
            assert!(
                !b["departures"].as_array().unwrap().is_empty(),
                "{} at {at}: {b}",
                d["name"]
            );
        }
    }
    // Five lamp posts, seven quantities each, all current.
    let (_, body) = server
        .call(Method::GET, "/api/sensors/readings", None)
        .await;
    let readings = body["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 35, "{body}");
    assert!(readings.iter().all(|r| r["stale"] == false), "{body}");
    // Three days of history, hourly once downsampled.
    control_server::civic::sensors::downsample(&server.state.db, now, 7)
        .await
        .unwrap();
    let from = (now - chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, history) = server
        .call(
            Method::GET,
            &format!("/api/sensors/demo-laterne-vorst/history?quantity=pm10&from={from}&to={to}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let hours = history["hourly"].as_array().map_or(0, Vec::len);
    assert!(hours >= 70, "{history}");

    // A player on a square gets its departures and its area's readings pushed.
    let id = displays[0]["id"].as_i64().unwrap();
    let (_, body) = server
        .call(Method::POST, &format!("/api/displays/{id}/token"), None)
        .await;
    let mut player = WsPlayer::online(&server, body["token"].as_str().unwrap()).await;
    let s = &server.state;
    assert!(
        control_server::civic::transit::refresh(s, now)
            .await
            .unwrap()
            >= 1
    );
    let deps = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Departures { departures, .. }) => Some(departures),
            _ => None,
        })
        .await;
    assert!(!deps.is_empty());
    control_server::civic::sensors::resync(&s.db, &s.hub, &s.sensors, now)
        .await
        .unwrap();
    let readings = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
            _ => None,
        })
        .await;
    assert_eq!(readings.len(), 35);
    server.stop().await;
}
