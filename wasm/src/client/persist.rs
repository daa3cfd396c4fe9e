//! The engine's parts and the driver's own records in the app's storage, each sealed
//! by the password-derived vault under its own label (`sealpost/v2/<user>/<name>`).

use sealpost_core::UserId;
use sealpost_engine::{Engine, Part};
use serde::Serialize;

use super::options::get;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::error::{Code, err};
use crate::storage::StorageJs;
use crate::vault::Vault;

/// Every name stored per account (v2), for `logout(true)` and `removeAccount`.
const NAMES: [&str; 12] = [
    "vault", "device", "sessions", "account", "outbox", "seen", "missing", "receipts", "groups",
    "inbox", "backup", "history",
];
/// What v1 clients stored (removed too).
const V1_NAMES: [&str; 5] = ["vault", "identity", "sessions", "contacts", "outbox"];

pub(crate) fn key(user: &UserId, name: &str) -> String {
    format!("sealpost/v2/{}/{name}", user.to_hex())
}

pub(crate) fn part_name(part: Part) -> &'static str {
    match part {
        Part::Device => "device",
        Part::Sessions => "sessions",
        Part::Account => "account",
        Part::Outbox => "outbox",
        Part::Seen => "seen",
        Part::Missing => "missing",
        Part::Receipts => "receipts",
        Part::Groups => "groups",
    }
}

/// A small map as a vector of pairs (a few entries: smaller code than a `BTreeMap`
/// per key and value type).
pub(crate) trait Pairs<K: PartialEq, V> {
    fn find(&self, k: &K) -> Option<&V>;
    fn find_mut(&mut self, k: &K) -> Option<&mut V>;
    fn put(&mut self, k: K, v: V);
    fn take(&mut self, k: &K) -> Option<V>;
}

impl<K: PartialEq, V> Pairs<K, V> for Vec<(K, V)> {
    fn find(&self, k: &K) -> Option<&V> {
        self.iter().find(|(x, _)| x == k).map(|(_, v)| v)
    }
    fn find_mut(&mut self, k: &K) -> Option<&mut V> {
        self.iter_mut().find(|(x, _)| x == k).map(|(_, v)| v)
    }
    fn put(&mut self, k: K, v: V) {
        match self.find_mut(&k) {
            Some(old) => *old = v,
            None => self.push((k, v)),
        }
    }
    fn take(&mut self, k: &K) -> Option<V> {
        let i = self.iter().position(|(x, _)| x == k)?;
        Some(self.remove(i).1)
    }
}

/// Deletes everything a `Client` stored for `id` in `storage`.
pub(crate) async fn remove_account(storage: &StorageJs, id: &UserId) -> Result<(), JsValue> {
    for name in NAMES {
        storage.remove(&key(id, name)).await?;
    }
    for name in super::sent_store::names().chain(super::seen_store::names()) {
        storage.remove(&key(id, &name)).await?;
    }
    for name in V1_NAMES {
        storage
            .remove(&format!("sealpost/v1/{}/{name}", id.to_hex()))
            .await?;
    }
    Ok(())
}

/// Loads and opens `name`.
pub(crate) async fn load(
    storage: &StorageJs,
    vault: &Vault,
    user: &UserId,
    name: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
    match storage.load(&key(user, name)).await? {
        Some(sealed) => Ok(Some(vault.open_raw(&format!("v2/{name}"), &sealed)?)),
        None => Ok(None),
    }
}

/// The engine from its stored parts.
pub(crate) async fn load_engine(
    storage: &StorageJs,
    vault: &Vault,
    user: &UserId,
) -> Result<Engine, JsValue> {
    let mut parts: Vec<(Part, Zeroizing<Vec<u8>>)> = Vec::new();
    for part in Part::ALL {
        if let Some(bytes) = load(storage, vault, user, part_name(part)).await? {
            parts.push((part, bytes));
        }
    }
    Engine::restore(|p| parts.take(&p))
        .map_err(|e| err(Code::Storage, &format!("stored state does not load: {e}")))
}

