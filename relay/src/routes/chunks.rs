//! Attachment chunks (docs/API.md "Attachments (chunks)", docs/PROTOCOL.md 26): anonymous
//! upload tokens with a quota of one file, uploads by SHA-256 address checked while the
//! body streams to storage, streamed downloads with `Range`, expiry.
//!
//! Nothing here is logged: no address, token, length or count per request. Only
//! aggregate counters move.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;
use sealpost_core::v2::attachment;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::range::{self, Ranged};
use crate::address::ClientSource;
use crate::error::{ApiError, bad_address, parse_hex};
use crate::store::{Address, ChunkState, Store, UploadStart, coarse_time, coarse_time_up};
use crate::{AppState, B64, now};

/// `GET /v2/limits`: what clients need to explain the relay's limits to their users.
pub async fn limits(State(state): State<AppState>) -> Json<Value> {
    let l = &state.limits;
    Json(json!({
        "max_file_bytes": l.max_file_bytes,
        "upload_quota_bytes": l.upload_quota_bytes,
        "chunk_ttl_secs": l.chunk_ttl_secs,
        "max_blob_bytes": l.max_blob_bytes,
    }))
}

/// `POST /v2/uploads`: a fresh upload token, rate-limited per address.
pub async fn new_upload(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(source) = source
        && !state.upload_limiter.allow(source)
    {
        state.metrics.rate_limited.inc();
        return Err(ApiError::rate_limited(
            "too many upload tokens for this address, retry later",
        ));
    }
    let token = crate::random_bytes::<32>();
    let l = &state.limits;
    let expires_at = coarse_time_up(now().saturating_add(l.upload_token_ttl_secs));
    state
        .store
        .put_upload_token(
            &Sha256::digest(token).into(),
            l.upload_quota_bytes,
            expires_at,
        )
        .await?;
    state.metrics.upload_tokens.inc();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": B64.encode(token),
            "quota_bytes": l.upload_quota_bytes,
            "expires_at": expires_at,
        })),
    ))
}

/// `PUT /v2/chunks/{address}`.
pub async fn put(
    State(state): State<AppState>,
    Path(address): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let mut body = Some(body);
    let outcome = upload(&state, &address, &headers, &mut body).await;
    match &outcome {
        Ok(StatusCode::CREATED) => state.metrics.chunks_stored.inc(),
        Ok(_) => state.metrics.chunks_present.inc(),
        Err(_) => state.metrics.chunks_refused.inc(),
    }
    // An answer before the body was read: read it anyway if it is no longer than a
    // chunk, so the client gets the answer rather than a reset connection while it is
    // still sending. A client that asked `Expect: 100-continue` is not sent `100` and
    // sends nothing; a longer body is not read (the connection closes).
    let expects = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if let (Some(body), true, false) =
        (body, declared_len(&headers) <= Some(MAX_CHUNK_LEN), expects)
    {
        let mut frames = body.into_data_stream();
        while let Some(Ok(_)) = frames.next().await {}
    }
    outcome
}

async fn upload(
    state: &AppState,
    address: &str,
    headers: &HeaderMap,
    body: &mut Option<Body>,
) -> Result<StatusCode, ApiError> {
    let address: Address = parse_hex(address).ok_or_else(bad_address)?;
    let token_hash = upload_token(headers)?;
    let len = chunk_len(headers).ok_or_else(|| {
        ApiError::bad_request(
            "bad_chunk_len",
            "Content-Length must be a chunk length (1052, 4124, 16412, 65564, 262172, 1048604 or 4194332)",
        )
    })?;
    let _permit = Arc::clone(&state.chunk_uploads)
        .try_acquire_owned()
        .map_err(|_| ApiError::unavailable("too many chunk uploads in progress, retry later"))?;
    let _turn = state.chunk_locks.lock(address).await;
    let now = now();
    let l = &state.limits;
    let stored_len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = state
        .store
        .start_upload(
            &token_hash,
            &address,
            stored_len,
            now,
            l.max_chunk_store_bytes,
        )
        .await?;
    match start {
        UploadStart::Reserved => {}
        UploadStart::Present => return Ok(StatusCode::OK),
        UploadStart::BadToken => return Err(bad_token()),
        UploadStart::OverQuota => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "quota_exceeded",
                "this upload token's quota is used up; get a new one",
            ));
        }
        UploadStart::Full => {
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "chunks_full",
                "the relay holds as many chunks as it accepts; retry later",
            )
            .retry_after(60));
        }
    }
    let mut reservation = Reservation {
        store: Arc::clone(&state.store),
        token_hash,
        len: stored_len,
        kept: false,
    };
    let Some(body) = body.take() else {
        return Err(ApiError::bad_request("bad_body", "no body"));
    };
    let expires_at = coarse_time(now).saturating_add(l.chunk_ttl_secs);
    let stored = receive(state.store.as_ref(), &address, len, body, expires_at, now).await?;
    // A concurrent upload of the same chunk committed first: this one costs nothing.
    reservation.kept = stored;
    Ok(if stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// Streams `body` into storage while hashing it; commits it if it is `len` bytes that
/// hash to `address`. `true` if this stored the chunk.
async fn receive(
    store: &dyn Store,
    address: &Address,
    len: usize,
    body: Body,
    expires_at: i64,
    now: i64,
) -> Result<bool, ApiError> {
    let mut staged = store.stage(len).await?;
    let mut hash = Sha256::new();
    let mut got = 0usize;
    let mut frames = body.into_data_stream();
    while let Some(piece) = frames.next().await {
        let piece = piece.map_err(|_| {
            ApiError::bad_request("bad_body", "the body broke off before Content-Length bytes")
        })?;
        got = got.saturating_add(piece.len());
        if got > len {
            return Err(ApiError::bad_request(
                "bad_chunk_len",
                "the body is longer than Content-Length",
            ));
        }
        hash.update(&piece);
        staged.write(&piece).await?;
    }
    if got != len {
        return Err(ApiError::bad_request(
            "bad_body",
            "the body ended before Content-Length bytes",
        ));
    }
    if hash.finalize().as_slice() != address.as_slice() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "address_mismatch",
            "the body's SHA-256 is not the address",
        ));
    }
    Ok(staged.commit(address, expires_at, now).await?)
}

