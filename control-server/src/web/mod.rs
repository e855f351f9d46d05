//! The web pages: the public council TV, archive and open-data pages (and,
//! growing, the staff console).
//!
//! Decisions, written down here because every page follows them:
//! - A page is a body template (`web/pages/*.html`) inside one layout. `{{t:key}}`
//!   placeholders are filled from [`i18n`] and `{{v:name}}` from the handler's
//!   values, both HTML-escaped, on the server: text is right without JavaScript
//!   and in the chosen language from the first paint.
//! - Data comes from the JSON API. The pages' scripts put it into the DOM with
//!   `textContent` and attributes only, never `innerHTML`: that is the output
//!   escaping for everything a script shows.
//! - Every byte a page needs is embedded in this binary and served from
//!   `/static/`: no CDN, no external font, no request leaving the server. The
//!   Content Security Policy says so to the browser (`default-src 'self'`, no
//!   inline script or style), and only the embed page may be framed.
//! - Video plays through our own small HLS-over-MSE player (`static/player.js`,
//!   fMP4 segments as the broadcaster writes them), falling back to the
//!   browser's native HLS where Media Source Extensions are missing (older iOS).

mod admin;
mod alerts;
mod assets;
mod console;
mod council_room;
mod display_logs;
mod display_page;
mod display_preview;
mod feed_health;
pub mod i18n;
mod library;
mod releases_page;
mod schedule_editor;

use crate::council::archive;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use i18n::Lang;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(public_route("/", &HOME))
        .merge(public_route("/tv", &TV))
        .merge(public_route("/archiv", &ARCHIVE))
        .merge(recording_route("/archiv/{id}", &RECORDING))
        .merge(recording_route("/embed/{id}", &EMBED))
        .route("/offene-daten", get(open_data))
        .merge(console::routes())
        .merge(alerts::routes())
        .merge(council_room::routes())
        .merge(feed_health::routes())
        .merge(admin::routes())
        .merge(display_preview::routes())
        .merge(display_page::routes())
        .merge(display_logs::routes())
        .merge(library::routes())
        .merge(releases_page::routes())
        .merge(schedule_editor::routes())
        .route("/static/{name}", get(assets::serve))
}

/// The strict policy of every page; the embed page differs only in who may frame it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

#[derive(Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

/// One page: its body template, title key, scripts and values.
struct Page<'a> {
    body: &'static str,
    title: &'a str,
    scripts: &'a [&'a str],
    /// Stylesheets beyond `site.css` (a console area's own).
    styles: &'a [&'a str],
    values: &'a [(&'a str, String)],
    /// Where the navigation marks "you are here".
    section: &'a str,
    chrome: Chrome,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Chrome {
    Public,
    /// The console's header; the page's values carry `user`, `role`, `csrf`.
    Staff,
    /// The embed page: no header, no footer, may be framed by any site.
    Embedded,
}

