//! Import of meetings and agenda items from an OParl 1.1 endpoint.
//!
//! System → `body` list → each Body's `meeting` list (paged by `links.next`) →
//! Meeting with its embedded `agendaItem`s (fetched from the meeting's own URL
//! when a list leaves them out).
//!
//! Everything is fetched and checked first and written in one transaction
//! afterwards, so a source that fails halfway (a page over the size limit, a
//! wrong type, a `next` link that loops, HTML instead of JSON, a timeout)
//! changes nothing: the error is reported (feed health `oparl`) and the data
//! from the last good import stays.
//!
//! Re-importing is idempotent: meetings and items are matched by their OParl
//! `id` (a URL). Local decisions survive a re-import: the meeting's broadcast
//! state, its `public` flag, and an item staff closed stays closed even if the
//! source says public (closing fails safe; reopening is a deliberate staff act).
//! Items that vanished from the source are removed only from meetings that
//! have not been broadcast yet.

use super::meetings::{self, MAX_TEXT};
use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::{OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use thiserror::Error;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/council/import", post(import_now))
}

/// The feed-health name of the OParl source.
pub const FEED: &str = "oparl";

#[derive(Debug, Error)]
pub enum OparlError {
    #[error("no OParl endpoint is configured (--council-oparl-url)")]
    NotConfigured,
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url} is not JSON: {reason}")]
    NotJson { url: String, reason: String },
    #[error("{url} is not a valid OParl {what}: {reason}")]
    Shape {
        url: String,
        what: &'static str,
        reason: String,
    },
    #[error("links.next of {url} leads back to a page already read ({next})")]
    Loop { url: String, next: String },
    #[error("the list starting at {url} has more than {limit} pages")]
    TooManyPages { url: String, limit: u32 },
    #[error("{url} is not an http(s) URL")]
    BadUrl { url: String },
}

#[derive(Debug, Deserialize)]
struct System {
    body: String,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    links: Links,
}

#[derive(Debug, Default, Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Body {
    id: String,
    #[serde(default)]
    name: String,
    meeting: String,
    #[serde(default)]
    deleted: bool,
}

#[derive(Debug, Deserialize)]
struct Meeting {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    organization: Vec<Organization>,
    #[serde(default)]
    cancelled: bool,
    #[serde(default)]
    deleted: bool,
    /// Embedded AgendaItems or their URLs; kept raw so a wrong field type is
    /// reported precisely (an untagged enum would only say "no variant matched").
    #[serde(default, rename = "agendaItem")]
    agenda_item: Option<Vec<Value>>,
}

/// OParl embeds an object or names it by URL; we use embedded ones.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Location {
    Object {
        #[serde(default)]
        description: Option<String>,
        #[serde(default, rename = "streetAddress")]
        street_address: Option<String>,
        #[serde(default)]
        room: Option<String>,
    },
    /// A Location named by URL: not fetched, the meeting just has no place text.
    Other(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Organization {
    Object { name: String },
    Url(String),
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
struct AgendaItem {
    id: String,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    order: Option<i64>,
    #[serde(default)]
    deleted: bool,
}

/// A meeting ready to be written.
#[derive(Debug)]
struct Imported {
    oparl_id: String,
    title: String,
    body: String,
    start: String,
    end: Option<String>,
    location: String,
    cancelled: bool,
    items: Vec<ImportedItem>,
}

#[derive(Debug)]
struct ImportedItem {
    oparl_id: String,
    position: i64,
    number: String,
    title: String,
    public: bool,
    planned_start: Option<String>,
}

/// What an import did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub pages: u32,
    pub meetings_created: u32,
    pub meetings_updated: u32,
    pub items_created: u32,
    pub items_updated: u32,
    pub items_removed: u32,
    /// Meetings skipped (deleted at the source, or without a start).
    pub skipped: u32,
}

struct Fetcher {
    client: reqwest::Client,
    max_bytes: u64,
    max_pages: u32,
    pages: u32,
}

impl Fetcher {
    async fn get<T: DeserializeOwned>(
        &mut self,
        url: &str,
        what: &'static str,
    ) -> Result<T, OparlError> {
        let value = self.get_json(url).await?;
        serde_json::from_value(value).map_err(|e| OparlError::Shape {
            url: url.to_owned(),
            what,
            reason: e.to_string(),
        })
    }

    async fn get_json(&mut self, url: &str) -> Result<Value, OparlError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(OparlError::BadUrl { url: url.into() });
        }
        self.pages += 1;
        let fetch = |e: reqwest::Error| OparlError::Fetch {
            url: url.to_owned(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else {
                e.to_string()
            },
        };
        let resp = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(fetch)?;
        if !resp.status().is_success() {
            return Err(OparlError::Status {
                url: url.into(),
                status: resp.status().as_u16(),
            });
        }
        let too_large = || OparlError::TooLarge {
            url: url.to_owned(),
            limit: self.max_bytes,
        };
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(too_large());
        }
        // Read under the limit: a server that lies about (or omits) the length
        // cannot make us buffer more than `max_bytes`.
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(fetch)? {
            if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| OparlError::NotJson {
            url: url.into(),
            reason: e.to_string(),
        })
    }

    /// Every element of a paged list, following `links.next`.
    async fn list<T: DeserializeOwned>(
        &mut self,
        first: &str,
        what: &'static str,
    ) -> Result<Vec<T>, OparlError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut url = first.to_owned();
        let mut pages = 0u32;
        loop {
            if pages >= self.max_pages {
                return Err(OparlError::TooManyPages {
                    url: first.into(),
                    limit: self.max_pages,
                });
            }
            pages += 1;
            seen.insert(url.clone());
            let page: Page<T> = self.get(&url, what).await?;
            out.extend(page.data);
            match page.links.next {
                Some(next) if seen.contains(&next) => {
                    return Err(OparlError::Loop { url, next });
                }
                Some(next) => url = next,
                None => return Ok(out),
            }
        }
    }
}

