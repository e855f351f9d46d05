//! Player releases: admins upload a signed player binary, list releases, and
//! assign one to all displays or to some; each display learns its release
//! through its manifest (`Manifest::player_release`) and downloads it with
//! its own token (`GET /api/player/releases/{sha256}`).
//!
//! The server never holds the signing key, so a compromised server cannot push
//! code: trust is the player's, against the public key baked into the kiosk
//! image (`player::update::verify`). The server checks that an upload is
//! well-formed (a valid version, a 64-byte hex signature, the SHA-256 and
//! size it claims). Given the same public key (`--release-key`) it also
//! checks the signature with the player's own check
//! (`content::release::ReleaseKey::verify`): a
//! release signed with another key would otherwise be stored and assigned,
//! and every display would silently keep its old version. So with a key an
//! upload that does not verify is refused (422, nothing stored), a stored
//! one that does not (uploaded before the key was configured) cannot be
//! assigned (409), and the list says for each release whether it verified
//! ([`SignatureCheck`], worked out on every request rather than stored, so
//! a changed key is never judged by an old answer). Without a key the
//! server is as before: the displays alone decide.
//!
//! An upload is streamed into the assets' `tmp/` (as asset uploads are),
//! checked, fsynced, renamed to `<data_dir>/releases/<sha256>` (directory
//! fsynced), and only then recorded. Assigning bumps the manifest versions of
//! the displays concerned (in the same transaction as the change and its
//! audit entry) and announces them, so connected players hear of it at once.

use crate::api::assets::{Received, declared_length, receive};
use crate::auth::{Role, Staff};
use crate::config::Config;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::manifests;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use content::DisplayId;
use content::release::{PlayerRelease, ReleaseKey, check_version, is_sha256, is_signature};
use rusqlite::{Connection, OptionalExtension as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/releases",
            get(list).post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/releases/assignment", put(assign))
}

/// Where a release's binary lives.
pub fn release_path(config: &Config, sha256: &str) -> PathBuf {
    config.data_dir.join("releases").join(sha256)
}

/// Reads the public key player releases must be signed with
/// (`--release-key`): the one baked into the displays' image. The server
/// only verifies with it; signing stays offline. The error names the file
/// and what is wrong, for the message the server stops with.
pub fn load_key(path: &Path) -> anyhow::Result<ReleaseKey> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the release key {} (--release-key): {e}",
            path.display()
        )
    })?;
    ReleaseKey::parse(&text).map_err(|why| {
        anyhow::anyhow!(
            "the release key {} (--release-key) is not a public key as `player-release keygen --public` writes it: {why}",
            path.display()
        )
    })
}

/// The start of every refusal for a release that does not verify. It starts
/// with "signature", which the console's upload form takes as the field it
/// concerns.
fn mismatch(key: &ReleaseKey, version: &str) -> String {
    format!(
        "signature of release {version} does not match this server's release key {}…",
        key.fingerprint()
    )
}

/// Whether a release's signature was checked against the server's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureCheck {
    /// It verifies against the server's release key.
    Verified,
    /// It does not: displays with that key would refuse the release.
    Mismatch,
    /// No key configured: only the displays check.
    NoKey,
}

/// A release as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    pub id: i64,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub signature: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
    /// Assigned to every display without one of its own.
    pub global: bool,
    /// Displays assigned this release individually.
    pub displays: Vec<DisplayId>,
    /// Its signature against the server's release key.
    pub signature_check: SignatureCheck,
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    version: Option<String>,
    sha256: Option<String>,
    signature: Option<String>,
}

