//! Device mailboxes (`/v2/mailboxes/{id}/{device}/...`): anonymous deposit, and
//! owner-only token, list, delete and acknowledge.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sealpost_core::padding;
use sealpost_core::v2::group::GROUP_VERSION;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{self, Accept, OwnerParts, OwnerRequest};
use crate::error::{ApiError, parse_device, parse_hex, parse_id};
use crate::limits::{MAX_ACK_IDS, PAGE, PAGE_BYTES};
use crate::push::{HandOff, PUSH_INLINE_MAX, blob_frame};
use crate::store::{BlobId, Deposit, Mailbox, coarse_time};
use crate::{AppState, B64, now, random_bytes};

/// The envelope version byte of protocol v2 (docs/PROTOCOL.md §12).
pub const VERSION_2: u8 = 2;

/// The mailbox of the path's `{id}` and `{device}`, checked in that order
/// (`400 bad_id`, `400 bad_device`).
#[derive(Debug, Clone, Copy)]
pub struct MailboxPath(pub Mailbox);

impl<S: Send + Sync> FromRequestParts<S> for MailboxPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id = parse_id(params.get("id").map_or("", String::as_str))
            .map_err(IntoResponse::into_response)?;
        let device = parse_device(params.get("device").map_or("", String::as_str))
            .map_err(IntoResponse::into_response)?;
        Ok(Self(Mailbox::new(id, device)))
    }
}

/// The envelope prefix a mailbox accepts: `0x02 || user_id || device_id`.
fn envelope_prefix(mailbox: &Mailbox) -> Vec<u8> {
    [&[VERSION_2][..], &mailbox.key()].concat()
}

/// Anyone may deposit an envelope; nothing about the sender is recorded.
pub async fn deposit(
    State(state): State<AppState>,
    MailboxPath(mailbox): MailboxPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let blob_id = deposit_blob(&state, mailbox, body.map_err(ApiError::from)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": hex::encode(blob_id) })),
    ))
}

/// Stores one deposited blob and hands it to the mailbox's push; counted in the
/// metrics either way. The one deposit path of `POST .../{device}` and of the deposit
/// socket (`routes::deposit_socket`).
pub async fn deposit_blob(
    state: &AppState,
    mailbox: Mailbox,
    body: Result<Bytes, ApiError>,
) -> Result<BlobId, ApiError> {
    let outcome = match body {
        Ok(body) => store_blob(state, mailbox, body).await,
        Err(e) => Err(e),
    };
    match &outcome {
        Ok(_) => state.metrics.deposits.inc(),
        Err(_) => state.metrics.deposits_refused.inc(),
    }
    outcome
}

/// The checks every deposited blob passes, single or multi-recipient: at most
/// `--max-blob-bytes`, a padding bucket, and either a group message (version 3, the
/// same blob for every member device: nothing in it names a mailbox) or, when
/// `mailbox` is given, a v2 envelope that starts with that mailbox's prefix.
pub fn check_blob(
    state: &AppState,
    body: &[u8],
    mailbox: Option<&Mailbox>,
) -> Result<(), ApiError> {
    if body.len() > state.limits.max_blob_bytes {
        return Err(too_large());
    }
    if !padding::is_bucket(body.len()) {
        return Err(ApiError::bad_request(
            "not_a_bucket",
            "blob length must be one of the padding buckets",
        ));
    }
    let group_message = body.first() == Some(&GROUP_VERSION);
    let envelope = mailbox.is_some_and(|m| body.starts_with(&envelope_prefix(m)));
    if group_message || envelope {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "bad_envelope",
        match mailbox {
            Some(_) => {
                "blob must be a group message (version 3) or an envelope starting with version 2, the user id and the device id of the mailbox"
            }
            None => "a multi-recipient deposit takes group messages (version 3) only",
        },
    ))
}

/// `413 too_large`.
pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "blob exceeds the size limit",
    )
}

async fn store_blob(state: &AppState, mailbox: Mailbox, body: Bytes) -> Result<BlobId, ApiError> {
    check_blob(state, &body, Some(&mailbox))?;
    if !state.mailbox_limiter.allow(mailbox) {
        state.metrics.rate_limited.inc();
        return Err(ApiError::rate_limited(
            "too many deposits into this mailbox, retry later",
        ));
    }
    let blob_id: BlobId = random_bytes();
    let received_at = coarse_time(now());
    let hand_off = hand_off(state, &blob_id, received_at, &body);
    match state
        .store
        .deposit(
            &mailbox,
            &blob_id,
            received_at,
            body,
            state.limits.quota,
            hand_off,
        )
        .await?
    {
        Deposit::Stored(_) => Ok(blob_id),
        Deposit::UnknownMailbox => Err(unknown_device()),
        Deposit::OverQuota => Err(mailbox_full()),
    }
}

/// Where the store hands a deposited blob: this process's WebSocket subscribers, with
/// its `blob` frame when it is small enough to push inline (encoded here, before the
/// store is asked, so the push need not wait for it).
pub fn hand_off(state: &AppState, blob_id: &BlobId, received_at: i64, body: &[u8]) -> HandOff {
    let frame = (body.len() <= PUSH_INLINE_MAX).then(|| blob_frame(blob_id, received_at, body));
    HandOff::new(Arc::clone(&state.hub), frame)
}

/// `404 unknown_device`: the store found no such mailbox.
pub fn unknown_device() -> ApiError {
    ApiError::not_found(
        "unknown_device",
        "the device is not in the account's device list (never added or revoked)",
    )
}

/// `507 mailbox_full`: the mailbox is at its quota.
pub fn mailbox_full() -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        "mailbox_full",
        "the mailbox is full; it accepts blobs again once its owner acknowledges some",
    )
}

/// Issues a bearer token (signed request only).
pub async fn token(
    State(state): State<AppState>,
    req: OwnerRequest,
) -> Result<Json<serde_json::Value>, ApiError> {
    req.authenticate(&state, Accept::Signature).await?;
    let mailbox = owned_mailbox(&req.parts)?;
    let (token, expires_at) = auth::issue_token(&state, &mailbox).await?;
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
    let mailbox = owned_mailbox(&req)?;
    let blobs: Vec<ListedBlob> = state
        .store
        .blobs_after(&mailbox, 0, PAGE, PAGE_BYTES)
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

/// The mailbox of an authenticated owner request.
fn owned_mailbox(req: &OwnerParts) -> Result<Mailbox, ApiError> {
    req.mailbox_owner()
        .mailbox()
        .ok_or_else(ApiError::unauthorized)
}

/// Deletes one blob (idempotent).
pub async fn delete(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    req: OwnerParts,
) -> Result<StatusCode, ApiError> {
    let blob_id = params.get("blob_id").cloned().unwrap_or_default();
    let blob_ids = parse_blob_ids(&[blob_id])?;
    req.authenticate(&state, b"", Accept::SignatureOrToken)
        .await?;
    let n = state.store.ack(&owned_mailbox(&req)?, &blob_ids).await?;
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
    let n = state.store.ack(&owned_mailbox(&req.parts)?, &ids).await?;
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
            parse_hex(s).ok_or_else(|| {
                ApiError::bad_request("bad_blob_id", "blob ids are 32 lowercase hex digits")
            })
        })
        .collect()
}
