//! Manual alerts from staff, and the delivery of every alert to the displays
//! inside its area.
//!
//! An editor or publisher composes an alert; a publisher other than the author
//! approves it, and only then is it sent. In an emergency the author may bypass approval by giving a
//! reason, which the audit log records. `Test` alerts are stored but never sent
//! to screens; `Exercise` alerts are sent and shown marked as a drill.
//!
//! Alerts from official feeds (CAP pushes, the NINA poller) are already
//! official and go through [`ingest_official`] without approval. Both kinds share
//! one store (each row records its `source`), one send path ([`send`]) and one
//! cancel path ([`push_cancel`]); [`expiry_sweeper`] marks alerts whose
//! `expires` has passed as expired and takes them off the screens.

use crate::auth::{Role, Staff};
use crate::civic::cap::{Ingest, MsgType};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::hub::{AckKind, Hub};
use crate::state::AppState;
use crate::store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use content::DisplayId;
use content::alert::{Alert, AlertStatus};
use content::model::Display;
use content::protocol::ServerMessage;
use rand::Rng;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/alerts", get(list).post(create))
        .route("/api/alerts/{id}", get(read))
        .route("/api/alerts/{id}/approve", post(approve))
        .route("/api/alerts/{id}/cancel", post(cancel))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Active,
    Cancelled,
    /// Its `expires` passed while it was active.
    Expired,
}

impl AlertState {
    fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Active => "active",
            AlertState::Cancelled => "cancelled",
            AlertState::Expired => "expired",
        }
    }
    fn parse(s: &str) -> AlertState {
        match s {
            "active" => AlertState::Active,
            "cancelled" => AlertState::Cancelled,
            "expired" => AlertState::Expired,
            _ => AlertState::Pending,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlert {
    /// An alert; `id` and `sent` may be left out.
    pub alert: Value,
    /// Send at once without a second person's approval.
    #[serde(default)]
    pub bypass_approval: bool,
    /// Required with `bypass_approval`; goes into the audit log.
    #[serde(default)]
    pub bypass_reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AlertRecord {
    pub alert: Alert,
    pub state: AlertState,
    /// "staff", "cap:<account>" or "nina:<ARS>".
    pub source: String,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub bypass: bool,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub expired_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Receipt {
    pub display_id: DisplayId,
    pub display_name: String,
    pub received_at: Option<String>,
    pub shown_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub record: AlertRecord,
    /// Every display inside the area, with what it confirmed.
    pub receipts: Vec<Receipt>,
}

fn load(c: &Connection, id: &str) -> Result<AlertRecord, ApiError> {
    find(c, id)?.ok_or_else(|| ApiError::NotFound(format!("alert {id:?}")))
}

fn find(c: &Connection, id: &str) -> Result<Option<AlertRecord>, ApiError> {
    let record = c
        .prepare_cached(
            "SELECT body, state, source, created_by, approved_by, bypass, created_at,
                    activated_at, cancelled_at, expired_at
               FROM alerts WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let body: String = r.get(0)?;
            let alert = serde_json::from_str(&body).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e))
            })?;
            Ok(AlertRecord {
                alert,
                state: AlertState::parse(&r.get::<_, String>(1)?),
                source: r.get(2)?,
                created_by: r.get(3)?,
                approved_by: r.get(4)?,
                bypass: r.get(5)?,
                created_at: r.get(6)?,
                activated_at: r.get(7)?,
                cancelled_at: r.get(8)?,
                expired_at: r.get(9)?,
            })
        })
        .optional()?;
    Ok(record)
}

/// Stores a new alert; false when one with its id exists already.
fn insert_row(
    tx: &Connection,
    alert: &Alert,
    state: AlertState,
    actor: &str,
    bypass: bool,
    source: &str,
) -> Result<bool, ApiError> {
    let now = crate::db::now_text();
    let n = tx.execute(
        "INSERT INTO alerts (id, body, state, source, created_by, bypass, created_at,
                             activated_at, expired_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
        rusqlite::params![
            alert.id,
            serde_json::to_string(alert)?,
            state.as_str(),
            source,
            actor,
            bypass,
            now,
            (state == AlertState::Active).then_some(&now),
            (state == AlertState::Expired).then_some(&now),
        ],
    )?;
    Ok(n == 1)
}

