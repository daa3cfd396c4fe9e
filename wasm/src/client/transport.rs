//! I/O with the relay: HTTP through gloo-net (with a timeout and the owner signature of
//! docs/API.md), relay errors as `SealpostError`s, and the device mailbox's WebSocket
//! (v2 challenge, reconnection with backoff; `connect`, `reconnect`, `status`).

use std::cell::Cell;
use std::rc::Rc;

use futures_channel::mpsc;
use futures_util::{SinkExt as _, StreamExt as _, stream};
use gloo_net::http::{Method, RequestBuilder, Response};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use js_sys::{Function, Promise, Uint8Array};
use rand_core::Rng as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_futures::spawn_local;

use super::events::MessageOut;
use super::options::get;
use super::{Client, Inner};
use crate::error::{Code, code_of, err, invalid};
use crate::{now_or, rng};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32) -> JsValue;
}

pub(crate) async fn sleep(ms: u32) {
    let p = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms as i32);
    });
    let _ = JsFuture::from(p).await;
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    super::b64::encode(bytes)
}

pub(crate) fn unb64(s: &str) -> Result<Vec<u8>, JsValue> {
    super::b64::decode(s).ok_or_else(|| err(Code::Malformed, "bad base64 from the relay"))
}

pub(crate) fn network(e: gloo_net::Error) -> JsValue {
    err(Code::Network, &e.to_string())
}

/// The relay's address and how long to wait for it.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    pub(crate) relay: String,
    pub(crate) timeout_ms: u32,
}

impl Http {
    /// One request; `auth` is the `Authorization` header. (Boxed: one copy in the module.)
    pub(crate) fn send<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        body: Option<&'a [u8]>,
        auth: Option<&'a str>,
    ) -> futures_util::future::LocalBoxFuture<'a, Result<Response, JsValue>> {
        Box::pin(self.send_inner(method, path, body, auth))
    }

    async fn send_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        auth: Option<&str>,
    ) -> Result<Response, JsValue> {
        // Aborts the request (and the body read) when the relay does not answer in time.
        let timeout = web_sys::AbortSignal::timeout_with_u32(self.timeout_ms);
        let url = format!("{}{path}", self.relay);
        let mut retried = false;
        loop {
            let mut builder = RequestBuilder::new(&url)
                .method(method.clone())
                .abort_signal(Some(&timeout));
            if let Some(a) = auth {
                builder = builder.header("authorization", a);
            }
            let req = match body {
                Some(b) => builder
                    .header("content-type", "application/octet-stream")
                    .body(Uint8Array::from(b))
                    .map_err(network)?,
                None => builder.build().map_err(network)?,
            };
            match req.send().await {
                Ok(resp) => return Ok(resp),
                // A kept-alive connection the relay closed (its header timeout) while this
                // thread was busy, e.g. seconds of key generation in Node, where the close
                // is not seen until the event loop turns: the request fails at once on it.
                // One more try after a turn goes on a fresh connection (Chromium does this
                // itself). Only unsigned requests: they are idempotent or de-duplicated
                // (deposits are dropped as replays); a signed one would be refused as a
                // replayed nonce if the first had arrived.
                Err(_) if !retried && auth.is_none() && !timeout.aborted() => {
                    retried = true;
                    sleep(0).await;
                }
                Err(e) => return Err(network(e)),
            }
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Response, JsValue> {
        self.send(Method::GET, path, None, None).await
    }

    /// A signed request: `sign(method, timestamp, nonce)` is the identity key's
    /// signature over the request (docs/API.md "Owner authentication").
    pub(crate) async fn signed(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        sign: impl FnOnce(&str, u64, &str) -> Result<Vec<u8>, JsValue>,
    ) -> Result<Response, JsValue> {
        let ts = now_or(None);
        let mut n = [0u8; 16];
        rng().fill_bytes(&mut n);
        let nonce = b64(&n);
        let sig = sign(method.as_ref(), ts, &nonce)?;
        let auth = format!("Sealpost-Sig ts={ts},nonce={nonce},sig={}", b64(&sig));
        self.send(method, path, body, Some(&auth)).await
    }

    /// The page's origin in front of a relative relay URL (for the WebSocket).
    pub(crate) fn absolute(&self) -> Result<String, JsValue> {
        if self.relay.starts_with("http://") || self.relay.starts_with("https://") {
            return Ok(self.relay.clone());
        }
        let origin = get(&get(&js_sys::global(), "location"), "origin")
            .as_string()
            .ok_or_else(|| invalid("relayUrl must be absolute outside a page or worker"))?;
        Ok(format!("{origin}{}", self.relay))
    }
}

/// Turns a relay error response into a `SealpostError` (`conflict` for a 409).
pub(crate) fn relay_error(
    resp: Response,
    conflict: Code,
) -> futures_util::future::LocalBoxFuture<'static, JsValue> {
    Box::pin(relay_error_inner(resp, conflict))
}

