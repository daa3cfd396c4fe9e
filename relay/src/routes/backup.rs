//! Password-encrypted key backups (tag `K 2`, docs/PROTOCOL.md §20):
//! `PUT /v2/users/{id}/backup`, `GET .../backup/params`, `POST .../backup/fetch`.
//!
//! The relay stores only SHA-256 of the client's authentication token and compares in
//! constant time. Fetch attempts are counted *before* comparing, twice: per id and
//! address in memory (`backup_max_attempts` per window, per relay process), so one
//! guesser cannot lock the owner out, and per id in the database
//! (`backup_max_attempts_per_id` per window, however many addresses and relay processes),
//! so guessing from many addresses stays bounded. An attempt refused by the first is not
//! counted by the second. A right token clears both counts for the id (and its address).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sealpost_core::Error;
use sealpost_core::backup::HEADER_LEN;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::address::ClientSource;
use crate::auth::{Accept, Owner, OwnerRequest};
use crate::error::{ApiError, parse_id};
use crate::store::TIME_GRANULARITY;
use crate::{AppState, now};

const TOKEN_LEN: usize = 32;

/// Stores `auth_token[32] || backup blob`, replacing the id's backup: signed by the
/// device list's identity key only (a token belongs to one device's mailbox, a backup
/// to the account), at most `max_backup_v2_bytes`.
pub async fn put(State(state): State<AppState>, req: OwnerRequest) -> Result<StatusCode, ApiError> {
    let id = *req.id();
    req.authenticate_as(&state, Owner::Devices(id), Accept::Signature)
        .await?;
    let (token, blob) = req.body.split_at_checked(TOKEN_LEN).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_backup",
            "body must be auth_token[32] || backup blob",
        )
    })?;
    if blob.len() > state.limits.max_backup_v2_bytes {
        return Err(too_large());
    }
    let owner = match sealpost_core::v2::backup::params_from_blob(blob) {
        Ok((owner, _)) => owner,
        Err(Error::TooLarge) => return Err(too_large()),
        Err(e) => {
            return Err(ApiError::bad_request(
                "invalid_backup",
                format!("the backup blob is not valid: {e}"),
            ));
        }
    };
    if owner != id || blob.len() <= HEADER_LEN {
        return Err(ApiError::bad_request(
            "invalid_backup",
            "the backup blob belongs to another id or is empty",
        ));
    }
    state
        .store
        .put_backup(&id, &Sha256::digest(token).into(), blob)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public header of the backup (salt and iterations), needed before PBKDF2.
pub async fn params(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let backup = state.store.backup(&id).await?.ok_or_else(no_backup)?;
    let header_bytes = backup
        .blob
        .get(..HEADER_LEN)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        header_bytes,
    ))
}

/// Hands out the backup to the holder of the right token, within the attempt limit.
pub async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ClientSource(source): ClientSource,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = body?;
    if body.len() != TOKEN_LEN {
        return Err(ApiError::bad_request(
            "bad_token",
            "body must be the 32-byte auth token",
        ));
    }
    let backup = state.store.backup(&id).await?.ok_or_else(no_backup)?;
    let limits = &state.limits;
    if let Some(source) = source
        && !state.backup_limiter.allow((id, source))
    {
        state.metrics.backup_fetches_refused.inc();
        // The next attempt of this address is allowed one window / max later.
        let refill = limits.backup_window_secs / limits.backup_max_attempts.max(1);
        return Err(too_many_attempts().retry_after(u64::try_from(refill.max(1)).unwrap_or(1)));
    }
    let now = now();
    // The window starts at a coarse time, so the row does not tell exactly when someone
    // tried: rounded down to a third of the window at most (the window lasts between
    // two thirds of its length and its length).
    let step = TIME_GRANULARITY.min(limits.backup_window_secs / 3).max(1);
    let attempts = state
        .store
        .count_backup_attempt(
            &id,
            now - now.rem_euclid(step),
            now - limits.backup_window_secs,
        )
        .await?;
    if attempts > limits.backup_max_attempts_per_id {
        state.metrics.backup_fetches_refused.inc();
        // At most one window; the exact end is not worth a query.
        return Err(
            too_many_attempts().retry_after(u64::try_from(limits.backup_window_secs).unwrap_or(0))
        );
    }
    let presented: [u8; 32] = Sha256::digest(&body).into();
    if !bool::from(presented.ct_eq(&backup.token_hash)) {
        state.metrics.backup_fetches_refused.inc();
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_token",
            "wrong backup token",
        ));
    }
    state.store.clear_backup_attempts(&id).await?;
    // A right token is no guess: the address's share refills, so an owner who logs in
    // on several devices from one address is never locked out by its own logins.
    if let Some(source) = source {
        state.backup_limiter.forget(&(id, source));
    }
    state.metrics.backup_fetches.inc();
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        backup.blob,
    ))
}

fn too_many_attempts() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "too many wrong tokens for this id; wait before trying again",
    )
}

fn no_backup() -> ApiError {
    ApiError::not_found("no_backup", "no backup is stored for this id")
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "the backup blob exceeds the size limit",
    )
}
