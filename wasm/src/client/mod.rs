//! The client level: an account on a Sealpost relay (docs/API.md, protocol v2).
//!
//! A [`Client`] is a thin driver of the sans-I/O engine (`sealpost-engine`): every
//! protocol rule (sessions, pins, exactly-once, receipts, re-sends, device lists) lives
//! there; here are the edges: HTTP and the device mailbox's WebSocket (`transport`),
//! the engine's inputs and outputs (`driver`), storage through the password-derived
//! vault (`persist`), app events (`events`), `send`, contacts (`directory`), devices,
//! linking and the backup. Key generation and PBKDF2 block for seconds: run the client
//! in a Web Worker (see `sealpost-wasm/worker` and `sealpost-wasm/remote`).

mod backup;
mod devices;
mod directory;
mod driver;
mod events;
mod link;
mod options;
mod persist;
mod send;
mod transport;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::mpsc;
use js_sys::{Function, Promise};
use sealpost_core::v2::{DeviceId, DeviceKeys};
use sealpost_core::{IdentityKey, UserId, Username};
use sealpost_engine::{Engine, NewDevice, Output};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use zeroize::Zeroizing;

pub use link::{LinkApproval, PendingLink};
pub use options::{ClientOptionsJs, ContactInfoJs, SendOptionsJs, SendResultJs};

use self::backup::Backup;
use self::events::{Events, MessageOut};
use self::options::{Options, get};
use self::persist::{BackupRecord, Sent};
use self::transport::{Http, Out, global_listener, receive_loop, relay_error};
use crate::error::{Code, OrJs, err, invalid};
use crate::lock::{self, AccountLock};
use crate::rng;
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

/// A new device's keys: the identity (generated, restored or granted) signs them.
fn device_keys(
    options: &Options,
    identity: &IdentityKey,
    user: UserId,
    step: u32,
    steps: u32,
) -> Result<DeviceKeys, JsValue> {
    let size = crate::crypto::key_size(options.key_size)?;
    let keys = DeviceKeys::generate(&mut rng(), identity, user, size, options.now()).or_js()?;
    options.progress(step, steps);
    Ok(keys)
}

