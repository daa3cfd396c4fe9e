//! Linking a device (design 4) through the relay's link channel. The new device shows
//! a code and deposits its hello; the old device reads the code, shows the new device's
//! name and, once the user confirms, deposits the grant (username, identity key,
//! account state, optional history) and publishes the device list with it; the new
//! device joins the account with its own fresh keys.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_net::http::{Method, Response};
use sealpost_core::v2::{DeviceId, DeviceList, LinkCode, LinkGrant, LinkHello, MAX_DEVICES};
use sealpost_core::{EncryptionKey, Username};
use sealpost_engine::account_state::AccountState;
use sealpost_engine::codec::Codec as _;
use sealpost_engine::{Engine, Input, NewDevice};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::account::client_http;
use super::options::{Options, get};
use super::transport::{Http, b64, network, relay_error, sleep};
use super::{Client, Inner, State, devices, persist};
use crate::crypto::hex;
use crate::error::{Code, OrJs, core_error_too_large, err, invalid};
use crate::lock;
use crate::rng;
use crate::vault::Vault;

/// How long a link code is good for (the relay's link channel TTL).
const LINK_TTL_MS: f64 = 10.0 * 60.0 * 1000.0;
/// How long the new device waits for the device list that lists it.
const LIST_WAIT_MS: f64 = 60.0 * 1000.0;

fn channel_path(code: &LinkCode) -> String {
    format!("/v2/links/{}", hex(&code.channel()))
}

/// `Authorization` of slot writes and of the deletion: the code's deletion proof, so
/// only the two devices can delete the channel before it expires (docs/API.md).
fn link_auth(code: &LinkCode) -> String {
    format!("Link {}", b64(&code.delete_proof()))
}

async fn put_slot(http: &Http, code: &LinkCode, slot: &str, body: &[u8]) -> Result<(), JsValue> {
    let resp = http
        .send(
            Method::PUT,
            &format!("{}/{slot}", channel_path(code)),
            Some(body),
            Some(&link_auth(code)),
        )
        .await?;
    match resp.status() {
        201 => Ok(()),
        409 => Err(err(Code::LinkRefused, "this link code was used already")),
        _ => Err(relay_error(resp, Code::Relay).await),
    }
}

async fn get_slot(
    http: &Http,
    code: &LinkCode,
    slot: &str,
    wait: u32,
) -> Result<Option<Vec<u8>>, JsValue> {
    let query = if wait > 0 {
        format!("?wait={wait}")
    } else {
        String::new()
    };
    let resp: Response = http
        .get(&format!("{}/{slot}{query}", channel_path(code)))
        .await?;
    match resp.status() {
        200 => Ok(Some(resp.binary().await.map_err(network)?)),
        404 => Ok(None),
        _ => Err(relay_error(resp, Code::Relay).await),
    }
}

async fn delete_channel(http: &Http, code: &LinkCode) {
    let _ = http
        .send(
            Method::DELETE,
            &channel_path(code),
            None,
            Some(&link_auth(code)),
        )
        .await;
}

/// The new device's half, until the old device answered.
struct Waiting {
    options: Option<Options>,
    code: LinkCode,
    hello: Vec<u8>,
    device_id: DeviceId,
    key: Option<EncryptionKey>,
    started: f64,
    cancelled: bool,
}

/// On the new device: the code to show (or its QR code), and the account once the old
/// device confirmed (`wait()`).
#[wasm_bindgen]
pub struct PendingLink {
    http: Http,
    state: Rc<RefCell<Waiting>>,
    code: String,
}

impl std::fmt::Debug for PendingLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLink(<redacted>)")
    }
}

#[wasm_bindgen]
impl PendingLink {
    /// The code to type on the old device: 20 characters (A-Z, 2-7), shown in groups.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.code.clone()
    }

    /// What to show as a QR code: the code's characters (UTF-8).
    #[wasm_bindgen(getter, js_name = qrPayload)]
    pub fn qr_payload(&self) -> Vec<u8> {
        self.code.replace('-', "").into_bytes()
    }

    /// Resolves with the logged-in `Client` once the old device confirmed (the history it
    /// sent, if any: `client.takeLinkedHistory()`). `LINK_EXPIRED` after 10 minutes;
    /// `LINK_REFUSED` when the old device (or `cancel()`) cancelled.
    pub async fn wait(&self) -> Result<Client, JsValue> {
        let grant = loop {
            let (code, started, cancelled) = {
                let s = self.state.borrow();
                (s.code.clone(), s.started, s.cancelled)
            };
            if cancelled {
                return Err(err(Code::LinkRefused, "the link was cancelled"));
            }
            if js_sys::Date::now() - started > LINK_TTL_MS {
                return Err(err(Code::LinkExpired, "the link code expired"));
            }
            let asked = js_sys::Date::now();
            if let Some(g) = get_slot(&self.http, &code, "grant", 5).await? {
                break g;
            }
            // A relay that answers at once (too many long polls) is asked again gently.
            if js_sys::Date::now() - asked < 1000.0 {
                sleep(1000).await;
            }
            // The channel is gone (deleted by the other side): refused.
            if get_slot(&self.http, &code, "hello", 0).await?.is_none() {
                return Err(err(
                    Code::LinkRefused,
                    "the link was cancelled on the other device",
                ));
            }
        };
        let (options, code, hello, device_id, key) = {
            let mut s = self.state.borrow_mut();
            let options = s
                .options
                .take()
                .ok_or_else(|| invalid("wait() was called already"))?;
            let key = s
                .key
                .take()
                .ok_or_else(|| invalid("wait() was called already"))?;
            (options, s.code.clone(), s.hello.clone(), s.device_id, key)
        };
        let opened = LinkGrant::open(&code, &hello, &grant).or_js()?;
        delete_channel(&self.http, &code).await;
        join_linked(options, opened, device_id, key).await
    }

    /// Gives up: the channel is deleted, `wait()` rejects with `LINK_REFUSED`.
    pub async fn cancel(&self) {
        let code = {
            let mut s = self.state.borrow_mut();
            s.cancelled = true;
            s.code.clone()
        };
        delete_channel(&self.http, &code).await;
    }
}

