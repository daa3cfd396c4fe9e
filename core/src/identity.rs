//! A local account: the private keys behind a [`KeyBundle`], and their life cycle.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::bundle::{KeyBundle, SignedEncryptionKey};
use crate::error::{Error, Result};
use crate::keylife;
use crate::keys::{EncryptionKey, IdentityKey, KeySize, MAX_MODULUS_LEN, MAX_PKCS8_LEN};
use crate::username::UserId;
use crate::wire::{Reader, put_var16};

/// How long a new encryption key is valid for senders: 30 days.
pub const ENCRYPTION_KEY_LIFETIME: u64 = 30 * 24 * 3600;
/// Rotate when less than this much validity is left: 7 days.
pub const ROTATE_BEFORE_EXPIRY: u64 = 7 * 24 * 3600;
/// Keep an expired private key this long for envelopes still in flight (the relay's
/// default time-to-live), then delete it: 14 days.
pub const RETAIN_AFTER_EXPIRY: u64 = 14 * 24 * 3600;

const SECRET_TAG: [u8; 2] = [b'I', 1];
/// Most encryption private keys retained; rotating beyond it deletes the oldest early.
pub const MAX_RETAINED_KEYS: usize = keylife::MAX_RETAINED_KEYS;

/// An encryption key pair and the identity key's signature over its public half.
struct OwnedEncryptionKey {
    private: EncryptionKey,
    signed: SignedEncryptionKey,
}

impl keylife::Expiring for OwnedEncryptionKey {
    fn expires_at(&self) -> u64 {
        self.signed.not_after()
    }
}

/// Everything secret about one account: the identity key and the encryption keys
/// still retained. No `Clone`, redacted `Debug`, private keys zeroized on drop.
pub struct Identity {
    user_id: UserId,
    identity: IdentityKey,
    /// Oldest first.
    encryption_keys: Vec<OwnedEncryptionKey>,
    last_issued: u64,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            user_id,
            identity,
            encryption_keys,
            last_issued,
        } = self;
        f.debug_struct("Identity")
            .field("user_id", user_id)
            .field("identity", identity)
            .field("encryption_keys", &encryption_keys.len())
            .field("last_issued", last_issued)
            .finish()
    }
}

/// Steps reported by [`Identity::generate`]'s progress callback, as `(done, total)`.
pub const KEYGEN_STEPS: u32 = 2;

