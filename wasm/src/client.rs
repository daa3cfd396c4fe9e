//! The client level: an account on a Sealpost relay (docs/API.md).
//!
//! A [`Client`] holds the account's secrets in wasm memory, persists its state through
//! an app-provided [`crate::storage`] (every value encrypted under a key derived from
//! the password), talks HTTP and WebSocket to the relay with gloo-net, and delivers
//! incoming messages decrypted and with the sender's identity checked against the
//! pinned contact or the directory. Key generation and PBKDF2 block for seconds: run
//! the client in a Web Worker (see `sealpost-wasm/worker` and `sealpost-wasm/remote`).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures_channel::mpsc;
use futures_util::{SinkExt as _, StreamExt as _, stream};
use gloo_net::http::{Method, RequestBuilder, Response};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use js_sys::{Function, Promise, Uint8Array};
use rand_core::Rng as _;
use sealpost_core::{self as core, Error as CoreError, UserId, Username};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use zeroize::Zeroizing;

use crate::crypto::{self, BackupKeys, Bytes, Identity, OpenedOut, SessionStore, hex, to_js};
use crate::error::{OrJs, code_of, core_error, error, invalid};
use crate::intro;
use crate::lock::{self, AccountLock};
use crate::storage::StorageJs;
use crate::vault::Vault;
use crate::{now_or, rng};

#[wasm_bindgen(typescript_custom_section)]
const TS_CLIENT: &'static str = r#"
/** Options of `Client.register` and `Client.login`. */
export interface ClientOptions {
  /** Relay base URL, e.g. `"https://relay.example"`; `""` for the page's own origin. */
  relayUrl: string;
  /** Where state is persisted (encrypted): `await IndexedDbStorage.open()` or `new MemoryStorage()`. */
  storage: SealpostStorage;
  /** RSA size for new accounts (default 4096). */
  keySize?: KeySize;
  /** Key generation progress. */
  onProgress?: ProgressCallback;
  /** PBKDF2 iterations of the backup and the local vault (default and minimum 600000). */
  iterations?: number;
  /** Acknowledge (delete from the relay) each message once it is decrypted and stored (default true). */
  autoAck?: boolean;
  /**
   * When connected and the encryption key expires within 7 days, rotate it (one RSA key
   * generation), publish the bundle and update the backup (default true; only when the
   * backup keys are in memory, i.e. after `register` or a `login` that fetched the backup;
   * otherwise call `rotateKeys(password)`).
   */
  autoRotate?: boolean;
  /** Open the WebSocket right away (default true); otherwise call `connect()`. */
  connect?: boolean;
  /**
   * An account is open in one tab (or worker) of a browser at a time (a Web Lock named
   * `"sealpost:" + userId`, where the browser has Web Locks). When it is open elsewhere,
   * `login`/`register` throw `LOCKED`; with `takeOver: true` they close it there instead
   * (that client's `onError` gets `LOCKED` and its status becomes `"closed"`).
   */
  takeOver?: boolean;
  /**
   * Milliseconds to wait for the relay's answer to an HTTP request before it fails with
   * `NETWORK` (default 30000), so a request on a dead connection cannot hang a `send`.
   */
  requestTimeout?: number;
  /**
   * Seconds `send` trusts its copy of a contact's key bundle before re-reading the
   * directory (default 60; 0 = before every message). Keeps new devices of contacts
   * reachable and shows a changed key before anything is sent.
   */
  bundleMaxAge?: number;
}

/** A decrypted incoming message. */
export interface IncomingMessage {
  /** Relay blob id: pass it to `ack` when `autoAck` is off. */
  id: string;
  /** Stable message id (32 hex digits), the same as the sender's `SendResult.messageId`. */
  messageId: string;
  /** Sender user id. */
  from: string;
  /** Sender username, when the sender is a contact looked up by name. */
  fromUsername?: string;
  /** Whether the sender's identity key is the pinned (or directory) key for `from`. */
  verified: boolean;
  /** The text, for content type 0. */
  text?: string;
  /** The plaintext bytes. */
  content: Uint8Array;
  /** 0 for text. */
  contentType: number;
  /** Sender's clock (Unix seconds). */
  sentAt: number;
  /** When the relay received it (Unix seconds). */
  receivedAt: number;
}

/** A contact (a pinned key bundle). */
export interface ContactInfo {
  username?: string;
  userId: string;
  /** SHA-256 of the identity key (hex). */
  fingerprint: string;
  /** The 60-digit safety number between you and the contact, in groups of five. */
  safetyNumber: string;
  /** Whether you marked the safety number as compared (`setVerified`). */
  verified: boolean;
  /**
   * What to show as a QR code for the contact to scan (65 bytes; `matchesQr` checks
   * the code they show you).
   */
  qrPayload: Uint8Array;
}

/** Options of `send`. */
export interface SendOptions {
  /**
   * Makes the send retryable: a `send` with a key already used (on this storage; for a
   * day after the relay took the message, 7 days while it did not) does not seal a new
   * message. If the earlier attempt reached the relay it resolves to the same result
   * (after a reload it may post the same envelope again); if it failed (`NETWORK`, 429,
   * 5xx), the same envelope is posted again. A retry costs no ratchet step and the
   * recipient never sees a duplicate (it drops a second copy as a replay). Use your own
   * message id.
   */
  idempotencyKey?: string;
}

/** The result of `send`. */
export interface SendResult {
  messageId: string;
  /** The relay's blob id. */
  blobId: string;
  /** Whether the message started a new session (RSA operations). */
  newSession: boolean;
}

/** Connection state of the incoming-message WebSocket. */
export type ConnectionStatus = "connecting" | "online" | "offline" | "closed";

/** Errors that happen in the background (a message that cannot be opened, a lost connection). */
export interface ClientErrorEvent {
  code: SealpostErrorCode;
  message: string;
  /** The relay blob that caused it. */
  blobId?: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsJs;
    #[wasm_bindgen(typescript_type = "ContactInfo")]
    pub type ContactInfoJs;
    #[wasm_bindgen(typescript_type = "SendResult")]
    pub type SendResultJs;
    #[wasm_bindgen(typescript_type = "SendOptions")]
    pub type SendOptionsJs;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32) -> JsValue;
}

async fn sleep(ms: u32) {
    let p = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms as i32);
    });
    let _ = JsFuture::from(p).await;
}

struct Contact {
    username: Option<String>,
    bundle: core::KeyBundle,
    verified: bool,
    /// When the bundle was last read from the directory (Unix seconds, this session
    /// only): `send` re-reads it when older than `ClientOptions.bundleMaxAge`.
    checked_at: u64,
}

/// Default `ClientOptions.bundleMaxAge`: how long `send` trusts a pinned bundle before
/// re-reading the directory (one GET), so that a contact's new device (a fresh bundle)
/// or a key change is seen within a minute rather than at the next manual `lookup`.
const BUNDLE_MAX_AGE: u64 = 60;

/// Default `ClientOptions.requestTimeout` (milliseconds).
const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// Everything stored per account (see `key`), for `logout(true)` and `removeAccount`.
const ACCOUNT_KEYS: [&str; 5] = ["vault", "identity", "sessions", "contacts", "outbox"];

/// How long `send` remembers an idempotency key whose message the relay took.
const SENT_MAX_AGE: u64 = 24 * 3600;

/// How long a sealed message that did not reach the relay waits for a retry.
const UNSENT_MAX_AGE: u64 = 7 * 24 * 3600;

/// At most this many idempotency keys are remembered (the sent ones go first, oldest
/// first): the whole list is rewritten at each idempotent send.
const OUTBOX_MAX: usize = 256;

/// One `send` with an idempotency key: the envelope until the relay took it, then the
/// relay's blob id.
#[derive(Clone, Serialize, Deserialize)]
struct Outgoing {
    to: String,
    /// SHA-256 of `content_type || content`: a key reused for other content is an error.
    #[serde(default)]
    digest: String,
    message_id: String,
    new_session: bool,
    created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    envelope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    blob_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredContact {
    username: Option<String>,
    bundle: String,
    verified: bool,
}

/// `details` of an `IDENTITY_CHANGED` error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentityChanged {
    user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    fingerprint: String,
    safety_number: String,
    previous_fingerprint: String,
}

struct Account {
    me: Identity,
    sessions: SessionStore,
    vault: Vault,
    backup: Option<BackupKeys>,
    contacts: BTreeMap<UserId, Contact>,
    /// Sends with an idempotency key (`SendOptions`), by key.
    outbox: BTreeMap<String, Outgoing>,
}

#[derive(Default)]
struct Listeners {
    message: Vec<Function>,
    status: Vec<Function>,
    error: Vec<Function>,
}

enum Out {
    Text(String),
    Close,
}

