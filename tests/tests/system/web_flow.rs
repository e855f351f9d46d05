//! The staff workflow end to end in a real browser against the real server:
//! log in, upload a picture, write an announcement with it, schedule it for a
//! group in the schedule editor, check the preview's pixels (the real player
//! binary renders them), and see the group's player receive it: its manifest
//! names the item and the picture, and the picture downloads byte for byte.

use super::web_console::{render_preview, save_announcement};
use super::web_schedule::{create_in_form, set_value};
use super::{T, grouped_display, online, start};
use reqwest::StatusCode;
use system_tests::ADMIN_PASSWORD;
use system_tests::api::{http_client, player_get};
use system_tests::browser::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_goes_from_the_browser_to_the_groups_player() {
    let (server, api) = start().await;
    let base = server.base_url();
    let (display, token) = grouped_display(&api, "Rathausplatz Kaarst", "innenstadt").await;
    let (mut player, _) = online(&server, &token, display).await;

    let files = tempfile::tempdir().unwrap();
    let picture = files.path().join("markt.png");
    image::RgbImage::from_fn(640, 360, |x, y| {
        image::Rgb([(x % 256) as u8, 120, (y % 256) as u8])
    })
    .save(&picture)
    .unwrap();

    let browser = Browser::start().await.unwrap();
    browser
        .goto(&format!("{base}/konsole/inhalte"))
        .await
        .unwrap();
    browser
        .log_in(
            "admin",
            ADMIN_PASSWORD,
            "location.pathname === '/konsole/inhalte' && document.getElementById('items').children.length > 0",
        )
        .await
        .unwrap();
    // Upload, then the announcement with the picture.
    browser
        .find("#files")
        .await
        .unwrap()
        .send_keys(picture.to_str().unwrap())
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#a-image option').length === 2",
            T,
            "the picture to choose",
        )
        .await
        .unwrap();
    browser
        .find("#a-name")
        .await
        .unwrap()
        .send_keys("Wochenmarkt")
        .await
        .unwrap();
    browser
        .find("#a-title")
        .await
        .unwrap()
        .send_keys("Wochenmarkt am Donnerstag")
        .await
        .unwrap();
    browser
        .find("#a-body")
        .await
        .unwrap()
        .send_keys("Von 8 bis 13 Uhr auf dem Rathausplatz")
        .await
        .unwrap();
    let image_sha = browser
        .execute(
            "const s = document.getElementById('a-image'); s.value = s.options[1].value; return s.value;",
            vec![],
        )
        .await
        .unwrap();
    let item = save_announcement(&browser, &api, "Wochenmarkt").await["id"]
        .as_i64()
        .unwrap();

    // Scheduled for the group, daily from early to late.
    browser
        .goto(&format!("{base}/konsole/programm?group=innenstadt"))
        .await
        .unwrap();
    browser
        .wait_until("document.body.dataset.ready", T, "the schedule editor")
        .await
        .unwrap();
    set_value(&browser, "#recurrence", "day").await;
    set_value(&browser, "#target", "g:innenstadt").await;
    create_in_form(&browser, "Markt", item, ("00:00", "23:59"), "0").await;

    // The group's player is told, and what it fetches names the item and the
    // picture, which downloads intact.
    let manifest = loop {
        player.expect_manifest_update(T).await.unwrap();
        let (status, m) = player_get(&http_client(), &base, &token, "/api/player/manifest")
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{m}");
        if m["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["id"] == item))
        {
            break m;
        }
    };
    assert!(
        manifest["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["sha256"] == image_sha),
        "{manifest}"
    );
    let sha = image_sha.as_str().unwrap();
    let got = http_client()
        .get(format!("{base}/api/player/assets/{sha}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &std::fs::read(&picture).unwrap()[..]);

    // The preview at noon today shows the card: real pixels from the player.
    let size = render_preview(&browser, &base, display, Some("12:00")).await;
    assert_eq!(size, serde_json::json!([1920, 1080]));
    let at = browser
        .execute(
            "const f = document.getElementById('preview-form'); \
             return new Date(`${f.date.value}T${f.time.value}`).toISOString();",
            vec![],
        )
        .await
        .unwrap();
    let png = api
        .raw_get(&format!(
            "/api/displays/{display}/preview.png?at={}",
            at.as_str().unwrap()
        ))
        .await
        .unwrap();
    let frame = image::load_from_memory(&png).unwrap().to_rgb8();
    // The announcement card's dark blue fills most of the frame, and the
    // picture's greens (120 in every pixel of it) are in it somewhere.
    let card = frame
        .pixels()
        .filter(|p| u16::from(p[2]) > u16::from(p[0]) + 20 && p[2] > p[1])
        .count();
    assert!(
        card > 1920 * 1080 / 3,
        "no card in the preview ({card} bluish pixels)"
    );
    let picture_pixels = frame
        .pixels()
        .filter(|p| (110..=130).contains(&p[1]) && p[0] > 150)
        .count();
    assert!(
        picture_pixels > 1000,
        "no picture in the preview ({picture_pixels} pixels)"
    );
    browser.save_screenshot("flow-preview").await.unwrap();
    browser.assert_no_script_errors().await.unwrap();
}