async fn relay_error_inner(resp: Response, conflict: Code) -> JsValue {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.trim().parse::<u32>().ok());
    let body = resp
        .text()
        .await
        .ok()
        .and_then(|t| js_sys::JSON::parse(&t).ok())
        .filter(JsValue::is_object)
        .unwrap_or(JsValue::UNDEFINED);
    error_from_body(status, &body, retry_after, conflict)
}

/// A relay refusal as a `SealpostError`, from its status, its JSON body
/// (`{"error","message"}`) and `Retry-After`: the same for an HTTP answer and a deposit
/// socket's answer.
pub(crate) fn error_from_body(
    status: u16,
    body: &JsValue,
    retry_after: Option<u32>,
    conflict: Code,
) -> JsValue {
    let relay_code = get(body, "error").as_string().unwrap_or_default();
    let message = get(body, "message")
        .as_string()
        .unwrap_or_else(|| format!("relay answered {status}"));
    let code = match (status, relay_code.as_str()) {
        (401, _) => Code::Unauthorized,
        (403, "wrong_token") => Code::WrongPassword,
        (404, _) => Code::NotFound,
        (409, "stale") => Code::Stale,
        (409, _) => conflict,
        (429, _) => Code::RateLimited,
        _ => Code::Relay,
    };
    let e = err(code, &format!("{message} ({relay_code})"));
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("status"), &JsValue::from(status));
    if let Some(secs) = retry_after {
        let _ = js_sys::Reflect::set(&e, &JsValue::from_str("retryAfter"), &JsValue::from(secs));
    }
    e
}

/// The WebSocket URL of an absolute relay URL (`https:` → `wss:`, `http:` → `ws:`).
pub(crate) fn ws_url(relay: &str) -> String {
    relay
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1)
}

/// Whether a failed request is worth retrying later (network, rate limit, 5xx).
pub(crate) fn retryable(e: &JsValue) -> bool {
    match code_of(e).as_deref() {
        Some("NETWORK") | Some("RATE_LIMITED") => true,
        Some("RELAY") => js_sys::Reflect::get(e, &JsValue::from_str("status"))
            .ok()
            .and_then(|s| s.as_f64())
            .is_none_or(|s| s >= 500.0),
        _ => false,
    }
}

/// What the connection task is asked to do.
pub(crate) enum Out {
    Text(String),
    Close,
}

