//! Owner authentication (docs/API.md "Owner authentication"): a request signed with the
//! account's identity key (from its device list), or a short-lived bearer token
//! obtained with one and bound to one device's mailbox. Every
//! failure is the same `401`, whatever went wrong.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sealpost_core::v2::DeviceList;
use sealpost_core::{UserId, auth};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, parse_device, parse_id};
use crate::identities;
use crate::store::{DeviceKey, Mailbox, coarse_time, coarse_time_up};
use crate::{AppState, B64, now, random_bytes};

/// Who must have made a request: whose identity key a signature must verify with, and
/// which mailbox a bearer token must be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The mailbox of one device: the identity key of the account's device list;
    /// tokens of this device's mailbox. The device must be in the current list.
    Device(UserId, DeviceKey),
    /// Account-wide requests (device bundles, device status, backups): the identity
    /// key of the device list; signatures only, since a token belongs to one mailbox.
    Devices(UserId),
}

impl Owner {
    /// The account.
    pub fn user(&self) -> &UserId {
        match self {
            Self::Device(user, _) | Self::Devices(user) => user,
        }
    }

    /// The mailbox a bearer token must be bound to, if tokens are accepted at all.
    pub fn mailbox(&self) -> Option<Mailbox> {
        match *self {
            Self::Device(user, device) => Some(Mailbox::new(user, device)),
            Self::Devices(_) => None,
        }
    }
}

/// Which credentials an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Only a fresh signature (token issuance, key rotation).
    Signature,
    /// A signature or a bearer token.
    SignatureOrToken,
}

/// The parts of a request a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// The URI as sent by the client (path and query).
    pub uri: &'a Uri,
    /// Request headers (for `Authorization`).
    pub headers: &'a HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
}

enum Credential {
    Signature {
        ts: u64,
        nonce: String,
        sig: Vec<u8>,
    },
    Bearer([u8; 32]),
}

/// An owner-only request without a body to sign (`GET`, `DELETE`): the `{id}` (and
/// `{device}`) of the path and the parts a signature covers. Every owner-only handler
/// used to take these apart by hand; extracting them is one step, authenticating
/// another ([`Self::authenticate`]), so a handler can still refuse a malformed request
/// first.
#[derive(Debug)]
pub struct OwnerParts {
    /// The id of the path's `{id}`.
    pub id: UserId,
    /// The device of the path's `{device}`, on routes that have one.
    pub device: Option<DeviceKey>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl OwnerParts {
    /// The owner of the path's mailbox: the device's, or on a route without
    /// `{device}` the account's (which has no mailbox, so no token fits it).
    pub fn mailbox_owner(&self) -> Owner {
        match self.device {
            None => Owner::Devices(self.id),
            Some(device) => Owner::Device(self.id, device),
        }
    }

    /// Checks that the request, with `body`, comes from the owner of the path's
    /// mailbox ([`Self::mailbox_owner`]). Bodiless endpoints pass `b""`: the signature
    /// covers an empty body (docs/API.md), whatever was sent.
    pub async fn authenticate(
        &self,
        state: &AppState,
        body: &[u8],
        accept: Accept,
    ) -> Result<(), ApiError> {
        self.authenticate_as(state, self.mailbox_owner(), body, accept)
            .await
    }

    /// Checks that the request, with `body`, comes from `who`.
    pub async fn authenticate_as(
        &self,
        state: &AppState,
        who: Owner,
        body: &[u8],
        accept: Accept,
    ) -> Result<(), ApiError> {
        let req = Signed {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            body,
        };
        owner(state, who, req, accept).await
    }

    /// Whether the request carries credentials at all (a first registration does not).
    pub fn has_credentials(&self) -> bool {
        self.headers.contains_key(header::AUTHORIZATION)
    }
}

impl FromRequestParts<AppState> for OwnerParts {
    /// The path's own rejection, or `400 bad_id`: what the handlers answered before.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // A map, not `Path<String>`, so routes with more parameters fit too.
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id = params.get("id").map_or("", String::as_str);
        let id = parse_id(id).map_err(IntoResponse::into_response)?;
        let device = params
            .get("device")
            .map(|d| parse_device(d))
            .transpose()
            .map_err(IntoResponse::into_response)?;
        // The URI as sent, before any routing rewrote it: the one the client signed.
        let uri = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri.clone(),
            None => parts.uri.clone(),
        };
        Ok(Self {
            id,
            device,
            method: parts.method.clone(),
            uri,
            headers: parts.headers.clone(),
        })
    }
}

