//! One coarse error type for the whole crate.
//!
//! Errors are deliberately coarse: everything that can go wrong while opening an
//! envelope after its framing was checked is [`Error::Decrypt`], so that neither the
//! caller nor anyone watching it learns *which* check failed (padding oracle, Marvin).

use core::fmt;

/// What went wrong. New variants may be added, so match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The username is not 3-32 characters of `[a-z0-9._-]` (after ASCII lowercasing).
    InvalidUsername,
    /// Bytes that do not have the documented structure (framing, lengths, version, bucket).
    Malformed,
    /// A key that is not RSA, has an unsupported size or exponent, or is not canonical DER.
    InvalidKey,
    /// A signature or a signed object (key bundle) did not verify.
    BadSignature,
    /// An envelope could not be opened: not for us, altered, truncated, forged or
    /// from an unknown session. Coarse on purpose.
    Decrypt,
    /// An envelope that was already opened once (or whose message key was already
    /// used or evicted from the bounded skipped-key store).
    Replay,
    /// A key or bundle outside its validity period, or no usable encryption key.
    Expired,
    /// A bundle update that is not newer than the one it replaces.
    Stale,
    /// Plaintext, recipient list or password outside the documented limits.
    TooLarge,
    /// A key backup that the password does not open (or that was altered).
    WrongPassword,
    /// A password that is too short or a backup iteration count outside the limits.
    WeakParameters,
    /// RSA key generation or a private-key operation failed.
    Crypto,
    /// A room join whose key confirmation failed: the two sides used different codes
    /// (or someone altered the exchange; the two cannot be told apart).
    WrongCode,
}

impl Error {
    /// A stable, machine-readable code (used as the JS error `code`).
    pub const fn code(self) -> &'static str {
        match self {
            Error::InvalidUsername => "INVALID_USERNAME",
            Error::Malformed => "MALFORMED",
            Error::InvalidKey => "INVALID_KEY",
            Error::BadSignature => "BAD_SIGNATURE",
            Error::Decrypt => "DECRYPT_FAILED",
            Error::Replay => "REPLAY",
            Error::Expired => "EXPIRED",
            Error::Stale => "STALE",
            Error::TooLarge => "TOO_LARGE",
            Error::WrongPassword => "WRONG_PASSWORD",
            Error::WeakParameters => "WEAK_PARAMETERS",
            Error::Crypto => "CRYPTO",
            Error::WrongCode => "WRONG_CODE",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidUsername => {
                "invalid username: use 3-32 characters from a-z, 0-9, '.', '_' and '-'"
            }
            Error::Malformed => "malformed input",
            Error::InvalidKey => "invalid or unsupported key",
            Error::BadSignature => "signature verification failed",
            Error::Decrypt => "message could not be decrypted",
            Error::Replay => "message was already received",
            Error::Expired => "key expired or not yet valid",
            Error::Stale => "bundle is not newer than the stored one",
            Error::TooLarge => "input exceeds the size limit",
            Error::WrongPassword => "wrong password or corrupted backup",
            Error::WeakParameters => "password or key-derivation parameters out of range",
            Error::Crypto => "cryptographic operation failed",
            Error::WrongCode => "wrong room code",
        })
    }
}

impl core::error::Error for Error {}

/// Shorthand used throughout the crate.
pub type Result<T> = core::result::Result<T, Error>;