impl Identity {
    /// Generates an identity key and a first encryption key, calling
    /// `progress(done, total)` before and after each (RSA-4096 takes seconds in wasm).
    pub fn generate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        user_id: UserId,
        size: KeySize,
        now: u64,
        progress: &mut dyn FnMut(u32, u32),
    ) -> Result<Self> {
        progress(0, KEYGEN_STEPS);
        let identity = IdentityKey::generate(rng, size)?;
        progress(1, KEYGEN_STEPS);
        let mut me = Self {
            user_id,
            identity,
            encryption_keys: Vec::new(),
            last_issued: 0,
        };
        let encryption = EncryptionKey::generate(rng, size)?;
        me.add_encryption_key(rng, encryption, now)?;
        progress(2, KEYGEN_STEPS);
        Ok(me)
    }

    /// Builds an identity from existing keys (fixtures, migrations).
    pub fn from_keys<R: CryptoRng + ?Sized>(
        rng: &mut R,
        user_id: UserId,
        identity: IdentityKey,
        encryption: EncryptionKey,
        now: u64,
    ) -> Result<Self> {
        let mut me = Self {
            user_id,
            identity,
            encryption_keys: Vec::new(),
            last_issued: 0,
        };
        me.add_encryption_key(rng, encryption, now)?;
        Ok(me)
    }

    fn add_encryption_key<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        private: EncryptionKey,
        now: u64,
    ) -> Result<()> {
        let not_after = now
            .checked_add(ENCRYPTION_KEY_LIFETIME)
            .ok_or(Error::Expired)?;
        let signed = SignedEncryptionKey::sign(
            rng,
            &self.identity,
            &self.user_id,
            private.public(),
            now,
            not_after,
        )?;
        self.encryption_keys
            .push(OwnedEncryptionKey { private, signed });
        Ok(())
    }

    /// The account's user id.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        &self.identity
    }

    /// Signs a fresh bundle listing every encryption key that has not expired at `now`
    /// (newest four). `issued_at` strictly increases across calls.
    pub fn bundle<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64) -> Result<KeyBundle> {
        let issued_at = keylife::next_issued(self.last_issued, now);
        let keys: Vec<SignedEncryptionKey> = keylife::publishable(&self.encryption_keys, now)
            .into_iter()
            .map(|k| k.signed.clone())
            .collect();
        if keys.is_empty() {
            return Err(Error::Expired);
        }
        let bundle = KeyBundle::new(rng, self.user_id, &self.identity, issued_at, keys)?;
        self.last_issued = issued_at;
        Ok(bundle)
    }

    /// Whether the newest encryption key expires within [`ROTATE_BEFORE_EXPIRY`].
    pub fn needs_rotation(&self, now: u64) -> bool {
        keylife::needs_rotation(&self.encryption_keys, now)
    }

    /// Adds a new encryption key valid from `now` and deletes keys past retention.
    /// Publish a new [`Identity::bundle`] afterwards so senders switch to it.
    pub fn rotate_encryption_key<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
    ) -> Result<()> {
        let size = self.identity.public().size();
        let key = EncryptionKey::generate(rng, size)?;
        self.add_encryption_key(rng, key, now)?;
        keylife::prune_after_rotation(&mut self.encryption_keys, now);
        Ok(())
    }

    /// Deletes encryption private keys that expired more than [`RETAIN_AFTER_EXPIRY`]
    /// ago: envelopes wrapped to them can no longer be opened by anyone (forward secrecy
    /// through rotation). Never deletes the newest key.
    pub fn prune(&mut self, now: u64) {
        keylife::prune(&mut self.encryption_keys, now);
    }

    /// Private keys to try when unwrapping, newest first.
    pub(crate) fn decryption_keys(&self) -> impl Iterator<Item = &EncryptionKey> {
        self.encryption_keys.iter().rev().map(|k| &k.private)
    }

    /// Serializes every private key (for the encrypted backup and for local storage that
    /// the caller encrypts). The result is secret.
    pub fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(16 * 1024));
        out.extend_from_slice(&SECRET_TAG);
        out.extend_from_slice(self.user_id.as_bytes());
        out.extend_from_slice(&self.last_issued.to_be_bytes());
        put_var16(&mut out, &self.identity.to_pkcs8_der()?)?;
        out.push(u8::try_from(self.encryption_keys.len()).map_err(|_| Error::TooLarge)?);
        for k in &self.encryption_keys {
            put_var16(&mut out, &k.private.to_pkcs8_der()?)?;
            out.extend_from_slice(&k.signed.not_before().to_be_bytes());
            out.extend_from_slice(&k.signed.not_after().to_be_bytes());
            put_var16(&mut out, k.signed.signature())?;
        }
        Ok(out)
    }

    /// Reads what [`Identity::to_secret_bytes`] wrote, re-verifying every signature.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != SECRET_TAG {
            return Err(Error::Malformed);
        }
        let user_id = UserId(r.array()?);
        let last_issued = r.u64()?;
        let identity = IdentityKey::from_pkcs8_der(r.var16(MAX_PKCS8_LEN)?)?;
        let count = usize::from(r.u8()?);
        if count == 0 || count > MAX_RETAINED_KEYS {
            return Err(Error::Malformed);
        }
        let mut encryption_keys = Vec::with_capacity(count);
        for _ in 0..count {
            let private = EncryptionKey::from_pkcs8_der(r.var16(MAX_PKCS8_LEN)?)?;
            let not_before = r.u64()?;
            let not_after = r.u64()?;
            let signature = r.var16(MAX_MODULUS_LEN)?;
            let signed = SignedEncryptionKey::from_parts(
                private.public(),
                not_before,
                not_after,
                signature.to_vec(),
                &identity.public(),
                &user_id,
            )?;
            encryption_keys.push(OwnedEncryptionKey { private, signed });
        }
        r.finish()?;
        Ok(Self {
            user_id,
            identity,
            encryption_keys,
            last_issued,
        })
    }
}