/// The new device joins with the grant: its own keys, the list the old device published.
async fn join_linked(
    options: Options,
    grant: LinkGrant,
    device_id: DeviceId,
    key: EncryptionKey,
) -> Result<Client, JsValue> {
    let http = client_http(&options);
    let user = grant.username.user_id();
    let password = options
        .password
        .clone()
        .ok_or_else(|| invalid("options.password is required"))?;
    let keys = sealpost_core::v2::DeviceKeys::from_key(
        &mut rng(),
        &grant.identity,
        user,
        device_id,
        key,
        options.now(),
    )
    .or_js()?;
    // The old device publishes the list with this device after depositing the grant.
    let started = js_sys::Date::now();
    let list = loop {
        let bytes = devices::fetch_list(&http, &user).await?;
        if DeviceList::from_bytes(&bytes).is_ok_and(|l| l.contains(&device_id)) {
            break bytes;
        }
        if js_sys::Date::now() - started > LIST_WAIT_MS {
            return Err(err(
                Code::LinkRefused,
                "the other device did not add this one to the account",
            ));
        }
        sleep(500).await;
    };
    let account = AccountState::from_bytes(&grant.account_state).unwrap_or_default();
    let history = (!grant.history.is_empty()).then(|| Zeroizing::new(grant.history.to_vec()));
    let username: Username = grant.username.clone();
    let identity_spki = grant.identity.public().to_spki_der().to_vec();
    let lock = lock::acquire(&lock::name(&user.to_hex()), options.take_over).await?;
    let opened = async {
        let (engine, outputs) = Engine::join_account(
            &mut rng(),
            NewDevice {
                username,
                identity: grant.identity,
                keys,
                name: options.device_name.clone(),
            },
            &list,
            account,
            options.now(),
        )
        .map_err(devices::list_error)?;
        let vault = Vault::create(&password, options.iterations)?;
        // The backup keys, so this device can update the backup: only when `password`
        // opens the account's backup (another password must never replace it).
        let backup = match super::backup::restore(&http, &user, &password).await {
            Ok(r) if r.identity.public().to_spki_der() == identity_spki.as_slice() => {
                Some(r.backup)
            }
            _ => None,
        };
        let connect = options.connect;
        let client = Client::launch(
            options,
            State::new_device(engine, vault, backup, history),
            Vec::new(),
        )
        .await?;
        Ok::<_, JsValue>((client, connect, outputs))
    }
    .await;
    let opened = match opened {
        Ok((client, connect, outputs)) => {
            let inner = Rc::clone(&client.inner);
            let published = async {
                inner.store_history().await?;
                let batch = inner.apply(outputs, inner.now()).await?;
                if let Some(r) = batch.published.into_iter().next() {
                    r?;
                }
                Ok::<_, JsValue>(())
            }
            .await;
            match published {
                Ok(()) => {
                    if connect {
                        client.connect();
                    }
                    Ok(client)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    Client::locked(opened, lock).await
}

/// On the old device: what a new device's code asks, until the user confirms.
#[wasm_bindgen]
pub struct LinkApproval {
    inner: Rc<Inner>,
    code: LinkCode,
    hello: LinkHello,
    sealed_hello: Vec<u8>,
    /// Until confirmed or cancelled.
    open: Cell<bool>,
}

impl std::fmt::Debug for LinkApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkApproval")
            .field("device", &self.hello.device_id)
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl LinkApproval {
    /// The name the new device gave itself (show it before confirming).
    #[wasm_bindgen(getter, js_name = deviceName)]
    pub fn device_name(&self) -> String {
        self.hello.name.clone()
    }

    /// Adds the device: hands it the account (and `options.history`, bytes the app
    /// chooses, e.g. its encrypted message history) and publishes the device list with
    /// it. `DEVICE_LIMIT` when the account has 8 devices.
    pub async fn confirm(
        &self,
        #[wasm_bindgen(unchecked_param_type = "{ history?: Uint8Array }")] options: Option<
            js_sys::Object,
        >,
    ) -> Result<(), JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let inner = &self.inner;
        let full = inner.with_engine(|e| Ok(e.devices().len() >= MAX_DEVICES))?;
        if full {
            return Err(err(
                Code::DeviceLimit,
                "the account has 8 devices: revoke one first",
            ));
        }
        if !self.open.get() {
            return Err(invalid("this link was confirmed or cancelled already"));
        }
        let history = if options.is_object() {
            get(&options, "history")
                .dyn_into::<js_sys::Uint8Array>()
                .ok()
                .map(|h| Zeroizing::new(h.to_vec()))
        } else {
            None
        };
        // The engine seals the grant with the history: the identity key never leaves it.
        let (grant, _) = inner.with_engine(|e| {
            e.link_grant(
                &mut rng(),
                &self.code,
                &self.sealed_hello,
                history.as_deref().map_or(&[], |h| &h[..]),
            )
            .map_err(|e| {
                core_error_too_large(
                    e,
                    Code::TooLarge,
                    "the history does not fit in a link (at most 1 MiB with the account state)",
                )
            })
        })?;
        // Still open after a refused history: the app may confirm without it.
        self.open.set(false);
        put_slot(&inner.http, &self.code, "grant", &grant).await?;
        let entry = Engine::link_entry(&self.hello, inner.now());
        inner.device_op(Input::AddDevice { entry }).await
    }

    /// Refuses: the new device's `wait()` rejects with `LINK_REFUSED`.
    pub async fn cancel(&self) {
        self.open.set(false);
        delete_channel(&self.inner.http, &self.code).await;
    }
}

impl Inner {
    /// Stores the history a link handed over until the app takes it.
    pub(crate) async fn store_history(&self) -> Result<(), JsValue> {
        let h = self.with_state(|s| Ok(s.history.clone()))?;
        match h {
            Some(h) => self.store("history", &h).await,
            None => Ok(()),
        }
    }
}

#[wasm_bindgen]
impl Client {
    /// Starts linking this browser as a new device of an account open on another device:
    /// shows `code` (or `qrPayload` as a QR code) for the other device's `approveLink`,
    /// then `wait()` resolves with the logged-in `Client`. `options.password` (the
    /// account's password) encrypts this browser's copy, so `login` unlocks it later.
    #[wasm_bindgen(js_name = startLink)]
    pub async fn start_link(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
        #[wasm_bindgen(js_name = deviceName)] device_name: Option<String>,
    ) -> Result<PendingLink, JsValue> {
        let mut options = Options::read(&options)?;
        if let Some(n) = device_name {
            options.device_name =
                super::options::truncate_utf8(&n, sealpost_core::v2::MAX_DEVICE_NAME_LEN);
        }
        if options.password.is_none() {
            return Err(invalid(
                "options.password is required: it encrypts this browser's copy of the account",
            ));
        }
        let http = client_http(&options);
        let size = crate::crypto::key_size(options.key_size)?;
        options.progress(0, 1);
        let key = EncryptionKey::generate(&mut rng(), size).or_js()?;
        options.progress(1, 1);
        let code = LinkCode::generate(&mut rng());
        let device_id = DeviceId::generate(&mut rng());
        let hello = LinkHello {
            device_id,
            name: options.device_name.clone(),
            encryption_key: key.public(),
        }
        .seal(&mut rng(), &code)
        .or_js()?;
        put_slot(&http, &code, "hello", &hello).await?;
        let shown = code.grouped().to_string();
        Ok(PendingLink {
            http,
            code: shown,
            state: Rc::new(RefCell::new(Waiting {
                options: Some(options),
                code,
                hello,
                device_id,
                key: Some(key),
                started: js_sys::Date::now(),
                cancelled: false,
            })),
        })
    }

    /// On a device of the account: reads a new device's link `code` (typed, or the text
    /// of its QR code) and returns what it asks (`deviceName`); `confirm()` adds it.
    /// `LINK_EXPIRED` when there is no such code (expired or cancelled).
    #[wasm_bindgen(js_name = approveLink)]
    pub async fn approve_link(&self, code: String) -> Result<LinkApproval, JsValue> {
        let code = LinkCode::parse(&code).map_err(|_| invalid("not a link code"))?;
        let inner = Rc::clone(&self.inner);
        let Some(sealed_hello) = get_slot(&inner.http, &code, "hello", 5).await? else {
            return Err(err(
                Code::LinkExpired,
                "no such link code (expired or cancelled)",
            ));
        };
        let hello = LinkHello::open(&code, &sealed_hello).map_err(|_| {
            err(
                Code::LinkRefused,
                "the new device's request does not open with this code",
            )
        })?;
        Ok(LinkApproval {
            inner,
            code,
            hello,
            sealed_hello,
            open: Cell::new(true),
        })
    }
}

#[wasm_bindgen]
impl Client {
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
}
