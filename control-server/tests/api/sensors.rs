//! Environmental sensors: push ingest, validation, units, air-quality classes,
//! staleness, downsampling, live push, and the public-feed pollers.

use crate::common::*;
use axum::routing::get;
use chrono::{Duration as ChronoDuration, Utc};
use content::live::{AirQualityClass, LiveData, Quantity};
use content::protocol::ServerMessage;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// Creates a pushing sensor and returns its token.
async fn sensor(server: &TestServer, id: &str, ars: &str) -> String {
    let (status, body) = server
        .call(
            Method::POST,
            "/api/sensors",
            Some(json!({ "id": id, "name": format!("Sensor {id}"), "lat": 51.2276, "lon": 6.6172, "ars": ars })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

async fn push(server: &TestServer, token: &str, readings: Value) -> (StatusCode, Value) {
    let resp = server
        .http
        .post(server.url("/api/sensors/readings"))
        .bearer_auth(token)
        .json(&json!({ "readings": readings }))
        .send()
        .await
        .expect("push");
    decode(resp).await
}

#[tokio::test]
async fn push_needs_the_sensors_own_token() {
    let server = TestServer::start().await;
    let token = sensor(&server, "kaarst-rathaus", "051620016016").await;
    let (status, body) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 12.5 }]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["station"], "kaarst-rathaus");

    let (status, _) = push(
        &server,
        "not-a-token",
        json!([{ "quantity": "pm10", "value": 1.0 }]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A staff token is no sensor token.
    let (status, _) = push(
        &server,
        &server.admin,
        json!([{ "quantity": "pm10", "value": 1.0 }]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Only admins create sensors.
    let editor = server.user("eva", "editor").await;
    let resp = server
        .http
        .post(server.url("/api/sensors"))
        .bearer_auth(&editor)
        .json(&json!({ "id": "x", "name": "x", "lat": 51.0, "lon": 6.0, "ars": "051620016016" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Duplicate ids conflict.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/sensors",
            Some(json!({ "id": "kaarst-rathaus", "name": "again", "lat": 51.0, "lon": 6.0, "ars": "051620016016" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test]
async fn nan_and_absurd_values_are_refused_with_422() {
    let server = TestServer::start().await;
    let token = sensor(&server, "s1", "051620016016").await;
    let cases = [
        (
            json!({ "quantity": "temperature", "value": null }),
            "not a finite number",
        ),
        (
            json!({ "quantity": "temperature", "value": -300.0 }),
            "outside the plausible range",
        ),
        (
            json!({ "quantity": "pm10", "value": -1.0 }),
            "outside the plausible range",
        ),
        (
            json!({ "quantity": "humidity", "value": 100.5 }),
            "outside the plausible range",
        ),
        (
            json!({ "quantity": "pressure", "value": 5.0, "unit": "hPa" }),
            "outside the plausible range",
        ),
        (
            json!({ "quantity": "pm25", "value": 3.0, "unit": "ppb" }),
            "is not accepted",
        ),
    ];
    for (reading, message) in cases {
        let (status, body) = push(
            &server,
            &token,
            json!([{ "quantity": "pm10", "value": 5.0 }, reading]),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{reading}: {body}"
        );
        let text = body["message"].as_str().unwrap();
        assert!(
            text.starts_with("readings[1]") && text.contains(message),
            "{text}"
        );
    }
    // All or nothing: none of the good first readings was stored.
    let (_, body) = server
        .call(Method::GET, "/api/sensors/readings", None)
        .await;
    assert_eq!(body["readings"], json!([]));
    // A reading from the future is refused too.
    let future = Utc::now() + ChronoDuration::hours(2);
    let (status, _) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 5.0, "measured_at": future }]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Each refusal shows in the feed-health view under the station; a good
    // batch afterwards clears it and keeps the error for reference.
    let feed = |feeds: &Value| {
        feeds
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "sensor:s1")
            .cloned()
            .expect("sensor:s1 in the feed-health view")
    };
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    let f = feed(&feeds);
    assert_eq!(
        (f["ok"].clone(), f["kind"].clone()),
        (json!(false), json!("sensor_push"))
    );
    assert!(
        f["last_error"].as_str().unwrap().contains("in the future"),
        "{f}"
    );
    let (status, _) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 5.0 }]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    assert_eq!(feed(&feeds)["ok"], true);
    server.stop().await;
}

#[tokio::test]
async fn units_are_normalised() {
    let server = TestServer::start().await;
    let token = sensor(&server, "s1", "051620016016").await;
    let (status, body) = push(
        &server,
        &token,
        json!([
            { "quantity": "pressure", "value": 101325.0, "unit": "Pa" },
            { "quantity": "no2", "value": 10.0, "unit": "ppb" },
            { "quantity": "o3", "value": 10.0, "unit": "ppb" },
            { "quantity": "temperature", "value": 293.15, "unit": "K" },
            { "quantity": "humidity", "value": 55.0, "unit": "%" },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body) = server
        .call(Method::GET, "/api/sensors/readings?station=s1", None)
        .await;
    let by = |q: &str| -> (f64, String) {
        let r = body["readings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["quantity"] == q)
            .unwrap_or_else(|| panic!("{q} in {body}"));
        (
            r["value"].as_f64().unwrap(),
            r["unit"].as_str().unwrap().to_owned(),
        )
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let (v, u) = by("pressure");
    assert!(close(v, 1013.25) && u == "hPa", "{v} {u}");
    let (v, u) = by("no2");
    assert!(close(v, 18.8) && u == "µg/m³", "{v} {u}");
    let (v, _) = by("o3");
    assert!(close(v, 19.6), "{v}");
    let (v, u) = by("temperature");
    assert!(close(v, 20.0) && u == "°C", "{v} {u}");
    let (v, u) = by("humidity");
    assert!(close(v, 55.0) && u == "%", "{v} {u}");
    server.stop().await;
}

#[tokio::test]
async fn air_quality_class_comes_from_the_band_file() {
    // The shipped Umweltbundesamt bands.
    let server = TestServer::start().await;
    let token = sensor(&server, "s1", "051620016016").await;
    let (_, body) = push(
        &server,
        &token,
        json!([
            { "quantity": "pm10", "value": 12.0 },
            { "quantity": "pm25", "value": 60.0 },
            { "quantity": "no2", "value": 41.0 },
            { "quantity": "temperature", "value": 20.0 },
        ]),
    )
    .await;
    let classes: Vec<Value> = body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["class"].clone())
        .collect();
    assert_eq!(
        classes,
        [
            json!("sehr_gut"),
            json!("sehr_schlecht"),
            json!("maessig"),
            Value::Null
        ]
    );
    server.stop().await;

    // A town's own table, from a file named on the command line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bands.json");
    std::fs::write(
        &path,
        r#"{ "bands": { "pm10": { "sehr_gut": 1, "gut": 2, "maessig": 3, "schlecht": 11 } } }"#,
    )
    .unwrap();
    let server = TestServer::start_with(|c| c.sensors.air_quality_bands = Some(path.clone())).await;
    let token = sensor(&server, "s1", "051620016016").await;
    let (_, body) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 12.0 }, { "quantity": "no2", "value": 500.0 }]),
    )
    .await;
    assert_eq!(body["readings"][0]["class"], "sehr_schlecht");
    assert!(
        body["readings"][1].get("class").is_none(),
        "no band for no2: {body}"
    );
    server.stop().await;

    // A broken table stops the start with a clear message.
    std::fs::write(
        &path,
        r#"{ "bands": { "pm10": { "sehr_gut": 5, "gut": 2, "maessig": 3, "schlecht": 4 } } }"#,
    )
    .unwrap();
    let mut config = control_server::config::Config::for_tests(dir.path().join("data"));
    config.sensors.air_quality_bands = Some(path.clone());
    let err = control_server::open_state(config).err().expect("refused");
    assert!(
        err.to_string()
            .contains("must be finite, non-negative and rising"),
        "{err}"
    );
}

#[tokio::test]
async fn readings_carry_their_trend_within_the_hour() {
    let server = TestServer::start().await;
    let (_, display_token) = provisioned_display(&server, "Rathausplatz").await;
    let mut player = WsPlayer::online(&server, &display_token).await;
    let token = sensor(&server, "s1", "051620016016").await;
    let now = Utc::now();
    let at = |min: i64| now - ChronoDuration::minutes(min);
    let (_, body) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 10.0, "measured_at": at(30) }]),
    )
    .await;
    assert!(
        body["readings"][0].get("trend").is_none(),
        "no earlier reading: {body}"
    );
    let (_, body) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 14.0, "measured_at": at(20) }]),
    )
    .await;
    assert_eq!(body["readings"][0]["trend"], "rising");
    let (_, body) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 14.5, "measured_at": at(10) }]),
    )
    .await;
    assert_eq!(body["readings"][0]["trend"], "steady");
    let (_, body) = push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 9.0, "measured_at": at(0) }]),
    )
    .await;
    assert_eq!(body["readings"][0]["trend"], "falling");
    // The player gets the trend too.
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let r = player
            .expect(|m| match m {
                ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
                _ => None,
            })
            .await;
        seen.push(r[0].trend);
    }
    use content::live::Trend;
    assert_eq!(
        seen,
        [
            None,
            Some(Trend::Rising),
            Some(Trend::Steady),
            Some(Trend::Falling)
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn old_readings_are_marked_stale() {
    let server = TestServer::start_with(|c| c.sensors.sensor_stale_s = 1800).await;
    let token = sensor(&server, "s1", "051620016016").await;
    let old = Utc::now() - ChronoDuration::hours(2);
    let (status, body) = push(
        &server,
        &token,
        json!([
            { "quantity": "pm10", "value": 10.0, "measured_at": old },
            { "quantity": "temperature", "value": 10.0 },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["readings"][0]["stale"], true);
    assert_eq!(body["readings"][1]["stale"], false);
    let (_, body) = server
        .call(Method::GET, "/api/sensors/readings", None)
        .await;
    let stale: Vec<(String, bool)> = body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["quantity"].as_str().unwrap().to_owned(),
                r["stale"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stale,
        [("pm10".into(), true), ("temperature".into(), false)]
    );
    server.stop().await;
}

#[tokio::test]
async fn downsampling_keeps_hourly_aggregates_and_prunes_raw_readings() {
    let server = TestServer::start().await;
    let token = sensor(&server, "s1", "051620016016").await;
    // Three readings in one complete hour two hours ago, one in the current hour.
    let now = Utc::now();
    let hour = chrono::DateTime::from_timestamp((now.timestamp() / 3600 - 2) * 3600, 0).unwrap();
    let at = |min: i64| hour + ChronoDuration::minutes(min);
    let (status, body) = push(
        &server,
        &token,
        json!([
            { "quantity": "pm10", "value": 10.0, "measured_at": at(5) },
            { "quantity": "pm10", "value": 20.0, "measured_at": at(25) },
            { "quantity": "pm10", "value": 60.0, "measured_at": at(55) },
            { "quantity": "pm10", "value": 99.0, "measured_at": now },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let db = &server.state.db;
    let d = control_server::civic::sensors::downsample(db, now, 7)
        .await
        .unwrap();
    assert_eq!(
        (d.hours, d.pruned),
        (1, 0),
        "only the complete hour, nothing old enough to prune"
    );

    let path = format!(
        "/api/sensors/s1/history?quantity=pm10&from={}",
        (hour - ChronoDuration::hours(1)).to_rfc3339()
    );
    let (status, body) = server
        .call(Method::GET, &path.replace('+', "%2B"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let h = &body["hourly"][0];
    assert_eq!(
        (
            h["min"].as_f64(),
            h["avg"].as_f64(),
            h["max"].as_f64(),
            h["count"].as_i64()
        ),
        (Some(10.0), Some(30.0), Some(60.0), Some(3))
    );
    assert_eq!(body["hourly"].as_array().unwrap().len(), 1);

    // Eight days later every raw reading is gone, the aggregates stay.
    let later = now + ChronoDuration::days(8);
    let d = control_server::civic::sensors::downsample(db, later, 7)
        .await
        .unwrap();
    assert_eq!((d.hours, d.pruned), (2, 4));
    let (_, body) = server
        .call(Method::GET, "/api/sensors/readings", None)
        .await;
    assert_eq!(body["readings"], json!([]));
    let (_, body) = server
        .call(Method::GET, &path.replace('+', "%2B"), None)
        .await;
    assert_eq!(body["hourly"].as_array().unwrap().len(), 2, "{body}");
    // Running again changes nothing.
    let d = control_server::civic::sensors::downsample(db, later, 7)
        .await
        .unwrap();
    assert_eq!((d.hours, d.pruned), (0, 0));
    server.stop().await;
}

#[tokio::test]
async fn a_connected_player_in_the_area_receives_the_readings() {
    let server = TestServer::start().await;
    let (_, display_token) = provisioned_display(&server, "Rathausplatz").await;
    let mut player = WsPlayer::online(&server, &display_token).await;
    // A district-level station reaches every display in the Rhein-Kreis Neuss.
    let token = sensor(&server, "rkn-1", "051620000000").await;
    let (status, _) = push(
        &server,
        &token,
        json!([{ "quantity": "pm25", "value": 22.0 }]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let readings = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
            _ => None,
        })
        .await;
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].station, "rkn-1");
    assert_eq!(readings[0].quantity, Quantity::Pm25);
    assert_eq!(readings[0].class, Some(AirQualityClass::Maessig));

    // A station elsewhere (Düsseldorf) does not reach it: the next sensors
    // message the player sees is the second Kaarst one.
    let other = sensor(&server, "dus-1", "051110000000").await;
    push(
        &server,
        &other,
        json!([{ "quantity": "pm10", "value": 1.0 }]),
    )
    .await;
    push(
        &server,
        &token,
        json!([{ "quantity": "pm10", "value": 2.0 }]),
    )
    .await;
    let readings = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
            _ => None,
        })
        .await;
    assert_eq!(readings[0].station, "rkn-1");
    server.stop().await;
}

#[tokio::test]
async fn a_player_that_connects_later_gets_the_latest_readings() {
    let server = TestServer::start().await;
    let (_, display_token) = provisioned_display(&server, "Rathausplatz").await;
    let token = sensor(&server, "rkn-1", "051620000000").await;
    let old = Utc::now() - ChronoDuration::hours(3);
    let (status, _) = push(
        &server,
        &token,
        json!([
            { "quantity": "pm10", "value": 30.0 },
            { "quantity": "humidity", "value": 40.0, "measured_at": old },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut player = WsPlayer::online(&server, &display_token).await;
    let s = &server.state;
    let sent = control_server::civic::sensors::resync(&s.db, &s.hub, &s.sensors, Utc::now())
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let readings = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
            _ => None,
        })
        .await;
    // Only the fresh one: the stale humidity is not sent as current.
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].quantity, Quantity::Pm10);
    assert_eq!(readings[0].class, Some(AirQualityClass::Gut));
    let sent = control_server::civic::sensors::resync(&s.db, &s.hub, &s.sensors, Utc::now())
        .await
        .unwrap();
    assert_eq!(sent, 0, "once per connection");
    server.stop().await;
}

#[tokio::test]
async fn a_push_carries_the_other_stations_of_the_area_too() {
    // A player replaces its sensor readings with each message: one station's
    // push must not wipe another's values from the panel.
    let server = TestServer::start().await;
    let (_, display_token) = provisioned_display(&server, "Rathausplatz").await;
    let mut player = WsPlayer::online(&server, &display_token).await;
    let district = sensor(&server, "rkn-1", "051620000000").await;
    let town = sensor(&server, "kaarst-1", "051620016016").await;
    let elsewhere = sensor(&server, "dus-1", "051110000000").await;
    let sensors = |m: ServerMessage| match m {
        ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
        _ => None,
    };
    push(
        &server,
        &district,
        json!([{ "quantity": "pm10", "value": 20.0 }]),
    )
    .await;
    let first = player.expect(sensors).await;
    assert_eq!(first.len(), 1);
    push(
        &server,
        &elsewhere,
        json!([{ "quantity": "o3", "value": 50.0 }]),
    )
    .await;
    push(
        &server,
        &town,
        json!([{ "quantity": "temperature", "value": 4.5 }]),
    )
    .await;
    let both = player.expect(sensors).await;
    let got: Vec<(&str, Quantity)> = both
        .iter()
        .map(|r| (r.station.as_str(), r.quantity))
        .collect();
    assert_eq!(
        got,
        [
            ("kaarst-1", Quantity::Temperature),
            ("rkn-1", Quantity::Pm10)
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reading_that_goes_stale_is_sent_again_marked_stale() {
    // The server's configured age, not the player's own fallback, decides.
    let server = TestServer::start_with(|c| c.sensors.sensor_stale_s = 600).await;
    let (_, display_token) = provisioned_display(&server, "Rathausplatz").await;
    let mut player = WsPlayer::online(&server, &display_token).await;
    let token = sensor(&server, "rkn-1", "051620000000").await;
    let measured = Utc::now() - ChronoDuration::seconds(60);
    let (status, _) = push(
        &server,
        &token,
        json!([
            { "quantity": "pm10", "value": 30.0, "measured_at": measured },
            { "quantity": "humidity", "value": 40.0 },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let readings = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
            _ => None,
        })
        .await;
    assert_eq!(readings.len(), 2);
    assert!(readings.iter().all(|r| !r.stale));

    let s = &server.state;
    let sweep = |at| control_server::civic::sensors::sweep_stale(&s.db, &s.hub, &s.sensors, at);
    assert_eq!(sweep(Utc::now()).await.unwrap(), 0, "nothing stale yet");
    // No new data arrives; ten minutes after it was measured the PM10 value
    // is stale and is sent again, marked, with the area's fresh humidity.
    let later = measured + ChronoDuration::seconds(601);
    assert_eq!(sweep(later).await.unwrap(), 1);
    let readings = player
        .expect(|m| match m {
            ServerMessage::LiveData(LiveData::Sensors { readings }) => Some(readings),
            _ => None,
        })
        .await;
    let marks: Vec<(Quantity, bool)> = readings.iter().map(|r| (r.quantity, r.stale)).collect();
    assert_eq!(marks, [(Quantity::Humidity, false), (Quantity::Pm10, true)]);
    assert_eq!(readings[1].value, 30.0);
    // Once: a later sweep does not repeat it.
    assert_eq!(sweep(later + ChronoDuration::seconds(15)).await.unwrap(), 0);
    server.stop().await;
}

/// A fake feed server on 127.0.0.1: a good sensor.community answer (values as
/// strings, pressure in Pa, one NaN, one absurd), an unexpected shape, one that
/// never answers, and an openSenseMap box.
async fn fake_feeds() -> SocketAddr {
    let stamp = Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let good = json!([{
        "id": 1, "timestamp": stamp,
        "location": { "latitude": "51.227", "longitude": "6.617" },
        "sensor": { "id": 4711, "sensor_type": { "name": "SDS011" } },
        "sensordatavalues": [
            { "value_type": "P1", "value": "23.40" },
            { "value_type": "P2", "value": "11.20" },
            { "value_type": "temperature", "value": "-300" },
            { "value_type": "humidity", "value": "NaN" },
            { "value_type": "pressure", "value": "100512.00" },
            { "value_type": "noise_LAeq", "value": "45" }
        ]
    }]);
    let osm = json!({
        "_id": "5a0c", "name": "Kaarst Mitte",
        "sensors": [
            { "title": "PM10", "unit": "µg/m³", "lastMeasurement": { "value": "8.1", "createdAt": Utc::now().to_rfc3339() } },
            { "title": "Luftdruck", "unit": "Pa", "lastMeasurement": { "value": "99850", "createdAt": Utc::now().to_rfc3339() } },
            { "title": "Temperatur", "unit": "°C", "lastMeasurement": null }
        ]
    });
    let app = axum::Router::new()
        .route("/good", get(move || async move { axum::Json(good) }))
        .route(
            "/shape",
            get(|| async { axum::Json(json!({ "error": "rate limited", "data": [1, 2] })) }),
        )
        .route("/hang", get(std::future::pending::<&'static str>))
        .route("/osm", get(move || async move { axum::Json(osm) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn polled(server: &TestServer, id: &str, kind: &str, url: String) {
    let (status, body) = server
        .call(
            Method::POST,
            "/api/sensors",
            Some(json!({ "id": id, "name": id, "lat": 51.2, "lon": 6.6, "ars": "051620016016", "feed": { "kind": kind, "url": url } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("token").is_none(), "polled sensors get no token");
}

#[tokio::test]
async fn pollers_read_public_feeds_and_report_failures() {
    let feeds = fake_feeds().await;
    let server = TestServer::start_with(|c| c.sensors.sensor_feed_timeout_ms = 700).await;
    polled(
        &server,
        "sc-good",
        "sensor_community",
        format!("http://{feeds}/good"),
    )
    .await;
    polled(
        &server,
        "sc-shape",
        "sensor_community",
        format!("http://{feeds}/shape"),
    )
    .await;
    polled(
        &server,
        "sc-hang",
        "sensor_community",
        format!("http://{feeds}/hang"),
    )
    .await;
    polled(
        &server,
        "osm",
        "opensensemap",
        format!("http://{feeds}/osm"),
    )
    .await;

    let (status, body) = server
        .call(Method::POST, "/api/sensors/sc-good/poll", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    let got: Vec<(String, f64)> = body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["quantity"].as_str().unwrap().to_owned(),
                r["value"].as_f64().unwrap(),
            )
        })
        .collect();
    // The absurd temperature and the NaN humidity are skipped, pressure is in hPa.
    assert_eq!(
        got,
        [
            ("pm10".into(), 23.4),
            ("pm25".into(), 11.2),
            ("pressure".into(), 1005.12)
        ]
    );

    let (_, body) = server
        .call(Method::POST, "/api/sensors/sc-shape/poll", None)
        .await;
    assert_eq!(body["ok"], false);
    assert!(
        body["error"].as_str().unwrap().contains("unexpected shape"),
        "{body}"
    );

    // The hanging feed times out while the server keeps answering.
    let hang = {
        let (http, url, admin) = (
            server.http.clone(),
            server.url("/api/sensors/sc-hang/poll"),
            server.admin.clone(),
        );
        tokio::spawn(async move {
            decode(http.post(url).bearer_auth(admin).send().await.unwrap()).await
        })
    };
    let (status, _) = tokio::time::timeout(
        Duration::from_secs(5),
        server.call(Method::GET, "/api/health", None),
    )
    .await
    .expect("health answers while a feed hangs");
    assert_eq!(status, StatusCode::OK);
    let (_, body) = tokio::time::timeout(Duration::from_secs(10), hang)
        .await
        .expect("poll ends")
        .unwrap();
    assert_eq!(body["ok"], false);
    assert!(
        body["error"].as_str().unwrap().contains("timeout"),
        "{body}"
    );

    let (_, body) = server
        .call(Method::POST, "/api/sensors/osm/poll", None)
        .await;
    assert_eq!(body["ok"], true, "{body}");
    let got: Vec<(String, f64)> = body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["quantity"].as_str().unwrap().to_owned(),
                r["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("pm10".into(), 8.1), ("pressure".into(), 998.5)]);

    // The station list carries each feed's health.
    let (_, body) = server.call(Method::GET, "/api/sensors", None).await;
    let health: Vec<(String, bool)> = body["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["last_error"].is_null(),
            )
        })
        .collect();
    assert_eq!(
        health,
        [
            ("osm".into(), true),
            ("sc-good".into(), true),
            ("sc-hang".into(), false),
            ("sc-shape".into(), false)
        ]
    );
    // And the shared feed-health view has them too.
    let (status, feeds) = server.call(Method::GET, "/api/feeds", None).await;
    assert_eq!(status, StatusCode::OK, "{feeds}");
    let feed = |name: &str| {
        feeds
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {feeds}"))
            .clone()
    };
    assert_eq!(feed("sensor:sc-good")["ok"], true);
    assert_eq!(feed("sensor:sc-good")["kind"], "sensor_community");
    // Its NaN and its absurd value were skipped, and that shows too.
    let note = feed("sensor:sc-good")["last_error"].clone();
    let note = note.as_str().unwrap_or_default();
    assert!(
        note.starts_with("skipped 2 implausible value(s)")
            && note.contains("not a finite number")
            && note.contains("outside the plausible range"),
        "{note}"
    );
    assert_eq!(feed("sensor:osm")["kind"], "opensensemap");
    assert_eq!(feed("sensor:sc-shape")["ok"], false);
    assert!(
        feed("sensor:sc-hang")["last_error"]
            .as_str()
            .unwrap()
            .contains("timeout")
    );
    server.stop().await;
}

#[tokio::test]
async fn open_data_in_sensorthings_shapes_and_as_csv() {
    let server = TestServer::start().await;
    let token = sensor(&server, "s1", "051620016016").await;
    let now = Utc::now();
    let at = |min: i64| now - ChronoDuration::minutes(min);
    let (status, body) = push(
        &server,
        &token,
        json!([
            { "quantity": "pm10", "value": 11.0, "measured_at": at(30) },
            { "quantity": "pm10", "value": 12.0, "measured_at": at(20) },
            { "quantity": "pm10", "value": 13.0, "measured_at": at(10) },
            { "quantity": "temperature", "value": 8.5, "measured_at": at(10) },
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Public: no token.
    let get = |path: &str| {
        let url = server.url(path);
        let http = server.http.clone();
        async move { decode(http.get(url).send().await.unwrap()).await }
    };
    let root = "/api/open/v1.1";
    let (status, things) = get(&format!("{root}/Things")).await;
    assert_eq!(status, StatusCode::OK, "{things}");
    let t = &things["value"][0];
    assert_eq!(t["@iot.id"], "s1");
    assert_eq!(
        t["@iot.selfLink"],
        server.url(&format!("{root}/Things('s1')"))
    );
    assert_eq!(
        t["Locations"][0]["location"]["coordinates"],
        json!([6.6172, 51.2276])
    );
    assert_eq!(t["properties"]["licence"], "dl-de/by-2-0");

    let (_, streams) = get(&format!("{root}/Datastreams?$count=true")).await;
    assert_eq!(streams["@iot.count"], 2);
    let ids: Vec<&str> = streams["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["@iot.id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s1:pm10", "s1:temperature"]);
    assert_eq!(streams["value"][0]["unitOfMeasurement"]["symbol"], "µg/m³");
    let obs_link = streams["value"][0]["Observations@iot.navigationLink"]
        .as_str()
        .unwrap();
    assert_eq!(
        obs_link,
        server.url(&format!("{root}/Datastreams('s1:pm10')/Observations"))
    );

    let (status, page1) = get(&format!(
        "{root}/Datastreams('s1:pm10')/Observations?$top=2"
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{page1}");
    let results: Vec<f64> = page1["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["result"].as_f64().unwrap())
        .collect();
    assert_eq!(results, [13.0, 12.0], "newest first");
    assert!(
        page1["value"][0]["@iot.id"]
            .as_str()
            .unwrap()
            .starts_with("s1:pm10:")
    );
    assert!(page1["value"][0]["phenomenonTime"].is_string());
    let next = page1["@iot.nextLink"].as_str().expect("nextLink");
    assert!(next.ends_with("$top=2&$skip=2"), "{next}");
    let (_, page2) = get(&format!(
        "{root}/Datastreams('s1:pm10')/Observations?$top=2&$skip=2"
    ))
    .await;
    assert_eq!(page2["value"].as_array().unwrap().len(), 1);
    assert!(page2.get("@iot.nextLink").is_none());

    let (status, body) = get(&format!("{root}/Datastreams('s1:no2')/Observations")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // CSV, raw and hourly, each row with its licence.
    let resp = server
        .http
        .get(server.url("/api/open/sensors.csv?quantity=pm10"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "station,quantity,unit,measured_at,value,licence");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with("s1,pm10,µg/m³,") && lines[1].ends_with(",11,dl-de/by-2-0"),
        "{text}"
    );

    control_server::civic::sensors::downsample(&server.state.db, now + ChronoDuration::hours(2), 7)
        .await
        .unwrap();
    let text = server
        .http
        .get(server.url("/api/open/sensors.csv?resolution=hourly&quantity=temperature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "station,quantity,unit,hour,min,avg,max,count,licence"
    );
    assert!(lines[1].ends_with(",8.5,8.5,8.5,1,dl-de/by-2-0"), "{text}");
    let (status, _) = get("/api/open/sensors.csv?quantity=radon").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await;
}
