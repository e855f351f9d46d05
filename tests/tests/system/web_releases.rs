//! The console's player-versions page in a real browser against the real
//! server, started with the release key (`--release-key`, the public key a
//! kiosk image would carry): an admin reads in the intro which key the
//! server checks against, uploads a player binary with the line
//! `player-release sign` prints for it (signed here with a real ed25519 key
//! over `content::release::statement`, the bytes the player verifies), sees
//! it listed as checked, and assigns it to one display, which the JSON API
//! then names. A line whose signature was damaged, a line signed for another
//! binary, and a line signed with another key are refused by the server and
//! its words appear in the form, on the field concerned; nothing more is
//! stored. A viewer sees the releases without the forms (the API lets only
//! admins upload and assign). Pages pass the accessibility checker;
//! screenshots land in `target/web-artifacts/`.

use super::web_schedule::set_value;
use super::{T, get_ok, provisioned_display, start_with};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _};
use serde_json::{Value, json};
use sha2::Digest as _;
use system_tests::browser::Browser;
use system_tests::{ADMIN_PASSWORD, ServerOptions};

/// What `player-release sign --key … --version {version} {binary}` prints.
fn signed_line(key: &SigningKey, version: &str, binary: &[u8]) -> Value {
    let sha256 = hex::encode(sha2::Sha256::digest(binary));
    let statement = content::release::statement(version, &sha256, binary.len() as u64);
    json!({
        "version": version,
        "sha256": sha256,
        "size": binary.len(),
        "signature": hex::encode(key.sign(&statement).to_bytes()),
    })
}