impl Client {
    fn start(options: &Options, state: State) -> Client {
        let user_id = *state.engine.user_id();
        let device_id = state.engine.device_id();
        let names = state
            .engine
            .account_state()
            .contacts()
            .filter_map(|c| {
                c.username
                    .as_ref()
                    .map(|u| (c.user_id, u.as_str().to_owned()))
            })
            .collect();
        let inner = Rc::new(Inner {
            http: Http {
                relay: options.relay.clone(),
                timeout_ms: options.request_timeout,
            },
            storage: options.storage.clone(),
            auto_ack: options.auto_ack,
            bundle_max_age: options.bundle_max_age,
            fetched_at: RefCell::default(),
            user_id,
            device_id,
            clock: options.clock.clone(),
            state: RefCell::new(Some(state)),
            pump: futures_util::lock::Mutex::new(()),
            events: Events::default(),
            conn: Conn {
                status: Cell::new("offline"),
                ..Conn::default()
            },
            sends: RefCell::default(),
            lookups: RefCell::default(),
            device_ops: RefCell::default(),
            in_flight: RefCell::default(),
            fetching: RefCell::default(),
            names: RefCell::new(names),
            backup_dirty: Cell::new(false),
            backup_running: Cell::new(false),
            backup_checked: Cell::new(false),
            inbox_given: Cell::new(false),
            lock: RefCell::new(None),
        });
        // The browser's `online` event (pages and workers; absent in Node.js): reconnect
        // now instead of waiting out the backoff.
        let weak = Rc::downgrade(&inner);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(i) = weak.upgrade()
                && i.conn.running.get()
                && i.conn.status.get() != "online"
            {
                i.conn.wake.set(true);
            }
        });
        if global_listener("addEventListener", &listener) {
            *inner.conn.online_listener.borrow_mut() = Some(listener);
        }
        inner.start_ticker();
        Client { inner }
    }

    /// A new device (registration, password login, link): stores everything, then
    /// publishes the device list and the bundle the engine made.
    async fn launch(
        options: Options,
        state: State,
        outputs: Vec<Output>,
    ) -> Result<Client, JsValue> {
        let client = Client::start(&options, state);
        let inner = &client.inner;
        // Stored before anything is published: a failure after that loses nothing.
        inner.persist_all().await?;
        let batch = inner.apply(outputs, inner.now()).await?;
        if let Some(r) = batch.published.into_iter().next() {
            r?;
        }
        Ok(client)
    }

    /// The rest of `register`, under the account lock.
    async fn create(
        options: Options,
        name: &Username,
        password: &str,
        stolen: Rc<Cell<bool>>,
    ) -> Result<Client, JsValue> {
        let id = name.user_id();
        options.progress(0, 2);
        let size = crate::crypto::key_size(options.key_size)?;
        let identity = IdentityKey::generate(&mut rng(), size).or_js()?;
        options.progress(1, 2);
        let keys = device_keys(&options, &identity, id, 2, 2)?;
        let backup = Backup::create(password, &id, options.iterations)?;
        let vault = Vault::create(password, options.iterations)?;
        let (engine, outputs) = Engine::create_account(
            &mut rng(),
            NewDevice {
                username: name.clone(),
                identity,
                keys,
                name: options.device_name.clone(),
            },
            options.now(),
        )
        .or_js()?;
        let state = State {
            engine,
            vault,
            backup: Some(backup),
            sent: Vec::new(),
            inbox: Vec::new(),
            history: None,
        };
        let storage = options.storage.clone();
        let connect = options.connect;
        let client = match Client::launch(options, state, outputs).await {
            Ok(c) => c,
            Err(e) => {
                // A name taken meanwhile: the keys are of no use (unless another tab
                // took the account over: then the data is its).
                if crate::error::code_of(&e).as_deref() == Some("ALREADY_REGISTERED")
                    && !stolen.get()
                {
                    let _ = persist::remove_account(&storage, &id).await;
                }
                return Err(e);
            }
        };
        client.inner.upload_backup().await?;
        if connect {
            client.connect();
        }
        Ok(client)
    }

    /// The rest of `login`, under the account lock.
    async fn open(options: Options, name: &Username, password: &str) -> Result<Client, JsValue> {
        let id = name.user_id();
        if let Some(header) = options.storage.load(&persist::key(&id, "vault")).await? {
            let vault = Vault::unlock(password, &header)?;
            let engine = persist::load_engine(&options.storage, &vault, &id).await?;
            let loaded = |n: &'static str| persist::load(&options.storage, &vault, &id, n);
            let sent = persist::from_json(loaded("sends").await?.as_deref().map(|v| &v[..]));
            let stored: Vec<events::StoredMessage> = persist::from_json(
                loaded("inbox")
                    .await
                    .ok()
                    .flatten()
                    .as_deref()
                    .map(|v| &v[..]),
            );
            let inbox = stored
                .into_iter()
                .filter_map(MessageOut::from_stored)
                .collect();
            let record: Option<BackupRecord> = loaded("backup")
                .await?
                .map(|v| persist::from_json(Some(&v[..])))
                .filter(|r: &BackupRecord| r.iterations > 0);
            let history = loaded("history").await.ok().flatten();
            let backup = match record {
                Some(r) => Some(Backup::from_record(password, &id, &r)?),
                None => None,
            };
            let connect = options.connect;
            let client = Client::start(
                &options,
                State {
                    engine,
                    vault,
                    backup,
                    sent,
                    inbox,
                    history,
                },
            );
            if connect {
                client.connect();
            }
            return Ok(client);
        }
        // A browser without this account: restore it from the backup, as a new device.
        let restored = backup::restore(&client_http(&options), &id, password).await?;
        let list = devices::fetch_list(&client_http(&options), &id).await?;
        options.progress(0, 1);
        let keys = device_keys(&options, &restored.identity, id, 1, 1)?;
        let account = <sealpost_engine::account_state::AccountState as sealpost_engine::codec::Codec>::from_bytes(&restored.account_state)
            .unwrap_or_default();
        let (engine, outputs) = Engine::join_account(
            &mut rng(),
            NewDevice {
                username: name.clone(),
                identity: restored.identity,
                keys,
                name: options.device_name.clone(),
            },
            &list,
            account,
            options.now(),
        )
        .map_err(|e| match e {
            sealpost_core::Error::TooLarge => err(
                Code::DeviceLimit,
                "the account has 8 devices: revoke one first (revokeDeviceWithPassword)",
            ),
            e => crate::error::core_error(e),
        })?;
        let vault = Vault::create(password, options.iterations)?;
        let connect = options.connect;
        let client = Client::launch(
            options,
            State {
                engine,
                vault,
                backup: Some(restored.backup),
                sent: Vec::new(),
                inbox: Vec::new(),
                history: None,
            },
            outputs,
        )
        .await?;
        if connect {
            client.connect();
        }
        Ok(client)
    }

    /// Hands the account lock to a new client, or releases it (and waits until the
    /// browser has) when opening failed, so an immediate retry finds it free.
    async fn locked(
        client: Result<Client, JsValue>,
        lock: Option<AccountLock>,
    ) -> Result<Client, JsValue> {
        match client {
            Ok(client) if stolen_flag(&lock).get() => {
                client.inner.shut_down();
                drop(lock);
                Err(err(
                    Code::Locked,
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

fn client_http(options: &Options) -> Http {
    Http {
        relay: options.relay.clone(),
        timeout_ms: options.request_timeout,
    }
}

/// The lock's "taken over" flag (never set without a lock).
fn stolen_flag(lock: &Option<AccountLock>) -> Rc<Cell<bool>> {
    lock.as_ref().map_or_else(Rc::default, AccountLock::stolen)
}

/// Reads `options.idempotencyKey`.
fn idempotency_key(options: Option<SendOptionsJs>) -> Result<Option<String>, JsValue> {
    match options.map(|o| get(&o, "idempotencyKey")) {
        None => Ok(None),
        Some(v) if v.is_undefined() || v.is_null() => Ok(None),
        Some(v) => match v.as_string() {
            Some(k) if !k.is_empty() && k.chars().count() <= 256 => Ok(Some(k)),
            _ => Err(invalid(
                "options.idempotencyKey must be a string of 1 to 256 characters",
            )),
        },
    }
}

#[wasm_bindgen]
impl Client {
    /// Creates an account: generates the identity key and this device's keys
    /// (`options.onProgress` reports progress; RSA-4096 takes seconds), publishes the
    /// device list and the device's bundle, uploads the password-protected backup and
    /// stores everything encrypted in `options.storage`. Throws `ALREADY_REGISTERED`.
    pub async fn register(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
        username: String,
        password: String,
    ) -> Result<Client, JsValue> {
        let (password, options, name) = Options::begin(password, &options, &username)?;
        let id = name.user_id();
        if options
            .storage
            .load(&persist::key(&id, "vault"))
            .await?
            .is_some()
        {
            return Err(err(
                Code::AlreadyRegistered,
                "this account is already stored here: log in instead",
            ));
        }
        // Seconds of key generation are wasted on a taken name: ask the directory first
        // (publishing the device list still decides a race).
        let resp = client_http(&options)
            .get(&format!("/v2/users/{}/devices", id.to_hex()))
            .await?;
        match resp.status() {
            404 => {}
            200 => return Err(err(Code::AlreadyRegistered, "this username is taken")),
            _ => return Err(relay_error(resp, Code::Relay).await),
        }
        let lock = lock::acquire(&lock::name(&id.to_hex()), options.take_over).await?;
        let stolen = stolen_flag(&lock);
        Client::locked(
            Client::create(options, &name, &password, stolen).await,
            lock,
        )
        .await
    }

    /// Logs in. With this account in `options.storage`, unlocks it locally (no network).
    /// Otherwise restores the identity from the relay's backup and joins the account as
    /// a NEW device (fresh keys; `DEVICE_LIMIT` when it has 8 devices). Throws
    /// `WRONG_PASSWORD`, `NOT_FOUND`, `RATE_LIMITED` (`retryAfter`), `LOCKED`.
    pub async fn login(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
        username: String,
        password: String,
    ) -> Result<Client, JsValue> {
        let (password, options, name) = Options::begin(password, &options, &username)?;
        let lock = lock::acquire(&lock::name(&name.user_id().to_hex()), options.take_over).await?;
        Client::locked(Client::open(options, &name, &password).await, lock).await
    }

    /// Removes a device from the account with the password alone (e.g. when 8 devices
    /// exist and none of them is at hand): restores the identity key from the backup
    /// and publishes the device list without `deviceId`.
    #[wasm_bindgen(js_name = revokeDeviceWithPassword)]
    pub async fn revoke_device_with_password(
        #[wasm_bindgen(
            unchecked_param_type = "ClientOptions | { relayUrl: string; requestTimeout?: number }"
        )]
        options: JsValue,
        username: String,
        password: String,
        #[wasm_bindgen(js_name = deviceId)] device_id: String,
    ) -> Result<(), JsValue> {
        let password = Zeroizing::new(password);
        let relay = get(&options, "relayUrl")
            .as_string()
            .ok_or_else(|| invalid("options.relayUrl must be a string"))?;
        let timeout = get(&options, "requestTimeout")
            .as_f64()
            .filter(|v| *v >= 1.0)
            .map_or(30_000, |v| v.min(f64::from(u32::MAX)) as u32);
        let http = Http {
            relay: relay.trim_end_matches('/').to_owned(),
            timeout_ms: timeout,
        };
        devices::revoke_with_password(&http, &username, &password, &device_id).await
    }

    /// Opens the device mailbox's WebSocket (done by `register`/`login` unless
    /// `options.connect` is false). Reconnects with exponential backoff until `logout`.
    /// With `autoAck: false`, messages delivered but not acknowledged before the last
    /// logout are given again first.
    pub fn connect(&self) {
        let inner = &self.inner;
        if inner.conn.closed.get() {
            return;
        }
        if !inner.inbox_given.replace(true) {
            // In the order they were delivered.
            let kept: Vec<MessageOut> = inner
                .with_state(|s| Ok(s.inbox.clone()))
                .unwrap_or_default();
            for m in &kept {
                inner.emit_message(m);
            }
        }
        if inner.conn.running.replace(true) {
            return;
        }
        spawn_local(receive_loop(Rc::clone(inner)));
    }

    /// Reconnects now when the connection is down and waiting out the backoff; starts
    /// it like `connect()` when it was not started. An open connection is kept.
    pub fn reconnect(&self) {
        if self.inner.conn.closed.get() {
            return;
        }
        if self.inner.conn.running.get() {
            if self.inner.conn.status.get() != "online" {
                self.inner.conn.wake.set(true);
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

    /// The WebSocket state.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStatus")]
    pub fn status(&self) -> String {
        self.inner.conn.status.get().into()
    }

    /// Calls `listener(message)` for every incoming message (decrypted, authenticated,
    /// never twice).
    #[wasm_bindgen(js_name = onMessage)]
    pub fn on_message(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(message: IncomingMessage) => void")]
        listener: Function,
    ) {
        self.inner
            .events
            .listeners
            .borrow_mut()
            .message
            .push(listener);
    }

    /// Calls `listener(status)` when the connection state changes.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(status: ConnectionStatus) => void")]
        listener: Function,
    ) {
        self.inner
            .events
            .listeners
            .borrow_mut()
            .status
            .push(listener);
    }

    /// Calls `listener(event)` for background errors.
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: ClientErrorEvent) => void")]
        listener: Function,
    ) {
        self.inner
            .events
            .listeners
            .borrow_mut()
            .error
            .push(listener);
    }

    /// Calls `listener({ messageId, delivered, total })` when devices receipt a sent message.
    #[wasm_bindgen(js_name = onDelivery)]
    pub fn on_delivery(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: DeliveryEvent) => void")] listener: Function,
    ) {
        self.inner
            .events
            .listeners
            .borrow_mut()
            .delivery
            .push(listener);
    }

    /// Calls `listener(notice)` for what the user should know that is not a message: a
    /// message that could not be decrypted or may be missing, a security event, a
    /// message that reached no device. Never message text.
    #[wasm_bindgen(js_name = onNotice)]
    pub fn on_notice(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(notice: NoticeEvent) => void")] listener: Function,
    ) {
        self.inner
            .events
            .listeners
            .borrow_mut()
            .notice
            .push(listener);
    }

    /// The next incoming message, or `null` after `logout`. Messages are queued while
    /// nobody waits. `for await (const m of client.messages())` wraps this.
    #[wasm_bindgen(js_name = nextMessage, unchecked_return_type = "Promise<IncomingMessage | null>")]
    pub fn next_message(&self) -> Promise {
        let events = &self.inner.events;
        events.iterating.set(true);
        if let Some(m) = events.queue.borrow_mut().pop_front() {
            return Promise::resolve(&m);
        }
        if self.inner.conn.closed.get() {
            return Promise::resolve(&JsValue::NULL);
        }
        let inner = Rc::clone(&self.inner);
        Promise::new(&mut |resolve, _| inner.events.waiters.borrow_mut().push_back(resolve))
    }

    /// Looks `username` up in the directory and pins its identity key (trust on first
    /// use). Throws `NOT_FOUND`, or `IDENTITY_CHANGED` when it differs from the pin.
    pub async fn lookup(&self, username: String) -> Result<ContactInfoJs, JsValue> {
        let id = self.inner.lookup(&username).await?;
        Ok(self.inner.contact_info(&id)?.unchecked_into())
    }

    /// The pinned contacts.
    #[wasm_bindgen(unchecked_return_type = "ContactInfo[]")]
    pub fn contacts(&self) -> Result<js_sys::Array, JsValue> {
        let out = js_sys::Array::new();
        for id in self.inner.contact_ids()? {
            out.push(&self.inner.contact_info(&id)?);
        }
        Ok(out)
    }

    /// Records that you compared the safety number with `username` (or un-marks it);
    /// the account's other devices learn it too.
    #[wasm_bindgen(js_name = setVerified)]
    pub async fn set_verified(&self, username: String, verified: bool) -> Result<(), JsValue> {
        self.inner.set_verified(&username, verified).await
    }

    /// Forgets a contact (its pin and sessions), so the next `lookup` pins its current
    /// key: how a changed identity key is accepted.
    #[wasm_bindgen(js_name = forgetContact)]
    pub async fn forget_contact(&self, username: String) -> Result<(), JsValue> {
        self.inner.forget_contact(&username).await
    }

    /// Encrypts and sends `content` (a string, or bytes with `contentType`, default 1)
    /// to every device of `to` and, as copies, to this account's other devices. Resolves
    /// once the relay took it: `{ messageId, delivered, total }` (`onDelivery` follows
    /// the receipts). `options.idempotencyKey` makes retries safe (see `SendOptions`).
    pub async fn send(
        &self,
        to: String,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] content: JsValue,
        #[wasm_bindgen(js_name = contentType)] content_type: Option<u8>,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        if self.inner.conn.closed.get() {
            return Err(err(Code::Closed, "logged out"));
        }
        let (ct, bytes) = crate::crypto::read_content(&content, content_type)?;
        if ct == 255 {
            return Err(invalid("content type 255 is reserved"));
        }
        let key = idempotency_key(options)?;
        self.inner.send(&to, ct, bytes, key).await
    }

    /// Whether `scanned` (the bytes of the QR code `username` shows) matches your
    /// safety number with that contact. Mark it with `setVerified` when it does.
    #[wasm_bindgen(js_name = matchesQr)]
    pub fn matches_qr(&self, username: String, scanned: Vec<u8>) -> Result<bool, JsValue> {
        self.inner.matches_qr(&username, &scanned)
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

    /// Deletes everything a `Client` stored for `username` in `storage`, without the
    /// password. The account stays on the relay: `login` restores it (as a new device).
    #[wasm_bindgen(js_name = removeAccount)]
    pub async fn remove_account(
        #[wasm_bindgen(unchecked_param_type = "SealpostStorage")] storage: JsValue,
        username: String,
    ) -> Result<(), JsValue> {
        if !storage.is_object() {
            return Err(invalid("storage must implement get/set/delete"));
        }
        let id = Username::parse(&username).or_js()?.user_id();
        persist::remove_account(&storage.unchecked_into(), &id).await
    }

    /// With `autoAck: false`: the app stored these messages (`IncomingMessage.id`), the
    /// client forgets them (they are not given again at the next login).
    pub async fn ack(&self, ids: Vec<String>) -> Result<(), JsValue> {
        let changed = self.inner.with_state(|s| {
            let before = s.inbox.len();
            s.inbox.retain(|m| !ids.contains(&m.id));
            Ok(before != s.inbox.len())
        })?;
        if changed {
            self.inner.store_inbox().await?;
        }
        Ok(())
    }

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

    /// The account's devices: `{ id, name, addedAt, lastSeen, current }[]`.
    #[wasm_bindgen(unchecked_return_type = "Promise<DeviceInfo[]>")]
    pub async fn devices(&self) -> Result<JsValue, JsValue> {
        self.inner.devices().await
    }

    /// Removes a device from the account (a new signed device list): its mailbox is
    /// deleted and contacts stop sealing to it.
    #[wasm_bindgen(js_name = revokeDevice)]
    pub async fn revoke_device(&self, id: String) -> Result<(), JsValue> {
        self.inner.revoke_device(&id).await
    }

    /// The conversation history a device link handed over (once; `null` after, or when
    /// there was none).
    #[wasm_bindgen(js_name = takeLinkedHistory)]
    pub async fn take_linked_history(&self) -> Result<Option<Vec<u8>>, JsValue> {
        let h = self.inner.with_state(|s| Ok(s.history.take()))?;
        if h.is_some() {
            self.inner
                .storage
                .remove(&persist::key(&self.inner.user_id, "history"))
                .await?;
        }
        Ok(h.map(|h| h.to_vec()))
    }

    /// Closes the connection and wipes the keys from memory. With `forget`, also deletes
    /// this account's data from the storage (`login` restores it as a new device).
    pub async fn logout(&self, forget: Option<bool>) -> Result<(), JsValue> {
        let inner = &self.inner;
        let lock = inner.lock.borrow_mut().take();
        inner.shut_down();
        if forget.unwrap_or(false) {
            persist::remove_account(&inner.storage, &inner.user_id).await?;
        }
        if let Some(lock) = lock {
            lock.release().await;
        }
        if !inner.conn.running.get() {
            inner.set_status("closed");
        }
        Ok(())
    }
}