/// An owner-only request with its body: [`OwnerParts`] plus the raw body the
/// signature covers.
#[derive(Debug)]
pub struct OwnerRequest {
    /// The id, method, URI and headers.
    pub parts: OwnerParts,
    /// The raw body.
    pub body: Bytes,
}

impl OwnerRequest {
    /// The id of the path's `{id}`.
    pub fn id(&self) -> &UserId {
        &self.parts.id
    }

    /// Checks that the request comes from the owner of the path's mailbox.
    pub async fn authenticate(&self, state: &AppState, accept: Accept) -> Result<(), ApiError> {
        self.parts.authenticate(state, &self.body, accept).await
    }

    /// Checks that the request comes from `who`.
    pub async fn authenticate_as(
        &self,
        state: &AppState,
        who: Owner,
        accept: Accept,
    ) -> Result<(), ApiError> {
        self.parts
            .authenticate_as(state, who, &self.body, accept)
            .await
    }
}

impl FromRequest<AppState> for OwnerRequest {
    /// As for [`OwnerParts`] (checked first), then the body's (`413 too_large`, ...).
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let owner = OwnerParts::from_request_parts(&mut parts, state).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|r| ApiError::from(r).into_response())?;
        Ok(Self { parts: owner, body })
    }
}

/// Checks that the request comes from `who`.
pub async fn owner(
    state: &AppState,
    who: Owner,
    req: Signed<'_>,
    accept: Accept,
) -> Result<(), ApiError> {
    let outcome = check(state, who, req, accept).await;
    if matches!(&outcome, Err(e) if e.status() == axum::http::StatusCode::UNAUTHORIZED) {
        state.metrics.auth_failures.inc();
    }
    outcome
}

async fn check(
    state: &AppState,
    who: Owner,
    req: Signed<'_>,
    accept: Accept,
) -> Result<(), ApiError> {
    let value = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match value
        .and_then(parse_authorization)
        .ok_or_else(ApiError::unauthorized)?
    {
        Credential::Signature { ts, nonce, sig } => {
            let now = now();
            let skew = state.limits.clock_skew_secs;
            let ts_i = i64::try_from(ts).map_err(|_| ApiError::unauthorized())?;
            if (now - ts_i).abs() > skew {
                return Err(ApiError::unauthorized());
            }
            let path = req.uri.path_and_query().map_or("/", |p| p.as_str());
            let msg = auth::request_signing_input(req.method.as_str(), path, req.body, ts, &nonce);
            verify_with_identity(state, who, &msg, &sig).await?;
            // Only a valid signature may consume a nonce, so nobody can burn them. The
            // nonce belongs to the account: the path in the signed input already
            // tells its devices' mailboxes apart.
            if !state
                .store
                .use_nonce(who.user(), &nonce, coarse_time_up(ts_i.max(now) + skew))
                .await?
            {
                return Err(ApiError::unauthorized());
            }
        }
        Credential::Bearer(token) if accept == Accept::SignatureOrToken => {
            let mailbox = who.mailbox().ok_or_else(ApiError::unauthorized)?;
            check_token(state, &mailbox, &token).await?;
        }
        Credential::Bearer(_) => return Err(ApiError::unauthorized()),
    }
    if let Owner::Device(user, device) = who {
        device_listed(state, &user, &device).await?;
    }
    Ok(())
}