/// Quota taken for an upload in progress; given back unless the chunk was stored, also
/// when the request is dropped half-way (timeout, lost connection).
struct Reservation {
    store: Arc<dyn Store>,
    token_hash: [u8; 32],
    len: i64,
    kept: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let (store, token_hash, len) = (Arc::clone(&self.store), self.token_hash, self.len);
        tokio::spawn(async move {
            if let Err(e) = store.refund_upload(&token_hash, len).await {
                tracing::error!(error = %e, "upload quota refund failed");
            }
        });
    }
}

/// The longest chunk: 4 MiB and an AES-GCM box's nonce and tag.
const MAX_CHUNK_LEN: usize =
    attachment::CHUNK_SIZES[attachment::CHUNK_SIZES.len() - 1] + attachment::CHUNK_OVERHEAD;

/// `Content-Length`, if the request has one.
fn declared_len(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<usize>()
        .ok()
}

/// `Content-Length` if it is a chunk length.
fn chunk_len(headers: &HeaderMap) -> Option<usize> {
    declared_len(headers).filter(|&len| attachment::is_chunk_len(len))
}

/// SHA-256 of the token of `Authorization: Upload <base64url 32 bytes>`.
fn upload_token(headers: &HeaderMap) -> Result<[u8; 32], ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Upload "))
        .and_then(|t| B64.decode(t.trim()).ok())
        .filter(|t| t.len() == 32)
        .map(|t| Sha256::digest(t).into())
        .ok_or_else(bad_token)
}

fn bad_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_upload_token",
        "an upload needs `Authorization: Upload <token>` with a live token from POST /v2/uploads",
    )
}

/// `GET` and `HEAD /v2/chunks/{address}`.
pub async fn get(
    State(state): State<AppState>,
    method: Method,
    Path(address): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let address: Address = parse_hex(&address).ok_or_else(bad_address)?;
    let expired = || {
        ApiError::new(
            StatusCode::GONE,
            "chunk_expired",
            "this chunk expired and was deleted",
        )
    };
    let len = match state.store.chunk_state(&address, now()).await? {
        ChunkState::Present(len) => len,
        ChunkState::Expired => return Err(expired()),
        ChunkState::Unknown => {
            return Err(ApiError::not_found(
                "unknown_chunk",
                "no chunk at this address",
            ));
        }
    };
    let (status, first, count) =
        match range::parse(headers.get(header::RANGE).map(|v| v.as_bytes()), len) {
            Ranged::Whole => (StatusCode::OK, 0, len),
            Ranged::Part { first, last } => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
            Ranged::Unsatisfiable => {
                let mut refusal = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "bad_range",
                    "Range must be one satisfiable range: bytes=a-b, bytes=a- or bytes=-n",
                )
                .into_response();
                if let Ok(range) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    refusal.headers_mut().insert(header::CONTENT_RANGE, range);
                }
                return Ok(refusal);
            }
        };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let body = state
            .store
            .read_chunk(&address, first, count)
            .await?
            .ok_or_else(expired)?;
        state.metrics.chunks_served.inc();
        body
    };
    let mut response = (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(count)),
            (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        ],
        body,
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(range) =
            HeaderValue::from_str(&format!("bytes {first}-{}/{len}", first + count - 1))
    {
        response.headers_mut().insert(header::CONTENT_RANGE, range);
    }
    Ok(response)
}
