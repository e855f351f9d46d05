//! (c) SIGTERM stops the server cleanly and keeps everything;
//! (d) SIGKILL in the middle of writes loses nothing that was acknowledged.

use super::{T, get_ok, online, start};
use content::protocol::ServerMessage;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use system_tests::api::KAARST_DISTRICT;
use system_tests::{Api, SimPlayer, eventually};
use tokio::sync::mpsc;

/// What must survive a restart, without the live fields (online, connections).
async fn snapshot(api: &Api, alert_id: &str) -> Value {
    let displays: Vec<Value> = get_ok(api, "/api/displays")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            json!({
                "id": d["id"], "name": d["name"], "location": d["location"], "adopted": d["adopted"],
                "revoked": d["revoked"], "manifest_version": d["manifest_version"],
                "acked_manifest": d["acked_manifest"], "player_version": d["player_version"],
            })
        })
        .collect();
    let mut alert = get_ok(api, &format!("/api/alerts/{alert_id}")).await;
    alert.as_object_mut().unwrap().remove("state_since");
    json!({
        "displays": displays,
        "items": get_ok(api, "/api/items").await,
        "schedules": get_ok(api, "/api/schedules").await,
        "alert": alert,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly_and_a_restart_keeps_everything() {
    let (mut server, api) = start().await;
    let (id, token) = super::provisioned_display(&api, "Bücherei").await;
    let (mut player, _) = online(&server, &token, id).await;

    let item = api
        .create_announcement("Öffnungszeiten", "Bücherei", "Mo–Fr 10–18 Uhr")
        .await
        .unwrap();
    api.create_schedule("Bücherei", json!([{ "kind": "all" }]), &[item])
        .await
        .unwrap();
    let version = player.expect_manifest_update(T).await.unwrap();
    let alert_id = api
        .send_alert("Unwetter", &[KAARST_DISTRICT])
        .await
        .unwrap();
    player
        .wait_for(T, "the alert", |m| {
            matches!(m, ServerMessage::AlertStart { .. }).then_some(())
        })
        .await
        .unwrap();
    player.alert_shown(&alert_id).await.unwrap();
    let display_path = format!("/api/displays/{id}");
    let alert_path = format!("/api/alerts/{alert_id}");
    eventually(T, "the receipts to be stored", || async {
        let d = get_ok(&api, &display_path).await;
        let a = get_ok(&api, &alert_path).await;
        Ok(
            (d["acked_manifest"] == json!(version) && a["receipts"][0]["shown_at"].is_string())
                .then_some(()),
        )
    })
    .await;
    let before = snapshot(&api, &alert_id).await;

    // A clean stop with a player connected: exit 0, and the player is let go.
    server.sigterm_and_wait();
    player.expect_closed(T).await.unwrap();

    server.restart();
    let api = Api::admin(&server.base_url())
        .await
        .expect("the admin can log in after a restart");
    let after = snapshot(&api, &alert_id).await;
    assert_eq!(after, before, "data after the restart differs");

    // The display's token still works; at its version it gets no manifest
    // update, only the alert, which is still active.
    let mut player = SimPlayer::connect(&server.ws_url()).await.unwrap();
    player
        .hello(
            content::protocol::PROTOCOL_VERSION,
            Some(&token),
            None,
            Some(version),
        )
        .await
        .unwrap();
    let welcome = player.expect_welcome(T).await.unwrap();
    assert_eq!(welcome.display_id.0, id);
    match player.recv(T).await.unwrap() {
        ServerMessage::AlertStart { alert, .. } => assert_eq!(alert.id, alert_id),
        other => panic!("expected the active alert again, got {other:?}"),
    }
    player.close().await;
    server.sigterm_and_wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_nothing_acknowledged() {
    let (mut server, api) = start().await;
    let (id, token) = super::provisioned_display(&api, "Bahnhof").await;
    let (mut player, _) = online(&server, &token, id).await;
    // The player keeps acknowledging while the writes go on.
    let acker = tokio::spawn(async move {
        while player.wait_for(T, "anything", |_| None::<()>).await.is_ok() {}
    });

    // Writes, one after the other, as fast as the server takes them: items, and
    // every third one a schedule playing it on all displays (which pushes
    // manifest updates to the player). Each 2xx is reported on the channel.
    let (tx, mut acked) = mpsc::unbounded_channel::<(&'static str, i64, String)>();
    let writer_api = api.clone();
    let writer = tokio::spawn(async move {
        for i in 0u32.. {
            let name = format!("Meldung {i}");
            let item = match writer_api
                .create_announcement(&name, "Nachricht", "Text")
                .await
            {
                Ok(item) => item,
                Err(_) => return i,
            };
            if tx.send(("item", item, name.clone())).is_err() {
                return i;
            }
            if i % 3 == 0 {
                let sname = format!("Plan {i}");
                match writer_api
                    .create_schedule(&sname, json!([{ "kind": "all" }]), &[item])
                    .await
                {
                    Ok(s) => {
                        let _ = tx.send(("schedule", s, sname));
                    }
                    Err(_) => return i,
                }
            }
        }
        unreachable!()
    });

    // Kill once a good number of writes were acknowledged.
    let mut confirmed = Vec::new();
    while confirmed.len() < 40 {
        match tokio::time::timeout(T, acked.recv()).await {
            Ok(Some(w)) => confirmed.push(w),
            _ => server.fail("the write loop stalled before the kill"),
        }
    }
    let status = server.sigkill();
    assert!(!status.success(), "SIGKILL ended the server with {status}");
    let _ = tokio::time::timeout(T, writer)
        .await
        .expect("the writer notices the dead server");
    while let Some(w) = acked.recv().await {
        confirmed.push(w);
    }
    acker.abort();

    // The database opens cleanly and holds every acknowledged write.
    server.restart();
    let api = Api::admin(&server.base_url())
        .await
        .expect("the admin can log in after SIGKILL");
    assert_eq!(get_ok(&api, "/api/health").await["status"], json!("ok"));
    let mut stored: BTreeMap<(&str, i64), String> = BTreeMap::new();
    for (kind, path) in [("item", "/api/items"), ("schedule", "/api/schedules")] {
        for v in get_ok(&api, path).await.as_array().unwrap() {
            stored.insert(
                (kind, v["id"].as_i64().unwrap()),
                v["name"].as_str().unwrap().to_owned(),
            );
        }
    }
    for (kind, id, name) in &confirmed {
        assert_eq!(
            stored.get(&(*kind, *id)),
            Some(name),
            "acknowledged {kind} {id} ({name}) is missing after SIGKILL"
        );
    }
    // The display and its token survived too.
    let (player, _) = online(&server, &token, id).await;
    player.close().await;
    server.sigterm_and_wait();
}

/// A tiny real PNG, and its SHA-256.
fn png(colour: [u8; 3]) -> (Vec<u8>, String) {
    use sha2::Digest as _;
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(32, 18, image::Rgb(colour))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    (bytes, sha)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_an_upload_leaves_no_half_file() {
    use tokio::io::AsyncWriteExt as _;
    let (mut server, api) = start().await;

    // One upload completes and is acknowledged: it must survive.
    let (kept, kept_sha) = png([0, 90, 160]);
    let resp = api
        .http
        .post(api.url("/api/assets?filename=wappen.png"))
        .bearer_auth(&api.token)
        .header("content-type", "image/png")
        .body(kept.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);

    // A second upload is half sent when the server is killed.
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let declared = 8 * 1024 * 1024;
    let head = format!(
        "POST /api/assets?filename=halb.png HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: image/png\r\nContent-Length: {declared}\r\n\r\n",
        server.addr(),
        api.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (start_of_png, _) = png([200, 0, 0]);
    stream.write_all(&start_of_png).await.unwrap();
    stream.write_all(&vec![0u8; 1024 * 1024]).await.unwrap();
    let tmp = server.data_dir().join("assets").join("tmp");
    eventually(T, "the upload's temp file to appear", || {
        let tmp = tmp.clone();
        async move { Ok((std::fs::read_dir(&tmp)?.count() > 0).then_some(())) }
    })
    .await;
    server.sigkill();
    drop(stream);

    server.restart();
    let api = Api::admin(&server.base_url())
        .await
        .expect("the database opens cleanly after SIGKILL");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "leftovers are swept at start-up"
    );
    let assets = get_ok(&api, "/api/assets").await;
    let listed: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [kept_sha.as_str()],
        "only the complete upload exists"
    );
    let got = api
        .http
        .get(api.url(&format!("/api/assets/{kept_sha}")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), reqwest::StatusCode::OK);
    assert_eq!(
        got.bytes().await.unwrap().to_vec(),
        kept,
        "the acknowledged file is intact"
    );
    server.sigterm_and_wait();
}