/// What happens to an incoming blob on the relay.
enum Blob {
    /// Given to the app: acknowledged now with `autoAck`, else by the app's `ack`.
    Delivered,
    /// Never given to the app (a replay, a malformed blob): acknowledged now.
    Drop,
    /// Left on the relay (another device may open it; or storage failed: try again).
    Keep,
}

struct Inner {
    relay: String,
    storage: StorageJs,
    auto_ack: bool,
    auto_rotate: bool,
    bundle_max_age: u64,
    request_timeout: u32,
    rotating: Cell<bool>,
    user_id: UserId,
    account: RefCell<Option<Account>>,
    listeners: RefCell<Listeners>,
    queue: RefCell<VecDeque<JsValue>>,
    waiters: RefCell<VecDeque<Function>>,
    iterating: Cell<bool>,
    ws_out: RefCell<Option<mpsc::UnboundedSender<Out>>>,
    running: Cell<bool>,
    closed: Cell<bool>,
    status: Cell<&'static str>,
    /// Set by `reconnect()` (or the global `online` event): skip the backoff wait.
    wake: Cell<bool>,
    /// Idempotency keys of sends under way (see [`InFlight`]).
    in_flight: RefCell<Vec<String>>,
    /// The `online` listener on the global scope (page or worker), removed at logout.
    online_listener: RefCell<Option<Closure<dyn FnMut()>>>,
    /// The account's Web Lock (see [`crate::lock`]), released at logout.
    lock: RefCell<Option<AccountLock>>,
}

/// An account on a Sealpost relay: register or log in, look up contacts, send, receive.
///
/// ```js
/// const client = await Client.login({ relayUrl, storage: await IndexedDbStorage.open() }, "alice", pw);
/// client.onMessage((m) => console.log(m.fromUsername ?? m.from, m.text));
/// await client.send("bob", "hi");
/// ```
#[wasm_bindgen]
pub struct Client {
    inner: Rc<Inner>,
}

/// `free()` (or garbage collection) of the handle logs out: the connection closes and
/// the keys are wiped, even though the background receive task holds the state too.
impl Drop for Client {
    fn drop(&mut self) {
        self.inner.shut_down();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("user_id", &self.inner.user_id)
            .finish_non_exhaustive()
    }
}

struct Options {
    relay: String,
    storage: StorageJs,
    key_size: Option<u32>,
    on_progress: Option<Function>,
    iterations: Option<u32>,
    auto_ack: bool,
    auto_rotate: bool,
    bundle_max_age: u64,
    connect: bool,
    take_over: bool,
    request_timeout: u32,
}

fn get(o: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

impl Options {
    /// The checked arguments of `register` and `login` (the password zeroized on drop).
    fn begin(
        password: String,
        options: &JsValue,
        username: &str,
    ) -> Result<(Zeroizing<String>, Options, Username), JsValue> {
        let password = Zeroizing::new(password);
        Ok((
            password,
            Options::read(options)?,
            Username::parse(username).or_js()?,
        ))
    }

    fn read(o: &JsValue) -> Result<Self, JsValue> {
        if !o.is_object() {
            return Err(invalid("options must be an object"));
        }
        let relay = get(o, "relayUrl")
            .as_string()
            .ok_or_else(|| invalid("options.relayUrl must be a string"))?;
        let storage = get(o, "storage");
        if !storage.is_object() {
            return Err(invalid("options.storage must implement get/set/delete"));
        }
        let num = |k: &str| get(o, k).as_f64().map(|v| v as u32);
        Ok(Options {
            relay: relay.trim_end_matches('/').to_owned(),
            storage: storage.unchecked_into(),
            key_size: num("keySize"),
            on_progress: get(o, "onProgress").dyn_into::<Function>().ok(),
            iterations: num("iterations"),
            auto_ack: get(o, "autoAck").as_bool().unwrap_or(true),
            auto_rotate: get(o, "autoRotate").as_bool().unwrap_or(true),
            bundle_max_age: get(o, "bundleMaxAge")
                .as_f64()
                .filter(|v| *v >= 0.0)
                .map_or(BUNDLE_MAX_AGE, |v| v as u64),
            connect: get(o, "connect").as_bool().unwrap_or(true),
            take_over: get(o, "takeOver").as_bool().unwrap_or(false),
            request_timeout: get(o, "requestTimeout")
                .as_f64()
                .filter(|v| *v >= 1.0)
                .map_or(REQUEST_TIMEOUT_MS, |v| v.min(f64::from(u32::MAX)) as u32),
        })
    }
}

fn key(user: &UserId, name: &str) -> String {
    format!("sealpost/v1/{}/{name}", user.to_hex())
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>, JsValue> {
    B64.decode(s.trim_end_matches('='))
        .map_err(|_| error("MALFORMED", "bad base64 from the relay"))
}

fn network(e: gloo_net::Error) -> JsValue {
    error("NETWORK", &e.to_string())
}

/// Turns a relay error response into a `SealpostError`.
async fn relay_error(resp: Response, conflict: &str) -> JsValue {
    #[derive(Deserialize)]
    struct Body {
        error: Option<String>,
        message: Option<String>,
    }
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.trim().parse::<u32>().ok());
    let body: Option<Body> = resp
        .text()
        .await
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let relay_code = body
        .as_ref()
        .and_then(|b| b.error.clone())
        .unwrap_or_default();
    let message = body
        .and_then(|b| b.message)
        .unwrap_or_else(|| format!("relay answered {status}"));
    let code = match (status, relay_code.as_str()) {
        (401, _) => "UNAUTHORIZED",
        (403, "wrong_token") => "WRONG_PASSWORD",
        (404, _) => "NOT_FOUND",
        (409, "stale") => "STALE",
        (409, _) => conflict,
        (429, _) => "RATE_LIMITED",
        _ => "RELAY",
    };
    let e = error(code, &format!("{message} ({relay_code})"));
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("status"), &JsValue::from(status));
    if let Some(secs) = retry_after {
        let _ = js_sys::Reflect::set(&e, &JsValue::from_str("retryAfter"), &JsValue::from(secs));
    }
    e
}

impl Inner {
    fn ws_url(&self) -> Result<String, JsValue> {
        let base = if self.relay.starts_with("http://") || self.relay.starts_with("https://") {
            self.relay.clone()
        } else {
            let origin = get(&get(&js_sys::global(), "location"), "origin")
                .as_string()
                .ok_or_else(|| invalid("relayUrl must be absolute outside a page or worker"))?;
            format!("{origin}{}", self.relay)
        };
        let ws = base
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        Ok(format!("{ws}/v1/mailboxes/{}/ws", self.user_id.to_hex()))
    }

    fn with_account<T>(
        &self,
        f: impl FnOnce(&mut Account) -> Result<T, JsValue>,
    ) -> Result<T, JsValue> {
        let mut guard = self.account.borrow_mut();
        let account = guard
            .as_mut()
            .ok_or_else(|| error("CLOSED", "logged out"))?;
        f(account)
    }

