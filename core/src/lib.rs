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
mod error;
#[doc(hidden)]
pub mod fuzz;
mod keylife;
mod keys;
pub mod padding;
mod primitives;
mod rsa_der;
mod rsa_gen;
mod safety;
pub mod sort;
pub mod sorted;
mod username;
pub mod v2;
mod wire;

pub use error::{Error, Result};
pub use keylife::{
    CLOCK_SKEW, ENCRYPTION_KEY_LIFETIME, MAX_ENCRYPTION_KEYS, RETAIN_AFTER_EXPIRY,
    ROTATE_BEFORE_EXPIRY,
};
pub use keys::{EncryptionKey, EncryptionPublicKey, IdentityKey, IdentityPublicKey, KeySize};
pub use safety::SafetyNumber;
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
