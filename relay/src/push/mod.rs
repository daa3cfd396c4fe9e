//! Real-time delivery over WebSocket (docs/API.md "WebSocket").
//!
//! A deposit stored by this process hands its blob to the [`Hub`] already encoded as
//! the WebSocket frame ([`Pushed`]; on SQLite before the commit's fsync, see
//! [`HandOff`]), and each subscribed connection sends that frame as is: no database read and no re-encoding per push. Whenever a connection cannot
//! be sure it saw every blob in order (on connect, after a deposit by another relay
//! process, a revocation, a full queue or a gap in the mailbox's sequence numbers), it
//! reads the blobs it has not sent yet (`seq` greater than the last one sent) from the
//! store instead. A missed hand-off costs at most a read, never a lost blob.

mod hand_off;
mod hub;

pub use hand_off::HandOff;
pub use hub::{Hub, Mark, PUSH_INLINE_MAX, Pushed, Subscription, Wake, blob_frame};

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use sealpost_core::auth;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::address::{ClientSource, Source, SourceSlot};
use crate::auth::Owner;
use crate::error::ApiError;
use crate::limits::{PAGE, PAGE_BYTES};
use crate::routes::mailbox::{MailboxPath, parse_blob_ids};
use crate::store::{Mailbox, coarse_time};
use crate::{AppState, B64, now, random_bytes};

/// Largest message a client may send (acknowledgements of up to 1000 ids fit easily).
const MAX_CLIENT_MESSAGE: usize = 128 * 1024;
/// How often the relay pings an idle connection.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(30);
/// The WebSocket library's read buffer per connection. Its default (128 KiB, allocated
/// up front) made an idle connection cost ~134 kB; client messages are small (an
/// acknowledgement of 1000 ids is ~35 KiB and simply takes several reads).
pub(crate) const READ_BUFFER: usize = 4 * 1024;
/// Frames are written out at once (every send flushes), so nothing needs buffering.
pub(crate) const WRITE_BUFFER: usize = 0;
/// Acknowledgements of one connection being committed at once.
const ACKS_IN_FLIGHT: usize = 4;

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerMsg<'a> {
    Challenge { challenge: String },
    Ready,
    Error { error: &'a str },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum ClientMsg {
    Auth {
        #[serde(default)]
        signature: Option<String>,
        #[serde(default)]
        token: Option<String>,
    },
    Ack {
        ids: Vec<String>,
    },
}

/// `GET /v2/mailboxes/{id}/{device}/ws`.
pub async fn ws(
    State(state): State<AppState>,
    MailboxPath(id): MailboxPath,
    ClientSource(source): ClientSource,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade =
        upgrade.map_err(|r| ApiError::new(r.status(), "websocket_required", r.body_text()))?;
    let (permit, source_slot) = ws_slot(&state, source)?;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            Session {
                state,
                id,
                seen_at: coarse_time(now()),
                socket,
                _permit: permit,
                _source_slot: source_slot,
                acks: Arc::new(Semaphore::new(ACKS_IN_FLIGHT)),
            }
            .run()
            .await
        }))
}

/// A WebSocket's place within the relay's caps: its address's share
/// (`--max-ws-per-address`) first, so one address filling its share costs the others
/// nothing, then the global `--max-ws-connections`. Held for as long as the socket is
/// open; every kind of WebSocket the relay serves takes one.
pub fn ws_slot(
    state: &AppState,
    source: Option<Source>,
) -> Result<(OwnedSemaphorePermit, Option<SourceSlot>), ApiError> {
    let source_slot = match source {
        Some(source) => Some(state.ws_per_source.try_take(source).ok_or_else(|| {
            state.metrics.rate_limited.inc();
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                "too many WebSocket connections from this address",
            )
            .retry_after(60)
        })?),
        None => None,
    };
    let Ok(permit) = Arc::clone(&state.ws_slots).try_acquire_owned() else {
        state.metrics.shed.inc();
        return Err(ApiError::unavailable(
            "too many WebSocket connections, retry later",
        ));
    };
    Ok((permit, source_slot))
}

struct Session {
    state: AppState,
    id: Mailbox,
    /// The coarse time last recorded as the device's "last seen".
    seen_at: i64,
    socket: WebSocket,
    _permit: OwnedSemaphorePermit,
    _source_slot: Option<SourceSlot>,
    /// Acknowledgements being committed ([`ACKS_IN_FLIGHT`] at most).
    acks: Arc<Semaphore>,
}

