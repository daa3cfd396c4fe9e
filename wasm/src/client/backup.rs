//! Backup v2 (design section 5): the identity key and the account state, sealed under
//! the password, uploaded when the account state changes and fetched by a password
//! login on a browser without local state.

use std::rc::Rc;

use gloo_net::http::Method;
use sealpost_core::backup::{BackupKeys, BackupParams, MIN_ITERATIONS};
use sealpost_core::v2::backup as backup_v2;
use sealpost_core::{IdentityKey, UserId};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use zeroize::Zeroizing;

use super::persist::{self, BackupRecord};
use super::transport::{Http, network, relay_error, retryable, sleep};
use super::{Client, Inner};
use crate::crypto::hex;
use crate::error::{Code, OrJs, core_error, err};
use crate::rng;

/// The password-derived backup keys and their public parameters.
pub(crate) struct Backup {
    pub(crate) params: BackupParams,
    pub(crate) keys: BackupKeys,
}

impl Backup {
    /// New parameters (registration).
    pub(crate) fn create(
        password: &str,
        user: &UserId,
        iterations: Option<u32>,
    ) -> Result<Self, JsValue> {
        let params =
            BackupParams::generate(&mut rng(), iterations.unwrap_or(MIN_ITERATIONS)).or_js()?;
        Self::derive(password, user, params)
    }

    /// The keys for known parameters (PBKDF2: about a second).
    pub(crate) fn derive(
        password: &str,
        user: &UserId,
        params: BackupParams,
    ) -> Result<Self, JsValue> {
        // NFC through the JS engine's tables (same result as the core's
        // `backup::derive_keys`, without shipping Unicode tables in the module).
        let keys = BackupKeys::derive(&crate::crypto::nfc(password), user, &params).or_js()?;
        Ok(Backup { params, keys })
    }

    pub(crate) fn record(&self) -> BackupRecord {
        BackupRecord {
            salt: hex(&self.params.salt),
            iterations: self.params.iterations,
        }
    }

    pub(crate) fn from_record(
        password: &str,
        user: &UserId,
        r: &BackupRecord,
    ) -> Result<Self, JsValue> {
        Self::derive(password, user, Self::params_of(r)?)
    }

    /// The stored parameters with keys a session kept (`Client.resume`).
    pub(crate) fn from_kept(r: &BackupRecord, keys: BackupKeys) -> Result<Self, JsValue> {
        Ok(Backup {
            params: Self::params_of(r)?,
            keys,
        })
    }

    fn params_of(r: &BackupRecord) -> Result<BackupParams, JsValue> {
        let salt = sealpost_core::v2::SessionId::from_hex(&r.salt)
            .map_err(|_| err(Code::Storage, "bad stored backup salt"))?;
        Ok(BackupParams {
            salt: *salt.as_bytes(),
            iterations: r.iterations,
        })
    }
}

/// What a password login restores.
pub(crate) struct Restored {
    pub(crate) backup: Backup,
    pub(crate) identity: IdentityKey,
    pub(crate) account_state: Zeroizing<Vec<u8>>,
}

/// The account's backup parameters (the public header).
pub(crate) async fn params(http: &Http, user: &UserId) -> Result<BackupParams, JsValue> {
    let resp = http
        .get(&format!("/v2/users/{}/backup/params", user.to_hex()))
        .await?;
    if resp.status() != 200 {
        return Err(relay_error(resp, Code::Relay).await);
    }
    let header = resp.binary().await.map_err(network)?;
    let (owner, params) = backup_v2::params_from_blob(&header).or_js()?;
    if owner != *user {
        return Err(err(
            Code::Malformed,
            "the relay served another account's backup",
        ));
    }
    Ok(params)
}

