//! Browser sessions: `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/me`.
//!
//! A login answers the same 401 for an unknown user, a wrong password and a
//! disabled account, and takes the same time for each (unknown users are
//! verified against a dummy hash). Rate-limited attempts are refused with 429
//! before any database access or hashing and are not audited (so a flood of
//! them cannot fill the audit log); every attempt that was actually checked is.

use super::limiter::Key;
use super::{SESSION_COOKIE, Staff, password};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use rand::RngCore;
use rusqlite::OptionalExtension;
use serde::Deserialize;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// How long a browser session lives.
pub const SESSION_HOURS: i64 = 12;

const BAD_CREDENTIALS: &str = "wrong username or password";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/me", get(me).put(update_me))
}

/// The peer address from axum's `ConnectInfo`, when the server was started with it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|ci| ci.0.ip()),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

struct Account {
    id: i64,
    username: String,
    password_hash: String,
    role: String,
    language: String,
    disabled: bool,
}

/// The `Set-Cookie` value for `token` (an empty token with `max_age` 0 clears it).
pub fn session_cookie(token: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    )
}

fn random_csrf() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let mut keys = vec![Key::user(&req.username)];
    if let Some(ip) = ip {
        keys.push(Key::ip(ip));
    }
    {
        let mut limiter = s.auth.limiter.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(wait) = limiter.begin(&keys, Instant::now()) {
            // Round up: retrying after the advertised time must succeed.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(ApiError::TooManyRequests(secs.max(1)));
        }
    }
    let tried: String = req
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    let ip_text = ip.map(|ip| ip.to_string());

    let account = if req.password.len() > password::MAX_BYTES {
        None
    } else {
        let name = tried.clone();
        s.db.call(move |c| {
            Ok(c.query_row(
                "SELECT id, username, password_hash, role, language, disabled FROM users WHERE username = ?1",
                [name],
                |r| {
                    Ok(Account {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        password_hash: r.get(2)?,
                        role: r.get(3)?,
                        language: r.get(4)?,
                        disabled: r.get(5)?,
                    })
                },
            )
            .optional()?)
        })
        .await?
    };
    let password_ok = if req.password.len() > password::MAX_BYTES {
        false
    } else {
        let hash = account.as_ref().map(|a| a.password_hash.clone());
        password::verify(&s, req.password, hash).await?
    };

    let account = match account {
        Some(a) if password_ok && !a.disabled => a,
        other => {
            let reason = match other {
                None => "unknown user",
                Some(a) if a.disabled => "account disabled",
                Some(_) => "wrong password",
            };
            s.auth
                .limiter
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .failed(&keys, Instant::now());
            tracing::info!(user = %tried, ip = ?ip_text, reason, "login failed");
            let actor = tried.clone();
            s.db.call(move |c| {
                crate::audit::record(
                    c,
                    &actor,
                    "auth.login_failed",
                    &format!("user {actor}"),
                    json!({ "reason": reason, "ip": ip_text }),
                )?;
                Ok(())
            })
            .await?;
            // ApiError::Unauthorized's shape, with a message meant for the login form.
            let body = json!({ "error": "unauthorized", "message": BAD_CREDENTIALS });
            return Ok((StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
    };
    s.auth
        .limiter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .succeeded(&keys);

    let role: super::Role = account.role.parse()?;
    let (token, token_hash) = super::new_token();
    let csrf = random_csrf();
    let expires = chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    let expires_at = expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (user_id, username, csrf_out) = (account.id, account.username.clone(), csrf.clone());
    s.db.transaction(move |tx| {
        let now = crate::db::now_text();
        // Expired sessions are swept here, the only place that creates them.
        tx.execute(
            "DELETE FROM sessions WHERE kind = 'cookie' AND expires_at IS NOT NULL AND expires_at <= ?1",
            [&now],
        )?;
        tx.execute(
            "INSERT INTO sessions (token_hash, user_id, kind, csrf_token, created_at, expires_at)
             VALUES (?1, ?2, 'cookie', ?3, ?4, ?5)",
            rusqlite::params![token_hash, user_id, csrf, now, expires_at],
        )?;
        crate::audit::record(tx, &username, "auth.login", &format!("user {username}"), json!({ "ip": ip_text }))?;
        Ok(())
    })
    .await?;

    let staff = Staff {
        id: account.id,
        username: account.username,
        role,
        language: account.language,
    };
    let cookie = session_cookie(&token, SESSION_HOURS * 3600, !s.config.insecure_cookies);
    let mut resp = Json(json!({ "user": staff, "csrf_token": csrf_out })).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(format!("cookie: {e}")))?,
    );
    Ok(resp)
}

/// Ends the browser session the request came with (API tokens are revoked
/// through `DELETE /api/tokens/{id}`) and clears the cookie.
async fn logout(
    staff: Staff,
    State(s): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(token) = super::cookie_in(&headers, SESSION_COOKIE) {
        let hash = super::hash_token(token);
        let (user_id, actor) = (staff.id, staff.username.clone());
        s.db.transaction(move |tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE token_hash = ?1 AND kind = 'cookie' AND user_id = ?2",
                rusqlite::params![hash, user_id],
            )?;
            if n > 0 {
                crate::audit::record(
                    tx,
                    &actor,
                    "auth.logout",
                    &format!("user {actor}"),
                    json!({}),
                )?;
            }
            Ok(())
        })
        .await?;
    }
    let cookie = session_cookie("", 0, !s.config.insecure_cookies);
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(format!("cookie: {e}")))?,
    );
    Ok(resp)
}

async fn me(staff: Staff) -> Json<Staff> {
    Json(staff)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeUpdate {
    language: String,
}

/// PUT /api/me: what every user may change of their own account (the console's
/// language); the rest is the admin's (`PUT /api/users/{id}`). Audited.
async fn update_me(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<MeUpdate>,
) -> ApiResult<Json<Staff>> {
    super::users::check_language(&req.language)?;
    let (id, actor, language) = (staff.id, staff.username.clone(), req.language.clone());
    s.db.transaction(move |tx| {
        tx.execute(
            "UPDATE users SET language = ?2 WHERE id = ?1",
            rusqlite::params![id, language],
        )?;
        crate::audit::record(
            tx,
            &actor,
            "user.language",
            &format!("user {actor}"),
            json!({ "language": language }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Json(Staff {
        language: req.language,
        ..staff
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_flags() {
        assert_eq!(
            session_cookie("abc", 60, true),
            "cs_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        assert_eq!(
            session_cookie("", 0, false),
            "cs_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        );
    }
}
