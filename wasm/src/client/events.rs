//! What the client tells the app: messages (listeners, or a queue for `nextMessage`),
//! delivery updates, notices, connection status and background errors.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use js_sys::{Function, Promise};
use sealpost_core::UserId;
#[cfg(feature = "groups")]
use sealpost_core::v2::GroupId;
#[cfg(feature = "groups")]
use sealpost_core::v2::group::Change;
#[cfg(feature = "groups")]
use sealpost_engine::IncomingGroupMessage;
use sealpost_engine::{IncomingMessage, Notice, SecurityKind};
use serde::Serialize;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

use super::persist::Pairs as _;
use super::{Client, Inner};
use crate::crypto::{Bytes, hex, to_js};
use crate::error::Code;

#[derive(Default)]
pub(crate) struct Listeners {
    pub(crate) message: Vec<Function>,
    pub(crate) status: Vec<Function>,
    pub(crate) error: Vec<Function>,
    pub(crate) delivery: Vec<Function>,
    pub(crate) notice: Vec<Function>,
    pub(crate) direct: Vec<Function>,
}

/// The app-facing event state.
#[derive(Default)]
pub(crate) struct Events {
    pub(crate) listeners: RefCell<Listeners>,
    pub(crate) queue: RefCell<VecDeque<JsValue>>,
    pub(crate) waiters: RefCell<VecDeque<Function>>,
    pub(crate) iterating: Cell<bool>,
}

/// A delivered message as the app sees it (also what the inbox stores with `autoAck` off).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageOut {
    pub(crate) id: String,
    pub(crate) msg_id: String,
    pub(crate) message_id: String,
    pub(crate) from: String,
    pub(crate) from_username: String,
    pub(crate) from_device: String,
    pub(crate) conversation: String,
    pub(crate) own: bool,
    pub(crate) verified: bool,
    pub(crate) request: bool,
    pub(crate) content: Bytes,
    pub(crate) content_type: u8,
    pub(crate) sent_at: u64,
    /// The writing device's number for it (a group message's: its chain's epoch and
    /// counter, PROTOCOL.md 27.6; 0 from an older version).
    pub(crate) seq: u64,
    pub(crate) received_at: u64,
    /// A group message's group (hex); `conversation` is the group too then.
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
}

/// A message kept for the app (`autoAck: false`), as stored: the content in base64.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct StoredMessage {
    id: String,
    from: String,
    from_username: String,
    from_device: String,
    conversation: String,
    own: bool,
    verified: bool,
    request: bool,
    content: String,
    content_type: u8,
    sent_at: u64,
    seq: u64,
    received_at: u64,
}

impl super::persist::FromJs for StoredMessage {
    fn from_js(v: &JsValue) -> Option<Self> {
        use super::persist::{number, string};
        Some(StoredMessage {
            id: string(v, "id")?,
            from: string(v, "from")?,
            from_username: string(v, "from_username")?,
            from_device: string(v, "from_device")?,
            conversation: string(v, "conversation")?,
            own: super::options::get(v, "own").as_bool()?,
            verified: super::options::get(v, "verified").as_bool()?,
            // Kept before message requests existed: none was one.
            request: super::options::get(v, "request").as_bool().unwrap_or(false),
            content: string(v, "content")?,
            content_type: number(v, "content_type")? as u8,
            sent_at: number(v, "sent_at")?,
            // Kept before messages were numbered.
            seq: number(v, "seq").unwrap_or(0),
            received_at: number(v, "received_at")?,
        })
    }
}

impl MessageOut {
    pub(crate) fn stored(&self) -> StoredMessage {
        StoredMessage {
            id: self.id.clone(),
            from: self.from.clone(),
            from_username: self.from_username.clone(),
            from_device: self.from_device.clone(),
            conversation: self.conversation.clone(),
            own: self.own,
            verified: self.verified,
            request: self.request,
            content: super::transport::b64(&self.content.0),
            content_type: self.content_type,
            sent_at: self.sent_at,
            seq: self.seq,
            received_at: self.received_at,
        }
    }

    pub(crate) fn from_stored(s: StoredMessage) -> Option<Self> {
        let content = super::transport::unb64(&s.content).ok()?;
        Some(MessageOut {
            msg_id: s.id.clone(),
            message_id: s.id.clone(),
            id: s.id,
            from: s.from,
            from_username: s.from_username,
            from_device: s.from_device,
            conversation: s.conversation,
            own: s.own,
            verified: s.verified,
            request: s.request,
            content: Bytes(content),
            content_type: s.content_type,
            sent_at: s.sent_at,
            seq: s.seq,
            received_at: s.received_at,
            // Only 1:1 messages are kept for the app (`autoAck: false`) so far.
            #[cfg(feature = "groups")]
            group: None,
        })
    }

