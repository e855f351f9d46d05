//! The WebSocket protocol: every message round-trips, and anything else is an
//! error value, never a panic.

use crate::common::{config, kaarst_location, utc};
use chrono::{DateTime, Utc};
use content::alert::{Alert, AlertArea, AlertStatus, Circle, Severity, Urgency};
use content::live::{
    AirQualityClass, Departure, LiveData, Occupancy, Quantity, SensorReading, ServiceAlert, Trend,
};
use content::protocol::{
    CacheState, Health, Hello, MAX_MESSAGE_BYTES, NowPlaying, PROTOCOL_VERSION, PlayRecord,
    PlayerMessage, ProtocolError, RefusalReason, ServerMessage, Tagged, decode, encode,
};
use content::{DisplayId, ItemId, ScheduleId};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Debug;

/// The `type` tag of a player message. Exhaustive on purpose: a new variant
/// does not compile until it is added here and to [`player_samples`].
fn player_tag(m: &PlayerMessage) -> &'static str {
    match m {
        PlayerMessage::Hello(_) => "hello",
        PlayerMessage::Heartbeat(_) => "heartbeat",
        PlayerMessage::Ack { .. } => "ack",
        PlayerMessage::ProofOfPlay { .. } => "proof_of_play",
        PlayerMessage::AlertShown { .. } => "alert_shown",
    }
}

/// See [`player_tag`].
fn server_tag(m: &ServerMessage) -> &'static str {
    match m {
        ServerMessage::Welcome { .. } => "welcome",
        ServerMessage::PairingCode { .. } => "pairing_code",
        ServerMessage::Adopted { .. } => "adopted",
        ServerMessage::Refused { .. } => "refused",
        ServerMessage::ManifestUpdate { .. } => "manifest_update",
        ServerMessage::LiveData(_) => "live_data",
        ServerMessage::AlertStart { .. } => "alert_start",
        ServerMessage::AlertCancel { .. } => "alert_cancel",
        ServerMessage::ScreenshotRequest { .. } => "screenshot_request",
        ServerMessage::PlaysAccepted { .. } => "plays_accepted",
        ServerMessage::Error { .. } => "error",
    }
}

fn health() -> Health {
    Health {
        uptime_s: 86_400 * 3 + 17,
        cpu_temp_c: Some(48.5),
        mem_used_bytes: 812_000_000,
        mem_total_bytes: 4_000_000_000,
        disk_free_bytes: 20_000_000_000,
        disk_total_bytes: 32_000_000_000,
        fps: 59.94,
        now_playing: vec![
            NowPlaying {
                zone: "main".into(),
                item: ItemId(12),
            },
            NowPlaying {
                zone: "ticker".into(),
                item: ItemId(3),
            },
        ],
        cache: CacheState {
            assets_ready: 14,
            assets_missing: 1,
            bytes: 734_003_200,
        },
        manifest_version: Some(41),
        problems: vec!["Lüfter dreht langsam (1200 U/min)".into()],
    }
}

fn player_samples() -> Vec<PlayerMessage> {
    vec![
        PlayerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            player_version: "0.3.1".into(),
            token: Some("dsp_6f1c2a9e".into()),
            device_id: Some("a1b2c3d4-e5f6".into()),
            manifest_version: Some(41),
        }),
        PlayerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            player_version: "0.3.1".into(),
            token: None,
            device_id: None,
            manifest_version: None,
        }),
        PlayerMessage::Heartbeat(health()),
        PlayerMessage::Heartbeat(Health::default()),
        PlayerMessage::Ack { id: 7 },
        PlayerMessage::ProofOfPlay {
            batch: 12,
            records: vec![
                PlayRecord {
                    item: ItemId(12),
                    zone: "main".into(),
                    schedule: Some(ScheduleId(4)),
                    started_at: utc("2026-12-01T08:00:00.250Z"),
                    duration_ms: 15_000,
                },
                PlayRecord {
                    item: ItemId(1),
                    zone: "main".into(),
                    schedule: None,
                    started_at: utc("2026-12-01T08:00:15.250Z"),
                    duration_ms: 30_000,
                },
            ],
        },
        PlayerMessage::ProofOfPlay {
            batch: 13,
            records: Vec::new(),
        },
        PlayerMessage::AlertShown {
            alert_id: "mow.DE-NW-NE-SE20261201-001".into(),
            at: utc("2026-12-01T08:03:12Z"),
        },
    ]
}

