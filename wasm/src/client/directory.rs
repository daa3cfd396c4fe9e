//! Contacts: lookups by name (the engine asks the directory and pins on first use), the
//! contact list, safety numbers and QR codes.

use std::rc::Rc;

use futures_channel::oneshot;
use sealpost_core::v2::DeviceList;
use sealpost_core::{IdentityPublicKey, SafetyNumber, UserId, Username};
use sealpost_engine::account_state::MAX_NICKNAME_LEN;
use sealpost_engine::{Input, LookupOutcome};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::driver::Batch;
use super::options::ContactInfoJs;
use super::persist::Pairs as _;
use super::{Client, Inner};
use crate::crypto::{Bytes, hex, to_js};
use crate::error::{Code, OrJs, err};

type Reply = oneshot::Sender<Result<LookupOutcome, JsValue>>;

/// Lookups waiting for the engine's `LookupDone`.
#[derive(Default)]
pub(crate) struct Lookups {
    waiting: Vec<(UserId, Vec<Reply>)>,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    user_id: String,
    fingerprint: String,
    safety_number: String,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    qr_payload: Bytes,
}

impl Inner {
    /// This account's identity key (from its device list).
    pub(crate) fn my_identity(&self) -> Result<IdentityPublicKey, JsValue> {
        self.with_engine(|e| {
            DeviceList::from_bytes(e.device_list())
                .map(|l| l.identity().clone())
                .or_js()
        })
    }

    pub(crate) fn settle_lookups(&self, batch: &Batch) {
        let mut lookups = self.lookups.borrow_mut();
        for (user, outcome) in &batch.lookups {
            for reply in lookups.waiting.take(user).unwrap_or_default() {
                let _ = reply.send(Ok(*outcome));
            }
        }
    }

    /// The directory could not be reached for `user`.
    pub(crate) fn fail_lookups(&self, user: &UserId, e: &JsValue) {
        let replies = self.lookups.borrow_mut().waiting.take(user);
        for reply in replies.unwrap_or_default() {
            let _ = reply.send(Err(e.clone()));
        }
    }

    /// Looks `username` up. A pinned contact whose key changed is `IDENTITY_CHANGED`
    /// (with the new key's safety number).
    pub(crate) async fn lookup(self: &Rc<Self>, username: &str) -> Result<UserId, JsValue> {
        let name = Username::parse(username).or_js()?;
        let id = name.user_id();
        self.names.borrow_mut().put(id, name.as_str().to_owned());
        // A lookup always reads the directory (a contact's new devices, a changed key).
        self.refresh(id, 0).await;
        let (tx, rx) = oneshot::channel();
        {
            let mut lookups = self.lookups.borrow_mut();
            match lookups.waiting.find_mut(&id) {
                Some(replies) => replies.push(tx),
                None => lookups.waiting.push((id, vec![tx])),
            }
        }
        if let Err(e) = self
            .feed(Input::Lookup {
                username: name.clone(),
            })
            .await
        {
            self.lookups.borrow_mut().waiting.take(&id);
            return Err(e);
        }
        let outcome = rx.await.map_err(|_| err(Code::Closed, "logged out"))??;
        // (The engine answers Found from a fresh listing even when the directory just
        // showed another key: its contact info tells.)
        let changed =
            self.with_engine(|e| Ok(e.contact(&id).is_some_and(|c| c.identity_changed)))?;
        match outcome {
            LookupOutcome::Found if changed => Err(self.identity_changed(&name).await),
            LookupOutcome::Found => Ok(id),
            LookupOutcome::NoSuchUser => Err(err(Code::NotFound, "no such user")),
            LookupOutcome::BadDirectory => Err(err(
                Code::BadSignature,
                "the directory's answer does not verify",
            )),
            LookupOutcome::Busy => Err(err(Code::RateLimited, "too many lookups: try again")),
            LookupOutcome::IdentityChanged => Err(self.identity_changed(&name).await),
        }
    }

    /// The `IDENTITY_CHANGED` error, with the directory's new key.
    async fn identity_changed(&self, name: &Username) -> JsValue {
        let id = name.user_id();
        let e = err(
            Code::IdentityChanged,
            "the contact's identity key changed: compare safety numbers",
        );
        let previous = self
            .with_engine(|en| Ok(en.contact(&id).map(|c| c.fingerprint)))
            .ok()
            .flatten();
        let list = match self.fetch_directory(&id).await {
            Ok(Some((list, _))) => DeviceList::from_bytes(&list).ok(),
            _ => None,
        };
        if let (Some(list), Some(previous), Ok(mine)) = (list, previous, self.my_identity()) {
            let details = IdentityChanged {
                user_id: id.to_hex(),
                username: Some(name.as_str().to_owned()),
                fingerprint: hex(&list.identity().fingerprint()),
                safety_number: SafetyNumber::new(&self.user_id, &mine, &id, list.identity())
                    .display(),
                previous_fingerprint: hex(&previous),
            };
            if let Ok(d) = to_js(&details) {
                let _ = js_sys::Reflect::set(&e, &"details".into(), &d);
            }
        }
        e
    }

