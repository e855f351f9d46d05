//! Staff commands for the broadcast: start, stop, next item, go to item,
//! speaker, camera, closed part. Each changes the meeting's live fields and is
//! audited in one transaction, then goes to the connected broadcaster(s).
//!
//! The server's agenda is the truth about what is closed, also for items changed
//! after the session started: after every item change the broadcaster gets a
//! `closed_part` matching it. When the new item is closed the slate is ordered
//! *before* the item changes, so no frame of it goes out unslated; when it is
//! public the slate is lifted only after the change.
//!
//! Roles: publisher starts and stops broadcasts; editors run the session
//! (items, speakers, camera, closed part).

use super::archive::load_settings;
use super::link::Links;
use super::live;
use super::meetings::{self, AgendaItem, Meeting, MeetingState};
use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use content::broadcast::{self, ServerCommand};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/council/meetings/{id}/start", post(start))
        .route("/api/council/meetings/{id}/stop", post(stop))
        .route("/api/council/meetings/{id}/next", post(next))
        .route("/api/council/meetings/{id}/goto", post(go_to))
        .route("/api/council/meetings/{id}/speaker", post(speaker))
        .route("/api/council/meetings/{id}/camera", post(camera))
        .route("/api/council/meetings/{id}/closed", post(closed))
}

/// The number the broadcaster knows an item by: its agenda number, or its
/// position when the agenda gave none.
pub fn agenda_number(item: &AgendaItem) -> String {
    let n = item.number.trim();
    if n.is_empty() {
        item.position.to_string()
    } else {
        n.to_owned()
    }
}

#[derive(Debug, Serialize)]
pub struct CommandResult {
    /// How many connected broadcasters the command reached (0: none connected;
    /// the change still applies to the live state).
    pub delivered: usize,
    pub meeting: Meeting,
}

fn audit(
    c: &Connection,
    actor: &str,
    action: &str,
    id: i64,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    crate::audit::record(c, actor, action, &format!("meeting {id}"), detail)?;
    Ok(())
}

/// A command on a live meeting after its change was committed.
struct OnAir<T> {
    /// The meeting as the change left it.
    meeting: Meeting,
    /// Whether it is in a closed part now (closed meeting, manual closed part
    /// or a non-public current item).
    closed: bool,
    /// What the change handed on for the broadcaster (e.g. the new item).
    changed: T,
}