fn alert() -> Alert {
    Alert {
        id: "mow.DE-NW-NE-SE20261201-001".into(),
        status: AlertStatus::Actual,
        severity: Severity::Severe,
        urgency: Urgency::Immediate,
        headline: "Großbrand in Kaarst-Holzbüttgen – Fenster und Türen geschlossen halten".into(),
        description: "Starke Rauchentwicklung über dem Gewerbegebiet.".into(),
        instruction: "Fenster und Türen schließen, Lüftungs- und Klimaanlagen ausschalten.".into(),
        area_description: "Kaarst, Rhein-Kreis Neuss".into(),
        area: AlertArea {
            ars: vec!["051620016016".parse().unwrap()],
            polygons: vec![vec![(51.2, 6.6), (51.3, 6.6), (51.3, 6.7), (51.2, 6.7)]],
            circles: vec![Circle {
                lat: 51.23,
                lon: 6.62,
                radius_km: 2.5,
            }],
        },
        sent: utc("2026-12-01T08:01:00Z"),
        expires: Some(utc("2026-12-01T14:00:00Z")),
        sender: "Rhein-Kreis Neuss".into(),
    }
}

fn server_samples() -> Vec<ServerMessage> {
    let mut v = vec![
        ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            display_id: DisplayId(1),
            server_time: utc("2026-12-01T08:00:00.123456789Z"),
            heartbeat_interval_s: 30,
        },
        ServerMessage::PairingCode {
            code: "K7Q-4M2".into(),
            expires_at: utc("2026-12-01T08:15:00Z"),
        },
        ServerMessage::Adopted {
            display_id: DisplayId(1),
            token: "dsp_6f1c2a9e".into(),
        },
        ServerMessage::ManifestUpdate {
            id: 101,
            version: 42,
        },
        ServerMessage::LiveData(LiveData::Sensors {
            readings: vec![
                SensorReading {
                    station: "DENW071".into(),
                    quantity: Quantity::Pm10,
                    value: 17.5,
                    measured_at: utc("2026-12-01T07:00:00Z"),
                    trend: Some(Trend::Rising),
                    class: Some(AirQualityClass::Gut),
                    stale: false,
                },
                SensorReading {
                    station: "kaarst-rathaus".into(),
                    quantity: Quantity::Temperature,
                    value: -3.25,
                    measured_at: utc("2026-12-01T07:55:00Z"),
                    trend: None,
                    class: None,
                    stale: true,
                },
            ],
        }),
        ServerMessage::LiveData(LiveData::Departures {
            stop_id: "de:05162:4711".into(),
            as_of: utc("2026-12-01T07:59:30Z"),
            alerts: vec![ServiceAlert {
                id: "baustelle-7".into(),
                header: Some("Haltestelle verlegt".into()),
                description: None,
                until: Some(utc("2026-12-05T23:00:00Z")),
            }],
            departures: vec![
                Departure {
                    line: "S28".into(),
                    destination: "Kaarster See".into(),
                    planned: utc("2026-12-01T08:04:00Z"),
                    expected: Some(utc("2026-12-01T08:06:00Z")),
                    cancelled: false,
                    platform: Some("2".into()),
                    occupancy: Some(Occupancy::FewSeatsAvailable),
                },
                Departure {
                    line: "854".into(),
                    destination: "Neuss Hbf".into(),
                    planned: utc("2026-12-01T08:10:00Z"),
                    expected: None,
                    cancelled: true,
                    platform: None,
                    occupancy: None,
                },
            ],
        }),
        ServerMessage::AlertStart {
            id: 102,
            alert: alert(),
        },
        ServerMessage::AlertCancel {
            id: 103,
            alert_id: "mow.DE-NW-NE-SE20261201-001".into(),
        },
        ServerMessage::ScreenshotRequest { id: 104 },
        ServerMessage::PlaysAccepted { batch: 12 },
        ServerMessage::Error {
            message: "Nachricht nicht verstanden: „ack“ ohne id".into(),
        },
    ];
    for reason in [
        RefusalReason::UnsupportedProtocol,
        RefusalReason::UnknownToken,
        RefusalReason::Revoked,
        RefusalReason::NoHello,
    ] {
        v.push(ServerMessage::Refused {
            reason,
            message: "Anzeige wurde gesperrt".into(),
        });
    }
    v
}

