//! A device's own secret state: its id and its retained encryption private keys, with
//! their life cycle (rotate 7 days before expiry, keep expired keys 14 days, at most 8,
//! never delete the newest; docs/PROTOCOL.md 11.1, shared code in `keylife`).
//!
//! The identity key is not part of it: it belongs to the account (every device holds
//! it, the backup restores it) and is passed in where a signature is needed.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keylife::{self, ENCRYPTION_KEY_LIFETIME, MAX_RETAINED_KEYS};
use crate::keys::{
    EncryptionKey, IdentityKey, IdentityPublicKey, KeySize, MAX_MODULUS_LEN, MAX_PKCS8_LEN,
};
use crate::username::UserId;
use crate::v2::bundle::{DeviceBundle, SignedDeviceKey};
use crate::v2::ids::DeviceId;
use crate::wire::{Reader, put_var16};

const SECRET_TAG: [u8; 2] = [b'D', 2];

struct OwnedDeviceKey {
    private: EncryptionKey,
    signed: SignedDeviceKey,
}

impl keylife::Expiring for OwnedDeviceKey {
    fn expires_at(&self) -> u64 {
        self.signed.not_after()
    }
}

/// The secret keys of one device. No `Clone`, redacted `Debug`, private keys zeroized
/// on drop (by the `rsa` crate).
pub struct DeviceKeys {
    user_id: UserId,
    device_id: DeviceId,
    /// Oldest first.
    keys: Vec<OwnedDeviceKey>,
    last_issued: u64,
}

impl fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKeys")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("encryption_keys", &self.keys.len())
            .field("last_issued", &self.last_issued)
            .finish()
    }
}

impl DeviceKeys {
    /// A new device: a random id and a first encryption key of `size`, signed by
    /// `identity` and valid from `now` for 30 days.
    pub fn generate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        user_id: UserId,
        size: KeySize,
        now: u64,
    ) -> Result<Self> {
        let device_id = DeviceId::generate(rng);
        let key = EncryptionKey::generate(rng, size)?;
        Self::from_key(rng, identity, user_id, device_id, key, now)
    }

    /// A device from an existing encryption key (fixtures, tests).
    pub fn from_key<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        user_id: UserId,
        device_id: DeviceId,
        key: EncryptionKey,
        now: u64,
    ) -> Result<Self> {
        let mut me = Self {
            user_id,
            device_id,
            keys: Vec::new(),
            last_issued: 0,
        };
        me.add_key(rng, identity, key, now)?;
        Ok(me)
    }

    fn add_key<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &IdentityKey,
        private: EncryptionKey,
        now: u64,
    ) -> Result<()> {
        let not_after = now
            .checked_add(ENCRYPTION_KEY_LIFETIME)
            .ok_or(Error::Expired)?;
        let signed = SignedDeviceKey::sign(
            rng,
            identity,
            &self.user_id,
            &self.device_id,
            private.public(),
            now,
            not_after,
        )?;
        self.keys.push(OwnedDeviceKey { private, signed });
        Ok(())
    }

    /// The account's user id.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// This device's id.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// Signs a fresh bundle of the newest (up to 4) unexpired keys; `issued_at =
    /// max(now, previous + 1)`. `identity` must be the key that signed the encryption
    /// keys (else [`Error::BadSignature`]).
    pub fn bundle<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &IdentityKey,
        now: u64,
    ) -> Result<DeviceBundle> {
        let issued_at = keylife::next_issued(self.last_issued, now);
        let keys: Vec<SignedDeviceKey> = keylife::publishable(&self.keys, now)
            .into_iter()
            .map(|k| k.signed.clone())
            .collect();
        if keys.is_empty() {
            return Err(Error::Expired);
        }
        let bundle =
            DeviceBundle::new(rng, self.user_id, self.device_id, identity, issued_at, keys)?;
        self.last_issued = issued_at;
        Ok(bundle)
    }

    /// Whether the newest key expires within 7 days (rotate, then publish a bundle).
    pub fn needs_rotation(&self, now: u64) -> bool {
        keylife::needs_rotation(&self.keys, now)
    }

    /// Adds a new key of the identity key's size valid from `now`, then prunes.
    pub fn rotate<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &IdentityKey,
        now: u64,
    ) -> Result<()> {
        let key = EncryptionKey::generate(rng, identity.public().size())?;
        self.add_key(rng, identity, key, now)?;
        keylife::prune_after_rotation(&mut self.keys, now);
        Ok(())
    }

    /// Deletes private keys that expired more than 14 days ago (never the newest):
    /// envelopes wrapped to them can then no longer be opened (forward secrecy).
    pub fn prune(&mut self, now: u64) {
        keylife::prune(&mut self.keys, now);
    }

    /// How many private keys are retained.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Private keys to try when unwrapping, newest first.
    pub(crate) fn decryption_keys(&self) -> impl Iterator<Item = &EncryptionKey> {
        self.keys.iter().rev().map(|k| &k.private)
    }

    /// The secret encoding (the caller stores it encrypted):
    /// `"D" 2 || user_id[32] || device_id[16] || u64 last_issued || u8 count (1..8) ||
    /// count × (var16(pkcs8) || u64 not_before || u64 not_after || var16(signature))`.
    pub fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(4096 * self.keys.len() + 64));
        out.extend_from_slice(&SECRET_TAG);
        out.extend_from_slice(self.user_id.as_bytes());
        out.extend_from_slice(self.device_id.as_bytes());
        out.extend_from_slice(&self.last_issued.to_be_bytes());
        out.push(u8::try_from(self.keys.len()).map_err(|_| Error::TooLarge)?);
        for k in &self.keys {
            put_var16(&mut out, &k.private.to_pkcs8_der()?)?;
            out.extend_from_slice(&k.signed.not_before().to_be_bytes());
            out.extend_from_slice(&k.signed.not_after().to_be_bytes());
            put_var16(&mut out, k.signed.signature())?;
        }
        Ok(out)
    }

    /// Reads [`DeviceKeys::to_secret_bytes`], re-verifying every key signature against
    /// `identity` (the account's identity key).
    pub fn from_secret_bytes(bytes: &[u8], identity: &IdentityPublicKey) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != SECRET_TAG {
            return Err(Error::Malformed);
        }
        let user_id = UserId(r.array()?);
        let device_id = DeviceId::from_bytes(r.array()?);
        let last_issued = r.u64()?;
        let count = usize::from(r.u8()?);
        if count == 0 || count > MAX_RETAINED_KEYS {
            return Err(Error::Malformed);
        }
        let mut keys = Vec::with_capacity(count);
        for _ in 0..count {
            let private = EncryptionKey::from_pkcs8_der(r.var16(MAX_PKCS8_LEN)?)?;
            let not_before = r.u64()?;
            let not_after = r.u64()?;
            let signature = r.var16(MAX_MODULUS_LEN)?.to_vec();
            let signed = SignedDeviceKey::from_parts(
                private.public(),
                not_before,
                not_after,
                signature,
                identity,
                &user_id,
                &device_id,
            )?;
            keys.push(OwnedDeviceKey { private, signed });
        }
        r.finish()?;
        Ok(Self {
            user_id,
            device_id,
            keys,
            last_issued,
        })
    }
}
