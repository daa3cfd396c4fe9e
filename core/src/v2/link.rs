//! Linking a new device with a code (design 4).
//!
//! The new device N shows a [`LinkCode`] (20 base32 characters, 100 random bits). Both
//! sides derive from it a public [`LinkCode::channel`] (the relay's link channel: a hash,
//! the code never reaches the relay) and a secret link key. N deposits a sealed
//! [`LinkHello`]; the old device O opens it, shows the name, and after the user confirms
//! sends a sealed [`LinkGrant`] bound to that exact hello (`SHA-256(hello)` in its
//! associated data). 100 bits make offline guessing from a recorded exchange infeasible
//! without a PAKE.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::keys::{EncryptionPublicKey, IdentityKey, MAX_PKCS8_LEN, MAX_SPKI_LEN};
use crate::padding::MAX_ENVELOPE_LEN;
use crate::primitives::{self, Key};
use crate::username::Username;
use crate::v2::device::MAX_DEVICE_NAME_LEN;
use crate::v2::ids::DeviceId;
use crate::wire::{Reader, put_var16, put_var32};

/// Characters in a link code.
pub const LINK_CODE_LEN: usize = 20;
/// Most bytes of account state in a grant or a backup (opaque to the core).
pub const MAX_ACCOUNT_STATE_LEN: usize = 256 * 1024;
/// Largest sealed grant (account state plus optional history).
pub const MAX_GRANT_LEN: usize = MAX_ENVELOPE_LEN;
/// Largest sealed hello.
pub const MAX_HELLO_LEN: usize = 28 + 16 + 1 + MAX_DEVICE_NAME_LEN + 2 + MAX_SPKI_LEN;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const CHANNEL_DOMAIN: &[u8] = b"sealpost/v2/link-channel\0";
const DELETE_DOMAIN: &[u8] = b"sealpost/v2/link-delete\0";
const KEY_INFO: &[u8] = b"sealpost/v2/link-key";
const HELLO_AAD: &[u8] = b"sealpost/v2/link-hello";
const GRANT_AAD: &[u8] = b"sealpost/v2/link-grant";

/// A link code: 20 characters of the RFC 4648 base32 alphabet (`A-Z2-7`). Secret:
/// redacted `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize)]
#[zeroize(drop)]
pub struct LinkCode([u8; LINK_CODE_LEN]);

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCode(<redacted>)")
    }
}

impl LinkCode {
    /// A fresh code: 20 uniform base32 characters (5 bits each, 100 bits).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut raw = Zeroizing::new([0u8; LINK_CODE_LEN]);
        rng.fill_bytes(raw.as_mut());
        let mut code = [0u8; LINK_CODE_LEN];
        for (c, r) in code.iter_mut().zip(raw.iter()) {
            *c = ALPHABET.get(usize::from(r & 0x1f)).copied().unwrap_or(b'A');
        }
        Self(code)
    }

    /// Parses a typed or scanned code: case-insensitive, spaces and `-` ignored,
    /// exactly 20 base32 characters, else [`Error::Malformed`].
    pub fn parse(text: &str) -> Result<Self> {
        let mut code = [0u8; LINK_CODE_LEN];
        let mut n = 0;
        for b in text.bytes().filter(|b| !matches!(b, b' ' | b'-')) {
            let up = b.to_ascii_uppercase();
            if !ALPHABET.contains(&up) {
                return Err(Error::Malformed);
            }
            *code.get_mut(n).ok_or(Error::Malformed)? = up;
            n += 1;
        }
        if n != LINK_CODE_LEN {
            return Err(Error::Malformed);
        }
        Ok(Self(code))
    }

    /// The 20 characters (to show or encode in a QR code).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The code in four groups of five, `ABCDE-FGHIJ-KLMNO-PQRST`, for reading aloud.
    pub fn grouped(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(LINK_CODE_LEN + 3));
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                s.push('-');
            }
            s.push(char::from(*c));
        }
        s
    }

    /// The relay's link channel id: `SHA-256("sealpost/v2/link-channel\0" || code)[0..16]`.
    pub fn channel(&self) -> [u8; 16] {
        let d: [u8; 32] = Sha256::new()
            .chain_update(CHANNEL_DOMAIN)
            .chain_update(self.0)
            .finalize()
            .into();
        let mut out = [0u8; 16];
        out.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
        out
    }

    /// The proof that deletes the relay's link channel:
    /// `SHA-256("sealpost/v2/link-delete\0" || code)`. Both devices send it with their
    /// slot writes and with the deletion; the relay keeps only its SHA-256, so nobody
    /// who merely knows the channel id can delete it.
    pub fn delete_proof(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(DELETE_DOMAIN)
            .chain_update(self.0)
            .finalize()
            .into()
    }

    fn key(&self) -> Result<Key> {
        let okm = primitives::hkdf::<32>(&self.0, &[], &[KEY_INFO])?;
        primitives::key_at(okm.as_ref(), 0)
    }
}

/// What the new device announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkHello {
    /// The new device's id.
    pub device_id: DeviceId,
    /// Its name (at most 64 UTF-8 bytes), shown to the user before they confirm.
    pub name: String,
    /// Its first encryption key.
    pub encryption_key: EncryptionPublicKey,
}