/// `{"type": kind?, "ids": [..]}` as JSON (the JS engine's JSON).
pub(crate) fn json_with_ids(kind: Option<&str>, ids: &[String]) -> String {
    let o = js_sys::Object::new();
    if let Some(k) = kind {
        let _ = js_sys::Reflect::set(&o, &"type".into(), &k.into());
    }
    let list: js_sys::Array = ids.iter().map(|i| JsValue::from_str(i)).collect();
    let _ = js_sys::Reflect::set(&o, &"ids".into(), &list);
    js_sys::JSON::stringify(&o)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

enum Ev {
    Ws(Result<Message, gloo_net::websocket::WebSocketError>),
    WsEnded,
    Out(Out),
}

fn is_close(ev: &Ev) -> bool {
    matches!(
        ev,
        Ev::WsEnded | Ev::Ws(Err(gloo_net::websocket::WebSocketError::ConnectionClose(_)))
    )
}

/// One WebSocket connection to this device's mailbox: authenticate, then receive until
/// it drops. `Ok(true)` means stop for good (logout); `Ok(false)` means reconnect.
async fn connect_once(inner: &Rc<Inner>, was_ready: &Cell<bool>) -> Result<bool, JsValue> {
    let url = format!(
        "{}/v2/mailboxes/{}/{}/ws",
        ws_url(&inner.http.absolute()?),
        inner.user_id.to_hex(),
        inner.device_id.to_hex()
    );
    let ws = WebSocket::open(&url).map_err(|e| err(Code::Network, &e.to_string()))?;
    let (mut tx, rx) = ws.split();
    let (out_tx, out_rx) = mpsc::unbounded::<Out>();
    *inner.conn.ws_out.borrow_mut() = Some(out_tx);
    let ws_events = rx.map(Ev::Ws).chain(stream::iter([Ev::WsEnded]));
    let mut events = stream::select(ws_events, out_rx.map(Ev::Out));
    let mut ready = false;
    let mut close_seen = false;
    let outcome = loop {
        let Some(ev) = events.next().await else {
            break Ok(false);
        };
        if is_close(&ev) {
            close_seen = true;
        }
        match handle_event(inner, ev, &mut tx, &mut ready, was_ready).await {
            Ok(None) => {}
            Ok(Some(stop)) => break Ok(stop),
            Err(e) => break Err(e),
        }
    };
    // Close and wait for the close event before the socket is dropped: gloo-net 0.7
    // leaves its `close` listener registered on drop, so a close event arriving after
    // the drop throws "closure invoked after being dropped" (fatal in Node.js).
    if !close_seen {
        let _ = tx.close().await;
        let mut deadline = Box::pin(sleep(5000));
        loop {
            match futures_util::future::select(events.next(), deadline).await {
                futures_util::future::Either::Left((ev, rest)) => {
                    deadline = rest;
                    if ev.as_ref().is_none_or(is_close) {
                        break;
                    }
                }
                futures_util::future::Either::Right(_) => {
                    // Never closed: leak this socket rather than risk the throw.
                    std::mem::forget(tx);
                    std::mem::forget(events);
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// Handles one event of a connection: `Ok(None)` to go on, `Ok(Some(stop))` to end it.
async fn handle_event(
    inner: &Rc<Inner>,
    ev: Ev,
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    ready: &mut bool,
    was_ready: &Cell<bool>,
) -> Result<Option<bool>, JsValue> {
    let net = |e: gloo_net::websocket::WebSocketError| err(Code::Network, &e.to_string());
    match ev {
        Ev::Out(Out::Close) => return Ok(Some(true)),
        Ev::Out(Out::Text(t)) => {
            if *ready {
                tx.send(Message::Text(t)).await.map_err(net)?;
            }
        }
        Ev::Ws(Ok(Message::Text(text))) => {
            let Ok(msg) = js_sys::JSON::parse(&text) else {
                return Ok(None);
            };
            let field = |k: &str| get(&msg, k).as_string();
            match field("type").unwrap_or_default().as_str() {
                "challenge" => {
                    let challenge = unb64(&field("challenge").unwrap_or_default())?;
                    let sig = inner.sign_challenge(&challenge)?;
                    // base64url: nothing to escape.
                    let auth = format!(r#"{{"type":"auth","signature":"{}"}}"#, b64(&sig));
                    tx.send(Message::Text(auth)).await.map_err(net)?;
                }
                "ready" => {
                    *ready = true;
                    was_ready.set(true);
                    inner.set_status("online");
                    inner.online();
                }
                "blob" => {
                    let (Some(id), Some(data)) = (field("id"), field("data")) else {
                        return Ok(None);
                    };
                    inner.blob_received(id, &data);
                    if inner.conn.closed.get() {
                        return Ok(Some(true));
                    }
                }
                "error" => {
                    let code = field("error").unwrap_or_default();
                    if code == "revoked" {
                        inner.revoked().await;
                        return Ok(Some(true));
                    }
                    let js_code = if code == "unauthorized" {
                        Code::Unauthorized
                    } else {
                        Code::Relay
                    };
                    inner.emit_error(js_code, &format!("relay WebSocket error: {code}"), None);
                    if code == "unauthorized" {
                        // Perhaps revoked while offline: the directory tells.
                        inner.check_revoked();
                    }
                    return Ok(Some(false));
                }
                _ => {}
            }
        }
        Ev::Ws(Ok(Message::Bytes(_))) => {}
        Ev::Ws(Err(_)) | Ev::WsEnded => return Ok(Some(false)),
    }
    Ok(None)
}

/// Receives until logout, reconnecting with exponential backoff (0.5 s to 30 s, jitter;
/// `reconnect()` or the browser's `online` event cut the wait short).
pub(crate) async fn receive_loop(inner: Rc<Inner>) {
    let mut backoff: u32 = 500;
    while !inner.conn.closed.get() {
        inner.set_status("connecting");
        inner.conn.wake.set(false);
        let was_ready = Cell::new(false);
        let result = connect_once(&inner, &was_ready).await;
        inner.conn.ws_out.borrow_mut().take();
        match result {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                if code_of(&e).as_deref() == Some("CLOSED") {
                    break;
                }
            }
        }
        if inner.conn.closed.get() {
            break;
        }
        inner.set_status("offline");
        if was_ready.get() {
            backoff = 500;
        }
        let jitter = rng().next_u32() % (backoff / 2 + 1);
        let mut waited = 0;
        while waited < backoff + jitter && !inner.conn.closed.get() && !inner.conn.wake.get() {
            sleep(100).await;
            waited += 100;
        }
        if inner.conn.wake.get() {
            backoff = 500;
        } else {
            backoff = (backoff * 2).min(30_000);
        }
    }
    inner.conn.running.set(false);
    inner.set_status("closed");
}

/// Calls `globalThis[method]("online", listener)` when the global scope has it.
pub(crate) fn global_listener(method: &str, listener: &Closure<dyn FnMut()>) -> bool {
    let global = js_sys::global();
    let Ok(f) = js_sys::Reflect::get(&global, &JsValue::from_str(method)) else {
        return false;
    };
    let Some(f) = f.dyn_ref::<Function>() else {
        return false;
    };
    f.call2(&global, &JsValue::from_str("online"), listener.as_ref())
        .is_ok()
}

#[wasm_bindgen]
impl Client {
    /// Opens the device mailbox's WebSocket (done by `register`/`login` unless
    /// `options.connect` is false). Reconnects with exponential backoff until `logout`.
    /// With `autoAck: false`, messages delivered but not acknowledged before the last
    /// logout are given again first.
    pub fn connect(&self) {
        let inner = &self.inner;
        if inner.conn.closed.get() {
            return;
        }
        if !inner.inbox_given.replace(true) {
            // In the order they were delivered.
            let kept: Vec<MessageOut> = inner
                .with_state(|s| Ok(s.inbox.clone()))
                .unwrap_or_default();
            for m in &kept {
                inner.emit_message(m);
            }
        }
        if inner.conn.running.replace(true) {
            return;
        }
        spawn_local(receive_loop(Rc::clone(inner)));
    }

    /// Reconnects now when the connection is down and waiting out the backoff; starts
    /// it like `connect()` when it was not started. An open connection is kept.
    pub fn reconnect(&self) {
        if self.inner.conn.closed.get() {
            return;
        }
        if self.inner.conn.running.get() {
            if self.inner.conn.status.get() != "online" {
                self.inner.conn.wake.set(true);
            }
        } else {
            self.connect();
        }
    }

    /// The WebSocket state.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStatus")]
    pub fn status(&self) -> String {
        self.inner.conn.status.get().into()
    }
}