/// The shape every command on a live meeting shares. In one transaction: the
/// meeting must be live, `change` updates it (returning what the broadcaster
/// needs and the audit detail), the change is audited as `action`, and the
/// meeting is read back with its closed state. After the commit `send` tells
/// the connected broadcasters and returns how many it reached.
async fn on_air<T: Send + 'static>(
    s: &AppState,
    id: i64,
    actor: String,
    action: &'static str,
    change: impl FnOnce(&Connection, &Meeting) -> Result<(T, serde_json::Value), ApiError>
    + Send
    + 'static,
    send: impl FnOnce(&Links, &OnAir<T>) -> usize,
) -> ApiResult<Json<CommandResult>> {
    let done =
        s.db.transaction(move |tx| {
            let m = meetings::load_meeting(tx, id)?;
            if m.state != MeetingState::Live {
                return Err(ApiError::Conflict(format!(
                    "meeting {id} is not live (it is {})",
                    m.state.as_str()
                )));
            }
            let (changed, detail) = change(tx, &m)?;
            audit(tx, &actor, action, id, detail)?;
            let meeting = meetings::load_meeting(tx, id)?;
            let closed = privacy(tx, &meeting)?;
            Ok(OnAir {
                meeting,
                closed,
                changed,
            })
        })
        .await?;
    let delivered = send(&s.council.links, &done);
    Ok(Json(CommandResult {
        delivered,
        meeting: done.meeting,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartInput {
    /// Begin at this agenda item; before the first one when left out.
    #[serde(default)]
    start_item_id: Option<i64>,
}

async fn start(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Publisher)?;
    // The body is optional: an empty POST starts before the first item.
    let input: StartInput = if body.iter().all(u8::is_ascii_whitespace) {
        StartInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Invalid(format!("invalid start: {e}")))?
    };
    let actor = staff.username;
    let (meeting, session, first_closed) =
        s.db.transaction(move |tx| {
            let m = meetings::load_meeting(tx, id)?;
            if m.state != MeetingState::Planned {
                return Err(ApiError::Conflict(format!(
                    "meeting {id} is {}; only a planned meeting can start",
                    m.state.as_str()
                )));
            }
            if m.cancelled {
                return Err(ApiError::Conflict(format!("meeting {id} is cancelled")));
            }
            if let Some(other) = meetings::live_meeting(tx)? {
                return Err(ApiError::Conflict(format!(
                    "meeting {} ({:?}) is live; stop it first",
                    other.id, other.title
                )));
            }
            let items = meetings::items_of(tx, id)?;
            let start_item = match input.start_item_id {
                Some(i) => Some(items.iter().find(|it| it.id == i).ok_or_else(|| {
                    ApiError::Invalid(format!("agenda item {i} is not on this meeting's agenda"))
                })?),
                None => None,
            };
            let session = broadcast::Session {
                meeting_id: id.to_string(),
                title: m.title.clone(),
                agenda: items
                    .iter()
                    .map(|i| broadcast::AgendaItem {
                        number: agenda_number(i),
                        title: i.title.clone(),
                        // A closed meeting is closed throughout.
                        public: i.public && m.public,
                    })
                    .collect(),
                start_item: start_item.map(agenda_number),
                download_allowed: load_settings(tx)?.downloads,
                closed: !m.public,
            };
            session
                .check()
                .map_err(|e| ApiError::Invalid(format!("the agenda cannot be broadcast: {e}")))?;
            tx.execute(
                "UPDATE council_meetings SET state = 'live', live_since = ?2, current_item_id = ?3,
                     closed_manual = 0, speaker_name = NULL, speaker_role = NULL, updated_at = ?2
                  WHERE id = ?1",
                params![id, crate::db::now_text(), start_item.map(|i| i.id)],
            )?;
            audit(
                tx,
                &actor,
                "council.broadcast.start",
                id,
                json!({ "start_item": session.start_item }),
            )?;
            let m = meetings::load_meeting(tx, id)?;
            let closed = live::is_closed(&m, start_item);
            Ok((m, session, closed))
        })
        .await?;
    let links = &s.council.links;
    let delivered = links.send(|cid| ServerCommand::StartSession {
        id: cid,
        session: session.clone(),
    });
    if !meeting.public || first_closed {
        links.send(|cid| ServerCommand::ClosedPart {
            id: cid,
            closed: true,
        });
    }
    Ok(Json(CommandResult { delivered, meeting }))
}

async fn stop(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Publisher)?;
    on_air(
        &s,
        id,
        staff.username,
        "council.broadcast.stop",
        move |tx, _| {
            tx.execute(
                "UPDATE council_meetings SET state = 'ended', ended_at = ?2, closed_manual = 0,
                     speaker_name = NULL, speaker_role = NULL, updated_at = ?2 WHERE id = ?1",
                params![id, crate::db::now_text()],
            )?;
            Ok(((), json!({})))
        },
        |links, _| links.send(|cid| ServerCommand::Stop { id: cid }),
    )
    .await
}

/// Makes `item` current (in one transaction with its audit entry) and tells the
/// broadcaster in the order that keeps a closed item off the air.
async fn switch_item(
    s: &AppState,
    id: i64,
    actor: String,
    pick: impl FnOnce(&Meeting, &[AgendaItem]) -> Result<AgendaItem, ApiError> + Send + 'static,
) -> ApiResult<Json<CommandResult>> {
    on_air(
        s,
        id,
        actor,
        "council.broadcast.item",
        move |tx, m| {
            let item = pick(m, &meetings::items_of(tx, id)?)?;
            tx.execute(
                "UPDATE council_meetings SET current_item_id = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, item.id, crate::db::now_text()],
            )?;
            let number = agenda_number(&item);
            let detail = json!({ "item": item.id, "number": number });
            Ok((number, detail))
        },
        |links, on| {
            if on.closed {
                links.send(|cid| ServerCommand::ClosedPart {
                    id: cid,
                    closed: true,
                });
            }
            let delivered = links.send(|cid| ServerCommand::GoToItem {
                id: cid,
                number: on.changed.clone(),
            });
            if !on.closed {
                links.send(|cid| ServerCommand::ClosedPart {
                    id: cid,
                    closed: false,
                });
            }
            delivered
        },
    )
    .await
}

/// POST .../next: the item after the current one (sent as `go_to_item`, which
/// is idempotent, so a resend cannot skip an item).
async fn next(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Editor)?;
    switch_item(&s, id, staff.username, |m, items| {
        let at = match m.current_item_id {
            Some(cur) => items.iter().position(|i| i.id == cur).map_or(0, |p| p + 1),
            None => 0,
        };
        items
            .get(at)
            .cloned()
            .ok_or_else(|| ApiError::Conflict("this is the last agenda item".into()))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoToInput {
    item_id: i64,
}

async fn go_to(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<GoToInput>,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Editor)?;
    switch_item(&s, id, staff.username, move |_, items| {
        items
            .iter()
            .find(|i| i.id == input.item_id)
            .cloned()
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "agenda item {} is not on this meeting's agenda",
                    input.item_id
                ))
            })
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeakerInput {
    /// `null` or left out: take the lower third down.
    #[serde(default)]
    speaker: Option<broadcast::Speaker>,
}

async fn speaker(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<SpeakerInput>,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Editor)?;
    let speaker = match input.speaker {
        Some(sp) => Some(broadcast::Speaker {
            name: meetings::check_text("name", &sp.name, true)?,
            role: sp
                .role
                .map(|r| meetings::check_text("role", &r, false))
                .transpose()?,
            party: sp
                .party
                .map(|p| meetings::check_text("party", &p, false))
                .transpose()?,
        }),
        None => None,
    };
    on_air(
        &s,
        id,
        staff.username,
        "council.broadcast.speaker",
        move |tx, _| {
            tx.execute(
                "UPDATE council_meetings SET speaker_name = ?2, speaker_role = ?3, updated_at = ?4
                  WHERE id = ?1",
                params![
                    id,
                    speaker.as_ref().map(|s| s.name.clone()),
                    speaker.as_ref().map(|s| s.subtitle()),
                    crate::db::now_text()
                ],
            )?;
            let detail = json!({ "speaker": speaker });
            Ok((speaker, detail))
        },
        |links, on| {
            links.send(|cid| ServerCommand::Speaker {
                id: cid,
                speaker: on.changed.clone(),
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraInput {
    name: String,
}

async fn camera(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<CameraInput>,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Editor)?;
    let name = meetings::check_text("name", &input.name, true)?;
    on_air(
        &s,
        id,
        staff.username,
        "council.broadcast.camera",
        move |tx, _| {
            tx.execute(
                "UPDATE council_meetings SET camera = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, name, crate::db::now_text()],
            )?;
            let detail = json!({ "camera": name });
            Ok((name, detail))
        },
        |links, on| {
            links.send(|cid| ServerCommand::Camera {
                id: cid,
                name: on.changed.clone(),
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClosedInput {
    closed: bool,
}

/// POST .../closed: staff's manual closed part. Turning it off lifts the slate
/// only if the current item is public.
async fn closed(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ClosedInput>,
) -> ApiResult<Json<CommandResult>> {
    staff.require(Role::Editor)?;
    on_air(
        &s,
        id,
        staff.username,
        "council.broadcast.closed",
        move |tx, _| {
            tx.execute(
                "UPDATE council_meetings SET closed_manual = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, input.closed, crate::db::now_text()],
            )?;
            Ok(((), json!({ "closed": input.closed })))
        },
        // Off lifts the slate only where nothing else keeps it up.
        |links, on| {
            links.send(|cid| ServerCommand::ClosedPart {
                id: cid,
                closed: on.closed,
            })
        },
    )
    .await
}

/// Whether the live meeting `m` is in a closed part now.
fn privacy(c: &Connection, m: &Meeting) -> Result<bool, ApiError> {
    let item = match m.current_item_id {
        Some(i) => meetings::find_item(c, i)?,
        None => None,
    };
    Ok(live::is_closed(m, item.as_ref()))
}

/// Tells the broadcaster whether the live meeting is in a closed part now
/// (after the item on air was opened or closed).
pub async fn announce_privacy(s: &AppState, meeting_id: i64) {
    let closed =
        s.db.call(move |c| match meetings::live_meeting(c)? {
            Some(m) if m.id == meeting_id => Ok(Some(privacy(c, &m)?)),
            _ => Ok(None),
        })
        .await;
    match closed {
        Ok(Some(closed)) => {
            s.council
                .links
                .send(|cid| ServerCommand::ClosedPart { id: cid, closed });
        }
        Ok(None) => {}
        Err(e) => tracing::error!("cannot tell the broadcaster about the closed part: {e}"),
    }
}

/// A broadcaster (re)connected while running `meeting_id`: if that is the live
/// meeting, bring it to the current item and closed state.
pub async fn resync(s: AppState, meeting_id: String) {
    let Ok(meeting_id) = meeting_id.parse::<i64>() else {
        return;
    };
    let found =
        s.db.call(move |c| match meetings::live_meeting(c)? {
            Some(m) if m.id == meeting_id => {
                let item = match m.current_item_id {
                    Some(i) => meetings::find_item(c, i)?,
                    None => None,
                };
                Ok(Some((live::is_closed(&m, item.as_ref()), item)))
            }
            _ => Ok(None),
        })
        .await;
    let Ok(Some((closed, item))) = found else {
        return;
    };
    let links = &s.council.links;
    if closed {
        links.send(|cid| ServerCommand::ClosedPart {
            id: cid,
            closed: true,
        });
    }
    if let Some(item) = item {
        let number = agenda_number(&item);
        links.send(|cid| ServerCommand::GoToItem {
            id: cid,
            number: number.clone(),
        });
    }
    if !closed {
        links.send(|cid| ServerCommand::ClosedPart {
            id: cid,
            closed: false,
        });
    }
}
