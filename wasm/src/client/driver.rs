//! The driver proper: one input at a time into the engine, its outputs carried out in
//! the order the engine gives them (persist, tell the app, publish, deposit, acknowledge).
//! Network outputs run as tasks whose answers come back as inputs.

use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::FutureExt as _;
use futures_util::future::LocalBoxFuture;
use futures_util::future::Shared;
use gloo_net::http::Method;
use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;
use sealpost_engine::{DepositHandle, Engine, Input, MsgId, Notice, Output, Part, SecurityKind};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::events::MessageOut;
use super::options::get;
use super::persist::{self, Pairs as _, part_name};
use super::transport::{Out, json_with_ids, network, relay_error, retryable, sleep, unb64};
use super::{Inner, State};
use crate::error::{Code, err};
use crate::rng;

/// Most delivered messages kept for an app that acknowledges itself (`autoAck: false`).
const MAX_INBOX: usize = 1000;

/// Most inputs of [`Inner::feed_later`] stored in one write (a burst of pushed blobs:
/// the first message of the burst waits for no more than this many).
const MAX_FED_TOGETHER: usize = 32;

/// The outcome of one deposit, for the `send` that caused it (`Ok` also when the relay
/// refused it for good: the engine moves on).
pub(crate) type DepositResult = Shared<oneshot::Receiver<Result<(), JsValue>>>;

/// What one batch of outputs did, for the caller that fed the input.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) deliveries: Vec<(MsgId, usize, usize)>,
    pub(crate) send_failed: Vec<(MsgId, sealpost_engine::SendError)>,
    pub(crate) deposits: Vec<DepositResult>,
    pub(crate) list_refused: Vec<sealpost_core::Error>,
    pub(crate) published: Vec<Result<(), JsValue>>,
    pub(crate) lookups: Vec<(UserId, sealpost_engine::LookupOutcome)>,
    /// Groups this account changed (created) in the batch.
    #[cfg(feature = "groups")]
    pub(crate) groups_changed: Vec<sealpost_core::v2::GroupId>,
    /// This account's group requests the engine refused.
    #[cfg(feature = "groups")]
    pub(crate) groups_refused: Vec<sealpost_core::v2::group::GroupError>,
}

