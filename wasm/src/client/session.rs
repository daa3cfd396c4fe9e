//! An unlocked session that survives page reloads without the password.
//!
//! Unlocking runs PBKDF2 twice (the local vault's key and the backup's keys: a second or
//! more). `exportSession` seals those password-derived keys under an AES-GCM key the app
//! holds in WebCrypto as non-extractable (e.g. kept in IndexedDB for one tab, with the
//! sealed bytes in that tab's `sessionStorage`); `Client.resume` opens the stored account
//! with them. Both are the package's JS (`js/session.js`: WebCrypto there costs the wasm
//! module nothing), which refuses an extractable key, so the keys are never written
//! anywhere in the clear. Here: the keys they seal (`sessionKeys`, not for apps) and
//! `login`'s use of them (`options.sessionKeys`).

use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::Client;
use crate::error::{Code, err};
use crate::vault::Vault;

const VERSION: u8 = 1;

/// The backup keys as `BackupKeys::to_secret_bytes` writes them.
pub(super) type BackupKeyBytes = Zeroizing<[u8; 64]>;

/// What a session keeps: version, the vault key, then the backup keys if any.
struct Kept {
    vault: Zeroizing<[u8; 32]>,
    backup: Option<BackupKeyBytes>,
}

impl Kept {
    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1 + 32 + 64));
        out.push(VERSION);
        out.extend_from_slice(self.vault.as_ref());
        if let Some(b) = &self.backup {
            out.extend_from_slice(b.as_ref());
        }
        out
    }

    fn from_bytes(b: &[u8]) -> Result<Kept, JsValue> {
        let malformed = || err(Code::Malformed, "not a session of this version");
        let (v, rest) = b.split_first().ok_or_else(malformed)?;
        if *v != VERSION || !(rest.len() == 32 || rest.len() == 96) {
            return Err(malformed());
        }
        let (vault, backup) = rest.split_at(32);
        let mut kept = Kept {
            vault: Zeroizing::new([0; 32]),
            backup: None,
        };
        kept.vault.copy_from_slice(vault);
        if !backup.is_empty() {
            let mut k = Zeroizing::new([0; 64]);
            k.copy_from_slice(backup);
            kept.backup = Some(k);
        }
        Ok(kept)
    }
}

#[wasm_bindgen]
impl Client {
    /// The password-derived keys, for the package's `exportSession` (js/session.js) to
    /// seal at once under a non-extractable WebCrypto key. Not for apps: call
    /// `exportSession`.
    #[wasm_bindgen(js_name = sessionKeys, skip_typescript)]
    pub fn session_keys(&self) -> Result<Vec<u8>, JsValue> {
        self.inner.with_state(|s| {
            let kept = Kept {
                vault: Zeroizing::new(*s.vault.key()),
                backup: s.backup.as_ref().map(|b| b.keys.to_secret_bytes()),
            };
            Ok(kept.to_bytes().to_vec())
        })
    }
}

/// The vault (checked against the stored `header`) and backup keys a session kept
/// (`options.sessionKeys` of `login`, as `Client.resume` opened them).
pub(super) fn unseal(
    header: &[u8],
    kept: &[u8],
) -> Result<(Vault, Option<BackupKeyBytes>), JsValue> {
    let kept = Kept::from_bytes(kept)?;
    Ok((Vault::with_key(kept.vault, header)?, kept.backup))
}
