//! The public council-TV pages in a real browser (Debian's headless Chromium)
//! against the real control server and the real broadcaster on test sources:
//! a citizen opens `/tv`, the session goes live and plays (`currentTime`
//! advances) with the right agenda item beside it, the closed item's title never
//! reaches the page; after the session the archive finds it by an agenda item,
//! and its page opens at a chapter and plays from there. Every page passes the
//! accessibility checker and loads nothing from elsewhere; screenshots at desktop and phone widths are saved
//! under `target/web-artifacts/`.

use super::council::{
    MEDIA, SECRET, archived_recording, command, config_for, create_meeting, issue_token,
    start_server, wait_connected, wait_status,
};
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::json;
use system_tests::BroadcasterProcess;
use system_tests::browser::{Browser, VIDEO_LOADED, VIDEO_PLAYING};

/// Checks the page, saves it at desktop and at phone width.
async fn check_page(browser: &Browser, name: &str) {
    browser.assert_self_contained(name).await.unwrap();
    browser.assert_accessible(name).await.unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
    browser
        .save_screenshot(&format!("{name}-desktop"))
        .await
        .unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    browser
        .save_screenshot(&format!("{name}-phone"))
        .await
        .unwrap();
    browser
        .assert_accessible(&format!("{name} (phone)"))
        .await
        .unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
}

/// The video's position now and, after it played on, later: it must advance.
async fn assert_plays(browser: &Browser, what: &str) -> f64 {
    let first = browser
        .wait_until(VIDEO_PLAYING, MEDIA, &format!("{what}: the video playing"))
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    browser
        .wait_until(
            &format!("document.getElementById('video').currentTime > {first} + 2"),
            MEDIA,
            &format!("{what}: currentTime advancing past {first} + 2 s"),
        )
        .await
        .unwrap();
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_watch_the_session_live_and_open_it_in_the_archive_at_a_chapter() {
    let (server, api) = start_server().await;
    let base = server.base_url();
    let (bid, token) = issue_token(&api, "Ratssaal").await;
    let _broadcaster = BroadcasterProcess::start(&config_for(&server, &token));
    wait_connected(&api, bid).await;
    let (id, items) = create_meeting(&api).await;
    let browser = Browser::start().await.unwrap();

    // Nothing live: the page says so (our meeting began "now", so none is next).
    browser.goto(&format!("{base}/tv")).await.unwrap();
    browser
        .wait_until(
            "document.getElementById('offair').textContent.includes('Zurzeit wird keine Sitzung')",
            MEDIA,
            "the off-air notice",
        )
        .await
        .unwrap();
    check_page(&browser, "tv-off-air").await;

    // Live: the page picks the stream up by itself and plays it.
    command(&api, id, "start", json!({ "start_item_id": items[0] })).await;
    wait_status(&api, bid, "the broadcaster live", |s| s["state"] == "live").await;
    assert_plays(&browser, "live").await;
    let now = browser.find("#now").await.unwrap().text().await.unwrap();
    assert!(now.contains("1 Eröffnung der Sitzung"), "{now}");
    let agenda = browser.find("#agenda").await.unwrap().text().await.unwrap();
    assert!(agenda.contains("Haushaltssatzung 2027"), "{agenda}");
    assert!(agenda.contains("Nichtöffentlicher Teil"), "{agenda}");

    command(&api, id, "next", json!({})).await;
    browser
        .wait_until(
            "document.getElementById('now').textContent.includes('Haushaltssatzung 2027') \
             && document.querySelector('#agenda li.current').textContent.includes('Haushalt')",
            MEDIA,
            "the second item as the current one",
        )
        .await
        .unwrap();
    check_page(&browser, "tv-live").await;
    // Playing still, after the item changed.
    assert_plays(&browser, "live after next").await;
    let page_text = browser
        .execute("return document.documentElement.outerHTML;", vec![])
        .await
        .unwrap();
    assert!(!page_text.as_str().unwrap().contains(SECRET));

    // The session ends; its recording is in the archive.
    command(&api, id, "stop", json!({})).await;
    let recording = archived_recording(&api, id).await;
    let rid = recording["id"].as_i64().unwrap();
    let chapter = recording["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "2 Haushaltssatzung 2027")
        .cloned()
        .unwrap_or_else(|| panic!("no chapter for item 2: {recording}"));
    let at = chapter["start_s"].as_f64().unwrap();

    // The archive finds it by an agenda item, never by the closed one's title.
    browser.goto(&format!("{base}/archiv")).await.unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#results .result').length >= 1",
            MEDIA,
            "the archive list",
        )
        .await
        .unwrap();
    check_page(&browser, "archive").await;
    let search = browser.find("#q").await.unwrap();
    search.send_keys("Haushalt").await.unwrap();
    browser
        .find("#search button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            &format!("document.querySelector('#results a[href=\"/archiv/{rid}\"]')"),
            MEDIA,
            "the search result",
        )
        .await
        .unwrap();
    search.clear().await.unwrap();
    search.send_keys("Grundstück").await.unwrap();
    browser
        .find("#search button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#results .result').length === 0 \
             && document.getElementById('status').textContent.length > 0",
            MEDIA,
            "no result for the closed item",
        )
        .await
        .unwrap();

    // The deep link opens the recording at the chapter and plays from there.
    browser
        .goto(&format!("{base}/archiv/{rid}?t={}", at.floor()))
        .await
        .unwrap();
    // Opened there, paused (browsers allow no sound before a gesture); the
    // keyboard's "k" plays, as on the big video sites.
    let opened = browser
        .wait_until(VIDEO_LOADED, MEDIA, "the recording loaded at the chapter")
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert_opened_at(opened, at);
    browser
        .find("body")
        .await
        .unwrap()
        .send_keys("k")
        .await
        .unwrap();
    let from = assert_plays(&browser, "the recording").await;
    assert!(from >= at.floor() - 0.5, "played from {from} s");
    let chapters = browser.find_all("#chapters button.chapter").await.unwrap();
    assert_eq!(chapters.len(), 2, "public item chapters as buttons");
    let title = browser.find("#title").await.unwrap().text().await.unwrap();
    assert_eq!(title, "Sitzung des Rates der Stadt Kaarst");
    check_page(&browser, "recording").await;
    // A chapter button seeks there.
    chapters[0].click().await.unwrap();
    browser
        .wait_until(
            &format!("document.getElementById('video').currentTime < {at}"),
            MEDIA,
            "the jump back to the first chapter",
        )
        .await
        .unwrap();
    assert_plays(&browser, "after a chapter jump").await;

    // Script errors and policy violations; failed loads the test caused on
    // purpose (a wrong password, a display without a screenshot) are answered
    // by the page itself.
    browser.assert_no_script_errors().await.unwrap();

    // A recording that is not (or not publicly) there is a 404, not an empty page.
    for path in ["/archiv/999999", "/embed/999999"] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND, "{path}");
    }

    // Only the embed page may be framed by other sites.
    let client = reqwest::Client::new();
    for (path, framing) in [
        (format!("/embed/{rid}"), "frame-ancestors *"),
        ("/tv".to_owned(), "frame-ancestors 'none'"),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains(framing), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
    }
}

