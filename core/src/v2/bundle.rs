//! Device bundles (design 1.2): one per device (PROTOCOL.md 10): its encryption keys
//! with their validity periods. Signed by the account's identity key; a [`DeviceBundle`] value only
//! exists once every signature in it verified.
//!
//! A device bundle is used only if its device is in the account's current
//! [`DeviceList`] and both carry the same identity key: [`DeviceList::check_bundle`].

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::error::{Error, Result};
use crate::keylife::{CLOCK_SKEW, MAX_ENCRYPTION_KEYS};
use crate::keys::{
    EncryptionPublicKey, IdentityKey, IdentityPublicKey, MAX_MODULUS_LEN, MAX_SPKI_LEN,
};
use crate::username::UserId;
use crate::v2::device::DeviceList;
use crate::v2::ids::DeviceId;
use crate::wire::{Reader, put_var16};

const BUNDLE_TAG: [u8; 2] = [b'B', 2];
const BUNDLE_SIG_DOMAIN: &[u8] = b"sealpost/v2/bundle\0";
const KEY_SIG_DOMAIN: &[u8] = b"sealpost/v2/encryption-key\0";

/// Largest encoded device bundle.
pub const MAX_DEVICE_BUNDLE_LEN: usize = 8192;

/// A device's encryption key with its validity period, signed by the identity key for
/// one `(user, device)`: a key cannot be moved to another device's bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedDeviceKey {
    key: EncryptionPublicKey,
    not_before: u64,
    not_after: u64,
    signature: Vec<u8>,
}

impl fmt::Debug for SignedDeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedDeviceKey")
            .field("key", &self.key)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn key_signing_input(
    user_id: &UserId,
    device_id: &DeviceId,
    key: &EncryptionPublicKey,
    not_before: u64,
    not_after: u64,
) -> Result<Vec<u8>> {
    let spki = key.to_spki_der();
    let mut m = Vec::with_capacity(KEY_SIG_DOMAIN.len() + 32 + 16 + 16 + 2 + spki.len());
    m.extend_from_slice(KEY_SIG_DOMAIN);
    m.extend_from_slice(user_id.as_bytes());
    m.extend_from_slice(device_id.as_bytes());
    m.extend_from_slice(&not_before.to_be_bytes());
    m.extend_from_slice(&not_after.to_be_bytes());
    put_var16(&mut m, spki)?;
    Ok(m)
}

impl SignedDeviceKey {
    /// Signs `key` for `(user_id, device_id)`, valid for `not_before <= t < not_after`.
    pub fn sign<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        user_id: &UserId,
        device_id: &DeviceId,
        key: EncryptionPublicKey,
        not_before: u64,
        not_after: u64,
    ) -> Result<Self> {
        if not_before >= not_after {
            return Err(Error::Expired);
        }
        let input = key_signing_input(user_id, device_id, &key, not_before, not_after)?;
        let signature = identity.sign(rng, &input)?;
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
        device_id: &DeviceId,
    ) -> Result<Self> {
        let k = Self {
            key,
            not_before,
            not_after,
            signature,
        };
        k.verify(identity, user_id, device_id)?;
        Ok(k)
    }

    fn verify(
        &self,
        identity: &IdentityPublicKey,
        user_id: &UserId,
        device_id: &DeviceId,
    ) -> Result<()> {
        if self.not_before >= self.not_after {
            return Err(Error::Malformed);
        }
        let input = key_signing_input(
            user_id,
            device_id,
            &self.key,
            self.not_before,
            self.not_after,
        )?;
        identity.verify(&input, &self.signature)
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
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
}

/// A verified device bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceBundle {
    user_id: UserId,
    device_id: DeviceId,
    issued_at: u64,
    identity: IdentityPublicKey,
    keys: Vec<SignedDeviceKey>,
    bytes: Vec<u8>,
}

impl fmt::Debug for DeviceBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBundle")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("issued_at", &self.issued_at)
            .field("identity", &self.identity)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn bundle_signing_input(signed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUNDLE_SIG_DOMAIN.len() + signed.len());
    m.extend_from_slice(BUNDLE_SIG_DOMAIN);
    m.extend_from_slice(signed);
    m
}

