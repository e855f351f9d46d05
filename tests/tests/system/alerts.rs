//! (b) An emergency alert sent bypassing approval reaches the displays in its
//! area, and their confirmations are recorded.

use super::{T, get_ok, online, start};
use content::protocol::ServerMessage;
use serde_json::{Value, json};
use system_tests::api::{KAARST_DISTRICT, display_json_at};
use system_tests::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypassed_alert_reaches_player_and_receipts_are_recorded() {
    let (server, api) = start().await;
    let (kaarst, token) = super::provisioned_display(&api, "Kaarst Rathausplatz").await;
    // A display outside the area (Düsseldorf) must not get it.
    let mut elsewhere = display_json_at("Düsseldorf Hbf", 51.2199, 6.7942);
    elsewhere["location"]["ars"] = json!("051110000000");
    let other = api.create_display(&elsewhere).await.unwrap();
    let other_token = api.display_token(other).await.unwrap();

    let (mut player, _) = online(&server, &token, kaarst).await;
    let (mut outsider, _) = online(&server, &other_token, other).await;

    let alert_id = api
        .send_alert("Großbrand: Fenster und Türen schließen", &[KAARST_DISTRICT])
        .await
        .unwrap();
    let got = player
        .wait_for(T, "the alert", |m| match m {
            ServerMessage::AlertStart { alert, .. } => Some(alert.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(got.id, alert_id);
    assert_eq!(got.headline, "Großbrand: Fenster und Türen schließen");
    // wait_for acknowledged it; now the player says it is on screen.
    player.alert_shown(&alert_id).await.unwrap();

    let path = format!("/api/alerts/{alert_id}");
    let receipt = eventually(T, "received_at and shown_at of the display", || async {
        let detail = get_ok(&api, &path).await;
        let r = detail["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["display_id"] == json!(kaarst))
            .cloned()
            .unwrap_or(Value::Null);
        Ok((r["received_at"].is_string() && r["shown_at"].is_string()).then_some(r))
    })
    .await;
    assert_eq!(receipt["display_name"], json!("Kaarst Rathausplatz"));
    let detail = get_ok(&api, &path).await;
    assert_eq!(detail["state"], json!("active"));
    assert_eq!(detail["bypass"], json!(true));
    let listed: Vec<&Value> = detail["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["display_id"])
        .collect();
    assert_eq!(
        listed,
        [&json!(kaarst)],
        "only the display inside the area is targeted"
    );

    // Frames arrive in order per connection: if the outsider's next message is
    // this schedule's update, the alert never came before it.
    let item = api
        .create_announcement("Hinweis", "Test", "Text")
        .await
        .unwrap();
    api.create_schedule("Alle", json!([{ "kind": "all" }]), &[item])
        .await
        .unwrap();
    match outsider.recv(T).await.unwrap() {
        ServerMessage::ManifestUpdate { .. } => {}
        other => panic!("the display outside the area got {other:?}"),
    }
    player.close().await;
    outsider.close().await;
}