impl Inner {
    pub(crate) fn with_state<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, JsValue>,
    ) -> Result<T, JsValue> {
        let mut guard = self.state.borrow_mut();
        let state = guard
            .as_mut()
            .ok_or_else(|| err(Code::Closed, "logged out"))?;
        f(state)
    }

    pub(crate) fn with_engine<T>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<T, JsValue>,
    ) -> Result<T, JsValue> {
        self.with_state(|s| f(&mut s.engine))
    }

    /// The v2 WebSocket answer (the engine signs `device || challenge`).
    pub(crate) fn sign_challenge(&self, challenge: &[u8]) -> Result<Vec<u8>, JsValue> {
        self.with_engine(|e| {
            e.sign_challenge(&mut rng(), challenge)
                .map_err(crate::error::core_error)
        })
    }

    /// A request signed by the account's identity key (the engine signs).
    pub(crate) fn signed<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<&'a [u8]>,
    ) -> LocalBoxFuture<'a, Result<gloo_net::http::Response, JsValue>> {
        Box::pin(
            self.http
                .signed(method, path, body, move |method, ts, nonce| {
                    self.with_engine(|e| {
                        e.sign_request(&mut rng(), method, path, body.unwrap_or(&[]), ts, nonce)
                            .map_err(crate::error::core_error)
                    })
                }),
        )
    }

    /// The engine's time now (`ClientOptions.clock`, else the real clock).
    pub(crate) fn now(&self) -> u64 {
        super::options::clock_now(self.clock.as_ref())
    }

    /// Feeds one input and carries out what follows; one input at a time. (Boxed: one
    /// copy of the output loop in the module, not one per caller.)
    pub(crate) fn feed(
        self: &Rc<Self>,
        input: Input,
    ) -> LocalBoxFuture<'static, Result<Batch, JsValue>> {
        let me = Rc::clone(self);
        Box::pin(async move {
            let _turn = me.pump.lock().await;
            let now = me.now();
            let outputs = me.with_engine(|e| Ok(e.handle(&mut rng(), now, input)))?;
            me.apply(outputs, now).await
        })
    }

    /// Feeds an input whose caller does not wait for its batch (a pushed blob, a
    /// deposit's answer). Inputs that arrive while a batch is being stored wait here and
    /// go in together: the engine takes them one after another, and what they changed is
    /// stored in ONE write, before any of their acknowledgements (`apply`). Fed one by
    /// one, a burst of messages cost one IndexedDB commit each, in a row.
    pub(crate) fn feed_later(self: &Rc<Self>, input: Input) {
        self.queued.borrow_mut().push(input);
        if self.draining.replace(true) {
            return;
        }
        let me = Rc::clone(self);
        spawn_local(async move {
            loop {
                let _turn = me.pump.lock().await;
                let inputs: Vec<Input> = {
                    let mut queued = me.queued.borrow_mut();
                    let n = queued.len().min(MAX_FED_TOGETHER);
                    queued.drain(..n).collect()
                };
                if inputs.is_empty() {
                    me.draining.set(false);
                    return;
                }
                let now = me.now();
                let outputs = me.with_engine(|e| {
                    let mut outputs = Vec::new();
                    for input in inputs {
                        outputs.extend(e.handle(&mut rng(), now, input));
                    }
                    Ok(outputs)
                });
                if let Ok(outputs) = outputs {
                    let _ = me.apply(outputs, now).await;
                }
            }
        });
    }

    /// Seals `value` under `name` and stores it.
    pub(crate) async fn store(&self, name: &str, value: &[u8]) -> Result<(), JsValue> {
        let sealed = self.with_state(|s| s.vault.seal_raw(&format!("v2/{name}"), value))?;
        self.storage
            .save(&persist::key(&self.user_id, name), &sealed)
            .await
    }

    /// The storage entry of an engine part: its key and its sealed bytes.
    fn part_entry(&self, part: Part) -> Result<(String, Vec<u8>), JsValue> {
        let sealed = self.with_state(|s| {
            let bytes = s.engine.save(part).map_err(crate::error::core_error)?;
            s.vault.seal_raw(&format!("v2/{}", part_name(part)), &bytes)
        })?;
        Ok((persist::key(&self.user_id, part_name(part)), sealed))
    }

    /// Stores every part (a new device).
    pub(crate) async fn persist_all(&self) -> Result<(), JsValue> {
        let header = self.with_state(|s| Ok(s.vault.header()))?;
        let mut entries = vec![(persist::key(&self.user_id, "vault"), header)];
        for part in Part::ALL {
            entries.push(self.part_entry(part)?);
        }
        self.storage.save_all(&entries).await?;
        self.store_backup_record().await
    }

    /// The storage entry of the messages kept for the app (`autoAck: false`).
    fn inbox_entry(&self) -> Result<(String, Vec<u8>), JsValue> {
        let sealed = self.with_state(|s| {
            let stored: Vec<_> = s.inbox.iter().map(MessageOut::stored).collect();
            s.vault.seal_raw("v2/inbox", &persist::to_json(&stored)?)
        })?;
        Ok((persist::key(&self.user_id, "inbox"), sealed))
    }

    pub(crate) async fn store_inbox(&self) -> Result<(), JsValue> {
        let (key, sealed) = self.inbox_entry()?;
        self.storage.save(&key, &sealed).await
    }

    /// Stores what one batch changed in ONE write (`setMany`): the engine's parts and,
    /// with `autoAck` off, the messages it delivers (kept until the app acknowledges
    /// them). Written one by one, a tab closed after the session part landed lost the
    /// message: its counter was spent, the seen-set or the kept copy was not stored,
    /// and the blob, coming again, was dropped as a replay.
    /// The idempotency records of `send` go with the batch too: a record (and the
    /// news that its message was sealed) lands with the outbox that holds the message.
    /// The seen-set goes as the records that changed (`seen_store`), not whole.
    async fn persist_batch(&self, outputs: &[Output]) -> Result<(), JsValue> {
        let mut entries = Vec::new();
        let mut parts: Vec<Part> = Vec::new();
        for output in outputs {
            match output {
                Output::Persist(Part::Seen) => {}
                // Once each, however many inputs of the batch changed it.
                Output::Persist(part) if !parts.contains(part) => {
                    parts.push(*part);
                    entries.push(self.part_entry(*part)?);
                }
                Output::DeliveryUpdate {
                    msg_id,
                    delivered,
                    total,
                } => self.update_sent(msg_id, *delivered, *total),
                _ => {}
            }
        }
        let sends = self.sent_dirty.get();
        if sends != 0 {
            entries.extend(self.with_state(|s| {
                super::sent_store::entries(&s.vault, &self.user_id, &s.sent, sends)
            })?);
        }
        let seen =
            self.seen_dirty.get() | u32::from(self.with_engine(|e| Ok(e.take_seen_changes()))?);
        self.seen_dirty.set(seen);
        if seen != 0 {
            entries.extend(self.with_state(|s| {
                super::seen_store::entries(&s.vault, &self.user_id, &s.engine, seen)
            })?);
        }
        if !self.auto_ack {
            let delivered: Vec<MessageOut> = outputs
                .iter()
                .filter_map(|o| match o {
                    Output::Deliver(m) => Some(MessageOut::from_engine(m.clone())),
                    _ => None,
                })
                .collect();
            if !delivered.is_empty() {
                self.with_state(|s| {
                    for m in delivered {
                        // Bounded: an app that never acknowledges loses the oldest
                        // copies here (it was given them), not memory or storage.
                        if s.inbox.len() >= MAX_INBOX {
                            s.inbox.remove(0);
                        }
                        s.inbox.push(m);
                    }
                    Ok(())
                })?;
                entries.push(self.inbox_entry()?);
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        self.sent_dirty.set(self.sent_dirty.get() & !sends);
        self.seen_dirty.set(self.seen_dirty.get() & !seen);
        let saved = self.storage.save_all(&entries).await;
        if saved.is_err() {
            // Written again with the next batch.
            self.sent_dirty.set(self.sent_dirty.get() | sends);
            self.seen_dirty.set(self.seen_dirty.get() | seen);
        }
        saved
    }

    /// Carries out one batch of engine outputs, in order.
    pub(crate) async fn apply(
        self: &Rc<Self>,
        outputs: Vec<Output>,
        now: u64,
    ) -> Result<Batch, JsValue> {
        let mut batch = Batch::default();
        let failed: Option<JsValue> = self.persist_batch(&outputs).await.err();
        let mut acks = Vec::new();
        for output in outputs {
            match output {
                Output::Persist(part) => {
                    if part == Part::Account {
                        self.backup_soon();
                    }
                }
                Output::FetchDirectory { user } => self.fetch_directory_soon(user),
                Output::Deposit {
                    to,
                    device,
                    envelope,
                    handle,
                } => batch
                    .deposits
                    .push(self.deposit_soon(to, device, envelope, handle)),
                #[cfg(feature = "groups")]
                Output::DepositMany { to, blob, handle } => {
                    self.deposit_many_soon(to, blob, handle)
                }
                #[cfg(feature = "groups")]
                Output::DeliverGroup(m) => {
                    let name = self.name_of(&m.from).unwrap_or_default();
                    self.emit_message(&MessageOut::from_group(m, name));
                }
                #[cfg(feature = "groups")]
                Output::GroupChanged {
                    group,
                    actor,
                    change,
                    epoch,
                } => {
                    if actor == self.user_id {
                        batch.groups_changed.push(group);
                    }
                    self.emit_group_changed(&group, &actor, &change, epoch, now);
                }
                // An engine without groups emits none of these.
                #[cfg(not(feature = "groups"))]
                Output::DepositMany { .. }
                | Output::DeliverGroup(_)
                | Output::GroupChanged { .. } => {}
                Output::Ack { blob_id } => {
                    // Never before what the blob changed is stored: it comes back.
                    if failed.is_none() {
                        acks.push(blob_id);
                    }
                }
                Output::Deliver(m) => {
                    let out = MessageOut::from_engine(m);
                    if let Ok(u) = sealpost_core::Username::parse(&out.from_username) {
                        self.names
                            .borrow_mut()
                            .put(u.user_id(), out.from_username.clone());
                    }
                    // Kept for the app by `persist_batch` (with `autoAck` off).
                    self.emit_message(&out);
                }
                Output::DeliveryUpdate {
                    msg_id,
                    delivered,
                    total,
                } => {
                    self.emit_delivery(&crate::crypto::hex(&msg_id.0), delivered, total);
                    batch.deliveries.push((msg_id, delivered, total));
                }
                Output::Notice(n) => {
                    match &n {
                        Notice::SendFailed { msg_id, error } => {
                            batch.send_failed.push((*msg_id, *error));
                        }
                        Notice::DeviceListRefused { error } => batch.list_refused.push(*error),
                        #[cfg(feature = "groups")]
                        Notice::GroupRefused {
                            from: Some(from),
                            error,
                            ..
                        } if *from == self.user_id => batch.groups_refused.push(*error),
                        Notice::SecurityEvent {
                            kind: SecurityKind::DeviceRevoked,
                            ..
                        } => {
                            let me = Rc::clone(self);
                            spawn_local(async move { me.revoked().await });
                        }
                        _ => {}
                    }
                    self.emit_notice(&n, now);
                }
                Output::PublishDeviceList(bytes) => {
                    batch.published.push(self.publish_list(&bytes).await);
                }
                Output::LookupDone { user, outcome, .. } => {
                    batch.lookups.push((user, outcome));
                }
                o @ (Output::DirectStart { .. }
                | Output::DirectSignal { .. }
                | Output::DirectFrame { .. }
                | Output::DirectState { .. }
                | Output::CallState { .. }
                | Output::CallMedia { .. }) => self.direct_output(o, failed.is_none()),
                Output::PublishBundle(bytes) => {
                    if let Err(e) = self.publish_bundle(&bytes).await {
                        self.emit_error(
                            Code::Relay,
                            &format!(
                                "publishing this device's keys failed: {}",
                                crate::error::code_of(&e).unwrap_or_default()
                            ),
                            None,
                        );
                    }
                }
            }
        }
        if !acks.is_empty() {
            // One frame for the batch's blobs, after the write that holds them.
            self.ack_soon(acks);
        }
        self.settle_sends(&batch);
        self.settle_lookups(&batch);
        self.settle_device_ops(&batch);
        match failed {
            Some(e) => {
                self.emit_error(
                    Code::Storage,
                    &format!(
                        "storing failed: {}",
                        crate::error::code_of(&e).unwrap_or_default()
                    ),
                    None,
                );
                Err(e)
            }
            None => Ok(batch),
        }
    }

    /// PUTs the account's signed device list.
    pub(crate) async fn publish_list(self: &Rc<Self>, list: &[u8]) -> Result<(), JsValue> {
        let path = format!("/v2/users/{}/devices", self.user_id.to_hex());
        let resp = self.http.send(Method::PUT, &path, Some(list), None).await?;
        match resp.status() {
            200 | 201 => Ok(()),
            409 => {
                // Another device published a newer list: take it in.
                self.fetch_directory_soon(self.user_id);
                Err(relay_error(resp, Code::AlreadyRegistered).await)
            }
            _ => Err(relay_error(resp, Code::Relay).await),
        }
    }

    /// PUTs this device's signed bundle.
    pub(crate) async fn publish_bundle(&self, bundle: &[u8]) -> Result<(), JsValue> {
        let path = format!(
            "/v2/users/{}/devices/{}/bundle",
            self.user_id.to_hex(),
            self.device_id.to_hex()
        );
        let resp = self.signed(Method::PUT, &path, Some(bundle)).await?;
        match resp.status() {
            200 | 201 => Ok(()),
            _ => Err(relay_error(resp, Code::Stale).await),
        }
    }

    /// Deposits an envelope into a device's mailbox (over the deposit socket, else a
    /// POST), then tells the engine.
    fn deposit_soon(
        self: &Rc<Self>,
        to: UserId,
        device: DeviceId,
        envelope: Vec<u8>,
        handle: DepositHandle,
    ) -> DepositResult {
        let (tx, rx) = oneshot::channel();
        let me = Rc::clone(self);
        spawn_local(async move {
            let over_socket = match &me.deposits {
                Some(socket) => socket.deposit(&to, &device, &envelope).await,
                None => None,
            };
            let result = match over_socket {
                Some(answer) => answer,
                None => me.post_deposit(&to, &device, &envelope).await,
            };
            let (input, answer) = match result {
                Ok(()) => (Input::DepositDone { handle }, Ok(())),
                Err(e) if retryable(&e) => (Input::DepositFailed { handle }, Err(e)),
                // Refused for good (a device that left its account, a full mailbox that
                // says so is retryable above): the engine re-sends on device changes.
                Err(_) => (Input::DepositDone { handle }, Ok(())),
            };
            let _ = tx.send(answer);
            me.feed_later(input);
        });
        rx.shared()
    }

    /// `POST /v2/mailboxes/{id}/{device}`: the deposit without the deposit socket.
    async fn post_deposit(
        &self,
        to: &UserId,
        device: &DeviceId,
        envelope: &[u8],
    ) -> Result<(), JsValue> {
        let path = format!("/v2/mailboxes/{}/{}", to.to_hex(), device.to_hex());
        match self
            .http
            .send(Method::POST, &path, Some(envelope), None)
            .await
        {
            Ok(r) if r.status() == 201 => Ok(()),
            Ok(r) => Err(relay_error(r, Code::Relay).await),
            Err(e) => Err(e),
        }
    }

    #[cfg(feature = "groups")]
    /// Posts a group message to every listed mailbox in one multi-recipient deposit
    /// (`POST /v2/mailboxes`, docs/API.md), then tells the engine which mailboxes
    /// refused it (retried on a tick) or that the request failed.
    fn deposit_many_soon(
        self: &Rc<Self>,
        to: Vec<(UserId, DeviceId)>,
        blob: Vec<u8>,
        handle: DepositHandle,
    ) {
        let me = Rc::clone(self);
        spawn_local(async move {
            let mut body = u16::try_from(to.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes()
                .to_vec();
            for (user, device) in &to {
                body.extend_from_slice(user.as_bytes());
                body.extend_from_slice(device.as_bytes());
            }
            body.extend_from_slice(&blob);
            let sent = me
                .http
                .send(Method::POST, "/v2/mailboxes", Some(&body), None)
                .await;
            let input = match sent {
                Ok(r) if r.status() == 201 => {
                    let answer = r
                        .text()
                        .await
                        .ok()
                        .and_then(|t| js_sys::JSON::parse(&t).ok());
                    let refused = answer
                        .map(|a| js_sys::Array::from(&get(&a, "refused")))
                        .map(|list| {
                            list.iter()
                                .filter_map(|e| get(&e, "index").as_f64())
                                .filter_map(|i| to.get(i as usize).copied())
                                .collect()
                        })
                        .unwrap_or_default();
                    Input::DepositManyDone { handle, refused }
                }
                _ => Input::DepositFailed { handle },
            };
            let _ = me.feed(input).await;
        });
    }

    /// Fetches `user`'s device list and bundles, retrying with backoff while the relay
    /// cannot be reached (sends waiting for it fail with `NETWORK` meanwhile).
    pub(crate) fn fetch_directory_soon(self: &Rc<Self>, user: UserId) {
        if self.fetching.borrow().contains(&user) {
            return;
        }
        self.fetching.borrow_mut().push(user);
        let me = Rc::clone(self);
        spawn_local(async move {
            let mut delay = 1000;
            loop {
                if me.conn.closed.get() {
                    break;
                }
                match me.fetch_directory(&user).await {
                    Ok(answer) => {
                        me.fetching.borrow_mut().retain(|u| *u != user);
                        me.fetched_at.borrow_mut().put(user, me.now());
                        let input = match answer {
                            Some((device_list, bundles)) => Input::DirectoryFetched {
                                user,
                                device_list,
                                bundles,
                            },
                            None => Input::DirectoryMissing { user },
                        };
                        let _ = me.feed(input).await;
                        return;
                    }
                    Err(e) => {
                        me.fail_sends_to(&user, &e);
                        me.fail_lookups(&user, &e);
                        if user == me.user_id {
                            me.fail_device_ops(&e);
                        }
                        sleep(delay).await;
                        delay = (delay * 2).min(60_000);
                    }
                }
            }
            me.fetching.borrow_mut().retain(|u| *u != user);
        });
    }

    /// Gives the engine a fresh directory answer for `user` when this driver's is older
    /// than `max_age` seconds (errors are left to the engine's own fetch).
    pub(crate) async fn refresh(self: &Rc<Self>, user: UserId, max_age: u64) {
        let now = self.now();
        let last = self.fetched_at.borrow().find(&user).copied();
        if last.is_some_and(|t| now.saturating_sub(t) < max_age) {
            return;
        }
        if let Ok(Some((device_list, bundles))) = self.fetch_directory(&user).await {
            self.fetched_at.borrow_mut().put(user, now);
            let _ = self
                .feed(Input::DirectoryFetched {
                    user,
                    device_list,
                    bundles,
                })
                .await;
        }
    }

    /// `GET /v2/users/{id}/bundles`: the list and bundles, `None` when there is no such
    /// account. A `200` that does not parse is the relay's answer, not a failure to reach
    /// it: an empty list, which the engine reports as `BadDirectory` and its upkeep asks
    /// again only after an hour (PROTOCOL.md 18.1 "Lookups"); retried here with the
    /// network errors, it was asked for every minute, for ever.
    pub(crate) async fn fetch_directory(
        &self,
        user: &UserId,
    ) -> Result<Option<(Vec<u8>, Vec<Vec<u8>>)>, JsValue> {
        let resp = self
            .http
            .get(&format!("/v2/users/{}/bundles", user.to_hex()))
            .await?;
        match resp.status() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(relay_error(resp, Code::Relay).await),
        }
        let text = resp.text().await.map_err(network)?;
        Ok(Some(parse_listing(&text).unwrap_or_default()))
    }

    /// Acknowledges blobs: over the WebSocket when online, else with a signed POST.
    pub(crate) fn ack_soon(self: &Rc<Self>, ids: Vec<String>) {
        let sender = self.conn.ws_out.borrow().clone();
        if let (Some(tx), "online") = (sender, self.conn.status.get()) {
            let text = json_with_ids(Some("ack"), &ids);
            if tx.unbounded_send(Out::Text(text)).is_ok() {
                return;
            }
        }
        let me = Rc::clone(self);
        spawn_local(async move {
            // Not acknowledged: the blob comes again and the engine drops it as a replay.
            let _ = me.http_ack(&ids).await;
        });
    }

    async fn http_ack(&self, ids: &[String]) -> Result<(), JsValue> {
        let body = json_with_ids(None, ids).into_bytes();
        let path = format!(
            "/v2/mailboxes/{}/{}/ack",
            self.user_id.to_hex(),
            self.device_id.to_hex()
        );
        let resp = self.signed(Method::POST, &path, Some(&body)).await?;
        if resp.status() != 204 {
            return Err(relay_error(resp, Code::Relay).await);
        }
        Ok(())
    }

    /// A blob from the WebSocket: fed with the others that arrive meanwhile.
    pub(crate) fn blob_received(self: &Rc<Self>, blob_id: String, data: &str) {
        match unb64(data) {
            Ok(bytes) => self.feed_later(Input::BlobReceived { blob_id, bytes }),
            Err(_) => {
                self.emit_error(Code::Malformed, "undecodable blob", Some(&blob_id));
                self.ack_soon(vec![blob_id]);
            }
        }
    }

    /// The connection is up: retries, notices and expiry now (and, once per login, the
    /// backup, in case its last upload did not happen).
    pub(crate) fn online(self: &Rc<Self>) {
        if !self.backup_checked.replace(true) {
            self.backup_soon();
        }
        let me = Rc::clone(self);
        spawn_local(async move {
            let _ = me.feed(Input::Tick).await;
        });
    }

    /// Drives `Input::Tick` every minute until logout.
    pub(crate) fn start_ticker(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            loop {
                sleep(60_000).await;
                let Some(me) = weak.upgrade() else { return };
                if me.conn.closed.get() {
                    return;
                }
                let _ = me.feed(Input::Tick).await;
            }
        });
    }

    /// Whether the directory still lists this device (after an `unauthorized`).
    pub(crate) fn check_revoked(self: &Rc<Self>) {
        self.fetch_directory_soon(self.user_id);
    }

    /// This device was removed from the account: stop, wipe the keys and the local copy.
    pub(crate) async fn revoked(self: &Rc<Self>) {
        if self.conn.closed.get() {
            return;
        }
        self.emit_error(
            Code::DeviceRevoked,
            "this device was removed from the account",
            None,
        );
        self.shut_down();
        let _ = persist::remove_account(&self.storage, &self.user_id).await;
        if let Some(lock) = self.lock.borrow_mut().take() {
            drop(lock);
        }
        if !self.conn.running.get() {
            self.set_status("closed");
        }
    }
}

/// The list and bundles of a directory answer's body; `None` when it does not parse.
fn parse_listing(text: &str) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let listing = js_sys::JSON::parse(text).ok()?;
    let list = unb64(&get(&listing, "list").as_string()?).ok()?;
    let bundles = js_sys::Array::from(&get(&listing, "bundles"))
        .iter()
        .filter_map(|b| get(&b, "bundle").as_string())
        .filter_map(|b| unb64(&b).ok())
        .collect();
    Some((list, bundles))
}