    /// Sends a request; `signed` adds the owner signature (`Sealpost-Sig`).
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        signed: bool,
    ) -> Result<Response, JsValue> {
        let auth = if signed {
            let ts = now_or(None);
            let mut n = [0u8; 16];
            rng().fill_bytes(&mut n);
            let nonce = b64(&n);
            let sig = self.with_account(|a| {
                a.me.sign_request(
                    method.as_ref(),
                    path,
                    body.unwrap_or(&[]),
                    ts as f64,
                    &nonce,
                )
            })?;
            Some(format!(
                "Sealpost-Sig ts={ts},nonce={nonce},sig={}",
                b64(&sig)
            ))
        } else {
            None
        };
        http(
            &self.relay,
            self.request_timeout,
            method,
            path,
            body,
            auth.as_deref(),
            "application/octet-stream",
        )
        .await
    }

    async fn persist_sessions(&self) -> Result<(), JsValue> {
        let sealed = self.with_account(|a| a.vault.seal_sessions(&a.sessions))?;
        self.storage
            .save(&key(&self.user_id, "sessions"), &sealed)
            .await
    }

    async fn persist_identity(&self) -> Result<(), JsValue> {
        let sealed = self.with_account(|a| a.vault.seal_identity(&a.me))?;
        self.storage
            .save(&key(&self.user_id, "identity"), &sealed)
            .await
    }

    async fn persist_contacts(&self) -> Result<(), JsValue> {
        let sealed = self.with_account(|a| {
            let list: BTreeMap<String, StoredContact> = a
                .contacts
                .iter()
                .map(|(id, c)| {
                    (
                        id.to_hex(),
                        StoredContact {
                            username: c.username.clone(),
                            bundle: b64(c.bundle.to_bytes()),
                            verified: c.verified,
                        },
                    )
                })
                .collect();
            let json = serde_json::to_vec(&list).map_err(|e| error("STORAGE", &e.to_string()))?;
            a.vault.seal_raw("contacts", &json)
        })?;
        self.storage
            .save(&key(&self.user_id, "contacts"), &sealed)
            .await
    }

    async fn persist_outbox(&self) -> Result<(), JsValue> {
        let sealed = self.with_account(|a| {
            let json =
                serde_json::to_vec(&a.outbox).map_err(|e| error("STORAGE", &e.to_string()))?;
            a.vault.seal_raw("outbox", &json)
        })?;
        self.storage
            .save(&key(&self.user_id, "outbox"), &sealed)
            .await
    }

    async fn persist_all(&self) -> Result<(), JsValue> {
        let header = self.with_account(|a| Ok(a.vault.header()))?;
        self.storage
            .save(&key(&self.user_id, "vault"), &header)
            .await?;
        self.persist_identity().await?;
        self.persist_sessions().await?;
        self.persist_outbox().await?;
        self.persist_contacts().await
    }

    /// Fetches and verifies `id`'s bundle from the directory.
    async fn fetch_bundle(&self, id: &UserId) -> Result<core::KeyBundle, JsValue> {
        let resp = self
            .request(
                Method::GET,
                &format!("/v1/users/{}/bundle", id.to_hex()),
                None,
                false,
            )
            .await?;
        if resp.status() != 200 {
            return Err(relay_error(resp, "RELAY").await);
        }
        let bundle = core::KeyBundle::from_bytes(&resp.binary().await.map_err(network)?).or_js()?;
        if bundle.user_id() != id {
            return Err(error(
                "BAD_SIGNATURE",
                "the directory returned a bundle for another user",
            ));
        }
        Ok(bundle)
    }

    /// Pins (or refreshes) a contact from a directory bundle. Trust on first use: a
    /// different identity key than the pinned one is `IDENTITY_CHANGED`.
    fn pin(&self, bundle: core::KeyBundle, username: Option<String>) -> Result<(), JsValue> {
        self.with_account(|a| {
            let id = *bundle.user_id();
            match a.contacts.get_mut(&id) {
                Some(c) if c.bundle.identity() != bundle.identity() => {
                    let e = error(
                        "IDENTITY_CHANGED",
                        "the contact's identity key changed: compare safety numbers",
                    );
                    // The new key, so the UI can show the new safety number before the
                    // user accepts it (`forgetContact` + `lookup`).
                    let me = &a.me.inner;
                    let sn = core::SafetyNumber::new(
                        me.user_id(),
                        &me.identity_key().public(),
                        bundle.user_id(),
                        bundle.identity(),
                    );
                    let details = IdentityChanged {
                        user_id: id.to_hex(),
                        username: username.clone().or_else(|| c.username.clone()),
                        fingerprint: hex(&bundle.identity().fingerprint()),
                        safety_number: sn.display(),
                        previous_fingerprint: hex(&c.bundle.identity().fingerprint()),
                    };
                    if let Ok(d) = to_js(&details) {
                        let _ = js_sys::Reflect::set(&e, &"details".into(), &d);
                    }
                    Err(e)
                }
                Some(c) => {
                    if c.bundle.check_update(&bundle).is_ok() {
                        c.bundle = bundle;
                    }
                    c.checked_at = now_or(None);
                    if username.is_some() {
                        c.username = username;
                    }
                    Ok(())
                }
                None => {
                    a.contacts.insert(
                        id,
                        Contact {
                            username,
                            bundle,
                            verified: false,
                            checked_at: now_or(None),
                        },
                    );
                    Ok(())
                }
            }
        })
    }

    async fn lookup(&self, username: &str) -> Result<UserId, JsValue> {
        let name = Username::parse(username).or_js()?;
        let id = name.user_id();
        let bundle = self.fetch_bundle(&id).await?;
        self.pin(bundle, Some(name.as_str().to_owned()))?;
        self.persist_contacts().await?;
        Ok(id)
    }

    fn contact_info(&self, id: &UserId) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Info {
            #[serde(skip_serializing_if = "Option::is_none")]
            username: Option<String>,
            user_id: String,
            fingerprint: String,
            safety_number: String,
            verified: bool,
            qr_payload: Bytes,
        }
        let info = self.with_account(|a| {
            let c = a
                .contacts
                .get(id)
                .ok_or_else(|| error("NOT_FOUND", "not a contact: look it up first"))?;
            let me = &a.me.inner;
            let sn = core::SafetyNumber::new(
                me.user_id(),
                &me.identity_key().public(),
                c.bundle.user_id(),
                c.bundle.identity(),
            );
            Ok(Info {
                username: c.username.clone(),
                user_id: id.to_hex(),
                fingerprint: hex(&c.bundle.identity().fingerprint()),
                safety_number: sn.display(),
                verified: c.verified,
                qr_payload: Bytes(sn.qr_payload()),
            })
        })?;
        to_js(&info)
    }

    fn set_status(&self, status: &'static str) {
        if self.status.replace(status) == status {
            return;
        }
        let listeners = self.listeners.borrow().status.clone();
        for f in listeners {
            let _ = f.call1(&JsValue::NULL, &JsValue::from_str(status));
        }
    }

    fn emit_error(&self, code: &str, message: &str, blob_id: Option<&str>) {
        let e = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
        let _ = js_sys::Reflect::set(&e, &"message".into(), &message.into());
        if let Some(id) = blob_id {
            let _ = js_sys::Reflect::set(&e, &"blobId".into(), &id.into());
        }
        let listeners = self.listeners.borrow().error.clone();
        for f in listeners {
            let _ = f.call1(&JsValue::NULL, &e);
        }
    }

    fn emit_message(&self, m: JsValue) {
        let listeners = self.listeners.borrow().message.clone();
        for f in &listeners {
            let _ = f.call1(&JsValue::NULL, &m);
        }
        if listeners.is_empty() || self.iterating.get() {
            let waiter = self.waiters.borrow_mut().pop_front();
            match waiter {
                Some(resolve) => {
                    let _ = resolve.call1(&JsValue::NULL, &m);
                }
                None => self.queue.borrow_mut().push_back(m),
            }
        }
    }

    /// Opens, persists and delivers one blob; what to do with it on the relay.
    async fn handle_blob(&self, blob_id: &str, received_at: u64, data: &str) -> Blob {
        let envelope = match unb64(data) {
            Ok(e) => e,
            Err(_) => {
                self.emit_error("MALFORMED", "undecodable blob", Some(blob_id));
                return Blob::Drop;
            }
        };
        let now = now_or(None);
        let opened = self.with_account(|a| {
            a.sessions
                .inner
                .open(&mut rng(), &a.me.inner, &envelope, now)
                .or_js()
        });
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                let code = code_of(&e).unwrap_or_default();
                if code == "CLOSED" {
                    return Blob::Keep;
                }
                if code == "REPLAY" {
                    // Already delivered (the acknowledgement was lost, or a sender's
                    // idempotent retry posted it again): drop it.
                    return Blob::Drop;
                }
                self.emit_error(
                    &code,
                    "an incoming message could not be opened",
                    Some(blob_id),
                );
                // Undecryptable here may be decryptable on another device of this
                // account (with other sessions): leave it on the relay until it expires.
                return if code == "MALFORMED" {
                    Blob::Drop
                } else {
                    Blob::Keep
                };
            }
        };
        if let Err(e) = self.persist_sessions().await {
            self.emit_error("STORAGE", &format!("{e:?}"), Some(blob_id));
            return Blob::Keep;
        }
        let mut opened = opened;
        let sender = opened.sender;
        let content = std::mem::take(&mut opened.content);
        let Ok(unwrapped) = intro::unwrap(&sender, opened.content_type, content) else {
            // Not what a Client sends (or a name that is not the sender's): drop it.
            self.emit_error(
                "MALFORMED",
                "an incoming message's sender name does not match the sender",
                Some(blob_id),
            );
            return Blob::Drop;
        };
        opened.content_type = unwrapped.content_type;
        opened.content = unwrapped.content;
        let named = unwrapped.username.map(|u| u.as_str().to_owned());
        let identity = opened.sender_identity.clone();
        let pinned = self.with_account(|a| {
            Ok(a.contacts
                .get(&sender)
                .map(|c| (c.bundle.identity().clone(), c.username.clone())))
        });
        // Logged out (or taken over) meanwhile: deliver, but do not let the directory
        // vouch for a sender whose pinned key can no longer be read.
        let closed = pinned.is_err();
        let mut pinned = pinned.ok().flatten();
        if pinned.is_none()
            && !closed
            && let Ok(bundle) = self.fetch_bundle(&sender).await
        {
            let key = bundle.identity().clone();
            if self.pin(bundle, named.clone()).is_ok() {
                let _ = self.persist_contacts().await;
            }
            pinned = Some((key, named.clone()));
        }
        let verified = pinned.as_ref().is_some_and(|(k, _)| *k == identity);
        let known = pinned.and_then(|(_, u)| u);
        if known.is_none() && named.is_some() {
            // A contact pinned before its name was known: now it can be written to by name.
            let updated = self.with_account(|a| {
                Ok(match a.contacts.get_mut(&sender) {
                    Some(c) if c.username.is_none() => {
                        c.username.clone_from(&named);
                        true
                    }
                    _ => false,
                })
            });
            if updated.unwrap_or(false) {
                let _ = self.persist_contacts().await;
            }
        }
        let username = known.or(named);
        let out = OpenedOut::from_core(opened);
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Incoming {
            id: String,
            message_id: String,
            from: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            from_username: Option<String>,
            verified: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            text: Option<String>,
            content: Bytes,
            content_type: u8,
            sent_at: u64,
            received_at: u64,
        }
        let msg = Incoming {
            id: blob_id.to_owned(),
            message_id: out.message_id,
            from: out.sender,
            from_username: username,
            verified,
            text: out.text,
            content: out.content,
            content_type: out.content_type,
            sent_at: out.sent_at,
            received_at,
        };
        match to_js(&msg) {
            Ok(v) => {
                self.emit_message(v);
                Blob::Delivered
            }
            Err(e) => {
                self.emit_error("CRYPTO", &format!("{e:?}"), Some(blob_id));
                Blob::Keep
            }
        }
    }

    /// See [`Client::rotate_keys`].
    async fn rotate(&self, password: Option<&str>) -> Result<bool, JsValue> {
        let inner = self;
        let id = inner.user_id.to_hex();
        let bundle = inner.with_account(|a| {
            a.me.rotate_encryption_key(None)?;
            a.me.bundle(None)
        })?;
        inner.persist_identity().await?;
        inner.update_bundle(&bundle.to_bytes()).await?;
        let have_keys = inner.with_account(|a| Ok(a.backup.is_some()))?;
        if !have_keys {
            let Some(pw) = password else {
                return Ok(false);
            };
            let keys = BackupKeys::create(pw, &id, None)?;
            inner.with_account(|a| {
                a.backup = Some(keys);
                Ok(())
            })?;
        }
        let mut body = Zeroizing::new(backup_token(inner)?);
        let blob = inner.with_account(|a| {
            a.backup
                .as_ref()
                .ok_or_else(|| error("CLOSED", "no backup keys"))
                .and_then(|k| a.me.export_backup(k))
        })?;
        body.extend_from_slice(&blob);
        let resp = inner
            .request(
                Method::PUT,
                &format!("/v1/users/{id}/backup"),
                Some(&body),
                true,
            )
            .await?;
        if resp.status() != 204 {
            return Err(relay_error(resp, "RELAY").await);
        }
        Ok(true)
    }

    /// Publishes a fresh bundle (a newer `issued_at` than the directory's), so that
    /// contacts start new sessions to this device instead of reusing sessions that only
    /// another device of the account knows. Used after a `login` that restored the
    /// identity from the backup (no session state).
    async fn publish_fresh_bundle(&self) -> Result<(), JsValue> {
        let id = self.user_id;
        let published = self.fetch_bundle(&id).await?;
        let now = now_or(None).max(published.issued_at().saturating_add(1));
        let bundle = self.with_account(|a| a.me.bundle(Some(now as f64)))?;
        self.persist_identity().await?;
        self.update_bundle(&bundle.to_bytes()).await
    }

    /// PUTs this account's bundle: unsigned for the first claim (`register`), signed by
    /// the identity key for an update.
    async fn put_bundle(&self, bundle: &[u8], signed: bool) -> Result<Response, JsValue> {
        let path = format!("/v1/users/{}/bundle", self.user_id.to_hex());
        self.request(Method::PUT, &path, Some(bundle), signed).await
    }

    /// Publishes a newer bundle of this account (`STALE` when the relay has a newer one).
    async fn update_bundle(&self, bundle: &[u8]) -> Result<(), JsValue> {
        let resp = self.put_bundle(bundle, true).await?;
        if resp.status() != 200 {
            return Err(relay_error(resp, "STALE").await);
        }
        Ok(())
    }

    /// Posts an envelope to `to`'s mailbox; the relay's blob id.
    async fn deposit(&self, to: &UserId, envelope: &[u8]) -> Result<String, JsValue> {
        let resp = self
            .request(
                Method::POST,
                &format!("/v1/mailboxes/{}", to.to_hex()),
                Some(envelope),
                false,
            )
            .await?;
        if resp.status() != 201 {
            return Err(relay_error(resp, "RELAY").await);
        }
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        let created: Created = serde_json::from_str(&resp.text().await.map_err(network)?)
            .map_err(|e| error("RELAY", &e.to_string()))?;
        Ok(created.id)
    }

    /// Finishes an idempotent send: posts the stored envelope unless the relay already
    /// took it, then remembers the blob id instead of the envelope.
    async fn repost(&self, key: &str, out: Outgoing) -> Result<SendResultJs, JsValue> {
        let Some(envelope) = &out.envelope else {
            return sent_result(&out);
        };
        let to = crypto::parse_user_id(&out.to)?;
        let blob_id = self.deposit(&to, &unb64(envelope)?).await?;
        let done = Outgoing {
            envelope: None,
            blob_id: Some(blob_id),
            ..out
        };
        // Recorded in memory only (stored with the next idempotent send, which saves a
        // write per message): after a reload a retry posts the envelope again, and the
        // recipient drops the second copy as a replay.
        self.with_account(|a| {
            a.outbox.insert(key.to_owned(), done.clone());
            Ok(())
        })?;
        sent_result(&done)
    }

    /// Looks `username` up when it is not a contact yet, or re-reads its bundle when
    /// that is older than `bundle_max_age`. A changed identity key is an error; a
    /// directory that cannot be reached is not (the pinned bundle is used).
    async fn refresh_contact(&self, username: &str, id: &UserId) -> Result<(), JsValue> {
        let checked = self.with_account(|a| Ok(a.contacts.get(id).map(|c| c.checked_at)))?;
        match checked {
            None => self.lookup(username).await.map(|_| ()),
            Some(t) if now_or(None).saturating_sub(t) >= self.bundle_max_age => {
                match self.lookup(username).await {
                    Err(e) if code_of(&e).as_deref() == Some("IDENTITY_CHANGED") => Err(e),
                    _ => Ok(()),
                }
            }
            Some(_) => Ok(()),
        }
    }

    async fn http_ack(&self, ids: &[String]) -> Result<(), JsValue> {
        let body = serde_json::to_vec(&serde_json::json!({ "ids": ids }))
            .map_err(|e| invalid(&e.to_string()))?;
        let path = format!("/v1/mailboxes/{}/ack", self.user_id.to_hex());
        let resp = self.request(Method::POST, &path, Some(&body), true).await?;
        if resp.status() != 204 {
            return Err(relay_error(resp, "RELAY").await);
        }
        Ok(())
    }
}

