//! Create/read/update/delete for the content objects stored as JSON: items,
//! layouts and schedules. One generic implementation; each type says how it is
//! validated, what must not be deleted from under it, and which displays a
//! change to it touches.

use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::manifests;
use crate::state::AppState;
use crate::store::{self, Stored};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use content::model::{ContentItem, Display, Layout};
use content::schedule::Schedule;
use content::{DisplayId, ItemId};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub trait Resource: Stored + Clone {
    /// Checks the object against the rest of the data (referenced ids exist).
    fn validate(&self, c: &Connection) -> Result<(), ApiError>;
    /// Refuses deletion while something still uses the object.
    fn check_unused(c: &Connection, id: i64) -> Result<(), ApiError>;
    /// The displays whose manifest depends on this object.
    fn affected(
        &self,
        c: &Connection,
        displays: &[Display],
    ) -> Result<BTreeSet<DisplayId>, ApiError>;
    /// After a create or update, in its transaction (an item's approval).
    fn saved(&self, _c: &Connection, _by: &Staff) -> Result<(), ApiError> {
        Ok(())
    }
}

impl Resource for ContentItem {
    fn saved(&self, c: &Connection, by: &Staff) -> Result<(), ApiError> {
        crate::approval::on_save(c, self, by)
    }

    fn validate(&self, c: &Connection) -> Result<(), ApiError> {
        if self.name.trim().is_empty() {
            return Err(ApiError::Invalid("an item needs a name".into()));
        }
        if !(1..=86_400).contains(&self.duration_s) {
            return Err(ApiError::Invalid("duration_s must be 1..=86400".into()));
        }
        if let (Some(f), Some(e)) = (self.valid_from, self.expires_at)
            && e <= f
        {
            return Err(ApiError::Invalid(
                "the item expires before it becomes valid".into(),
            ));
        }
        for asset in self.assets() {
            if !asset.is_well_formed() {
                return Err(ApiError::Invalid(format!(
                    "asset reference {:?} is not a SHA-256",
                    asset.sha256
                )));
            }
            let known: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM assets WHERE sha256 = ?1 AND size = ?2)",
                rusqlite::params![asset.sha256, asset.size as i64],
                |r| r.get(0),
            )?;
            if !known {
                return Err(ApiError::Invalid(format!(
                    "asset {} ({} bytes) was never uploaded",
                    asset.sha256, asset.size
                )));
            }
        }
        Ok(())
    }

    fn check_unused(c: &Connection, id: i64) -> Result<(), ApiError> {
        let users: Vec<String> = store::all::<Schedule>(c)?
            .into_iter()
            .filter(|s| s.entries.iter().any(|e| e.item == ItemId(id)))
            .map(|s| format!("{} ({})", s.name, s.id))
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Conflict(format!(
                "item {id} is still scheduled by: {}",
                users.join(", ")
            )))
        }
    }

    fn affected(
        &self,
        c: &Connection,
        displays: &[Display],
    ) -> Result<BTreeSet<DisplayId>, ApiError> {
        manifests::playing(c, displays, &[self.id])
    }
}

impl Resource for Layout {
    fn validate(&self, _: &Connection) -> Result<(), ApiError> {
        self.validate().map_err(ApiError::Invalid)
    }

    fn check_unused(c: &Connection, id: i64) -> Result<(), ApiError> {
        let users: Vec<String> = store::all::<Display>(c)?
            .into_iter()
            .filter(|d| d.layout_id.is_some_and(|l| l.0 == id))
            .map(|d| d.name)
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Conflict(format!(
                "layout {id} is used by: {}",
                users.join(", ")
            )))
        }
    }

    fn affected(
        &self,
        _: &Connection,
        displays: &[Display],
    ) -> Result<BTreeSet<DisplayId>, ApiError> {
        Ok(displays
            .iter()
            .filter(|d| d.layout_id == Some(self.id))
            .map(|d| d.id)
            .collect())
    }
}

