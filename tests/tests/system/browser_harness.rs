//! (f) The browser harness itself: headless Chromium through chromedriver and
//! the in-page accessibility checker, against fixed pages served here (no
//! control-server), so a broken checker cannot pass the web tests that rely
//! on it.

use super::T;
use std::time::Duration;
use system_tests::browser::{Browser, Violation};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One of each violation, on elements named by id: no lang, no title, two
/// mains, h1 then h3, an image without alt, an unlabelled field, an empty
/// button, an id used twice, a positive tabindex, #aaa text on white, and a
/// button whose focus ring is removed with nothing in its place.
const BAD: &str = r##"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<style>
  body { font: 16px sans-serif; color: #111; background: #fff; }
  #faint { color: #aaa; }
  #no-ring { outline: none; }
</style>
</head>
<body>
<main>
  <h1>Bekanntmachungen</h1>
  <h3 id="skipped">Zu tief</h3>
  <img id="no-alt" src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" width="16" height="16">
  <input id="unlabeled" type="text">
  <button id="empty"></button>
  <p id="twice">Einmal</p>
  <p id="twice">Zweimal</p>
  <a id="early" href="#x" tabindex="2">Vorgezogen</a>
  <p id="faint">Kaum lesbar</p>
  <button id="no-ring">Senden</button>
</main>
<main id="second">Noch ein Hauptbereich</main>
</body>
</html>
"##;

/// What `BAD` leaves out, and a script error: no h1, no main, an SVG image
/// without a name, a field labelled by a missing id, a link whose only
/// content is an image without alt.
const WORSE: &str = r##"<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Schlechter</title></head>
<body>
  <h2>Ohne Hauptüberschrift</h2>
  <svg id="chart" role="img" width="20" height="20"><rect width="20" height="20"/></svg>
  <input id="ghost" type="text" aria-labelledby="nowhere">
  <a id="logo-link" href="/"><img id="logo" src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" width="16" height="16"></a>
  <script>notDefinedAnywhere();</script>
</body>
</html>
"##;

/// Clean: language, title (and an icon: Chromium logs a missing favicon as
/// a console error), one main, h1 then h2, a labelled field, buttons
/// and links with text, dark text, a visible focus ring. Clicking the
/// button writes a greeting with the field's value.
const GOOD: &str = r##"<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Bürgerbüro</title>
<link rel="icon" href="data:,">
<style>
  body { font: 16px/1.4 sans-serif; color: #1a1a1a; background: #fff; margin: 2rem; }
  a { color: #0645ad; }
  button { font: inherit; color: #fff; background: #1d4f91; border: 0; padding: .5rem 1rem; }
  :focus-visible { outline: 3px solid #b3001b; outline-offset: 2px; }
</style>
</head>
<body>
<header><a href="#main">Zum Inhalt</a></header>
<main id="main">
  <h1>Bürgerbüro</h1>
  <h2>Termin</h2>
  <label for="name">Ihr Name</label>
  <input id="name" type="text" data-kind="text">
  <button id="greet" type="button">Grüßen</button>
  <p><output id="greeting" for="name"></output></p>
  <p><a href="/other">Weitere Informationen</a></p>
</main>
<script>
  document.getElementById('greet').addEventListener('click', () => {
    const name = document.getElementById('name').value;
    document.getElementById('greeting').textContent = 'Hallo, ' + name + '!';
  });
</script>
</body>
</html>
"##;

/// Serves `pages` (path, HTML) on a free port of 127.0.0.1, anything else
/// as 404, one request per connection; returns the base URL. The server
/// lives as long as the test's runtime.
async fn serve(pages: &'static [(&'static str, &'static str)]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // A connection each: Chromium opens some it sends nothing on.
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let Ok(Some(request_line)) = lines.next_line().await else {
                    return;
                };
                while let Ok(Some(header)) = lines.next_line().await {
                    if header.is_empty() {
                        break;
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/");
                let (status, body) = match pages.iter().find(|(p, _)| *p == path) {
                    Some((_, html)) => ("200 OK", *html),
                    None => ("404 Not Found", ""),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = write.write_all(response.as_bytes()).await;
                let _ = write.shutdown().await;
            });
        }
    });
    base
}

/// (rule, target) pairs, sorted, for comparing findings as a set.
fn pairs(found: &[Violation]) -> Vec<(String, String)> {
    let mut p: Vec<_> = found
        .iter()
        .map(|v| (v.rule.clone(), v.target.clone()))
        .collect();
    p.sort();
    p
}

fn expected(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<_> = list
        .iter()
        .map(|(r, t)| (r.to_string(), t.to_string()))
        .collect();
    p.sort();
    p
}

fn detail<'v>(found: &'v [Violation], rule: &str) -> &'v str {
    found
        .iter()
        .find(|v| v.rule == rule)
        .map(|v| v.detail.as_str())
        .unwrap_or_else(|| panic!("no {rule} violation in {found:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_finds_each_kind_of_violation() {
    let base = serve(&[("/bad", BAD), ("/worse", WORSE)]).await;
    let browser = Browser::start().await.unwrap();

    browser.goto(&format!("{base}/bad")).await.unwrap();
    let found = browser.accessibility().await.unwrap();
    // Exactly these: a missing rule fails, and so does a false alarm on
    // the page's other elements.
    assert_eq!(
        pairs(&found),
        expected(&[
            ("html-lang", "html"),
            ("document-title", "head"),
            ("landmark-main", "body"),
            ("heading-order", "h3#skipped"),
            ("img-alt", "img#no-alt"),
            ("label", "input#unlabeled"),
            ("name", "button#empty"),
            ("duplicate-id", "#twice"),
            ("tabindex", "a#early"),
            ("contrast", "p#faint"),
            ("focus-visible", "button#no-ring"),
        ]),
        "{found:#?}"
    );
    // #aaa on white is 2.32:1.
    assert!(
        detail(&found, "contrast").starts_with("contrast 2.32:1 (#aaaaaa on #ffffff"),
        "{found:#?}"
    );
    assert!(detail(&found, "landmark-main").starts_with("2 main landmarks"));
    let err = browser
        .assert_accessible("the bad page")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("11 accessibility violation(s)"), "{err}");
    for v in &found {
        assert!(err.contains(&v.to_string()), "{v} missing from: {err}");
    }

    browser.goto(&format!("{base}/worse")).await.unwrap();
    let found = browser.accessibility().await.unwrap();
    assert_eq!(
        pairs(&found),
        expected(&[
            ("heading-h1", "body"),
            ("landmark-main", "body"),
            ("img-alt", "svg#chart"),
            ("img-alt", "img#logo"),
            ("label", "input#ghost"),
            ("name", "a#logo-link"),
        ]),
        "{found:#?}"
    );
    assert!(
        detail(&found, "label").contains("\"nowhere\""),
        "{found:#?}"
    );
    let errors = browser.console_errors().await.unwrap();
    assert!(
        errors.iter().any(|e| e.contains("notDefinedAnywhere")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_page_passes_the_checker() {
    let base = serve(&[("/good", GOOD)]).await;
    let browser = Browser::start().await.unwrap();
    browser.goto(&format!("{base}/good")).await.unwrap();
    assert_eq!(browser.url().await.unwrap(), format!("{base}/good"));
    assert_eq!(browser.title().await.unwrap(), "Bürgerbüro");
    assert_eq!(
        browser
            .execute("return navigator.language", vec![])
            .await
            .unwrap(),
        "de-DE"
    );
    browser.assert_accessible("the good page").await.unwrap();

    // Type, click, and wait for the page's answer.
    let field = browser.find("#name").await.unwrap();
    field.send_keys("Ada").await.unwrap();
    assert_eq!(field.prop("value").await.unwrap(), "Ada");
    assert_eq!(
        field.attr("data-kind").await.unwrap().as_deref(),
        Some("text")
    );
    assert_eq!(field.attr("data-missing").await.unwrap(), None);
    browser.find("#greet").await.unwrap().click().await.unwrap();
    let greeting = browser
        .wait_until(
            "document.getElementById('greeting').textContent",
            T,
            "the greeting",
        )
        .await
        .unwrap();
    assert_eq!(greeting, "Hallo, Ada!");
    let output = browser.wait_for("output#greeting", T).await.unwrap();
    assert_eq!(output.text().await.unwrap(), "Hallo, Ada!");
    field.clear().await.unwrap();
    assert_eq!(field.prop("value").await.unwrap(), "");
    assert_eq!(
        browser
            .execute("return arguments[0].id", vec![field.as_arg()])
            .await
            .unwrap(),
        "name"
    );
    assert_eq!(
        browser
            .execute_async("arguments[arguments.length - 1](document.title)", vec![])
            .await
            .unwrap(),
        "Bürgerbüro"
    );
    assert_eq!(browser.find_all("a[href]").await.unwrap().len(), 2);
    let missing = browser.find("#nope").await.err().unwrap();
    assert!(format!("{missing:#}").contains("\"#nope\""), "{missing:#}");
    let never = browser
        .wait_until(
            "document.querySelector('#nope')",
            Duration::from_millis(200),
            "an element that never comes",
        )
        .await
        .unwrap_err();
    assert!(
        never.to_string().contains("an element that never comes"),
        "{never}"
    );

    // After a mouse click the checker still sees the focus ring (Chromium
    // shows :focus-visible on script focus only after keyboard use, unless
    // asked to).
    browser
        .assert_accessible("the good page after use")
        .await
        .unwrap();
    let errors = browser.console_errors().await.unwrap();
    assert!(errors.is_empty(), "{errors:?}");

    browser.set_window_size(1000, 700).await.unwrap();
    let path = browser
        .save_screenshot("browser-harness-good-page")
        .await
        .unwrap();
    let png = image::open(&path).unwrap();
    let inner_width = browser.execute("return innerWidth", vec![]).await.unwrap();
    assert_eq!(png.width(), 1000, "{}", path.display());
    assert_eq!(inner_width, 1000);
}
