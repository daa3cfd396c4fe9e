//! `GET /v2/mailboxes/{id}/{device}/turn` (docs/API.md "TURN credentials", docs/TURN.md):
//! the STUN and TURN servers a device's calls and direct channels may use, with
//! short-lived TURN credentials in coturn's REST API scheme (`use-auth-secret`): the
//! username is `<expiry unix time>:<opaque>` and the credential
//! `base64(HMAC-SHA1(static-auth-secret, username))`. coturn checks both with the secret
//! it shares with the relay; nothing is stored. The opaque part is random, so coturn's
//! logs do not learn which account asked.

use std::fmt;
use std::str::FromStr;

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use zeroize::Zeroizing;

use crate::auth::{Accept, OwnerParts};
use crate::error::ApiError;
use crate::{AppState, Config, now, random_bytes};

/// The secret shared with coturn (`static-auth-secret`). Its `Debug` shows nothing, so
/// no log line and no `{:?}` of the configuration can print it, and its memory is wiped
/// when it is dropped.
#[derive(Clone)]
pub struct TurnSecret(Zeroizing<String>);

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(..)")
    }
}

impl FromStr for TurnSecret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("the TURN secret is empty".into());
        }
        Ok(Self(Zeroizing::new(s.to_owned())))
    }
}

/// The configured servers.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    stun: Vec<String>,
    urls: Vec<String>,
    secret: Option<TurnSecret>,
    ttl: u64,
}

impl Turn {
    /// From `--stun-url`, `--turn-url`, `--turn-secret` and `--turn-ttl-secs`.
    pub fn new(config: &Config) -> Self {
        Self {
            stun: config.stun_url.clone(),
            urls: config.turn_url.clone(),
            secret: config.turn_secret.clone(),
            ttl: config.turn_ttl_secs.max(1),
        }
    }

    /// The RTCIceServer list for a request at unix time `now`: STUN as configured, TURN
    /// with a fresh username and credential (only `with_turn`, and with both URLs and a
    /// secret).
    pub fn ice_servers(&self, now: u64, with_turn: bool) -> Value {
        let mut servers = Vec::new();
        if !self.stun.is_empty() {
            servers.push(json!({ "urls": self.stun }));
        }
        if let (true, false, Some(secret)) = (with_turn, self.urls.is_empty(), &self.secret) {
            let username = format!(
                "{}:{}",
                now.saturating_add(self.ttl),
                hex::encode(random_bytes::<12>())
            );
            servers.push(json!({
                "urls": self.urls,
                "username": username,
                "credential": credential(secret, &username),
            }));
        }
        json!({ "iceServers": servers, "ttl": self.ttl })
    }
}

/// `base64(HMAC-SHA1(secret, username))`, what coturn computes with `use-auth-secret`.
pub fn credential(secret: &TurnSecret, username: &str) -> String {
    // An HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.0.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The servers for the authenticated owner of a device mailbox (signature or token).
pub async fn ice_servers(
    State(state): State<AppState>,
    req: OwnerParts,
) -> Result<Json<Value>, ApiError> {
    req.authenticate(&state, b"", Accept::SignatureOrToken)
        .await?;
    let now = u64::try_from(now()).unwrap_or(0);
    Ok(Json(state.turn.ice_servers(now, true)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_credential_is_coturns_hmac_and_the_debug_form_hides_the_secret() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        let secret: TurnSecret = "Jefe".parse().unwrap();
        assert_eq!(
            credential(&secret, "what do ya want for nothing?"),
            STANDARD.encode(hex::decode("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79").unwrap())
        );
        assert_eq!(format!("{secret:?}"), "TurnSecret(..)");
        assert!("".parse::<TurnSecret>().is_err());
    }
}