    pub(crate) fn from_engine(m: IncomingMessage) -> Self {
        let id = hex(&m.msg_id.0);
        MessageOut {
            id: id.clone(),
            msg_id: id.clone(),
            message_id: id,
            from: m.from.to_hex(),
            from_username: m.from_username.as_str().to_owned(),
            from_device: m.from_device.to_hex(),
            conversation: m.conversation.to_hex(),
            own: m.own,
            verified: m.verified,
            request: m.request,
            content: Bytes(m.content),
            content_type: m.content_type,
            sent_at: m.sent_at,
            seq: m.seq,
            received_at: m.received_at,
            #[cfg(feature = "groups")]
            group: None,
        }
    }

    #[cfg(feature = "groups")]
    /// A group message: its thread is the group, its sender a member (`from_username`
    /// when this client knows the name).
    pub(crate) fn from_group(m: IncomingGroupMessage, from_username: String) -> Self {
        let id = hex(&m.msg_id.0);
        let group = m.group.to_hex();
        MessageOut {
            id: id.clone(),
            msg_id: id.clone(),
            message_id: id,
            from: m.from.to_hex(),
            from_username,
            from_device: m.from_device.to_hex(),
            conversation: group.clone(),
            own: m.own,
            verified: false,
            request: false,
            content: Bytes(m.content),
            content_type: m.content_type,
            sent_at: m.sent_at,
            seq: m.seq,
            received_at: m.received_at,
            group: Some(group),
        }
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct NoticeOut {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    security: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gave_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blob_id: Option<String>,
    /// The group of `groupChanged` and `groupRefused` (hex).
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    /// `groupRefused`: the stable code (PROTOCOL.md 27.8).
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    /// `groupChanged`: what changed (`create`, `add`, `remove`, `leave`, `rename`,
    /// `promote`, `demote`, `rekey`), the members concerned, the new name, the epoch.
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'static str>,
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<String>>,
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[cfg(feature = "groups")]
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    detail: String,
    at: u64,
}

fn call_all(listeners: &[Function], v: &JsValue) {
    for f in listeners {
        let _ = f.call1(&JsValue::NULL, v);
    }
}

impl Inner {
    pub(crate) fn set_status(&self, status: &'static str) {
        if self.conn.status.replace(status) == status {
            return;
        }
        let listeners = self.events.listeners.borrow().status.clone();
        call_all(&listeners, &JsValue::from_str(status));
    }

    pub(crate) fn emit_error(&self, code: Code, message: &str, blob_id: Option<&str>) {
        let e = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&e, &"code".into(), &code.as_str().into());
        let _ = js_sys::Reflect::set(&e, &"message".into(), &message.into());
        if let Some(id) = blob_id {
            let _ = js_sys::Reflect::set(&e, &"blobId".into(), &id.into());
        }
        let listeners = self.events.listeners.borrow().error.clone();
        call_all(&listeners, &e);
    }

    pub(crate) fn emit_message(&self, out: &MessageOut) {
        let Ok(m) = to_js(out) else {
            return self.emit_error(Code::Crypto, "a message could not be converted", None);
        };
        super::content::add_view(&m, out.content_type, &out.content.0);
        let listeners = self.events.listeners.borrow().message.clone();
        call_all(&listeners, &m);
        if listeners.is_empty() || self.events.iterating.get() {
            let waiter = self.events.waiters.borrow_mut().pop_front();
            match waiter {
                Some(resolve) => {
                    let _ = resolve.call1(&JsValue::NULL, &m);
                }
                None => self.events.queue.borrow_mut().push_back(m),
            }
        }
    }

    pub(crate) fn emit_delivery(&self, msg_id: &str, delivered: usize, total: usize) {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct D<'a> {
            message_id: &'a str,
            msg_id: &'a str,
            delivered: usize,
            total: usize,
        }
        let listeners = self.events.listeners.borrow().delivery.clone();
        if listeners.is_empty() {
            return;
        }
        if let Ok(v) = to_js(&D {
            message_id: msg_id,
            msg_id,
            delivered,
            total,
        }) {
            call_all(&listeners, &v);
        }
    }

    /// The name of `user` when this client knows it: a contact's, or a fellow group
    /// member's as the group state names it (checked against the user id, PROTOCOL.md
    /// 27.2), so a member who is not a contact shows by name too.
    pub(crate) fn name_of(&self, user: &UserId) -> Option<String> {
        if let Some(n) = self.names.borrow().find(user) {
            return Some(n.clone());
        }
        self.with_engine(|e| {
            let contact = e.account_state().get(user).and_then(|c| c.username.clone());
            #[cfg(feature = "groups")]
            let contact = contact.or_else(|| {
                e.groups()
                    .find_map(|g| g.member(user).and_then(|m| m.username.clone()))
            });
            Ok(contact.map(|u| u.as_str().to_owned()))
        })
        .ok()
        .flatten()
    }