impl LinkHello {
    /// `box(link_key, "sealpost/v2/link-hello", device_id || var8(name) || var16(spki))`.
    pub fn seal<R: CryptoRng + ?Sized>(&self, rng: &mut R, code: &LinkCode) -> Result<Vec<u8>> {
        if self.name.len() > MAX_DEVICE_NAME_LEN {
            return Err(Error::TooLarge);
        }
        let mut plain = Vec::with_capacity(16 + 1 + self.name.len() + 2 + MAX_SPKI_LEN);
        plain.extend_from_slice(self.device_id.as_bytes());
        plain.push(u8::try_from(self.name.len()).map_err(|_| Error::TooLarge)?);
        plain.extend_from_slice(self.name.as_bytes());
        put_var16(&mut plain, self.encryption_key.to_spki_der())?;
        primitives::seal(rng, &*code.key()?, HELLO_AAD, &plain)
    }

    /// Opens a sealed hello; any failure is [`Error::Decrypt`].
    pub fn open(code: &LinkCode, sealed: &[u8]) -> Result<Self> {
        if sealed.len() > MAX_HELLO_LEN {
            return Err(Error::TooLarge);
        }
        let plain = primitives::open(&*code.key()?, HELLO_AAD, sealed)?;
        let parse = || -> Result<Self> {
            let mut r = Reader::new(&plain);
            let device_id = DeviceId::from_bytes(r.array()?);
            let len = usize::from(r.u8()?);
            if len > MAX_DEVICE_NAME_LEN {
                return Err(Error::Malformed);
            }
            let name = core::str::from_utf8(r.bytes(len)?).map_err(|_| Error::Malformed)?;
            let encryption_key = EncryptionPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?)?;
            r.finish()?;
            Ok(Self {
                device_id,
                name: String::from(name),
                encryption_key,
            })
        };
        parse().map_err(|_| Error::Decrypt)
    }
}

/// What the old device hands over: the account's secrets. No `Debug` of secrets.
pub struct LinkGrant {
    /// The account's username.
    pub username: Username,
    /// The account's identity key.
    pub identity: IdentityKey,
    /// Encoded account state (engine-defined; at most [`MAX_ACCOUNT_STATE_LEN`]).
    pub account_state: Zeroizing<Vec<u8>>,
    /// Optional encoded history (engine-defined; may be empty).
    pub history: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for LinkGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkGrant")
            .field("username", &self.username)
            .field("identity", &self.identity)
            .field("account_state_len", &self.account_state.len())
            .field("history_len", &self.history.len())
            .finish()
    }
}

fn grant_aad(sealed_hello: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(GRANT_AAD.len() + 32);
    aad.extend_from_slice(GRANT_AAD);
    aad.extend_from_slice(&Sha256::digest(sealed_hello));
    aad
}

impl LinkGrant {
    /// `box(link_key, "sealpost/v2/link-grant" || SHA-256(sealed_hello), var8(username)
    /// || var16(identity pkcs8) || var32(account state) || var32(history))`.
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        code: &LinkCode,
        sealed_hello: &[u8],
    ) -> Result<Vec<u8>> {
        if self.account_state.len() > MAX_ACCOUNT_STATE_LEN {
            return Err(Error::TooLarge);
        }
        let pkcs8 = self.identity.to_pkcs8_der()?;
        let name = self.username.as_str().as_bytes();
        let mut plain = Zeroizing::new(Vec::with_capacity(
            1 + name.len() + 2 + pkcs8.len() + 8 + self.account_state.len() + self.history.len(),
        ));
        plain.push(u8::try_from(name.len()).map_err(|_| Error::TooLarge)?);
        plain.extend_from_slice(name);
        put_var16(&mut plain, &pkcs8)?;
        put_var32(&mut plain, &self.account_state)?;
        put_var32(&mut plain, &self.history)?;
        let sealed = primitives::seal(rng, &*code.key()?, &grant_aad(sealed_hello), &plain)?;
        if sealed.len() > MAX_GRANT_LEN {
            return Err(Error::TooLarge);
        }
        Ok(sealed)
    }

    /// Opens a grant made for `sealed_hello` (the hello this device deposited); any
    /// failure is [`Error::Decrypt`].
    pub fn open(code: &LinkCode, sealed_hello: &[u8], sealed: &[u8]) -> Result<Self> {
        if sealed.len() > MAX_GRANT_LEN {
            return Err(Error::TooLarge);
        }
        let plain = primitives::open(&*code.key()?, &grant_aad(sealed_hello), sealed)?;
        let parse = || -> Result<Self> {
            let mut r = Reader::new(&plain);
            let len = usize::from(r.u8()?);
            let name = core::str::from_utf8(r.bytes(len)?).map_err(|_| Error::Malformed)?;
            let username = Username::parse(name)?;
            if username.as_str() != name {
                return Err(Error::Malformed);
            }
            let identity = IdentityKey::from_pkcs8_der(r.var16(MAX_PKCS8_LEN)?)?;
            let account_state = Zeroizing::new(r.var32(MAX_ACCOUNT_STATE_LEN)?.to_vec());
            let history = Zeroizing::new(r.var32(MAX_GRANT_LEN)?.to_vec());
            r.finish()?;
            Ok(Self {
                username,
                identity,
                account_state,
                history,
            })
        };
        parse().map_err(|_| Error::Decrypt)
    }
}
