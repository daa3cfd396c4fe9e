//! `GET /v2/rooms/ws` (create a room) and `GET /v2/rooms/{nameplate}/ws` (join one):
//! the room's WebSocket (docs/API.md "Rooms"). The relay stamps who sent each message
//! and forwards it to whom it names, within the room's rules (`rooms.rs`); it never
//! reads the PAKE messages, grants, frames or rekeys, which are sealed end to end.
//!
//! Errors after the upgrade are in-band (`{"type":"error","error":CODE}`, then close):
//! a browser's WebSocket cannot read an HTTP error.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::AppState;
use crate::address::{ClientSource, SourceSlot};
use crate::error::ApiError;
use crate::rooms::{Delivery, HOST, Membership, QUEUE};

/// Largest message a member may send: a frame of 16 KiB of signalling, base64url, in
/// its JSON.
pub const MAX_ROOM_MESSAGE: usize = 24 * 1024;
/// How often the relay pings a member's socket.
const PING_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum ClientMsg {
    Pake {
        #[serde(default)]
        to: Option<u16>,
        data: String,
    },
    Admit {
        to: u16,
        data: String,
    },
    Refuse {
        to: u16,
    },
    Frame {
        #[serde(default)]
        to: u16,
        data: String,
    },
    Rekey {
        to: u16,
        data: String,
    },
    Turn,
    Leave,
}

/// Base64url text as the relay forwards it: checked for its alphabet only.
fn b64(data: &str) -> Result<&str, &'static str> {
    let ok = !data.is_empty()
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(data) } else { Err("bad_message") }
}

/// `GET /v2/rooms/ws`: creates a room; the caller is its host.
pub async fn create(
    state: State<AppState>,
    source: ClientSource,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    open(state, source, upgrade, None).await
}

/// `GET /v2/rooms/{nameplate}/ws`: a join attempt.
pub async fn join(
    state: State<AppState>,
    source: ClientSource,
    Path(nameplate): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let parsed = (!nameplate.is_empty()
        && nameplate.len() <= 6
        && !nameplate.starts_with('0')
        && nameplate.bytes().all(|b| b.is_ascii_digit()))
    .then(|| nameplate.parse::<u32>().ok())
    .flatten()
    .ok_or_else(|| ApiError::bad_request("bad_nameplate", "a nameplate is 1 to 6 digits"))?;
    open(state, source, upgrade, Some(parsed)).await
}

async fn open(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    nameplate: Option<u32>,
) -> Result<Response, ApiError> {
    let upgrade =
        upgrade.map_err(|r| ApiError::new(r.status(), "websocket_required", r.body_text()))?;
    let (permit, source_slot) = crate::push::ws_slot(&state, source)?;
    // Creations and joins share one rate per address: a guesser cannot trade one for
    // the other.
    let allowed = source.is_none_or(|s| state.room_limiter.allow(s));
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(MAX_ROOM_MESSAGE)
        .on_upgrade(move |socket| async move {
            let mut s = Session {
                state,
                socket,
                source,
                _permit: permit,
                _source_slot: source_slot,
            };
            s.run(nameplate, allowed).await;
        }))
}

struct Session {
    state: AppState,
    socket: WebSocket,
    /// Where the member connected from (its failed joins count against it).
    source: Option<crate::address::Source>,
    _permit: OwnedSemaphorePermit,
    _source_slot: Option<SourceSlot>,
}

impl Session {
    async fn run(&mut self, nameplate: Option<u32>, allowed: bool) {
        self.state.metrics.ws_connections.inc();
        if let Err(code) = self.serve(nameplate, allowed).await {
            self.close_with(code).await;
        }
        self.state.metrics.ws_connections.dec();
    }

