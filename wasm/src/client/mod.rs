//! The client level: an account on a Sealpost relay (docs/API.md, protocol v2).
//!
//! A [`Client`] is a thin driver of the sans-I/O engine (`sealpost-engine`): every
//! protocol rule (sessions, pins, exactly-once, receipts, re-sends, device lists) lives
//! there; here are the edges: opening an account (`account`), HTTP and the device
//! mailbox's WebSocket (`transport`), the engine's inputs and outputs (`driver`),
//! storage through the password-derived vault (`persist`), app events (`events`),
//! `send`, contacts (`directory`), devices, linking and the backup. Each file holds the
//! `Client` methods of its concept; this one the state they share. Key generation and
//! PBKDF2 block for seconds: run the client in a Web Worker (see `sealpost-wasm/worker`
//! and `sealpost-wasm/remote`).

mod account;
mod b64;
mod backup;
mod call;
mod content;
mod deposit_socket;
mod devices;
mod direct;
mod directory;
mod driver;
mod events;
#[cfg(feature = "groups")]
mod groups;
mod keyed;
mod link;
mod options;
mod persist;
mod seen_store;
mod send;
mod sent_store;
mod session;
mod transport;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::mpsc;
use js_sys::Function;
use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;
use sealpost_engine::Engine;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

pub use link::{LinkApproval, PendingLink};
pub use options::{ClientOptionsJs, ContactInfoJs, SendOptionsJs, SendResultJs};

use self::backup::Backup;
use self::events::{Events, MessageOut};
use self::persist::Sent;
use self::transport::{Http, Out, global_listener};
use crate::error::Code;
use crate::lock::AccountLock;
use crate::storage::StorageJs;
use crate::vault::Vault;

/// Everything secret, dropped (and zeroized) at logout.
pub(crate) struct State {
    pub(crate) engine: Engine,
    pub(crate) vault: Vault,
    pub(crate) backup: Option<Backup>,
    /// Idempotency keys of `send`.
    pub(crate) sent: Vec<(String, Sent)>,
    /// Delivered messages the app has not acknowledged (`autoAck: false`).
    pub(crate) inbox: Vec<MessageOut>,
    /// The history a device link handed over, until the app takes it.
    pub(crate) history: Option<Zeroizing<Vec<u8>>>,
}

impl State {
    /// A new device's state (registration, password login, link): nothing sent or
    /// kept yet.
    pub(crate) fn new_device(
        engine: Engine,
        vault: Vault,
        backup: Option<Backup>,
        history: Option<Zeroizing<Vec<u8>>>,
    ) -> Self {
        State {
            engine,
            vault,
            backup,
            sent: Vec::new(),
            inbox: Vec::new(),
            history,
        }
    }
}

/// The WebSocket connection's state.
#[derive(Default)]
pub(crate) struct Conn {
    pub(crate) ws_out: RefCell<Option<mpsc::UnboundedSender<Out>>>,
    pub(crate) running: Cell<bool>,
    pub(crate) closed: Cell<bool>,
    pub(crate) status: Cell<&'static str>,
    /// Set by `reconnect()` (or the global `online` event): skip the backoff wait.
    pub(crate) wake: Cell<bool>,
    /// The `online` listener on the global scope (page or worker), removed at logout.
    pub(crate) online_listener: RefCell<Option<Closure<dyn FnMut()>>>,
}

pub(crate) struct Inner {
    pub(crate) http: Http,
    /// Deposits over one WebSocket (`ClientOptions.depositSocket`); `None` uses a POST
    /// per deposit.
    pub(crate) deposits: Option<deposit_socket::DepositSocket>,
    pub(crate) storage: StorageJs,
    pub(crate) auto_ack: bool,
    pub(crate) bundle_max_age: u64,
    /// When this driver last gave the engine a directory answer, per account.
    pub(crate) fetched_at: RefCell<Vec<(UserId, u64)>>,
    pub(crate) user_id: UserId,
    pub(crate) device_id: DeviceId,
    /// `ClientOptions.clock`: the engine's time.
    pub(crate) clock: Option<Function>,
    pub(crate) state: RefCell<Option<State>>,
    /// One engine input (and its outputs) at a time.
    pub(crate) pump: futures_util::lock::Mutex<()>,
    pub(crate) events: Events,
    pub(crate) conn: Conn,
    pub(crate) sends: RefCell<send::Pending>,
    /// Lookups waiting for the engine's answer.
    pub(crate) lookups: RefCell<directory::Lookups>,
    /// Device list changes waiting for their publication.
    pub(crate) device_ops: RefCell<devices::DeviceOps>,
    /// Idempotency keys of sends under way.
    pub(crate) in_flight: RefCell<Vec<String>>,
    /// Directory fetches under way.
    pub(crate) fetching: RefCell<Vec<UserId>>,
    /// Usernames learnt this session (lookups, sends, messages).
    pub(crate) names: RefCell<Vec<(UserId, String)>>,
    pub(crate) backup_dirty: Cell<bool>,
    pub(crate) backup_running: Cell<bool>,
    pub(crate) backup_checked: Cell<bool>,
    pub(crate) inbox_given: Cell<bool>,
    /// Which stored records of the idempotency keys changed (`sent_store`): stored
    /// with the next batch.
    pub(crate) sent_dirty: Cell<u32>,
    /// Which stored records of the seen-set changed (`seen_store`): stored with the
    /// next batch.
    pub(crate) seen_dirty: Cell<u32>,
    /// Inputs waiting to be fed together (`Inner::feed_later`), and whether a task
    /// takes them.
    pub(crate) queued: RefCell<Vec<sealpost_engine::Input>>,
    pub(crate) draining: Cell<bool>,
    /// The account's Web Lock (see [`crate::lock`]), released at logout.
    pub(crate) lock: RefCell<Option<AccountLock>>,
}

