//! Key bundles: the public half of an account, as published in the relay's directory.
//!
//! A bundle names a user id, its identity key, and one to four encryption keys, each
//! signed by the identity key with a validity period; the whole bundle is signed again
//! by the identity key. A [`KeyBundle`] value only exists once every signature in it has
//! verified, so holding one means it is self-consistent. Whether the identity key really
//! belongs to the user is a separate question answered by the directory (first come)
//! and by safety numbers.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::error::{Error, Result};
use crate::keys::{
    EncryptionPublicKey, IdentityKey, IdentityPublicKey, MAX_MODULUS_LEN, MAX_SPKI_LEN,
};
use crate::username::UserId;
use crate::wire::{Reader, put_var16};

const BUNDLE_TAG: [u8; 2] = [b'B', 1];
const BUNDLE_SIG_DOMAIN: &[u8] = b"sealpost/v1/bundle\0";
const ENC_KEY_SIG_DOMAIN: &[u8] = b"sealpost/v1/encryption-key\0";

/// Most encryption keys one bundle may list (current, next and older ones still valid).
pub const MAX_ENCRYPTION_KEYS: usize = 4;
/// Clock difference tolerated between a key's owner and its senders: 1 hour.
pub const CLOCK_SKEW: u64 = 3600;
/// Largest encoded bundle.
pub const MAX_BUNDLE_LEN: usize = 8192;

/// An encryption key with its validity period, signed by the identity key.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEncryptionKey {
    key: EncryptionPublicKey,
    not_before: u64,
    not_after: u64,
    signature: Vec<u8>,
}

impl fmt::Debug for SignedEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            key,
            not_before,
            not_after,
            signature: _,
        } = self;
        f.debug_struct("SignedEncryptionKey")
            .field("key", key)
            .field("not_before", not_before)
            .field("not_after", not_after)
            .finish_non_exhaustive()
    }
}

fn enc_key_signing_input(
    user_id: &UserId,
    key: &EncryptionPublicKey,
    nb: u64,
    na: u64,
) -> Result<Vec<u8>> {
    let mut m =
        Vec::with_capacity(ENC_KEY_SIG_DOMAIN.len() + 32 + 16 + 2 + key.to_spki_der().len());
    m.extend_from_slice(ENC_KEY_SIG_DOMAIN);
    m.extend_from_slice(user_id.as_bytes());
    m.extend_from_slice(&nb.to_be_bytes());
    m.extend_from_slice(&na.to_be_bytes());
    put_var16(&mut m, key.to_spki_der())?;
    Ok(m)
}

impl SignedEncryptionKey {
    /// Signs `key` for `user_id`, valid for `not_before <= t < not_after` (Unix seconds).
    pub fn sign<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        user_id: &UserId,
        key: EncryptionPublicKey,
        not_before: u64,
        not_after: u64,
    ) -> Result<Self> {
        if not_before >= not_after {
            return Err(Error::Expired);
        }
        let signature = identity.sign(
            rng,
            &enc_key_signing_input(user_id, &key, not_before, not_after)?,
        )?;
        Ok(Self {
            key,
            not_before,
            not_after,
            signature,
        })
    }

    /// Rebuilds a signed key from stored parts, verifying the signature.
    pub(crate) fn from_parts(
        key: EncryptionPublicKey,
        not_before: u64,
        not_after: u64,
        signature: Vec<u8>,
        identity: &IdentityPublicKey,
        user_id: &UserId,
    ) -> Result<Self> {
        let k = Self {
            key,
            not_before,
            not_after,
            signature,
        };
        k.verify(identity, user_id)?;
        Ok(k)
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }

    fn verify(&self, identity: &IdentityPublicKey, user_id: &UserId) -> Result<()> {
        if self.not_before >= self.not_after {
            return Err(Error::Malformed);
        }
        identity.verify(
            &enc_key_signing_input(user_id, &self.key, self.not_before, self.not_after)?,
            &self.signature,
        )
    }

    /// The key.
    pub fn key(&self) -> &EncryptionPublicKey {
        &self.key
    }

    /// Start of validity (Unix seconds).
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// End of validity (Unix seconds, exclusive).
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// Whether `now` lies in the validity period.
    pub fn is_valid_at(&self, now: u64) -> bool {
        self.not_before <= now && now < self.not_after
    }
}

/// A verified, self-signed key bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBundle {
    user_id: UserId,
    identity: IdentityPublicKey,
    issued_at: u64,
    keys: Vec<SignedEncryptionKey>,
    bytes: Vec<u8>,
}

