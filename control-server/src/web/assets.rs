//! `/static/{name}`: the pages' stylesheet and scripts, embedded in the binary so
//! a page needs nothing from anywhere else and an update replaces them together.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// (name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "site.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/site.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/common.js"),
    ),
    (
        "player.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/player.js"),
    ),
    (
        "tv.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/tv.js"),
    ),
    (
        "archive.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/archive.js"),
    ),
    (
        "recording.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/recording.js"),
    ),
    (
        "staff.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/staff.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/login.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/dashboard.js"),
    ),
    (
        "alerts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/alerts.js"),
    ),
    (
        "alerts.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/alerts.css"),
    ),
    (
        "council-room.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/council-room.js"),
    ),
    (
        "council-room.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/council-room.css"),
    ),
    (
        "feed-health.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/feed-health.js"),
    ),
    (
        "users.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/users.js"),
    ),
    (
        "audit.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/audit.js"),
    ),
    (
        "display-preview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/display-preview.js"),
    ),
    (
        "library.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/library.js"),
    ),
    (
        "library.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/library.css"),
    ),
    (
        "display.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/display.js"),
    ),
    (
        "night-mode.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/night-mode.js"),
    ),
    (
        "night-editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/night-editor.js"),
    ),
    (
        "display-logs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/display-logs.js"),
    ),
    (
        "display.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/display.css"),
    ),
    (
        "releases.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/releases.js"),
    ),
    (
        "release-upload.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/release-upload.js"),
    ),
    (
        "releases.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/releases.css"),
    ),
    (
        "schedule-editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/schedule-editor.js"),
    ),
    (
        "schedule-editor.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/schedule-editor.css"),
    ),
];

/// Entity tags by name, computed once: browsers revalidate cheaply after an update.
fn etags() -> &'static Vec<String> {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, bytes)| format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..16]))
            .collect()
    })
}

pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let (_, mime, bytes) = FILES[i];
    let etag = &etags()[i];
    let cache = [
        (
            header::ETAG,
            HeaderValue::from_str(etag).expect("hex is ASCII"),
        ),
        // Short: a server update reaches open pages within minutes, and the
        // entity tag keeps the revalidation to a 304.
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::FILES;

    /// The output-escaping rule of `web/mod.rs`: scripts put data into the
    /// DOM as text and attributes only, never parsed as HTML.
    #[test]
    fn no_script_parses_html() {
        for (name, _, bytes) in FILES.iter().filter(|f| f.0.ends_with(".js")) {
            let text = std::str::from_utf8(bytes).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!text.contains(sink), "{name} uses {sink}");
            }
        }
    }
}
