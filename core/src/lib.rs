#![no_std]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Untrusted bytes are parsed only through `wire::Reader`; no indexing that can panic.
#![deny(clippy::indexing_slicing)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod backup;
mod bundle;
mod envelope;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod identity;
mod keylife;
mod keys;
pub mod padding;
mod primitives;
mod safety;
mod session;
mod username;
pub mod v2;
mod wire;

pub use bundle::{CLOCK_SKEW, KeyBundle, MAX_BUNDLE_LEN, MAX_ENCRYPTION_KEYS, SignedEncryptionKey};
pub use envelope::{CONTENT_TEXT, MAX_RECIPIENTS, MessageKind, Opened, VERSION, message_id, seal};
pub use error::{Error, Result};
pub use identity::{
    ENCRYPTION_KEY_LIFETIME, Identity, KEYGEN_STEPS, RETAIN_AFTER_EXPIRY, ROTATE_BEFORE_EXPIRY,
};
pub use keys::{EncryptionKey, EncryptionPublicKey, IdentityKey, IdentityPublicKey, KeySize};
pub use safety::SafetyNumber;
pub use session::{MAX_SKIP, REKEY_AGE, REKEY_MESSAGES, SealedMessage, SessionStore};
pub use username::{UserId, Username};

pub use rand_core;

/// The operating system's RNG (getrandom), the default randomness source.
#[cfg(feature = "getrandom")]
pub type OsRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// A handle to [`OsRng`].
#[cfg(feature = "getrandom")]
pub fn os_rng() -> OsRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}