fn mark_cancelled(tx: &Connection, id: &str) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE alerts SET state = 'cancelled', cancelled_at = ?2 WHERE id = ?1",
        rusqlite::params![id, crate::db::now_text()],
    )?;
    Ok(())
}

/// The displays an alert reaches.
fn targets(displays: &[Display], alert: &Alert) -> BTreeSet<DisplayId> {
    displays
        .iter()
        .filter(|d| alert.covers(&d.location))
        .map(|d| d.id)
        .collect()
}

fn parse_alert(mut body: Value) -> Result<Alert, ApiError> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| ApiError::Invalid("alert must be a JSON object".into()))?;
    if !obj.contains_key("id") {
        let suffix: u32 = rand::thread_rng().gen_range(0..1_000_000);
        obj.insert(
            "id".into(),
            json!(format!(
                "manual-{}-{suffix:06}",
                Utc::now().format("%Y%m%dT%H%M%S")
            )),
        );
    }
    if !obj.contains_key("sent") {
        obj.insert("sent".into(), json!(Utc::now()));
    }
    let alert: Alert = serde_json::from_value(body)
        .map_err(|e| ApiError::Invalid(format!("invalid alert: {e}")))?;
    if alert.headline.trim().is_empty() {
        return Err(ApiError::Invalid("an alert needs a headline".into()));
    }
    if alert.area.is_empty() {
        return Err(ApiError::Invalid(
            "an alert needs an area (regional keys, polygons or circles)".into(),
        ));
    }
    if alert.id.is_empty() || alert.id.len() > 200 {
        return Err(ApiError::Invalid(
            "alert id must be 1..=200 characters".into(),
        ));
    }
    if alert.expires.is_some_and(|e| e <= alert.sent) {
        return Err(ApiError::Invalid(
            "the alert expires before it was sent".into(),
        ));
    }
    Ok(alert)
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewAlert>,
) -> ApiResult<(StatusCode, Json<AlertRecord>)> {
    // Editors propose; only a publisher may send at once without approval.
    staff.require(Role::Editor)?;
    if req.bypass_approval {
        staff.require(Role::Publisher)?;
    }
    let alert = parse_alert(req.alert)?;
    let reason = req.bypass_reason.unwrap_or_default();
    if req.bypass_approval && reason.trim().is_empty() {
        return Err(ApiError::Invalid(
            "bypassing approval needs a reason".into(),
        ));
    }
    let actor = staff.username.clone();
    let bypass = req.bypass_approval;
    let id = alert.id.clone();
    let (record, displays) =
        s.db.transaction(move |tx| {
            let state = if bypass {
                AlertState::Active
            } else {
                AlertState::Pending
            };
            if !insert_row(tx, &alert, state, &actor, bypass, "staff")? {
                return Err(ApiError::Conflict(format!(
                    "alert {:?} exists already",
                    alert.id
                )));
            }
            let action = if bypass {
                "alert.send_bypassing_approval"
            } else {
                "alert.propose"
            };
            crate::audit::record(
                tx,
                &actor,
                action,
                &format!("alert {}", alert.id),
                json!({ "headline": alert.headline, "severity": alert.severity, "reason": reason }),
            )?;
            let displays: Vec<Display> = store::all(tx)?;
            Ok((load(tx, &alert.id)?, displays))
        })
        .await?;
    if bypass {
        send(&s.hub, &record.alert, &displays);
        tracing::warn!(alert = %id, by = %staff.username, "alert sent bypassing approval");
    }
    Ok((StatusCode::CREATED, Json(record)))
}

/// Pushes an alert to the connected displays inside its area; returns how many got it.
pub fn send(hub: &Hub, alert: &Alert, displays: &[Display]) -> usize {
    if alert.status == AlertStatus::Test {
        return 0;
    }
    let id = hub.message_id(AckKind::Alert {
        alert_id: alert.id.clone(),
    });
    let msg = Hub::encode(&ServerMessage::AlertStart {
        id,
        alert: alert.clone(),
    });
    hub.push(targets(displays, alert).iter(), &msg)
}

