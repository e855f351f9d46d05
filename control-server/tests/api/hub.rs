use crate::common::*;
use content::protocol::{PlayRecord, PlayerMessage, RefusalReason, ServerMessage};
use content::{ItemId, ScheduleId};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_versions_and_tokens_are_refused() {
    let server = TestServer::start().await;
    let (_, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;

    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some(&token), 99).await;
    match p.next().await {
        Some(ServerMessage::Refused { reason, message }) => {
            assert_eq!(reason, RefusalReason::UnsupportedProtocol);
            assert!(message.contains("99"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        p.next().await.is_none(),
        "the server hangs up after refusing"
    );

    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some("forged-token"), content::protocol::PROTOCOL_VERSION)
        .await;
    assert!(matches!(
        p.next().await,
        Some(ServerMessage::Refused {
            reason: RefusalReason::UnknownToken,
            ..
        })
    ));

    let mut p = WsPlayer::connect(&server).await;
    p.send_text(r#"{"type":"heartbeat"}"#).await;
    assert!(matches!(
        p.next().await,
        Some(ServerMessage::Refused {
            reason: RefusalReason::NoHello,
            ..
        })
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_an_error_and_the_connection_survives() {
    let server = TestServer::start().await;
    let (_, token) = provisioned_display(&server, "Büttgen Rathausplatz").await;
    let mut p = WsPlayer::online(&server, &token).await;
    for garbage in [
        "not json",
        r#"{"type":"self_destruct"}"#,
        r#"{"type":"ack","id":"x"}"#,
        "{}",
    ] {
        p.send_text(garbage).await;
        let message = p
            .expect(|m| {
                if let ServerMessage::Error { message } = m {
                    Some(message)
                } else {
                    None
                }
            })
            .await;
        assert!(!message.is_empty());
    }
    // Still connected: a proof-of-play batch is accepted, twice (idempotent).
    let record = PlayRecord {
        item: ItemId(1),
        zone: "main".into(),
        schedule: Some(ScheduleId(1)),
        started_at: chrono::Utc::now(),
        duration_ms: 10_000,
    };
    for _ in 0..2 {
        p.send(&PlayerMessage::ProofOfPlay {
            batch: 7,
            records: vec![record.clone()],
        })
        .await;
        let batch = p
            .expect(|m| {
                if let ServerMessage::PlaysAccepted { batch } = m {
                    Some(batch)
                } else {
                    None
                }
            })
            .await;
        assert_eq!(batch, 7);
    }
    let n: i64 = server
        .state
        .db
        .call(|c| Ok(c.query_row("SELECT COUNT(*) FROM proof_of_play", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(n, 1, "a re-sent batch is stored once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_changes_push_a_new_manifest_version() {
    let server = TestServer::start().await;
    let (id, token) = provisioned_display(&server, "Vorst St. Eustachiusplatz").await;
    let (_, other_token) = provisioned_display(&server, "Driesch Spielplatz").await;
    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some(&token), content::protocol::PROTOCOL_VERSION)
        .await;
    let first = p
        .expect(|m| {
            if let ServerMessage::ManifestUpdate { version, .. } = m {
                Some(version)
            } else {
                None
            }
        })
        .await;
    let mut other = WsPlayer::connect(&server).await;
    other
        .hello(Some(&other_token), content::protocol::PROTOCOL_VERSION)
        .await;
    other
        .expect(|m| matches!(m, ServerMessage::ManifestUpdate { .. }).then_some(()))
        .await;

    let (_, item) = server
        .call(
            Method::POST,
            "/api/items",
            Some(json!({ "name": "Hinweis", "duration_s": 10, "content": { "type": "clock" } })),
        )
        .await;
    let schedule = json!({ "name": "nur Vorst", "targets": [{ "kind": "display", "value": id }], "entries": [{ "item": item["id"] }] });
    let (status, _) = server
        .call(Method::POST, "/api/schedules", Some(schedule))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (msg_id, version) = p
        .expect(|m| {
            if let ServerMessage::ManifestUpdate { id, version } = m {
                Some((id, version))
            } else {
                None
            }
        })
        .await;
    assert!(version > first);
    p.send(&PlayerMessage::Ack { id: msg_id }).await;

    // The manifest over HTTP carries that version and plays the item; 304 once current.
    let resp = server
        .http
        .get(server.url("/api/player/manifest"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, manifest) = decode(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(manifest["version"], version);
    assert_eq!(manifest["items"][0]["name"], "Hinweis");
    let resp = server
        .http
        .get(server.url(&format!("/api/player/manifest?since={version}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // The other display was not touched: its next message is the heartbeat-free
    // silence, so ask it something that answers and check nothing came first.
    other.send_text("nonsense").await;
    match other.next().await {
        Some(ServerMessage::Error { .. }) => {}
        m => panic!("display outside the schedule's targets got {m:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_adopts_a_new_player() {
    let server = TestServer::start().await;
    let mut p = WsPlayer::connect(&server).await;
    p.hello(None, content::protocol::PROTOCOL_VERSION).await;
    let code = p
        .expect(|m| {
            if let ServerMessage::PairingCode { code, .. } = m {
                Some(code)
            } else {
                None
            }
        })
        .await;
    assert_eq!(code.len(), 6);

    let (status, body) = server
        .call(
            Method::POST,
            "/api/displays/adopt",
            Some(json!({ "code": "000000x", "display": display_json("x") })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let (status, body) = server
        .call(
            Method::POST,
            "/api/displays/adopt",
            Some(json!({ "code": spaced, "display": display_json("Holzhütten Lindenplatz") })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (display_id, token) = p
        .expect(|m| {
            if let ServerMessage::Adopted { display_id, token } = m {
                Some((display_id, token))
            } else {
                None
            }
        })
        .await;
    assert_eq!(display_id.0, body["display_id"].as_i64().unwrap());

    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some(&token), content::protocol::PROTOCOL_VERSION)
        .await;
    let welcomed = p
        .expect(|m| {
            if let ServerMessage::Welcome { display_id, .. } = m {
                Some(display_id)
            } else {
                None
            }
        })
        .await;
    assert_eq!(welcomed, display_id);
    let (_, view) = server
        .call(
            Method::GET,
            &format!("/api/displays/{}", display_id.0),
            None,
        )
        .await;
    assert_eq!(view["adopted"], true);

    // Revoking cuts it off, with the reason, and refuses it from then on.
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/displays/{}/revoke", display_id.0),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reason = p
        .expect(|m| {
            if let ServerMessage::Refused { reason, .. } = m {
                Some(reason)
            } else {
                None
            }
        })
        .await;
    assert_eq!(reason, RefusalReason::Revoked);
    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some(&token), content::protocol::PROTOCOL_VERSION)
        .await;
    assert!(matches!(
        p.next().await,
        Some(ServerMessage::Refused {
            reason: RefusalReason::Revoked,
            ..
        })
    ));
    let resp = server
        .http
        .get(server.url("/api/player/manifest"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_show_up_as_health() {
    let server = TestServer::start().await;
    let (id, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;
    let mut p = WsPlayer::online(&server, &token).await;
    let health = content::protocol::Health {
        uptime_s: 42,
        fps: 30.0,
        cpu_temp_c: Some(51.5),
        ..Default::default()
    };
    p.send(&PlayerMessage::Heartbeat(health)).await;
    // Heartbeats have no reply; poll the API until the status shows it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, view) = server
            .call(Method::GET, &format!("/api/displays/{id}"), None)
            .await;
        if view["health"]["uptime_s"] == 42 {
            assert_eq!(view["online"], true);
            assert_eq!(view["health"]["cpu_temp_c"], 51.5);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "heartbeat never showed: {view}"
        );
        tokio::task::yield_now().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_refresh_announces_to_every_display() {
    let server = TestServer::start().await;
    let (_, token) = provisioned_display(&server, "Kaarst Rathausplatz").await;
    let mut p = WsPlayer::connect(&server).await;
    p.hello(Some(&token), content::protocol::PROTOCOL_VERSION)
        .await;
    let before = p
        .expect(|m| {
            if let ServerMessage::ManifestUpdate { version, .. } = m {
                Some(version)
            } else {
                None
            }
        })
        .await;
    let version = control_server::manifests::refresh_all(&server.state)
        .await
        .unwrap();
    assert!(version > before);
    let got = p
        .expect(|m| {
            if let ServerMessage::ManifestUpdate { version, .. } = m {
                Some(version)
            } else {
                None
            }
        })
        .await;
    assert_eq!(got, version);
    server.stop().await;
}
