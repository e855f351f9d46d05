//! Who is asking: staff (browser session cookie or bearer API token, with a
//! role) or a display (its own bearer token).
//!
//! Tokens are 256-bit random strings; only their SHA-256 is stored, so a leaked
//! database does not leak credentials. Passwords are hashed with argon2.
//! Cookie-authenticated requests that change state must carry the session's
//! CSRF token in `X-CSRF-Token`; bearer tokens are not sent by browsers on their
//! own and need none.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::{Method, header, request::Parts};
use base64::Engine as _;
use content::DisplayId;
use rand::RngCore;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod audit_log;
pub mod limiter;
mod login;
pub mod password;
mod tokens;
mod users;

pub use users::bootstrap_admin;

pub const SESSION_COOKIE: &str = "cs_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Staff roles, each including the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees everything, changes nothing.
    Viewer,
    /// Writes content and schedules; proposes alerts.
    Editor,
    /// Approves and sends alerts and content.
    Publisher,
    /// Manages users and displays.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Role, ApiError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "publisher" => Ok(Role::Publisher),
            "admin" => Ok(Role::Admin),
            other => Err(ApiError::Invalid(format!("unknown role {other:?}"))),
        }
    }
}

/// An authenticated staff member.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub language: String,
}

impl Staff {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }
}

/// Shared authentication state: the login rate limiter and the bound on
/// concurrent password hashing (argon2 takes ~19 MiB and tens of ms each).
#[derive(Debug)]
pub struct AuthState {
    pub(crate) limiter: std::sync::Mutex<limiter::Limiter>,
    pub(crate) hashing: tokio::sync::Semaphore,
}

impl Default for AuthState {
    fn default() -> Self {
        let slots = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8);
        AuthState {
            limiter: std::sync::Mutex::new(limiter::Limiter::default()),
            hashing: tokio::sync::Semaphore::new(slots),
        }
    }
}

/// A fresh random token and the hash to store for it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_in(&parts.headers, name)
}

/// [`cookie`] on a bare header map.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compares secrets without leaking, through timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, kind) = match (bearer(parts), cookie(parts, SESSION_COOKIE)) {
            (Some(t), _) => (t.to_owned(), "api"),
            (None, Some(c)) => (c.to_owned(), "cookie"),
            (None, None) => return Err(ApiError::Unauthorized),
        };
        let csrf_sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let needs_csrf = kind == "cookie" && changes_state(&parts.method);
        let (staff, csrf) = session(state, token, kind)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if needs_csrf
            && !csrf_sent
                .as_deref()
                .is_some_and(|sent| constant_time_eq(sent.as_bytes(), csrf.as_bytes()))
        {
            return Err(ApiError::Forbidden("missing or wrong CSRF token".into()));
        }
        Ok(staff)
    }
}

/// The staff member behind a live session token of `kind` ("cookie" or "api"),
/// with the session's CSRF token.
async fn session(
    state: &AppState,
    token: String,
    kind: &'static str,
) -> Result<Option<(Staff, String)>, ApiError> {
    let hash = hash_token(&token);
    let found = state
        .db
        .call(move |c| {
            Ok(c.query_row(
                "SELECT u.id, u.username, u.role, u.language, s.csrf_token
                   FROM sessions s JOIN users u ON u.id = s.user_id
                  WHERE s.token_hash = ?1 AND s.kind = ?2 AND u.disabled = 0
                    AND (s.expires_at IS NULL OR s.expires_at > ?3)",
                rusqlite::params![hash, kind, crate::db::now_text()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?)
        })
        .await?;
    let Some((id, username, role, language, csrf)) = found else {
        return Ok(None);
    };
    let staff = Staff {
        id,
        username,
        role: role.parse()?,
        language,
    };
    Ok(Some((staff, csrf)))
}

/// The browser session a page request carries (its cookie), with the CSRF
/// token the page hands its scripts; `None` when logged out or expired.
pub async fn page_session(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<(Staff, String)>, ApiError> {
    match cookie_in(headers, SESSION_COOKIE) {
        Some(token) => session(state, token.to_owned(), "cookie").await,
        None => Ok(None),
    }
}

/// An adopted, non-revoked display, authenticated by its bearer token.
#[derive(Debug, Clone, Copy)]
pub struct PlayerAuth {
    pub display_id: DisplayId,
}

/// Looks a display token up; `Err(Revoked)` and unknown tokens are told apart
/// so the player can show the technician which it is.
pub async fn display_for_token(
    state: &AppState,
    token: &str,
) -> Result<DisplayId, DisplayTokenError> {
    let hash = hash_token(token);
    let row = state
        .db
        .call(move |c| {
            Ok(c.query_row(
                "SELECT id, revoked_at IS NOT NULL FROM displays WHERE token_hash = ?1",
                [hash],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)),
            )
            .optional()?)
        })
        .await
        .map_err(|_| DisplayTokenError::Unknown)?;
    match row {
        None => Err(DisplayTokenError::Unknown),
        Some((_, true)) => Err(DisplayTokenError::Revoked),
        Some((id, false)) => Ok(DisplayId(id)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayTokenError {
    Unknown,
    Revoked,
}

impl FromRequestParts<AppState> for PlayerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?.to_owned();
        match display_for_token(state, &token).await {
            Ok(display_id) => Ok(PlayerAuth { display_id }),
            Err(DisplayTokenError::Revoked) => Err(ApiError::Forbidden(
                "this display's token was revoked".into(),
            )),
            Err(DisplayTokenError::Unknown) => Err(ApiError::Unauthorized),
        }
    }
}

/// Staff-facing authentication routes: login/logout, `/api/me`, API tokens,
/// user management and the audit log.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .merge(login::routes())
        .merge(tokens::routes())
        .merge(users::routes())
        .merge(audit_log::routes())
}
