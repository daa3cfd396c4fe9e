//! The public key directory: `PUT/GET /v1/users/{id}/bundle`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sealpost_core::v2::DeviceList;
use sealpost_core::{Error, KeyBundle, UserId};

use crate::AppState;
use crate::auth::{Accept, OwnerRequest};
use crate::error::{ApiError, parse_id};

/// Registers (no `Authorization`) or updates (signed by the registered key) a bundle.
pub async fn put_bundle(
    State(state): State<AppState>,
    req: OwnerRequest,
) -> Result<StatusCode, ApiError> {
    let is_update = req.parts.has_credentials();
    if is_update {
        req.authenticate(&state, Accept::Signature).await?;
    }
    let (id, body) = (*req.id(), &req.body);
    let bundle = KeyBundle::from_bytes(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_bundle",
            format!("the bundle does not parse or verify: {e}"),
        )
    })?;
    if *bundle.user_id() != id {
        return Err(ApiError::bad_request(
            "invalid_bundle",
            "the bundle names another user id",
        ));
    }
    let issued_at = i64::try_from(bundle.issued_at())
        .map_err(|_| ApiError::bad_request("invalid_bundle", "issued_at out of range"))?;
    if !is_update {
        check_v2_identity(&state, &id, &bundle).await?;
        return if state
            .store
            .register(&id, bundle.to_bytes(), issued_at)
            .await?
        {
            state.metrics.registrations.inc();
            Ok(StatusCode::CREATED)
        } else {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_registered",
                "this id is registered; updates must be signed by its identity key",
            ))
        };
    }
    let stored = state
        .store
        .bundle(&id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let stored = KeyBundle::from_bytes(&stored).map_err(|_| ApiError::unauthorized())?;
    match stored.check_update(&bundle) {
        Ok(()) => {}
        Err(Error::Stale) => return Err(stale()),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "identity_mismatch",
                "an update must keep the registered identity key",
            ));
        }
    }
    if !state
        .store
        .update_bundle(&id, bundle.to_bytes(), issued_at)
        .await?
    {
        return Err(stale());
    }
    state.metrics.bundle_updates.inc();
    Ok(StatusCode::OK)
}

/// A v1 registration for an id that already has a v2 device list must carry that
/// list's identity key (the mirror of the v2 registration's check), so nobody can take
/// a v2 account's v1 mailbox.
async fn check_v2_identity(
    state: &AppState,
    id: &UserId,
    bundle: &KeyBundle,
) -> Result<(), ApiError> {
    let Some(stored) = state.store.device_list(id).await? else {
        return Ok(());
    };
    match DeviceList::from_bytes(&stored.list) {
        Ok(list) if list.identity() == bundle.identity() => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "identity_mismatch",
            "this id has a device list signed by another identity key",
        )),
    }
}

fn stale() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "stale",
        "the bundle is not newer than the registered one",
    )
}

/// Looks up a bundle.
pub async fn get_bundle(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let bundle = state.store.bundle(&id).await?.ok_or_else(|| {
        ApiError::not_found("unknown_user", "no bundle is registered for this id")
    })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bundle))
}
