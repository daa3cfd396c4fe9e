//! Mailboxes: anonymous deposit, and owner-only token, list, delete and acknowledge.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use sealpost_core::{UserId, VERSION, padding};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{self, Accept, OwnerParts, OwnerRequest};
use crate::error::{ApiError, parse_id};
use crate::limits::{MAX_ACK_IDS, PAGE, PAGE_BYTES};
use crate::store::{BlobId, Deposit, coarse_time};
use crate::{AppState, B64, now, random_bytes};

/// Anyone may deposit an envelope; nothing about the sender is recorded.
pub async fn deposit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let outcome = store_blob(&state, &id, body).await;
    match &outcome {
        Ok(_) => state.metrics.deposits.inc(),
        Err(_) => state.metrics.deposits_refused.inc(),
    }
    outcome
}

async fn store_blob(
    state: &AppState,
    id: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_id(id)?;
    let body = body?;
    if body.len() > state.limits.max_blob_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "blob exceeds the size limit",
        ));
    }
    if !padding::is_bucket(body.len()) {
        return Err(ApiError::bad_request(
            "not_a_bucket",
            "blob length must be one of the padding buckets",
        ));
    }
    if body.first() != Some(&VERSION)
        || body.get(1..1 + UserId::LEN) != Some(id.as_bytes().as_slice())
    {
        return Err(ApiError::bad_request(
            "bad_envelope",
            "envelope must start with version 1 and the mailbox id",
        ));
    }
    if !state.mailbox_limiter.allow(id) {
        state.metrics.rate_limited.inc();
        return Err(ApiError::rate_limited(
            "too many deposits into this mailbox, retry later",
        ));
    }
    let blob_id: BlobId = random_bytes();
    match state
        .store
        .deposit(&id, &blob_id, coarse_time(now()), &body, state.limits.quota)
        .await?
    {
        Deposit::Stored(_) => {
            state.hub.notify(&id);
            Ok((
                StatusCode::CREATED,
                Json(json!({ "id": hex::encode(blob_id) })),
            ))
        }
        Deposit::UnknownMailbox => Err(ApiError::not_found("unknown_mailbox", "no such mailbox")),
        Deposit::OverQuota => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "mailbox_full",
            "the mailbox is full; it accepts blobs again once its owner acknowledges some",
        )),
    }
}

/// Issues a bearer token (signed request only).
pub async fn token(
    State(state): State<AppState>,
    req: OwnerRequest,
) -> Result<Json<serde_json::Value>, ApiError> {
    req.authenticate(&state, Accept::Signature).await?;
    let (token, expires_at) = auth::issue_token(&state, req.id()).await?;
    Ok(Json(json!({ "token": token, "expires_at": expires_at })))
}

#[derive(Debug, Serialize)]
struct ListedBlob {
    id: String,
    received_at: i64,
    data: String,
}

/// Lists up to [`PAGE`] waiting blobs (and about [`PAGE_BYTES`]), oldest first.
pub async fn list(
    State(state): State<AppState>,
    req: OwnerParts,
) -> Result<Json<serde_json::Value>, ApiError> {
    req.authenticate(&state, b"", Accept::SignatureOrToken)
        .await?;
    let blobs: Vec<ListedBlob> = state
        .store
        .blobs_after(&req.id, 0, PAGE, PAGE_BYTES)
        .await?
        .into_iter()
        .map(|b| ListedBlob {
            id: hex::encode(b.id),
            received_at: b.received_at,
            data: B64.encode(&b.data),
        })
        .collect();
    Ok(Json(json!({ "blobs": blobs })))
}

/// Deletes one blob (idempotent).
pub async fn delete(
    State(state): State<AppState>,
    Path((_, blob_id)): Path<(String, String)>,
    req: OwnerParts,
) -> Result<StatusCode, ApiError> {
    let blob_ids = parse_blob_ids(&[blob_id])?;
    req.authenticate(&state, b"", Accept::SignatureOrToken)
        .await?;
    let n = state.store.ack(&req.id, &blob_ids).await?;
    state.metrics.acked.add(n);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    ids: Vec<String>,
}

/// Deletes acknowledged blobs (unknown or already deleted ids are ignored).
pub async fn ack(State(state): State<AppState>, req: OwnerRequest) -> Result<StatusCode, ApiError> {
    req.authenticate(&state, Accept::SignatureOrToken).await?;
    let parsed: AckBody = serde_json::from_slice(&req.body).map_err(|_| {
        ApiError::bad_request("bad_json", "body must be {\"ids\": [\"<blob id>\", ...]}")
    })?;
    let ids = parse_blob_ids(&parsed.ids)?;
    let n = state.store.ack(req.id(), &ids).await?;
    state.metrics.acked.add(n);
    Ok(StatusCode::NO_CONTENT)
}

/// Parses blob ids (32 lowercase hex digits each), at most [`MAX_ACK_IDS`].
pub fn parse_blob_ids(ids: &[String]) -> Result<Vec<BlobId>, ApiError> {
    if ids.len() > MAX_ACK_IDS {
        return Err(ApiError::bad_request(
            "too_many_ids",
            "at most 1000 ids per acknowledgement",
        ));
    }
    ids.iter()
        .map(|s| {
            let lower = s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            let mut id = [0u8; 16];
            match hex::decode_to_slice(s, &mut id) {
                Ok(()) if lower => Ok(id),
                _ => Err(ApiError::bad_request(
                    "bad_blob_id",
                    "blob ids are 32 lowercase hex digits",
                )),
            }
        })
        .collect()
}
