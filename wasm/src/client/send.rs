//! `send`: an idempotency key maps to a message id (`keyed.rs`), the engine seals (or waits for the directory), and the call resolves once the relay took
//! the deposits.

use std::rc::Rc;

use futures_channel::oneshot;
use sealpost_core::{UserId, Username};
use sealpost_engine::{Input, MsgId, SendError};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::driver::{Batch, DepositResult};
use super::keyed::{content_digest, idempotency_key};
use super::options::{SendOptionsJs, SendResultJs};
use super::persist::Pairs as _;
use super::{Client, Inner};
use crate::crypto::{hex, to_js};
use crate::error::{Code, OrJs, err, invalid};

/// What a waiting `send` learns once the engine sealed its message.
pub(crate) struct Sealed {
    delivered: usize,
    total: usize,
    /// The message's stamp (`sentAt`), read from the engine's outbox when it was sealed.
    sent_at: Option<u64>,
    deposits: Vec<DepositResult>,
}

type Reply = oneshot::Sender<Result<Sealed, JsValue>>;

/// Sends waiting for the engine to seal (or refuse) their message.
#[derive(Default)]
pub(crate) struct Pending {
    waiting: Vec<(MsgId, (UserId, Vec<Reply>))>,
    /// Messages given to the engine this session that it has neither sealed nor
    /// refused yet (waiting for the directory).
    unsealed: Vec<MsgId>,
}

fn send_error(error: SendError) -> JsValue {
    match error {
        SendError::NoSuchUser => err(Code::NotFound, "no such user"),
        SendError::IdentityChanged => err(
            Code::IdentityChanged,
            "the contact's identity key changed: compare safety numbers, then forgetContact and lookup",
        ),
        SendError::Busy => err(Code::RateLimited, "too many messages wait: try again later"),
        SendError::TooLarge => err(Code::TooLarge, "the content is too large"),
        SendError::NoDevices => err(Code::NotFound, "the recipient has no device to send to"),
    }
}

fn result(
    msg_id: &str,
    delivered: usize,
    total: usize,
    sent_at: Option<u64>,
) -> Result<SendResultJs, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct R<'a> {
        message_id: &'a str,
        msg_id: &'a str,
        delivered: usize,
        total: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        sent_at: Option<u64>,
    }
    Ok(to_js(&R {
        message_id: msg_id,
        msg_id,
        delivered,
        total,
        sent_at,
    })?
    .unchecked_into())
}

impl Inner {
    /// Answers the sends whose message this batch sealed or refused.
    pub(crate) fn settle_sends(&self, batch: &Batch) {
        let mut pending = self.sends.borrow_mut();
        pending.unsealed.retain(|m| {
            !batch.deliveries.iter().any(|(d, _, _)| d == m)
                && !batch.send_failed.iter().any(|(f, _)| f == m)
        });
        for (msg_id, delivered, total) in &batch.deliveries {
            if let Some((_, replies)) = pending.waiting.take(msg_id) {
                let sent_at = self.with_engine(|e| Ok(e.sent_at(msg_id))).ok().flatten();
                for reply in replies {
                    let _ = reply.send(Ok(Sealed {
                        delivered: *delivered,
                        total: *total,
                        sent_at,
                        deposits: batch.deposits.clone(),
                    }));
                }
            }
            self.update_sent(msg_id, *delivered, *total);
        }
        for (msg_id, error) in &batch.send_failed {
            if let Some((_, replies)) = pending.waiting.take(msg_id) {
                for reply in replies {
                    let _ = reply.send(Err(send_error(*error)));
                }
            }
        }
    }