impl DeviceBundle {
    /// Builds and signs a bundle; every key must be signed by `identity` for
    /// `(user_id, device_id)`. 1 to 4 keys, oldest first.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        user_id: UserId,
        device_id: DeviceId,
        identity: &IdentityKey,
        issued_at: u64,
        keys: Vec<SignedDeviceKey>,
    ) -> Result<Self> {
        if keys.is_empty() || keys.len() > MAX_ENCRYPTION_KEYS {
            return Err(Error::TooLarge);
        }
        let public = identity.public();
        for k in &keys {
            k.verify(&public, &user_id, &device_id)?;
        }
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&BUNDLE_TAG);
        bytes.extend_from_slice(user_id.as_bytes());
        bytes.extend_from_slice(device_id.as_bytes());
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
        if bytes.len() > MAX_DEVICE_BUNDLE_LEN {
            return Err(Error::TooLarge);
        }
        Ok(Self {
            user_id,
            device_id,
            issued_at,
            identity: public,
            keys,
            bytes,
        })
    }

    /// Parses a bundle and verifies every signature in it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_DEVICE_BUNDLE_LEN {
            return Err(Error::TooLarge);
        }
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != BUNDLE_TAG {
            return Err(Error::Malformed);
        }
        let user_id = UserId(r.array()?);
        let device_id = DeviceId::from_bytes(r.array()?);
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
            keys.push(SignedDeviceKey::from_parts(
                key, not_before, not_after, signature, &identity, &user_id, &device_id,
            )?);
        }
        let signed_len = bytes.len().saturating_sub(r.remaining());
        let signature = r.var16(MAX_MODULUS_LEN)?;
        r.finish()?;
        let signed = bytes.get(..signed_len).ok_or(Error::Malformed)?;
        identity.verify(&bundle_signing_input(signed), signature)?;
        Ok(Self {
            user_id,
            device_id,
            issued_at,
            identity,
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

    /// Which device of that user.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// When it was issued; updates strictly increase it. Also the session epoch: a
    /// newer bundle retires sessions with this device for sending (design 2.4).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// The identity key that signed it.
    pub fn identity(&self) -> &IdentityPublicKey {
        &self.identity
    }

    /// All listed encryption keys, oldest first.
    pub fn encryption_keys(&self) -> &[SignedDeviceKey] {
        &self.keys
    }

    /// The key a sender should wrap to at `now`: among keys with `not_before <= now +
    /// CLOCK_SKEW` and `now < not_after`, the one with the largest `not_before` (a tie
    /// goes to the later one). None: [`Error::Expired`]. PROTOCOL.md 10.3.
    pub fn current_encryption_key(&self, now: u64) -> Result<&EncryptionPublicKey> {
        let skewed = now.saturating_add(CLOCK_SKEW);
        self.keys
            .iter()
            .filter(|k| k.not_before <= skewed && now < k.not_after)
            .max_by_key(|k| k.not_before)
            .map(|k| &k.key)
            .ok_or(Error::Expired)
    }

    /// Checks that `newer` may replace `self`: same user, device and identity key (else
    /// [`Error::BadSignature`]), strictly larger `issued_at` (else [`Error::Stale`]).
    pub fn check_update(&self, newer: &DeviceBundle) -> Result<()> {
        if newer.user_id != self.user_id
            || newer.device_id != self.device_id
            || newer.identity != self.identity
        {
            return Err(Error::BadSignature);
        }
        if newer.issued_at <= self.issued_at {
            return Err(Error::Stale);
        }
        Ok(())
    }
}

impl DeviceList {
    /// Whether `bundle` may be used: same user and identity key as this list and its
    /// device listed. Anything else is [`Error::BadSignature`] (the list does not
    /// authorise it; a revoked device's bundle fails here).
    pub fn check_bundle(&self, bundle: &DeviceBundle) -> Result<()> {
        if bundle.user_id != *self.user_id()
            || bundle.identity != *self.identity()
            || !self.contains(&bundle.device_id)
        {
            return Err(Error::BadSignature);
        }
        Ok(())
    }
}
