//! Staff accounts (admin only) and the first admin at startup.
//!
//! Invariant: at least one enabled admin exists once the first one was
//! created; removing, demoting or disabling the last one is refused (409).
//! Disabling an account or changing its password ends all its sessions and
//! revokes its API tokens. Every change is audited in its own transaction.

use super::{Role, Staff, password};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub const LANGUAGES: [&str; 2] = ["de", "en"];
pub const DEFAULT_LANGUAGE: &str = "de";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list).post(create))
        .route("/api/users/{id}", put(update).delete(remove))
}

#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub language: String,
    pub disabled: bool,
    pub created_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

/// Lowercases a username and checks it: 1 to 64 of `a-z 0-9 . _ -`.
pub fn normalize_username(raw: &str) -> Result<String, ApiError> {
    let name = raw.to_lowercase();
    let len = name.chars().count();
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    if !(1..=64).contains(&len) || !name.chars().all(allowed) {
        return Err(ApiError::Invalid(
            "a username needs 1 to 64 characters from a-z, 0-9, '.', '_' and '-'".into(),
        ));
    }
    Ok(name)
}

pub(super) fn check_language(language: &str) -> Result<(), ApiError> {
    if LANGUAGES.contains(&language) {
        Ok(())
    } else {
        Err(ApiError::Invalid(format!(
            "unknown language {language:?}; use \"de\" or \"en\""
        )))
    }
}

fn user_by_id(c: &Connection, id: i64) -> Result<Option<UserInfo>, ApiError> {
    let row = c
        .query_row(
            "SELECT id, username, role, language, disabled, created_at FROM users WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()?;
    row.map(|(id, username, role, language, disabled, created_at)| {
        Ok(UserInfo {
            id,
            username,
            role: role.parse()?,
            language,
            disabled,
            created_at,
        })
    })
    .transpose()
}

/// Enabled admins other than `id`.
fn other_enabled_admins(c: &Connection, id: i64) -> Result<i64, ApiError> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?1",
        [id],
        |r| r.get(0),
    )?)
}

fn refuse_last_admin(c: &Connection, user: &UserInfo, what: &str) -> Result<(), ApiError> {
    if user.role == Role::Admin && !user.disabled && other_enabled_admins(c, user.id)? == 0 {
        return Err(ApiError::Conflict(format!(
            "cannot {what} {:?}: it is the last enabled admin",
            user.username
        )));
    }
    Ok(())
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<UserInfo>>> {
    staff.require(Role::Admin)?;
    let users =
        s.db.call(|c| {
            let ids: Vec<i64> = c
                .prepare("SELECT id FROM users ORDER BY username")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(user_by_id(c, id)?);
            }
            Ok(out)
        })
        .await?;
    Ok(Json(users))
}

