//! A room member for the relay's room tests: the real engine (`sealpost_engine::room`)
//! behind a real room socket, so the relay is tested against what the package runs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sealpost_core::os_rng;
use sealpost_engine::room::{
    Content, EVERYONE, Output, Room, RoomCode, RoomEvent, RoomIn, RoomOut,
};
use serde_json::{Value, json};

use super::{Server, Ws};

pub fn ws_url(server: &Server, path: &str) -> String {
    format!("{}{path}", server.base.replace("http://", "ws://"))
}

/// A member: its engine and its room socket.
pub struct Member {
    pub room: Room,
    pub ws: Ws,
    pub events: Vec<RoomEvent>,
    pub closed_with: Option<String>,
}

pub fn out_json(o: RoomOut) -> Value {
    match o {
        RoomOut::Pake { to, data } => json!({"type": "pake", "to": to, "data": B64.encode(data)}),
        RoomOut::Admit { to, grant } => {
            json!({"type": "admit", "to": to, "data": B64.encode(grant)})
        }
        RoomOut::Refuse { to } => json!({"type": "refuse", "to": to}),
        RoomOut::Frame { to, data } => json!({"type": "frame", "to": to, "data": B64.encode(data)}),
        RoomOut::Rekey { to, data } => json!({"type": "rekey", "to": to, "data": B64.encode(data)}),
    }
}

impl Member {
    pub async fn create(server: &Server) -> (Self, RoomCode) {
        let mut ws = Ws::connect(&ws_url(server, "/v2/rooms/ws")).await;
        let hello = ws.next().await.unwrap();
        assert_eq!(
            (hello["type"].as_str(), hello["member"].as_u64()),
            (Some("room"), Some(1))
        );
        let nameplate: u32 = hello["nameplate"].as_str().unwrap().parse().unwrap();
        let (room, code) = Room::create(&mut os_rng(), nameplate).unwrap();
        let m = Self {
            room,
            ws,
            events: Vec::new(),
            closed_with: None,
        };
        (m, code)
    }

    /// Connects and sends the first PAKE message; the join goes on as the host answers.
    pub async fn join(server: &Server, code: &RoomCode) -> Self {
        Self::join_from(server, code, None).await
    }

    /// [`Member::join`] through a trusted proxy that says the joiner is `forwarded`.
    pub async fn join_from(server: &Server, code: &RoomCode, forwarded: Option<&str>) -> Self {
        let url = ws_url(server, &format!("/v2/rooms/{}/ws", code.nameplate()));
        let mut ws = match forwarded {
            Some(addr) => Ws::connect_from(&url, addr).await,
            None => Ws::connect(&url).await,
        };
        let first = ws.next().await.unwrap();
        let (room, out) = Room::join(&mut os_rng(), code).unwrap();
        let mut m = Self {
            room,
            ws,
            events: Vec::new(),
            closed_with: None,
        };
        if first["type"] == "error" {
            m.closed_with = first["error"].as_str().map(String::from);
            return m;
        }
        assert_eq!(first["type"], "joining", "{first}");
        m.ws.send(out_json(out)).await;
        m
    }

    /// Reads one message and runs it through the engine; `false` once closed.
    pub async fn step(&mut self) -> bool {
        let Some(msg) = self.ws.next().await else {
            self.closed_with.get_or_insert_with(|| "closed".into());
            return false;
        };
        let data = msg["data"]
            .as_str()
            .map(|d| B64.decode(d).unwrap())
            .unwrap_or_default();
        let id = |k: &str| msg[k].as_u64().unwrap_or(0) as u16;
        let members: Vec<u16> = msg["members"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_u64().unwrap() as u16).collect())
            .unwrap_or_default();
        let input = match msg["type"].as_str().unwrap() {
            "pake" => RoomIn::Pake {
                from: id("from"),
                data: &data,
            },
            "admitted" => RoomIn::Admitted {
                member: id("member"),
                grant: &data,
                members: &members,
            },
            "joined" => RoomIn::Joined {
                member: id("member"),
            },
            "left" => RoomIn::Left {
                member: id("member"),
            },
            "frame" => RoomIn::Frame {
                from: id("from"),
                data: &data,
            },
            "rekey" => RoomIn::Rekey {
                from: id("from"),
                data: &data,
            },
            "error" => {
                self.closed_with = msg["error"].as_str().map(String::from);
                return false;
            }
            other => panic!("unexpected message {other}: {msg}"),
        };
        for o in self.room.handle(&mut os_rng(), input) {
            match o {
                Output::Send(s) => self.ws.send(out_json(s)).await,
                Output::Event(e) => self.events.push(e),
            }
        }
        true
    }

    /// Steps until `done` holds for its events.
    pub async fn until(&mut self, done: impl Fn(&[RoomEvent]) -> bool) {
        while !done(&self.events) {
            assert!(self.step().await, "closed: {:?}", self.closed_with);
        }
    }

    pub async fn say(&mut self, text: &str) {
        let out = self
            .room
            .send(EVERYONE, &Content::Text(text.into()))
            .unwrap();
        self.ws.send(out_json(out)).await;
    }
}

pub fn heard(events: &[RoomEvent], text: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(e, RoomEvent::Text { text: t, .. } if t == text))
}

/// Host and joiner run until the joiner is admitted (or refused); then the host takes
/// the newcomer's announcement (its hello to everyone, docs/PROTOCOL.md 30.4 "Who is in
/// the room"), so the host's next message is whatever comes after.
pub async fn admit(host: &mut Member, joiner: &mut Member) {
    // Host: msgA in, msgB out; joiner: msgB in, confirmation out; host: confirmation
    // in, rekeys, grant and its own hello out; joiner: grant in, its hello out.
    host.step().await;
    joiner.step().await;
    host.step().await;
    joiner.step().await;
    if joiner.room.me().is_some() {
        host.step().await;
    }
}
