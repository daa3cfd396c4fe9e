//! Link channels (docs/PROTOCOL.md §19): an anonymous rendezvous where a new device
//! leaves its `hello` and an old device its `grant`, both encrypted with a key derived
//! from a code the relay never sees (the channel id is a hash of it).
//!
//! Slots are write-once, live [`crate::limits::Limits::link_ttl_secs`] from the
//! channel's first write, and are capped in size, in total and in write rate per
//! address. Nothing about a channel is logged; only aggregate counters move.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::time::{Duration, Instant};

use crate::address::{ClientSource, Source};
use crate::error::{ApiError, parse_hex};
use crate::limits::{MAX_LINK_GRANT, MAX_LINK_HELLO};
use crate::store::{LinkPut, LinkSlot};
use crate::{AppState, B64, now};

/// How often a waiting read looks at the store even without a local wake-up (a write
/// through another relay process on the same PostgreSQL database wakes nobody here).
const POLL: Duration = Duration::from_secs(1);

/// Readers waiting on one channel at once with a wake-up; more poll.
const WAITERS_PER_CHANNEL: usize = 4;

fn parse_channel(s: &str) -> Result<[u8; 16], ApiError> {
    parse_hex(s).ok_or_else(|| {
        ApiError::bad_request("bad_channel", "channel ids are 32 lowercase hex digits")
    })
}

fn parse_slot(s: &str) -> Result<LinkSlot, ApiError> {
    LinkSlot::parse(s)
        .ok_or_else(|| ApiError::bad_request("bad_slot", "the slot is `hello` or `grant`"))
}

/// The deletion proof of `Authorization: Link <base64url 32 bytes>` (docs/PROTOCOL.md
/// 19.2: derived from the linking code by both devices) as its SHA-256, the form it is
/// stored and compared in; `None` without the header.
fn delete_hash(headers: &HeaderMap) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let proof = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Link "))
        .and_then(|p| B64.decode(p.trim()).ok())
        .filter(|p| p.len() == 32)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_proof",
                "Authorization must be `Link <base64url deletion proof, 32 bytes>`",
            )
        })?;
    Ok(Some(Sha256::digest(proof).into()))
}

/// Writes a slot once.
pub async fn put(
    State(state): State<AppState>,
    Path((channel, slot)): Path<(String, String)>,
    ClientSource(ip): ClientSource,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let outcome = match delete_hash(&headers) {
        Ok(proof) => write(&state, &channel, &slot, ip, proof, body).await,
        Err(e) => Err(e),
    };
    match &outcome {
        Ok(_) => state.metrics.links_written.inc(),
        Err(_) => state.metrics.links_refused.inc(),
    }
    outcome
}

async fn write(
    state: &AppState,
    channel: &str,
    slot: &str,
    ip: Option<Source>,
    delete_hash: Option<[u8; 32]>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let channel = parse_channel(channel)?;
    let slot = parse_slot(slot)?;
    let body = body?;
    let max = match slot {
        LinkSlot::Hello => MAX_LINK_HELLO,
        LinkSlot::Grant => MAX_LINK_GRANT,
    };
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            match slot {
                LinkSlot::Hello => "a hello is at most 8 KiB",
                LinkSlot::Grant => "a grant is at most 1 MiB",
            },
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty",
            "a link slot cannot be empty",
        ));
    }
    if let Some(ip) = ip
        && !state.link_limiter.allow(ip)
    {
        state.metrics.rate_limited.inc();
        return Err(ApiError::rate_limited(
            "too many link writes from this address, retry later",
        ));
    }
    let limits = &state.limits;
    match state
        .store
        .put_link(
            &channel,
            slot,
            &body,
            delete_hash.as_ref(),
            now(),
            limits.link_ttl_secs,
            limits.max_link_bytes,
        )
        .await?
    {
        LinkPut::Stored => {
            state.link_hub.notify(&channel);
            Ok(StatusCode::CREATED)
        }
        LinkPut::Taken => Err(ApiError::new(
            StatusCode::CONFLICT,
            "slot_taken",
            "this slot was written before; slots are write-once",
        )),
        LinkPut::Full => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "links_full",
            "the relay holds as many link channels as it accepts; retry in a few minutes",
        )
        .retry_after(60)),
    }
}

/// Reads a slot; with `?wait=N` (seconds, at most 25) waits for it to be written.
pub async fn get(
    State(state): State<AppState>,
    Path((channel, slot)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let channel = parse_channel(&channel)?;
    let slot = parse_slot(&slot)?;
    let wait =
        match query.get("wait") {
            None => Duration::ZERO,
            Some(w) => Duration::from_secs(w.parse::<u64>().map_err(|_| {
                ApiError::bad_request("bad_wait", "wait is a whole number of seconds")
            })?),
        };
    if query.keys().any(|k| k != "wait") {
        return Err(ApiError::bad_request(
            "bad_query",
            "the only query parameter is wait",
        ));
    }
    let deadline = Instant::now() + wait.min(state.limits.max_link_wait);
    // Waiting holds a request slot: only so many at once, the rest answer at once.
    let permit = if wait.is_zero() {
        None
    } else {
        Arc::clone(&state.link_waiters).try_acquire_owned().ok()
    };
    let mut sub = permit
        .as_ref()
        .and_then(|_| state.link_hub.subscribe(channel, WAITERS_PER_CHANNEL));
    loop {
        // Subscribed before reading, so a write between the read and the wait wakes us.
        if let Some(data) = state.store.link(&channel, slot, now()).await? {
            return Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if permit.is_none() || left.is_zero() {
            return Err(ApiError::not_found(
                "no_link",
                "nothing in this slot (not written yet, expired or deleted)",
            ));
        }
        let pause = left.min(POLL);
        match sub.as_mut() {
            Some(sub) => {
                let _ = tokio::time::timeout(pause, sub.changed()).await;
            }
            None => tokio::time::sleep(pause).await,
        }
    }
}

/// Deletes the channel (both slots) for either device once linking is done or
/// refused: only with the deletion proof a slot was written with, so whoever else
/// learns the channel id cannot delete a grant before the new device has read it. The
/// answer is the same whether anything matched.
pub async fn delete(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let channel = parse_channel(&channel)?;
    let proof = delete_hash(&headers)?.ok_or_else(|| {
        ApiError::bad_request(
            "bad_proof",
            "deleting a link channel needs its deletion proof",
        )
    })?;
    state.store.delete_link(&channel, &proof).await?;
    Ok(StatusCode::NO_CONTENT)
}