/// Chooses `path` in the file picker (replacing an earlier choice) and
/// pastes `line`, then sends the form.
async fn upload_in_form(browser: &Browser, path: &std::path::Path, line: &str) {
    browser
        .execute(
            "document.getElementById('release-file').value = '';",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find("#release-file")
        .await
        .unwrap()
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    set_value(browser, "#release-line", line).await;
    browser
        .find("#upload-send")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The form's refusal, once shown, and which fields it marked.
async fn refusal(browser: &Browser) -> (String, Value) {
    let text = browser
        .wait_until(
            "document.getElementById('upload-form').getAttribute('aria-busy') === 'false' \
             && document.getElementById('upload-error').textContent",
            T,
            "the refusal in the upload form",
        )
        .await
        .unwrap();
    let marked = browser
        .execute(
            "return [...document.querySelectorAll('#upload-form [aria-invalid=true]')].map(f => f.id);",
            vec![],
        )
        .await
        .unwrap();
    (text.as_str().unwrap().to_owned(), marked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_uploads_and_assigns_a_signed_player_release() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let files = tempfile::tempdir().unwrap();
    // As `player-release keygen --public` writes it.
    let key_file = files.path().join("update-key.pub");
    std::fs::write(
        &key_file,
        format!("# player release public key\n{public}\n"),
    )
    .unwrap();
    let (server, api) = start_with(ServerOptions {
        args: vec!["--release-key".into(), key_file.display().to_string()],
        env: Vec::new(),
    })
    .await;
    let base = server.base_url();
    let (markt, _) = provisioned_display(&api, "Marktplatz Kaarst").await;
    let (rathaus, _) = provisioned_display(&api, "Rathausplatz Kaarst").await;

    let binary = b"\x7fELF player 2.0.0 for aarch64".repeat(2000);
    let player = files.path().join("player");
    std::fs::write(&player, &binary).unwrap();
    let other = files.path().join("player-other");
    std::fs::write(&other, b"\x7fELF some other build").unwrap();
    let line = signed_line(&key, "2.0.0", &binary);

    let browser = Browser::start().await.unwrap();
    let page = "/konsole/versionen";
    browser.goto(&format!("{base}{page}")).await.unwrap();
    browser
        .log_in(
            "admin",
            ADMIN_PASSWORD,
            &format!(
                "location.pathname === '{page}' && !document.getElementById('releases-empty').hidden \
                 && document.querySelectorAll('#release-displays tr').length === 2"
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        browser.title().await.unwrap(),
        "Player-Versionen – Steuerung der Stadtbildschirme"
    );
    let nav = browser
        .execute(
            "return document.querySelector('header nav a[aria-current=page]')?.getAttribute('href');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(nav, json!(page));
    // The intro names the key the server checks against.
    let intro = browser
        .execute(
            "return document.getElementById('releases-intro').textContent;",
            vec![],
        )
        .await
        .unwrap();
    let intro = intro.as_str().unwrap();
    assert!(
        intro.contains(&format!(
            "die Signatur mit dem Freigabe-Schlüssel {}…",
            &public[..16]
        )),
        "{intro}"
    );
    browser.assert_accessible("releases (empty)").await.unwrap();

    // The upload, watched for its busy state (set and cleared again).
    browser
        .execute(
            "window.busy = []; new MutationObserver(() => window.busy.push( \
                 document.getElementById('upload-form').getAttribute('aria-busy'))) \
             .observe(document.getElementById('upload-form'), { attributes: true, attributeFilter: ['aria-busy'] });",
            vec![],
        )
        .await
        .unwrap();
    upload_in_form(&browser, &player, &line.to_string()).await;
    let done = browser
        .wait_until(
            "document.querySelector('#releases tr[data-version=\"2.0.0\"]') \
             && document.getElementById('upload-done').textContent",
            T,
            "the release uploaded and listed",
        )
        .await
        .unwrap();
    assert_eq!(done, json!("Version 2.0.0 hochgeladen."));
    assert_eq!(
        browser
            .execute("return window.busy;", vec![])
            .await
            .unwrap(),
        json!(["true", "false"])
    );
    let row = browser
        .execute(
            "return [...document.querySelector('#releases tr[data-version=\"2.0.0\"]').cells].map(c => c.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let sha = line["sha256"].as_str().unwrap();
    let row: Vec<String> = serde_json::from_value(row).unwrap();
    assert_eq!(row[0], "2.0.0");
    assert_eq!(row[1], "56,6 KiB", "{row:?}");
    assert!(row[2].ends_with(" von admin"), "{row:?}");
    assert_eq!(row[3], format!("{}…", &sha[..12]));
    assert_eq!(row[4..], ["geprüft", "–", "–"]);
    // The form is empty again for the next one.
    let cleared = browser
        .execute(
            "return [document.getElementById('release-file').files.length, \
                     document.getElementById('release-version').value];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cleared, json!([0, ""]));
    // Stored as signed: the signature the browser passed on is the one that
    // verifies against the public key a kiosk image would carry.
    let releases = get_ok(&api, "/api/releases").await;
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
    assert_eq!(releases[0]["sha256"], line["sha256"]);
    assert_eq!(releases[0]["size"], binary.len());
    let stored: [u8; 64] = hex::decode(releases[0]["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    key.verifying_key()
        .verify(
            &content::release::statement("2.0.0", sha, binary.len() as u64),
            &Signature::from_bytes(&stored),
        )
        .unwrap();

    // Assigned to the market square only.
    set_value(&browser, "#assign-release", "2.0.0").await;
    browser
        .find("#target-chosen")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find(&format!("#release-display-{markt}"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .assert_accessible("releases (assigning)")
        .await
        .unwrap();
    browser
        .find("#assign-save")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            &format!(
                "document.getElementById('assign-done').textContent === 'Zuweisung gespeichert.' \
                 && document.querySelector('#release-displays tr[data-display=\"{markt}\"] .told').textContent === '2.0.0 (eigene)'"
            ),
            T,
            "the assignment saved and shown",
        )
        .await
        .unwrap();
    let releases = get_ok(&api, "/api/releases").await;
    assert_eq!(releases[0]["displays"], json!([markt]), "{releases}");
    assert_eq!(releases[0]["global"], json!(false), "{releases}");
    let shown = browser
        .execute(
            &format!(
                "return [document.querySelector('#releases tr[data-version=\"2.0.0\"] .assigned').textContent, \
                         document.querySelector('#release-displays tr[data-display=\"{rathaus}\"] .told').textContent, \
                         document.getElementById('current').textContent];"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!([
            "Marktplatz Kaarst",
            "–",
            "Keine Version für alle Bildschirme zugewiesen: sie behalten, was sie haben."
        ])
    );

    // A signature damaged on its way (one digit short): the server's words,
    // on the signature field.
    let mut damaged = signed_line(&key, "2.0.1", &std::fs::read(&other).unwrap());
    let sig = damaged["signature"].as_str().unwrap().to_owned();
    damaged["signature"] = json!(sig[1..]);
    upload_in_form(&browser, &other, &damaged.to_string()).await;
    let (text, marked) = refusal(&browser).await;
    assert_eq!(
        text,
        "Nicht hochgeladen: signature must be an ed25519 signature: 128 hexadecimal digits (player-release sign writes it)"
    );
    assert_eq!(marked, json!(["release-signature"]));
    assert_eq!(
        browser
            .execute(
                "return [document.activeElement.id, document.getElementById('upload-error').closest('form').id];",
                vec![]
            )
            .await
            .unwrap(),
        json!(["release-signature", "upload-form"])
    );
    browser
        .assert_accessible("releases (refused)")
        .await
        .unwrap();
    browser
        .save_screenshot("releases-refused-desktop")
        .await
        .unwrap();

    // The line of 2.0.0 with another binary: signed for other bytes.
    upload_in_form(
        &browser,
        &other,
        &signed_line(&key, "2.0.2", &binary).to_string(),
    )
    .await;
    let (text, marked) = refusal(&browser).await;
    assert!(
        text.starts_with("Nicht hochgeladen: the binary's SHA-256 is ")
            && text.ends_with(&format!("not the {sha} that was signed")),
        "{text}"
    );
    assert_eq!(marked, json!(["release-file"]));

    // Signed with another key: the server has the image's key and says so,
    // on the signature field.
    let stray = SigningKey::from_bytes(&[8; 32]);
    upload_in_form(
        &browser,
        &other,
        &signed_line(&stray, "2.0.3", &std::fs::read(&other).unwrap()).to_string(),
    )
    .await;
    let (text, marked) = refusal(&browser).await;
    assert!(
        text.starts_with(&format!(
            "Nicht hochgeladen: signature of release 2.0.3 does not match this server's release key {}…: ",
            &public[..16]
        )) && text.ends_with("nothing was stored"),
        "{text}"
    );
    assert_eq!(marked, json!(["release-signature"]));
    let releases = get_ok(&api, "/api/releases").await;
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");

    browser.assert_accessible("releases").await.unwrap();
    browser.assert_self_contained("releases").await.unwrap();
    browser.save_screenshot("releases-desktop").await.unwrap();
    browser.set_window_size(390, 844).await.unwrap();
    // Nothing wider than a phone, the refusal's long hashes included.
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, json!(0));
    browser.assert_accessible("releases (phone)").await.unwrap();
    browser.save_screenshot("releases-phone").await.unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
    browser.assert_no_script_errors().await.unwrap();

    // A viewer sees the releases and the assignment, without the forms.
    browser
        .switch_to_viewer(
            &api,
            &format!("{base}{page}"),
            &format!(
                "location.pathname === '{page}' && document.querySelector('#release-displays tr[data-display=\"{markt}\"] .told')?.textContent === '2.0.0 (eigene)'"
            ),
        )
        .await
        .unwrap();
    let readonly = browser
        .execute(
            "return [!document.getElementById('releases-readonly').hidden, \
                     document.getElementById('upload-section').hidden, \
                     document.getElementById('assign-buttons').hidden, \
                     [...document.querySelectorAll('#assign-form input, #assign-form select')].every(i => i.disabled), \
                     document.querySelectorAll('#releases tr').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(readonly, json!([true, true, true, true, 1]));
    browser
        .assert_accessible("releases (viewer)")
        .await
        .unwrap();
    browser.assert_no_script_errors().await.unwrap();
}