fn round_trip<T: Serialize + DeserializeOwned + Tagged + PartialEq + Debug>(m: &T) {
    let text = encode(m);
    assert_eq!(
        &decode::<T>(&text).unwrap_or_else(|e| panic!("{text}: {e}")),
        m,
        "{text}"
    );
}

fn tag_of(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    v["type"].as_str().unwrap().to_owned()
}

#[test]
fn every_message_round_trips() {
    for m in player_samples() {
        round_trip(&m);
        assert_eq!(tag_of(&encode(&m)), player_tag(&m));
    }
    for m in server_samples() {
        round_trip(&m);
        assert_eq!(tag_of(&encode(&m)), server_tag(&m));
    }
}

#[test]
fn samples_cover_every_listed_type() {
    let player: BTreeSet<_> = player_samples().iter().map(player_tag).collect();
    assert_eq!(player, PlayerMessage::TYPES.iter().copied().collect());
    let server: BTreeSet<_> = server_samples().iter().map(server_tag).collect();
    assert_eq!(server, ServerMessage::TYPES.iter().copied().collect());
}

#[test]
fn ack_ids_are_the_messages_ids() {
    let ids: Vec<_> = server_samples()
        .iter()
        .filter_map(ServerMessage::ack_id)
        .collect();
    assert_eq!(ids, [101, 102, 103, 104]);
}

#[test]
fn wire_format_is_stable() {
    // Peers built from other versions of this crate must keep understanding these.
    assert_eq!(
        encode(&PlayerMessage::Ack { id: 7 }),
        r#"{"type":"ack","id":7}"#
    );
    let hello: PlayerMessage =
        decode(r#"{"type":"hello","protocol":1,"player_version":"0.1.0"}"#).unwrap();
    assert!(matches!(
        hello,
        PlayerMessage::Hello(Hello { token: None, .. })
    ));
    let live = encode(&ServerMessage::LiveData(LiveData::Sensors {
        readings: Vec::new(),
    }));
    assert_eq!(
        live,
        r#"{"type":"live_data","kind":"sensors","readings":[]}"#
    );
    // Optional fields may be left out of a heartbeat.
    let beat = r#"{"type":"heartbeat","uptime_s":1,"mem_used_bytes":2,"mem_total_bytes":3,
        "disk_free_bytes":4,"disk_total_bytes":5,"fps":30.0}"#;
    assert!(matches!(
        decode::<PlayerMessage>(beat),
        Ok(PlayerMessage::Heartbeat(_))
    ));
}

/// Every strict prefix of a valid frame is refused as not JSON.
#[test]
fn truncated_messages_are_refused() {
    let frames: Vec<String> = player_samples()
        .iter()
        .map(encode)
        .chain(server_samples().iter().map(encode))
        .collect();
    for frame in frames {
        for (cut, _) in frame.char_indices() {
            let prefix = &frame[..cut];
            let (p, s) = (
                decode::<PlayerMessage>(prefix),
                decode::<ServerMessage>(prefix),
            );
            assert!(
                matches!(p, Err(ProtocolError::NotJson(_))),
                "{prefix:?}: {p:?}"
            );
            assert!(
                matches!(s, Err(ProtocolError::NotJson(_))),
                "{prefix:?}: {s:?}"
            );
        }
    }
}

#[test]
fn unknown_types_are_named() {
    for m in server_samples() {
        // The two directions share no tags: a server message is unknown to the server.
        let err = decode::<PlayerMessage>(&encode(&m)).unwrap_err();
        assert_eq!(err, ProtocolError::UnknownType(server_tag(&m).into()));
    }
    for m in player_samples() {
        let err = decode::<ServerMessage>(&encode(&m)).unwrap_err();
        assert_eq!(err, ProtocolError::UnknownType(player_tag(&m).into()));
    }
    for t in ["launch_missiles", "Hello", "ACK", "", "hello "] {
        let text = json!({ "type": t, "id": 1 }).to_string();
        assert_eq!(
            decode::<PlayerMessage>(&text),
            Err(ProtocolError::UnknownType(t.into()))
        );
    }
}