    pub(crate) fn contact_info(&self, id: &UserId) -> Result<JsValue, JsValue> {
        let (c, sn) = self.with_engine(|e| Ok((e.contact(id), e.safety_number(id))))?;
        let c = c.ok_or_else(|| err(Code::NotFound, "not a contact: look it up first"))?;
        to_js(&Info {
            username: c
                .username
                .map(|u| u.as_str().to_owned())
                .or_else(|| self.name_of(id)),
            user_id: id.to_hex(),
            fingerprint: hex(&c.fingerprint),
            // Unknown until the directory showed the pinned key (right after a restore).
            safety_number: sn.as_ref().map(SafetyNumber::display).unwrap_or_default(),
            verified: c.verified,
            name: c.name,
            qr_payload: Bytes(sn.map(|s| s.qr_payload()).unwrap_or_default()),
        })
    }

    pub(crate) fn contact_ids(&self) -> Result<Vec<UserId>, JsValue> {
        self.with_engine(|e| Ok(e.contacts().into_iter().map(|c| c.user_id).collect()))
    }

    pub(crate) fn matches_qr(&self, username: &str, scanned: &[u8]) -> Result<bool, JsValue> {
        let id = Username::parse(username).or_js()?.user_id();
        let sn = self.with_engine(|e| {
            if e.contact(&id).is_none() {
                return Err(err(Code::NotFound, "not a contact: look it up first"));
            }
            Ok(e.safety_number(&id))
        })?;
        Ok(sn.is_some_and(|s| s.matches_qr(scanned)))
    }

    pub(crate) async fn set_verified(
        self: &Rc<Self>,
        username: &str,
        verified: bool,
    ) -> Result<(), JsValue> {
        let id = Username::parse(username).or_js()?.user_id();
        if self.with_engine(|e| Ok(e.contact(&id).is_none()))? {
            return Err(err(Code::NotFound, "not a contact"));
        }
        self.feed(Input::SetVerified { user: id, verified }).await?;
        Ok(())
    }

    pub(crate) async fn set_contact_name(
        self: &Rc<Self>,
        username: &str,
        name: &str,
    ) -> Result<(), JsValue> {
        let id = Username::parse(username).or_js()?.user_id();
        const _: () = assert!(MAX_NICKNAME_LEN == 96, "the message below says 96");
        if name.len() > MAX_NICKNAME_LEN {
            return Err(err(Code::TooLarge, "a contact's name is at most 96 bytes"));
        }
        if self.with_engine(|e| Ok(e.contact(&id).is_none()))? {
            return Err(err(Code::NotFound, "not a contact"));
        }
        self.feed(Input::SetContactName {
            user: id,
            name: name.into(),
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn forget_contact(self: &Rc<Self>, username: &str) -> Result<(), JsValue> {
        let id = Username::parse(username).or_js()?.user_id();
        self.feed(Input::ForgetContact { user: id }).await?;
        Ok(())
    }
}

#[wasm_bindgen]
impl Client {
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

    /// Names a contact (an empty name removes it); every device of the account shows the
    /// name (`ContactInfo.name`, and a `contactChanged` notice on the others). Throws
    /// `TOO_LARGE` above 96 bytes of UTF-8, `NOT_FOUND` for no contact.
    #[wasm_bindgen(js_name = setContactName)]
    pub async fn set_contact_name(&self, username: String, name: String) -> Result<(), JsValue> {
        self.inner.set_contact_name(&username, &name).await
    }

    /// Forgets a contact (its pin and sessions), so the next `lookup` pins its current
    /// key: how a changed identity key is accepted.
    #[wasm_bindgen(js_name = forgetContact)]
    pub async fn forget_contact(&self, username: String) -> Result<(), JsValue> {
        self.inner.forget_contact(&username).await
    }

    /// Whether `scanned` (the bytes of the QR code `username` shows) matches your
    /// safety number with that contact. Mark it with `setVerified` when it does.
    #[wasm_bindgen(js_name = matchesQr)]
    pub fn matches_qr(&self, username: String, scanned: Vec<u8>) -> Result<bool, JsValue> {
        self.inner.matches_qr(&username, &scanned)
    }
}