/// The same pages in Debian's Firefox ESR (headless, over Marionette): the
/// live session plays through our MSE player, and a recording opens at a
/// chapter and plays from there. (Safari takes the native-HLS path, which no
/// browser here can test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_plays_the_live_session_and_a_recording_at_a_chapter() {
    use system_tests::firefox::Firefox;
    let (server, api) = start_server().await;
    let base = server.base_url();
    let (bid, token) = issue_token(&api, "Ratssaal").await;
    let _broadcaster = BroadcasterProcess::start(&config_for(&server, &token));
    wait_connected(&api, bid).await;
    let (id, items) = create_meeting(&api).await;
    command(&api, id, "start", json!({ "start_item_id": items[0] })).await;
    wait_status(&api, bid, "the broadcaster live", |s| s["state"] == "live").await;

    let mut firefox = Firefox::start().unwrap();
    firefox.goto(&format!("{base}/tv")).unwrap();
    let at = firefox
        .wait_until(VIDEO_PLAYING, MEDIA, "the live picture playing")
        .unwrap()
        .as_f64()
        .unwrap();
    firefox
        .wait_until(
            &format!(
                "document.getElementById('video').currentTime > {at} + 2 \
                 && document.getElementById('now').textContent.includes('1 Eröffnung der Sitzung')"
            ),
            MEDIA,
            "the live picture advancing at item 1",
        )
        .unwrap();
    // Item 2 runs a few seconds (as the page shows it), so its chapter has
    // something to play.
    command(&api, id, "next", json!({})).await;
    let at = firefox
        .wait_until(VIDEO_PLAYING, MEDIA, "the live picture playing")
        .unwrap()
        .as_f64()
        .unwrap();
    firefox
        .wait_until(
            &format!(
                "document.getElementById('now').textContent.includes('2 Haushaltssatzung 2027') \
                 && document.getElementById('video').currentTime > {at} + 4"
            ),
            MEDIA,
            "item 2 on the page, and four more seconds of it",
        )
        .unwrap();
    command(&api, id, "stop", json!({})).await;
    let recording = archived_recording(&api, id).await;
    let rid = recording["id"].as_i64().unwrap();
    let chapter = recording["chapters"][1]["start_s"].as_f64().unwrap();

    firefox
        .goto(&format!("{base}/archiv/{rid}?t={}", chapter.floor()))
        .unwrap();
    let opened = firefox
        .wait_until(VIDEO_LOADED, MEDIA, "the recording loaded at the chapter")
        .unwrap()
        .as_f64()
        .unwrap();
    assert_opened_at(opened, chapter);
    firefox
        .execute("document.getElementById('video').play(); return true;")
        .unwrap();
    firefox
        .wait_until(
            &format!("document.getElementById('video').currentTime > {opened} + 1.5"),
            MEDIA,
            "the recording playing on",
        )
        .unwrap();
}

/// A deep link `?t=` to a chapter starting at `chapter` s opened the video
/// there (the link carries whole seconds).
fn assert_opened_at(opened: f64, chapter: f64) {
    assert!(
        (opened - chapter.floor()).abs() < 0.5,
        "opened at {opened} s, the link said {} s",
        chapter.floor()
    );
}
