//! Where a [`crate::client::Client`] persists its state. The client encrypts every
//! value with its password-derived [`crate::vault::Vault`] before it reaches storage, so
//! a storage only ever holds ciphertext (plus the vault's public header).

use sealpost_core::sorted::SortedMap;
use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use crate::error::{Code, err};

#[wasm_bindgen(typescript_custom_section)]
const TS_STORAGE: &'static str = r#"
/**
 * The storage a `Client` persists its state through. Implement it for any backend;
 * values are opaque bytes, already encrypted by the client (except the vault's public
 * header). Keys look like `sealpost/v1/<userId>/<name>`.
 */
export interface SealpostStorage {
  get(key: string): Promise<Uint8Array | undefined | null>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Stores every entry, all or none (one transaction): after a crash either every entry
   * is there or none is. The client writes what one batch of events changed with it: a
   * received message and the state that marks it received land together, so a tab
   * closed in between loses nothing. Required: a storage without it is refused
   * (`INVALID_ARGUMENT`), since writing the entries one by one can lose a message.
   */
  setMany(entries: [string, Uint8Array][]): Promise<void>;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// Any object implementing `SealpostStorage`.
    #[wasm_bindgen(typescript_type = "SealpostStorage")]
    #[derive(Debug, Clone)]
    pub type StorageJs;

    #[wasm_bindgen(method, catch, js_name = get)]
    fn js_get(this: &StorageJs, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = set)]
    fn js_set(this: &StorageJs, key: &str, value: &Uint8Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = delete)]
    fn js_delete(this: &StorageJs, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setMany)]
    fn js_set_many(this: &StorageJs, entries: &js_sys::Array) -> Result<Promise, JsValue>;
}

fn storage_error(e: JsValue) -> JsValue {
    if crate::error::is_sealpost_error(&e) {
        return e;
    }
    let msg = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| "storage failed".into());
    err(Code::Storage, &msg)
}

impl StorageJs {
    pub(crate) async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, JsValue> {
        let v = JsFuture::from(self.js_get(key).map_err(storage_error)?)
            .await
            .map_err(storage_error)?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.dyn_ref::<Uint8Array>()
            .map(|a| Some(a.to_vec()))
            .ok_or_else(|| err(Code::Storage, "storage returned a non-Uint8Array value"))
    }

    pub(crate) async fn save(&self, key: &str, value: &[u8]) -> Result<(), JsValue> {
        JsFuture::from(
            self.js_set(key, &Uint8Array::from(value))
                .map_err(storage_error)?,
        )
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    /// Stores `entries` in one `setMany` (all or none; the client's options refuse a
    /// storage without it).
    pub(crate) async fn save_all(&self, entries: &[(String, Vec<u8>)]) -> Result<(), JsValue> {
        let list: js_sys::Array = entries
            .iter()
            .map(|(k, v)| {
                js_sys::Array::of2(&JsValue::from_str(k), &Uint8Array::from(v.as_slice()))
            })
            .collect();
        JsFuture::from(self.js_set_many(&list).map_err(storage_error)?)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    pub(crate) async fn remove(&self, key: &str) -> Result<(), JsValue> {
        JsFuture::from(self.js_delete(key).map_err(storage_error)?)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}

/// An in-memory `SealpostStorage` (tests, or apps that keep nothing on the device).
#[wasm_bindgen]
#[derive(Debug, Default, Clone)]
pub struct MemoryStorage {
    map: Rc<RefCell<SortedMap<String, Vec<u8>>>>,
}

#[wasm_bindgen]
impl MemoryStorage {
    /// An empty storage.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// The value under `key` (a copy), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | undefined>")]
    pub fn get(&self, key: &str) -> Promise {
        let v = self
            .map
            .borrow()
            .get(key)
            .map(|v| JsValue::from(Uint8Array::from(v.as_slice())));
        Promise::resolve(&v.unwrap_or(JsValue::UNDEFINED))
    }

    /// Stores a copy of `value` under `key`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn set(&self, key: &str, value: &[u8]) -> Promise {
        self.map.borrow_mut().insert(key.to_owned(), value.to_vec());
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Stores a copy of each `[key, value]` entry.
    #[wasm_bindgen(js_name = setMany, unchecked_return_type = "Promise<void>")]
    pub fn set_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "[string, Uint8Array][]")] entries: js_sys::Array,
    ) -> Result<Promise, JsValue> {
        let parsed = parse_entries(&entries)?;
        self.map.borrow_mut().extend(parsed);
        Ok(Promise::resolve(&JsValue::UNDEFINED))
    }

    /// Deletes `key`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(&self, key: &str) -> Promise {
        self.map.borrow_mut().remove(key);
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// All keys (for tests: check that nothing is stored in clear).
    pub fn keys(&self) -> Vec<String> {
        self.map.borrow().keys().cloned().collect()
    }
}

/// `[key, Uint8Array]` pairs, or `INVALID_ARGUMENT`.
fn parse_entries(entries: &js_sys::Array) -> Result<Vec<(String, Vec<u8>)>, JsValue> {
    entries
        .iter()
        .map(|e| {
            let pair = js_sys::Array::from(&e);
            let key = pair.get(0).as_string();
            let value = pair.get(1).dyn_into::<Uint8Array>().ok();
            match (key, value) {
                (Some(k), Some(v)) => Ok((k, v.to_vec())),
                _ => Err(crate::error::invalid(
                    "setMany takes [key, Uint8Array] entries",
                )),
            }
        })
        .collect()
}

