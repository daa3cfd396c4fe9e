//! The multi-recipient deposit (`POST /v2/mailboxes`): one upload of a group message
//! (docs/PROTOCOL.md §27.6) stored in many device mailboxes, so a message to a group of
//! 1,000 members is one request, not one per member device (docs/API.md
//! "Multi-recipient deposit").
//!
//! Anonymous like a single deposit, with the same checks per mailbox (existence, quota,
//! deposit rate), every stored copy in one commit. The relay learns the recipient
//! mailboxes of one upload together, which it would learn anyway from the same blob
//! arriving in each at the same moment; nothing in the blob names the group.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::json;

use crate::address::ClientSource;
use crate::error::ApiError;
use crate::limits::{FANOUT_RECIPIENTS_PER_TOKEN, MAX_FANOUT, MAX_FANOUT_BYTES};
use crate::routes::mailbox::{check_blob, hand_off, too_large};
use crate::store::{BlobId, Deposit, DeviceKey, Mailbox, coarse_time};
use crate::{AppState, now, random_bytes};
use sealpost_core::UserId;

/// One recipient in the request: user id (32 bytes) || device id (16 bytes).
const RECIPIENT_LEN: usize = UserId::LEN + 16;

/// Largest request body (the route's body limit): the count, [`MAX_FANOUT`] recipients and the largest blob.
pub fn body_limit(max_blob_bytes: usize) -> usize {
    2 + MAX_FANOUT * RECIPIENT_LEN + max_blob_bytes
}

/// `POST /v2/mailboxes`: `u16(n) || n × (user_id[32] || device_id[16]) || blob`.
/// `201 {"id": "<blob id>", "refused": [{"index": i, "error": "<code>"}]}`: stored in
/// every listed mailbox not in `refused`.
pub async fn deposit_many(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let outcome = store_everywhere(&state, source, body).await;
    if outcome.is_err() {
        state.metrics.deposits_refused.inc();
    }
    outcome
}

async fn store_everywhere(
    state: &AppState,
    source: Option<crate::address::Source>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let body = body?;
    let (recipients, blob) = parse(&body)?;
    check_blob(state, &blob, None)?;
    if recipients.len().saturating_mul(blob.len()) > MAX_FANOUT_BYTES {
        return Err(too_large());
    }
    // The request's own token was taken by the per-address limit; the rest here.
    let tokens = recipients.len().div_ceil(FANOUT_RECIPIENTS_PER_TOKEN) - 1;
    if let Some(source) = source
        && tokens > 0
        && !state
            .ip_limiter
            .allow_n(source, f64::from(u32::try_from(tokens).unwrap_or(u32::MAX)))
    {
        state.metrics.rate_limited.inc();
        return Err(ApiError::rate_limited(
            "too many deposits from this address, slow down",
        ));
    }
    let blob_id: BlobId = random_bytes();
    // (index in the request, code) of every recipient not stored.
    let mut refused = Vec::new();
    let mut to = Vec::with_capacity(recipients.len());
    let mut indices = Vec::with_capacity(recipients.len());
    for (index, mailbox) in recipients.into_iter().enumerate() {
        if state.mailbox_limiter.allow(mailbox) {
            to.push((mailbox, blob_id));
            indices.push(index);
        } else {
            state.metrics.rate_limited.inc();
            refused.push((index, "rate_limited"));
        }
    }
    let received_at = coarse_time(now());
    // One frame for every mailbox: the same blob under the same id.
    let hand_off = hand_off(state, &blob_id, received_at, &blob);
    let outcomes = if to.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .deposit_many(&to, received_at, blob, state.limits.quota, hand_off)
            .await?
    };
    let mut stored = 0u64;
    for (index, outcome) in indices.into_iter().zip(outcomes) {
        match outcome {
            Deposit::Stored(_) => stored += 1,
            Deposit::UnknownMailbox => refused.push((index, "unknown_device")),
            Deposit::OverQuota => refused.push((index, "mailbox_full")),
        }
    }
    state.metrics.deposits.add(stored);
    state
        .metrics
        .deposits_refused
        .add(u64::try_from(refused.len()).unwrap_or(u64::MAX));
    refused.sort_unstable();
    let refused: Vec<serde_json::Value> = refused
        .into_iter()
        .map(|(index, error)| json!({ "index": index, "error": error }))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": hex::encode(blob_id), "refused": refused })),
    ))
}

/// The recipients and the blob of a request body; refuses an empty or overlong list,
/// a list cut short and a mailbox named twice (which would store the blob twice in it).
fn parse(body: &Bytes) -> Result<(Vec<Mailbox>, Bytes), ApiError> {
    let bad = |m: &'static str| ApiError::bad_request("bad_recipients", m);
    let count = body
        .get(..2)
        .and_then(|c| <[u8; 2]>::try_from(c).ok())
        .map(|c| usize::from(u16::from_be_bytes(c)))
        .ok_or_else(|| bad("the body starts with a 2-byte recipient count"))?;
    if count == 0 {
        return Err(bad("at least one recipient"));
    }
    if count > MAX_FANOUT {
        return Err(ApiError::bad_request(
            "too_many_recipients",
            "at most 8000 recipients per deposit",
        ));
    }
    let end = 2 + count * RECIPIENT_LEN;
    let list = body
        .get(2..end)
        .ok_or_else(|| bad("the body is shorter than its recipient list"))?;
    let mut seen = HashSet::with_capacity(count);
    let mut recipients = Vec::with_capacity(count);
    for r in list.chunks_exact(RECIPIENT_LEN) {
        let (user, device) = r.split_at(UserId::LEN);
        let user = UserId::from_slice(user).map_err(|_| bad("a recipient's user id"))?;
        let device = DeviceKey::try_from(device).map_err(|_| bad("a recipient's device id"))?;
        let mailbox = Mailbox::new(user, device);
        if !seen.insert(mailbox) {
            return Err(ApiError::bad_request(
                "duplicate_recipient",
                "a mailbox is named twice",
            ));
        }
        recipients.push(mailbox);
    }
    Ok((recipients, body.slice(end..)))
}