    /// The directory could not be reached for `user`: sends waiting for it fail (the
    /// engine still holds them and seals them once the directory answers).
    pub(crate) fn fail_sends_to(&self, user: &UserId, e: &JsValue) {
        let mut pending = self.sends.borrow_mut();
        let ids: Vec<MsgId> = pending
            .waiting
            .iter()
            .filter(|(_, (to, _))| to == user || *user == self.user_id)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some((_, replies)) = pending.waiting.take(&id) {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Records a keyed message's delivery state; the first one (sealed) is stored with
    /// the batch that sealed it (see `persist_batch`).
    pub(crate) fn update_sent(&self, msg_id: &MsgId, delivered: usize, total: usize) {
        let id = hex(&msg_id.0);
        let _ = self.with_state(|s| {
            for (key, sent) in s.sent.iter_mut() {
                if sent.msg_id == id {
                    if sent.total == 0 && total > 0 {
                        self.sent_dirty
                            .set(self.sent_dirty.get() | super::sent_store::bit(key));
                    }
                    sent.delivered = delivered;
                    sent.total = total;
                }
            }
            Ok(())
        });
    }

    /// See [`super::Client::send`].
    pub(crate) async fn send(
        self: &Rc<Self>,
        to: &str,
        content_type: u8,
        content: Vec<u8>,
        idempotency_key: Option<String>,
    ) -> Result<SendResultJs, JsValue> {
        let name = Username::parse(to).or_js()?;
        let to_id = name.user_id();
        self.names.borrow_mut().put(to_id, name.as_str().to_owned());
        let digest = content_digest(content_type, &content);
        let claim = self.claim(idempotency_key.as_deref(), to_id.to_hex(), digest)?;
        let msg_id = claim.msg_id;
        // An earlier attempt was sealed (the engine's outbox has it, or had it until every
        // device receipted it): nothing is sealed again; its deposits are retried.
        if let Some(sent) = claim.known.as_ref().filter(|_| claim.sealed()) {
            // Resolves, like the first attempt, once the relay took them (else the
            // deposit's error): a retry that answered at once left a deposit failing
            // again to the next minute's tick, and told the app it had gone.
            let retried = self.feed(Input::Tick).await?;
            Self::deposited(&retried.deposits).await?;
            let (d, t) = self
                .sent_state(&msg_id)?
                .unwrap_or((sent.delivered, sent.total));
            let sent_at = self.with_engine(|e| Ok(e.sent_at(&msg_id)))?;
            return result(&hex(&msg_id.0), d, t, sent_at);
        }
        // New devices of the contact (and of this account) are reached within bundleMaxAge.
        if claim.known.is_none() {
            self.refresh(to_id, self.bundle_max_age).await;
            self.refresh(self.user_id, self.bundle_max_age).await;
        }
        let (tx, rx) = oneshot::channel();
        let waiting_already = {
            let mut pending = self.sends.borrow_mut();
            match pending.waiting.find_mut(&msg_id) {
                Some((_, replies)) => replies.push(tx),
                None => pending.waiting.push((msg_id, (to_id, vec![tx]))),
            }
            pending.unsealed.contains(&msg_id)
        };
        if waiting_already {
            // A retry while the engine still waits for the directory: wait with it.
            self.fetch_directory_soon(to_id);
            let sealed = rx.await.map_err(|_| err(Code::Closed, "logged out"))??;
            return self.finish(&msg_id, sealed).await;
        }
        self.sends.borrow_mut().unsealed.push(msg_id);
        let input = Input::SendRequested {
            msg_id,
            to: name,
            content_type,
            content,
        };
        let fed = self.feed(input).await;
        if let Err(e) = fed {
            let mut pending = self.sends.borrow_mut();
            pending.waiting.take(&msg_id);
            pending.unsealed.retain(|m| *m != msg_id);
            return Err(e);
        }
        let sealed = rx.await.map_err(|_| err(Code::Closed, "logged out"))??;
        self.finish(&msg_id, sealed).await
    }

    /// Waits for the deposits of a sealed message and reports it.
    async fn finish(&self, msg_id: &MsgId, sealed: Sealed) -> Result<SendResultJs, JsValue> {
        Self::deposited(&sealed.deposits).await?;
        result(
            &hex(&msg_id.0),
            sealed.delivered,
            sealed.total,
            sealed.sent_at,
        )
    }

    /// Waits until the relay took `deposits` (or refused them for good): the first
    /// error otherwise.
    async fn deposited(deposits: &[DepositResult]) -> Result<(), JsValue> {
        for d in deposits {
            match d.clone().await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(err(Code::Closed, "logged out")),
            }
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl Client {
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
        let (ct, bytes) = crate::crypto::read_content(&content, content_type)?;
        if ct == 255 {
            return Err(invalid("content type 255 is reserved"));
        }
        let (ct, bytes) = match super::content::post_options(&options)? {
            (None, None) => (ct, bytes),
            (reply_to, expires_in) => super::content::post(ct, bytes, reply_to, expires_in)?,
        };
        self.send_bytes(&to, ct, bytes, options).await
    }
}

impl Client {
    /// Sends content already encoded (by `send` or by the conversation-content calls).
    pub(crate) async fn send_bytes(
        &self,
        to: &str,
        content_type: u8,
        content: Vec<u8>,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        if self.inner.conn.closed.get() {
            return Err(err(Code::Closed, "logged out"));
        }
        let key = idempotency_key(options.as_deref())?;
        self.inner.send(to, content_type, content, key).await
    }
}