/// `POST /api/releases?version=&sha256=&signature=`, the binary as the body
/// (admin). 201 with the release; 409 when the version or binary exists;
/// 422 for a malformed field, and with a release key for a signature that
/// does not verify (nothing stored).
async fn upload(
    staff: Staff,
    State(s): State<AppState>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ReleaseInfo>)> {
    staff.require(Role::Admin)?;
    let missing = |f: &str| ApiError::Invalid(format!("the query parameter {f} is missing"));
    let version = q.version.ok_or_else(|| missing("version"))?;
    let claimed = q
        .sha256
        .ok_or_else(|| missing("sha256"))?
        .to_ascii_lowercase();
    let signature = q
        .signature
        .ok_or_else(|| missing("signature"))?
        .to_ascii_lowercase();
    check_version(&version).map_err(ApiError::Invalid)?;
    if !is_sha256(&claimed) {
        return Err(ApiError::Invalid(
            "sha256 must be 64 hexadecimal digits".into(),
        ));
    }
    if !is_signature(&signature) {
        return Err(ApiError::Invalid(
            "signature must be an ed25519 signature: 128 hexadecimal digits (player-release sign writes it)".into(),
        ));
    }
    let limit = s.config.max_upload_bytes();
    if declared_length(&headers).is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let Received {
        mut temp,
        sha256,
        size,
        ..
    } = receive(&s.config, body, limit).await?;
    if size == 0 {
        return Err(ApiError::Invalid("the release binary is empty".into()));
    }
    if sha256 != claimed {
        return Err(ApiError::Invalid(format!(
            "the binary's SHA-256 is {sha256}, not the {claimed} that was signed"
        )));
    }
    // Checked before the move: a refusal leaves nothing behind (the temp
    // file goes with `temp`).
    if let Some(key) = &s.release_key
        && key.verify(&version, &sha256, size, &signature).is_err()
    {
        return Err(ApiError::Invalid(format!(
            "{}: it was signed with another key, or for another version or binary (this one has {size} bytes and SHA-256 {sha256}); nothing was stored",
            mismatch(key, &version)
        )));
    }
    let dest = release_path(&s.config, &sha256);
    let src = temp.path().to_owned();
    let moved = dest.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let dir = moved.parent().expect("release path has a parent");
        std::fs::create_dir_all(dir)?;
        std::fs::rename(&src, &moved)?;
        std::fs::File::open(dir)?.sync_all()
    })
    .await
    .map_err(|e| ApiError::internal(format!("release move task: {e}")))??;
    temp.disarm();
    let actor = staff.username.clone();
    let (v, sha, sig) = (version.clone(), sha256.clone(), signature);
    let key = s.release_key.clone();
    let stored = s
        .db
        .transaction(move |tx| {
            let clash: Option<String> = tx
                .query_row(
                    "SELECT version FROM player_releases WHERE version = ?1 OR sha256 = ?2",
                    rusqlite::params![v, sha],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = clash {
                return Err(ApiError::Conflict(format!(
                    "release {other} has this version or this binary already"
                )));
            }
            tx.execute(
                "INSERT INTO player_releases (version, sha256, size, signature, uploaded_by, uploaded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![v, sha, size as i64, sig, actor, crate::db::now_text()],
            )?;
            let id = tx.last_insert_rowid();
            crate::audit::record(
                tx,
                &actor,
                "release.upload",
                &format!("release {v}"),
                json!({ "sha256": sha, "size": size }),
            )?;
            Ok(all(tx, key.as_ref())?.into_iter().find(|r| r.id == id))
        })
        .await;
    match stored {
        Ok(Some(info)) => Ok((StatusCode::CREATED, Json(info))),
        Ok(None) => Err(ApiError::internal("stored release not found")),
        Err(e) => {
            // Refused after the move: the file goes unless a row names it
            // (the same binary under its existing release).
            let sha = sha256.clone();
            let named =
                s.db.call(move |c| {
                    Ok(c.query_row(
                        "SELECT 1 FROM player_releases WHERE sha256 = ?1",
                        [sha],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some())
                })
                .await
                .unwrap_or(true);
            if !named {
                let _ = tokio::fs::remove_file(&dest).await;
            }
            Err(e)
        }
    }
}

async fn list(staff: Staff, State(s): State<AppState>) -> ApiResult<Json<Vec<ReleaseInfo>>> {
    staff.require(Role::Viewer)?;
    let key = s.release_key.clone();
    Ok(Json(s.db.call(move |c| Ok(all(c, key.as_ref())?)).await?))
}

/// Every release, oldest first, each checked against `key`.
fn all(c: &Connection, key: Option<&ReleaseKey>) -> rusqlite::Result<Vec<ReleaseInfo>> {
    let global: Option<i64> = c
        .query_row(
            "SELECT release_id FROM player_release_global WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let mut per = c.prepare(
        "SELECT display_id FROM display_player_release WHERE release_id = ?1 ORDER BY display_id",
    )?;
    let mut stmt = c.prepare(
        "SELECT id, version, sha256, size, signature, uploaded_by, uploaded_at
         FROM player_releases ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ReleaseInfo {
            id: r.get(0)?,
            version: r.get(1)?,
            sha256: r.get(2)?,
            size: r.get::<_, i64>(3)? as u64,
            signature: r.get(4)?,
            uploaded_by: r.get(5)?,
            uploaded_at: r.get(6)?,
            global: false,
            displays: Vec::new(),
            signature_check: SignatureCheck::NoKey,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for r in &mut out {
        r.global = global == Some(r.id);
        r.displays = per
            .query_map([r.id], |row| Ok(DisplayId(row.get(0)?)))?
            .collect::<rusqlite::Result<_>>()?;
        r.signature_check = match key {
            Some(k)
                if k.verify(&r.version, &r.sha256, r.size, &r.signature)
                    .is_ok() =>
            {
                SignatureCheck::Verified
            }
            Some(_) => SignatureCheck::Mismatch,
            None => SignatureCheck::NoKey,
        };
    }
    Ok(out)
}

/// What `PUT /api/releases/assignment` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Assignment {
    /// The release's version; `null` removes the assignment (the displays
    /// keep what they run).
    version: Option<String>,
    /// These displays individually; absent: the global assignment, for
    /// every display without one of its own.
    #[serde(default)]
    displays: Option<Vec<DisplayId>>,
}

/// Assigns a release (admin); the displays concerned get a new manifest.
/// With a release key, a release whose signature does not verify against it
/// is refused (409): the displays would refuse it and keep their version.
async fn assign(
    staff: Staff,
    State(s): State<AppState>,
    ApiJson(a): ApiJson<Assignment>,
) -> ApiResult<Json<Vec<ReleaseInfo>>> {
    staff.require(Role::Admin)?;
    let actor = staff.username.clone();
    let key = s.release_key.clone();
    let (infos, touched, rev) = s
        .db
        .transaction(move |tx| {
            let release: Option<i64> = match &a.version {
                Some(v) => {
                    let (id, sha256, size, signature): (i64, String, i64, String) = tx
                        .query_row(
                            "SELECT id, sha256, size, signature FROM player_releases WHERE version = ?1",
                            [v],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                        )
                        .optional()?
                        .ok_or_else(|| ApiError::Invalid(format!("no release {v}")))?;
                    if let Some(key) = &key
                        && key.verify(v, &sha256, size as u64, &signature).is_err()
                    {
                        return Err(ApiError::Conflict(format!(
                            "{}: it was signed with another key (uploaded before this key was configured?), and every display with this key would refuse it; upload it signed with this key",
                            mismatch(key, v)
                        )));
                    }
                    Some(id)
                }
                None => None,
            };
            let touched: BTreeSet<DisplayId> = match &a.displays {
                Some(ids) => {
                    for d in ids {
                        let known = tx
                            .query_row("SELECT 1 FROM displays WHERE id = ?1", [d.0], |_| Ok(()))
                            .optional()?;
                        if known.is_none() {
                            return Err(ApiError::Invalid(format!("no display {}", d.0)));
                        }
                        match release {
                            Some(r) => tx.execute(
                                "INSERT INTO display_player_release (display_id, release_id) VALUES (?1, ?2)
                                 ON CONFLICT (display_id) DO UPDATE SET release_id = excluded.release_id",
                                rusqlite::params![d.0, r],
                            )?,
                            None => tx.execute(
                                "DELETE FROM display_player_release WHERE display_id = ?1",
                                [d.0],
                            )?,
                        };
                    }
                    ids.iter().copied().collect()
                }
                None => {
                    match release {
                        Some(r) => tx.execute(
                            "INSERT INTO player_release_global (id, release_id) VALUES (1, ?1)
                             ON CONFLICT (id) DO UPDATE SET release_id = excluded.release_id",
                            [r],
                        )?,
                        None => tx.execute("DELETE FROM player_release_global", [])?,
                    };
                    // Every display follows the global release but those with their own.
                    let mut stmt = tx.prepare(
                        "SELECT id FROM displays WHERE id NOT IN (SELECT display_id FROM display_player_release)",
                    )?;
                    let ids = stmt.query_map([], |r| Ok(DisplayId(r.get(0)?)))?;
                    ids.collect::<rusqlite::Result<_>>()?
                }
            };
            let target = match &a.displays {
                Some(ids) => format!(
                    "displays {}",
                    ids.iter().map(|d| d.0.to_string()).collect::<Vec<_>>().join(",")
                ),
                None => "all displays".to_owned(),
            };
            crate::audit::record(
                tx,
                &actor,
                "release.assign",
                &target,
                json!({ "version": a.version }),
            )?;
            let rev = manifests::bump(tx, &touched)?;
            Ok((all(tx, key.as_ref())?, touched, rev))
        })
        .await?;
    manifests::announce(&s.hub, &touched, rev);
    Ok(Json(infos))
}

/// The release `display` should run: its own assignment, else the global one.
pub fn desired(c: &Connection, display: DisplayId) -> rusqlite::Result<Option<PlayerRelease>> {
    c.query_row(
        "SELECT version, sha256, size, signature FROM player_releases
         WHERE id = COALESCE(
             (SELECT release_id FROM display_player_release WHERE display_id = ?1),
             (SELECT release_id FROM player_release_global WHERE id = 1))",
        [display.0],
        |r| {
            let sha256: String = r.get(1)?;
            Ok(PlayerRelease {
                version: r.get(0)?,
                path: format!("/api/player/releases/{sha256}"),
                sha256,
                size: r.get::<_, i64>(2)? as u64,
                signature: r.get(3)?,
            })
        },
    )
    .optional()
}

/// `GET /api/player/releases/{sha256}` (display token): the binary of the
/// release assigned to this display; any other is 404.
pub async fn serve(
    state: &AppState,
    display: DisplayId,
    sha256: &str,
    req: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    let sha = sha256.to_owned();
    let wanted = state.db.call(move |c| Ok(desired(c, display)?)).await?;
    match wanted {
        Some(r) if r.sha256 == sha => {
            crate::api::assets::send_file(
                release_path(&state.config, &sha),
                "application/octet-stream",
                &format!("\"{sha}\""),
                req,
            )
            .await
        }
        _ => Err(ApiError::NotFound(format!(
            "release {sha} is not assigned to this display"
        ))),
    }
}
