//! The one error type of the HTTP API. Each variant's doc names its status.
//! Internal details are logged, never sent: clients get a stable `error` code
//! and a message meant for people.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be parsed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid session, token or credentials.
    #[error("authentication required")]
    Unauthorized,
    /// 403: authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0} not found")]
    NotFound(String),
    /// 409: conflicts with the current state (duplicate name, wrong state).
    #[error("{0}")]
    Conflict(String),
    /// 413: body over the limit (bytes).
    #[error("the upload exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// 415: a file of a type we do not take, or one that is not what it claims.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// 422: well-formed but invalid (end before start, unknown display).
    #[error("{0}")]
    Invalid(String),
    /// 429: slow down; retry after the given seconds.
    #[error("too many attempts; try again in {0} s")]
    TooManyRequests(u64),
    /// 503: a service this needs is not there (the player binary for previews).
    #[error("{0}")]
    Unavailable(String),
    /// 507: the disk is full; nothing was stored.
    #[error("the server's disk is full; nothing was stored")]
    DiskFull,
    /// 500: logged with its detail, reported as a generic failure.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::Internal(detail.into())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedMedia(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media")
            }
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::DiskFull => (StatusCode::INSUFFICIENT_STORAGE, "disk_full"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut resp = (
            status,
            axum::Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response();
        if let ApiError::TooManyRequests(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return ApiError::DiskFull;
        }
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            ApiError::DiskFull
        } else {
            ApiError::Internal(format!("i/o: {e}"))
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("stored JSON: {e}"))
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s: malformed JSON is a 400,
/// unknown or missing fields a 422, both with serde's precise message.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // A body declared too large is refused before a byte of it is read, so
        // the client gets its 413 instead of a connection reset mid-upload.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > crate::config::MAX_JSON_BYTES as u64) {
            return Err(ApiError::TooLarge(crate::config::MAX_JSON_BYTES as u64));
        }
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::Invalid(e.body_text())),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::BadRequest(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMedia(
                "expected Content-Type: application/json".into(),
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge(crate::config::MAX_JSON_BYTES as u64))
            }
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
