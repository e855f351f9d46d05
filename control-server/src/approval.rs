//! Content approval (an editor proposes, a publisher approves), where the town
//! switches it on (`PUT /api/content/approval`, admin).
//!
//! An approval names the hash of the item's JSON as approved, so an edit after
//! it needs approving again without any hook remembering to revoke it. While
//! approval is on, manifests leave out every item without a matching approval
//! (the schedule skips it, as it skips an expired one). Saves by a publisher or
//! admin approve themselves; turning the switch on or off, and each approval,
//! bump the manifests of the displays concerned.

use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::manifests;
use crate::state::AppState;
use crate::store;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use content::ItemId;
use content::model::{ContentItem, Display};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/content/approval", get(settings).put(put_settings))
        .route("/api/items/approvals", get(list))
        .route("/api/items/{id}/approve", post(approve))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub approval_required: bool,
}

pub fn required(c: &Connection) -> Result<bool, ApiError> {
    Ok(c.query_row(
        "SELECT approval_required FROM content_settings WHERE id = 1",
        [],
        |r| r.get(0),
    )?)
}

fn hash(item: &ContentItem) -> Result<String, ApiError> {
    let bytes = serde_json::to_vec(item).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Records `item`, as it is now, as approved by `by`.
pub fn record(c: &Connection, item: &ContentItem, by: &str) -> Result<(), ApiError> {
    c.execute(
        "INSERT INTO content_approvals (item_id, content_hash, approved_by, approved_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (item_id) DO UPDATE SET content_hash = excluded.content_hash,
             approved_by = excluded.approved_by, approved_at = excluded.approved_at",
        rusqlite::params![item.id.0, hash(item)?, by, crate::db::now_text()],
    )?;
    Ok(())
}

/// Called by every item save: a publisher's own save approves what it saved.
pub fn on_save(c: &Connection, item: &ContentItem, staff: &Staff) -> Result<(), ApiError> {
    if staff.role >= Role::Publisher {
        record(c, item, &staff.username)?;
    }
    Ok(())
}

/// (by, at) of each item whose approval matches its current content.
fn current(
    c: &Connection,
    items: &[ContentItem],
) -> Result<BTreeMap<ItemId, (String, String)>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT content_hash, approved_by, approved_at FROM content_approvals WHERE item_id = ?1",
    )?;
    let mut out = BTreeMap::new();
    for item in items {
        let row = stmt
            .query_row([item.id.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        if let Some((h, by, at)) = row
            && h == hash(item)?
        {
            out.insert(item.id, (by, at));
        }
    }
    Ok(out)
}

/// The items a manifest may play: all of them, or while approval is on, the
/// approved ones.
pub fn playable(c: &Connection, items: Vec<ContentItem>) -> Result<Vec<ContentItem>, ApiError> {
    if !required(c)? {
        return Ok(items);
    }
    let approved = current(c, &items)?;
    Ok(items
        .into_iter()
        .filter(|i| approved.contains_key(&i.id))
        .collect())
}

async fn settings(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Settings>> {
    staff.require(Role::Viewer)?;
    let approval_required = s.db.call(|c| required(c)).await?;
    Ok(Json(Settings { approval_required }))
}

/// PUT /api/content/approval (admin): switches approval on or off; every
/// display's manifest follows.
async fn put_settings(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(new): ApiJson<Settings>,
) -> ApiResult<Json<Settings>> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    let (all, version) =
        s.db.transaction(move |tx| {
            tx.execute(
                "UPDATE content_settings SET approval_required = ?1 WHERE id = 1",
                [new.approval_required],
            )?;
            crate::audit::record(
                tx,
                &actor,
                "content.approval_setting",
                "content",
                json!({ "approval_required": new.approval_required }),
            )?;
            let displays: Vec<Display> = store::all(tx)?;
            let all: BTreeSet<_> = displays.iter().map(|d| d.id).collect();
            let version = manifests::bump(tx, &all)?;
            Ok((all, version))
        })
        .await?;
    manifests::announce(&s.hub, &all, version);
    Ok(Json(new))
}

#[derive(Debug, Serialize)]
struct Approval {
    item: ItemId,
    approved: bool,
    approved_by: Option<String>,
    approved_at: Option<String>,
}

/// GET /api/items/approvals: each item's approval state (for its current content).
async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<Approval>>> {
    staff.require(Role::Viewer)?;
    let rows =
        s.db.call(|c| {
            let items: Vec<ContentItem> = store::all(c)?;
            let approved = current(c, &items)?;
            Ok(items
                .iter()
                .map(|i| {
                    let found = approved.get(&i.id);
                    Approval {
                        item: i.id,
                        approved: found.is_some(),
                        approved_by: found.map(|f| f.0.clone()),
                        approved_at: found.map(|f| f.1.clone()),
                    }
                })
                .collect())
        })
        .await?;
    Ok(Json(rows))
}

/// POST /api/items/{id}/approve (publisher): approves the item as it is now.
async fn approve(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    staff.require(Role::Publisher)?;
    let actor = staff.username.clone();
    let (touched, version) =
        s.db.transaction(move |tx| {
            let item: ContentItem = store::get(tx, id)?;
            record(tx, &item, &actor)?;
            crate::audit::record(
                tx,
                &actor,
                "item.approve",
                &format!("item {id}"),
                json!({ "name": item.name }),
            )?;
            let displays: Vec<Display> = store::all(tx)?;
            let touched = manifests::playing(tx, &displays, &[item.id])?;
            let version = manifests::bump(tx, &touched)?;
            Ok((touched, version))
        })
        .await?;
    manifests::announce(&s.hub, &touched, version);
    Ok(Json(
        json!({ "item": id, "approved": true, "approved_by": staff.username }),
    ))
}
