//! `GET /v2/deposits`: anonymous deposits over one WebSocket (docs/API.md "Deposit
//! socket").
//!
//! In a browser a `fetch` per message costs several milliseconds of its own (issue
//! 13's trace: 7.3 ms for a POST the relay answered in 0.84 ms). Over this socket each
//! deposit is one binary frame and its answer one text frame, and several deposits can
//! be in flight at once, so they share the store's group commit. The socket is
//! anonymous, like `POST /v2/mailboxes/{id}/{device}`: it is not the owner's push
//! socket, so the relay cannot tie what is deposited through it to the sender's own
//! mailbox; it learns what one keep-alive HTTP connection already tells it (that these
//! deposits came over one connection). Every deposit passes the same checks, limits and
//! durability as a POST: its answer is sent after its commit.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::AppState;
use crate::address::{ClientSource, Source};
use crate::error::ApiError;
use crate::limits::ip_rate_limited;
use crate::push::{PING_INTERVAL, READ_BUFFER, WRITE_BUFFER, ws_slot};
use crate::routes::mailbox::deposit_blob;
use crate::store::Mailbox;

/// A deposit frame's header: the client's request number (`u32`, big-endian), the
/// user id (32 bytes) and the device id (16 bytes) of the mailbox.
const HEADER: usize = 4 + 32 + 16;
/// Deposits of one socket being stored or waiting to be answered; the socket reads no
/// further frame until one of them is answered.
const IN_FLIGHT: usize = 16;

/// Upgrades to the deposit socket, within the same WebSocket caps as push sockets.
pub async fn ws(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade =
        upgrade.map_err(|r| ApiError::new(r.status(), "websocket_required", r.body_text()))?;
    let slot = ws_slot(&state, source)?;
    let max_frame = HEADER + state.limits.max_blob_bytes;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max_frame)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            state.metrics.ws_connections.inc();
            serve(&state, source, socket).await;
            state.metrics.ws_connections.dec();
        }))
}

/// Reads deposit frames until the client closes, stops answering pings, sends
/// something that is not a deposit frame, or the relay shuts down; answers every
/// deposit it read before it closes.
async fn serve(state: &AppState, source: Option<Source>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // Each stored deposit's answer, with the deposit's place among those in flight: the
    // place is given back once the answer is sent, so at most IN_FLIGHT deposits are
    // stored or waiting to be answered, and the channel always has room for a task's
    // answer (a task never waits for the loop, which never waits for a task).
    let (answers_tx, mut answers) = mpsc::channel::<(String, OwnedSemaphorePermit)>(IN_FLIGHT);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut shutdown = state.shutdown.clone();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    let mut idle_pings = 0u32;
    let close = loop {
        tokio::select! {
            Some((answer, _place)) = answers.recv() => {
                if sink.send(Message::Text(answer.into())).await.is_err() {
                    return;
                }
            }
            // No frame is read while IN_FLIGHT deposits wait: the client cannot queue
            // unbounded work in the relay.
            msg = stream.next(), if in_flight.available_permits() > 0 => {
                idle_pings = 0;
                match msg {
                    Some(Ok(Message::Binary(frame))) => {
                        let Some((req, mailbox)) = parse_header(&frame) else {
                            break Some("bad_frame");
                        };
                        // Cannot fail: this loop alone takes places, and one is free.
                        let Ok(place) = Arc::clone(&in_flight).try_acquire_owned() else {
                            break None;
                        };
                        let state = state.clone();
                        let tx = answers_tx.clone();
                        tokio::spawn(async move {
                            let outcome = if within_rate(&state, source) {
                                deposit_blob(&state, mailbox, Ok(frame.slice(HEADER..))).await
                            } else {
                                Err(ip_rate_limited())
                            };
                            let _ = tx.send((answer(req, outcome), place)).await;
                        });
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Text(_))) => break Some("bad_frame"),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                }
            }
            _ = ping.tick() => {
                idle_pings += 1;
                if idle_pings > 3 || sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
            _ = shutdown.changed() => break Some("relay restarting"),
        }
    };
    // Every deposit read so far is answered before the socket closes: a client that
    // gets no answer cannot tell a stored blob from a lost one.
    drop(answers_tx);
    while let Some((answer, _place)) = answers.recv().await {
        if sink.send(Message::Text(answer.into())).await.is_err() {
            return;
        }
    }
    if let Some(reason) = close {
        let code = if reason == "bad_frame" {
            close_code::POLICY
        } else {
            close_code::RESTART
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}

/// Each deposit counts against its address's request rate (`--rate-ip-*`) as a POST
/// would.
fn within_rate(state: &AppState, source: Option<Source>) -> bool {
    let allowed = source.is_none_or(|s| state.ip_limiter.allow(s));
    if !allowed {
        state.metrics.rate_limited.inc();
    }
    allowed
}

/// The request number and mailbox of a deposit frame; `None` for a frame too short to
/// be one (the socket closes: a client that cannot frame its deposits gets no answer it
/// could match).
fn parse_header(frame: &[u8]) -> Option<(u32, Mailbox)> {
    let (req, rest) = frame.split_first_chunk::<4>()?;
    let mailbox = Mailbox::from_key(rest.get(..HEADER - 4)?)?;
    Some((u32::from_be_bytes(*req), mailbox))
}

/// The text frame answering deposit `req`: `{"req", "id"}` once stored, or the same
/// status, error code and message a POST would have been answered with.
fn answer(req: u32, outcome: Result<crate::store::BlobId, ApiError>) -> String {
    match outcome {
        Ok(id) => json!({ "req": req, "id": hex::encode(id) }),
        Err(e) => {
            let mut body = json!({
                "req": req,
                "status": e.status().as_u16(),
                "error": e.code(),
                "message": e.message(),
            });
            if let Some(secs) = e.retry_after_secs() {
                body["retry_after"] = secs.into();
            }
            body
        }
    }
    .to_string()
}