async fn http(
    relay: &str,
    timeout_ms: u32,
    method: Method,
    path: &str,
    body: Option<&[u8]>,
    auth: Option<&str>,
    content_type: &str,
) -> Result<Response, JsValue> {
    // Aborts the request (and the body read) when the relay does not answer in time.
    let timeout = web_sys::AbortSignal::timeout_with_u32(timeout_ms);
    let mut builder = RequestBuilder::new(&format!("{relay}{path}"))
        .method(method)
        .abort_signal(Some(&timeout));
    if let Some(a) = auth {
        builder = builder.header("authorization", a);
    }
    let req = match body {
        Some(b) => builder
            .header("content-type", content_type)
            .body(Uint8Array::from(b))
            .map_err(network)?,
        None => builder.build().map_err(network)?,
    };
    req.send().await.map_err(network)
}

/// An unsigned GET (before there is a `Client`).
async fn http_get(relay: &str, timeout_ms: u32, path: &str) -> Result<Response, JsValue> {
    http(relay, timeout_ms, Method::GET, path, None, None, "").await
}

#[derive(Deserialize)]
struct WsIn {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    id: Option<String>,
    received_at: Option<u64>,
    data: Option<String>,
    error: Option<String>,
}

enum Ev {
    Ws(Result<Message, gloo_net::websocket::WebSocketError>),
    WsEnded,
    Out(Out),
}

