//! Meetings, agenda items and speakers: the model, its rows, and the staff
//! CRUD (viewer reads, editor writes, every write audited in its transaction).

use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/council/meetings", get(list).post(create))
        .route(
            "/api/council/meetings/{id}",
            get(read).put(update).delete(remove),
        )
        .route("/api/council/meetings/{id}/items", post(add_item))
        .route(
            "/api/council/items/{id}",
            put(update_item).delete(remove_item),
        )
        .route("/api/council/meetings/{id}/speakers", post(add_speaker))
        .route(
            "/api/council/speakers/{id}",
            axum::routing::delete(remove_speaker),
        )
}

/// Longest accepted title, number, location or name, in characters.
pub const MAX_TEXT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingState {
    Planned,
    Live,
    Ended,
}

impl MeetingState {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingState::Planned => "planned",
            MeetingState::Live => "live",
            MeetingState::Ended => "ended",
        }
    }
    fn parse(s: &str) -> MeetingState {
        match s {
            "live" => MeetingState::Live,
            "ended" => MeetingState::Ended,
            _ => MeetingState::Planned,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Meeting {
    pub id: i64,
    pub oparl_id: Option<String>,
    pub title: String,
    /// The council or committee that meets.
    pub body: String,
    pub start: String,
    pub end: Option<String>,
    pub location: String,
    pub state: MeetingState,
    pub public: bool,
    pub cancelled: bool,
    pub minutes_approved_at: Option<String>,
    pub current_item_id: Option<i64>,
    /// Staff switched to the closed part, whatever the current item says.
    pub closed_manual: bool,
    pub speaker_name: Option<String>,
    pub speaker_role: Option<String>,
    pub camera: Option<String>,
    pub live_since: Option<String>,
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgendaItem {
    pub id: i64,
    pub meeting_id: i64,
    pub oparl_id: Option<String>,
    pub position: i64,
    pub number: String,
    pub title: String,
    pub public: bool,
    pub planned_start: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Speaker {
    pub id: i64,
    pub name: String,
    /// Role or party, shown in the lower third.
    pub role: String,
}

#[derive(Debug, Serialize)]
pub struct MeetingDetail {
    #[serde(flatten)]
    pub meeting: Meeting,
    pub items: Vec<AgendaItem>,
    pub speakers: Vec<Speaker>,
}

const MEETING_COLS: &str =
    "id, oparl_id, title, body, start, \"end\", location, state, public, cancelled,
    minutes_approved_at, current_item_id, closed_manual, speaker_name, speaker_role, camera,
    live_since, ended_at";

fn meeting_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Meeting> {
    Ok(Meeting {
        id: r.get(0)?,
        oparl_id: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
        start: r.get(4)?,
        end: r.get(5)?,
        location: r.get(6)?,
        state: MeetingState::parse(&r.get::<_, String>(7)?),
        public: r.get(8)?,
        cancelled: r.get(9)?,
        minutes_approved_at: r.get(10)?,
        current_item_id: r.get(11)?,
        closed_manual: r.get(12)?,
        speaker_name: r.get(13)?,
        speaker_role: r.get(14)?,
        camera: r.get(15)?,
        live_since: r.get(16)?,
        ended_at: r.get(17)?,
    })
}

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgendaItem> {
    Ok(AgendaItem {
        id: r.get(0)?,
        meeting_id: r.get(1)?,
        oparl_id: r.get(2)?,
        position: r.get(3)?,
        number: r.get(4)?,
        title: r.get(5)?,
        public: r.get(6)?,
        planned_start: r.get(7)?,
    })
}

const ITEM_COLS: &str = "id, meeting_id, oparl_id, position, number, title, public, planned_start";

pub fn find_meeting(c: &Connection, id: i64) -> Result<Option<Meeting>, ApiError> {
    Ok(c.query_row(
        &format!("SELECT {MEETING_COLS} FROM council_meetings WHERE id = ?1"),
        [id],
        meeting_row,
    )
    .optional()?)
}

pub fn load_meeting(c: &Connection, id: i64) -> Result<Meeting, ApiError> {
    find_meeting(c, id)?.ok_or_else(|| ApiError::NotFound(format!("meeting {id}")))
}

/// The meeting on air, if any (at most one: a unique index says so).
pub fn live_meeting(c: &Connection) -> Result<Option<Meeting>, ApiError> {
    Ok(c.query_row(
        &format!("SELECT {MEETING_COLS} FROM council_meetings WHERE state = 'live'"),
        [],
        meeting_row,
    )
    .optional()?)
}

/// Public, not cancelled, planned meetings starting at or after `now`, soonest first.
pub fn upcoming(c: &Connection, now: &str, limit: u32) -> Result<Vec<Meeting>, ApiError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {MEETING_COLS} FROM council_meetings
          WHERE state = 'planned' AND public = 1 AND cancelled = 0 AND start >= ?1
          ORDER BY start, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit], meeting_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn items_of(c: &Connection, meeting_id: i64) -> Result<Vec<AgendaItem>, ApiError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ITEM_COLS} FROM council_agenda_items WHERE meeting_id = ?1 ORDER BY position, id"
    ))?;
    let rows = stmt.query_map([meeting_id], item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn find_item(c: &Connection, id: i64) -> Result<Option<AgendaItem>, ApiError> {
    Ok(c.query_row(
        &format!("SELECT {ITEM_COLS} FROM council_agenda_items WHERE id = ?1"),
        [id],
        item_row,
    )
    .optional()?)
}

fn speakers_of(c: &Connection, meeting_id: i64) -> Result<Vec<Speaker>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, role FROM council_speakers WHERE meeting_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([meeting_id], |r| {
        Ok(Speaker {
            id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn detail(c: &Connection, id: i64) -> Result<MeetingDetail, ApiError> {
    Ok(MeetingDetail {
        meeting: load_meeting(c, id)?,
        items: items_of(c, id)?,
        speakers: speakers_of(c, id)?,
    })
}

/// Parses an RFC 3339 instant and returns it as stored: UTC, milliseconds, `Z`.
pub fn normalize_time(field: &str, value: &str) -> Result<String, ApiError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        })
        .map_err(|e| {
            ApiError::Invalid(format!(
                "{field} {value:?} is not an RFC 3339 time (e.g. 2026-12-01T17:00:00+01:00): {e}"
            ))
        })
}

pub fn check_text(field: &str, value: &str, required: bool) -> Result<String, ApiError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(ApiError::Invalid(format!("{field} must not be empty")));
    }
    if v.chars().count() > MAX_TEXT {
        return Err(ApiError::Invalid(format!(
            "{field} is longer than {MAX_TEXT} characters"
        )));
    }
    Ok(v.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingInput {
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub location: String,
    #[serde(default = "yes")]
    pub public: bool,
    #[serde(default)]
    pub cancelled: bool,
    /// When the minutes were approved (drives the "after the minutes" retention).
    #[serde(default)]
    pub minutes_approved_at: Option<String>,
    /// Agenda items to create with the meeting (only on POST).
    #[serde(default)]
    pub items: Vec<ItemInput>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    #[serde(default)]
    pub number: String,
    pub title: String,
    #[serde(default = "yes")]
    pub public: bool,
    #[serde(default)]
    pub planned_start: Option<String>,
    /// Place in the agenda; appended at the end when left out.
    #[serde(default)]
    pub position: Option<i64>,
}

struct CheckedMeeting {
    title: String,
    body: String,
    start: String,
    end: Option<String>,
    location: String,
    public: bool,
    cancelled: bool,
    minutes_approved_at: Option<String>,
}

fn check_meeting(m: &MeetingInput) -> Result<CheckedMeeting, ApiError> {
    let start = normalize_time("start", &m.start)?;
    let end = m
        .end
        .as_deref()
        .map(|e| normalize_time("end", e))
        .transpose()?;
    if end.as_ref().is_some_and(|e| *e < start) {
        return Err(ApiError::Invalid(
            "the meeting ends before it starts".into(),
        ));
    }
    Ok(CheckedMeeting {
        title: check_text("title", &m.title, true)?,
        body: check_text("body", &m.body, false)?,
        start,
        end,
        location: check_text("location", &m.location, false)?,
        public: m.public,
        cancelled: m.cancelled,
        minutes_approved_at: m
            .minutes_approved_at
            .as_deref()
            .map(|t| normalize_time("minutes_approved_at", t))
            .transpose()?,
    })
}

struct CheckedItem {
    number: String,
    title: String,
    public: bool,
    planned_start: Option<String>,
    position: Option<i64>,
}

fn check_item(i: &ItemInput) -> Result<CheckedItem, ApiError> {
    Ok(CheckedItem {
        number: check_text("number", &i.number, false)?,
        title: check_text("title", &i.title, true)?,
        public: i.public,
        planned_start: i
            .planned_start
            .as_deref()
            .map(|t| normalize_time("planned_start", t))
            .transpose()?,
        position: i.position,
    })
}

fn insert_item(c: &Connection, meeting_id: i64, item: &CheckedItem) -> Result<i64, ApiError> {
    let position = match item.position {
        Some(p) => p,
        None => c.query_row(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM council_agenda_items WHERE meeting_id = ?1",
            [meeting_id],
            |r| r.get(0),
        )?,
    };
    c.execute(
        "INSERT INTO council_agenda_items (meeting_id, position, number, title, public, planned_start)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            meeting_id,
            position,
            item.number,
            item.title,
            item.public,
            item.planned_start
        ],
    )?;
    Ok(c.last_insert_rowid())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<MeetingState>,
}

async fn list(
    staff: Staff,
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Meeting>>> {
    staff.require(Role::Viewer)?;
    let state = q.state.map(|st| st.as_str());
    let meetings =
        s.db.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {MEETING_COLS} FROM council_meetings
                  WHERE ?1 IS NULL OR state = ?1 ORDER BY start DESC, id DESC"
            ))?;
            let rows = stmt.query_map([state], meeting_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(meetings))
}

