//! Idempotency keys (`options.idempotencyKey` of `send` and `sendToGroup`): a key maps to
//! one message id in a small encrypted record (`Sent`), stored with the engine batch that
//! seals the message and before any deposit. A retry with the key, after a crash at any
//! point, reuses the id: the engine never seals the message twice (it answers a repeated
//! id with its delivery state), and a message it sealed is not asked for again.

use sealpost_engine::MsgId;
use wasm_bindgen::prelude::*;

use super::Inner;
use super::options::get;
use super::persist::{self, Pairs as _, Sent};
use super::sent_store;
use crate::crypto::hex;
use crate::error::{Code, err, invalid};
use crate::rng;

/// An idempotency key whose send is under way; released when dropped.
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

/// A send's message id, and the record of an earlier attempt with its key; holds the
/// key (a second send with it is refused) until dropped.
pub(crate) struct Claim<'a> {
    pub(crate) msg_id: MsgId,
    /// The earlier attempt (`None`: a new message, or no key).
    pub(crate) known: Option<Sent>,
    _in_flight: Option<InFlight<'a>>,
}

impl Claim<'_> {
    /// Whether an earlier attempt was sealed (the engine has, or had, the message):
    /// nothing is to be sealed again.
    pub(crate) fn sealed(&self) -> bool {
        self.known.as_ref().is_some_and(|s| s.total > 0)
    }
}

/// What an idempotency key was first used for: SHA-256 of `content_type || content` (hex).
pub(crate) fn content_digest(content_type: u8, content: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update([content_type]);
    h.update(content);
    hex(&h.finalize())
}

/// Reads `options.idempotencyKey` (1 to 256 characters).
pub(crate) fn idempotency_key(options: Option<&JsValue>) -> Result<Option<String>, JsValue> {
    match options.map(|o| get(o, "idempotencyKey")) {
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

impl Inner {
    /// The message id of a send to `to` (a user or group id, hex) of content `digest`:
    /// the one recorded for `key` by an earlier attempt, else a new one, recorded (to be
    /// stored with the batch that seals it) when there is a key. A key used before for
    /// another recipient or content is `INVALID_ARGUMENT`.
    pub(crate) fn claim(
        &self,
        key: Option<&str>,
        to: String,
        digest: String,
    ) -> Result<Claim<'_>, JsValue> {
        let Some(key) = key else {
            return Ok(Claim {
                msg_id: MsgId::random(&mut rng()),
                known: None,
                _in_flight: None,
            });
        };
        let in_flight = InFlight::start(self, key)?;
        let key = key.to_owned();
        let known = self.with_state(|s| Ok(s.sent.find(&key).cloned()))?;
        let msg_id = match &known {
            Some(sent) => {
                if sent.to != to || sent.digest != digest {
                    return Err(invalid(
                        "this idempotencyKey was used for another message (recipient or content)",
                    ));
                }
                MsgId(
                    *sealpost_core::v2::DeviceId::from_hex(&sent.msg_id)
                        .map_err(|_| err(Code::Storage, "bad stored message id"))?
                        .as_bytes(),
                )
            }
            None => {
                let msg_id = MsgId::random(&mut rng());
                // Recorded before anything is sealed, and stored with the batch that
                // seals it (before any deposit): a retry never makes a second message.
                let now = self.now();
                let dropped = self.with_state(|s| {
                    let dropped = persist::prune_sent(&mut s.sent, now);
                    s.sent.put(
                        key.clone(),
                        Sent {
                            to,
                            digest,
                            msg_id: hex(&msg_id.0),
                            created_at: now,
                            delivered: 0,
                            total: 0,
                        },
                    );
                    Ok(dropped)
                })?;
                self.sent_dirty
                    .set(self.sent_dirty.get() | dropped | sent_store::bit(&key));
                msg_id
            }
        };
        Ok(Claim {
            msg_id,
            known,
            _in_flight: Some(in_flight),
        })
    }

    /// The recorded delivery state of a keyed message, `(delivered, total)`.
    pub(crate) fn sent_state(&self, msg_id: &MsgId) -> Result<Option<(usize, usize)>, JsValue> {
        let id = hex(&msg_id.0);
        self.with_state(|s| {
            Ok(s.sent
                .iter()
                .map(|(_, x)| x)
                .find(|x| x.msg_id == id)
                .map(|x| (x.delivered, x.total)))
        })
    }
}
