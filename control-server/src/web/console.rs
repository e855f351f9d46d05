//! The staff console's pages. Each needs a live browser session: without one
//! the browser is sent to the login page, which sends it back afterwards. The
//! session's CSRF token is rendered into the page for its scripts (they send it
//! as `X-CSRF-Token` with every change, as the API demands of cookie sessions);
//! the page is in the user's own language unless `?lang=` says otherwise.

use super::i18n::Lang;
use super::{Chrome, Page, PageQuery, render};
use crate::auth::{Staff, page_session};
use crate::state::AppState;
use crate::store;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use content::model::Display;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/konsole/anmelden", get(login))
        .merge(staff_route("/konsole", &DASHBOARD))
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The session, or the redirect to the login page that comes back to `uri`.
async fn signed_in(
    s: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Staff, String), Response> {
    match page_session(s, headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            // The whole local address, query included (a week, a display), so
            // the login comes back to exactly what was asked for.
            let back = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
            Err(see_other(&format!(
                "/konsole/anmelden?next={}",
                percent_encode(back)
            )))
        }
        Err(e) => Err(e.into_response()),
    }
}

/// Percent-encodes all but unreserved characters and `/` (a query value).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn staff_lang(q: &PageQuery, staff: &Staff, headers: &HeaderMap) -> Lang {
    match q.lang.as_deref().and_then(Lang::parse) {
        Some(l) => l,
        None => Lang::parse(&staff.language).unwrap_or_else(|| Lang::pick(None, headers)),
    }
}

async fn login(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    if let Ok(Some(_)) = page_session(&s, &headers).await {
        return see_other("/konsole");
    }
    let page = Page {
        body: include_str!("../../web/pages/login.html"),
        title: "{{t:login.title}} – {{t:console.name}}",
        scripts: &["login.js"],
        styles: &[],
        values: &[],
        section: "login",
        chrome: Chrome::Public,
    };
    render(&page, Lang::pick(q.lang.as_deref(), &headers))
}

/// What a console page is, apart from who looks at it.
pub(super) struct StaffPage {
    pub body: &'static str,
    pub title: &'static str,
    /// Its own scripts (`staff.js` comes first on every console page).
    pub scripts: &'static [&'static str],
    pub styles: &'static [&'static str],
    pub section: &'static str,
}

/// Values a page fills in from the server's state, in the page's language
/// (what the server is configured to do, where the page says so).
pub(super) type PageValues = fn(&AppState, Lang) -> Vec<(&'static str, String)>;

/// Renders `page` for `staff` in `lang`, with `extra` values beside the
/// session's.
fn render_staff(
    page: &StaffPage,
    staff: &Staff,
    csrf: String,
    lang: Lang,
    extra: &[(&str, String)],
) -> Response {
    let values: Vec<(&str, String)> = [
        ("user", staff.username.clone()),
        ("role", staff.role.as_str().to_owned()),
        ("csrf", csrf),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .collect();
    let scripts: Vec<&str> = std::iter::once("staff.js")
        .chain(page.scripts.iter().copied())
        .collect();
    let rendered = Page {
        body: page.body,
        title: page.title,
        scripts: &scripts,
        styles: page.styles,
        values: &values,
        section: page.section,
        chrome: Chrome::Staff,
    };
    render(&rendered, lang)
}

/// A route that serves `page` to signed-in staff.
pub(super) fn staff_route(path: &str, page: &'static StaffPage) -> Router<AppState> {
    staff_route_with(path, page, |_, _| Vec::new())
}

/// A route that serves `page` to signed-in staff, with the `{{v:…}}`
/// values `values` works out for each request.
pub(super) fn staff_route_with(
    path: &str,
    page: &'static StaffPage,
    values: PageValues,
) -> Router<AppState> {
    Router::new().route(
        path,
        get(
            move |State(s): State<AppState>,
                  Query(q): Query<PageQuery>,
                  headers: HeaderMap,
                  uri: Uri| async move {
                match signed_in(&s, &headers, &uri).await {
                    Ok((staff, csrf)) => {
                        let lang = staff_lang(&q, &staff, &headers);
                        render_staff(page, &staff, csrf, lang, &values(&s, lang))
                    }
                    Err(r) => r,
                }
            },
        ),
    )
}

/// A route that serves `page` about display `{id}` to signed-in staff, with
/// its `{{v:display_id}}`, `{{v:display_name}}` and `{{v:display_tz}}`; a
/// 404 for a display that does not exist. The session comes first, so only
/// staff learn which displays exist.
pub(super) fn display_route(path: &str, page: &'static StaffPage) -> Router<AppState> {
    Router::new().route(
        path,
        get(
            move |State(s): State<AppState>,
                  Path(id): Path<i64>,
                  Query(q): Query<PageQuery>,
                  headers: HeaderMap,
                  uri: Uri| async move {
                let (staff, csrf) = match signed_in(&s, &headers, &uri).await {
                    Ok(found) => found,
                    Err(r) => return r,
                };
                let display = match s.db.call(move |c| store::find::<Display>(c, id)).await {
                    Ok(Some(d)) => d,
                    Ok(None) => return (StatusCode::NOT_FOUND, "no such display").into_response(),
                    Err(e) => return e.into_response(),
                };
                let values = [
                    ("display_id", id.to_string()),
                    ("display_name", display.name),
                    ("display_tz", display.timezone.name().to_owned()),
                ];
                let lang = staff_lang(&q, &staff, &headers);
                render_staff(page, &staff, csrf, lang, &values)
            },
        ),
    )
}

static DASHBOARD: StaffPage = StaffPage {
    body: include_str!("../../web/pages/dashboard.html"),
    title: "{{t:dashboard.title}} – {{t:console.name}}",
    scripts: &["dashboard.js"],
    styles: &[],
    section: "dashboard",
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_way_back_keeps_its_query_as_one_value() {
        assert_eq!(
            super::percent_encode("/konsole/programm?display=3&date=2026-11-02"),
            "/konsole/programm%3Fdisplay%3D3%26date%3D2026-11-02"
        );
    }
}