/// One WebSocket connection: authenticate, then receive until it drops. `Ok(true)`
/// means stop for good (logout); `Ok(false)` means reconnect.
async fn connect_once(inner: &Rc<Inner>, was_ready: &Cell<bool>) -> Result<bool, JsValue> {
    let ws = WebSocket::open(&inner.ws_url()?).map_err(|e| error("NETWORK", &e.to_string()))?;
    let (mut tx, rx) = ws.split();
    let (out_tx, out_rx) = mpsc::unbounded::<Out>();
    *inner.ws_out.borrow_mut() = Some(out_tx);
    let ws_events = rx.map(Ev::Ws).chain(stream::iter([Ev::WsEnded]));
    let mut events = stream::select(ws_events, out_rx.map(Ev::Out));
    let mut ready = false;
    let mut close_seen = false;
    let outcome = loop {
        let Some(ev) = events.next().await else {
            break Ok(false);
        };
        if matches!(
            ev,
            Ev::WsEnded | Ev::Ws(Err(gloo_net::websocket::WebSocketError::ConnectionClose(_)))
        ) {
            close_seen = true;
        }
        let step = handle_event(inner, ev, &mut tx, &mut ready, was_ready).await;
        match step {
            Ok(None) => {}
            Ok(Some(stop)) => break Ok(stop),
            Err(e) => break Err(e),
        }
    };
    // Close and wait for the close event before the socket is dropped: gloo-net 0.7
    // leaves its `close` listener registered on drop, so a close event arriving after
    // the drop throws "closure invoked after being dropped" (fatal in Node.js).
    if !close_seen {
        let _ = tx.close().await;
        let mut deadline = Box::pin(sleep(5000));
        loop {
            match futures_util::future::select(events.next(), deadline).await {
                futures_util::future::Either::Left((ev, rest)) => {
                    deadline = rest;
                    if matches!(
                        ev,
                        None | Some(Ev::WsEnded)
                            | Some(Ev::Ws(Err(
                                gloo_net::websocket::WebSocketError::ConnectionClose(_)
                            )))
                    ) {
                        break;
                    }
                }
                futures_util::future::Either::Right(_) => {
                    // Never closed: leak this socket rather than risk the throw.
                    std::mem::forget(tx);
                    std::mem::forget(events);
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// Handles one event of a connection: `Ok(None)` to go on, `Ok(Some(stop))` to end it.
async fn handle_event(
    inner: &Rc<Inner>,
    ev: Ev,
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    ready: &mut bool,
    was_ready: &Cell<bool>,
) -> Result<Option<bool>, JsValue> {
    let net = |e: gloo_net::websocket::WebSocketError| error("NETWORK", &e.to_string());
    match ev {
        Ev::Out(Out::Close) => return Ok(Some(true)),
        Ev::Out(Out::Text(t)) => {
            if *ready {
                tx.send(Message::Text(t)).await.map_err(net)?;
            }
        }
        Ev::Ws(Ok(Message::Text(text))) => {
            let Ok(msg) = serde_json::from_str::<WsIn>(&text) else {
                return Ok(None);
            };
            match msg.kind.as_str() {
                "challenge" => {
                    let challenge = unb64(msg.challenge.as_deref().unwrap_or_default())?;
                    let sig = inner.with_account(|a| a.me.sign_challenge(&challenge))?;
                    let auth =
                        serde_json::json!({ "type": "auth", "signature": b64(&sig) }).to_string();
                    tx.send(Message::Text(auth)).await.map_err(net)?;
                }
                "ready" => {
                    *ready = true;
                    was_ready.set(true);
                    inner.set_status("online");
                    let due = inner
                        .with_account(|a| Ok(a.backup.is_some() && a.me.needs_rotation(None)))
                        .unwrap_or(false);
                    if inner.auto_rotate && due && !inner.rotating.replace(true) {
                        let i = Rc::clone(inner);
                        spawn_local(async move {
                            if let Err(e) = i.rotate(None).await {
                                let code = code_of(&e).unwrap_or_else(|| "RELAY".into());
                                i.emit_error(&code, "automatic key rotation failed", None);
                            }
                            i.rotating.set(false);
                        });
                    }
                }
                "blob" => {
                    let (Some(id), Some(data)) = (msg.id, msg.data) else {
                        return Ok(None);
                    };
                    let blob = inner
                        .handle_blob(&id, msg.received_at.unwrap_or(0), &data)
                        .await;
                    if inner.closed.get() {
                        return Ok(Some(true));
                    }
                    // Dropped blobs never reach the app, so the app cannot ack them.
                    let ack = match blob {
                        Blob::Drop => true,
                        Blob::Delivered => inner.auto_ack,
                        Blob::Keep => false,
                    };
                    if ack {
                        let a = serde_json::json!({ "type": "ack", "ids": [id] }).to_string();
                        tx.send(Message::Text(a)).await.map_err(net)?;
                    }
                }
                "error" => {
                    let code = msg.error.unwrap_or_default();
                    let js_code = if code == "unauthorized" {
                        "UNAUTHORIZED"
                    } else {
                        "RELAY"
                    };
                    inner.emit_error(js_code, &format!("relay WebSocket error: {code}"), None);
                    return Ok(Some(false));
                }
                _ => {}
            }
        }
        Ev::Ws(Ok(Message::Bytes(_))) => {}
        Ev::Ws(Err(_)) | Ev::WsEnded => return Ok(Some(false)),
    }
    Ok(None)
}

/// Calls `globalThis[method]("online", listener)` when the global scope has it.
fn global_listener(method: &str, listener: &Closure<dyn FnMut()>) -> bool {
    let global = js_sys::global();
    let Ok(f) = js_sys::Reflect::get(&global, &JsValue::from_str(method)) else {
        return false;
    };
    let Some(f) = f.dyn_ref::<Function>() else {
        return false;
    };
    f.call2(&global, &JsValue::from_str("online"), listener.as_ref())
        .is_ok()
}

impl Inner {
    /// Stops for good: closes the connection, resolves `nextMessage` waiters with null,
    /// wipes the keys from memory and releases the account lock. (Also from `Drop`, so
    /// nothing here may fail on a borrow.)
    fn shut_down(&self) {
        self.closed.set(true);
        self.detach_online_listener();
        if let Ok(mut out) = self.ws_out.try_borrow_mut()
            && let Some(tx) = out.take()
        {
            let _ = tx.unbounded_send(Out::Close);
        }
        let waiters: Vec<Function> = self
            .waiters
            .try_borrow_mut()
            .map(|mut w| w.drain(..).collect())
            .unwrap_or_default();
        for w in waiters {
            let _ = w.call1(&JsValue::NULL, &JsValue::NULL);
        }
        if let Ok(mut account) = self.account.try_borrow_mut() {
            account.take();
        }
        if let Ok(mut lock) = self.lock.try_borrow_mut() {
            lock.take();
        }
    }

    /// Another tab or worker took the account over (`takeOver`).
    fn taken_over(&self) {
        if self.closed.get() {
            return;
        }
        self.emit_error(
            "LOCKED",
            "this account was opened in another tab or window",
            None,
        );
        self.shut_down();
        if !self.running.get() {
            self.set_status("closed");
        }
    }

    fn detach_online_listener(&self) {
        if let Ok(mut l) = self.online_listener.try_borrow_mut()
            && let Some(listener) = l.take()
        {
            global_listener("removeEventListener", &listener);
        }
    }
}

/// Receives until logout, reconnecting with exponential backoff (0.5 s to 30 s, jitter;
/// `reconnect()` or the browser's `online` event cut the wait short).
async fn receive_loop(inner: Rc<Inner>) {
    let mut backoff: u32 = 500;
    while !inner.closed.get() {
        inner.set_status("connecting");
        inner.wake.set(false);
        let was_ready = Cell::new(false);
        let result = connect_once(&inner, &was_ready).await;
        inner.ws_out.borrow_mut().take();
        match result {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                let code = code_of(&e).unwrap_or_else(|| "NETWORK".into());
                if code == "CLOSED" {
                    break;
                }
            }
        }
        if inner.closed.get() {
            break;
        }
        inner.set_status("offline");
        if was_ready.get() {
            backoff = 500;
        }
        let jitter = rng().next_u32() % (backoff / 2 + 1);
        let mut waited = 0;
        while waited < backoff + jitter && !inner.closed.get() && !inner.wake.get() {
            sleep(100).await;
            waited += 100;
        }
        if inner.wake.get() {
            backoff = 500;
        } else {
            backoff = (backoff * 2).min(30_000);
        }
    }
    inner.running.set(false);
    inner.set_status("closed");
}

async fn load_local(
    options: &Options,
    username: &Username,
    password: &str,
) -> Result<Option<Account>, JsValue> {
    let id = username.user_id();
    let Some(header) = options.storage.load(&key(&id, "vault")).await? else {
        return Ok(None);
    };
    let vault = Vault::unlock(password, &header)?;
    let identity = options
        .storage
        .load(&key(&id, "identity"))
        .await?
        .ok_or_else(|| error("STORAGE", "stored identity missing"))?;
    let me = vault.open_identity(&identity)?;
    let sessions = match options.storage.load(&key(&id, "sessions")).await? {
        Some(s) => vault.open_sessions(&s)?,
        None => SessionStore::new(),
    };
    let mut contacts = BTreeMap::new();
    if let Some(c) = options.storage.load(&key(&id, "contacts")).await? {
        let json = vault.open_raw("contacts", &c)?;
        let list: BTreeMap<String, StoredContact> =
            serde_json::from_slice(&json).map_err(|e| error("STORAGE", &e.to_string()))?;
        for (hex_id, c) in list {
            let bundle = core::KeyBundle::from_bytes(&unb64(&c.bundle)?).or_js()?;
            contacts.insert(
                crypto::parse_user_id(&hex_id)?,
                Contact {
                    username: c.username,
                    bundle,
                    verified: c.verified,
                    checked_at: 0,
                },
            );
        }
    }
    // Unsent messages are worth keeping, not worth refusing a login over: an outbox that
    // does not open (left from an earlier vault) is empty.
    let mut outbox: BTreeMap<String, Outgoing> =
        match options.storage.load(&key(&id, "outbox")).await? {
            Some(o) => vault
                .open_raw("outbox", &o)
                .ok()
                .and_then(|json| serde_json::from_slice(&json).ok())
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
    prune_outbox(&mut outbox, now_or(None));
    Ok(Some(Account {
        me,
        sessions,
        vault,
        backup: None,
        contacts,
        outbox,
    }))
}

impl Client {
    fn start(options: &Options, user_id: UserId, account: Account) -> Client {
        let inner = Rc::new(Inner {
            relay: options.relay.clone(),
            storage: options.storage.clone(),
            auto_ack: options.auto_ack,
            auto_rotate: options.auto_rotate,
            bundle_max_age: options.bundle_max_age,
            request_timeout: options.request_timeout,
            rotating: Cell::new(false),
            user_id,
            account: RefCell::new(Some(account)),
            listeners: RefCell::default(),
            queue: RefCell::default(),
            waiters: RefCell::default(),
            iterating: Cell::new(false),
            ws_out: RefCell::new(None),
            running: Cell::new(false),
            closed: Cell::new(false),
            status: Cell::new("offline"),
            wake: Cell::new(false),
            online_listener: RefCell::new(None),
            in_flight: RefCell::default(),
            lock: RefCell::new(None),
        });
        // The browser's `online` event (pages and workers; absent in Node.js): reconnect
        // now instead of waiting out the backoff.
        let weak = Rc::downgrade(&inner);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(i) = weak.upgrade()
                && i.running.get()
                && i.status.get() != "online"
            {
                i.wake.set(true);
            }
        });
        if global_listener("addEventListener", &listener) {
            *inner.online_listener.borrow_mut() = Some(listener);
        }
        let client = Client { inner };
        if options.connect {
            client.connect();
        }
        client
    }

    /// The rest of `register`, under the account lock.
    async fn create(
        options: Options,
        id: UserId,
        username: &str,
        password: &str,
        stolen: Rc<Cell<bool>>,
    ) -> Result<Client, JsValue> {
        let mut me = Identity::generate(
            username,
            options.key_size,
            options.on_progress.clone(),
            None,
        )?;
        let backup = BackupKeys::create(password, &id.to_hex(), options.iterations)?;
        let blob = me.export_backup(&backup)?;
        let vault = Vault::create(password, options.iterations)?;
        let bundle = me.bundle(None)?;
        let account = Account {
            me,
            sessions: SessionStore::new(),
            vault,
            backup: Some(backup),
            contacts: BTreeMap::new(),
            outbox: BTreeMap::new(),
        };
        let client = Client::start(
            &Options {
                connect: false,
                ..options
            },
            id,
            account,
        );
        let inner = &client.inner;
        // Keys are stored before the name is claimed, so a failure after the claim
        // never loses them (log in to continue); a name taken by someone else removes them.
        inner.persist_all().await?;
        let resp = inner.put_bundle(&bundle.to_bytes(), false).await?;
        if resp.status() != 201 {
            let taken = resp.status() == 409;
            let e = relay_error(resp, "ALREADY_REGISTERED").await;
            // (Not when another tab took the account over meanwhile: the data is its.)
            if taken && !stolen.get() {
                let _ = remove_account(&inner.storage, &id).await;
            }
            return Err(e);
        }
        let mut body = Zeroizing::new(backup_token(inner)?);
        body.extend_from_slice(&blob);
        let resp = inner
            .request(
                Method::PUT,
                &format!("/v1/users/{}/backup", id.to_hex()),
                Some(&body),
                true,
            )
            .await?;
        if resp.status() != 204 {
            return Err(relay_error(resp, "RELAY").await);
        }
        if options.connect {
            client.connect();
        }
        Ok(client)
    }

    /// The rest of `login`, under the account lock.
    async fn open(
        options: Options,
        name: &Username,
        username: &str,
        password: &str,
    ) -> Result<Client, JsValue> {
        let id = name.user_id();
        if let Some(account) = load_local(&options, name, password).await? {
            return Ok(Client::start(&options, id, account));
        }
        let resp = http_get(
            &options.relay,
            options.request_timeout,
            &format!("/v1/users/{}/backup/params", id.to_hex()),
        )
        .await?;
        if resp.status() != 200 {
            return Err(relay_error(resp, "RELAY").await);
        }
        let header = resp.binary().await.map_err(network)?;
        let keys = BackupKeys::for_blob(password, &header)?;
        let token = keys.auth_token();
        let path = format!("/v1/users/{}/backup/fetch", id.to_hex());
        let resp = http(
            &options.relay,
            options.request_timeout,
            Method::POST,
            &path,
            Some(&token),
            None,
            "application/octet-stream",
        )
        .await?;
        if resp.status() != 200 {
            return Err(relay_error(resp, "RELAY").await);
        }
        let blob = resp.binary().await.map_err(network)?;
        let me = Identity::import_backup(username, &blob, &keys)?;
        let vault = Vault::create(password, options.iterations)?;
        let account = Account {
            me,
            sessions: SessionStore::new(),
            vault,
            backup: Some(keys),
            contacts: BTreeMap::new(),
            outbox: BTreeMap::new(),
        };
        let connect = options.connect;
        let client = Client::start(
            &Options {
                connect: false,
                ..options
            },
            id,
            account,
        );
        client.inner.persist_all().await?;
        // A new device: make contacts open new sessions to it.
        client.inner.publish_fresh_bundle().await?;
        if connect {
            client.connect();
        }
        Ok(client)
    }

    /// Hands the account lock to a new client, or releases it (and waits until the
    /// browser has) when `register`/`login` failed, so an immediate retry finds it free.
    async fn locked(
        client: Result<Client, JsValue>,
        lock: Option<AccountLock>,
    ) -> Result<Client, JsValue> {
        match client {
            Ok(client) if stolen_flag(&lock).get() => {
                // Taken over by another tab while this one was opening: stop here.
                client.inner.shut_down();
                drop(lock);
                Err(error(
                    "LOCKED",
                    "this account was opened in another tab or window",
                ))
            }
            Ok(client) => {
                if let Some(l) = &lock {
                    let weak = Rc::downgrade(&client.inner);
                    l.on_stolen(move || {
                        if let Some(i) = weak.upgrade() {
                            i.taken_over();
                        }
                    });
                }
                *client.inner.lock.borrow_mut() = lock;
                Ok(client)
            }
            Err(e) => {
                if let Some(l) = lock {
                    l.release().await;
                }
                Err(e)
            }
        }
    }
}

#[wasm_bindgen]
impl Client {
    /// Creates an account: generates the keys (`options.onProgress` reports progress;
    /// RSA-4096 takes seconds), registers the bundle with the relay, uploads the
    /// password-protected key backup and stores everything encrypted in
    /// `options.storage`. Throws `ALREADY_REGISTERED` when the name is taken.
    pub async fn register(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
        username: String,
        password: String,
    ) -> Result<Client, JsValue> {
        let (password, options, name) = Options::begin(password, &options, &username)?;
        let id = name.user_id();
        if options.storage.load(&key(&id, "vault")).await?.is_some() {
            return Err(error(
                "ALREADY_REGISTERED",
                "this account is already stored here: log in instead",
            ));
        }
        // Seconds of key generation are wasted on a taken name: ask the directory first
        // (the claim below still decides a race).
        let resp = http_get(
            &options.relay,
            options.request_timeout,
            &format!("/v1/users/{}/bundle", id.to_hex()),
        )
        .await?;
        match resp.status() {
            404 => {}
            200 => return Err(error("ALREADY_REGISTERED", "this username is taken")),
            _ => return Err(relay_error(resp, "RELAY").await),
        }
        let lock = lock::acquire(&lock::name(&id.to_hex()), options.take_over).await?;
        Client::locked(
            Client::create(options, id, &username, &password, stolen_flag(&lock)).await,
            lock,
        )
        .await
    }

    /// Logs in. With this account already in `options.storage`, unlocks it locally
    /// (no network). Otherwise, on any browser: fetches the key backup from the relay
    /// (after proving the password with the backup's auth token) and decrypts it, then
    /// publishes a fresh key bundle so that contacts start new sessions to this device.
    /// Throws `WRONG_PASSWORD`, `NOT_FOUND` (no such account), `RATE_LIMITED` (too many
    /// wrong passwords: `retryAfter` seconds), `LOCKED` (open in another tab: see
    /// `takeOver`).
    pub async fn login(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
        username: String,
        password: String,
    ) -> Result<Client, JsValue> {
        let (password, options, name) = Options::begin(password, &options, &username)?;
        // Before anything is read: see `crate::lock`.
        let lock = lock::acquire(&lock::name(&name.user_id().to_hex()), options.take_over).await?;
        Client::locked(
            Client::open(options, &name, &username, &password).await,
            lock,
        )
        .await
    }
    /// Opens the incoming-message WebSocket (done by `register`/`login` unless
    /// `options.connect` is false). Reconnects with exponential backoff until `logout`.
    pub fn connect(&self) {
        if self.inner.running.replace(true) || self.inner.closed.get() {
            return;
        }
        spawn_local(receive_loop(Rc::clone(&self.inner)));
    }

    /// Reconnects now: when the connection is down and waiting out the backoff (up to
    /// 30 s), tries again at once (and resets the backoff); starts it like `connect()`
    /// when it was not started. An open connection is kept. The client also does this
    /// by itself on the browser's `online` event (in pages and workers).
    pub fn reconnect(&self) {
        if self.inner.closed.get() {
            return;
        }
        if self.inner.running.get() {
            if self.inner.status.get() != "online" {
                self.inner.wake.set(true);
            }
        } else {
            self.connect();
        }
    }

    /// The account's user id (64 hex digits).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id.to_hex()
    }

    /// The normalized username.
    #[wasm_bindgen(getter)]
    pub fn username(&self) -> Result<String, JsValue> {
        self.inner.with_account(|a| Ok(a.me.username()))
    }

    /// SHA-256 of the account's identity key (hex).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> Result<String, JsValue> {
        self.inner.with_account(|a| Ok(a.me.fingerprint()))
    }

    /// The WebSocket state.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStatus")]
    pub fn status(&self) -> String {
        self.inner.status.get().into()
    }

    /// Calls `listener(message)` for every incoming message (decrypted, stored, and
    /// acknowledged unless `autoAck` is off).
    #[wasm_bindgen(js_name = onMessage)]
    pub fn on_message(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(message: IncomingMessage) => void")]
        listener: Function,
    ) {
        self.inner.listeners.borrow_mut().message.push(listener);
    }

    /// Calls `listener(status)` when the connection state changes.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(status: ConnectionStatus) => void")]
        listener: Function,
    ) {
        self.inner.listeners.borrow_mut().status.push(listener);
    }

    /// Calls `listener(event)` for background errors (messages that cannot be opened).
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: ClientErrorEvent) => void")]
        listener: Function,
    ) {
        self.inner.listeners.borrow_mut().error.push(listener);
    }

    /// The next incoming message, or `null` after `logout`. Messages are queued while
    /// nobody waits. `for await (const m of client.messages())` wraps this.
    #[wasm_bindgen(js_name = nextMessage, unchecked_return_type = "Promise<IncomingMessage | null>")]
    pub fn next_message(&self) -> Promise {
        self.inner.iterating.set(true);
        if let Some(m) = self.inner.queue.borrow_mut().pop_front() {
            return Promise::resolve(&m);
        }
        if self.inner.closed.get() {
            return Promise::resolve(&JsValue::NULL);
        }
        let inner = Rc::clone(&self.inner);
        Promise::new(&mut |resolve, _| inner.waiters.borrow_mut().push_back(resolve))
    }

    /// Looks `username` up in the relay's directory, verifies the bundle and pins it
    /// (trust on first use). Throws `NOT_FOUND`, or `IDENTITY_CHANGED` when the key
    /// differs from the pinned one.
    pub async fn lookup(&self, username: String) -> Result<ContactInfoJs, JsValue> {
        let id = self.inner.lookup(&username).await?;
        Ok(self.inner.contact_info(&id)?.unchecked_into())
    }

    /// The pinned contacts.
    #[wasm_bindgen(unchecked_return_type = "ContactInfo[]")]
    pub fn contacts(&self) -> Result<js_sys::Array, JsValue> {
        let ids: Vec<UserId> = self
            .inner
            .with_account(|a| Ok(a.contacts.keys().copied().collect()))?;
        let out = js_sys::Array::new();
        for id in ids {
            out.push(&self.inner.contact_info(&id)?);
        }
        Ok(out)
    }

    /// Records that you compared the safety number with `username` (or un-marks it).
    #[wasm_bindgen(js_name = setVerified)]
    pub async fn set_verified(&self, username: String, verified: bool) -> Result<(), JsValue> {
        let id = Username::parse(&username).or_js()?.user_id();
        self.inner.with_account(|a| {
            let c = a
                .contacts
                .get_mut(&id)
                .ok_or_else(|| error("NOT_FOUND", "not a contact"))?;
            c.verified = verified;
            Ok(())
        })?;
        self.inner.persist_contacts().await
    }

    /// Forgets a contact whose identity changed (and the sessions with it), so the next
    /// `lookup` pins the new key. Messages to it that were sealed but never reached the
    /// relay are dropped too: a retry with the same idempotency key seals again, for the
    /// key pinned then.
    #[wasm_bindgen(js_name = forgetContact)]
    pub async fn forget_contact(&self, username: String) -> Result<(), JsValue> {
        let id = Username::parse(&username).or_js()?.user_id();
        let to = id.to_hex();
        self.inner.with_account(|a| {
            a.contacts.remove(&id);
            a.sessions.inner.forget_peer(&id);
            a.outbox.retain(|_, o| o.to != to || o.blob_id.is_some());
            Ok(())
        })?;
        self.inner.persist_sessions().await?;
        self.inner.persist_outbox().await?;
        self.inner.persist_contacts().await
    }

    /// Encrypts and sends `content` (a string, or bytes with `contentType`, default 1)
    /// to `to` (a username; looked up first if not yet a contact). The first message to
    /// a contact costs RSA operations; later ones are symmetric. The contact's bundle is
    /// re-read from the directory when it is older than `bundleMaxAge` (60 s), so a new device of
    /// theirs is reached and a changed key throws `IDENTITY_CHANGED` before anything is
    /// sent. `options.idempotencyKey` makes retries safe (see `SendOptions`).
    pub async fn send(
        &self,
        to: String,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] content: JsValue,
        #[wasm_bindgen(js_name = contentType)] content_type: Option<u8>,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        let inner = &self.inner;
        let (ct, bytes) = crypto::read_content(&content, content_type)?;
        if ct == intro::INTRO {
            return Err(invalid("content type 255 is reserved (the sender's name)"));
        }
        let digest = content_digest(ct, &bytes);
        let me = inner.with_account(|a| Ok(a.me.username()))?;
        let (ct, bytes) = intro::wrap(&Username::parse(&me).or_js()?, ct, bytes);
        let id = Username::parse(&to).or_js()?.user_id();
        let idempotency_key = match options.map(|o| get(&o, "idempotencyKey")) {
            None => None,
            Some(v) if v.is_undefined() || v.is_null() => None,
            Some(v) => match v.as_string() {
                Some(k) if !k.is_empty() && k.chars().count() <= 256 => Some(k),
                _ => {
                    return Err(invalid(
                        "options.idempotencyKey must be a string of 1 to 256 characters",
                    ));
                }
            },
        };
        // One send per key at a time: two concurrent ones would both seal.
        let _in_flight = match &idempotency_key {
            Some(k) => Some(InFlight::start(inner, k)?),
            None => None,
        };
        if let Some(k) = &idempotency_key
            && let Some(out) = inner.with_account(|a| Ok(a.outbox.get(k).cloned()))?
        {
            if out.to != id.to_hex() || out.digest != digest {
                return Err(invalid(
                    "this idempotencyKey was used for another message (recipient or content)",
                ));
            }
            return inner.repost(k, out).await;
        }
        inner.refresh_contact(&to, &id).await?;
        let seal = |inner: &Inner| {
            let now = now_or(None);
            inner.with_account(|a| {
                let c = a
                    .contacts
                    .get(&id)
                    .ok_or_else(|| error("NOT_FOUND", "not a contact"))?;
                a.sessions
                    .inner
                    .seal(&mut rng(), &a.me.inner, &c.bundle, ct, &bytes, now)
                    .map_err(|e| match e {
                        CoreError::Expired => error("EXPIRED", "expired"),
                        e => core_error(e),
                    })
            })
        };
        let sealed = match seal(inner) {
            Err(e) if code_of(&e).as_deref() == Some("EXPIRED") => {
                // The pinned bundle's keys expired: refresh it from the directory.
                inner.lookup(&to).await?;
                seal(inner)?
            }
            other => other?,
        };
        inner.persist_sessions().await?;
        let out = Outgoing {
            to: id.to_hex(),
            digest,
            message_id: hex(&sealed.message_id),
            new_session: sealed.new_session,
            created_at: now_or(None),
            envelope: Some(b64(&sealed.envelope)),
            blob_id: None,
        };
        match idempotency_key {
            Some(k) => {
                // Stored before the post: a retry after a failure (or a reload) posts
                // these same bytes instead of sealing again.
                inner.with_account(|a| {
                    prune_outbox(&mut a.outbox, out.created_at);
                    a.outbox.insert(k.clone(), out.clone());
                    Ok(())
                })?;
                inner.persist_outbox().await?;
                inner.repost(&k, out).await
            }
            None => {
                let blob_id = inner.deposit(&id, &sealed.envelope).await?;
                sent_result(&Outgoing {
                    blob_id: Some(blob_id),
                    ..out
                })
            }
        }
    }

    /// Whether `scanned` (the bytes of the QR code `username` shows) matches your
    /// safety number with that contact. Mark it with `setVerified` when it does.
    #[wasm_bindgen(js_name = matchesQr)]
    pub fn matches_qr(&self, username: String, scanned: Vec<u8>) -> Result<bool, JsValue> {
        let id = Username::parse(&username).or_js()?.user_id();
        self.inner.with_account(|a| {
            let c = a
                .contacts
                .get(&id)
                .ok_or_else(|| error("NOT_FOUND", "not a contact: look it up first"))?;
            let me = &a.me.inner;
            Ok(core::SafetyNumber::new(
                me.user_id(),
                &me.identity_key().public(),
                c.bundle.user_id(),
                c.bundle.identity(),
            )
            .matches_qr(&scanned))
        })
    }

    /// Encrypts application data (message history, drafts) under this account's storage
    /// key (derived from the password; no extra PBKDF2). `label` names the value (the
    /// same label opens it; labels are kept apart from the client's own records).
    #[wasm_bindgen(js_name = sealLocal)]
    pub fn seal_local(&self, label: String, data: Vec<u8>) -> Result<Vec<u8>, JsValue> {
        self.inner.with_account(|a| a.vault.seal(&label, &data))
    }

    /// Decrypts what `sealLocal` sealed under `label`. Throws `DECRYPT_FAILED`.
    #[wasm_bindgen(js_name = openLocal)]
    pub fn open_local(&self, label: String, sealed: Vec<u8>) -> Result<Vec<u8>, JsValue> {
        self.inner.with_account(|a| a.vault.open(&label, &sealed))
    }

    /// Deletes everything a `Client` stored for `username` in `storage`, without the
    /// password (a "use another account" or "forget this device" button). The account
    /// itself stays on the relay: `login` restores it.
    #[wasm_bindgen(js_name = removeAccount)]
    pub async fn remove_account(
        #[wasm_bindgen(unchecked_param_type = "SealpostStorage")] storage: JsValue,
        username: String,
    ) -> Result<(), JsValue> {
        if !storage.is_object() {
            return Err(invalid("storage must implement get/set/delete"));
        }
        let id = Username::parse(&username).or_js()?.user_id();
        remove_account(&storage.unchecked_into(), &id).await
    }

    /// Acknowledges (deletes from the relay) messages by blob id (`IncomingMessage.id`),
    /// for apps that set `autoAck: false`.
    pub async fn ack(&self, ids: Vec<String>) -> Result<(), JsValue> {
        let sender = self.inner.ws_out.borrow().clone();
        if let (Some(tx), "online") = (sender, self.inner.status.get()) {
            let text = serde_json::json!({ "type": "ack", "ids": ids }).to_string();
            if tx.unbounded_send(Out::Text(text)).is_ok() {
                return Ok(());
            }
        }
        self.inner.http_ack(&ids).await
    }

    /// Whether the current encryption key expires within 7 days (call `rotateKeys`).
    #[wasm_bindgen(js_name = needsRotation)]
    pub fn needs_rotation(&self) -> Result<bool, JsValue> {
        self.inner.with_account(|a| Ok(a.me.needs_rotation(None)))
    }

    /// Generates a new encryption key, publishes the new bundle and re-uploads the key
    /// backup. The backup needs the password-derived keys: they are in memory after
    /// `register` or a `login` that fetched the backup; otherwise pass `password`.
    /// Resolves to whether the backup was updated.
    #[wasm_bindgen(js_name = rotateKeys)]
    pub async fn rotate_keys(&self, password: Option<String>) -> Result<bool, JsValue> {
        let password = password.map(Zeroizing::new);
        self.inner
            .rotate(password.as_deref().map(|p| p.as_str()))
            .await
    }

    /// Closes the connection and wipes the keys from memory. With `forget`, also deletes
    /// this account's data from the storage (it can be restored with `login`).
    pub async fn logout(&self, forget: Option<bool>) -> Result<(), JsValue> {
        let inner = &self.inner;
        // Held until the data is removed, so no other tab reads it half-deleted.
        let lock = inner.lock.borrow_mut().take();
        inner.shut_down();
        if forget.unwrap_or(false) {
            remove_account(&inner.storage, &inner.user_id).await?;
        }
        if let Some(lock) = lock {
            lock.release().await;
        }
        if !inner.running.get() {
            inner.set_status("closed");
        }
        Ok(())
    }
}

