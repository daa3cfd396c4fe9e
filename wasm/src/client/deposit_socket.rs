//! Deposits over the relay's deposit socket (`GET /v2/deposits`, docs/API.md "Deposit
//! socket"): one anonymous WebSocket per client, opened at the first deposit, each
//! envelope one binary frame answered by one text frame.
//!
//! In a browser a `fetch` per message costs several milliseconds of its own (issue 13's
//! trace: 7.3 ms for a POST the relay answered in 0.84 ms). The socket only makes a
//! deposit cheaper, never less reliable: whenever it cannot be used (no `WebSocket` in
//! this JS environment, it does not open, it closes before the answer) the deposit is
//! handed back and the caller POSTs it as before. An answer that does not come within
//! the request timeout is a `NETWORK` failure, as for a POST, so the engine retries the
//! deposit later (a second copy is refused by the recipient as a replay).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::FutureExt;
use futures_util::future::{Either, LocalBoxFuture, Shared};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, WebSocket};

use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;

use super::options::get;
use super::transport::{error_from_body, sleep, ws_url};
use crate::error::{Code, err};

/// What a deposit's answer says: stored, or the relay's refusal as a `SealpostError`.
type Answer = Result<(), JsValue>;

/// Deposits sent and waiting for their answers, by request number.
type Pending = Rc<RefCell<Vec<(u32, oneshot::Sender<Answer>)>>>;

/// How long after a failure to open the socket deposits go over HTTP without trying it.
const RETRY_AFTER_MS: f64 = 30_000.0;

/// The deposit socket of one client.
pub(crate) struct DepositSocket {
    url: String,
    timeout_ms: u32,
    conn: RefCell<Option<Rc<Conn>>>,
    next_req: Cell<u32>,
    /// `Date.now()` before which no new socket is tried (after one failed to open).
    paused_until: Cell<f64>,
}

/// One open (or opening) socket, its handlers and the deposits waiting for answers.
struct Conn {
    ws: WebSocket,
    /// Resolves `true` once open, `false` if it closed first.
    opened: Shared<LocalBoxFuture<'static, bool>>,
    pending: Pending,
    closed: Rc<Cell<bool>>,
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

impl Drop for Conn {
    /// Unhooks the handlers before their closures are freed, so an event that arrives
    /// later has nothing to call; then closes the socket if it is still open.
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

impl DepositSocket {
    pub(crate) fn new(relay: &str, timeout_ms: u32) -> Self {
        Self {
            url: format!("{}/v2/deposits", ws_url(relay)),
            timeout_ms,
            conn: RefCell::new(None),
            next_req: Cell::new(0),
            paused_until: Cell::new(0.0),
        }
    }

    /// Deposits `envelope` into `(to, device)`'s mailbox over the socket: `None` if the
    /// socket could not take it (POST it instead), else the relay's answer.
    pub(crate) async fn deposit(
        &self,
        to: &UserId,
        device: &DeviceId,
        envelope: &[u8],
    ) -> Option<Answer> {
        let conn = self.conn()?;
        let opening = Box::pin(sleep(self.timeout_ms));
        let opened = match futures_util::future::select(conn.opened.clone(), opening).await {
            Either::Left((opened, _)) => opened,
            Either::Right(_) => false,
        };
        if !opened {
            // Closed before it opened, or still opening after the request timeout: not
            // this socket, and no other for a while.
            self.paused_until.set(js_sys::Date::now() + RETRY_AFTER_MS);
            self.drop_conn(&conn);
            return None;
        }
        let req = self.next_req.get();
        self.next_req.set(req.wrapping_add(1));
        let frame = [
            &req.to_be_bytes()[..],
            to.as_bytes(),
            device.as_bytes(),
            envelope,
        ]
        .concat();
        let (tx, rx) = oneshot::channel();
        conn.pending.borrow_mut().push((req, tx));
        if conn.closed.get() || conn.ws.send_with_u8_array(&frame).is_err() {
            conn.pending.borrow_mut().retain(|(r, _)| *r != req);
            return None;
        }
        let timeout = Box::pin(sleep(self.timeout_ms));
        match futures_util::future::select(rx, timeout).await {
            Either::Left((Ok(answer), _)) => Some(answer),
            // Closed before answering: the deposit may or may not be stored.
            Either::Left((Err(oneshot::Canceled), _)) => None,
            Either::Right(_) => {
                conn.pending.borrow_mut().retain(|(r, _)| *r != req);
                // A socket that stopped answering (a connection the network dropped
                // without a close) is not used again: the engine's retry of this
                // deposit, and every later one, would wait out the timeout on it too.
                self.drop_conn(&conn);
                Some(Err(err(
                    Code::Network,
                    "the relay did not answer a deposit in time",
                )))
            }
        }
    }

