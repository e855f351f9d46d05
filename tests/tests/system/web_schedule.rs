//! The schedule editor (`/konsole/programm`) in a real browser against the real
//! control server: two weekday-morning schedules made through the form overlap,
//! and the page names the one that wins, as the server's resolver decides it;
//! an impossible daypart is refused in the server's words; a block moved and
//! resized with the keyboard, and one dragged with the pointer, change the
//! stored rule; the display's playlist on a Monday morning is the winner's.
//! The page passes the accessibility checker on desktop and phone and loads
//! nothing from elsewhere; screenshots land in `target/web-artifacts/`.

use super::{T, get_ok, provisioned_display, start};
use serde_json::{Value, json};
use system_tests::ADMIN_PASSWORD;
use system_tests::browser::Browser;

/// A Monday; 08:00 in Kaarst (CET) is 07:00 UTC.
const MONDAY: &str = "2026-11-02";
const MONDAY_8AM: &str = "2026-11-02T07:00:00Z";

const ARROW_UP: &str = "\u{E013}";
const ARROW_DOWN: &str = "\u{E015}";
const SHIFT: &str = "\u{E008}";
/// Releases the modifiers pressed so far in one key sequence.
const RELEASE: &str = "\u{E000}";
const ENTER: &str = "\u{E007}";

async fn log_in(browser: &Browser) {
    let url = browser.url().await.unwrap();
    assert!(url.contains("/konsole/anmelden?next="), "{url}");
    browser
        .log_in(
            "admin",
            ADMIN_PASSWORD,
            "location.pathname === '/konsole/programm' && document.body.dataset.ready",
        )
        .await
        .unwrap();
}