fn clip(s: &str) -> String {
    s.trim().chars().take(MAX_TEXT).collect()
}

fn shape(url: &str, what: &'static str, reason: String) -> OparlError {
    OparlError::Shape {
        url: url.into(),
        what,
        reason,
    }
}

/// Fetches everything from the configured endpoint; writes nothing.
async fn fetch_all(state: &AppState) -> Result<(Vec<Imported>, u32, u32), OparlError> {
    let cfg = &state.config.council;
    let system_url = cfg.oparl_url.clone().ok_or(OparlError::NotConfigured)?;
    let mut f = Fetcher {
        client: crate::civic::feeds::http_client(&state.config),
        max_bytes: cfg.oparl_max_page_kb.saturating_mul(1024),
        max_pages: cfg.oparl_max_pages,
        pages: 0,
    };
    let system: System = f.get(&system_url, "System").await?;
    let bodies: Vec<Body> = f.list(&system.body, "Body list").await?;
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut orgs: std::collections::HashMap<String, String> = Default::default();
    for body in bodies.into_iter().filter(|b| !b.deleted) {
        if cfg.oparl_body.as_ref().is_some_and(|want| *want != body.id) {
            continue;
        }
        let list: Vec<Meeting> = f.list(&body.meeting, "Meeting list").await?;
        for mut m in list {
            if m.deleted {
                skipped += 1;
                continue;
            }
            let Some(start) = m.start.as_deref() else {
                // Not yet scheduled: nothing to show or broadcast.
                skipped += 1;
                continue;
            };
            let start = meetings::normalize_time("start", start)
                .map_err(|e| shape(&m.id, "Meeting", e.to_string()))?;
            let end = match m.end.as_deref() {
                Some(e) => Some(
                    meetings::normalize_time("end", e)
                        .map_err(|e| shape(&m.id, "Meeting", e.to_string()))?,
                ),
                None => None,
            };
            if m.agenda_item.is_none() {
                let full: Meeting = f.get(&m.id, "Meeting").await?;
                m.agenda_item = full.agenda_item;
            }
            let mut items = Vec::new();
            for (i, r) in m
                .agenda_item
                .take()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
            {
                let item: AgendaItem = match r {
                    Value::String(url) => f.get(&url, "AgendaItem").await?,
                    other => serde_json::from_value(other)
                        .map_err(|e| shape(&m.id, "AgendaItem", e.to_string()))?,
                };
                if item.deleted {
                    continue;
                }
                let planned_start = match item.start.as_deref() {
                    Some(t) => Some(
                        meetings::normalize_time("start", t)
                            .map_err(|e| shape(&item.id, "AgendaItem", e.to_string()))?,
                    ),
                    None => None,
                };
                let title = clip(item.name.as_deref().unwrap_or_default());
                items.push(ImportedItem {
                    position: item.order.unwrap_or(i as i64 + 1),
                    number: clip(item.number.as_deref().unwrap_or_default()),
                    title: if title.is_empty() {
                        "(ohne Titel)".into()
                    } else {
                        title
                    },
                    // An item the source does not mark public is treated as closed.
                    public: item.public.unwrap_or(false),
                    planned_start,
                    oparl_id: item.id,
                });
            }
            let location = match &m.location {
                Some(Location::Object {
                    description,
                    street_address,
                    room,
                }) => [description, room, street_address]
                    .into_iter()
                    .flatten()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            // The committee: the meeting's first organization, fetched once per URL.
            let committee = match m.organization.first() {
                Some(Organization::Object { name }) => Some(name.clone()),
                Some(Organization::Url(url)) => match orgs.get(url) {
                    Some(name) => Some(name.clone()),
                    None => {
                        let org: Named = f.get(url, "Organization").await?;
                        orgs.insert(url.clone(), org.name.clone());
                        Some(org.name)
                    }
                },
                None => None,
            };
            out.push(Imported {
                title: clip(m.name.as_deref().unwrap_or("Sitzung")),
                body: clip(committee.as_deref().unwrap_or(&body.name)),
                start,
                end,
                location: clip(&location),
                cancelled: m.cancelled,
                items,
                oparl_id: m.id,
            });
        }
    }
    Ok((out, f.pages, skipped))
}

/// Fetches and writes one import; the error leaves the data as it was.
pub async fn import(state: &AppState, actor: &str) -> Result<Report, ImportFailed> {
    let (meetings, pages, skipped) = match fetch_all(state).await {
        Ok(v) => v,
        Err(e) => {
            let _ =
                crate::civic::feeds::report_error(&state.db, FEED, "oparl", &e.to_string()).await;
            return Err(ImportFailed::Source(e));
        }
    };
    let actor = actor.to_owned();
    let report = state
        .db
        .transaction(move |tx| {
            let mut report = Report {
                pages,
                skipped,
                ..Report::default()
            };
            let now = crate::db::now_text();
            for m in &meetings {
                let existing: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT id, state FROM council_meetings WHERE oparl_id = ?1",
                        [&m.oparl_id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let (id, planned) = match existing {
                    Some((id, st)) => {
                        tx.execute(
                            "UPDATE council_meetings SET title = ?2, body = ?3, start = ?4,
                                 \"end\" = ?5, location = ?6, cancelled = ?7, updated_at = ?8
                              WHERE id = ?1",
                            params![
                                id,
                                m.title,
                                m.body,
                                m.start,
                                m.end,
                                m.location,
                                m.cancelled,
                                now
                            ],
                        )?;
                        report.meetings_updated += 1;
                        (id, st == "planned")
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO council_meetings (oparl_id, title, body, start, \"end\",
                                 location, cancelled, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                            params![
                                m.oparl_id,
                                m.title,
                                m.body,
                                m.start,
                                m.end,
                                m.location,
                                m.cancelled,
                                now
                            ],
                        )?;
                        report.meetings_created += 1;
                        (tx.last_insert_rowid(), true)
                    }
                };
                let mut kept = HashSet::new();
                for item in &m.items {
                    let n = tx.execute(
                        "UPDATE council_agenda_items SET meeting_id = ?2, position = ?3,
                             number = ?4, title = ?5, public = public AND ?6, planned_start = ?7
                          WHERE oparl_id = ?1",
                        params![
                            item.oparl_id,
                            id,
                            item.position,
                            item.number,
                            item.title,
                            item.public,
                            item.planned_start
                        ],
                    )?;
                    if n == 0 {
                        tx.execute(
                            "INSERT INTO council_agenda_items (meeting_id, oparl_id, position,
                                 number, title, public, planned_start)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![
                                id,
                                item.oparl_id,
                                item.position,
                                item.number,
                                item.title,
                                item.public,
                                item.planned_start
                            ],
                        )?;
                        report.items_created += 1;
                    } else {
                        report.items_updated += 1;
                    }
                    kept.insert(item.oparl_id.as_str());
                }
                if planned {
                    let mut stmt = tx.prepare(
                        "SELECT id, oparl_id FROM council_agenda_items
                          WHERE meeting_id = ?1 AND oparl_id IS NOT NULL",
                    )?;
                    let gone: Vec<i64> = stmt
                        .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                        .filter_map(Result::ok)
                        .filter(|(_, o)| !kept.contains(o.as_str()))
                        .map(|(i, _)| i)
                        .collect();
                    for item in gone {
                        tx.execute("DELETE FROM council_agenda_items WHERE id = ?1", [item])?;
                        report.items_removed += 1;
                    }
                }
            }
            crate::audit::record(
                tx,
                &actor,
                "council.import",
                "oparl",
                serde_json::to_value(&report)?,
            )?;
            Ok(report)
        })
        .await
        .map_err(ImportFailed::Store)?;
    let _ = crate::civic::feeds::report_ok(&state.db, FEED, "oparl").await;
    Ok(report)
}

#[derive(Debug, Error)]
pub enum ImportFailed {
    #[error("OParl import failed, nothing was changed: {0}")]
    Source(#[from] OparlError),
    #[error("storing the import failed: {0}")]
    Store(ApiError),
}

impl From<ImportFailed> for ApiError {
    fn from(e: ImportFailed) -> ApiError {
        match e {
            ImportFailed::Source(OparlError::NotConfigured) => {
                ApiError::Conflict(OparlError::NotConfigured.to_string())
            }
            // The source's answer is what is wrong: 422 with the precise reason.
            ImportFailed::Source(_) => ApiError::Invalid(e.to_string()),
            ImportFailed::Store(inner) => inner,
        }
    }
}

/// POST /api/council/import: import now (editor).
async fn import_now(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Value>> {
    staff.require(Role::Editor)?;
    let report = import(&s, &staff.username).await?;
    Ok(Json(json!({ "imported": report })))
}

/// Imports every `--council-oparl-poll-s` seconds when a URL and an interval are set.
pub async fn poll_loop(state: AppState) {
    let every = state.config.council.oparl_poll_s;
    if every == 0 || state.config.council.oparl_url.is_none() {
        return;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
    loop {
        tick.tick().await;
        match import(&state, "oparl-poll").await {
            Ok(r) => tracing::info!(?r, "OParl import done"),
            Err(e) => tracing::warn!("{e}"),
        }
    }
}