fn render(page: &Page, lang: Lang) -> Response {
    let body = fill(page.body, lang, page.values);
    let title = fill(page.title, lang, page.values);
    let scripts: String = page
        .scripts
        .iter()
        .map(|s| format!("<script type=\"module\" src=\"/static/{s}\"></script>\n"))
        .chain(
            page.styles
                .iter()
                .map(|s| format!("<link rel=\"stylesheet\" href=\"/static/{s}\">\n")),
        )
        .collect();
    let texts = i18n::script_texts(lang);
    let embedded = page.chrome == Chrome::Embedded;
    let chrome = |part: &str| {
        if embedded {
            String::new()
        } else {
            fill(part, lang, page.values).replace(
                &format!("data-nav=\"{}\"", page.section),
                &format!("data-nav=\"{}\" aria-current=\"page\"", page.section),
            )
        }
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/static/site.css\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <script type=\"application/json\" id=\"texts\">{texts}</script>\n{scripts}</head>\n\
         <body class=\"{class}\" data-section=\"{section}\">\n{header}<main id=\"inhalt\">\n{body}</main>\n{footer}</body>\n</html>\n",
        lang = lang.code(),
        class = if embedded { "embedded" } else { "page" },
        section = escape(page.section),
        header = chrome(if page.chrome == Chrome::Staff {
            include_str!("../../web/pages/header-staff.html")
        } else {
            include_str!("../../web/pages/header.html")
        }),
        footer = chrome(include_str!("../../web/pages/footer.html")),
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = response.headers_mut();
    let csp = if embedded {
        format!("{CSP}; frame-ancestors *")
    } else {
        format!("{CSP}; frame-ancestors 'none'")
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("the policy is ASCII"),
    );
    if !embedded {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    response
}

/// Fills `{{t:key}}` and `{{v:name}}`; an unknown key is left visible (and
/// caught by `every_key_in_the_pages_is_translated`).
fn fill(template: &str, lang: Lang, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let token = &rest[start + 2..start + len];
        let filled = match token.split_once(':') {
            Some(("t", key)) => i18n::text(lang, key).map(escape),
            Some(("v", name)) => values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| escape(v)),
            _ => None,
        };
        match filled {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// HTML text and attribute escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A route that serves the fixed public `page`.
fn public_route(path: &str, page: &'static Page<'static>) -> Router<AppState> {
    Router::new().route(
        path,
        get(
            move |Query(q): Query<PageQuery>, headers: HeaderMap| async move {
                render(page, Lang::pick(q.lang.as_deref(), &headers))
            },
        ),
    )
}

/// A route that serves `page` for recording `{id}` (its `{{v:id}}`), or a 404
/// unless the recording is public.
fn recording_route(path: &str, page: &'static Page<'static>) -> Router<AppState> {
    Router::new().route(
        path,
        get(
            move |State(s): State<AppState>,
                  Path(id): Path<i64>,
                  Query(q): Query<PageQuery>,
                  headers: HeaderMap| async move {
                match s.db.call(move |c| archive::is_public(c, id)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return (StatusCode::NOT_FOUND, "no such recording").into_response();
                    }
                    Err(e) => return e.into_response(),
                }
                let values = [("id", id.to_string())];
                let page = Page {
                    values: &values,
                    ..*page
                };
                render(&page, Lang::pick(q.lang.as_deref(), &headers))
            },
        ),
    )
}

static HOME: Page = Page {
    body: include_str!("../../web/pages/home.html"),
    title: "{{t:home.title}} – {{t:site.name}}",
    scripts: &[],
    styles: &[],
    values: &[],
    section: "home",
    chrome: Chrome::Public,
};

static TV: Page = Page {
    body: include_str!("../../web/pages/tv.html"),
    title: "{{t:tv.title}} – {{t:site.name}}",
    scripts: &["tv.js"],
    styles: &[],
    values: &[],
    section: "tv",
    chrome: Chrome::Public,
};

static ARCHIVE: Page = Page {
    body: include_str!("../../web/pages/archive.html"),
    title: "{{t:archive.title}} – {{t:site.name}}",
    scripts: &["archive.js"],
    styles: &[],
    values: &[],
    section: "archive",
    chrome: Chrome::Public,
};

static RECORDING: Page = Page {
    body: include_str!("../../web/pages/recording.html"),
    title: "{{t:recording.title}} – {{t:site.name}}",
    scripts: &["recording.js"],
    styles: &[],
    values: &[],
    section: "archive",
    chrome: Chrome::Public,
};

/// The recording alone, for other sites' iframes.
static EMBED: Page = Page {
    body: include_str!("../../web/pages/embed.html"),
    chrome: Chrome::Embedded,
    ..RECORDING
};

async fn open_data(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let licence = crate::api::open_data::licence(&s.config.open_data_licence);
    let field = |k: &str| licence[k].as_str().unwrap_or_default().to_owned();
    let values = [
        ("licence_name", field("name")),
        ("licence_url", field("url")),
        ("licence_id", field("id")),
    ];
    let page = Page {
        body: include_str!("../../web/pages/open-data.html"),
        title: "{{t:opendata.title}} – {{t:site.name}}",
        scripts: &[],
        styles: &[],
        values: &values,
        section: "opendata",
        chrome: Chrome::Public,
    };
    render(&page, Lang::pick(q.lang.as_deref(), &headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template in `web/pages/`, read from the directory so a new page
    /// cannot be left out of the checks below.
    fn pages() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/pages");
        let mut pages: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "html"))
            .map(|p| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        pages.sort();
        assert!(
            pages.len() >= 19,
            "only {} pages in {}",
            pages.len(),
            dir.display()
        );
        pages
    }

    #[test]
    fn every_key_in_the_pages_is_translated() {
        for (name, page) in pages() {
            for lang in [Lang::De, Lang::En] {
                let filled = fill(&page, lang, &[]);
                let left: Vec<_> = filled
                    .match_indices("{{t:")
                    .map(|(i, _)| {
                        &filled[i..filled[i..].find("}}").map_or(filled.len(), |e| i + e + 2)]
                    })
                    .collect();
                assert!(left.is_empty(), "{name} ({lang:?}): untranslated {left:?}");
            }
        }
    }

    #[test]
    fn values_and_texts_are_escaped() {
        let out = fill(
            "<p title=\"{{v:x}}\">{{v:x}}</p>{{v:missing}}",
            Lang::De,
            &[("x", "\"><script>alert('x')</script>".into())],
        );
        assert_eq!(
            out,
            "<p title=\"&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>{{v:missing}}"
        );
    }
}
