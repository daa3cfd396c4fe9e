//! The v2 device directory (docs/PROTOCOL.md §9, 10): an account's signed device
//! list and one signed bundle per device.
//!
//! Both objects are signed by the account's identity key over their whole content, so
//! the relay checks them with the core's parsers (`from_bytes` verifies) and update
//! rules (`check_update`) and serves them as uploaded; clients verify them again.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use sealpost_core::Error;
use sealpost_core::v2::{DeviceBundle, DeviceId, DeviceList};
use serde::Serialize;
use serde_json::json;

use crate::auth::{Accept, Owner, OwnerParts, OwnerRequest};
use crate::error::{ApiError, parse_device, parse_id};
use crate::limits::MAX_LIST_VERSION_AHEAD_SECS;
use crate::store::{BundleUpdate, DeviceKey, Mailbox, StoredList};
use crate::{AppState, B64, now};

/// Registers (first come) or replaces the account's device list. The list's own
/// signature is the proof: no `Authorization` is needed, and a replayed older list is
/// refused as stale. Devices that leave the list lose their mailbox, its blobs, their
/// bundle and their tokens, and their WebSocket sessions close.
pub async fn put_list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_id(&id)?;
    let body = body?;
    let list = DeviceList::from_bytes(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_device_list",
            format!("the device list does not parse or verify: {e}"),
        )
    })?;
    if *list.user_id() != id {
        return Err(ApiError::bad_request(
            "invalid_device_list",
            "the device list names another user id",
        ));
    }
    let version = i64::try_from(list.version())
        .map_err(|_| ApiError::bad_request("invalid_device_list", "version out of range"))?;
    // Versions are signing times (docs/PROTOCOL.md 9.2): one far in the future would
    // leave no larger version for any later list, and the account's devices could never
    // change again.
    if version > now().saturating_add(MAX_LIST_VERSION_AHEAD_SECS) {
        return Err(ApiError::bad_request(
            "invalid_device_list",
            "the device list's version is more than a day ahead of the relay's clock",
        ));
    }
    let devices: Vec<DeviceKey> = list.devices().iter().map(|d| *d.id.as_bytes()).collect();
    let stored = match state.store.device_list(&id).await? {
        Some(stored) => stored,
        None => {
            if state
                .store
                .register_device_list(&id, list.to_bytes(), version, &devices)
                .await?
            {
                state.metrics.device_lists.inc();
                return Ok((
                    StatusCode::CREATED,
                    Json(json!({ "version": list.version(), "revoked": [] })),
                ));
            }
            // Registered by someone else meanwhile: this is an update of theirs.
            state
                .store
                .device_list(&id)
                .await?
                .ok_or_else(|| stale("the device list changed meanwhile; retry"))?
        }
    };
    let current = parse_stored_list(&state, &stored)?;
    match current.check_update(&list) {
        Ok(()) => {}
        Err(Error::Stale) => {
            return Err(stale(
                "the device list's version is not larger than the stored one's",
            ));
        }
        Err(_) => return Err(identity_mismatch("device list")),
    }
    let removed = state
        .store
        .replace_device_list(&id, list.to_bytes(), version, stored.version, &devices)
        .await?
        .ok_or_else(|| stale("the device list changed meanwhile; fetch it and retry"))?;
    state.metrics.device_list_updates.inc();
    for device in &removed {
        let mailbox = Mailbox::new(id, *device);
        state.metrics.devices_revoked.inc();
        // Wakes its WebSocket sessions here and on other relay processes, which then
        // find the device gone and close.
        state.hub.notify(&mailbox);
        if let Err(e) = state.store.announce(&mailbox).await {
            tracing::warn!(error = %e, "could not announce a revocation");
        }
    }
    let revoked: Vec<String> = removed.iter().map(hex::encode).collect();
    Ok((
        StatusCode::OK,
        Json(json!({ "version": list.version(), "revoked": revoked })),
    ))
}

/// Serves the device list as uploaded.
pub async fn get_list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let stored = state.store.device_list(&id).await?.ok_or_else(no_list)?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        stored.list,
    ))
}