/// Takes an alert off the screens of the connected displays inside its area.
pub fn push_cancel(hub: &Hub, alert: &Alert, displays: &[Display]) -> usize {
    let id = hub.message_id(AckKind::Other);
    let msg = Hub::encode(&ServerMessage::AlertCancel {
        id,
        alert_id: alert.id.clone(),
    });
    hub.push(targets(displays, alert).iter(), &msg)
}

/// What an official message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestResult {
    /// A new alert was stored (and sent, unless a test or already expired).
    Created,
    /// The same alert arrived again; nothing changed.
    Unchanged,
    /// The same identifier from the same source with new content replaced it.
    Replaced,
    /// A Cancel cancelled the referenced alerts.
    Cancelled,
}

#[derive(Debug, Serialize)]
pub struct IngestOutcome {
    pub result: IngestResult,
    pub alert_id: String,
    /// Alerts an Update replaced or a Cancel cancelled.
    pub cancelled: Vec<String>,
    /// Connected displays the new alert was pushed to.
    pub sent_to: usize,
}

/// Stores and delivers an alert from an official feed, without approval.
///
/// `Alert` stores it; `Update` stores it and cancels the alerts it references
/// (screens swap the old for the new); `Cancel` cancels the referenced alerts.
/// Idempotent: the same message again changes nothing, so pollers may repeat.
pub async fn ingest_official(
    state: &AppState,
    ingest: Ingest,
    source: &str,
    actor: &str,
) -> Result<IngestOutcome, ApiError> {
    let (source, actor) = (source.to_owned(), actor.to_owned());
    let now = Utc::now();
    let Ingest {
        msg_type,
        alert,
        references,
    } = ingest;
    let (outcome, to_send, to_cancel, replaced, displays) = state
        .db
        .transaction(move |tx| {
            let mut cancelled = Vec::new();
            let mut to_cancel = Vec::new();
            let mut known = 0;
            for r in references.iter().filter(|r| **r != alert.id) {
                let Some(old) = find(tx, r)? else { continue };
                known += 1;
                if matches!(old.state, AlertState::Pending | AlertState::Active) {
                    mark_cancelled(tx, r)?;
                    let action = match msg_type {
                        MsgType::Update => "alert.replace",
                        _ => "alert.cancel",
                    };
                    crate::audit::record(tx, &actor, action, &format!("alert {r}"),
                        json!({ "by": alert.id, "source": source }))?;
                    cancelled.push(r.clone());
                    if old.state == AlertState::Active {
                        to_cancel.push(old.alert);
                    }
                }
            }
            let mut to_send = None;
            let mut replaced = None;
            let result = if msg_type == MsgType::Cancel {
                if known == 0 {
                    return Err(ApiError::NotFound(format!(
                        "none of the referenced alerts {references:?}"
                    )));
                }
                IngestResult::Cancelled
            } else {
                let live = alert.is_active_at(now);
                match find(tx, &alert.id)? {
                    None => {
                        let state = if live { AlertState::Active } else { AlertState::Expired };
                        insert_row(tx, &alert, state, &actor, false, &source)?;
                        crate::audit::record(tx, &actor, "alert.ingest", &format!("alert {}", alert.id),
                            json!({ "headline": alert.headline, "severity": alert.severity, "source": source }))?;
                        to_send = live.then(|| alert.clone());
                        IngestResult::Created
                    }
                    Some(old) if old.alert == alert => IngestResult::Unchanged,
                    Some(old) if old.source == source => {
                        tx.execute("UPDATE alerts SET body = ?2 WHERE id = ?1",
                            rusqlite::params![alert.id, serde_json::to_string(&alert)?])?;
                        crate::audit::record(tx, &actor, "alert.ingest_update", &format!("alert {}", alert.id),
                            json!({ "headline": alert.headline, "source": source }))?;
                        if old.state == AlertState::Active {
                            if live {
                                to_send = Some(alert.clone());
                            }
                            replaced = Some(old.alert);
                        }
                        IngestResult::Replaced
                    }
                    Some(old) => {
                        return Err(ApiError::Conflict(format!(
                            "alert {:?} exists already from {}", alert.id, old.source
                        )));
                    }
                }
            };
            let displays: Vec<Display> = store::all(tx)?;
            let outcome = IngestOutcome { result, alert_id: alert.id, cancelled, sent_to: 0 };
            Ok((outcome, to_send, to_cancel, replaced, displays))
        })
        .await?;
    for old in &to_cancel {
        push_cancel(&state.hub, old, &displays);
    }
    // A replacement that no longer reaches a display takes it off that screen.
    if let Some(old) = &replaced {
        let still: BTreeSet<DisplayId> = match &to_send {
            Some(new) if new.status != AlertStatus::Test => targets(&displays, new),
            _ => BTreeSet::new(),
        };
        let gone: Vec<DisplayId> = targets(&displays, old)
            .difference(&still)
            .copied()
            .collect();
        if !gone.is_empty() {
            let id = state.hub.message_id(AckKind::Other);
            let msg = Hub::encode(&ServerMessage::AlertCancel {
                id,
                alert_id: old.id.clone(),
            });
            state.hub.push(gone.iter(), &msg);
        }
    }
    let sent_to = to_send.map_or(0, |a| send(&state.hub, &a, &displays));
    Ok(IngestOutcome { sent_to, ..outcome })
}

