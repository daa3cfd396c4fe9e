//! Opening an account: `register`, `login` (unlock locally, or join as a new device
//! from the backup), the account lock's hand-over, revoking with the password alone,
//! `removeAccount` and `logout`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sealpost_core::backup::BackupKeys;
use sealpost_core::v2::DeviceKeys;
use sealpost_core::{IdentityKey, UserId, Username};
use sealpost_engine::{Engine, NewDevice, Output};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::backup::Backup;
use super::deposit_socket::DepositSocket;
use super::events::{Events, MessageOut};
use super::options::{Options, get};
use super::persist::{self, BackupRecord};
use super::transport::{Http, global_listener, relay_error};
use super::{Client, Conn, Inner, State, backup, devices, events, session};
use crate::error::{Code, OrJs, core_error_too_large, err, invalid};
use crate::lock::{self, AccountLock};
use crate::rng;
use crate::vault::Vault;

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
    pub(super) fn start(options: &Options, state: State) -> Client {
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
        let http = Http {
            relay: options.relay.clone(),
            timeout_ms: options.request_timeout,
        };
        let deposits = options
            .deposit_socket
            .then(|| http.absolute().ok())
            .flatten()
            .map(|relay| DepositSocket::new(&relay, options.request_timeout));
        let inner = Rc::new(Inner {
            http,
            deposits,
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
            sent_dirty: Cell::new(0),
            seen_dirty: Cell::new(0),
            queued: RefCell::new(Vec::new()),
            draining: Cell::new(false),
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
    pub(super) async fn launch(
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
        let state = State::new_device(engine, vault, Some(backup), None);
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

    /// Opens the account stored here with its `vault` (from the password, or from a
    /// session: `resume`); `backup` gives the backup keys for the stored parameters.
    pub(super) async fn open_stored(
        options: Options,
        id: &UserId,
        vault: Vault,
        // Not generic: one copy of this (large) future for both callers.
        backup: &dyn Fn(&BackupRecord) -> Result<Backup, JsValue>,
    ) -> Result<Client, JsValue> {
        let mut engine = persist::load_engine(&options.storage, &vault, id).await?;
        let seen_dirty = super::seen_store::load(&options.storage, &vault, id, &mut engine).await?;
        let loaded = |n: &'static str| persist::load(&options.storage, &vault, id, n);
        let (sent, sent_dirty) = super::sent_store::load(&options.storage, &vault, id).await?;
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
            Some(r) => Some(backup(&r)?),
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
        client.inner.sent_dirty.set(sent_dirty);
        client.inner.seen_dirty.set(seen_dirty);
        if connect {
            client.connect();
        }
        Ok(client)
    }

    /// The rest of `login`, under the account lock.
    async fn open(options: Options, name: &Username, password: &str) -> Result<Client, JsValue> {
        let id = name.user_id();
        if let Some(header) = options.storage.load(&persist::key(&id, "vault")).await? {
            // With a session (`Client.resume`): the keys it kept, no PBKDF2.
            let (vault, kept) = match &options.session {
                Some(kept) => session::unseal(&header, kept)?,
                None => (Vault::unlock(password, &header)?, None),
            };
            return Client::open_stored(options, &id, vault, &|r| match &kept {
                Some(keys) => Backup::from_kept(r, BackupKeys::from_secret_bytes(keys)),
                None => Backup::from_record(password, &id, r),
            })
            .await;
        }
        if options.session.is_some() {
            return Err(err(Code::NotFound, "this account is not stored here"));
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
        .map_err(|e| {
            core_error_too_large(
                e,
                Code::DeviceLimit,
                "the account has 8 devices: revoke one first (revokeDeviceWithPassword)",
            )
        })?;
        let vault = Vault::create(password, options.iterations)?;
        let connect = options.connect;
        let client = Client::launch(
            options,
            State::new_device(engine, vault, Some(restored.backup), None),
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
    pub(super) async fn locked(
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

pub(super) fn client_http(options: &Options) -> Http {
    Http {
        relay: options.relay.clone(),
        timeout_ms: options.request_timeout,
    }
}

/// The lock's "taken over" flag (never set without a lock).
fn stolen_flag(lock: &Option<AccountLock>) -> Rc<Cell<bool>> {
    lock.as_ref().map_or_else(Rc::default, AccountLock::stolen)
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
