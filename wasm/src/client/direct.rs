//! The direct channel's edge (the rules are the engine's, `engine/src/engine/direct.rs`):
//! `connectDirect`, the `direct` events, and the calls by which the page's WebRTC host
//! (`sealpost-wasm/direct`, `attachDirect`) reports what its RTCPeerConnections did.
//! The peer connections live on the page, not here: Chromium has no RTCPeerConnection
//! in workers, and the client may run in one (`sealpost-wasm/worker`).

use js_sys::{Function, Object, Reflect, Uint8Array};
use sealpost_core::v2::DeviceId;
use sealpost_core::{UserId, Username};
use sealpost_engine::direct::{CertFingerprint, DirectError, SignalKind, parse_colon_hex};
use sealpost_engine::{Input, Output};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::options::get;
use super::persist::Pairs as _;
use super::{Client, Inner};
use crate::error::{Code, OrJs, invalid};

#[wasm_bindgen(typescript_custom_section)]
const TS_DIRECT: &'static str = r#"
/**
 * What `onDirect` listeners get. `state` is for the app (a "direct" indicator); the others
 * are for the page's WebRTC host (`attachDirect` from `sealpost-wasm/direct` handles them).
 */
export type DirectEvent =
  | { type: "state"; user: string; username?: string; device?: string; state: "direct" | "relay"; error?: "DIRECT_FINGERPRINT_MISMATCH" | "DIRECT_NOT_ALLOWED" | "DIRECT_NO_DEVICES" }
  | { type: "start"; user: string; device: string }
  | { type: "signal"; user: string; device: string; kind: "offer" | "answer" | "close"; sdp: string }
  | { type: "frame"; user: string; device: string; frame: Uint8Array }
  | CallEvent;

/** What the page's WebRTC host reports with `directInput` (`attachDirect` does it). */
export type DirectInput =
  | { type: "offer" | "answer"; user: string; device: string; fingerprint: string; sdp: string }
  | { type: "close" | "closed"; user: string; device: string }
  | { type: "opened"; user: string; device: string; fingerprint: string; channel?: number }
  | { type: "frame"; user: string; device: string; frame: Uint8Array }
  | CallInput;
"#;

fn code(e: DirectError) -> Code {
    match e {
        DirectError::FingerprintMismatch => Code::DirectFingerprintMismatch,
        DirectError::NotAllowed => Code::DirectNotAllowed,
        DirectError::NoDevices => Code::DirectNoDevices,
    }
}

fn kind_name(k: SignalKind) -> &'static str {
    match k {
        SignalKind::Offer => "offer",
        SignalKind::Answer => "answer",
        // The engine hands the channel only these three (a call's go through `call.rs`).
        _ => "close",
    }
}

fn peer(user: &str, device: &str) -> Result<(UserId, DeviceId), JsValue> {
    Ok((
        UserId::from_hex(user).or_js()?,
        DeviceId::from_hex(device).or_js()?,
    ))
}

pub(super) fn parse_fp(s: &str) -> Result<CertFingerprint, JsValue> {
    parse_colon_hex(s.as_bytes())
        .ok_or_else(|| invalid("a fingerprint is 32 colon-separated hex bytes"))
}

fn event(kind: &str, user: &UserId, device: Option<&DeviceId>) -> Object {
    let o = Object::new();
    set(&o, "type", kind.into());
    set(&o, "user", user.to_hex().into());
    if let Some(d) = device {
        set(&o, "device", d.to_hex().into());
    }
    o
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &k.into(), &v);
}

impl Inner {
    /// Feeds an input in the background, after those already queued (the pump takes
    /// them in order): the direct calls return at once, so the page's WebRTC callbacks
    /// never wait on the engine.
    fn feed_soon(self: &std::rc::Rc<Self>, input: Input) {
        let me = std::rc::Rc::clone(self);
        spawn_local(async move {
            let _ = me.feed(input).await;
        });
    }

