//! (e) Refusals and malformed input on the player WebSocket.

use super::{T, online, start};
use content::protocol::{PROTOCOL_VERSION, RefusalReason, ServerMessage};
use serde_json::json;
use system_tests::SimPlayer;
use tokio_tungstenite::tungstenite::Message;

async fn refused(ws: &str, token: &str, protocol: u16) -> RefusalReason {
    let (mut player, first) = SimPlayer::try_token(ws, token, protocol).await.unwrap();
    let reason = match first {
        ServerMessage::Refused { reason, .. } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    player.expect_closed(T).await.unwrap();
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_protocol_and_forged_token_are_refused() {
    let (server, api) = start().await;
    let (_, token) = super::provisioned_display(&api, "Stadtpark").await;
    let ws = server.ws_url();
    assert_eq!(
        refused(&ws, &token, 99).await,
        RefusalReason::UnsupportedProtocol
    );
    let forged = "Zm9yZ2VkLXRva2VuLWZvcmdlZC10b2tlbi1mb3JnZWQ";
    assert_eq!(
        refused(&ws, forged, PROTOCOL_VERSION).await,
        RefusalReason::UnknownToken
    );

    // Something other than a hello first.
    let mut p = SimPlayer::connect(&ws).await.unwrap();
    p.send_raw(Message::text(r#"{"type":"ack","id":1}"#))
        .await
        .unwrap();
    match p.recv(T).await.unwrap() {
        ServerMessage::Refused { reason, .. } => assert_eq!(reason, RefusalReason::NoHello),
        other => panic!("expected no_hello, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_errors_and_revocation_cuts_the_player_off() {
    let (server, api) = start().await;
    let (id, token) = super::provisioned_display(&api, "Sporthalle").await;
    let (mut player, first) = online(&server, &token, id).await;

    let garbage = [
        Message::text("this is not JSON"),
        Message::text(r#"{"no_type":true}"#),
        Message::text(r#"{"type":"launch_missiles"}"#),
        Message::text(r#"{"type":"ack","id":"seven"}"#),
        Message::binary(vec![0u8, 159, 146, 150]),
    ];
    for g in garbage {
        let shown = format!("{g:?}");
        player.send_raw(g).await.unwrap();
        match player.recv(T).await.unwrap() {
            ServerMessage::Error { message } => assert!(!message.is_empty()),
            other => panic!("after {shown} expected an error message, got {other:?}"),
        }
    }
    // The connection survived: it still gets pushes and its acks count.
    let item = api
        .create_announcement("Hinweis", "Sporthalle", "Geschlossen")
        .await
        .unwrap();
    api.create_schedule(
        "Halle",
        json!([{ "kind": "display", "value": id }]),
        &[item],
    )
    .await
    .unwrap();
    let version = player.expect_manifest_update(T).await.unwrap();
    assert!(version > first);

    // Revocation: the connected player is told and dropped...
    let (status, body) = api
        .post(&format!("/api/displays/{id}/revoke"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "{body}");
    let (reason, _) = player.expect_refused(T).await.unwrap();
    assert_eq!(reason, RefusalReason::Revoked);
    player.expect_closed(T).await.unwrap();
    // ...and refused when it comes back.
    assert_eq!(
        refused(&server.ws_url(), &token, PROTOCOL_VERSION).await,
        RefusalReason::Revoked
    );
}
