//! Conversation content in the package (PROTOCOL.md 28): the typed fields an incoming
//! message carries, the calls that send replies, disappearing posts, edits, deletions,
//! reactions, read receipts, typing and timers, and the engine's rules exported for the
//! app's stored history (so every app decides as the protocol says, not by guesswork).

use sealpost_core::UserId;
use sealpost_engine::MsgId;
use sealpost_engine::content::rules::{self, Sender, Stored, Verdict};
use sealpost_engine::content::{Body, Content, Post};
use wasm_bindgen::prelude::*;

use super::Client;
use super::options::{SendOptionsJs, SendResultJs, get};
use crate::crypto::hex;
use crate::error::{Code, OrJs, err, invalid};

/// Adds the typed content fields (`kind`, `text`, `target`, …) to a message object, set
/// one by one: a serde struct for them cost about 1 KiB of the module's gzip budget.
pub(crate) fn add_view(message: &JsValue, content_type: u8, content: &[u8]) {
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(message, &JsValue::from_str(k), &v);
    };
    let id = |m: &MsgId| JsValue::from_str(&hex(&m.0));
    let Ok(parsed) = Content::parse(content_type, content) else {
        return set("kind", "unknown".into());
    };
    let kind = match parsed {
        Content::Post(Post {
            reply_to,
            expires_in,
            body,
        }) => {
            if let Some(r) = reply_to {
                set("replyTo", id(&r));
            }
            if let Some(s) = expires_in {
                set("expiresIn", s.into());
            }
            match body {
                Body::Text(t) => {
                    set("text", t.into());
                    "text"
                }
                Body::File(manifest) => {
                    // A post's content is not the manifest: the app needs it apart.
                    set("manifest", js_sys::Uint8Array::from(&manifest[..]).into());
                    "file"
                }
            }
        }
        Content::Bytes(_) => "bytes",
        Content::Edit { target, text } => {
            set("target", id(&target));
            set("newText", text.into());
            "edit"
        }
        Content::Delete { target } => {
            set("target", id(&target));
            "delete"
        }
        Content::Reaction { target, emoji } => {
            set("target", id(&target));
            set("emoji", emoji.into());
            "reaction"
        }
        Content::Read { targets } => {
            set(
                "targets",
                targets.iter().map(id).collect::<js_sys::Array>().into(),
            );
            "read"
        }
        Content::Typing { active } => {
            set("active", active.into());
            "typing"
        }
        Content::Timer { expires_in } => {
            set("expiresIn", expires_in.unwrap_or(0).into());
            "timer"
        }
    };
    set("kind", kind.into());
}

fn msg_id(id: &str) -> Result<MsgId, JsValue> {
    sealpost_core::v2::DeviceId::from_hex(id)
        .map(|d| MsgId(*d.as_bytes()))
        .map_err(|_| invalid("a message id is 32 hex digits"))
}

fn user(id: &str) -> Result<UserId, JsValue> {
    UserId::from_hex(id).map_err(|_| invalid("a user id is 64 hex digits"))
}

/// Reads `SendOptions.replyTo` and `SendOptions.expiresIn`.
pub(crate) fn post_options(
    options: &Option<SendOptionsJs>,
) -> Result<(Option<MsgId>, Option<u32>), JsValue> {
    let Some(o) = options else {
        return Ok((None, None));
    };
    let reply_to = match get(o, "replyTo").as_string() {
        Some(id) => Some(msg_id(&id)?),
        None => None,
    };
    let expires_in = match get(o, "expiresIn").as_f64() {
        Some(s) if s.fract() == 0.0 && s >= 0.0 && s <= f64::from(u32::MAX) => Some(s as u32),
        Some(_) => return Err(invalid("expiresIn is whole seconds")),
        None => None,
    }
    .filter(|s| *s > 0);
    Ok((reply_to, expires_in))
}

/// The content type and bytes of a text or file post with the given reply and expiry.
pub(crate) fn post(
    content_type: u8,
    content: Vec<u8>,
    reply_to: Option<MsgId>,
    expires_in: Option<u32>,
) -> Result<(u8, Vec<u8>), JsValue> {
    let body = match content_type {
        0 => Body::Text(String::from_utf8(content).map_err(|_| invalid("text must be UTF-8"))?),
        2 => Body::File(content),
        _ => return Err(invalid("replyTo and expiresIn apply to text and files")),
    };
    Content::Post(Post {
        reply_to,
        expires_in,
        body,
    })
    .encode()
    .map_err(|_| invalid("expiresIn is 5 to 31536000 seconds"))
}

#[wasm_bindgen]
impl Client {
    /// Replaces the text of your earlier message `messageId` in the conversation with
    /// `to` on every device (within 24 hours of sending it; PROTOCOL.md 28.3).
    pub async fn edit(
        &self,
        to: String,
        #[wasm_bindgen(js_name = messageId)] message_id: String,
        text: String,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        let target = msg_id(&message_id)?;
        self.send_content(&to, Content::Edit { target, text }, options)
            .await
    }

    /// Deletes your earlier message `messageId` for everyone (within 24 hours).
    #[wasm_bindgen(js_name = deleteForEveryone)]
    pub async fn delete_for_everyone(
        &self,
        to: String,
        #[wasm_bindgen(js_name = messageId)] message_id: String,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        let target = msg_id(&message_id)?;
        self.send_content(&to, Content::Delete { target }, options)
            .await
    }

    /// Reacts to message `messageId` with `emoji` (`""` takes your reaction back).
    pub async fn react(
        &self,
        to: String,
        #[wasm_bindgen(js_name = messageId)] message_id: String,
        emoji: String,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        let target = msg_id(&message_id)?;
        self.send_content(&to, Content::Reaction { target, emoji }, options)
            .await
    }