/// An account on a Sealpost relay: register or log in, look up contacts, send, receive.
///
/// ```js
/// const client = await Client.login({ relayUrl, storage: await IndexedDbStorage.open() }, "alice", pw);
/// client.onMessage((m) => console.log(m.fromUsername, m.text));
/// await client.send("bob", "hi");
/// ```
#[wasm_bindgen]
pub struct Client {
    inner: Rc<Inner>,
}

/// `free()` (or garbage collection) of the handle logs out: the connection closes and
/// the keys are wiped, even though background tasks hold the state too.
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

impl Inner {
    /// Stops for good: closes the connection, resolves `nextMessage` waiters with null,
    /// wipes the keys from memory. (Also from `Drop`: nothing here may fail on a borrow.)
    pub(crate) fn shut_down(&self) {
        self.conn.closed.set(true);
        if let Some(d) = &self.deposits {
            d.close();
        }
        if let Ok(mut l) = self.conn.online_listener.try_borrow_mut()
            && let Some(listener) = l.take()
        {
            global_listener("removeEventListener", &listener);
        }
        if let Ok(mut out) = self.conn.ws_out.try_borrow_mut()
            && let Some(tx) = out.take()
        {
            let _ = tx.unbounded_send(Out::Close);
        }
        let waiters: Vec<Function> = self
            .events
            .waiters
            .try_borrow_mut()
            .map(|mut w| w.drain(..).collect())
            .unwrap_or_default();
        for w in waiters {
            let _ = w.call1(&JsValue::NULL, &JsValue::NULL);
        }
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.take();
        }
        if let Ok(mut sends) = self.sends.try_borrow_mut() {
            *sends = send::Pending::default();
        }
    }

    /// Another tab or worker took the account over (`takeOver`).
    fn taken_over(&self) {
        if self.conn.closed.get() {
            return;
        }
        self.emit_error(
            Code::Locked,
            "this account was opened in another tab or window",
            None,
        );
        self.shut_down();
        if let Ok(mut lock) = self.lock.try_borrow_mut() {
            lock.take();
        }
        if !self.conn.running.get() {
            self.set_status("closed");
        }
    }
}

#[wasm_bindgen]
impl Client {
    /// The account's user id (64 hex digits).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id.to_hex()
    }

    /// This device's id (32 hex digits).
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.inner.device_id.to_hex()
    }

    /// The normalized username.
    #[wasm_bindgen(getter)]
    pub fn username(&self) -> Result<String, JsValue> {
        self.inner
            .with_engine(|e| Ok(e.username().as_str().to_owned()))
    }

    /// SHA-256 of the account's identity key (hex).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> Result<String, JsValue> {
        Ok(crate::crypto::hex(&self.inner.my_identity()?.fingerprint()))
    }

    /// The relay's base URL (absolute), for the file transfers of `js/files.js`.
    #[wasm_bindgen(getter, js_name = relayUrl)]
    pub fn relay_url(&self) -> Result<String, JsValue> {
        self.inner.http.absolute()
    }

    /// Encrypts application data under this account's storage key (no extra PBKDF2).
    #[wasm_bindgen(js_name = sealLocal)]
    pub fn seal_local(&self, label: String, data: Vec<u8>) -> Result<Vec<u8>, JsValue> {
        self.inner.with_state(|s| s.vault.seal(&label, &data))
    }

    /// Decrypts what `sealLocal` sealed under `label`. Throws `DECRYPT_FAILED`.
    #[wasm_bindgen(js_name = openLocal)]
    pub fn open_local(&self, label: String, sealed: Vec<u8>) -> Result<Vec<u8>, JsValue> {
        self.inner.with_state(|s| s.vault.open(&label, &sealed))
    }
}