/// Sets a form control the way a person would leave it (time inputs take
/// typed digits differently per locale, so the value is set directly).
pub(super) async fn set_value(browser: &Browser, css: &str, value: &str) {
    browser
        .execute(
            "const f = document.querySelector(arguments[0]); f.value = arguments[1]; \
             f.dispatchEvent(new Event('input', { bubbles: true })); \
             f.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
}

/// Fills and submits the form; waits for the page to confirm it.
pub(super) async fn create_in_form(
    browser: &Browser,
    name: &str,
    item: i64,
    hours: (&str, &str),
    priority: &str,
) {
    let field = browser.find("#name").await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(name).await.unwrap();
    browser
        .find(&format!("#item-{item}"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    set_value(browser, "#start", hours.0).await;
    set_value(browser, "#end", hours.1).await;
    let field = browser.find("#priority").await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(priority).await.unwrap();
    browser.find("#save").await.unwrap().click().await.unwrap();
    browser
        .wait_until(
            &format!(
                "document.getElementById('done').textContent.includes({name:?}) \
                 && document.querySelectorAll('button.block').length > 0"
            ),
            T,
            &format!("the confirmation of {name}"),
        )
        .await
        .unwrap();
}

/// Scrolls the timeline's weekday mornings into view for a screenshot.
async fn show_mornings(browser: &Browser) {
    browser
        .execute(
            "document.querySelector('button.block').scrollIntoView({ block: 'center' });",
            vec![],
        )
        .await
        .unwrap();
}

/// The stored schedule called `name`.
async fn schedule_named(api: &system_tests::Api, name: &str) -> Value {
    let all = get_ok(api, "/api/schedules").await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no schedule {name}: {all}"))
        .clone()
}

/// Waits until the stored schedule's first window is `start`–`end`.
async fn wait_for_window(api: &system_tests::Api, name: &str, start: &str, end: &str) -> Value {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let s = schedule_named(api, name).await;
        let w = &s["rule"]["windows"][0];
        if w["start"] == start && w["end"] == end {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never became {start}–{end}: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_weekday_mornings_see_the_winner_and_move_blocks() {
    let (server, api) = start().await;
    let base = server.base_url();
    let item_a = api
        .create_announcement(
            "Sprechstunde",
            "Bürgersprechstunde",
            "Montags bis freitags im Rathaus.",
        )
        .await
        .unwrap();
    let item_b = api
        .create_announcement(
            "Baustelle",
            "Baustelle Neusser Straße",
            "Umleitung über die Kaiser-Karl-Straße.",
        )
        .await
        .unwrap();
    let (display, _) = provisioned_display(&api, "Rathausplatz Kaarst").await;
    let page = format!("{base}/konsole/programm?display={display}&date={MONDAY}");

    let browser = Browser::start().await.unwrap();
    browser.goto(&page).await.unwrap();
    log_in(&browser).await;
    // The login returns to the page without its query: open the Monday's week again.
    browser.goto(&page).await.unwrap();
    browser
        .wait_until("document.body.dataset.ready", T, "the editor")
        .await
        .unwrap();
    let target = browser
        .find("#target")
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        target,
        json!(format!("d:{display}")),
        "the form targets the display shown"
    );

    // Weekday mornings, Monday to Friday (the form's default days), with item A.
    create_in_form(&browser, "Morgen A", item_a, ("07:00", "10:00"), "0").await;
    let a = schedule_named(&api, "Morgen A").await;
    let a_id = a["id"].as_i64().unwrap();
    assert_eq!(
        a["targets"],
        json!([{ "kind": "display", "value": display }])
    );
    assert_eq!(
        a["rule"]["recurrence"],
        json!({ "every": "week", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "interval": 1 })
    );
    assert_eq!(
        a["rule"]["windows"],
        json!([{ "start": "07:00:00", "end": "10:00:00" }])
    );
    let blocks = browser
        .execute(
            "return [...document.querySelectorAll('button.block')].map(b => b.dataset.day)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        blocks,
        json!([
            "2026-11-02",
            "2026-11-03",
            "2026-11-04",
            "2026-11-05",
            "2026-11-06"
        ]),
        "one block on each weekday of the week shown"
    );

    // A daypart without length: the server's refusal, in words, in the alert region.
    let field = browser.find("#name").await.unwrap();
    field.send_keys("Leer").await.unwrap();
    browser
        .find(&format!("#item-{item_a}"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    set_value(&browser, "#start", "09:00").await;
    set_value(&browser, "#end", "09:00").await;
    browser.find("#save").await.unwrap().click().await.unwrap();
    let refusal = browser
        .wait_until(
            "document.querySelector('[role=alert]#status').textContent",
            T,
            "the refusal of an empty daypart",
        )
        .await
        .unwrap();
    assert!(
        refusal.as_str().unwrap().contains("has no length"),
        "{refusal}"
    );
    browser.find("#new").await.unwrap().click().await.unwrap();

    // An overlapping one with a higher priority and item B: the conflict names
    // B as the winner, and the display's resolver agrees.
    create_in_form(&browser, "Morgen B", item_b, ("08:00", "11:00"), "5").await;
    let b_id = schedule_named(&api, "Morgen B").await["id"]
        .as_i64()
        .unwrap();
    let checked = browser
        .wait_until(
            "document.querySelector('#conflicts li[data-checked=\"true\"]')?.dataset.winners",
            T,
            "the conflict checked against the playlist",
        )
        .await
        .unwrap();
    assert_eq!(checked, json!(b_id.to_string()));
    let conflict = browser
        .find("#conflicts li")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        conflict.contains("„Morgen A“ und „Morgen B“ überschneiden sich an 5 Tagen")
            && conflict.contains("Es läuft „Morgen B“ (Priorität 5 vor 0)")
            && conflict.contains("laut Wiedergabeliste"),
        "{conflict}"
    );
    let losing = browser
        .find(&format!(
            "button.block[data-schedule='{a_id}'][data-day='{MONDAY}']"
        ))
        .await
        .unwrap();
    assert!(
        losing
            .attr("class")
            .await
            .unwrap()
            .unwrap()
            .contains("loses"),
        "A's block is marked as overridden"
    );
    show_mornings(&browser).await;
    browser.save_screenshot("schedule-conflict").await.unwrap();

    // Keyboard: two quarter hours later, then the end a quarter hour earlier; Enter saves.
    losing
        .send_keys(&format!("{ARROW_DOWN}{ARROW_DOWN}"))
        .await
        .unwrap();
    let said = browser
        .find("#live")
        .await
        .unwrap()
        .prop("textContent")
        .await
        .unwrap();
    assert!(said.as_str().unwrap().contains("07:30–10:30"), "{said}");
    assert_eq!(
        schedule_named(&api, "Morgen A").await["rule"]["windows"][0]["start"],
        "07:00:00",
        "nothing is stored before Enter"
    );
    let moved = browser
        .find(&format!(
            "button.block[data-schedule='{a_id}'][data-day='{MONDAY}']"
        ))
        .await
        .unwrap();
    moved
        .send_keys(&format!("{SHIFT}{ARROW_UP}{RELEASE}{ENTER}"))
        .await
        .unwrap();
    wait_for_window(&api, "Morgen A", "07:30:00", "10:15:00").await;

    // Pointer: A's Monday block dragged an hour up; dropping saves.
    browser
        .wait_until(
            &format!("!document.querySelector(\"button.block[data-schedule='{a_id}'].dirty\")"),
            T,
            "the keyboard change saved on the page",
        )
        .await
        .unwrap();
    browser
        .execute(
            "const b = document.querySelector(arguments[0]); \
             b.scrollIntoView({ block: 'center' }); \
             const r = b.getBoundingClientRect(); \
             const hour = b.closest('.slots').clientHeight / 24; \
             const x = r.left + r.width / 2, y = r.top + 10; \
             const at = (type, dy) => b.dispatchEvent(new PointerEvent(type, { \
               bubbles: true, cancelable: true, pointerId: 1, pointerType: 'mouse', \
               isPrimary: true, button: 0, buttons: type === 'pointerup' ? 0 : 1, \
               clientX: x, clientY: y + dy })); \
             at('pointerdown', 0); at('pointermove', -hour / 2); at('pointermove', -hour); \
             at('pointerup', -hour); b.click();",
            vec![json!(format!(
                "button.block[data-schedule='{a_id}'][data-day='{MONDAY}']"
            ))],
        )
        .await
        .unwrap();
    wait_for_window(&api, "Morgen A", "06:30:00", "09:15:00").await;
    let heading = browser
        .find("#form-heading")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        heading, "Neuer Eintrag",
        "the click ending a drag does not open the form"
    );

    // The truth: on a Monday at 08:00 the display plays B's item only.
    let resolution = get_ok(
        &api,
        &format!("/api/displays/{display}/playlist?at={MONDAY_8AM}"),
    )
    .await;
    let playing: Vec<i64> = resolution["zones"]["main"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["item"].as_i64().unwrap())
        .collect();
    assert_eq!(playing, vec![item_b], "{resolution}");
    browser
        .wait_until(
            "document.querySelector('#conflicts li[data-checked=\"true\"]')?.textContent.includes('08:00–09:15')",
            T,
            "the conflict re-checked after the drag",
        )
        .await
        .unwrap();

    browser.assert_accessible("schedule editor").await.unwrap();
    browser
        .assert_self_contained("schedule editor")
        .await
        .unwrap();
    show_mornings(&browser).await;
    browser.save_screenshot("schedule-desktop").await.unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    show_mornings(&browser).await;
    browser.save_screenshot("schedule-phone").await.unwrap();
    browser
        .assert_accessible("schedule editor (phone)")
        .await
        .unwrap();
    browser.set_window_size(1280, 900).await.unwrap();

    // The refused save answered 400 on purpose; the page said so in words.
    browser.assert_no_script_errors().await.unwrap();
}