async fn read(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<MeetingDetail>> {
    staff.require(Role::Viewer)?;
    Ok(Json(s.db.call(move |c| detail(c, id)).await?))
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(input): ApiJson<MeetingInput>,
) -> ApiResult<(StatusCode, Json<MeetingDetail>)> {
    staff.require(Role::Editor)?;
    let m = check_meeting(&input)?;
    let items = input
        .items
        .iter()
        .map(check_item)
        .collect::<Result<Vec<_>, _>>()?;
    let actor = staff.username;
    let detail =
        s.db.transaction(move |tx| {
            let now = crate::db::now_text();
            tx.execute(
                "INSERT INTO council_meetings (title, body, start, \"end\", location, public,
                     cancelled, minutes_approved_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    m.title,
                    m.body,
                    m.start,
                    m.end,
                    m.location,
                    m.public,
                    m.cancelled,
                    m.minutes_approved_at,
                    now
                ],
            )?;
            let id = tx.last_insert_rowid();
            for item in &items {
                insert_item(tx, id, item)?;
            }
            crate::audit::record(
                tx,
                &actor,
                "council.meeting.create",
                &format!("meeting {id}"),
                json!({ "title": m.title, "start": m.start, "items": items.len() }),
            )?;
            detail(tx, id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

async fn update(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<MeetingInput>,
) -> ApiResult<Json<MeetingDetail>> {
    staff.require(Role::Editor)?;
    if !input.items.is_empty() {
        return Err(ApiError::Invalid(
            "agenda items are changed through /api/council/items/{id}; leave `items` out".into(),
        ));
    }
    let m = check_meeting(&input)?;
    let actor = staff.username;
    let detail = s
        .db
        .transaction(move |tx| {
            load_meeting(tx, id)?;
            tx.execute(
                "UPDATE council_meetings SET title = ?2, body = ?3, start = ?4, \"end\" = ?5,
                     location = ?6, public = ?7, cancelled = ?8, minutes_approved_at = ?9,
                     updated_at = ?10
                  WHERE id = ?1",
                params![
                    id,
                    m.title,
                    m.body,
                    m.start,
                    m.end,
                    m.location,
                    m.public,
                    m.cancelled,
                    m.minutes_approved_at,
                    crate::db::now_text()
                ],
            )?;
            crate::audit::record(
                tx,
                &actor,
                "council.meeting.update",
                &format!("meeting {id}"),
                json!({ "title": m.title, "public": m.public, "minutes_approved_at": m.minutes_approved_at }),
            )?;
            detail(tx, id)
        })
        .await?;
    // A live meeting made non-public goes to the slate at once (and back).
    if detail.meeting.state == MeetingState::Live {
        super::commands::announce_privacy(&s, id).await;
    }
    Ok(Json(detail))
}

async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Editor)?;
    let actor = staff.username;
    s.db.transaction(move |tx| {
        let m = load_meeting(tx, id)?;
        if m.state == MeetingState::Live {
            return Err(ApiError::Conflict(
                "the meeting is live; stop the broadcast first".into(),
            ));
        }
        tx.execute("DELETE FROM council_meetings WHERE id = ?1", [id])?;
        crate::audit::record(
            tx,
            &actor,
            "council.meeting.delete",
            &format!("meeting {id}"),
            json!({ "title": m.title }),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_item(
    staff: Staff,
    State(s): State<AppState>,
    Path(meeting_id): Path<i64>,
    ApiJson(input): ApiJson<ItemInput>,
) -> ApiResult<(StatusCode, Json<AgendaItem>)> {
    staff.require(Role::Editor)?;
    let item = check_item(&input)?;
    let actor = staff.username;
    let created =
        s.db.transaction(move |tx| {
            load_meeting(tx, meeting_id)?;
            let id = insert_item(tx, meeting_id, &item)?;
            crate::audit::record(
                tx,
                &actor,
                "council.item.create",
                &format!("agenda item {id}"),
                json!({ "meeting": meeting_id, "title": item.title, "public": item.public }),
            )?;
            find_item(tx, id)?.ok_or_else(|| ApiError::internal("inserted item vanished"))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// PUT /api/council/items/{id}. Closing an item (`public: false`) takes effect
/// in the live state at once, since that is computed from these rows; the
/// caller tells the broadcaster when it is the item on air.
async fn update_item(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ItemInput>,
) -> ApiResult<Json<AgendaItem>> {
    staff.require(Role::Editor)?;
    let item = check_item(&input)?;
    let actor = staff.username;
    let (updated, on_air) =
        s.db.transaction(move |tx| {
            let old = find_item(tx, id)?
                .ok_or_else(|| ApiError::NotFound(format!("agenda item {id}")))?;
            tx.execute(
                "UPDATE council_agenda_items SET position = ?2, number = ?3, title = ?4,
                     public = ?5, planned_start = ?6 WHERE id = ?1",
                params![
                    id,
                    item.position.unwrap_or(old.position),
                    item.number,
                    item.title,
                    item.public,
                    item.planned_start
                ],
            )?;
            crate::audit::record(
                tx,
                &actor,
                "council.item.update",
                &format!("agenda item {id}"),
                json!({ "title": item.title, "public": item.public, "was_public": old.public }),
            )?;
            let on_air = live_meeting(tx)?.filter(|m| m.current_item_id == Some(id));
            let updated =
                find_item(tx, id)?.ok_or_else(|| ApiError::internal("updated item vanished"))?;
            Ok((updated, on_air))
        })
        .await?;
    if let Some(meeting) = on_air {
        super::commands::announce_privacy(&s, meeting.id).await;
    }
    Ok(Json(updated))
}

async fn remove_item(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Editor)?;
    let actor = staff.username;
    s.db.transaction(move |tx| {
        let old =
            find_item(tx, id)?.ok_or_else(|| ApiError::NotFound(format!("agenda item {id}")))?;
        if live_meeting(tx)?.is_some_and(|m| m.current_item_id == Some(id)) {
            return Err(ApiError::Conflict(
                "this agenda item is on air; move to another item first".into(),
            ));
        }
        tx.execute("DELETE FROM council_agenda_items WHERE id = ?1", [id])?;
        crate::audit::record(
            tx,
            &actor,
            "council.item.delete",
            &format!("agenda item {id}"),
            json!({ "meeting": old.meeting_id, "title": old.title }),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeakerInput {
    name: String,
    #[serde(default)]
    role: String,
}

async fn add_speaker(
    staff: Staff,
    State(s): State<AppState>,
    Path(meeting_id): Path<i64>,
    ApiJson(input): ApiJson<SpeakerInput>,
) -> ApiResult<(StatusCode, Json<Speaker>)> {
    staff.require(Role::Editor)?;
    let name = check_text("name", &input.name, true)?;
    let role = check_text("role", &input.role, false)?;
    let actor = staff.username;
    let speaker =
        s.db.transaction(move |tx| {
            load_meeting(tx, meeting_id)?;
            tx.execute(
                "INSERT INTO council_speakers (meeting_id, name, role) VALUES (?1, ?2, ?3)",
                params![meeting_id, name, role],
            )?;
            let id = tx.last_insert_rowid();
            crate::audit::record(
                tx,
                &actor,
                "council.speaker.create",
                &format!("speaker {id}"),
                json!({ "meeting": meeting_id, "name": name }),
            )?;
            Ok(Speaker { id, name, role })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(speaker)))
}

async fn remove_speaker(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Editor)?;
    let actor = staff.username;
    s.db.transaction(move |tx| {
        if tx.execute("DELETE FROM council_speakers WHERE id = ?1", [id])? == 0 {
            return Err(ApiError::NotFound(format!("speaker {id}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "council.speaker.delete",
            &format!("speaker {id}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
