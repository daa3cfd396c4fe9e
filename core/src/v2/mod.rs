//! Protocol v2 (docs/PROTOCOL.md, issue 9): accounts with up to eight devices, and
//! sessions per device pair that set themselves up from any message. "Design N" in the
//! comments of this module is the design note that PROTOCOL.md replaced (its appendix A
//! maps the numbers).
//!
//! Protocol v1 is gone; the module keeps its path. Public API:
//!
//! - [`DeviceId`], [`SessionId`]: 16-byte random ids (hex text form).
//! - [`DeviceList`] / [`DeviceEntry`] (design 1.1): the account's devices, signed by the
//!   identity key. `sign`, `from_bytes` (verifies), `to_bytes`, `devices`, `get`,
//!   `contains`, `next_version`, `with_device`, `without_device`, `check_update`,
//!   `check_bundle`.
//! - [`DeviceBundle`] / [`SignedDeviceKey`] (design 1.2): one device's encryption keys.
//!   `new`, `from_bytes`, `to_bytes`, `current_encryption_key(now)`, `check_update`.
//! - [`DeviceKeys`]: the device's own secret keys and their life cycle: `generate`,
//!   `from_key`, `bundle`, `needs_rotation`, `rotate`, `prune`, `to_secret_bytes`,
//!   `from_secret_bytes`.
//!
//! - Envelope v2 (design 2): [`VERSION`], [`PREFIX_LEN`], [`envelope_recipient`] (what
//!   a relay reads), [`HEADER_LEN`], [`HEADER_BOX_LEN`].
//! - [`SessionStore`] (design 2.1-2.4), one per device:
//!   `seal(rng, identity, me, peer_bundle, payload, now) -> SealedEnvelope`;
//!   `open(rng, me, envelope, now) -> Opening::{Message(OpenedMessage), Pending(PendingInit)}`
//!   (a pending init creates no state); `accept(pending, trusted, now) -> OpenedMessage`;
//!   `open_attributed` (as `open`, whose errors, [`OpenFailure`], name the
//!   [`Unreadable`] session when the sender is authenticated); `seal_fresh` (for re-sends:
//!   an unconfirmed session of ours, which carries its init, else a new session);
//!   `is_confirmed`, `missing`, `session`, `sessions` ([`SessionInfo`]), `set_trusted`,
//!   `forget_session`, `forget_device`, `forget_peer`, `prune`, `remembers`,
//!   `replay_memory_len`, `to_secret_bytes`, `from_secret_bytes`. Limits:
//!   [`MAX_SESSIONS_PER_DEVICE`], [`MAX_UNTRUSTED_SESSIONS`], [`MAX_TRUSTED_SESSIONS`],
//!   [`MAX_SKIPPED_KEYS`], [`MAX_MESSAGE_AGE`], [`REPLAY_MEMORY`], [`REPLAY_PER_PEER`],
//!   [`UNTRUSTED_REPLAY_MEMORY`].
//! - Linking (design 4): [`LinkCode`] (`generate`, `parse`, `as_str`, `grouped`,
//!   `channel`), [`LinkHello`] and [`LinkGrant`] (`seal`, `open`).
//! - [`backup`] (design 5): `normalize_password`, `derive_keys`, `params_from_blob`,
//!   `export`, `import` -> `BackupContent` (identity key + account state, never
//!   encryption keys).
//! - [`attachment`] (PROTOCOL.md 26): files in fixed-size encrypted chunks, the streaming
//!   `Encryptor` and `Decryptor`, and the `Manifest` a message carries.
//! - [`room`] (PROTOCOL.md 30, feature `rooms`): rooms joined with a short code through
//!   SPAKE2, their frames and key rotation.
//! - [`group`] (PROTOCOL.md 27): groups of up to 1,000 members, signed operations, sender
//!   keys and one ciphertext per group message.

pub mod attachment;
pub mod backup;
mod bundle;
mod device;
mod device_keys;
mod envelope;
pub mod group;
mod header;
mod ids;
mod init;
mod link;
mod opened;
mod replay;
#[cfg(feature = "rooms")]
pub mod room;
mod session;
mod store;
mod store_caps;
mod store_codec;
mod store_seal;
#[cfg(test)]
mod store_tests;

/// The RSA-2048 identity key of the fixture user `name` (tests/vectors/keys.json), for
/// unit tests that must not generate keys.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn fixture_identity(name: &str) -> crate::IdentityKey {
    let keys: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/keys.json")).unwrap();
    let user = keys["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .unwrap();
    let der = hex::decode(user["identity_pkcs8"].as_str().unwrap()).unwrap();
    crate::IdentityKey::from_pkcs8_der(&der).unwrap()
}

pub use bundle::{DeviceBundle, MAX_DEVICE_BUNDLE_LEN, SignedDeviceKey};
pub use device::{DeviceEntry, DeviceList, MAX_DEVICE_LIST_LEN, MAX_DEVICE_NAME_LEN, MAX_DEVICES};
pub use device_keys::DeviceKeys;
pub use envelope::{PREFIX_LEN, VERSION, envelope_recipient};
pub use header::{HEADER_BOX_LEN, HEADER_LEN};
pub use ids::{ChainId, DeviceId, GroupId, SessionId};
pub use link::{
    LINK_CODE_LEN, LinkCode, LinkGrant, LinkHello, MAX_ACCOUNT_STATE_LEN, MAX_GRANT_LEN,
    MAX_HELLO_LEN,
};
pub use opened::{
    OpenFailure, OpenedMessage, Opening, PendingInit, SealedEnvelope, SessionInfo, Unreadable,
};
pub use replay::{MAX_MESSAGE_AGE, REPLAY_MEMORY, REPLAY_PER_PEER, UNTRUSTED_REPLAY_MEMORY};
pub use session::{MAX_SKIP, MAX_SKIPPED_KEYS, REKEY_AGE, REKEY_MESSAGES, SESSION_IDLE_LIMIT};
pub use store::SessionStore;
pub use store_caps::{MAX_SESSIONS_PER_DEVICE, MAX_TRUSTED_SESSIONS, MAX_UNTRUSTED_SESSIONS};
