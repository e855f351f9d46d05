//! The staff console in a real browser (Debian's headless Chromium) against the
//! real control server: a page without a session sends the browser to the
//! login, a wrong password is refused in words, the right one comes back to the
//! dashboard; the dashboard lists every display with its state (the offline one
//! first and marked), filters by group, and its "new screenshot" button reaches
//! the (simulated) player over the WebSocket, with the session's CSRF token.
//! The feed-health page shows a failing source with its reason. Logging out
//! ends the session. Pages pass the accessibility checker;
//! screenshots land in `target/web-artifacts/`.

use super::{T, grouped_display, online, provisioned_display, start};
use content::protocol::ServerMessage;
use reqwest::StatusCode;
use serde_json::json;
use system_tests::ADMIN_PASSWORD;
use system_tests::api::display_json;
use system_tests::browser::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_see_every_display_and_ask_one_for_a_screenshot() {
    let (server, api) = start().await;
    let base = server.base_url();
    let (square, token) = grouped_display(&api, "Rathausplatz Kaarst", "innenstadt").await;
    let offline = api
        .create_display(&display_json("Spielplatz Driesch"))
        .await
        .unwrap();
    let (mut player, _) = online(&server, &token, square).await;
    player.heartbeat(None).await.unwrap();

    let browser = Browser::start().await.unwrap();
    // No session: to the login, which remembers where we wanted to go.
    browser.goto(&format!("{base}/konsole")).await.unwrap();
    let url = browser.url().await.unwrap();
    assert!(url.ends_with("/konsole/anmelden?next=/konsole"), "{url}");
    browser.assert_accessible("login").await.unwrap();
    browser.save_screenshot("login-desktop").await.unwrap();

    browser
        .find("#username")
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    browser
        .find("#password")
        .await
        .unwrap()
        .send_keys("wrong password")
        .await
        .unwrap();
    browser
        .find("#login button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = browser
        .wait_until(
            "document.getElementById('login-error').textContent",
            T,
            "the refusal",
        )
        .await
        .unwrap();
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("wrong username or password"),
        "{error}"
    );
    browser
        .find("#password")
        .await
        .unwrap()
        .send_keys(ADMIN_PASSWORD)
        .await
        .unwrap();
    browser
        .find("#login button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "location.pathname === '/konsole' && document.querySelectorAll('#displays tr').length === 2",
            T,
            "the dashboard with both displays",
        )
        .await
        .unwrap();

    // The offline display comes first and stands out; the online one says so.
    let rows = browser.find_all("#displays tr").await.unwrap();
    assert_eq!(
        rows[0].attr("data-display").await.unwrap(),
        Some(offline.to_string())
    );
    assert_eq!(
        rows[0].attr("class").await.unwrap().as_deref(),
        Some("offline")
    );
    assert_eq!(
        rows[1].attr("class").await.unwrap().as_deref(),
        Some("online")
    );
    let summary = browser
        .find("#summary")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(summary, "1 von 2 online");
    // Both on the map, the offline one red and drawn last (on top).
    let points = browser
        .execute(
            "return [...document.querySelectorAll('#map g.point')].map(g => [g.dataset.display, g.getAttribute('class')]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        points,
        json!([
            [square.to_string(), "point on"],
            [offline.to_string(), "point off"]
        ])
    );
    browser.assert_accessible("dashboard").await.unwrap();
    browser.assert_self_contained("dashboard").await.unwrap();
    browser.save_screenshot("dashboard-desktop").await.unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    browser.save_screenshot("dashboard-phone").await.unwrap();
    browser
        .assert_accessible("dashboard (phone)")
        .await
        .unwrap();
    browser.set_window_size(1280, 900).await.unwrap();

    // The group filter.
    browser
        .execute(
            "const s = document.getElementById('group'); s.value = 'innenstadt'; \
             s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    browser
        .wait_until(
            &format!(
                "document.querySelectorAll('#displays tr').length === 1 \
                 && document.querySelector('#displays tr').dataset.display === '{square}'"
            ),
            T,
            "only the group's display",
        )
        .await
        .unwrap();

    // A fresh screenshot, asked for with one click, reaches the player.
    browser
        .find(&format!("tr[data-display='{square}'] td.shot button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    player
        .wait_for(T, "the screenshot request", |m| {
            matches!(m, ServerMessage::ScreenshotRequest { .. }).then_some(())
        })
        .await
        .unwrap();

    // Feed health: a refused GTFS upload makes the "gtfs" source fail, and the
    // page says so with the reason.
    let (status, body) = api.post("/api/transit/gtfs", &json!({})).await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    browser
        .goto(&format!("{base}/konsole/quellen"))
        .await
        .unwrap();
    let row = browser
        .wait_until(
            "document.querySelector('#feeds tr[data-feed=\"gtfs\"].offline')?.textContent",
            T,
            "the failing GTFS feed",
        )
        .await
        .unwrap();
    assert!(row.as_str().unwrap().contains("gestört"), "{row}");
    assert_eq!(
        browser
            .find("#summary")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "1 von 1 gestört"
    );
    browser.assert_accessible("feed health").await.unwrap();
    browser
        .save_screenshot("feed-health-desktop")
        .await
        .unwrap();

    // Script errors and policy violations; failed loads the test caused on
    // purpose (a wrong password, a display without a screenshot) are answered
    // by the page itself.
    browser.assert_no_script_errors().await.unwrap();

    // Logging out ends the session: the console sends us to the login again.
    browser.log_out().await.unwrap();
    browser.goto(&format!("{base}/konsole")).await.unwrap();
    let url = browser.url().await.unwrap();
    assert!(url.contains("/konsole/anmelden"), "{url}");
}

/// Opens the preview page, picks `display` (and the time of day, if given),
/// renders, and returns the rendered image's `[width, height]`.
pub(super) async fn render_preview(
    browser: &Browser,
    base: &str,
    display: i64,
    time: Option<&str>,
) -> serde_json::Value {
    browser
        .goto(&format!("{base}/konsole/vorschau"))
        .await
        .unwrap();
    browser
        .wait_until(
            &format!("document.querySelector('#display option[value=\"{display}\"]')"),
            T,
            "the display to choose",
        )
        .await
        .unwrap();
    if let Some(time) = time {
        super::web_schedule::set_value(browser, "#time", time).await;
    }
    browser
        .find("#preview-form button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Real rendering takes a moment on a software renderer.
    browser
        .wait_until(
            "(() => { const i = document.getElementById('preview'); \
              return i.complete && i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight]; })()",
            std::time::Duration::from_secs(90),
            "the rendered preview",
        )
        .await
        .unwrap()
}

/// Saves the library's announcement form; waits until the list shows `name`
/// and returns the item as stored.
pub(super) async fn save_announcement(
    browser: &Browser,
    api: &system_tests::Api,
    name: &str,
) -> serde_json::Value {
    browser
        .find("#announcement button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            &format!(
                "[...document.querySelectorAll('#items th')].some(th => th.textContent === {name:?})"
            ),
            T,
            "the announcement listed",
        )
        .await
        .unwrap();
    let (_, items) = api.get("/api/items").await.unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no item {name}: {items}"))
}

/// Logs in through the login page as `user`; waits for the dashboard.
async fn log_in(browser: &Browser, base: &str, user: &str, password: &str) {
    browser
        .goto(&format!("{base}/konsole/anmelden"))
        .await
        .unwrap();
    browser
        .log_in(user, password, "location.pathname === '/konsole'")
        .await
        .unwrap();
}

/// The admin creates an account in the users page and changes its role; the
/// audit log shows both. The new editor switches the console to English (their
/// own setting, kept for the next login) and is refused the admin's pages in
/// words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_manages_accounts_and_each_user_keeps_their_language() {
    let (server, _api) = start().await;
    let base = server.base_url();
    let browser = Browser::start().await.unwrap();
    log_in(&browser, &base, "admin", ADMIN_PASSWORD).await;

    browser
        .goto(&format!("{base}/konsole/benutzer"))
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelector('#users tr[data-user=\"admin\"]')",
            T,
            "the accounts",
        )
        .await
        .unwrap();
    browser
        .find("#new-username")
        .await
        .unwrap()
        .send_keys("redaktion")
        .await
        .unwrap();
    browser
        .find("#new-password")
        .await
        .unwrap()
        .send_keys("ein-langes-passwort")
        .await
        .unwrap();
    browser
        .execute(
            "document.getElementById('new-role').value = 'viewer';",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find("#new-user button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelector('#users tr[data-user=\"redaktion\"] select')?.value === 'viewer'",
            T,
            "the new account listed",
        )
        .await
        .unwrap();
    // Promoted to editor in place.
    browser
        .execute(
            "const s = document.querySelector('#users tr[data-user=\"redaktion\"] select'); \
             s.value = 'editor'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('done').textContent === 'Gespeichert.'",
            T,
            "the role saved",
        )
        .await
        .unwrap();
    browser.assert_accessible("users").await.unwrap();
    browser.save_screenshot("users-desktop").await.unwrap();

    browser
        .goto(&format!("{base}/konsole/protokoll"))
        .await
        .unwrap();
    let log = browser
        .wait_until(
            "document.getElementById('entries').textContent.includes('user.update') \
             && document.getElementById('entries').textContent",
            T,
            "the changes in the audit log",
        )
        .await
        .unwrap();
    assert!(log.as_str().unwrap().contains("user.create"), "{log}");
    browser.assert_accessible("audit log").await.unwrap();
    browser.save_screenshot("audit-desktop").await.unwrap();
    browser.log_out().await.unwrap();

    // The editor chooses English; it sticks to the account.
    log_in(&browser, &base, "redaktion", "ein-langes-passwort").await;
    browser
        .find("#console-lang")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.documentElement.lang === 'en' && document.querySelector('h1').textContent === 'Displays at a glance'",
            T,
            "the console in English",
        )
        .await
        .unwrap();
    browser.log_out().await.unwrap();
    log_in(&browser, &base, "redaktion", "ein-langes-passwort").await;
    assert_eq!(
        browser.find("h1").await.unwrap().text().await.unwrap(),
        "Displays at a glance"
    );
    // Not an admin: the users page says why in words.
    browser
        .goto(&format!("{base}/konsole/benutzer"))
        .await
        .unwrap();
    let refusal = browser
        .wait_until(
            "document.getElementById('status').textContent",
            T,
            "the refusal",
        )
        .await
        .unwrap();
    assert!(refusal.as_str().unwrap().contains("admin"), "{refusal}");

    browser.assert_no_script_errors().await.unwrap();
}

/// The preview page shows what a display plays at a chosen time as the
/// player itself draws it: the server runs the real player binary headless
/// (Mesa's software Vulkan), and the announcement's dark-on-light card is there
/// in the pixels at the display's resolution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_shows_a_display_as_the_player_draws_it() {
    let (server, api) = start().await;
    let base = server.base_url();
    let item = api
        .create_announcement("Markt", "Wochenmarkt", "Donnerstag auf dem Rathausplatz")
        .await
        .unwrap();
    api.create_schedule("Alle", json!([{ "kind": "all" }]), &[item])
        .await
        .unwrap();
    let (display, _) = provisioned_display(&api, "Rathausplatz Kaarst").await;

    let browser = Browser::start().await.unwrap();
    log_in(&browser, &base, "admin", ADMIN_PASSWORD).await;
    let size = render_preview(&browser, &base, display, None).await;
    assert_eq!(size, json!([1920, 1080]));
    let caption = browser
        .find("#caption")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(caption.contains("Rathausplatz Kaarst"), "{caption}");
    browser.assert_accessible("preview").await.unwrap();
    browser.assert_self_contained("preview").await.unwrap();
    browser.save_screenshot("preview-desktop").await.unwrap();

    // The same pixels straight from the API: not one flat colour (a black or
    // blank frame would be).
    let png = api
        .raw_get(&format!("/api/displays/{display}/preview.png"))
        .await
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (1920, 1080));
    let first = *image.get_pixel(0, 0);
    let differing = image.pixels().filter(|p| **p != first).count();
    assert!(
        differing > 10_000,
        "a nearly uniform frame: {differing} pixels differ"
    );

    browser.assert_no_script_errors().await.unwrap();
}