/// Forgets old idempotency keys, then the oldest beyond [`OUTBOX_MAX`] - 1 (room for
/// one more), sent ones first.
fn prune_outbox(outbox: &mut BTreeMap<String, Outgoing>, now: u64) {
    outbox.retain(|_, o| {
        let max_age = if o.blob_id.is_some() {
            SENT_MAX_AGE
        } else {
            UNSENT_MAX_AGE
        };
        now.saturating_sub(o.created_at) <= max_age
    });
    while outbox.len() >= OUTBOX_MAX {
        let oldest = outbox
            .iter()
            .min_by_key(|(_, o)| (o.blob_id.is_none(), o.created_at))
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => outbox.remove(&k),
            None => break,
        };
    }
}

/// What an idempotency key was first used for (see `Outgoing::digest`).
fn content_digest(content_type: u8, content: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update([content_type]);
    h.update(content);
    hex(&h.finalize())
}

/// The `SendResult` of a send the relay took.
fn sent_result(out: &Outgoing) -> Result<SendResultJs, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sent<'a> {
        message_id: &'a str,
        blob_id: &'a str,
        new_session: bool,
    }
    Ok(to_js(&Sent {
        message_id: &out.message_id,
        blob_id: out.blob_id.as_deref().unwrap_or_default(),
        new_session: out.new_session,
    })?
    .unchecked_into())
}

