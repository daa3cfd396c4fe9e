//! Real-time delivery over WebSocket (docs/API.md "WebSocket").
//!
//! The [`Hub`] only says "mailbox X changed"; each connection then reads the blobs it
//! has not sent yet (`seq` greater than the last one sent) from the store. The same path
//! serves the backlog on connect, local deposits and deposits announced by other relay
//! processes, and a missed wake-up costs at most a redundant read, never a lost blob.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use sealpost_core::auth;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::address::{ClientSource, SourceSlot};
use crate::auth::Owner;
use crate::error::ApiError;
use crate::limits::{PAGE, PAGE_BYTES};
use crate::routes::mailbox::{MailboxPath, parse_blob_ids};
use crate::store::{Mailbox, coarse_time};
use crate::{AppState, B64, now, random_bytes};

/// Largest message a client may send (acknowledgements of up to 1000 ids fit easily).
const MAX_CLIENT_MESSAGE: usize = 128 * 1024;
/// How often the relay pings an idle connection.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// Wakes the connections subscribed to a mailbox (or, for link channels, the requests
/// waiting for a slot): `K` is what they wait on.
#[derive(Debug)]
pub struct Hub<K = Mailbox> {
    mailboxes: Mutex<HashMap<K, watch::Sender<()>>>,
}

impl<K> Default for Hub<K> {
    fn default() -> Self {
        Self {
            mailboxes: Mutex::new(HashMap::new()),
        }
    }
}

/// A connection's subscription; unsubscribes on drop.
#[derive(Debug)]
pub struct Subscription<K: Hash + Eq + Copy = Mailbox> {
    hub: Arc<Hub<K>>,
    id: K,
    rx: Option<watch::Receiver<()>>,
}

impl<K: Hash + Eq + Copy> Hub<K> {
    /// Subscribes to `id`, unless `max` connections already are.
    pub fn subscribe(self: &Arc<Self>, id: K, max: usize) -> Option<Subscription<K>> {
        let mut map = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let tx = map.entry(id).or_insert_with(|| watch::channel(()).0);
        if tx.receiver_count() >= max {
            return None;
        }
        Some(Subscription {
            hub: Arc::clone(self),
            id,
            rx: Some(tx.subscribe()),
        })
    }

    /// Wakes every connection subscribed to `id`.
    pub fn notify(&self, id: &K) {
        let map = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = map.get(id) {
            tx.send_replace(());
        }
    }

    /// Wakes every connection (after notifications from other processes may have been
    /// missed).
    pub fn notify_all(&self) {
        let map = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for tx in map.values() {
            tx.send_replace(());
        }
    }
}

impl<K: Hash + Eq + Copy> Subscription<K> {
    /// Waits until the mailbox may have changed.
    pub async fn changed(&mut self) {
        match self.rx.as_mut() {
            Some(rx) => {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl<K: Hash + Eq + Copy> Drop for Subscription<K> {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut map = self
            .hub
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.get(&self.id).is_some_and(|tx| tx.receiver_count() == 0) {
            map.remove(&self.id);
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ServerMsg<'a> {
    Challenge {
        challenge: String,
    },
    Ready,
    Blob {
        id: String,
        received_at: i64,
        data: String,
    },
    Error {
        error: &'a str,
    },
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
    // Per address first: one address filling its share costs the others nothing.
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
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            Session {
                state,
                id,
                seen_at: coarse_time(now()),
                socket,
                _permit: permit,
                _source_slot: source_slot,
            }
            .run()
            .await
        }))
}

struct Session {
    state: AppState,
    id: Mailbox,
    /// The coarse time last recorded as the device's "last seen".
    seen_at: i64,
    socket: WebSocket,
    _permit: OwnedSemaphorePermit,
    _source_slot: Option<SourceSlot>,
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
        let mut dirty = true; // the backlog
        let mut idle_pings = 0u32;
        loop {
            if dirty {
                dirty = false;
                self.still_listed().await?;
                last_seq = self.push_after(last_seq).await?;
            }
            tokio::select! {
                () = sub.changed() => dirty = true,
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
    async fn still_listed(&mut self) -> Result<(), Fail> {
        let Mailbox { user, device } = self.id;
        match self.state.store.device(&user, &device).await {
            Ok(Some(_)) => Ok(()),
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
                let msg = ServerMsg::Blob {
                    id: hex::encode(b.id),
                    received_at: b.received_at,
                    data: B64.encode(&b.data),
                };
                self.send(&msg).await?;
                self.state.metrics.pushed.inc();
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
        let n = self.state.store.ack(&self.id, &ids).await.map_err(|e| {
            tracing::error!(error = %e, "storage error while acknowledging");
            Fail("internal")
        })?;
        self.state.metrics.acked.add(n);
        Ok(())
    }
}