/// The content library: a picture uploaded through the file picker shows its
/// progress and then its thumbnail, a file that only claims to be a picture is
/// refused in words, and an announcement written in the form (its card preview
/// following the typing) is saved with its tags and end date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_upload_pictures_and_write_an_announcement() {
    let (server, api) = start().await;
    let base = server.base_url();
    let files = tempfile::tempdir().unwrap();
    let picture = files.path().join("marktplatz.png");
    image::RgbImage::from_fn(320, 180, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    })
    .save(&picture)
    .unwrap();
    let fake = files.path().join("kaputt.png");
    std::fs::write(&fake, b"\x89PNG\r\n\x1a\nthis is not a picture").unwrap();

    let browser = Browser::start().await.unwrap();
    log_in(&browser, &base, "admin", ADMIN_PASSWORD).await;
    browser
        .goto(&format!("{base}/konsole/inhalte"))
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('items').children.length > 0",
            T,
            "the library",
        )
        .await
        .unwrap();
    let input = browser.find("#files").await.unwrap();
    input.send_keys(picture.to_str().unwrap()).await.unwrap();
    browser
        .wait_until(
            "document.querySelector('#uploads li[data-file=\"marktplatz.png\"] progress')?.value === 100 \
             && [...document.querySelectorAll('#assets img')].some(i => i.complete && i.naturalWidth > 0)",
            T,
            "the upload done and its thumbnail shown",
        )
        .await
        .unwrap();
    input.send_keys(fake.to_str().unwrap()).await.unwrap();
    let refused = browser
        .wait_until(
            "document.querySelector('#uploads li[data-file=\"kaputt.png\"] .problem')?.textContent",
            T,
            "the refusal of the broken file",
        )
        .await
        .unwrap();
    assert!(
        refused.as_str().unwrap().starts_with("abgelehnt: "),
        "{refused}"
    );

    browser
        .find("#a-name")
        .await
        .unwrap()
        .send_keys("Markt Donnerstag")
        .await
        .unwrap();
    browser
        .find("#a-title")
        .await
        .unwrap()
        .send_keys("Wochenmarkt")
        .await
        .unwrap();
    browser
        .find("#a-body")
        .await
        .unwrap()
        .send_keys("Donnerstags von 8 bis 13 Uhr auf dem Rathausplatz")
        .await
        .unwrap();
    assert_eq!(
        browser
            .find("#card-title")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Wochenmarkt"
    );
    browser
        .find("#a-tags")
        .await
        .unwrap()
        .send_keys("markt, innenstadt")
        .await
        .unwrap();
    browser
        .execute(
            "const f = document.getElementById('a-until'); f.value = '2030-12-31T18:00'; \
             const s = document.getElementById('a-image'); s.value = s.options[1].value; \
             s.form.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .unwrap();
    browser.assert_accessible("library").await.unwrap();
    browser.assert_self_contained("library").await.unwrap();
    browser.save_screenshot("library-desktop").await.unwrap();
    let saved = save_announcement(&browser, &api, "Markt Donnerstag").await;
    assert_eq!(saved["tags"], json!(["markt", "innenstadt"]));
    assert_eq!(saved["content"]["title"], "Wochenmarkt");
    assert!(saved["content"]["image"]["sha256"].is_string(), "{saved}");
    assert!(
        saved["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2030-12-31"),
        "{saved}"
    );
    // The tag filter.
    browser
        .execute(
            "const s = document.getElementById('tag'); s.value = 'markt'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#items tr').length === 1",
            T,
            "only the tagged item",
        )
        .await
        .unwrap();

    // Approval switched on: the admin's own item is approved by its save; an
    // editor's waits, off the screens, until approved here with one click.
    browser
        .execute(
            "const s = document.getElementById('tag'); s.value = ''; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find("#approval-required")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('done').textContent === 'Freigabe ist eingeschaltet.'",
            T,
            "approval switched on",
        )
        .await
        .unwrap();
    let (status, body) = api
        .post(
            "/api/users",
            &json!({ "username": "eve", "password": "ein-langes-passwort", "role": "editor" }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let eve = system_tests::Api::login(&base, "eve", "ein-langes-passwort")
        .await
        .unwrap();
    let proposed = eve
        .create_announcement("Kirmes", "Kirmes in Büttgen", "Am Wochenende")
        .await
        .unwrap();
    browser
        .goto(&format!("{base}/konsole/inhalte"))
        .await
        .unwrap();
    let waiting = format!("#items tr[data-item=\"{proposed}\"] td.approval");
    let cell = browser
        .wait_until(
            &format!("document.querySelector('{waiting}')?.textContent"),
            T,
            "the editor's item waiting",
        )
        .await
        .unwrap();
    assert!(
        cell.as_str().unwrap().contains("wartet auf Freigabe"),
        "{cell}"
    );
    let own = browser
        .execute(
            "return [...document.querySelectorAll('#items tr')].find(r => r.textContent.includes('Markt Donnerstag')).querySelector('td.approval').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(own, json!("freigegeben von admin"));
    browser
        .find(&format!("{waiting} button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            &format!(
                "document.querySelector('{waiting}')?.textContent === 'freigegeben von admin'"
            ),
            T,
            "the item approved",
        )
        .await
        .unwrap();
    browser
        .assert_accessible("library (approval)")
        .await
        .unwrap();

    browser.assert_no_script_errors().await.unwrap();
}