    /// Tells `to` (and your other devices) that you read these messages: the opt-in
    /// read receipt. Call it only when the user turned read receipts on.
    #[wasm_bindgen(js_name = markRead)]
    pub async fn mark_read(
        &self,
        to: String,
        #[wasm_bindgen(js_name = messageIds)] message_ids: Vec<String>,
    ) -> Result<SendResultJs, JsValue> {
        let targets = message_ids
            .iter()
            .map(|id| msg_id(id))
            .collect::<Result<Vec<_>, _>>()?;
        self.send_content(&to, Content::Read { targets }, None)
            .await
    }

    /// Tells `to` you started or stopped typing (opt-in).
    #[wasm_bindgen(js_name = setTyping)]
    pub async fn set_typing(&self, to: String, active: bool) -> Result<SendResultJs, JsValue> {
        self.send_content(&to, Content::Typing { active }, None)
            .await
    }

    /// Sets the conversation's disappearing time (seconds, 5 to 31536000; 0 turns it
    /// off). Both parties' apps then send posts with `expiresIn` set to it.
    #[wasm_bindgen(js_name = setDisappearing)]
    pub async fn set_disappearing(
        &self,
        to: String,
        #[wasm_bindgen(js_name = expiresIn)] expires_in: u32,
    ) -> Result<SendResultJs, JsValue> {
        let expires_in = Some(expires_in).filter(|s| *s > 0);
        self.send_content(&to, Content::Timer { expires_in }, None)
            .await
    }
}

impl Client {
    async fn send_content(
        &self,
        to: &str,
        content: Content,
        options: Option<SendOptionsJs>,
    ) -> Result<SendResultJs, JsValue> {
        let (ct, bytes) = content.encode().map_err(|e| match e {
            sealpost_core::Error::TooLarge => err(Code::TooLarge, "too large"),
            _ => invalid("not a valid edit, reaction, receipt or timer"),
        })?;
        self.send_bytes(to, ct, bytes, options).await
    }
}

/// `checkAmendment(message, target)`: what to do with an incoming edit, deletion or
/// reaction given the stored target (`undefined` if it has not arrived): `"apply"`,
/// `"hold"` (keep it, at most 256 per conversation, and check again when the target
/// arrives) or a refusal code (`AMEND_NOT_AUTHOR`, …) to show as a notice.
#[wasm_bindgen(js_name = checkAmendment)]
pub fn check_amendment(
    #[wasm_bindgen(unchecked_param_type = "IncomingMessage")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "StoredTarget | undefined")] target: JsValue,
) -> Result<String, JsValue> {
    let content_type = get(&message, "contentType").as_f64().unwrap_or(-1.0);
    let content: Vec<u8> = get(&message, "content")
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| invalid("message.content must be a Uint8Array"))?
        .to_vec();
    let ct = u8::try_from(content_type as i64).map_err(|_| invalid("message.contentType"))?;
    let content = Content::parse(ct, &content).or_js()?;
    let sender = sender(&message)?;
    let stored = if target.is_undefined() || target.is_null() {
        None
    } else {
        Some(stored(&target)?)
    };
    Ok(match rules::amend(&content, &sender, stored.as_ref()) {
        Verdict::Apply => "apply".into(),
        Verdict::Hold => "hold".into(),
        Verdict::Refuse(r) => r.code().into(),
    })
}

/// `readApplies(message, target)`: whether a read receipt marks the stored target read.
#[wasm_bindgen(js_name = readApplies)]
pub fn read_applies(
    #[wasm_bindgen(unchecked_param_type = "IncomingMessage")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "StoredTarget")] target: JsValue,
) -> Result<bool, JsValue> {
    Ok(rules::read_applies(&sender(&message)?, &stored(&target)?))
}

/// `expiresAt(sentAt, receivedAt, expiresIn)`: when a disappearing post is removed
/// (Unix seconds).
#[wasm_bindgen(js_name = expiresAt)]
pub fn expires_at(
    #[wasm_bindgen(js_name = sentAt)] sent_at: f64,
    #[wasm_bindgen(js_name = receivedAt)] received_at: f64,
    #[wasm_bindgen(js_name = expiresIn)] expires_in: u32,
) -> f64 {
    rules::expires_at(secs(sent_at), secs(received_at), expires_in) as f64
}

/// `typingFresh(sentAt, receivedAt)`: whether a typing indicator is worth showing.
#[wasm_bindgen(js_name = typingFresh)]
pub fn typing_fresh(
    #[wasm_bindgen(js_name = sentAt)] sent_at: f64,
    #[wasm_bindgen(js_name = receivedAt)] received_at: f64,
) -> bool {
    rules::typing_fresh(secs(sent_at), secs(received_at))
}

fn secs(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v as u64
    } else {
        0
    }
}

fn sender(message: &JsValue) -> Result<Sender, JsValue> {
    Ok(Sender {
        author: user(&get(message, "from").as_string().unwrap_or_default())?,
        conversation: user(&get(message, "conversation").as_string().unwrap_or_default())?,
        sent_at: secs(get(message, "sentAt").as_f64().unwrap_or(0.0)),
    })
}

fn stored(target: &JsValue) -> Result<Stored, JsValue> {
    Ok(Stored {
        author: user(&get(target, "author").as_string().unwrap_or_default())?,
        conversation: user(&get(target, "conversation").as_string().unwrap_or_default())?,
        sent_at: secs(get(target, "sentAt").as_f64().unwrap_or(0.0)),
        is_text: get(target, "isText").as_bool().unwrap_or(false),
        deleted: get(target, "deleted").as_bool().unwrap_or(false),
    })
}