    #[cfg(feature = "groups")]
    /// A verified group change (a system line: "alice added carol"), on the notice
    /// stream as `groupChanged`.
    pub(crate) fn emit_group_changed(
        &self,
        group: &GroupId,
        actor: &UserId,
        change: &Change,
        epoch: u64,
        now: u64,
    ) {
        let (kind, members, name) = match change {
            Change::Create { name, members, .. } => (
                "create",
                members.iter().map(|m| m.user.to_hex()).collect(),
                Some(name.clone()),
            ),
            Change::Add(m) => ("add", m.iter().map(|m| m.user.to_hex()).collect(), None),
            Change::Remove(m) => ("remove", m.iter().map(UserId::to_hex).collect(), None),
            Change::Leave => ("leave", Vec::new(), None),
            Change::Rename(name) => ("rename", Vec::new(), Some(name.clone())),
            Change::Promote(u) => ("promote", vec![u.to_hex()], None),
            Change::Demote(u) => ("demote", vec![u.to_hex()], None),
            Change::Rekey => ("rekey", Vec::new(), None),
        };
        let n = NoticeOut {
            kind: "groupChanged",
            from: Some(actor.to_hex()),
            from_username: self.name_of(actor),
            conversation: Some(group.to_hex()),
            group: Some(group.to_hex()),
            change: Some(kind),
            members: Some(members),
            name,
            epoch: Some(epoch),
            detail: "The group changed.".into(),
            at: now,
            ..NoticeOut::default()
        };
        let listeners = self.events.listeners.borrow().notice.clone();
        if let Ok(v) = to_js(&n) {
            call_all(&listeners, &v);
        }
    }

    pub(crate) fn emit_notice(&self, notice: &Notice, now: u64) {
        let mut n = NoticeOut {
            at: now,
            ..NoticeOut::default()
        };
        let who = |n: &mut NoticeOut, user: &UserId| {
            n.from = Some(user.to_hex());
            n.conversation = Some(user.to_hex());
            n.from_username = self.name_of(user);
        };
        match notice {
            Notice::CouldNotDecrypt { blob_id, gave_up } => {
                n.kind = "couldNotDecrypt";
                n.gave_up = Some(*gave_up);
                n.blob_id = Some(blob_id.clone());
                n.detail = if *gave_up {
                    "A message could not be decrypted.".into()
                } else {
                    "A message could not be decrypted yet; the client tries again.".into()
                };
            }
            Notice::MaybeMissing {
                user,
                device,
                count,
            } => {
                n.kind = "mayBeMissing";
                who(&mut n, user);
                n.device = Some(device.to_hex());
                n.count = Some(*count);
                n.detail = format!(
                    "{count} message(s) from {} may be missing; asked the sender to send again.",
                    n.from_username
                        .clone()
                        .unwrap_or_else(|| "a contact".into())
                );
            }
            Notice::SecurityEvent { kind, user } => {
                n.kind = "security";
                who(&mut n, user);
                let (tag, text) = match kind {
                    SecurityKind::IdentityMismatch => (
                        "identityMismatch",
                        "A message signed with another key than this contact's was dropped.",
                    ),
                    SecurityKind::IdentityChanged => (
                        "identityChanged",
                        "The directory shows a new identity key for this contact: compare safety numbers before writing again.",
                    ),
                    SecurityKind::BadDirectory => (
                        "badDirectory",
                        "The directory sent a device list that does not verify.",
                    ),
                    SecurityKind::UnknownDevice => (
                        "unknownDevice",
                        "A message from a device that is not in the sender's device list was dropped.",
                    ),
                    SecurityKind::ForgedPayload => (
                        "forgedPayload",
                        "A message claiming another sender was dropped.",
                    ),
                    SecurityKind::DeviceRevoked => {
                        ("deviceRevoked", "This device was removed from the account.")
                    }
                };
                n.security = Some(tag);
                n.detail = text.into();
            }
            Notice::NotDelivered { msg_id } => {
                n.kind = "notDelivered";
                n.message_id = Some(hex(&msg_id.0));
                n.detail = "A message reached none of the recipient's devices.".into();
            }
            #[cfg(feature = "groups")]
            Notice::GroupRefused { group, from, error } => {
                n.kind = "groupRefused";
                if let Some(user) = from {
                    who(&mut n, user);
                }
                n.group = group.map(|g| g.to_hex());
                n.code = Some(error.code());
                n.detail = "A group change or message was refused and not shown.".into();
            }
            Notice::Unreachable { user } => {
                n.kind = "unreachable";
                who(&mut n, user);
                n.detail = "The directory has no such account.".into();
            }
            Notice::ContactChanged { user } => {
                n.kind = "contactChanged";
                who(&mut n, user);
                n.detail = "Another of your devices changed this contact.".into();
            }
            // An engine without groups raises none (the package never asks it for one).
            #[cfg(not(feature = "groups"))]
            Notice::GroupRefused { .. } => return,
            // Reported to the caller that asked (send, revokeDevice), or not for the user.
            Notice::SendFailed { .. }
            | Notice::DeviceListRefused { .. }
            | Notice::Unreadable { .. } => return,
        }
        let listeners = self.events.listeners.borrow().notice.clone();
        if let Ok(v) = to_js(&n) {
            call_all(&listeners, &v);
        }
    }
}

#[wasm_bindgen]
impl Client {
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
}
