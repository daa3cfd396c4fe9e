//! Backup v2 (design 5, docs/PROTOCOL.md 20): keys derived as in [`crate::backup`] from
//! a password NFC-normalised by the core on both create and restore; a blob with tag `K`
//! 2 whose content is only what every device shares: `var16(identity pkcs8) ||
//! var32(account state)`. Never encryption keys or sessions: a restored login
//! mints fresh device keys.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::backup::{BackupKeys, BackupParams, HEADER_LEN, check_iterations};
use crate::error::{Error, Result};
use crate::keys::{IdentityKey, MAX_PKCS8_LEN};
use crate::primitives;
use crate::username::UserId;
use crate::v2::link::MAX_ACCOUNT_STATE_LEN;
use crate::wire::{Reader, put_var16, put_var32};

const BACKUP_TAG: [u8; 2] = [b'K', 2];
/// Largest backup v2 blob: header, nonce, tag, an RSA-4096 PKCS#8 key and the largest
/// account state.
pub const MAX_BACKUP_LEN: usize =
    HEADER_LEN + 12 + 16 + 2 + MAX_PKCS8_LEN + 4 + MAX_ACCOUNT_STATE_LEN;

/// The password as the core uses it: Unicode NFC, so `"é"` typed as one code point or
/// as `e` + combining accent derives the same keys.
pub fn normalize_password(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.nfc().collect())
}

/// Runs PBKDF2 and HKDF (PROTOCOL.md 20.1) on the NFC-normalised password. The length limits
/// (8..=1024 bytes) apply to the normalised form.
pub fn derive_keys(password: &str, user_id: &UserId, params: &BackupParams) -> Result<BackupKeys> {
    BackupKeys::derive(&normalize_password(password), user_id, params)
}

/// Reads the public header (what the relay serves before login).
pub fn params_from_blob(blob: &[u8]) -> Result<(UserId, BackupParams)> {
    if blob.len() > MAX_BACKUP_LEN {
        return Err(Error::TooLarge);
    }
    let mut r = Reader::new(blob);
    if r.array::<2>()? != BACKUP_TAG {
        return Err(Error::Malformed);
    }
    let user_id = UserId(r.array()?);
    let salt = r.array()?;
    let iterations = r.u32()?;
    check_iterations(iterations)?;
    Ok((user_id, BackupParams { salt, iterations }))
}

/// What a backup holds.
pub struct BackupContent {
    /// The account's identity key.
    pub identity: IdentityKey,
    /// Encoded account state (engine-defined).
    pub account_state: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for BackupContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupContent")
            .field("identity", &self.identity)
            .field("account_state_len", &self.account_state.len())
            .finish()
    }
}

/// A backup of the account's identity key and state, encrypted under `keys` (from
/// [`derive_keys`] with `params`).
pub fn export<R: CryptoRng + ?Sized>(
    rng: &mut R,
    user_id: &UserId,
    identity: &IdentityKey,
    account_state: &[u8],
    params: &BackupParams,
    keys: &BackupKeys,
) -> Result<Vec<u8>> {
    if account_state.len() > MAX_ACCOUNT_STATE_LEN {
        return Err(Error::TooLarge);
    }
    let mut blob = Vec::with_capacity(HEADER_LEN + 4096 + account_state.len());
    blob.extend_from_slice(&BACKUP_TAG);
    blob.extend_from_slice(user_id.as_bytes());
    blob.extend_from_slice(&params.salt);
    blob.extend_from_slice(&params.iterations.to_be_bytes());
    let pkcs8 = identity.to_pkcs8_der()?;
    let mut content = Zeroizing::new(Vec::with_capacity(6 + pkcs8.len() + account_state.len()));
    put_var16(&mut content, &pkcs8)?;
    put_var32(&mut content, account_state)?;
    let sealed = primitives::seal(rng, keys.kek(), &blob, &content)?;
    blob.extend_from_slice(&sealed);
    if blob.len() > MAX_BACKUP_LEN {
        return Err(Error::TooLarge);
    }
    Ok(blob)
}

/// Opens a backup v2 blob. Any failure after the header parses is
/// [`Error::WrongPassword`].
pub fn import(blob: &[u8], keys: &BackupKeys) -> Result<BackupContent> {
    params_from_blob(blob)?;
    let (header, sealed) = blob.split_at_checked(HEADER_LEN).ok_or(Error::Malformed)?;
    let content = primitives::open(keys.kek(), header, sealed).map_err(|_| Error::WrongPassword)?;
    let parse = || -> Result<BackupContent> {
        let mut r = Reader::new(&content);
        let identity = IdentityKey::from_pkcs8_der(r.var16(MAX_PKCS8_LEN)?)?;
        let account_state = Zeroizing::new(r.var32(MAX_ACCOUNT_STATE_LEN)?.to_vec());
        r.finish()?;
        Ok(BackupContent {
            identity,
            account_state,
        })
    };
    parse().map_err(|_| Error::WrongPassword)
}
