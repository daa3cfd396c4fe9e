//! One device's keys (PROTOCOL.md 9-11): its secret encryption keys ([`DeviceKeys`]) and
//! their signed public half ([`DeviceBundle`]), which senders fetch from the directory.

use sealpost_core::EncryptionKey;
use sealpost_core::v2;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{Bytes, Identity, hex, key_size, parse_device_id, progress, to_js};
use crate::error::{OrJs, invalid};
use crate::{now_or, rng};

/// This device's secret encryption keys (newest first; older ones are kept until
/// 14 days past expiry so late envelopes still open). Private keys never leave wasm
/// memory; persist with `Vault.sealDeviceKeys`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct DeviceKeys {
    pub(crate) inner: v2::DeviceKeys,
}

/// Checks that `identity` is the account the device keys belong to.
pub(crate) fn same_account(identity: &Identity, keys: &v2::DeviceKeys) -> Result<(), JsValue> {
    if identity.username.user_id() == *keys.user_id() {
        Ok(())
    } else {
        Err(invalid("the identity is another account's"))
    }
}

#[wasm_bindgen]
impl DeviceKeys {
    /// A new device of `identity`'s account: a random device id and a first encryption
    /// key (one RSA key generation, the size of the identity key unless `keySize`
    /// says otherwise) signed by the identity key, valid from `now` for 30 days.
    pub fn generate(
        identity: &Identity,
        #[wasm_bindgen(js_name = keySize, unchecked_optional_param_type = "KeySize")] key_size_bits: Option<u32>,
        #[wasm_bindgen(js_name = onProgress, unchecked_optional_param_type = "ProgressCallback")]
        on_progress: Option<js_sys::Function>,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: Option<f64>,
    ) -> Result<DeviceKeys, JsValue> {
        let size = match key_size_bits {
            None => identity.public().size(),
            bits => key_size(bits)?,
        };
        progress(&on_progress, 0, 1);
        let inner = v2::DeviceKeys::generate(
            &mut rng(),
            &identity.key,
            identity.username.user_id(),
            size,
            now_or(now),
        )
        .or_js()?;
        progress(&on_progress, 1, 1);
        Ok(DeviceKeys { inner })
    }

    /// A device from an existing encryption key, PKCS#8 DER (test fixtures, imports).
    #[wasm_bindgen(js_name = fromPkcs8)]
    pub fn from_pkcs8(
        identity: &Identity,
        #[wasm_bindgen(js_name = deviceId)] device_id: &str,
        #[wasm_bindgen(js_name = encryptionPkcs8)] encryption_pkcs8: &[u8],
        now: Option<f64>,
    ) -> Result<DeviceKeys, JsValue> {
        let inner = v2::DeviceKeys::from_key(
            &mut rng(),
            &identity.key,
            identity.username.user_id(),
            parse_device_id(device_id)?,
            EncryptionKey::from_pkcs8_der(encryption_pkcs8).or_js()?,
            now_or(now),
        )
        .or_js()?;
        Ok(DeviceKeys { inner })
    }

    /// The account's user id (64 hex digits).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id().to_hex()
    }

    /// This device's id (32 hex digits).
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_hex()
    }

    /// How many encryption keys are retained.
    #[wasm_bindgen(getter, js_name = keyCount)]
    pub fn key_count(&self) -> usize {
        self.inner.key_count()
    }

    /// Signs a fresh bundle of the newest (up to 4) unexpired keys; publish it with
    /// `PUT /v2/users/{id}/devices/{device}/bundle`. `identity` must be the account's.
    pub fn bundle(
        &mut self,
        identity: &Identity,
        now: Option<f64>,
    ) -> Result<DeviceBundle, JsValue> {
        same_account(identity, &self.inner)?;
        Ok(DeviceBundle {
            inner: self
                .inner
                .bundle(&mut rng(), &identity.key, now_or(now))
                .or_js()?,
        })
    }

    /// Whether the newest encryption key expires within 7 days.
    #[wasm_bindgen(js_name = needsRotation)]
    pub fn needs_rotation(&self, now: Option<f64>) -> bool {
        self.inner.needs_rotation(now_or(now))
    }

    /// Adds a new encryption key (one RSA key generation, the identity key's size) and
    /// drops keys past retention. Publish a new bundle afterwards.
    pub fn rotate(&mut self, identity: &Identity, now: Option<f64>) -> Result<(), JsValue> {
        same_account(identity, &self.inner)?;
        self.inner
            .rotate(&mut rng(), &identity.key, now_or(now))
            .or_js()
    }

    /// Deletes encryption keys that expired more than 14 days ago.
    pub fn prune(&mut self, now: Option<f64>) {
        self.inner.prune(now_or(now));
    }
}

/// A verified device bundle: one device's encryption keys, each signed by the account's
/// identity key. Check it against the account's `DeviceList` (`checkBundle`) before
/// sealing to it.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct DeviceBundle {
    pub(crate) inner: v2::DeviceBundle,
}

#[wasm_bindgen]
impl DeviceBundle {
    /// Parses a bundle and verifies every signature in it. Throws `MALFORMED`,
    /// `INVALID_KEY`, `TOO_LARGE` or `BAD_SIGNATURE`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<DeviceBundle, JsValue> {
        Ok(DeviceBundle {
            inner: v2::DeviceBundle::from_bytes(bytes).or_js()?,
        })
    }

    /// The canonical encoding (what the relay stores).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes().to_vec()
    }

    /// Whose bundle this is (64 hex digits). Check it is the account you asked for.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id().to_hex()
    }

    /// Which device (32 hex digits).
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_hex()
    }

    /// The identity public key that signed it (SPKI DER).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.inner.identity().to_spki_der().to_vec()
    }

    /// SHA-256 of the identity public key (64 hex digits).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        hex(&self.inner.identity().fingerprint())
    }

    /// When it was issued (Unix seconds).
    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> f64 {
        self.inner.issued_at() as f64
    }

    /// The listed encryption keys with their validity periods.
    #[wasm_bindgen(js_name = encryptionKeys, unchecked_return_type = "BundleEncryptionKey[]")]
    pub fn encryption_keys(&self) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Key {
            public_key: Bytes,
            not_before: u64,
            not_after: u64,
        }
        let keys: Vec<Key> = self
            .inner
            .encryption_keys()
            .iter()
            .map(|k| Key {
                public_key: Bytes(k.key().to_spki_der().to_vec()),
                not_before: k.not_before(),
                not_after: k.not_after(),
            })
            .collect();
        to_js(&keys)
    }

    /// The encryption key a sender uses at `now` (SPKI DER). Throws `EXPIRED`.
    #[wasm_bindgen(js_name = currentEncryptionKey)]
    pub fn current_encryption_key(&self, now: Option<f64>) -> Result<Vec<u8>, JsValue> {
        Ok(self
            .inner
            .current_encryption_key(now_or(now))
            .or_js()?
            .to_spki_der()
            .to_vec())
    }

    /// Checks that `newer` may replace this bundle: same account, device and identity key
    /// (`BAD_SIGNATURE` otherwise), strictly newer (`STALE` otherwise).
    #[wasm_bindgen(js_name = checkUpdate)]
    pub fn check_update(&self, newer: &DeviceBundle) -> Result<(), JsValue> {
        self.inner.check_update(&newer.inner).or_js()
    }
}