const STORE: &str = "kv";

/// A `SealpostStorage` on IndexedDB (one object store, values are the client's
/// ciphertexts). Works in pages and Web Workers.
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct IndexedDbStorage {
    db: IdbDatabase,
}

/// Resolves with `request.result` on success, rejects with a `STORAGE` error.
fn request_promise(req: &IdbRequest) -> Promise {
    let req = req.clone();
    Promise::new(&mut |resolve, reject| {
        let r = req.clone();
        let ok = Closure::once_into_js(move |_: JsValue| {
            let _ = resolve.call1(&JsValue::NULL, &r.result().unwrap_or(JsValue::UNDEFINED));
        });
        let fail = Closure::once_into_js(move |_: JsValue| {
            let _ = reject.call1(
                &JsValue::NULL,
                &err(Code::Storage, "IndexedDB request failed"),
            );
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(fail.unchecked_ref()));
    })
}

/// Resolves when `tx` has committed (its `complete` event), so a write the client
/// relies on (the session state before a message goes out) is on disk, not just queued;
/// rejects with a `STORAGE` error on `error` or `abort`.
fn commit_promise(tx: &IdbTransaction) -> Promise {
    let tx = tx.clone();
    Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |_: JsValue| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        // `error` and then `abort` may both fire: reject once.
        let reject = std::cell::Cell::new(Some(reject));
        let fail = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            if let Some(r) = reject.take() {
                let _ = r.call1(
                    &JsValue::NULL,
                    &err(Code::Storage, "IndexedDB write failed"),
                );
            }
        })
        .into_js_value();
        tx.set_oncomplete(Some(ok.unchecked_ref()));
        tx.set_onerror(Some(fail.unchecked_ref()));
        tx.set_onabort(Some(fail.unchecked_ref()));
    })
}

fn idb_error(_: JsValue) -> JsValue {
    err(Code::Storage, "IndexedDB is not available")
}

#[wasm_bindgen]
impl IndexedDbStorage {
    /// Opens (creating if needed) the IndexedDB database `name` (default `"sealpost"`).
    pub async fn open(name: Option<String>) -> Result<IndexedDbStorage, JsValue> {
        let factory: IdbFactory =
            js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
                .map_err(idb_error)?
                .dyn_into()
                .map_err(idb_error)?;
        let req: IdbOpenDbRequest = factory
            .open_with_u32(name.as_deref().unwrap_or("sealpost"), 1)
            .map_err(idb_error)?;
        let upgrade = Closure::once_into_js(move |ev: web_sys::IdbVersionChangeEvent| {
            let db = ev
                .target()
                .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|d| d.dyn_into::<IdbDatabase>().ok());
            if let Some(db) = db {
                let _ = db.create_object_store(STORE);
            }
        });
        req.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
        let db = JsFuture::from(request_promise(&req))
            .await?
            .dyn_into::<IdbDatabase>()
            .map_err(idb_error)?;
        Ok(IndexedDbStorage { db })
    }

    fn store(&self, mode: IdbTransactionMode) -> Result<web_sys::IdbObjectStore, JsValue> {
        self.db
            .transaction_with_str_and_mode(STORE, mode)
            .and_then(|t| t.object_store(STORE))
            .map_err(idb_error)
    }

    /// The value under `key`, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | undefined>")]
    pub fn get(&self, key: &str) -> Result<Promise, JsValue> {
        let req = self
            .store(IdbTransactionMode::Readonly)?
            .get(&JsValue::from_str(key))
            .map_err(idb_error)?;
        Ok(request_promise(&req))
    }

    fn write_tx(&self) -> Result<(IdbTransaction, web_sys::IdbObjectStore), JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
            .map_err(idb_error)?;
        let store = tx.object_store(STORE).map_err(idb_error)?;
        Ok((tx, store))
    }

    /// Stores `value` under `key`; resolves once committed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn set(&self, key: &str, value: &[u8]) -> Result<Promise, JsValue> {
        let v = Uint8Array::from(value);
        let (tx, store) = self.write_tx()?;
        store
            .put_with_key(&v, &JsValue::from_str(key))
            .map_err(idb_error)?;
        Ok(commit_promise(&tx))
    }

    /// Stores every `[key, value]` entry in one transaction (all or none); resolves once
    /// committed.
    #[wasm_bindgen(js_name = setMany, unchecked_return_type = "Promise<void>")]
    pub fn set_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "[string, Uint8Array][]")] entries: js_sys::Array,
    ) -> Result<Promise, JsValue> {
        let parsed = parse_entries(&entries)?;
        let (tx, store) = self.write_tx()?;
        for (k, v) in parsed {
            let put = store.put_with_key(&Uint8Array::from(v.as_slice()), &JsValue::from_str(&k));
            if let Err(e) = put {
                // None of the others either.
                let _ = tx.abort();
                return Err(idb_error(e));
            }
        }
        Ok(commit_promise(&tx))
    }

    /// Deletes `key`; resolves once committed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(&self, key: &str) -> Result<Promise, JsValue> {
        let (tx, store) = self.write_tx()?;
        store.delete(&JsValue::from_str(key)).map_err(idb_error)?;
        Ok(commit_promise(&tx))
    }

    /// Closes the database connection.
    pub fn close(&self) {
        self.db.close();
    }
}