/// For a device mailbox, after its credentials: the device must still be in the account's
/// list (a token issued just before a revocation must not outlive it), and the access
/// is recorded (coarsely) as the device's "last seen".
pub async fn device_listed(
    state: &AppState,
    user: &UserId,
    device: &DeviceKey,
) -> Result<(), ApiError> {
    if state.store.device(user, device).await?.is_none() {
        return Err(ApiError::unauthorized());
    }
    state
        .store
        .touch_device(user, device, coarse_time(now()))
        .await?;
    Ok(())
}

/// Verifies `sig` over `msg` with the identity key of `who`'s device list, with the
/// same work whether or not the account exists (see `identities.rs`).
pub async fn verify_with_identity(
    state: &AppState,
    who: Owner,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), ApiError> {
    let list = match state.store.device_list(who.user()).await? {
        Some(stored) => state.verified_lists.get(&stored.list),
        None => None,
    };
    let key = list.as_deref().map(DeviceList::identity);
    if identities::verify_uniformly(key, msg, sig) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// Checks a bearer token for `mailbox`. Tokens are looked up by hash, so comparing
/// them leaks nothing through timing.
pub async fn check_token(
    state: &AppState,
    mailbox: &Mailbox,
    token: &[u8; 32],
) -> Result<(), ApiError> {
    match state
        .store
        .token_owner(&Sha256::digest(token).into(), now())
        .await?
    {
        Some(owner) if owner == *mailbox => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Issues a bearer token for `mailbox`; returns it (base64url) and its expiry.
pub async fn issue_token(state: &AppState, mailbox: &Mailbox) -> Result<(String, i64), ApiError> {
    let token: [u8; 32] = random_bytes();
    // Rounded up: the stored expiry does not tell when the token was issued.
    let expires_at = coarse_time_up(now() + state.limits.token_ttl_secs);
    state
        .store
        .put_token(&Sha256::digest(token).into(), mailbox, expires_at)
        .await?;
    Ok((B64.encode(token), expires_at))
}

/// Decodes a base64url bearer token.
pub fn decode_token(s: &str) -> Option<[u8; 32]> {
    B64.decode(s).ok()?.try_into().ok()
}

fn parse_authorization(value: &str) -> Option<Credential> {
    if let Some(token) = value.strip_prefix("Bearer ") {
        return decode_token(token.trim()).map(Credential::Bearer);
    }
    let params = value.strip_prefix("Sealpost-Sig ")?;
    let (mut ts, mut nonce, mut sig) = (None, None, None);
    for part in params.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "ts" => ts = Some(v.parse::<u64>().ok()?),
            "nonce" if valid_nonce(v) => nonce = Some(v.to_owned()),
            "sig" if v.len() <= 2048 => sig = Some(B64.decode(v).ok()?),
            _ => return None,
        }
    }
    Some(Credential::Signature {
        ts: ts?,
        nonce: nonce?,
        sig: sig?,
    })
}

fn valid_nonce(n: &str) -> bool {
    (16..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_well_formed_headers() {
        let ok = "Sealpost-Sig ts=1700000000,nonce=abcdefghijklmnop,sig=AAEC";
        assert!(matches!(
            parse_authorization(ok),
            Some(Credential::Signature {
                ts: 1_700_000_000,
                ..
            })
        ));
        for bad in [
            "Sealpost-Sig ts=1,nonce=short,sig=AAEC",
            "Sealpost-Sig ts=x,nonce=abcdefghijklmnop,sig=AAEC",
            "Sealpost-Sig ts=1,nonce=abcdefghijklmnop",
            "Sealpost-Sig ts=1,nonce=abcdefghijklmnop,sig=!!",
            "Sealpost-Sig ts=1,nonce=abcdefghijklmnop,sig=AAEC,extra=1",
            "Sealpost-Sig ts=1,nonce=abcdefghijklmn/p,sig=AAEC",
            "Bearer short",
            "Basic dXNlcjpwYXNz",
            "",
        ] {
            assert!(parse_authorization(bad).is_none(), "{bad}");
        }
        let token = B64.encode([7u8; 32]);
        assert!(
            matches!(parse_authorization(&format!("Bearer {token}")), Some(Credential::Bearer(t)) if t == [7u8; 32])
        );
    }
}