impl fmt::Debug for KeyBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            user_id,
            identity,
            issued_at,
            keys,
            bytes: _,
        } = self;
        f.debug_struct("KeyBundle")
            .field("user_id", user_id)
            .field("identity", identity)
            .field("issued_at", issued_at)
            .field("keys", keys)
            .finish_non_exhaustive()
    }
}

impl KeyBundle {
    /// Builds and signs a bundle. `keys` must be signed by `identity` for `user_id`.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        user_id: UserId,
        identity: &IdentityKey,
        issued_at: u64,
        keys: Vec<SignedEncryptionKey>,
    ) -> Result<Self> {
        if keys.is_empty() || keys.len() > MAX_ENCRYPTION_KEYS {
            return Err(Error::TooLarge);
        }
        let public = identity.public();
        for k in &keys {
            k.verify(&public, &user_id)?;
        }
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&BUNDLE_TAG);
        bytes.extend_from_slice(user_id.as_bytes());
        bytes.extend_from_slice(&issued_at.to_be_bytes());
        put_var16(&mut bytes, public.to_spki_der())?;
        bytes.push(u8::try_from(keys.len()).map_err(|_| Error::TooLarge)?);
        for k in &keys {
            put_var16(&mut bytes, k.key.to_spki_der())?;
            bytes.extend_from_slice(&k.not_before.to_be_bytes());
            bytes.extend_from_slice(&k.not_after.to_be_bytes());
            put_var16(&mut bytes, &k.signature)?;
        }
        let signature = identity.sign(rng, &bundle_signing_input(&bytes))?;
        put_var16(&mut bytes, &signature)?;
        Ok(Self {
            user_id,
            identity: public,
            issued_at,
            keys,
            bytes,
        })
    }

    /// Parses a bundle and verifies every signature in it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(Error::TooLarge);
        }
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != BUNDLE_TAG {
            return Err(Error::Malformed);
        }
        let user_id = UserId(r.array()?);
        let issued_at = r.u64()?;
        let identity = IdentityPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?)?;
        let count = usize::from(r.u8()?);
        if count == 0 || count > MAX_ENCRYPTION_KEYS {
            return Err(Error::Malformed);
        }
        let mut keys = Vec::with_capacity(count);
        for _ in 0..count {
            let key = EncryptionPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?)?;
            let not_before = r.u64()?;
            let not_after = r.u64()?;
            let signature = r.var16(MAX_MODULUS_LEN)?.to_vec();
            keys.push(SignedEncryptionKey::from_parts(
                key, not_before, not_after, signature, &identity, &user_id,
            )?);
        }
        let signed_len = bytes.len().saturating_sub(r.remaining());
        let signature = r.var16(MAX_MODULUS_LEN)?;
        r.finish()?;
        let signed = bytes.get(..signed_len).ok_or(Error::Malformed)?;
        identity.verify(&bundle_signing_input(signed), signature)?;
        Ok(Self {
            user_id,
            identity,
            issued_at,
            keys,
            bytes: bytes.to_vec(),
        })
    }

    /// The canonical encoding (what the relay stores and serves).
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whose bundle this claims to be.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The identity key that signed it.
    pub fn identity(&self) -> &IdentityPublicKey {
        &self.identity
    }

    /// When it was issued (Unix seconds); updates must strictly increase it.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// All listed encryption keys.
    pub fn encryption_keys(&self) -> &[SignedEncryptionKey] {
        &self.keys
    }

    /// The encryption key a sender should use at `now`: the valid one that became valid
    /// last. A key counts as valid up to [`CLOCK_SKEW`] before its `not_before`, so a
    /// sender whose clock lags the recipient's can still write to a brand-new key.
    pub fn current_encryption_key(&self, now: u64) -> Result<&EncryptionPublicKey> {
        let skewed = now.saturating_add(CLOCK_SKEW);
        self.keys
            .iter()
            .filter(|k| k.not_before <= skewed && now < k.not_after)
            .max_by_key(|k| k.not_before)
            .map(|k| &k.key)
            .ok_or(Error::Expired)
    }

    /// Checks that `newer` may replace `self` in a directory: same user and identity
    /// key, strictly newer.
    pub fn check_update(&self, newer: &KeyBundle) -> Result<()> {
        if newer.user_id != self.user_id || newer.identity != self.identity {
            return Err(Error::BadSignature);
        }
        if newer.issued_at <= self.issued_at {
            return Err(Error::Stale);
        }
        Ok(())
    }
}

fn bundle_signing_input(signed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUNDLE_SIG_DOMAIN.len() + signed.len());
    m.extend_from_slice(BUNDLE_SIG_DOMAIN);
    m.extend_from_slice(signed);
    m
}