/// A JSON record of the driver (through the JS engine's JSON: no JSON code in the module).
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, JsValue> {
    let value = v
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| err(Code::Storage, &e.to_string()))?;
    js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|s| s.as_string())
        .map(String::into_bytes)
        .ok_or_else(|| err(Code::Storage, "a record does not serialize"))
}

/// Reads [`to_json`] (read field by field with [`FromJs`]: no deserializer code in the
/// module); `T::default()` when absent or unreadable.
pub(crate) fn from_json<T: FromJs + Default>(bytes: Option<&[u8]>) -> T {
    bytes
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| js_sys::JSON::parse(s).ok())
        .and_then(|v| T::from_js(&v))
        .unwrap_or_default()
}

/// A record read back from a parsed JSON value.
pub(crate) trait FromJs: Sized {
    fn from_js(v: &JsValue) -> Option<Self>;
}

pub(crate) fn string(v: &JsValue, k: &str) -> Option<String> {
    get(v, k).as_string()
}

pub(crate) fn number(v: &JsValue, k: &str) -> Option<u64> {
    get(v, k).as_f64().filter(|n| *n >= 0.0).map(|n| n as u64)
}

impl<T: FromJs> FromJs for Vec<T> {
    fn from_js(v: &JsValue) -> Option<Self> {
        if !js_sys::Array::is_array(v) {
            return None;
        }
        Some(
            js_sys::Array::from(v)
                .iter()
                .filter_map(|x| T::from_js(&x))
                .collect(),
        )
    }
}

impl<T: FromJs> FromJs for (String, T) {
    fn from_js(v: &JsValue) -> Option<Self> {
        let a = js_sys::Array::from(v);
        Some((a.get(0).as_string()?, T::from_js(&a.get(1))?))
    }
}

impl FromJs for Sent {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(Sent {
            to: string(v, "to")?,
            digest: string(v, "digest")?,
            msg_id: string(v, "msg_id")?,
            created_at: number(v, "created_at")?,
            delivered: number(v, "delivered")? as usize,
            total: number(v, "total")? as usize,
        })
    }
}

impl FromJs for BackupRecord {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(BackupRecord {
            salt: string(v, "salt")?,
            iterations: number(v, "iterations")? as u32,
        })
    }
}

/// One `send` with an idempotency key.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Sent {
    /// The recipient's user id, or the group's id (hex).
    pub(crate) to: String,
    /// SHA-256 of `content_type || content` (hex): a key reused for other content is an error.
    pub(crate) digest: String,
    /// The message id (hex).
    pub(crate) msg_id: String,
    pub(crate) created_at: u64,
    pub(crate) delivered: usize,
    pub(crate) total: usize,
}

/// How long an idempotency key is remembered.
pub(crate) const SENT_MAX_AGE: u64 = 7 * 24 * 3600;
/// At most this many keys (the oldest go first).
pub(crate) const SENT_MAX: usize = 256;

/// Forgets old keys, then the oldest beyond [`SENT_MAX`] - 1; the dirty bits of the
/// records that lost a key (`sent_store::bit`).
pub(crate) fn prune_sent(sent: &mut Vec<(String, Sent)>, now: u64) -> u32 {
    let mut dropped = 0;
    sent.retain(|(k, s)| {
        let keep = now.saturating_sub(s.created_at) <= SENT_MAX_AGE;
        if !keep {
            dropped |= super::sent_store::bit(k);
        }
        keep
    });
    // Oldest first (entries are appended): drop from the front.
    let excess = (sent.len() + 1).saturating_sub(SENT_MAX);
    for (k, _) in sent.drain(..excess) {
        dropped |= super::sent_store::bit(&k);
    }
    dropped
}

/// The backup's public parameters and this account's password-derived keys are not
/// stored: the parameters are (to derive the keys again at a local login).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct BackupRecord {
    /// `salt` (hex).
    pub(crate) salt: String,
    pub(crate) iterations: u32,
}
