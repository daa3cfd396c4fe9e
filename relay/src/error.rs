//! The one error type handlers return: a status, a stable machine-readable code and a
//! human message, rendered as `{"error": code, "message": message}` (docs/API.md).

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// A refusal with a clear status and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    /// `Retry-After` seconds, for refusals that end by themselves.
    retry_after: Option<u64>,
}

impl ApiError {
    /// Any status with a stable code and a message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// `400` for input that does not have the documented form.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `401`, the single answer to every owner-authentication failure, so that nobody
    /// learns whether the id exists, the key was wrong or the signature was stale.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "owner authentication failed",
        )
    }

    /// `404`.
    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// `429` with `Retry-After: 1` (token buckets refill continuously).
    pub fn rate_limited(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).retry_after(1)
    }

    /// `503` with `Retry-After: 1` when the relay sheds load.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message).retry_after(1)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The human-readable message (also sent on the deposit socket).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `Retry-After` seconds, if the refusal ends by itself.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// The stable code (also used in WebSocket error messages).
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Storage failures are the relay's fault: log the cause (it names no user) and answer
/// `500` without details.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, nothing was changed",
        )
    }
}

/// Body extraction failures (too large, interrupted) keep axum's status but get the
/// JSON error shape.
impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(status, "too_large", "request body exceeds the size limit")
        } else {
            Self::new(status, "bad_body", r.body_text())
        }
    }
}

/// Parses a mailbox / user id from a URL: exactly 64 lowercase hex digits.
pub fn parse_id(s: &str) -> Result<sealpost_core::UserId, ApiError> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ApiError::bad_request(
            "bad_id",
            "id must be 64 lowercase hex digits",
        ));
    }
    sealpost_core::UserId::from_hex(s)
        .map_err(|_| ApiError::bad_request("bad_id", "id must be 64 lowercase hex digits"))
}

/// Parses a v2 device id from a URL: exactly 32 lowercase hex digits (16 bytes).
pub fn parse_device(s: &str) -> Result<crate::store::DeviceKey, ApiError> {
    parse_hex(s).ok_or_else(|| {
        ApiError::bad_request("bad_device", "device ids are 32 lowercase hex digits")
    })
}

/// `2N` lowercase hex digits as `N` bytes (device ids, link channels and blob ids: 16;
/// chunk addresses: 32).
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let lower = s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mut out = [0u8; N];
    (lower && hex::decode_to_slice(s, &mut out).is_ok()).then_some(out)
}

/// The refusal of a malformed chunk address.
pub fn bad_address() -> ApiError {
    ApiError::bad_request(
        "bad_address",
        "chunk addresses are 64 lowercase hex digits (SHA-256)",
    )
}

/// Middleware on the API routes: a path parameter sent percent-encoded (`%63%35...` for
/// `c5...`) is refused with the code of that parameter, as any other malformed value,
/// instead of being decoded into a valid one: ids have exactly one spelling. Path
/// parameters are checked left to right, so `{id}` comes before `{device}`.
pub async fn strict_path(matched: MatchedPath, req: Request, next: Next) -> Response {
    let raw = req.uri().path();
    let encoded = matched
        .as_str()
        .split('/')
        .zip(raw.split('/'))
        .find(|(template, value)| template.starts_with('{') && value.contains('%'));
    match encoded {
        Some((template, _)) => malformed(template).into_response(),
        None => next.run(req).await,
    }
}

/// The refusal for a malformed value of the path parameter `{name}`.
fn malformed(template: &str) -> ApiError {
    match template.trim_matches(['{', '}']) {
        "id" => ApiError::bad_request("bad_id", "id must be 64 lowercase hex digits"),
        "device" => ApiError::bad_request("bad_device", "device ids are 32 lowercase hex digits"),
        "blob_id" => ApiError::bad_request("bad_blob_id", "blob ids are 32 lowercase hex digits"),
        "channel" => {
            ApiError::bad_request("bad_channel", "channel ids are 32 lowercase hex digits")
        }
        "slot" => ApiError::bad_request("bad_slot", "the slot is `hello` or `grant`"),
        "address" => bad_address(),
        _ => ApiError::not_found("not_found", "no such endpoint"),
    }
}