    /// Tells the page about one direct channel output. `stored`: whether the batch's
    /// writes landed (an acknowledgement frame waits for that, as a relay ack does).
    pub(crate) fn direct_output(&self, output: Output, stored: bool) {
        let e = match output {
            Output::DirectStart { user, device } => event("start", &user, Some(&device)),
            Output::DirectSignal {
                user,
                device,
                kind,
                sdp,
            } => {
                let e = event("signal", &user, Some(&device));
                set(&e, "kind", kind_name(kind).into());
                // UTF-8: the engine parsed it so.
                set(&e, "sdp", String::from_utf8(sdp).unwrap_or_default().into());
                e
            }
            Output::DirectFrame { to, device, frame } => {
                // A blob frame's envelope is in the stored outbox; an ack frame says the
                // blob's changes are stored: neither may leave when storing failed.
                if !stored {
                    return;
                }
                let e = event("frame", &to, Some(&device));
                set(&e, "frame", Uint8Array::from(&frame[..]).into());
                e
            }
            Output::DirectState {
                user,
                device,
                open,
                error,
            } => {
                let e = event("state", &user, device.as_ref());
                set(&e, "state", if open { "direct" } else { "relay" }.into());
                if let Some(name) = self.names.borrow().find(&user) {
                    set(&e, "username", name.as_str().into());
                }
                if let Some(x) = error {
                    set(&e, "error", code(x).as_str().into());
                    if x == DirectError::FingerprintMismatch {
                        self.emit_error(
                            code(x),
                            "a direct channel was refused: the peer's DTLS certificate is not the one it sealed",
                            None,
                        );
                    }
                }
                e
            }
            other => match self.call_event(other) {
                Some(e) => e,
                None => return,
            },
        };
        let listeners = self.events.listeners.borrow().direct.clone();
        for f in listeners {
            let _ = f.call1(&JsValue::NULL, &e);
        }
    }
}

#[wasm_bindgen]
impl Client {
    /// Opens a direct (browser-to-browser) channel to a contact while both are online:
    /// the offer goes sealed through the relay, and once the channel is open (a `state`
    /// event with `"direct"`) messages to that device travel on it, still sealed by the
    /// session, falling back to the relay by themselves. Needs a WebRTC host on the page
    /// (`attachDirect`). A refusal is a `state` event without `device` and with `error`:
    /// `DIRECT_NOT_ALLOWED` for a stranger or this account, `DIRECT_NO_DEVICES` when
    /// none of its devices is known (look it up first).
    #[wasm_bindgen(js_name = connectDirect)]
    pub fn connect_direct(&self, contact: String) -> Result<(), JsValue> {
        let name = Username::parse(&contact).or_js()?;
        let user = name.user_id();
        self.inner
            .names
            .borrow_mut()
            .put(user, name.as_str().to_owned());
        self.inner.feed_soon(Input::ConnectDirect { user });
        Ok(())
    }

    /// Calls `listener(event)` for direct channel and call events (see `DirectEvent`).
    #[wasm_bindgen(js_name = onDirect)]
    pub fn on_direct(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: DirectEvent) => void")] listener: Function,
    ) {
        self.inner
            .events
            .listeners
            .borrow_mut()
            .direct
            .push(listener);
    }

    /// The page's WebRTC host reports (`attachDirect` makes these calls; see
    /// `DirectInput`): its offer, answer or close for a device with the SHA-256 of its
    /// DTLS certificate ("AB:CD:..."); the channel opened, with the SHA-256 of the
    /// certificate the remote side presented; the channel closed; a frame arrived.
    /// Returns once the input is queued (inputs are handled in the order given).
    #[wasm_bindgen(js_name = directInput)]
    pub fn direct_input(
        &self,
        #[wasm_bindgen(unchecked_param_type = "DirectInput")] input: JsValue,
    ) -> Result<(), JsValue> {
        let text = |k: &str| get(&input, k).as_string().unwrap_or_default();
        if let Some(call) = self.inner.call_input(&text("type"), &input)? {
            self.inner.feed_soon(call);
            return Ok(());
        }
        let (user, device) = peer(&text("user"), &text("device"))?;
        let signal = |kind| -> Result<Input, JsValue> {
            Ok(Input::DirectLocal {
                user,
                device,
                kind,
                fingerprint: parse_fp(&text("fingerprint"))?,
                sdp: text("sdp").into_bytes(),
            })
        };
        let input = match text("type").as_str() {
            "offer" => signal(SignalKind::Offer)?,
            "answer" => signal(SignalKind::Answer)?,
            "close" => Input::DirectLocal {
                user,
                device,
                kind: SignalKind::Close,
                fingerprint: [0; 32],
                sdp: Vec::new(),
            },
            "opened" => Input::DirectOpened {
                user,
                device,
                fingerprint: parse_fp(&text("fingerprint"))?,
            },
            "closed" => Input::DirectClosed { user, device },
            "frame" => Input::DirectFrame {
                user,
                device,
                frame: Uint8Array::new(&get(&input, "frame")).to_vec(),
            },
            _ => return Err(invalid("unknown direct input")),
        };
        self.inner.feed_soon(input);
        Ok(())
    }
}