/// Fetches and opens the account's backup (`WRONG_PASSWORD`, `NOT_FOUND`,
/// `RATE_LIMITED` after too many wrong passwords).
pub(crate) async fn restore(
    http: &Http,
    user: &UserId,
    password: &str,
) -> Result<Restored, JsValue> {
    let id = user.to_hex();
    let params = params(http, user).await?;
    let backup = Backup::derive(password, user, params)?;
    let token = backup.keys.auth_token();
    let resp = http
        .send(
            Method::POST,
            &format!("/v2/users/{id}/backup/fetch"),
            Some(&token),
            None,
        )
        .await?;
    if resp.status() != 200 {
        return Err(relay_error(resp, Code::Relay).await);
    }
    let blob = resp.binary().await.map_err(network)?;
    let content = backup_v2::import(&blob, &backup.keys).or_js()?;
    Ok(Restored {
        backup,
        identity: content.identity,
        account_state: content.account_state,
    })
}

impl Inner {
    /// Stores the backup's public parameters (so a local login can derive its keys).
    pub(crate) async fn store_backup_record(&self) -> Result<(), JsValue> {
        let record = self.with_state(|s| Ok(s.backup.as_ref().map(Backup::record)))?;
        match record {
            Some(r) => self.store("backup", &persist::to_json(&r)?).await,
            None => Ok(()),
        }
    }

    /// The sealed backup blob of the current account state.
    fn backup_blob(&self) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
        self.with_state(|s| {
            let Some(b) = &s.backup else {
                return Ok(None);
            };
            let blob = s
                .engine
                .export_backup(&mut rng(), &b.params, &b.keys)
                .map_err(core_error)?;
            let mut body = Zeroizing::new(b.keys.auth_token().to_vec());
            body.extend_from_slice(&blob);
            Ok(Some(body))
        })
    }

    /// Uploads the backup now (`false` when the keys are not in memory).
    pub(crate) async fn upload_backup(&self) -> Result<bool, JsValue> {
        let Some(body) = self.backup_blob()? else {
            return Ok(false);
        };
        let path = format!("/v2/users/{}/backup", self.user_id.to_hex());
        let resp = self.signed(Method::PUT, &path, Some(&body)).await?;
        if resp.status() != 204 && resp.status() != 200 && resp.status() != 201 {
            return Err(relay_error(resp, Code::Relay).await);
        }
        Ok(true)
    }

    /// Re-uploads the backup after the account state changed (one upload at a time,
    /// always of the newest state; retried while the relay cannot be reached).
    pub(crate) fn backup_soon(self: &Rc<Self>) {
        self.backup_dirty.set(true);
        if self.backup_running.replace(true) {
            return;
        }
        let me = Rc::clone(self);
        spawn_local(async move {
            let mut delay = 2000;
            while me.backup_dirty.replace(false) && !me.conn.closed.get() {
                if let Err(e) = me.upload_backup().await {
                    if retryable(&e) && delay <= 64_000 {
                        me.backup_dirty.set(true);
                        sleep(delay).await;
                        delay *= 2;
                    } else {
                        me.emit_error(
                            Code::Relay,
                            &format!(
                                "backup upload failed: {}",
                                crate::error::code_of(&e).unwrap_or_default()
                            ),
                            None,
                        );
                    }
                }
            }
            me.backup_running.set(false);
        });
    }
}

#[wasm_bindgen]
impl Client {
    /// The engine rotates this device's keys by itself; kept for compatibility (false).
    #[wasm_bindgen(js_name = needsRotation)]
    pub fn needs_rotation(&self) -> Result<bool, JsValue> {
        self.inner.with_state(|_| Ok(false))
    }

    /// Runs the engine's timers now (key rotation when due) and re-uploads the backup.
    /// `password` derives the backup keys when they are not in memory. Resolves to
    /// whether the backup was uploaded.
    #[wasm_bindgen(js_name = rotateKeys)]
    pub async fn rotate_keys(&self, password: Option<String>) -> Result<bool, JsValue> {
        let inner = &self.inner;
        inner.feed(sealpost_engine::Input::Tick).await?;
        let have = inner.with_state(|s| Ok(s.backup.is_some()))?;
        if !have {
            let Some(pw) = password.map(Zeroizing::new) else {
                return Ok(false);
            };
            let b = Backup::create(&pw, &inner.user_id, None)?;
            inner.with_state(|s| {
                s.backup = Some(b);
                Ok(())
            })?;
            inner.store_backup_record().await?;
        }
        inner.upload_backup().await
    }
}