    /// Sends `{"type":"error","error":code}` and closes with `code` as the reason.
    async fn close_with(&mut self, code: &'static str) {
        let text = format!(r#"{{"type":"error","error":"{code}"}}"#);
        let _ = self.socket.send(Message::Text(text.into())).await;
        let frame = CloseFrame {
            code: close_code::POLICY,
            reason: code.into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }

    async fn serve(&mut self, nameplate: Option<u32>, allowed: bool) -> Result<(), &'static str> {
        if !allowed {
            self.state.metrics.rate_limited.inc();
            return Err("rate_limited");
        }
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let rooms = &self.state.rooms;
        let joined = match nameplate {
            None => rooms.create(tx),
            Some(n) => rooms.join(n, self.source, tx),
        };
        let m = joined.map_err(|e| {
            self.state.metrics.room_joins_refused.inc();
            e.code()
        })?;
        let hello = if m.id == HOST {
            self.state.metrics.rooms_created.inc();
            format!(
                r#"{{"type":"room","nameplate":"{}","member":{HOST}}}"#,
                m.nameplate
            )
        } else {
            format!(r#"{{"type":"joining","member":{}}}"#, m.id)
        };
        self.send(hello.into()).await?;
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(self.state.limits.room_join_timeout_secs.max(1));
        let mut shutdown = self.state.shutdown.clone();
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.reset();
        let mut idle_pings = 0u32;
        loop {
            let waiting = m.id != HOST && !self.state.rooms.is_admitted(&m);
            tokio::select! {
                d = rx.recv() => match d {
                    Some(Delivery::Send(text)) => self.send(text).await?,
                    Some(Delivery::Close(code)) => {
                        self.close_with(code).await;
                        return Ok(());
                    }
                    // Dropped from the room for not keeping up.
                    None => return Err("too_slow"),
                },
                msg = self.socket.recv() => {
                    idle_pings = 0;
                    match msg {
                        Some(Ok(Message::Text(t))) => {
                            if !self.handle(&m, &t)? {
                                return Ok(());
                            }
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Binary(_))) => return Err("bad_message"),
                        Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(()),
                    }
                }
                _ = tokio::time::sleep_until(deadline), if waiting => return Err("join_timeout"),
                _ = ping.tick() => {
                    idle_pings += 1;
                    if idle_pings > 3 {
                        return Ok(());
                    }
                    self.socket.send(Message::Ping(Vec::new().into())).await.map_err(|_| "closed")?;
                }
                _ = shutdown.changed() => {
                    let frame = CloseFrame { code: close_code::RESTART, reason: "relay restarting".into() };
                    let _ = self.socket.send(Message::Close(Some(frame))).await;
                    return Ok(());
                }
            }
        }
    }

    async fn send(&mut self, text: Utf8Bytes) -> Result<(), &'static str> {
        self.socket
            .send(Message::Text(text))
            .await
            .map_err(|_| "closed")
    }

    /// One message from member `m`; `false` when it leaves. A message it may not send
    /// (wrong type for its role, unknown addressee) closes it with `not_allowed`.
    fn handle(&self, m: &Membership, text: &str) -> Result<bool, &'static str> {
        let msg: ClientMsg = serde_json::from_str(text).map_err(|_| "bad_message")?;
        let rooms = &self.state.rooms;
        let from = m.id;
        let ok = match msg {
            ClientMsg::Pake { to, data } => {
                let data = b64(&data)?;
                rooms.pake(m, to.unwrap_or(HOST), |from| {
                    format!(r#"{{"type":"pake","from":{from},"data":"{data}"}}"#).into()
                })
            }
            ClientMsg::Admit { to, data } => {
                let data = b64(&data)?;
                rooms.admit(
                    m,
                    to,
                    |members| {
                        let list = members
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(",");
                        format!(
                            r#"{{"type":"admitted","member":{to},"data":"{data}","members":[{list}]}}"#
                        )
                        .into()
                    },
                    format!(r#"{{"type":"joined","member":{to}}}"#).into(),
                )
            }
            ClientMsg::Refuse { to } => {
                self.state.metrics.room_joins_refused.inc();
                rooms.refuse(m, to)
            }
            ClientMsg::Frame { to, data } => {
                let data = b64(&data)?;
                let msg = format!(r#"{{"type":"frame","from":{from},"data":"{data}"}}"#);
                rooms.forward(m, to, msg.into(), false)
            }
            ClientMsg::Rekey { to, data } => {
                let data = b64(&data)?;
                let msg = format!(r#"{{"type":"rekey","from":{from},"data":"{data}"}}"#);
                rooms.forward(m, to, msg.into(), true)
            }
            // TURN credentials for room voice (docs/API.md "Rooms"): a guest has no
            // account, so being an admitted member of a room is what earns them.
            ClientMsg::Turn => rooms.turn(m, |with_turn| {
                let now = u64::try_from(crate::now()).unwrap_or(0);
                let mut reply = self.state.turn.ice_servers(now, with_turn);
                reply["type"] = "turn".into();
                reply.to_string().into()
            }),
            ClientMsg::Leave => return Ok(false),
        };
        if ok { Ok(true) } else { Err("not_allowed") }
    }
}
