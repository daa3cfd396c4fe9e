//! The identity key's uses outside sessions, as narrow methods: the driver never holds
//! the key. Relay requests and the mailbox WebSocket challenge (the relay's v2 owner
//! authentication, relay/src/auth.rs and push.rs), the backup (design 5) and the link
//! grant to a new device (design 4).

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sealpost_core::backup::{BackupKeys, BackupParams};
use sealpost_core::v2::{DeviceEntry, LinkCode, LinkGrant, LinkHello, MAX_GRANT_LEN, backup};
use sealpost_core::{Error, IdentityKey, Result, auth};
use zeroize::Zeroizing;

use super::Engine;
use crate::codec::Codec;

impl Engine {
    /// The identity key's RSA-PSS signature over
    /// [`auth::request_signing_input`]`(method, path_and_query, body, timestamp, nonce)`:
    /// the `Authorization: Signature` of one relay request (this account's device
    /// mailbox, device list, bundles, backup).
    pub fn sign_request<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp: u64,
        nonce: &str,
    ) -> Result<Vec<u8>> {
        let input = auth::request_signing_input(method, path_and_query, body, timestamp, nonce);
        self.me.identity.sign(rng, &input)
    }

    /// The answer to the relay's challenge on this device's mailbox WebSocket (v2): the
    /// signature over [`auth::device_challenge_signing_input`], so an answer is good for
    /// this one device's mailbox only.
    pub fn sign_challenge<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        challenge: &[u8],
    ) -> Result<Vec<u8>> {
        let input =
            auth::device_challenge_signing_input(&self.me.user_id, &self.me.device_id(), challenge);
        self.me.identity.sign(rng, &input)
    }

    /// A backup v2 blob (design 5) of the identity key and the compact account state
    /// ([`Engine::account_state`]), encrypted under `keys`
    /// ([`backup::derive_keys`]`(password, user_id, params)`). Re-upload it whenever
    /// [`crate::Part::Account`] is persisted. Never holds device keys or sessions.
    pub fn export_backup<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        params: &BackupParams,
        keys: &BackupKeys,
    ) -> Result<Vec<u8>> {
        let state = Zeroizing::new(self.account.to_bytes());
        backup::export(
            rng,
            &self.me.user_id,
            &self.me.identity,
            &state,
            params,
            keys,
        )
    }

    /// Links a new device (design 4), after the user typed or scanned its `code` and
    /// confirmed its name ([`LinkHello::open`]`(code, sealed_hello)` shows it): seals
    /// the grant for its `sealed_hello` (from the link channel) with the username, the
    /// identity key, the compact account state and the `history` the user chose to
    /// transfer (opaque bytes, e.g. the app's encrypted history export; empty for none).
    /// The identity key goes straight from here into the sealed grant: a driver never
    /// holds it, not even to add the history. Returns the grant to deposit in the link
    /// channel and the hello; then hand [`DeviceEntry`] `{ id: hello.device_id, added_at:
    /// now, name: hello.name }` to [`crate::Input::AddDevice`] (see
    /// [`Engine::link_entry`]). A wrong code or an altered hello is
    /// [`sealpost_core::Error::Decrypt`]; a history that does not fit in a grant
    /// (`MAX_GRANT_LEN`, 1 MiB sealed, with the account state; PROTOCOL.md 19.2) is
    /// [`sealpost_core::Error::TooLarge`].
    pub fn link_grant<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        code: &LinkCode,
        sealed_hello: &[u8],
        history: &[u8],
    ) -> Result<(Vec<u8>, LinkHello)> {
        let hello = LinkHello::open(code, sealed_hello)?;
        if history.len() > MAX_GRANT_LEN {
            // Refused before the identity key is copied at all.
            return Err(Error::TooLarge);
        }
        let grant = LinkGrant {
            username: self.me.username.clone(),
            // No `Clone` for secret keys: a copy through its (zeroized) PKCS#8 encoding.
            identity: IdentityKey::from_pkcs8_der(&self.me.identity.to_pkcs8_der()?)?,
            account_state: Zeroizing::new(self.account.to_bytes()),
            history: Zeroizing::new(history.to_vec()),
        };
        let sealed = grant.seal(rng, code, sealed_hello)?;
        Ok((sealed, hello))
    }

    /// The device list entry of a linked device (for [`crate::Input::AddDevice`]).
    pub fn link_entry(hello: &LinkHello, now: u64) -> DeviceEntry {
        DeviceEntry {
            id: hello.device_id,
            added_at: now,
            name: hello.name.clone(),
        }
    }
}
