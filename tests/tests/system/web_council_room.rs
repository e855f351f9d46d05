//! The council control room in a real browser against the real server and the
//! real broadcaster on test sources: staff start the broadcast, see the
//! programme picture play and the encoder's status, go to an item, show a
//! speaker's lower third, switch the closed part on and off, and stop; each
//! click reaches the public live state (and the broadcaster), a citizen's
//! browser plays the session on the public page at the item put on air, and
//! the session lands in the archive.

use super::council::{
    MEDIA, config_for, create_meeting, issue_token, live_state, start_server, wait_connected,
    wait_status,
};
use reqwest::StatusCode;
use serde_json::json;
use system_tests::browser::{Browser, VIDEO_PLAYING};
use system_tests::{ADMIN_PASSWORD, Api, BroadcasterProcess, eventually};

async fn public_state_until(api: &Api, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
    eventually(MEDIA, what, || async {
        let s = live_state(api).await;
        anyhow::ensure!(ok(&s), "live state: {s}");
        Ok(Some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_run_a_council_session_from_the_control_room() {
    let (server, api) = start_server().await;
    let base = server.base_url();
    let (bid, token) = issue_token(&api, "Ratssaal").await;
    let _broadcaster = BroadcasterProcess::start(&config_for(&server, &token));
    wait_connected(&api, bid).await;
    let (id, _) = create_meeting(&api).await;
    let (status, body) = api
        .post(
            &format!("/api/council/meetings/{id}/speakers"),
            &json!({ "name": "Ursula Baum", "role": "Bürgermeisterin" }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let browser = Browser::start().await.unwrap();
    browser.goto(&format!("{base}/konsole/rat")).await.unwrap();
    // Back where we wanted to go, with our meeting chosen and ready to start.
    browser
        .log_in(
            "admin",
            ADMIN_PASSWORD,
            "location.pathname === '/konsole/rat' && !document.getElementById('start').disabled \
             && document.querySelectorAll('#agenda li').length === 3",
        )
        .await
        .unwrap();
    browser
        .assert_accessible("council room (planned)")
        .await
        .unwrap();

    browser.find("#start").await.unwrap().click().await.unwrap();
    public_state_until(&api, "the session live", |s| s["live"] == true).await;
    wait_status(&api, bid, "the broadcaster live", |s| s["state"] == "live").await;
    // The programme picture plays, and the encoder's status is on the page.
    let at = browser
        .wait_until(VIDEO_PLAYING, MEDIA, "the programme picture playing")
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    browser
        .wait_until(
            &format!("document.getElementById('video').currentTime > {at} + 1"),
            MEDIA,
            "the picture advancing",
        )
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('encoder').textContent.includes('kbit/s')",
            MEDIA,
            "the encoder's bitrate",
        )
        .await
        .unwrap();

    // Go to the second item by its own button.
    browser
        .find("#agenda li:nth-child(2) button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    public_state_until(&api, "item 2 on air", |s| s["item"]["number"] == "2").await;
    // A citizen's browser meanwhile: the public page plays the session and
    // names the item the control room put on air.
    let citizen = Browser::start().await.unwrap();
    citizen.goto(&format!("{base}/tv")).await.unwrap();
    let at = citizen
        .wait_until(VIDEO_PLAYING, MEDIA, "the public page playing")
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    citizen
        .wait_until(
            &format!(
                "document.getElementById('video').currentTime > {at} + 1 \
                 && document.getElementById('now').textContent.includes('2 Haushaltssatzung 2027')"
            ),
            MEDIA,
            "the public page advancing, at item 2",
        )
        .await
        .unwrap();
    citizen.assert_no_script_errors().await.unwrap();
    drop(citizen);
    // The speaker's lower third.
    browser
        .execute(
            "const s = document.getElementById('speaker'); s.value = s.options[1].value;",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find("#speaker-show")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    public_state_until(&api, "the speaker shown", |s| {
        s["speaker"]["name"] == "Ursula Baum"
    })
    .await;
    // Closed part on, then off again.
    browser
        .find("#closed")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    public_state_until(&api, "the closed part", |s| s["closed"] == true).await;
    browser
        .wait_until(
            "document.getElementById('closed').getAttribute('aria-pressed') === 'true'",
            MEDIA,
            "the closed-part button pressed",
        )
        .await
        .unwrap();
    browser
        .assert_accessible("council room (live)")
        .await
        .unwrap();
    browser
        .save_screenshot("council-room-desktop")
        .await
        .unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    browser.save_screenshot("council-room-phone").await.unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
    browser
        .find("#closed")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    public_state_until(&api, "the closed part over", |s| {
        s["closed"] == false && s["item"]["number"] == "2"
    })
    .await;

    browser.find("#stop").await.unwrap().click().await.unwrap();
    public_state_until(&api, "the session over", |s| s["live"] == false).await;
    eventually(MEDIA, "the recording in the archive", || async {
        let (status, list) = api.get("/api/council/archive").await?;
        anyhow::ensure!(status == StatusCode::OK, "{list}");
        Ok(list
            .as_array()
            .and_then(|l| l.iter().find(|e| e["meeting"]["id"] == id))
            .map(|_| ()))
    })
    .await;

    browser.assert_no_script_errors().await.unwrap();
}
