//! The public live state (`GET /api/council/live`, no auth) and the live HLS
//! directory (`/council/live/...`).
//!
//! The state is computed from the meeting and agenda rows on every request, so
//! closing an agenda item is reflected by the very next request. A closed part
//! (a non-public item, staff's "closed part on", or a non-public meeting) is
//! shown only as [`CLOSED_TITLE`]: neither its title, its number nor the
//! speaker leaves the server.

use super::files;
use super::meetings::{self, AgendaItem, Meeting};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::Connection;
use serde::Serialize;

/// What the public sees of a closed part.
pub const CLOSED_TITLE: &str = "Nichtöffentlicher Teil";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/council/live", get(live))
        .route("/council/live/{*path}", get(live_file))
}

/// A meeting as the public sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicMeeting {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub start: String,
    pub location: String,
}

impl From<&Meeting> for PublicMeeting {
    fn from(m: &Meeting) -> Self {
        PublicMeeting {
            id: m.id,
            title: m.title.clone(),
            body: m.body.clone(),
            start: m.start.clone(),
            location: m.location.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicItem {
    /// Empty for a closed part.
    pub number: String,
    pub title: String,
    pub public: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicSpeaker {
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveState {
    pub live: bool,
    pub meeting: Option<PublicMeeting>,
    /// The agenda item on air, or the closed-part placeholder.
    pub item: Option<PublicItem>,
    /// True while a closed part runs: the stream shows the slate.
    pub closed: bool,
    pub speaker: Option<PublicSpeaker>,
    /// The live meeting's agenda, closed items as the placeholder (in order,
    /// so the page can show where the session stands).
    pub agenda: Vec<PublicItem>,
    /// Position of `item` in `agenda`.
    pub item_index: Option<usize>,
    pub hls_url: Option<String>,
    /// The next scheduled public session when nothing is live.
    pub next: Option<PublicMeeting>,
}

/// Whether the live meeting is in a closed part right now.
pub fn is_closed(meeting: &Meeting, item: Option<&AgendaItem>) -> bool {
    !meeting.public || meeting.closed_manual || item.is_some_and(|i| !i.public)
}

/// The live state at `now` (RFC 3339 as stored), from the rows alone.
pub fn state(c: &Connection, now: &str, hls_url: &str) -> Result<LiveState, ApiError> {
    let Some(m) = meetings::live_meeting(c)? else {
        return Ok(LiveState {
            live: false,
            meeting: None,
            item: None,
            closed: false,
            speaker: None,
            agenda: Vec::new(),
            item_index: None,
            hls_url: None,
            next: meetings::upcoming(c, now, 1)?
                .first()
                .map(PublicMeeting::from),
        });
    };
    let item = match m.current_item_id {
        Some(id) => meetings::find_item(c, id)?,
        None => None,
    };
    let closed = is_closed(&m, item.as_ref());
    let items = meetings::items_of(c, m.id)?;
    let item_index = item
        .as_ref()
        .and_then(|cur| items.iter().position(|i| i.id == cur.id));
    let agenda = if m.public {
        items
            .into_iter()
            .map(|i| {
                if i.public {
                    PublicItem {
                        number: i.number,
                        title: i.title,
                        public: true,
                    }
                } else {
                    PublicItem {
                        number: String::new(),
                        title: CLOSED_TITLE.into(),
                        public: false,
                    }
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let public_item = if closed {
        Some(PublicItem {
            number: String::new(),
            title: CLOSED_TITLE.into(),
            public: false,
        })
    } else {
        item.map(|i| PublicItem {
            number: i.number,
            title: i.title,
            public: true,
        })
    };
    let speaker = match (&m.speaker_name, closed) {
        (Some(name), false) => Some(PublicSpeaker {
            name: name.clone(),
            role: m.speaker_role.clone().unwrap_or_default(),
        }),
        _ => None,
    };
    let meeting = if m.public {
        PublicMeeting::from(&m)
    } else {
        // A closed meeting is announced as live, but not what it is about.
        PublicMeeting {
            id: m.id,
            title: CLOSED_TITLE.into(),
            body: m.body.clone(),
            start: m.start.clone(),
            location: String::new(),
        }
    };
    Ok(LiveState {
        live: true,
        meeting: Some(meeting),
        item: public_item,
        closed,
        speaker,
        item_index: item_index.filter(|_| !agenda.is_empty()),
        agenda,
        hls_url: Some(hls_url.to_owned()),
        next: None,
    })
}

async fn live(State(s): State<AppState>) -> ApiResult<Json<LiveState>> {
    let hls = s.config.council.hls_url();
    let now = crate::db::now_text();
    Ok(Json(s.db.call(move |c| state(c, &now, &hls)).await?))
}

/// GET /council/live/{*path}: the broadcaster's live HLS output. Playlists
/// change every segment and must not be cached; segments never change.
async fn live_file(
    State(s): State<AppState>,
    Path(path): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let dir = s.config.council.live_dir(&s.config.data_dir);
    let file = files::resolve(&dir, &path)?;
    files::send(file, req, files::Caching::Live).await
}