impl Resource for Schedule {
    fn validate(&self, c: &Connection) -> Result<(), ApiError> {
        if self.name.trim().is_empty() {
            return Err(ApiError::Invalid("a schedule needs a name".into()));
        }
        Schedule::validate(self).map_err(|e| ApiError::Invalid(e.to_string()))?;
        for e in &self.entries {
            if store::find::<ContentItem>(c, e.item.0)?.is_none() {
                return Err(ApiError::Invalid(format!("unknown item {}", e.item)));
            }
        }
        for t in &self.targets {
            let known = match t {
                content::schedule::Target::All => true,
                content::schedule::Target::Display(d) => store::find::<Display>(c, d.0)?.is_some(),
                content::schedule::Target::Group(g) => c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1)",
                    [g],
                    |r| r.get(0),
                )?,
                content::schedule::Target::Tag(_) => true,
            };
            if !known {
                return Err(ApiError::Invalid(format!("unknown target {t:?}")));
            }
        }
        Ok(())
    }

    fn check_unused(_: &Connection, _: i64) -> Result<(), ApiError> {
        Ok(())
    }

    fn affected(
        &self,
        _: &Connection,
        displays: &[Display],
    ) -> Result<BTreeSet<DisplayId>, ApiError> {
        Ok(manifests::targeted(displays, &self.targets))
    }
}

pub fn routes<R: Resource>(path: &str) -> Router<AppState> {
    Router::new()
        .route(path, get(list::<R>).post(create::<R>))
        .route(
            &format!("{path}/{{id}}"),
            get(read::<R>).put(replace::<R>).delete(remove::<R>),
        )
}

async fn list<R: Resource>(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<R>>> {
    staff.require(Role::Viewer)?;
    Ok(Json(s.db.call(|c| store::all::<R>(c)).await?))
}

async fn read<R: Resource>(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<R>> {
    staff.require(Role::Viewer)?;
    Ok(Json(s.db.call(move |c| store::get::<R>(c, id)).await?))
}

/// Parses a request body into `R`, taking the id from the path (or 0 for a new
/// object) so clients need not send one.
pub(crate) fn parse<R: Stored>(mut body: Value, id: i64) -> Result<R, ApiError> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| ApiError::Invalid(format!("expected a JSON object for a {}", R::NOUN)))?;
    obj.insert("id".into(), json!(id));
    serde_json::from_value(body).map_err(|e| ApiError::Invalid(format!("invalid {}: {e}", R::NOUN)))
}

/// Applies a change in one transaction: the write, the audit entry and the
/// version bump of every display it touches; then tells those displays.
async fn commit<R: Resource>(
    s: &AppState,
    staff: &Staff,
    verb: &'static str,
    change: impl FnOnce(&Connection) -> Result<(Option<R>, Option<R>), ApiError> + Send + 'static,
) -> ApiResult<Option<R>> {
    let actor = staff.username.clone();
    let (result, touched, version) =
        s.db.transaction(move |tx| {
            let (before, after) = change(tx)?;
            let displays: Vec<Display> = store::all(tx)?;
            let mut touched = BTreeSet::new();
            for v in before.iter().chain(after.iter()) {
                touched.extend(v.affected(tx, &displays)?);
            }
            let version = manifests::bump(tx, &touched)?;
            let subject = after
                .as_ref()
                .or(before.as_ref())
                .ok_or_else(|| ApiError::internal("empty change"))?;
            crate::audit::record(
                tx,
                &actor,
                &format!("{}.{verb}", R::NOUN),
                &format!("{} {}", R::NOUN, subject.id()),
                json!({ "name": subject.name() }),
            )?;
            Ok((after, touched, version))
        })
        .await?;
    manifests::announce(&s.hub, &touched, version);
    Ok(result)
}

fn changed<R>(value: Option<R>) -> ApiResult<R> {
    value.ok_or_else(|| ApiError::internal("change returned nothing"))
}

async fn create<R: Resource>(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<R>)> {
    staff.require(Role::Editor)?;
    let mut value: R = parse(body, 0)?;
    let by = staff.clone();
    let created = commit::<R>(&s, &staff, "create", move |c| {
        value.validate(c)?;
        store::insert(c, &mut value)?;
        value.saved(c, &by)?;
        Ok((None, Some(value)))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(changed(created)?)))
}

async fn replace<R: Resource>(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<R>> {
    staff.require(Role::Editor)?;
    let value: R = parse(body, id)?;
    let by = staff.clone();
    let updated = commit::<R>(&s, &staff, "update", move |c| {
        let before = store::get::<R>(c, id)?;
        value.validate(c)?;
        store::update(c, &value)?;
        value.saved(c, &by)?;
        Ok((Some(before), Some(value)))
    })
    .await?;
    Ok(Json(changed(updated)?))
}

async fn remove<R: Resource>(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Editor)?;
    commit::<R>(&s, &staff, "delete", move |c| {
        let before = store::get::<R>(c, id)?;
        R::check_unused(c, id)?;
        store::delete::<R>(c, id)?;
        Ok((Some(before), None))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