/// Stores a device's bundle: signed request by the list's identity key, the device in
/// the current list, the list's identity, newer than the stored bundle.
pub async fn put_bundle(
    State(state): State<AppState>,
    req: OwnerRequest,
) -> Result<StatusCode, ApiError> {
    let id = *req.id();
    let device = req.parts.device.ok_or_else(ApiError::unauthorized)?;
    req.authenticate_as(&state, Owner::Devices(id), Accept::Signature)
        .await?;
    let bundle = DeviceBundle::from_bytes(&req.body).map_err(|e| {
        ApiError::bad_request(
            "invalid_bundle",
            format!("the device bundle does not parse or verify: {e}"),
        )
    })?;
    if *bundle.user_id() != id || bundle.device_id().as_bytes() != &device {
        return Err(ApiError::bad_request(
            "invalid_bundle",
            "the device bundle names another user id or device",
        ));
    }
    let stored = state.store.device_list(&id).await?.ok_or_else(no_list)?;
    let list = parse_stored_list(&state, &stored)?;
    if !list.contains(&DeviceId::from_bytes(device)) {
        return Err(unknown_device());
    }
    if list.check_bundle(&bundle).is_err() {
        return Err(identity_mismatch("device bundle"));
    }
    let row = state
        .store
        .device(&id, &device)
        .await?
        .ok_or_else(unknown_device)?;
    let first = row.bundle.is_none();
    if let Some(old) = row.bundle {
        let old = DeviceBundle::from_bytes(&old).map_err(|_| corrupt())?;
        match old.check_update(&bundle) {
            Ok(()) => {}
            Err(Error::Stale) => {
                return Err(stale("the device bundle is not newer than the stored one"));
            }
            Err(_) => return Err(identity_mismatch("device bundle")),
        }
    }
    let issued_at = i64::try_from(bundle.issued_at())
        .map_err(|_| ApiError::bad_request("invalid_bundle", "issued_at out of range"))?;
    match state
        .store
        .put_device_bundle(&id, &device, bundle.to_bytes(), issued_at)
        .await?
    {
        BundleUpdate::Stored => {
            state.metrics.device_bundles.inc();
            Ok(if first {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            })
        }
        BundleUpdate::Stale => Err(stale("the device bundle is not newer than the stored one")),
        BundleUpdate::UnknownDevice => Err(unknown_device()),
    }
}

/// Serves one device's bundle as uploaded.
pub async fn get_bundle(
    State(state): State<AppState>,
    Path((id, device)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let device = parse_device(&device)?;
    let row = state
        .store
        .device(&id, &device)
        .await?
        .ok_or_else(unknown_device)?;
    let bundle = row.bundle.ok_or_else(|| {
        ApiError::not_found("no_bundle", "the device has not published a bundle yet")
    })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bundle))
}

#[derive(Debug, Serialize)]
struct ListedBundle {
    device: String,
    bundle: String,
}

/// The list and every published device bundle in one answer: a sender needs them all.
pub async fn bundles(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let stored = state.store.device_list(&id).await?.ok_or_else(no_list)?;
    let bundles: Vec<ListedBundle> = state
        .store
        .devices(&id)
        .await?
        .into_iter()
        .filter_map(|d| {
            d.bundle.map(|b| ListedBundle {
                device: hex::encode(d.device),
                bundle: B64.encode(b),
            })
        })
        .collect();
    Ok(Json(json!({
        "list": B64.encode(&stored.list),
        "bundles": bundles,
    })))
}

#[derive(Debug, Serialize)]
struct DeviceStatus {
    id: String,
    last_seen: Option<i64>,
    has_bundle: bool,
    waiting: i64,
}

/// For the account's owner: each device's last mailbox access (coarse), whether it
/// published a bundle and how many blobs wait for it.
pub async fn status(
    State(state): State<AppState>,
    req: OwnerParts,
) -> Result<Json<serde_json::Value>, ApiError> {
    req.authenticate_as(&state, Owner::Devices(req.id), b"", Accept::Signature)
        .await?;
    let devices: Vec<DeviceStatus> = state
        .store
        .devices(&req.id)
        .await?
        .into_iter()
        .map(|d| DeviceStatus {
            id: hex::encode(d.device),
            last_seen: d.last_seen,
            has_bundle: d.bundle.is_some(),
            waiting: d.blob_count,
        })
        .collect();
    Ok(Json(json!({ "devices": devices })))
}

/// The stored list, verified once per content (see `identities.rs`).
fn parse_stored_list(state: &AppState, stored: &StoredList) -> Result<Arc<DeviceList>, ApiError> {
    state.verified_lists.get(&stored.list).ok_or_else(corrupt)
}

/// A stored object that no longer parses: only a core change or a damaged database can
/// cause it. Nothing is changed; the operator has to look.
fn corrupt() -> ApiError {
    tracing::error!("a stored device list or bundle does not parse");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error, nothing was changed",
    )
}

fn no_list() -> ApiError {
    ApiError::not_found("unknown_user", "no device list is registered for this id")
}

fn unknown_device() -> ApiError {
    ApiError::not_found(
        "unknown_device",
        "the device is not in the account's device list (never added or revoked)",
    )
}

fn stale(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "stale", message)
}

fn identity_mismatch(what: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "identity_mismatch",
        format!("the {what} is signed by another identity key than the account's"),
    )
}
