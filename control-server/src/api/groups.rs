//! Display groups: named sets of displays ("Rathausplätze") that schedules target.
//! Membership is part of each display's `groups` list.

use crate::auth::{Role, Staff};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/groups", get(list).post(create))
        .route("/api/groups/{name}", delete(remove))
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<Group>>> {
    staff.require(Role::Viewer)?;
    let groups =
        s.db.call(|c| {
            let mut stmt = c.prepare("SELECT name, description FROM groups ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(Group {
                    name: r.get(0)?,
                    description: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(groups))
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(g): ApiJson<Group>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    staff.require(Role::Editor)?;
    let name = g.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::Invalid(
            "a group name needs 1 to 100 characters".into(),
        ));
    }
    let group = Group {
        name,
        description: g.description,
    };
    let out = group.clone();
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        let n = tx.execute(
            "INSERT INTO groups (name, description) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            rusqlite::params![group.name, group.description],
        )?;
        if n == 0 {
            return Err(ApiError::Conflict(format!(
                "group {:?} exists already",
                group.name
            )));
        }
        crate::audit::record(
            tx,
            &actor,
            "group.create",
            &format!("group {}", group.name),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Editor)?;
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        let schedules: Vec<content::schedule::Schedule> = crate::store::all(tx)?;
        let target = content::schedule::Target::Group(name.clone());
        if let Some(s) = schedules.iter().find(|s| s.targets.contains(&target)) {
            return Err(ApiError::Conflict(format!(
                "group {name:?} is targeted by schedule {:?}",
                s.name
            )));
        }
        if tx.execute("DELETE FROM groups WHERE name = ?1", [&name])? == 0 {
            return Err(ApiError::NotFound(format!("group {name:?}")));
        }
        crate::audit::record(
            tx,
            &actor,
            "group.delete",
            &format!("group {name}"),
            json!({}),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
