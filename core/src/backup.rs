//! The keys of the password-protected backup (docs/PROTOCOL.md 20.1; the blob is
//! [`crate::v2::backup`]), so an account can log in from any browser.
//!
//! `PBKDF2-HMAC-SHA256(password, salt, iterations)` gives a master secret; HKDF splits it
//! into a key-encryption key (never leaves the client) and an authentication token that
//! the relay checks before handing out the blob. The token is a one-way function of the
//! PBKDF2 output, so a relay that holds it still pays the full PBKDF2 cost per guess.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::primitives::{self, Key};
use crate::username::UserId;

/// OWASP's 2023 floor for PBKDF2-HMAC-SHA256; also the default.
pub const MIN_ITERATIONS: u32 = 600_000;
/// Import refuses more than this, so a hostile blob cannot pin the CPU for minutes.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Shortest accepted password, in bytes.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Length of a backup blob's public header: tag, user id, salt, iterations.
pub const HEADER_LEN: usize = 2 + 32 + 16 + 4;

/// The public parameters at the front of a backup blob: what a client needs before it
/// can run PBKDF2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupParams {
    /// Random per-backup PBKDF2 salt.
    pub salt: [u8; 16],
    /// PBKDF2 iteration count.
    pub iterations: u32,
}

impl BackupParams {
    /// Fresh parameters with a random salt.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, iterations: u32) -> Result<Self> {
        check_iterations(iterations)?;
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        Ok(Self { salt, iterations })
    }
}

pub(crate) fn check_iterations(iterations: u32) -> Result<()> {
    if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        Ok(())
    } else {
        Err(Error::WeakParameters)
    }
}

/// The two secrets derived from a password. Redacted `Debug`, zeroized on drop.
pub struct BackupKeys {
    kek: Key,
    auth_token: Key,
}

impl fmt::Debug for BackupKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupKeys(<redacted>)")
    }
}

impl BackupKeys {
    /// Runs PBKDF2 (the slow step: run it in a worker) and HKDF. The password is used
    /// as its UTF-8 bytes: clients NFC-normalize it first (JS `password.normalize("NFC")`)
    /// so the same password typed on another system derives the same keys.
    pub fn derive(password: &str, user_id: &UserId, params: &BackupParams) -> Result<Self> {
        let pw = password.as_bytes();
        if pw.len() < MIN_PASSWORD_LEN || pw.len() > MAX_PASSWORD_LEN {
            return Err(Error::WeakParameters);
        }
        check_iterations(params.iterations)?;
        let mut master = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, &params.salt, params.iterations, master.as_mut());
        let okm = primitives::hkdf::<64>(
            master.as_ref(),
            user_id.as_bytes(),
            &[b"sealpost/v1/backup"],
        )?;
        Ok(Self {
            kek: primitives::key_at(okm.as_ref(), 0)?,
            auth_token: primitives::key_at(okm.as_ref(), 1)?,
        })
    }

    /// The token the relay checks before it releases the blob (it stores only a hash).
    pub fn auth_token(&self) -> [u8; 32] {
        *self.auth_token
    }

    /// The key-encryption key (backup v2 seals with it too).
    pub(crate) fn kek(&self) -> &[u8; 32] {
        &self.kek
    }

    /// The two keys (key-encryption key, then auth token) as 64 bytes, so a client can
    /// keep an unlocked session across page reloads without the password (sealpost-wasm's
    /// `exportSession` seals them under a key WebCrypto will not export). Never store
    /// them in the clear: they open the backup.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; 64]> {
        let mut out = Zeroizing::new([0u8; 64]);
        let (kek, auth) = out.split_at_mut(32);
        kek.copy_from_slice(self.kek.as_ref());
        auth.copy_from_slice(self.auth_token.as_ref());
        out
    }

    /// The keys [`BackupKeys::to_secret_bytes`] wrote.
    pub fn from_secret_bytes(bytes: &[u8; 64]) -> Self {
        let (kek, auth) = bytes.split_at(32);
        let key = |b: &[u8]| {
            let mut k = Key::default();
            k.copy_from_slice(b);
            k
        };
        Self {
            kek: key(kek),
            auth_token: key(auth),
        }
    }
}
