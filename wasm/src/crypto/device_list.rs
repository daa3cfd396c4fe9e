//! The account's signed device list (PROTOCOL.md 8): which devices may receive the
//! account's messages. Every device bundle of the account must be listed in it.

use sealpost_core::v2::{self, DeviceEntry};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{DeviceBundle, DeviceEntryJs, Identity, hex, parse_device_id, to_js};
use crate::error::{OrJs, invalid};
use crate::{now_or, rng};

/// [`DeviceEntry`] as JS sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    id: String,
    name: String,
    added_at: u64,
}

/// Reads `{ id, name, addedAt }` field by field: serde's deserializer would ship its
/// error formatting (floats included) in the module for this one object.
fn read_entry(entry: JsValue) -> Result<DeviceEntry, JsValue> {
    let field = |k: &str| js_sys::Reflect::get(&entry, &JsValue::from_str(k)).ok();
    let bad = || invalid("a device entry is { id, name, addedAt }");
    let id = field("id").and_then(|v| v.as_string()).ok_or_else(bad)?;
    let name = field("name").and_then(|v| v.as_string()).ok_or_else(bad)?;
    let added_at = field("addedAt")
        .and_then(|v| v.as_f64())
        .filter(|t| t.fract() == 0.0 && *t >= 0.0 && *t <= 9_007_199_254_740_991.0)
        .ok_or_else(bad)?;
    Ok(DeviceEntry {
        id: parse_device_id(&id)?,
        added_at: added_at as u64,
        name,
    })
}

/// A verified device list.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct DeviceList {
    pub(crate) inner: v2::DeviceList,
}

#[wasm_bindgen]
impl DeviceList {
    /// Signs a first list of `identity`'s account (registration) with `devices`
    /// (1 to 8 entries, ids unique). `version` defaults to now; an update uses
    /// `withDevice` / `withoutDevice`. Throws `TOO_LARGE` or `MALFORMED`.
    pub fn create(
        identity: &Identity,
        #[wasm_bindgen(unchecked_param_type = "DeviceEntry[]")] devices: Vec<DeviceEntryJs>,
        version: Option<f64>,
    ) -> Result<DeviceList, JsValue> {
        let entries = devices
            .into_iter()
            .map(|d| read_entry(d.into()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DeviceList {
            inner: v2::DeviceList::sign(
                &mut rng(),
                identity.username.user_id(),
                &identity.key,
                now_or(version),
                entries,
            )
            .or_js()?,
        })
    }

    /// Parses a list and verifies its signature. Throws `MALFORMED`, `TOO_LARGE`,
    /// `INVALID_KEY` or `BAD_SIGNATURE`. Check `userId` is the account you asked for and
    /// `fingerprint` the one you pinned.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<DeviceList, JsValue> {
        Ok(DeviceList {
            inner: v2::DeviceList::from_bytes(bytes).or_js()?,
        })
    }

    /// The canonical encoding (what the relay stores).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes().to_vec()
    }

    /// Whose list this is (64 hex digits).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id().to_hex()
    }

    /// The version (updates strictly increase it).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.inner.version() as f64
    }

    /// The account's identity key (SPKI DER).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.inner.identity().to_spki_der().to_vec()
    }

    /// SHA-256 of the identity key (64 hex digits).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        hex(&self.inner.identity().fingerprint())
    }

    /// The devices, sorted by id.
    #[wasm_bindgen(unchecked_return_type = "DeviceEntry[]")]
    pub fn devices(&self) -> Result<JsValue, JsValue> {
        let entries: Vec<Entry> = self
            .inner
            .devices()
            .iter()
            .map(|d| Entry {
                id: d.id.to_hex(),
                name: d.name.clone(),
                added_at: d.added_at,
            })
            .collect();
        to_js(&entries)
    }

    /// Whether device `deviceId` is listed.
    pub fn contains(
        &self,
        #[wasm_bindgen(js_name = deviceId)] device_id: &str,
    ) -> Result<bool, JsValue> {
        Ok(self.inner.contains(&parse_device_id(device_id)?))
    }

    /// Checks that `newer` may replace this list: same account and identity key
    /// (`BAD_SIGNATURE` otherwise), larger version (`STALE` otherwise).
    #[wasm_bindgen(js_name = checkUpdate)]
    pub fn check_update(&self, newer: &DeviceList) -> Result<(), JsValue> {
        self.inner.check_update(&newer.inner).or_js()
    }

    /// Checks that `bundle` may be used: same account and identity key as this list,
    /// its device listed (a revoked device's bundle fails). Throws `BAD_SIGNATURE`.
    #[wasm_bindgen(js_name = checkBundle)]
    pub fn check_bundle(&self, bundle: &DeviceBundle) -> Result<(), JsValue> {
        self.inner.check_bundle(&bundle.inner).or_js()
    }

    /// A new list with `entry` added (or replaced), signed by `identity` at `now`
    /// (version `max(now, version + 1)`). A ninth device is `TOO_LARGE`.
    #[wasm_bindgen(js_name = withDevice)]
    pub fn with_device(
        &self,
        identity: &Identity,
        #[wasm_bindgen(unchecked_param_type = "DeviceEntry")] entry: JsValue,
        now: Option<f64>,
    ) -> Result<DeviceList, JsValue> {
        Ok(DeviceList {
            inner: self
                .inner
                .with_device(&mut rng(), &identity.key, read_entry(entry)?, now_or(now))
                .or_js()?,
        })
    }

    /// A new list without device `deviceId`, signed by `identity` at `now`. Removing
    /// the last device is `TOO_LARGE`.
    #[wasm_bindgen(js_name = withoutDevice)]
    pub fn without_device(
        &self,
        identity: &Identity,
        #[wasm_bindgen(js_name = deviceId)] device_id: &str,
        now: Option<f64>,
    ) -> Result<DeviceList, JsValue> {
        Ok(DeviceList {
            inner: self
                .inner
                .without_device(
                    &mut rng(),
                    &identity.key,
                    &parse_device_id(device_id)?,
                    now_or(now),
                )
                .or_js()?,
        })
    }
}
