//! The alert console (`/konsole/warnungen`) in a real browser against the real
//! control server, with a simulated player online: the admin composes an alert
//! for the display's district in the form and sees it awaiting approval; the
//! page (and the API) refuse to let the author approve it; a second publisher,
//! whose console is in English, approves it; the player receives it, confirms
//! it is on screen, and the page's receipt for that display turns to "shown"
//! without a reload; cancelling it reaches the player. An incoming CAP alert
//! can be taken over into the form as a template. The page passes the
//! accessibility checker on desktop and phone; screenshots land in
//! `target/web-artifacts/`.

use super::{T, online, provisioned_display, start};
use content::protocol::ServerMessage;
use reqwest::StatusCode;
use serde_json::json;
use system_tests::ADMIN_PASSWORD;
use system_tests::alert_path::cap_document;
use system_tests::api::KAARST_DISTRICT;
use system_tests::browser::Browser;

const SECOND: &str = "pruefer";
const SECOND_PASSWORD: &str = "zweite Person prüft";
const HEADLINE: &str = "Großbrand in Kaarst-Büttgen";

/// Fills the login form the console redirected to; waits to be back on the alerts page.
async fn log_in(browser: &Browser, user: &str, password: &str) {
    let url = browser.url().await.unwrap();
    assert!(
        url.ends_with("/konsole/anmelden?next=/konsole/warnungen"),
        "{url}"
    );
    browser
        .log_in(
            user,
            password,
            "location.pathname === '/konsole/warnungen' \
             && document.querySelectorAll('#districts input').length > 0",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_approve_by_a_second_person_watch_receipts_and_cancel() {
    let (server, api) = start().await;
    let base = server.base_url();
    let (status, body) = api
        .post(
            "/api/users",
            &json!({ "username": SECOND, "password": SECOND_PASSWORD, "role": "publisher", "language": "en" }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (display, token) = provisioned_display(&api, "Rathausplatz Kaarst").await;
    let (mut player, _) = online(&server, &token, display).await;

    let browser = Browser::start().await.unwrap();
    browser
        .goto(&format!("{base}/konsole/warnungen"))
        .await
        .unwrap();
    log_in(&browser, "admin", ADMIN_PASSWORD).await;

    // Without an area the form says so in the alert region and sends nothing.
    browser
        .find("#headline")
        .await
        .unwrap()
        .send_keys(HEADLINE)
        .await
        .unwrap();
    browser
        .find("#instruction")
        .await
        .unwrap()
        .send_keys("Fenster und Türen schließen.")
        .await
        .unwrap();
    browser
        .find("#submit")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let refusal = browser
        .wait_until(
            "document.getElementById('status').textContent",
            T,
            "the missing-area message",
        )
        .await
        .unwrap();
    assert!(refusal.as_str().unwrap().contains("Gebiet"), "{refusal}");

    // The display's district, chosen by keyboard-reachable checkbox, reaches it.
    browser
        .find(&format!("#districts input[value='{KAARST_DISTRICT}']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let reach = browser.find("#reach").await.unwrap().text().await.unwrap();
    assert_eq!(reach, "Erreicht 1 von 1 Bildschirm.");
    browser
        .execute("document.getElementById('map').scrollIntoView();", vec![])
        .await
        .unwrap();
    browser.save_screenshot("alerts-area").await.unwrap();
    browser
        .find("#submit")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let id = browser
        .wait_until(
            "document.querySelector('#alerts li.alert[data-state=\"pending\"]')?.dataset.alert",
            T,
            "the new alert awaiting approval",
        )
        .await
        .unwrap();
    let id = id.as_str().unwrap().to_owned();
    let item = format!("#alerts li[data-alert='{id}']");
    let text = browser.find(&item).await.unwrap().text().await.unwrap();
    assert!(text.contains(HEADLINE), "{text}");
    assert!(text.contains("Wartet auf Freigabe"), "{text}");
    // The author gets no approve button but the reason, and the API agrees.
    assert!(
        browser
            .find_all(&format!("{item} [data-action='approve']"))
            .await
            .unwrap()
            .is_empty()
    );
    let own = browser
        .find(&format!("{item} .own"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(own.contains("zweite Person"), "{own}");
    let (status, body) = api
        .post(&format!("/api/alerts/{id}/approve"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    browser
        .wait_until(
            &format!("document.querySelector(\"{item} .receipt-summary\")?.textContent"),
            T,
            "the displays the pending alert will reach",
        )
        .await
        .unwrap();

    browser.assert_accessible("alerts").await.unwrap();
    browser.save_screenshot("alerts-desktop").await.unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    browser.save_screenshot("alerts-phone").await.unwrap();
    browser.assert_accessible("alerts (phone)").await.unwrap();
    browser.set_window_size(1280, 900).await.unwrap();

    // The second publisher approves it, in the English console.
    browser.log_out().await.unwrap();
    browser
        .goto(&format!("{base}/konsole/warnungen"))
        .await
        .unwrap();
    log_in(&browser, SECOND, SECOND_PASSWORD).await;
    let approve = browser
        .wait_for(&format!("{item} [data-action='approve']"), T)
        .await
        .unwrap();
    assert_eq!(approve.text().await.unwrap(), "Approve and send");
    // Survives only if the receipts below arrive without a page load.
    browser
        .execute("window.stillThisPage = true;", vec![])
        .await
        .unwrap();
    approve.click().await.unwrap();

    let received = player
        .wait_for(T, "the alert", |m| match m {
            ServerMessage::AlertStart { alert, .. } => Some(alert.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(received.id, id);
    assert_eq!(received.headline, HEADLINE);
    player.alert_shown(&id).await.unwrap();
    let receipt = format!("{item} tr[data-receipt='{display}']");
    browser
        .wait_until(
            &format!(
                "window.stillThisPage === true \
                 && document.querySelector(\"{item}\")?.dataset.state === 'active' \
                 && document.querySelector(\"{receipt}\")?.dataset.state === 'shown'"
            ),
            T,
            "the display's receipt turning to shown, live",
        )
        .await
        .unwrap();
    let text = browser.find(&item).await.unwrap().text().await.unwrap();
    assert!(text.contains(SECOND), "approver named: {text}");
    assert!(
        text.contains("Received by 1 of 1 display, shown by 1."),
        "{text}"
    );
    browser.save_screenshot("alerts-receipts").await.unwrap();

    // Cancelling takes it off the screen.
    browser
        .find(&format!("{item} [data-action='cancel']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let cancelled = player
        .wait_for(T, "the cancel", |m| match m {
            ServerMessage::AlertCancel { alert_id, .. } => Some(alert_id.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(cancelled, id);
    browser
        .wait_until(
            &format!("document.querySelector(\"{item}\")?.dataset.state === 'cancelled'"),
            T,
            "the alert shown as cancelled",
        )
        .await
        .unwrap();
    let done = browser.find("#done").await.unwrap().text().await.unwrap();
    assert!(done.contains("is cancelled"), "{done}");

    // An incoming CAP alert is live without approval; "use as template"
    // starts a new staff alert from it (the API has no take-over of its own).
    let sent = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let resp = api
        .http
        .post(api.url("/api/cap"))
        .bearer_auth(&api.token)
        .header("content-type", "application/cap+xml")
        .body(cap_document("web-alerts-cap-1", &sent, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let official = "#alerts li[data-alert='web-alerts-cap-1']";
    browser
        .wait_for(&format!("{official} [data-action='take-over']"), T)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let form = browser
        .wait_until(
            "!document.getElementById('taken-over').hidden \
             && [document.getElementById('headline').value, \
                 document.getElementById('reach').textContent, \
                 document.activeElement.id]",
            T,
            "the form filled from the CAP alert",
        )
        .await
        .unwrap();
    assert_eq!(
        form,
        json!([
            "Großbrand in Kaarst: Fenster und Türen schließen",
            "Reaches 1 of 1 display.",
            "headline"
        ])
    );
    let source = browser.find(official).await.unwrap().text().await.unwrap();
    assert!(source.contains("CAP (admin)"), "{source}");

    // Script errors and policy violations; the failed loads are the
    // redirects to the login the test walks through.
    browser.assert_no_script_errors().await.unwrap();
}
