//! Password-encrypted key backups: `PUT .../backup`, `GET .../backup/params`,
//! `POST .../backup/fetch`.
//!
//! The same handlers serve v1 backups (`/v1/users/{id}/backup...`, tag `K 1`) and v2
//! backups (`/v2/users/{id}/backup...`, tag `K 2`, docs/PROTOCOL.md §20): the path's
//! version picks the header parser, who may upload, the size limit and the stored slot
//! ([`BackupVersion`]); the token, the fetch and its attempt limit are one code path.
//!
//! The relay stores only SHA-256 of the client's authentication token and compares in
//! constant time. Fetch attempts are counted per id *before* comparing, so at most
//! `backup_max_attempts` guesses per window are ever checked, however many arrive at
//! once, on however many relay processes and on either version's route.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sealpost_core::backup::{BackupParams, HEADER_LEN};
use sealpost_core::{Error, UserId};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{Accept, Owner, OwnerRequest};
use crate::error::{ApiError, parse_id};
use crate::store::BackupVersion;
use crate::{AppState, now};

const TOKEN_LEN: usize = 32;

/// The backup version of the path: `/v1/...` or `/v2/...`.
#[derive(Debug, Clone, Copy)]
pub struct Version(pub BackupVersion);

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // The URI as sent, so a router nested under a prefix still sees the version.
        let path = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri.path(),
            None => parts.uri.path(),
        };
        if path.starts_with("/v1/") {
            Ok(Self(BackupVersion::V1))
        } else if path.starts_with("/v2/") {
            Ok(Self(BackupVersion::V2))
        } else {
            Err(ApiError::not_found("not_found", "no such endpoint"))
        }
    }
}

/// Stores `auth_token[32] || backup blob`, replacing the id's backup of that version.
///
/// v1: signed by the registered bundle's identity key, or a token of the account's
/// mailbox. v2: signed by the device list's identity key only (a token belongs to one
/// device's mailbox, a backup to the account), at most `max_backup_v2_bytes`.
pub async fn put(
    State(state): State<AppState>,
    Version(version): Version,
    req: OwnerRequest,
) -> Result<StatusCode, ApiError> {
    let id = *req.id();
    let (who, accept) = match version {
        BackupVersion::V1 => (Owner::Account(id), Accept::SignatureOrToken),
        BackupVersion::V2 => (Owner::Devices(id), Accept::Signature),
    };
    req.authenticate_as(&state, who, accept).await?;
    let (token, blob) = req.body.split_at_checked(TOKEN_LEN).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_backup",
            "body must be auth_token[32] || backup blob",
        )
    })?;
    if version == BackupVersion::V2 && blob.len() > state.limits.max_backup_v2_bytes {
        return Err(too_large());
    }
    let owner = blob_owner(version, blob)?;
    if owner != id || blob.len() <= HEADER_LEN {
        return Err(ApiError::bad_request(
            "invalid_backup",
            "the backup blob belongs to another id or is empty",
        ));
    }
    state
        .store
        .put_backup(version, &id, &Sha256::digest(token).into(), blob)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The id a blob's header names, read with the core's parser of `version` (tag, user
/// id, salt, iterations; v1 and v2 headers differ only in the tag).
fn blob_owner(version: BackupVersion, blob: &[u8]) -> Result<UserId, ApiError> {
    let parsed = match version {
        BackupVersion::V1 => BackupParams::from_blob(blob),
        BackupVersion::V2 => sealpost_core::v2::backup::params_from_blob(blob),
    };
    match parsed {
        Ok((owner, _)) => Ok(owner),
        // v1 answered 400 for an oversize blob (its body limit is the small one); kept.
        Err(Error::TooLarge) if version == BackupVersion::V2 => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(
            "invalid_backup",
            format!("the backup blob is not valid: {e}"),
        )),
    }
}

/// The public header of the backup (salt and iterations), needed before PBKDF2.
pub async fn params(
    State(state): State<AppState>,
    Version(version): Version,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let backup = state
        .store
        .backup(version, &id)
        .await?
        .ok_or_else(no_backup)?;
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
    Version(version): Version,
    Path(id): Path<String>,
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
    let backup = state
        .store
        .backup(version, &id)
        .await?
        .ok_or_else(no_backup)?;
    let limits = &state.limits;
    let now = now();
    // Per id, whichever version: guesses at one backup cannot go on at the other.
    let attempts = state
        .store
        .count_backup_attempt(&id, now, now - limits.backup_window_secs)
        .await?;
    if attempts > limits.backup_max_attempts {
        state.metrics.backup_fetches_refused.inc();
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many wrong tokens for this id; wait for the attempt window to end",
        )
        // At most one window; the exact end is not worth a query.
        .retry_after(u64::try_from(limits.backup_window_secs).unwrap_or(0)));
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
    state.metrics.backup_fetches.inc();
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        backup.blob,
    ))
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