    /// Forgets `conn` if it is still the current socket (another deposit may already
    /// have replaced it); dropped, it closes and hands its waiting deposits back.
    fn drop_conn(&self, conn: &Rc<Conn>) {
        let mut current = self.conn.borrow_mut();
        if current.as_ref().is_some_and(|c| Rc::ptr_eq(c, conn)) {
            current.take();
        }
    }

    /// Closes the socket for good (logout): deposits still waiting are handed back.
    pub(crate) fn close(&self) {
        self.paused_until.set(f64::INFINITY);
        self.conn.borrow_mut().take();
    }

    /// The open or opening socket, opening one if there is none (or it closed); `None`
    /// while paused or where this JS environment has no `WebSocket`.
    fn conn(&self) -> Option<Rc<Conn>> {
        if let Some(c) = self.conn.borrow().as_ref().filter(|c| !c.closed.get()) {
            return Some(Rc::clone(c));
        }
        if js_sys::Date::now() < self.paused_until.get() {
            return None;
        }
        let conn = match Conn::open(&self.url) {
            Some(c) => Rc::new(c),
            None => {
                self.paused_until.set(js_sys::Date::now() + RETRY_AFTER_MS);
                return None;
            }
        };
        // Replacing a closed socket frees its handlers here, outside any of them.
        *self.conn.borrow_mut() = Some(Rc::clone(&conn));
        Some(conn)
    }
}

impl Conn {
    fn open(url: &str) -> Option<Self> {
        let ws = WebSocket::new(url).ok()?;
        let pending = Pending::default();
        let closed = Rc::new(Cell::new(false));
        let (open_tx, open_rx) = oneshot::channel::<bool>();
        let open_tx = Rc::new(RefCell::new(Some(open_tx)));

        let on_open = {
            let open_tx = Rc::clone(&open_tx);
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                if let Some(tx) = open_tx.borrow_mut().take() {
                    let _ = tx.send(true);
                }
            })
        };
        let on_message = {
            let pending = Rc::clone(&pending);
            Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
                let Some(text) = ev.unchecked_into::<MessageEvent>().data().as_string() else {
                    return;
                };
                let Some((req, answer)) = parse_answer(&text) else {
                    return;
                };
                let mut pending = pending.borrow_mut();
                if let Some(i) = pending.iter().position(|(r, _)| *r == req) {
                    let (_, tx) = pending.swap_remove(i);
                    let _ = tx.send(answer);
                }
            })
        };
        // `close` follows `error` too; dropping the senders hands every deposit still
        // waiting back to its caller.
        let on_close = {
            let pending = Rc::clone(&pending);
            let closed = Rc::clone(&closed);
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                closed.set(true);
                pending.borrow_mut().clear();
                if let Some(tx) = open_tx.borrow_mut().take() {
                    let _ = tx.send(false);
                }
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let opened: LocalBoxFuture<'static, bool> = Box::pin(open_rx.map(|r| r.unwrap_or(false)));
        Some(Self {
            ws,
            opened: opened.shared(),
            pending,
            closed,
            _handlers: [on_open, on_message, on_close],
        })
    }
}

/// `{"req":n,"id":".."}` or `{"req":n,"status":s,"error":"..","message":"..",
/// "retry_after":secs?}`: the request number and what it says.
fn parse_answer(text: &str) -> Option<(u32, Answer)> {
    let body = js_sys::JSON::parse(text).ok().filter(JsValue::is_object)?;
    let field = |k: &str| get(&body, k);
    let req = field("req")
        .as_f64()
        .filter(|r| *r >= 0.0 && *r <= f64::from(u32::MAX))? as u32;
    if field("id").is_string() {
        return Some((req, Ok(())));
    }
    let status = field("status").as_f64().map_or(500, |s| s as u16);
    let retry_after = field("retry_after").as_f64().map(|s| s as u32);
    Some((
        req,
        Err(error_from_body(status, &body, retry_after, Code::Relay)),
    ))
}