/// Ids of the active alerts from `source`.
pub async fn active_from(state: &AppState, source: &str) -> Result<Vec<String>, ApiError> {
    let source = source.to_owned();
    state
        .db
        .call(move |c| {
            let ids = c
                .prepare_cached("SELECT id FROM alerts WHERE state = 'active' AND source = ?1")?
                .query_map([source], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
        .await
}

/// Cancels alerts a feed withdrew (pending or active ones; others are left) and
/// takes them off the screens; returns the ids it cancelled.
pub async fn cancel_official(
    state: &AppState,
    ids: &[String],
    actor: &str,
) -> Result<Vec<String>, ApiError> {
    let (ids, actor) = (ids.to_vec(), actor.to_owned());
    let (cancelled, displays) = state
        .db
        .transaction(move |tx| {
            let mut cancelled = Vec::new();
            for id in &ids {
                let Some(old) = find(tx, id)? else { continue };
                if matches!(old.state, AlertState::Pending | AlertState::Active) {
                    mark_cancelled(tx, id)?;
                    crate::audit::record(
                        tx,
                        &actor,
                        "alert.withdrawn",
                        &format!("alert {id}"),
                        json!({}),
                    )?;
                    cancelled.push(old);
                }
            }
            let displays: Vec<Display> = store::all(tx)?;
            Ok((cancelled, displays))
        })
        .await?;
    for old in cancelled.iter().filter(|r| r.state == AlertState::Active) {
        push_cancel(&state.hub, &old.alert, &displays);
    }
    Ok(cancelled.into_iter().map(|r| r.alert.id).collect())
}

/// Marks active alerts whose `expires` has passed as expired and takes them
/// off the screens; returns their ids.
pub async fn expire_due(state: &AppState) -> Result<Vec<String>, ApiError> {
    let now = Utc::now();
    let (expired, displays) = state
        .db
        .transaction(move |tx| {
            let bodies: Vec<String> = tx
                .prepare_cached("SELECT body FROM alerts WHERE state = 'active'")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut expired = Vec::new();
            for b in bodies {
                let a: Alert = serde_json::from_str(&b)?;
                if !a.is_active_at(now) {
                    tx.execute(
                        "UPDATE alerts SET state = 'expired', expired_at = ?2 WHERE id = ?1",
                        rusqlite::params![a.id, crate::db::now_text()],
                    )?;
                    expired.push(a);
                }
            }
            let displays: Vec<Display> = if expired.is_empty() {
                Vec::new()
            } else {
                store::all(tx)?
            };
            Ok((expired, displays))
        })
        .await?;
    for a in &expired {
        push_cancel(&state.hub, a, &displays);
        tracing::info!(alert = %a.id, "alert expired");
    }
    Ok(expired.into_iter().map(|a| a.id).collect())
}

/// Runs [`expire_due`] every `alert_expiry_ms`.
pub async fn expiry_sweeper(state: AppState) {
    let period = std::time::Duration::from_millis(state.config.alert_expiry_ms.max(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = expire_due(&state).await {
            tracing::error!("alert expiry sweep failed: {e}");
        }
    }
}

async fn approve(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertRecord>> {
    staff.require(Role::Publisher)?;
    let actor = staff.username.clone();
    let (record, displays) = s
        .db
        .transaction(move |tx| {
            let record = load(tx, &id)?;
            if record.state != AlertState::Pending {
                return Err(ApiError::Conflict(format!("alert {id:?} is {:?}, not pending", record.state)));
            }
            if record.created_by == actor {
                return Err(ApiError::Forbidden("a second person must approve an alert".into()));
            }
            tx.execute(
                "UPDATE alerts SET state = 'active', approved_by = ?2, activated_at = ?3 WHERE id = ?1",
                rusqlite::params![id, actor, crate::db::now_text()],
            )?;
            crate::audit::record(tx, &actor, "alert.approve", &format!("alert {id}"), json!({}))?;
            let displays: Vec<Display> = store::all(tx)?;
            Ok((load(tx, &id)?, displays))
        })
        .await?;
    send(&s.hub, &record.alert, &displays);
    Ok(Json(record))
}

async fn cancel(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertRecord>> {
    staff.require(Role::Publisher)?;
    let actor = staff.username.clone();
    let (record, was_active, displays) =
        s.db.transaction(move |tx| {
            let record = load(tx, &id)?;
            if matches!(record.state, AlertState::Cancelled | AlertState::Expired) {
                return Err(ApiError::Conflict(format!(
                    "alert {id:?} is {} already",
                    record.state.as_str()
                )));
            }
            mark_cancelled(tx, &id)?;
            crate::audit::record(
                tx,
                &actor,
                "alert.cancel",
                &format!("alert {id}"),
                json!({}),
            )?;
            let displays: Vec<Display> = store::all(tx)?;
            Ok((load(tx, &id)?, record.state == AlertState::Active, displays))
        })
        .await?;
    if was_active {
        push_cancel(&s.hub, &record.alert, &displays);
    }
    Ok(Json(record))
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<AlertRecord>>> {
    staff.require(Role::Viewer)?;
    let records =
        s.db.call(|c| {
            let ids: Vec<String> = c
                .prepare("SELECT id FROM alerts ORDER BY created_at DESC LIMIT 500")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            ids.iter().map(|id| load(c, id)).collect()
        })
        .await?;
    Ok(Json(records))
}

async fn read(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertDetail>> {
    staff.require(Role::Viewer)?;
    let detail = s
        .db
        .call(move |c| {
            let record = load(c, &id)?;
            let displays: Vec<Display> = store::all(c)?;
            let mut stmt =
                c.prepare_cached("SELECT received_at, shown_at FROM alert_receipts WHERE alert_id = ?1 AND display_id = ?2")?;
            let targeted = targets(&displays, &record.alert);
            let mut receipts = Vec::new();
            for d in displays.iter().filter(|d| targeted.contains(&d.id)) {
                let (received_at, shown_at) = stmt
                    .query_row(rusqlite::params![id, d.id.0], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .unwrap_or((None, None));
                receipts.push(Receipt { display_id: d.id, display_name: d.name.clone(), received_at, shown_at });
            }
            Ok(AlertDetail { record, receipts })
        })
        .await?;
    Ok(Json(detail))
}

/// The active, unexpired alerts that reach `display` (sent again on reconnect).
pub async fn active_for(state: &AppState, display: DisplayId) -> Result<Vec<Alert>, ApiError> {
    state
        .db
        .call(move |c| {
            let d: Display = store::get(c, display.0)?;
            let bodies: Vec<String> = c
                .prepare_cached(
                    "SELECT body FROM alerts WHERE state = 'active' ORDER BY activated_at",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let now = Utc::now();
            let mut out = Vec::new();
            for b in bodies {
                let a: Alert = serde_json::from_str(&b)?;
                if a.is_active_at(now) && a.status != AlertStatus::Test && a.covers(&d.location) {
                    out.push(a);
                }
            }
            Ok(out)
        })
        .await
}