/// An idempotency key whose send is under way; released when dropped (on every return).
struct InFlight<'a> {
    inner: &'a Inner,
    key: String,
}

impl<'a> InFlight<'a> {
    fn start(inner: &'a Inner, key: &str) -> Result<Self, JsValue> {
        let mut keys = inner.in_flight.borrow_mut();
        if keys.iter().any(|k| k == key) {
            return Err(invalid(
                "a send with this idempotencyKey is already under way: retry when it ends",
            ));
        }
        keys.push(key.to_owned());
        drop(keys);
        Ok(InFlight {
            inner,
            key: key.to_owned(),
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut keys) = self.inner.in_flight.try_borrow_mut() {
            keys.retain(|k| *k != self.key);
        }
    }
}

/// The lock's "taken over" flag (never set without a lock).
fn stolen_flag(lock: &Option<AccountLock>) -> Rc<Cell<bool>> {
    lock.as_ref().map_or_else(Rc::default, AccountLock::stolen)
}

/// Deletes everything `Client` stored for `id` in `storage`.
async fn remove_account(storage: &StorageJs, id: &UserId) -> Result<(), JsValue> {
    for name in ACCOUNT_KEYS {
        storage.remove(&key(id, name)).await?;
    }
    Ok(())
}

fn backup_token(inner: &Inner) -> Result<Vec<u8>, JsValue> {
    inner.with_account(|a| {
        a.backup
            .as_ref()
            .map(|b| b.auth_token())
            .ok_or_else(|| error("CLOSED", "no backup keys"))
    })
}
