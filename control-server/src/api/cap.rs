//! `POST /api/cap`: CAP 1.2 XML from trusted senders (the county's warning
//! system, a fire brigade's dispatch) shown without two-person approval.
//!
//! Authentication: a sender is a staff account with the publisher role; the
//! machine posting for it uses one of that account's bearer API tokens
//! (`POST /api/tokens`), so each sender can be revoked on its own and appears
//! by name in the audit log, the alert's `source` (`cap:<account>`) and the
//! feed-health view. The document is parsed under the limits of
//! [`crate::civic::cap`]; refusals say why and are reported as feed errors.

use crate::api::alerts::{self, IngestOutcome, IngestResult};
use crate::auth::{Role, Staff};
use crate::civic::cap::{self, CapError, MAX_CAP_BYTES};
use crate::civic::feeds;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

/// Bodies up to this are read and then judged (so an oversized document gets a
/// clear 413 rather than a connection cut mid-upload); larger ones are cut off.
const READ_LIMIT: usize = 8 * MAX_CAP_BYTES;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/cap", post(ingest))
        .layer(DefaultBodyLimit::max(READ_LIMIT))
}

fn to_api(e: CapError) -> ApiError {
    match e {
        CapError::TooLarge => ApiError::TooLarge(MAX_CAP_BYTES as u64),
        e if e.is_syntax() => ApiError::BadRequest(e.to_string()),
        e => ApiError::Invalid(e.to_string()),
    }
}

async fn ingest(
    staff: Staff,
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<IngestOutcome>)> {
    staff.require(Role::Publisher)?;
    let feed = format!("cap:{}", staff.username);
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(MAX_CAP_BYTES as u64)
        } else {
            ApiError::BadRequest(e.body_text())
        }
    });
    let parsed = body.and_then(|b| {
        cap::parse_xml(&b)
            .and_then(cap::CapMessage::into_ingest)
            .map_err(to_api)
    });
    let ingest = match parsed {
        Ok(i) => i,
        Err(e) => {
            if let Err(db) = feeds::report_error(&s.db, &feed, "cap", &e.to_string()).await {
                tracing::error!(feed, "cannot record feed health: {db}");
            }
            return Err(e);
        }
    };
    let outcome = alerts::ingest_official(&s, ingest, &feed, &staff.username).await?;
    // The alert is stored and sent; a failure to note the feed's health is only logged.
    if let Err(e) = feeds::report_ok(&s.db, &feed, "cap").await {
        tracing::error!(feed, "cannot record feed health: {e}");
    }
    let status = if outcome.result == IngestResult::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}
