//! Backup v2 (PROTOCOL.md 20): the identity key and the app's account state, sealed
//! under keys derived from the password, so a new browser can restore the account and
//! join it as a new device. Never device keys or sessions.

use sealpost_core::UserId;
use sealpost_core::backup::{self as kdf, BackupParams};
use sealpost_core::v2::backup;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{BackupParamsJs, Bytes, Identity, RestoredBackupJs, nfc, parse_user_id, to_js};
use crate::error::{Code, OrJs, err, invalid};
use crate::rng;

/// Keys derived from a password for the backup (PBKDF2, 600 000 iterations by default:
/// about a second in WebAssembly, so use a Web Worker). The key-encryption key never
/// leaves wasm memory; `authToken` is what the relay checks before it hands the backup
/// out.
#[wasm_bindgen]
#[derive(Debug)]
pub struct BackupKeys {
    keys: kdf::BackupKeys,
    params: BackupParams,
    user_id: UserId,
}

impl BackupKeys {
    fn derive(password: &str, user_id: UserId, params: BackupParams) -> Result<Self, JsValue> {
        let keys = kdf::BackupKeys::derive(&nfc(password), &user_id, &params).or_js()?;
        Ok(BackupKeys {
            keys,
            params,
            user_id,
        })
    }
}

#[wasm_bindgen]
impl BackupKeys {
    /// Fresh parameters (random salt) for a new backup of `userId`. The password is
    /// NFC-normalized first; 8 to 1024 bytes, else `WEAK_PARAMETERS`.
    pub fn create(
        password: &str,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
        iterations: Option<u32>,
    ) -> Result<BackupKeys, JsValue> {
        let user_id = parse_user_id(user_id)?;
        let params = BackupParams::generate(&mut rng(), iterations.unwrap_or(kdf::MIN_ITERATIONS))
            .or_js()?;
        Self::derive(password, user_id, params)
    }

    /// Derives the keys of an existing backup from its blob or its 54-byte public header
    /// (`GET /v2/users/{id}/backup/params`).
    #[wasm_bindgen(js_name = forBlob)]
    pub fn for_blob(password: &str, header: &[u8]) -> Result<BackupKeys, JsValue> {
        let (user_id, params) = backup::params_from_blob(header).or_js()?;
        Self::derive(password, user_id, params)
    }

    /// The token for the relay's backup upload and fetch. It proves knowledge of the
    /// password to the relay: treat it as a secret, send it only to the relay.
    #[wasm_bindgen(getter, js_name = authToken)]
    pub fn auth_token(&self) -> Vec<u8> {
        self.keys.auth_token().to_vec()
    }

    /// The user id the keys were derived for.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.user_id.to_hex()
    }
}

/// Encrypts `identity` and `accountState` (the app's own bytes, up to 256 KiB; e.g. its
/// contacts and pins) into a backup blob under `keys`. Upload it with `keys.authToken`.
#[wasm_bindgen(js_name = exportBackup)]
pub fn export_backup(
    identity: &Identity,
    keys: &BackupKeys,
    #[wasm_bindgen(js_name = accountState)] account_state: Option<Vec<u8>>,
) -> Result<Vec<u8>, JsValue> {
    let user_id = identity.username.user_id();
    if user_id != keys.user_id {
        return Err(invalid("backup keys were derived for another user"));
    }
    backup::export(
        &mut rng(),
        &user_id,
        &identity.key,
        &account_state.unwrap_or_default(),
        &keys.params,
        &keys.keys,
    )
    .or_js()
}

/// Opens a backup blob of `username`'s account with `keys` (from `BackupKeys.forBlob`).
/// Throws `WRONG_PASSWORD` when the keys do not open it or it is another account's.
#[wasm_bindgen(js_name = importBackup)]
pub fn import_backup(
    username: &str,
    blob: &[u8],
    keys: &BackupKeys,
) -> Result<RestoredBackupJs, JsValue> {
    let username = sealpost_core::Username::parse(username).or_js()?;
    let (owner, _) = backup::params_from_blob(blob).or_js()?;
    if owner != username.user_id() || keys.user_id != owner {
        return Err(err(
            Code::WrongPassword,
            "the backup belongs to another user",
        ));
    }
    let content = backup::import(blob, &keys.keys).or_js()?;
    let out = js_sys::Object::new();
    let identity = Identity {
        key: content.identity,
        username,
    };
    // Setting properties on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(&out, &"identity".into(), &identity.into());
    let state = js_sys::Uint8Array::from(content.account_state.as_slice());
    let _ = js_sys::Reflect::set(&out, &"accountState".into(), &state.into());
    Ok(out.unchecked_into())
}

/// Reads the public header of a backup v2 blob: user id, salt, iteration count.
#[wasm_bindgen(js_name = readBackupParams)]
pub fn read_backup_params(header: &[u8]) -> Result<BackupParamsJs, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        user_id: String,
        salt: Bytes,
        iterations: u32,
    }
    let (user_id, p) = backup::params_from_blob(header).or_js()?;
    Ok(to_js(&Params {
        user_id: user_id.to_hex(),
        salt: Bytes(p.salt.to_vec()),
        iterations: p.iterations,
    })?
    .unchecked_into())
}