async fn create(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserInfo>)> {
    staff.require(Role::Admin)?;
    let username = normalize_username(&req.username)?;
    let language = req.language.unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned());
    check_language(&language)?;
    password::validate_new(&req.password)?;
    let hash = password::hash(&s, req.password).await?;
    let (actor, role) = (staff.username.clone(), req.role);
    let user =
        s.db.transaction(move |tx| {
            let n = tx.execute(
                "INSERT INTO users (username, password_hash, role, language, disabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT (username) DO NOTHING",
                rusqlite::params![
                    username,
                    hash,
                    role.as_str(),
                    language,
                    crate::db::now_text()
                ],
            )?;
            if n == 0 {
                return Err(ApiError::Conflict(format!(
                    "user {username:?} exists already"
                )));
            }
            let id = tx.last_insert_rowid();
            crate::audit::record(
                tx,
                &actor,
                "user.create",
                &format!("user {username}"),
                json!({ "id": id, "role": role, "language": language }),
            )?;
            let user =
                user_by_id(tx, id)?.ok_or_else(|| ApiError::internal("created user vanished"))?;
            Ok(user)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn update(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<UserUpdate>,
) -> ApiResult<Json<UserInfo>> {
    staff.require(Role::Admin)?;
    if let Some(l) = &req.language {
        check_language(l)?;
    }
    let hash = match req.password {
        Some(p) => {
            password::validate_new(&p)?;
            Some(password::hash(&s, p).await?)
        }
        None => None,
    };
    let actor = staff.username.clone();
    let user =
        s.db.transaction(move |tx| {
            let cur =
                user_by_id(tx, id)?.ok_or_else(|| ApiError::NotFound(format!("user {id}")))?;
            let role = req.role.unwrap_or(cur.role);
            let disabled = req.disabled.unwrap_or(cur.disabled);
            let language = req.language.unwrap_or_else(|| cur.language.clone());
            if role != Role::Admin {
                refuse_last_admin(tx, &cur, "demote")?;
            }
            if disabled {
                refuse_last_admin(tx, &cur, "disable")?;
            }
            tx.execute(
                "UPDATE users SET role = ?2, language = ?3, disabled = ?4,
                        password_hash = COALESCE(?5, password_hash)
                  WHERE id = ?1",
                rusqlite::params![id, role.as_str(), language, disabled, hash],
            )?;
            let mut detail = Map::new();
            if role != cur.role {
                detail.insert("role".into(), json!({ "from": cur.role, "to": role }));
            }
            if language != cur.language {
                detail.insert(
                    "language".into(),
                    json!({ "from": cur.language, "to": language }),
                );
            }
            if disabled != cur.disabled {
                detail.insert("disabled".into(), json!(disabled));
            }
            if hash.is_some() {
                detail.insert("password_changed".into(), json!(true));
            }
            if disabled || hash.is_some() {
                let ended = tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
                if ended > 0 {
                    detail.insert("sessions_ended".into(), json!(ended));
                }
            }
            crate::audit::record(
                tx,
                &actor,
                "user.update",
                &format!("user {}", cur.username),
                Value::Object(detail),
            )?;
            let user =
                user_by_id(tx, id)?.ok_or_else(|| ApiError::internal("updated user vanished"))?;
            Ok(user)
        })
        .await?;
    Ok(Json(user))
}

async fn remove(
    staff: Staff,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    s.db.transaction(move |tx| {
        let cur = user_by_id(tx, id)?.ok_or_else(|| ApiError::NotFound(format!("user {id}")))?;
        refuse_last_admin(tx, &cur, "remove")?;
        // The foreign key cascades too; explicit so it does not depend on the pragma.
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
        tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
        crate::audit::record(
            tx,
            &actor,
            "user.delete",
            &format!("user {}", cur.username),
            json!({ "id": id, "role": cur.role }),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates the admin account "admin" when no user exists yet, with the
/// configured password or, without one, a random one printed once to stdout.
/// Does nothing when any user exists, so it is safe on every start.
pub async fn bootstrap_admin(state: &AppState) -> anyhow::Result<()> {
    // Make the dummy hash now rather than during the first login.
    tokio::task::spawn_blocking(|| {
        let _ = password::dummy_hash();
    });
    let empty = state
        .db
        .call(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))? == 0))
        .await?;
    if !empty {
        return Ok(());
    }
    let (secret, generated) = match state.config.admin_password.as_deref() {
        Some(p) if !p.is_empty() => (p.to_owned(), false),
        _ => (password::random_password(20), true),
    };
    if !generated && secret.chars().count() < password::MIN_LEN {
        tracing::warn!(
            "the configured admin password is shorter than {} characters; change it after logging in",
            password::MIN_LEN
        );
    }
    let hash = password::hash(state, secret.clone()).await?;
    let created = state
        .db
        .transaction(move |tx| {
            let n = tx.execute(
                "INSERT INTO users (username, password_hash, role, language, disabled, created_at)
                 SELECT 'admin', ?1, 'admin', ?2, 0, ?3 WHERE NOT EXISTS (SELECT 1 FROM users)",
                rusqlite::params![hash, DEFAULT_LANGUAGE, crate::db::now_text()],
            )?;
            if n == 1 {
                crate::audit::record(
                    tx,
                    "system",
                    "user.create",
                    "user admin",
                    json!({ "id": tx.last_insert_rowid(), "role": "admin", "bootstrap": true }),
                )?;
            }
            Ok(n == 1)
        })
        .await?;
    if created {
        if generated {
            println!("created admin user 'admin' with password {secret}");
            tracing::warn!(
                "created admin user 'admin' with a random password (printed once to stdout)"
            );
        } else {
            tracing::info!("created admin user 'admin' with the configured password");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            normalize_username("Anna.Schmidt_2-x").unwrap(),
            "anna.schmidt_2-x"
        );
        assert!(normalize_username("").is_err());
        assert!(normalize_username("has space").is_err());
        assert!(normalize_username("jürgen").is_err());
        assert!(normalize_username(&"a".repeat(64)).is_ok());
        assert!(normalize_username(&"a".repeat(65)).is_err());
    }
}
