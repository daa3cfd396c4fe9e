//! The account's devices: the list with last-seen times, revoking one from this device
//! or with the password alone.

use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::oneshot;

use gloo_net::http::Method;
use sealpost_core::v2::{DeviceId, DeviceList};
use sealpost_core::{UserId, Username};
use sealpost_engine::Input;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::backup;
use super::driver::Batch;
use super::options::get;
use super::persist::Pairs as _;
use super::transport::{Http, network, relay_error};
use super::{Client, Inner};
use crate::crypto::to_js;

/// Device list changes waiting for their outcome, oldest first.
#[derive(Default)]
pub(crate) struct DeviceOps {
    waiting: VecDeque<oneshot::Sender<Result<(), JsValue>>>,
}
use crate::error::{Code, OrJs, err, invalid};
use crate::{now_or, rng};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceOut {
    id: String,
    name: String,
    added_at: u64,
    last_seen: Option<u64>,
    current: bool,
}

pub(crate) fn parse_device(id: &str) -> Result<DeviceId, JsValue> {
    DeviceId::from_hex(id).map_err(|_| invalid("not a device id (32 hex digits)"))
}

pub(crate) fn list_error(e: sealpost_core::Error) -> JsValue {
    match e {
        sealpost_core::Error::TooLarge => err(
            Code::DeviceLimit,
            "the account has 8 devices: revoke one first",
        ),
        e => err(
            Code::InvalidArgument,
            &format!("the device list was not changed: {e}"),
        ),
    }
}

impl Inner {
    /// Answers device list changes: a publication or a refusal each, in order.
    pub(crate) fn settle_device_ops(&self, batch: &Batch) {
        let mut ops = self.device_ops.borrow_mut();
        for r in &batch.published {
            if let Some(reply) = ops.waiting.pop_front() {
                let _ = reply.send(r.clone());
            }
        }
        for e in &batch.list_refused {
            if let Some(reply) = ops.waiting.pop_front() {
                let _ = reply.send(Err(list_error(*e)));
            }
        }
    }

    /// The own directory listing could not be fetched: waiting changes fail.
    pub(crate) fn fail_device_ops(&self, e: &JsValue) {
        let waiting: Vec<_> = self.device_ops.borrow_mut().waiting.drain(..).collect();
        for reply in waiting {
            let _ = reply.send(Err(e.clone()));
        }
    }

    /// Feeds a device list change and waits until it is published (or refused).
    pub(crate) async fn device_op(self: &Rc<Self>, input: Input) -> Result<(), JsValue> {
        let (tx, rx) = oneshot::channel();
        self.device_ops.borrow_mut().waiting.push_back(tx);
        self.feed(input).await?;
        rx.await.map_err(|_| err(Code::Closed, "logged out"))?
    }

    /// See [`super::Client::devices`].
    pub(crate) async fn devices(self: &Rc<Self>) -> Result<JsValue, JsValue> {
        // The current list (another device may have added or revoked one).
        self.refresh(self.user_id, 0).await;
        let list = self.with_engine(|e| DeviceList::from_bytes(e.device_list()).or_js())?;
        let path = format!("/v2/users/{}/devices/status", self.user_id.to_hex());
        let mut seen: Vec<(String, Option<u64>)> = Vec::new();
        // Last-seen times are a nicety: without the relay the list is still shown.
        if let Ok(resp) = self.signed(Method::GET, &path, None).await
            && resp.status() == 200
            && let Ok(text) = resp.text().await
            && let Ok(status) = js_sys::JSON::parse(&text)
        {
            for d in js_sys::Array::from(&get(&status, "devices")).iter() {
                if let Some(id) = get(&d, "id").as_string() {
                    seen.push((id, get(&d, "last_seen").as_f64().map(|t| t as u64)));
                }
            }
        }
        let out: Vec<DeviceOut> = list
            .devices()
            .iter()
            .map(|d| {
                let id = d.id.to_hex();
                DeviceOut {
                    last_seen: seen.find(&id).copied().flatten(),
                    current: d.id == self.device_id,
                    id,
                    name: d.name.clone(),
                    added_at: d.added_at,
                }
            })
            .collect();
        to_js(&out)
    }

    /// See [`super::Client::revoke_device`].
    pub(crate) async fn revoke_device(self: &Rc<Self>, id: &str) -> Result<(), JsValue> {
        let device = parse_device(id)?;
        if device == self.device_id {
            return Err(invalid(
                "this is the current device: use logout(true) instead",
            ));
        }
        let listed = self.with_engine(|e| {
            Ok(DeviceList::from_bytes(e.device_list()).is_ok_and(|l| l.contains(&device)))
        })?;
        if !listed {
            return Err(err(Code::NotFound, "no such device in the account"));
        }
        self.device_op(Input::RevokeDevice { device }).await
    }
}

/// `GET /v2/users/{id}/devices`: the account's signed list.
pub(crate) async fn fetch_list(http: &Http, user: &UserId) -> Result<Vec<u8>, JsValue> {
    let resp = http
        .get(&format!("/v2/users/{}/devices", user.to_hex()))
        .await?;
    if resp.status() != 200 {
        return Err(relay_error(resp, Code::Relay).await);
    }
    resp.binary().await.map_err(network)
}

/// Revokes a device with the password alone (e.g. when 8 devices exist and none is at
/// hand): restores the identity key from the backup, signs the list without the device
/// and publishes it.
pub(crate) async fn revoke_with_password(
    http: &Http,
    username: &str,
    password: &str,
    device: &str,
) -> Result<(), JsValue> {
    let name = Username::parse(username).or_js()?;
    let user = name.user_id();
    let device = parse_device(device)?;
    let restored = backup::restore(http, &user, password).await?;
    let list = DeviceList::from_bytes(&fetch_list(http, &user).await?).or_js()?;
    if *list.user_id() != user
        || list.identity().to_spki_der() != restored.identity.public().to_spki_der()
    {
        return Err(err(
            Code::BadSignature,
            "the directory's device list is not this account's",
        ));
    }
    if !list.contains(&device) {
        return Err(err(Code::NotFound, "no such device in the account"));
    }
    let newer = list
        .without_device(&mut rng(), &restored.identity, &device, now_or(None))
        .map_err(list_error)?;
    let path = format!("/v2/users/{}/devices", user.to_hex());
    let resp = http
        .send(Method::PUT, &path, Some(newer.to_bytes()), None)
        .await?;
    if resp.status() != 200 && resp.status() != 201 {
        return Err(relay_error(resp, Code::Stale).await);
    }
    Ok(())
}

#[wasm_bindgen]
impl Client {
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
}
