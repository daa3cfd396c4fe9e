//! Usernames and the user ids the relay sees instead of them.

use alloc::string::String;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::wire::hex_byte;

/// Domain separation prefix of [`UserId`] hashing.
const USER_ID_DOMAIN: &[u8] = b"sealpost/user/v1";

/// A normalized username: ASCII lowercase, 3-32 characters of `[a-z0-9._-]`.
///
/// Normalization is only ASCII lowercasing, so `Alice` and `alice` are the same user;
/// anything else outside the alphabet is rejected rather than folded, so two different
/// strings can never silently map to the same id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Shortest accepted username.
    pub const MIN_LEN: usize = 3;
    /// Longest accepted username.
    pub const MAX_LEN: usize = 32;

    /// Normalizes and validates `input`.
    pub fn parse(input: &str) -> Result<Self> {
        let len = input.len();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(Error::InvalidUsername);
        }
        let normalized = input.to_ascii_lowercase();
        if !normalized.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        }) {
            return Err(Error::InvalidUsername);
        }
        Ok(Self(normalized))
    }

    /// The normalized form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `SHA-256("sealpost/user/v1" || username)`.
    pub fn user_id(&self) -> UserId {
        let mut h = Sha256::new();
        h.update(USER_ID_DOMAIN);
        h.update(self.0.as_bytes());
        UserId(h.finalize().into())
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.0).finish()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 32-byte user id: the only name for a user that the relay ever sees.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub(crate) [u8; 32]);

impl UserId {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// Wraps raw id bytes (as found in a URL or on the wire).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::Malformed)
    }

    /// Parses 64 lowercase or uppercase hex digits.
    pub fn from_hex(hex: &str) -> Result<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(Error::Malformed);
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (hex_val(*hi)?, hex_val(*lo)?),
                _ => return Err(Error::Malformed),
            };
            *o = hi << 4 | lo;
        }
        Ok(Self(out))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits, the form used in relay URLs.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.extend(hex_byte(b).map(char::from));
        }
        s
    }
}

pub(crate) fn hex_val(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error::Malformed),
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.to_hex())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_rejects_bad_names() {
        assert_eq!(Username::parse("Alice_1").unwrap().as_str(), "alice_1");
        for bad in [
            "ab",
            "",
            "a b c",
            "ålice",
            "alice!",
            "x".repeat(33).as_str(),
            "ALİCE",
        ] {
            assert_eq!(Username::parse(bad), Err(Error::InvalidUsername), "{bad}");
        }
        assert!(Username::parse(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn user_id_is_domain_separated_sha256() {
        let id = Username::parse("alice").unwrap().user_id();
        let mut h = Sha256::new();
        h.update(b"sealpost/user/v1alice");
        assert_eq!(id.as_bytes(), &<[u8; 32]>::from(h.finalize()));
        assert_eq!(UserId::from_hex(&id.to_hex()).unwrap(), id);
        assert_eq!(UserId::from_hex(&id.to_hex().to_uppercase()).unwrap(), id);
        assert_eq!(UserId::from_hex("zz"), Err(Error::Malformed));
    }
}