/// Why a session ended early, sent to the client before closing.
struct Fail(&'static str);

impl Session {
    async fn run(mut self) {
        self.state.metrics.ws_connections.inc();
        let result = self.serve().await;
        self.state.metrics.ws_connections.dec();
        if let Err(Fail(code)) = result {
            let _ = self.send(&ServerMsg::Error { error: code }).await;
            let frame = CloseFrame {
                code: close_code::POLICY,
                reason: code.into(),
            };
            let _ = self.socket.send(Message::Close(Some(frame))).await;
        }
    }

    async fn send(&mut self, msg: &ServerMsg<'_>) -> Result<(), Fail> {
        let text = serde_json::to_string(msg).map_err(|_| Fail("internal"))?;
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| Fail("closed"))
    }

    async fn serve(&mut self) -> Result<(), Fail> {
        let challenge: [u8; 32] = random_bytes();
        self.send(&ServerMsg::Challenge {
            challenge: B64.encode(challenge),
        })
        .await?;
        let timeout = self.state.limits.ws_auth_timeout;
        let first = tokio::time::timeout(timeout, self.socket.recv())
            .await
            .map_err(|_| Fail("auth_timeout"))?;
        let auth = match first {
            Some(Ok(Message::Text(t))) => {
                serde_json::from_str::<ClientMsg>(&t).map_err(|_| Fail("bad_message"))?
            }
            _ => return Err(Fail("bad_message")),
        };
        let ClientMsg::Auth { signature, token } = auth else {
            return Err(Fail("bad_message"));
        };
        let verified = match (signature, token) {
            (Some(sig), None) => {
                let sig = B64.decode(sig).map_err(|_| Fail("unauthorized"))?;
                let Mailbox { user, device } = self.id;
                // The device id is signed too: an answer is for one device's mailbox.
                let msg = auth::challenge_signing_input(&user, &[&device[..], &challenge].concat());
                crate::auth::verify_with_identity(
                    &self.state,
                    Owner::Device(user, device),
                    &msg,
                    &sig,
                )
                .await
            }
            (None, Some(token)) => {
                let token = crate::auth::decode_token(&token).ok_or(Fail("unauthorized"))?;
                crate::auth::check_token(&self.state, &self.id, &token).await
            }
            _ => return Err(Fail("bad_message")),
        };
        let verified = match verified {
            Ok(()) => crate::auth::device_listed(&self.state, &self.id.user, &self.id.device).await,
            other => other,
        };
        if let Err(e) = verified {
            if e.status() == StatusCode::UNAUTHORIZED {
                self.state.metrics.auth_failures.inc();
            }
            return Err(Fail(e.code()));
        }
        let Some(mut sub) = self
            .state
            .hub
            .subscribe(self.id, self.state.limits.max_ws_per_mailbox)
        else {
            self.state.metrics.shed.inc();
            return Err(Fail("too_many_connections"));
        };
        self.send(&ServerMsg::Ready).await?;

        let mut shutdown = self.state.shutdown.clone();
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.reset();
        let mut last_seq = 0i64;
        // The backlog; a revoked device's session ends at the next look at the store.
        let mut reread = true;
        let mut idle_pings = 0u32;
        loop {
            if reread {
                reread = false;
                // Read before the blobs: every blob up to it that still exists is in
                // the pages read next, so the next hand-off after it is in order even
                // when the blobs before it were all acknowledged. (Without it, a
                // hand-off made before its commit would look like a gap, and the
                // store, read before that commit, would not show it.)
                let committed = self.still_listed().await?;
                last_seq = self.push_after(last_seq).await?.max(committed);
            }
            tokio::select! {
                wake = sub.next() => match wake {
                    // Stored after every blob sent so far: send it as it is. (A
                    // deposit counts only while its device is listed, so it needs no
                    // revocation check.)
                    Wake::Message(p) if p.seq == last_seq + 1 => {
                        self.send_frame(p.frame).await?;
                        last_seq = p.seq;
                    }
                    // Already sent from the store.
                    Wake::Message(p) if p.seq <= last_seq => {}
                    // A gap (blobs committed by another process, or hand-offs that
                    // overtook each other), or a change that was not handed over.
                    Wake::Message(_) | Wake::Changed => reread = true,
                    // Sent a blob whose commit then failed: the store and this
                    // session disagree; the client reconnects and reads the store.
                    Wake::Reset => return Err(Fail("internal")),
                },
                msg = self.socket.recv() => {
                    idle_pings = 0;
                    match msg {
                        Some(Ok(Message::Text(t))) => self.handle(&t).await?,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Binary(_))) => return Err(Fail("bad_message")),
                        Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(()),
                    }
                }
                _ = ping.tick() => {
                    idle_pings += 1;
                    if idle_pings > 3 {
                        return Ok(());
                    }
                    self.socket.send(Message::Ping(Vec::new().into())).await.map_err(|_| Fail("closed"))?;
                    // It answered the previous ping: still connected, so still seen.
                    if idle_pings == 1 {
                        self.seen().await;
                    }
                }
                _ = shutdown.changed() => {
                    let frame = CloseFrame { code: close_code::RESTART, reason: "relay restarting".into() };
                    let _ = self.socket.send(Message::Close(Some(frame))).await;
                    return Ok(());
                }
            }
        }
    }

    /// Sends a `blob` frame and counts it.
    async fn send_frame(&mut self, frame: Utf8Bytes) -> Result<(), Fail> {
        self.socket
            .send(Message::Text(frame))
            .await
            .map_err(|_| Fail("closed"))?;
        self.state.metrics.pushed.inc();
        Ok(())
    }

    /// A device connected for hours is "seen" all along: its last-seen time moves
    /// on with the session, one write per 5-minute interval at most. Best effort.
    async fn seen(&mut self) {
        let Mailbox { user, device } = self.id;
        let at = coarse_time(now());
        if at <= self.seen_at {
            return;
        }
        self.seen_at = at;
        if let Err(e) = self.state.store.touch_device(&user, &device, at).await {
            tracing::warn!(error = %e, "could not record a device as seen");
        }
    }

    /// A device's session ends when the device leaves the list (revocation wakes
    /// its subscribers, here and through the database on other relay processes).
    /// Returns the sequence number of the mailbox's last committed blob.
    async fn still_listed(&mut self) -> Result<i64, Fail> {
        let Mailbox { user, device } = self.id;
        match self.state.store.device(&user, &device).await {
            Ok(Some(row)) => Ok(row.last_seq),
            Ok(None) => Err(Fail("revoked")),
            Err(e) => {
                tracing::error!(error = %e, "storage error while checking a device");
                Err(Fail("internal"))
            }
        }
    }

    /// Sends every blob after `last_seq`; returns the new last sequence number.
    async fn push_after(&mut self, mut last_seq: i64) -> Result<i64, Fail> {
        loop {
            let blobs = self
                .state
                .store
                .blobs_after(&self.id, last_seq, PAGE, PAGE_BYTES)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "storage error while pushing");
                    Fail("internal")
                })?;
            let bytes: usize = blobs.iter().map(|b| b.data.len()).sum();
            let full = i64::try_from(blobs.len()).unwrap_or(0) >= PAGE
                || i64::try_from(bytes).unwrap_or(i64::MAX) >= PAGE_BYTES;
            for b in blobs {
                self.send_frame(blob_frame(&b.id, b.received_at, &b.data))
                    .await?;
                last_seq = b.seq;
            }
            if !full {
                return Ok(last_seq);
            }
        }
    }

    async fn handle(&mut self, text: &str) -> Result<(), Fail> {
        let Ok(ClientMsg::Ack { ids }) = serde_json::from_str::<ClientMsg>(text) else {
            return Err(Fail("bad_message"));
        };
        let ids = parse_blob_ids(&ids).map_err(|e| Fail(e.code()))?;
        // Committed beside the session, which goes on pushing meanwhile: nothing is
        // answered to an acknowledgement, and one that fails leaves its blobs to be
        // sent again. A client that acknowledges faster than the commits waits here.
        let permit = Arc::clone(&self.acks)
            .acquire_owned()
            .await
            .map_err(|_| Fail("internal"))?;
        let (state, mailbox) = (self.state.clone(), self.id);
        tokio::spawn(async move {
            match state.store.ack(&mailbox, &ids).await {
                Ok(n) => state.metrics.acked.add(n),
                Err(e) => tracing::error!(error = %e, "storage error while acknowledging"),
            }
            drop(permit);
        });
        Ok(())
    }
}
