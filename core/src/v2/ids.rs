//! Fixed-size random identifiers of protocol v2: devices and sessions.

use alloc::string::String;
use core::fmt;

use rand_core::CryptoRng;

use crate::error::{Error, Result};
use crate::username::hex_val;
use crate::wire::hex_byte;

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.extend(hex_byte(*b).map(char::from));
    }
    s
}

fn from_hex<const N: usize>(hex: &str) -> Result<[u8; N]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 2 * N {
        return Err(Error::Malformed);
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_val(*hi)?, hex_val(*lo)?),
            _ => return Err(Error::Malformed),
        };
        *o = hi << 4 | lo;
    }
    Ok(out)
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = 16;

            /// `random(16)`.
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut id = [0u8; 16];
                rng.fill_bytes(&mut id);
                Self(id)
            }

            /// Wraps raw bytes (as found on the wire).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Parses exactly 16 bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self> {
                <[u8; 16]>::try_from(bytes).map(Self).map_err(|_| Error::Malformed)
            }

            /// Parses 32 hex digits (either case).
            pub fn from_hex(hex: &str) -> Result<Self> {
                from_hex(hex).map(Self)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// 32 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                to_hex(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

random_id!(
    /// A device of an account: `random(16)` chosen by the device when it is created, never
    /// reused. Public (device lists are served by the relay).
    DeviceId
);

random_id!(
    /// A session between two devices: `random(16)` chosen by the initiator. Only inside
    /// encrypted headers on the wire.
    SessionId
);

random_id!(
    /// A group (PROTOCOL.md 27): `random(16)` chosen by its creator. Only inside
    /// encrypted payloads and group message headers on the wire.
    GroupId
);

random_id!(
    /// A device's sending chain in one group (PROTOCOL.md 27.5): `random(16)` per chain.
    /// Only inside encrypted headers and sender key distributions.
    ChainId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = DeviceId::from_bytes([0xab; 16]);
        assert_eq!(id.to_hex(), "ab".repeat(16));
        assert_eq!(DeviceId::from_hex(&id.to_hex().to_uppercase()), Ok(id));
        assert_eq!(DeviceId::from_hex("ab"), Err(Error::Malformed));
        assert_eq!(DeviceId::from_hex(&"zz".repeat(16)), Err(Error::Malformed));
        assert_eq!(SessionId::from_slice(&[1; 15]), Err(Error::Malformed));
    }
}