#[test]
fn messages_without_a_string_type_are_refused() {
    for text in [
        "null",
        "[]",
        "1",
        "true",
        r#""hello""#,
        r#"[{"type":"ack","id":1}]"#,
        r#"{}"#,
        r#"{"id":1}"#,
        r#"{"type":5,"id":1}"#,
        r#"{"type":null,"id":1}"#,
        r#"{"type":["ack"],"id":1}"#,
    ] {
        assert_eq!(
            decode::<PlayerMessage>(text),
            Err(ProtocolError::MissingType),
            "{text}"
        );
        assert_eq!(
            decode::<ServerMessage>(text),
            Err(ProtocolError::MissingType),
            "{text}"
        );
    }
    assert!(matches!(
        decode::<PlayerMessage>(""),
        Err(ProtocolError::NotJson(_))
    ));
    assert!(matches!(
        decode::<PlayerMessage>("  "),
        Err(ProtocolError::NotJson(_))
    ));
    // Trailing data after the message.
    let text = r#"{"type":"ack","id":1} {"type":"ack","id":2}"#;
    assert!(matches!(
        decode::<PlayerMessage>(text),
        Err(ProtocolError::NotJson(_))
    ));
}

#[test]
fn duplicate_and_missing_fields_are_refused() {
    for text in [
        r#"{"type":"ack","id":1,"id":2}"#,
        r#"{"type":"ack"}"#,
        r#"{"type":"alert_shown","alert_id":"x"}"#,
        r#"{"type":"hello","protocol":1}"#,
    ] {
        assert!(
            matches!(
                decode::<PlayerMessage>(text),
                Err(ProtocolError::Invalid { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn oversized_frames_are_refused_unread() {
    let big = format!(
        r#"{{"type":"error","message":"{}"}}"#,
        "ä".repeat(MAX_MESSAGE_BYTES / 2)
    );
    assert_eq!(
        decode::<ServerMessage>(&big),
        Err(ProtocolError::TooLarge(big.len()))
    );
    let fits = format!(
        r#"{{"type":"error","message":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES - 40)
    );
    assert!(decode::<ServerMessage>(&fits).is_ok());
}

/// Every node of a JSON tree, by path.
fn paths(v: &Value) -> Vec<Vec<PathStep>> {
    let mut out = Vec::new();
    fn walk(v: &Value, here: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
        out.push(here.clone());
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    here.push(PathStep::Key(k.clone()));
                    walk(child, here, out);
                    here.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    here.push(PathStep::Index(i));
                    walk(child, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    walk(v, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn node_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// A value of another JSON kind than `v`.
fn other_kind(v: &Value) -> Value {
    match v {
        Value::Number(_) => json!("12"),
        Value::String(_) => json!(12),
        Value::Bool(_) => json!("true"),
        Value::Array(_) => json!(7),
        Value::Object(_) => json!("{}"),
        Value::Null => json!(1),
    }
}

/// Every frame with one field of the wrong type, and with an extra field in
/// one object, at every depth.
fn check_mutations<T: DeserializeOwned + Tagged + Debug>(frame: &str) {
    let original: Value = serde_json::from_str(frame).unwrap();
    for path in paths(&original) {
        if path.is_empty() || matches!(path.as_slice(), [PathStep::Key(k)] if k == "type") {
            continue;
        }
        let mut v = original.clone();
        let node = node_mut(&mut v, &path);
        *node = other_kind(node);
        let text = v.to_string();
        let result = decode::<T>(&text);
        assert!(
            matches!(result, Err(ProtocolError::Invalid { .. })),
            "wrong type at {path:?} accepted: {text} -> {result:?}"
        );
    }
    for path in paths(&original) {
        let mut v = original.clone();
        if let Value::Object(map) = node_mut(&mut v, &path) {
            map.insert("unbekanntes_feld".into(), json!(true));
            let text = v.to_string();
            let result = decode::<T>(&text);
            assert!(
                matches!(result, Err(ProtocolError::Invalid { .. })),
                "extra field at {path:?} accepted: {text} -> {result:?}"
            );
        }
    }
}

#[test]
fn wrong_field_types_and_extra_fields_are_refused() {
    for m in player_samples() {
        check_mutations::<PlayerMessage>(&encode(&m));
    }
    for m in server_samples() {
        check_mutations::<ServerMessage>(&encode(&m));
    }
}

#[test]
fn out_of_range_values_are_refused() {
    for text in [
        r#"{"type":"ack","id":-1}"#,
        r#"{"type":"ack","id":1.5}"#,
        r#"{"type":"ack","id":18446744073709551616}"#,
        r#"{"type":"hello","protocol":65536,"player_version":"x"}"#,
        r#"{"type":"alert_shown","alert_id":"x","at":"2026-13-01T00:00:00Z"}"#,
        r#"{"type":"alert_shown","alert_id":"x","at":"gestern"}"#,
    ] {
        assert!(
            matches!(
                decode::<PlayerMessage>(text),
                Err(ProtocolError::Invalid { .. })
            ),
            "{text}"
        );
    }
    let bad_ars = encode(&ServerMessage::AlertStart {
        id: 1,
        alert: alert(),
    })
    .replace("051620016016", "05162");
    assert!(matches!(
        decode::<ServerMessage>(&bad_ars),
        Err(ProtocolError::Invalid { .. })
    ));
}

// ---------------------------------------------------------------------------
// Generated messages and garbage
// ---------------------------------------------------------------------------

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zäöüß \"\\\\/\u{2028}\u{0}-\u{1f}]{0,20}"
    ]
}

/// A finite `f32` as a player measures it (two decimals).
fn measurement() -> impl Strategy<Value = f32> {
    (-100_000i32..100_000).prop_map(|c| c as f32 / 100.0)
}

fn player_message() -> impl Strategy<Value = PlayerMessage> {
    prop_oneof![
        (
            any::<u16>(),
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            any::<Option<u64>>()
        )
            .prop_map(
                |(protocol, player_version, token, device_id, manifest_version)| {
                    PlayerMessage::Hello(Hello {
                        protocol,
                        player_version,
                        token,
                        device_id,
                        manifest_version,
                    })
                }
            ),
        (
            any::<[u64; 5]>(),
            proptest::option::of(measurement()),
            measurement(),
            proptest::collection::vec((text(), any::<i64>()), 0..3),
            proptest::collection::vec(text(), 0..3)
        )
            .prop_map(|(n, cpu_temp_c, fps, now_playing, problems)| {
                PlayerMessage::Heartbeat(Health {
                    uptime_s: n[0],
                    cpu_temp_c,
                    mem_used_bytes: n[1],
                    mem_total_bytes: n[2],
                    disk_free_bytes: n[3],
                    disk_total_bytes: n[4],
                    fps,
                    now_playing: now_playing
                        .into_iter()
                        .map(|(zone, i)| NowPlaying {
                            zone,
                            item: ItemId(i),
                        })
                        .collect(),
                    cache: CacheState {
                        assets_ready: n[0] as u32,
                        assets_missing: n[1] as u32,
                        bytes: n[2],
                    },
                    manifest_version: (n[3] % 2 == 0).then_some(n[4]),
                    problems,
                })
            }),
        any::<u64>().prop_map(|id| PlayerMessage::Ack { id }),
        (
            any::<u64>(),
            proptest::collection::vec(
                (
                    any::<i64>(),
                    text(),
                    any::<Option<i64>>(),
                    instant(),
                    any::<u32>()
                ),
                0..4
            )
        )
            .prop_map(|(batch, records)| PlayerMessage::ProofOfPlay {
                batch,
                records: records
                    .into_iter()
                    .map(
                        |(item, zone, schedule, started_at, duration_ms)| PlayRecord {
                            item: ItemId(item),
                            zone,
                            schedule: schedule.map(ScheduleId),
                            started_at,
                            duration_ms,
                        }
                    )
                    .collect(),
            }),
        (text(), instant()).prop_map(|(alert_id, at)| PlayerMessage::AlertShown { alert_id, at }),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (any::<u16>(), any::<i64>(), instant(), any::<u32>()).prop_map(
            |(protocol, d, server_time, heartbeat_interval_s)| {
                ServerMessage::Welcome {
                    protocol,
                    display_id: DisplayId(d),
                    server_time,
                    heartbeat_interval_s,
                }
            }
        ),
        (text(), instant())
            .prop_map(|(code, expires_at)| ServerMessage::PairingCode { code, expires_at }),
        (any::<i64>(), text()).prop_map(|(d, token)| ServerMessage::Adopted {
            display_id: DisplayId(d),
            token
        }),
        (0usize..4, text()).prop_map(|(r, message)| ServerMessage::Refused {
            reason: [
                RefusalReason::UnsupportedProtocol,
                RefusalReason::UnknownToken,
                RefusalReason::Revoked,
                RefusalReason::NoHello
            ][r],
            message,
        }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(id, version)| ServerMessage::ManifestUpdate { id, version }),
        proptest::collection::vec((text(), -10_000i32..10_000, instant()), 0..3).prop_map(
            |readings| {
                ServerMessage::LiveData(LiveData::Sensors {
                    readings: readings
                        .into_iter()
                        .map(|(station, v, measured_at)| SensorReading {
                            station,
                            quantity: Quantity::No2,
                            value: f64::from(v) / 10.0,
                            measured_at,
                            trend: Some(Trend::Falling),
                            class: Some(AirQualityClass::SehrSchlecht),
                            stale: false,
                        })
                        .collect(),
                })
            }
        ),
        (
            text(),
            instant(),
            proptest::collection::vec(
                (
                    text(),
                    text(),
                    instant(),
                    proptest::option::of(instant()),
                    any::<bool>()
                ),
                0..3
            )
        )
            .prop_map(|(stop_id, as_of, deps)| ServerMessage::LiveData(
                LiveData::Departures {
                    stop_id,
                    as_of,
                    alerts: Vec::new(),
                    departures: deps
                        .into_iter()
                        .map(
                            |(line, destination, planned, expected, cancelled)| Departure {
                                line,
                                destination,
                                planned,
                                expected,
                                cancelled,
                                platform: None,
                                occupancy: Some(Occupancy::Full),
                            }
                        )
                        .collect(),
                }
            )),
        (any::<u64>(), text(), text(), instant()).prop_map(
            |(id, headline, area_description, sent)| {
                ServerMessage::AlertStart {
                    id,
                    alert: Alert {
                        headline,
                        area_description,
                        sent,
                        status: AlertStatus::Exercise,
                        ..alert()
                    },
                }
            }
        ),
        (any::<u64>(), text())
            .prop_map(|(id, alert_id)| ServerMessage::AlertCancel { id, alert_id }),
        any::<u64>().prop_map(|id| ServerMessage::ScreenshotRequest { id }),
        any::<u64>().prop_map(|batch| ServerMessage::PlaysAccepted { batch }),
        text().prop_map(|message| ServerMessage::Error { message }),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn generated_player_messages_round_trip(m in player_message()) {
        let text = encode(&m);
        prop_assert_eq!(decode::<PlayerMessage>(&text), Ok(m));
    }

    #[test]
    fn generated_server_messages_round_trip(m in server_message()) {
        let text = encode(&m);
        prop_assert_eq!(decode::<ServerMessage>(&text), Ok(m));
    }

    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(decode::<PlayerMessage>(&text).is_err());
        prop_assert!(decode::<ServerMessage>(&text).is_err());
    }

    /// Text close to a message: JSON punctuation, known tags and field names
    /// (but no numbers and no `readings`, so no valid message can come out).
    #[test]
    fn near_miss_text_is_refused(
        body in r#"(\{|\}|\[|\]|"|:|,| |type|ack|hello|id|live_data|kind|sensors|-|null|true|\\u00e4){0,40}"#,
    ) {
        let text = format!(r#"{{"type":{body}"#);
        prop_assert!(decode::<PlayerMessage>(&text).is_err(), "{}", text);
        prop_assert!(decode::<ServerMessage>(&text).is_err(), "{}", text);
        let _ = decode::<PlayerMessage>(&body);
        let _ = decode::<ServerMessage>(&body);
    }

    /// A valid frame with a random slice cut out is an error or, when the cut
    /// happens to leave a valid message, one that round-trips: never a panic.
    #[test]
    fn damaged_frames_never_panic(m in server_message(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let frame = encode(&m);
        let cuts: Vec<usize> = frame.char_indices().map(|(i, _)| i).chain([frame.len()]).collect();
        let (x, y) = (a.get(&cuts), b.get(&cuts));
        let (from, to) = (*x.min(y), *x.max(y));
        let damaged = format!("{}{}", &frame[..from], &frame[to..]);
        if let Ok(decoded) = decode::<ServerMessage>(&damaged) {
            prop_assert_eq!(decode::<ServerMessage>(&encode(&decoded)), Ok(decoded));
        }
    }
}

#[test]
fn location_round_trips_through_json() {
    let loc = kaarst_location();
    let text = serde_json::to_string(&loc).unwrap();
    assert_eq!(
        serde_json::from_str::<content::model::Location>(&text).unwrap(),
        loc
    );
}
