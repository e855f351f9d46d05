//! A display's own console pages in a real browser against the real server:
//! the page sends a browser without a session to the login and gets it back;
//! staff add a night window in the form and the display has it (read back
//! through the JSON API), a window without length is refused with the
//! server's words beside the form and nothing is stored, and the dashboard
//! says the display has night mode. The log view shows what the display
//! forwarded through the player's own endpoint, newest first, in the town's
//! time, filtered by severity, a message with markup as text; a display
//! without messages says so. A viewer sees the night windows but cannot
//! change them. Pages pass the accessibility checker; screenshots land in
//! `target/web-artifacts/`.

use super::{T, provisioned_display, start};
use reqwest::StatusCode;
use serde_json::json;
use system_tests::ADMIN_PASSWORD;
use system_tests::browser::Browser;

/// A line with markup, as a board could log it (the journal holds whatever
/// a process writes): it must reach the page as text.
const INJECTION: &str = "<img src=x onerror=\"window.injected=1\"><b>fett</b> & mehr";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_set_night_mode_and_read_a_displays_log() {
    let (server, api) = start().await;
    let base = server.base_url();
    let (display, token) = provisioned_display(&api, "Rathausplatz Kaarst").await;
    let quiet = api
        .create_display(&system_tests::api::display_json("Spielplatz Driesch"))
        .await
        .unwrap();
    // Forwarded the way the player does it: its token, one batch, oldest
    // first. 03:04:05Z and 03:05:00Z are 04:04:05 and 04:05:00 in Kaarst.
    let resp = system_tests::api::http_client()
        .post(format!("{base}/api/player/logs"))
        .bearer_auth(&token)
        .json(&json!([
            { "at": "2026-11-22T03:04:05Z", "priority": 4, "source": "kernel",
              "message": "EXT4-fs (mmcblk0p3): warning: mounting fs with errors" },
            { "at": "2026-11-22T03:05:00Z", "priority": 3, "source": "player",
              "message": INJECTION },
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let browser = Browser::start().await.unwrap();
    let page = format!("/konsole/bildschirme/{display}");
    // No session: to the login, which comes back to the display.
    browser.goto(&format!("{base}{page}")).await.unwrap();
    let url = browser.url().await.unwrap();
    assert!(
        url.ends_with(&format!("/konsole/anmelden?next={page}")),
        "{url}"
    );
    browser
        .log_in(
            "admin",
            ADMIN_PASSWORD,
            &format!("location.pathname === '{page}' && document.querySelectorAll('#facts dd').length > 0"),
        )
        .await
        .unwrap();
    assert_eq!(
        browser.title().await.unwrap(),
        "Rathausplatz Kaarst – Bildschirm – Steuerung der Stadtbildschirme"
    );
    let summary = browser.find("#night-summary").await.unwrap();
    assert_eq!(
        summary.text().await.unwrap(),
        "Keine Nachtruhe: der Bildschirm ist immer an."
    );
    assert!(
        browser
            .find_all("#night-windows li.night-window")
            .await
            .unwrap()
            .is_empty()
    );

    // A window through the form: Monday to Friday, 23:00 to 05:30.
    browser
        .find("#night-add")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let checked = browser
        .execute(
            "return [...document.querySelectorAll('#night-windows input[type=checkbox]')].filter(i => i.checked).map(i => i.value);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        checked,
        json!(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    );
    browser
        .find("#night-1-Sat")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find("#night-1-Sun")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    super::web_schedule::set_value(&browser, "#night-1-start", "23:00").await;
    super::web_schedule::set_value(&browser, "#night-1-end", "05:30").await;
    browser
        .assert_accessible("display (night form)")
        .await
        .unwrap();
    browser
        .find("#night-save")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('night-done').textContent === 'Nachtruhe gespeichert.'",
            T,
            "the night window saved",
        )
        .await
        .unwrap();
    let night = json!([{ "days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "23:00:00", "end": "05:30:00" }]);
    let stored = super::get_ok(&api, &format!("/api/displays/{display}")).await;
    assert_eq!(stored["screen_off"], night, "{stored}");
    // The rest of the display is as it was.
    assert_eq!(stored["name"], "Rathausplatz Kaarst");
    assert_eq!(stored["location"]["ars"], "051620016016");
    assert_eq!(
        summary.text().await.unwrap(),
        "Nachtruhe 23:00–05:30, Mo–Fr"
    );

    // A second window without length: the server's refusal beside the form,
    // on the window it names, and nothing stored.
    browser
        .find("#night-add")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    super::web_schedule::set_value(&browser, "#night-2-start", "12:00").await;
    super::web_schedule::set_value(&browser, "#night-2-end", "12:00").await;
    browser
        .find("#night-save")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let refusal = browser
        .wait_until(
            "document.getElementById('night-error').textContent",
            T,
            "the refusal",
        )
        .await
        .unwrap();
    let refusal = refusal.as_str().unwrap();
    assert!(
        refusal.starts_with("Nicht gespeichert: ")
            && refusal.contains("screen_off[1]")
            && refusal.contains("no length"),
        "{refusal}"
    );
    let marked = browser
        .execute(
            "return [document.getElementById('night-2-start').getAttribute('aria-invalid'), \
                     document.getElementById('night-1-start').getAttribute('aria-invalid'), \
                     document.activeElement.id, \
                     document.getElementById('night-error').closest('form').id];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(marked, json!(["true", null, "night-2-start", "night-form"]));
    browser
        .assert_accessible("display (refused)")
        .await
        .unwrap();
    browser
        .save_screenshot("display-night-refused-desktop")
        .await
        .unwrap();
    let stored = super::get_ok(&api, &format!("/api/displays/{display}")).await;
    assert_eq!(stored["screen_off"], night, "{stored}");
    // Removed again, the rest saves.
    browser
        .find("#night-windows li[data-window='1'] button[data-remove]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        browser
            .find_all("#night-windows li.night-window")
            .await
            .unwrap()
            .len(),
        1
    );

    // The dashboard says so, and its name link leads back here.
    browser.goto(&format!("{base}/konsole")).await.unwrap();
    let row = browser
        .wait_until(
            &format!("document.querySelector('#displays tr[data-display=\"{display}\"] .night')?.textContent"),
            T,
            "the night mode on the dashboard",
        )
        .await
        .unwrap();
    assert_eq!(row, json!("Nachtruhe 23:00–05:30, Mo–Fr"));
    assert!(
        browser
            .find_all(&format!("#displays tr[data-display=\"{quiet}\"] .night"))
            .await
            .unwrap()
            .is_empty()
    );
    browser
        .find(&format!("#displays tr[data-display=\"{display}\"] a.name"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            &format!("location.pathname === '{page}' && document.querySelectorAll('#night-windows li.night-window').length === 1"),
            T,
            "the display page from the dashboard",
        )
        .await
        .unwrap();
    browser.assert_accessible("display").await.unwrap();
    browser.assert_self_contained("display").await.unwrap();
    browser.save_screenshot("display-desktop").await.unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    browser.assert_accessible("display (phone)").await.unwrap();
    browser.save_screenshot("display-phone").await.unwrap();
    browser.set_window_size(1280, 900).await.unwrap();

    // The log, newest first, in Kaarst's time; the markup is text.
    browser
        .find("#logs-link")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#logs tr').length === 2",
            T,
            "both forwarded lines",
        )
        .await
        .unwrap();
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('#logs tr')].map(r => [...r.cells].map(c => c.textContent));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        json!([
            ["22.11.2026, 04:05:00", "Fehler", "player", INJECTION],
            [
                "22.11.2026, 04:04:05",
                "Warnung",
                "kernel",
                "EXT4-fs (mmcblk0p3): warning: mounting fs with errors"
            ],
        ])
    );
    let injected = browser
        .execute(
            "return [document.querySelectorAll('#logs img, #logs b').length, window.injected ?? null];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!([0, null]));
    browser.assert_accessible("display log").await.unwrap();
    browser.assert_self_contained("display log").await.unwrap();
    browser
        .save_screenshot("display-log-desktop")
        .await
        .unwrap();

    // Errors and worse only: the server filters, the address keeps the choice.
    super::web_schedule::set_value(&browser, "#max-priority", "3").await;
    browser
        .wait_until(
            "document.querySelectorAll('#logs tr').length === 1 \
             && document.querySelector('#logs tr').dataset.priority === '3'",
            T,
            "only the error",
        )
        .await
        .unwrap();
    assert!(browser.url().await.unwrap().ends_with("?max_priority=3"));

    // A display that forwarded nothing says so.
    browser
        .goto(&format!("{base}/konsole/bildschirme/{quiet}/meldungen"))
        .await
        .unwrap();
    let empty = browser
        .wait_until(
            "!document.getElementById('logs-empty').hidden && document.getElementById('logs-table').hidden \
             && document.getElementById('logs-empty').textContent",
            T,
            "the empty state",
        )
        .await
        .unwrap();
    assert_eq!(empty, json!("Keine Meldungen."));
    browser
        .assert_accessible("display log (empty)")
        .await
        .unwrap();

    // A display that does not exist.
    browser
        .goto(&format!("{base}/konsole/bildschirme/999999"))
        .await
        .unwrap();
    let text = browser
        .execute("return document.body.textContent;", vec![])
        .await
        .unwrap();
    assert_eq!(text, json!("no such display"));

    browser.assert_no_script_errors().await.unwrap();

    // A viewer sees the windows, without the means to change them.
    browser
        .switch_to_viewer(
            &api,
            &format!("{base}{page}"),
            &format!("location.pathname === '{page}' && document.querySelectorAll('#night-windows li.night-window').length === 1"),
        )
        .await
        .unwrap();
    let readonly = browser
        .execute(
            "return [!document.getElementById('night-readonly').hidden, \
                     document.getElementById('night-buttons').hidden, \
                     [...document.querySelectorAll('#night-windows input')].every(i => i.disabled), \
                     document.getElementById('night-summary').textContent];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        readonly,
        json!([true, true, true, "Nachtruhe 23:00–05:30, Mo–Fr"])
    );
    browser.assert_accessible("display (viewer)").await.unwrap();
    browser.assert_no_script_errors().await.unwrap();
}
