//! Manual alerts from staff, and the delivery of every alert to the displays
//! inside its area.
//!
//! A publisher composes an alert; a second publisher approves it, and only then
//! is it sent. In an emergency the author may bypass approval by giving a
//! reason, which the audit log records. `Test` alerts are stored but never sent
//! to screens; `Exercise` alerts are sent and shown marked as a drill.

use crate::auth::{Role, Staff};
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
}

impl AlertState {
    fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Active => "active",
            AlertState::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> AlertState {
        match s {
            "active" => AlertState::Active,
            "cancelled" => AlertState::Cancelled,
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
    pub created_by: String,
    pub approved_by: Option<String>,
    pub bypass: bool,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub cancelled_at: Option<String>,
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
    c.query_row(
        "SELECT body, state, created_by, approved_by, bypass, created_at, activated_at, cancelled_at
           FROM alerts WHERE id = ?1",
        [id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        },
    )
    .optional()?
    .ok_or_else(|| ApiError::NotFound(format!("alert {id:?}")))
    .and_then(|(body, state, created_by, approved_by, bypass, created_at, activated_at, cancelled_at)| {
        Ok(AlertRecord {
            alert: serde_json::from_str(&body)?,
            state: AlertState::parse(&state),
            created_by,
            approved_by,
            bypass,
            created_at,
            activated_at,
            cancelled_at,
        })
    })
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
    staff.require(Role::Publisher)?;
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
            let now = crate::db::now_text();
            let state = if bypass {
                AlertState::Active
            } else {
                AlertState::Pending
            };
            let n = tx.execute(
                "INSERT INTO alerts (id, body, state, created_by, bypass, created_at, activated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                rusqlite::params![
                    alert.id,
                    serde_json::to_string(&alert)?,
                    state.as_str(),
                    actor,
                    bypass,
                    now,
                    bypass.then_some(&now)
                ],
            )?;
            if n == 0 {
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
            if record.state == AlertState::Cancelled {
                return Err(ApiError::Conflict(format!(
                    "alert {id:?} is cancelled already"
                )));
            }
            tx.execute(
                "UPDATE alerts SET state = 'cancelled', cancelled_at = ?2 WHERE id = ?1",
                rusqlite::params![id, crate::db::now_text()],
            )?;
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
        let msg_id = s.hub.message_id(AckKind::Other);
        let msg = Hub::encode(&ServerMessage::AlertCancel {
            id: msg_id,
            alert_id: record.alert.id.clone(),
        });
        s.hub.push(targets(&displays, &record.alert).iter(), &msg);
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
