//! Voice calls' edge (the rules are the engine's, `engine/src/engine/call.rs`): the call
//! events and inputs, carried on the direct channel's `onDirect` / `directInput` so that
//! a `RemoteClient` and the worker pass them through unchanged. The microphone and the
//! RTCPeerConnection are the page's (`sealpost-wasm/calls`, `attachCalls`).

use js_sys::{Object, Reflect};
use sealpost_core::Username;
use sealpost_core::v2::DeviceId;
use sealpost_engine::call::{CallAction, CallState, MediaStep};
use sealpost_engine::direct::CallId;
use sealpost_engine::{Input, Output};
use wasm_bindgen::prelude::*;

use gloo_net::http::Method;

use super::options::get;
use super::persist::Pairs as _;
use super::transport::{network, relay_error};
use super::{Client, Inner};
use crate::error::{Code, OrJs, invalid};

#[wasm_bindgen(typescript_custom_section)]
const TS_CALL: &'static str = r#"
/** Why a call ended (stable codes). */
export type CallEndCode =
  | "CALL_HUNG_UP" | "CALL_DECLINED" | "CALL_BUSY" | "CALL_NO_ANSWER" | "CALL_MISSED"
  | "CALL_ELSEWHERE" | "CALL_MERGED" | "CALL_FINGERPRINT_MISMATCH" | "CALL_FAILED"
  | "CALL_NOT_ALLOWED" | "CALL_NO_DEVICES" | "CALL_IN_PROGRESS";

/**
 * A call's events on `onDirect` (`attachCalls` turns them into its own, simpler ones).
 * `until`: the ring's deadline (unix seconds); `duration`: seconds connected.
 */
export type CallEvent =
  | { type: "call"; call: string; user: string; username?: string; device?: string; outgoing: boolean;
      state: "ringing" | "connecting" | "connected" | "ended"; until?: number; reason?: CallEndCode; duration?: number }
  | { type: "callMedia"; call: string; user: string; device: string; step: "offer" | "answer" | "remote"; sdp?: string };

/** What the page reports about a call with `directInput`. */
export type CallInput =
  | { type: "call"; call: string; contact: string }
  | { type: "callAccept" | "callDecline" | "callHangUp" | "callTimer" | "callFailed"; call: string }
  | { type: "callLocal"; call: string; fingerprint: string; sdp: string }
  | { type: "callOpened"; call: string; fingerprint: string };
"#;

/// 16 random bytes as 32 lowercase hex digits, like a device id (the same helpers).
fn id_hex(id: &CallId) -> String {
    DeviceId::from_bytes(*id).to_hex()
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &k.into(), &v);
}

impl Inner {
    /// The event for a call output (`None` for other outputs).
    pub(crate) fn call_event(&self, output: Output) -> Option<Object> {
        let e = Object::new();
        let (call, user, device) = match output {
            Output::CallState {
                call,
                user,
                device,
                outgoing,
                state,
            } => {
                set(&e, "type", "call".into());
                set(&e, "outgoing", outgoing.into());
                let name = match state {
                    CallState::Ringing { until } => {
                        set(&e, "until", (until as f64).into());
                        "ringing"
                    }
                    CallState::Connecting => "connecting",
                    CallState::Connected => "connected",
                    CallState::Ended { reason, duration } => {
                        set(&e, "reason", reason.code().into());
                        set(&e, "duration", (duration as f64).into());
                        "ended"
                    }
                };
                set(&e, "state", name.into());
                if let Some(n) = self.names.borrow().find(&user) {
                    set(&e, "username", n.as_str().into());
                }
                (call, user, device)
            }
            Output::CallMedia {
                call,
                user,
                device,
                step,
            } => {
                set(&e, "type", "callMedia".into());
                let (name, sdp) = match step {
                    MediaStep::Offer => ("offer", None),
                    MediaStep::Answer(sdp) => ("answer", Some(sdp)),
                    MediaStep::Remote(sdp) => ("remote", Some(sdp)),
                };
                set(&e, "step", name.into());
                if let Some(sdp) = sdp {
                    // UTF-8: the engine parsed it so.
                    set(&e, "sdp", String::from_utf8(sdp).unwrap_or_default().into());
                }
                (call, user, Some(device))
            }
            _ => return None,
        };
        set(&e, "call", id_hex(&call).into());
        set(&e, "user", user.to_hex().into());
        if let Some(d) = device {
            set(&e, "device", d.to_hex().into());
        }
        Some(e)
    }

    /// The engine input for a call's `directInput` (`None` if `kind` is not a call's).
    pub(crate) fn call_input(&self, kind: &str, input: &JsValue) -> Result<Option<Input>, JsValue> {
        let text = |k: &str| get(input, k).as_string().unwrap_or_default();
        let Some(kind) = kind.strip_prefix("call") else {
            return Ok(None);
        };
        let call = *DeviceId::from_hex(&text("call")).or_js()?.as_bytes();
        let fingerprint = || super::direct::parse_fp(&text("fingerprint"));
        let action = match kind {
            "" => {
                let name = Username::parse(&text("contact")).or_js()?;
                let user = name.user_id();
                self.names.borrow_mut().put(user, name.as_str().to_owned());
                return Ok(Some(Input::CallStart { call, user }));
            }
            "Accept" => CallAction::Accept,
            "Decline" => CallAction::Decline,
            "HangUp" => CallAction::HangUp,
            "Timer" => CallAction::Timer,
            "Failed" => CallAction::Failed,
            "Local" => CallAction::Local {
                fingerprint: fingerprint()?,
                sdp: text("sdp").into_bytes(),
            },
            "Opened" => CallAction::Opened {
                fingerprint: fingerprint()?,
            },
            _ => return Err(invalid("unknown call input")),
        };
        Ok(Some(Input::Call { call, action }))
    }
}

#[wasm_bindgen]
impl Client {
    /// The STUN and TURN servers the relay offers this device for calls and direct
    /// channels (`iceServers` of `attachCalls` and `attachDirect`), TURN with a
    /// short-lived credential (docs/API.md "TURN credentials"); empty when it has none.
    /// (An async function: the declared type is what its promise gives.)
    #[wasm_bindgen(js_name = iceServers, unchecked_return_type = "RTCIceServer[]")]
    pub async fn ice_servers(&self) -> Result<JsValue, JsValue> {
        let inner = &self.inner;
        let path = format!(
            "/v2/mailboxes/{}/{}/turn",
            inner.user_id.to_hex(),
            inner.device_id.to_hex()
        );
        let resp = inner.signed(Method::GET, &path, None).await?;
        if resp.status() != 200 {
            return Err(relay_error(resp, Code::Relay).await);
        }
        let text = resp.text().await.map_err(network)?;
        Ok(get(&js_sys::JSON::parse(&text)?, "iceServers"))
    }
}
