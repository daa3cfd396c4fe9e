//! Rooms (docs/PROTOCOL.md 30) for JS: the engine's sans-I/O `Room` behind a thin
//! class. The socket lives in JS (`sealpost-wasm/rooms`, `rooms.js`), which feeds what
//! the relay said into `RoomState.handle` and sends what `drain` returns; every rule is
//! the engine's. Nothing is stored: `free()` (or `leave`) forgets the keys.

use js_sys::{Array, Object, Reflect, Uint8Array};
use sealpost_engine::room::{
    Content, EVERYONE, MemberId, Output, Room, RoomCode, RoomEvent, RoomIn, RoomOut,
};
use wasm_bindgen::prelude::*;

use sealpost_engine::room::SendRefused;

use crate::error::{Code, err, invalid};

/// One room this page is in or is joining.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RoomState {
    room: Room,
    queue: Vec<Output>,
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &k.into(), &v);
}

fn members(ids: &[MemberId]) -> JsValue {
    ids.iter()
        .map(|&m| JsValue::from(m))
        .collect::<Array>()
        .into()
}

fn out_object(o: RoomOut) -> Object {
    let obj = Object::new();
    let (kind, to, data) = match o {
        RoomOut::Pake { to, data } => ("pake", to, Some(data)),
        RoomOut::Admit { to, grant } => ("admit", to, Some(grant)),
        RoomOut::Refuse { to } => ("refuse", to, None),
        RoomOut::Frame { to, data } => ("frame", to, Some(data)),
        RoomOut::Rekey { to, data } => ("rekey", to, Some(data)),
    };
    set(&obj, "send", kind.into());
    set(&obj, "to", to.into());
    if let Some(d) = data {
        set(&obj, "data", Uint8Array::from(&d[..]).into());
    }
    obj
}

fn event_object(e: RoomEvent) -> Object {
    let obj = Object::new();
    let kind = match e {
        RoomEvent::Admitted { me, members: m } => {
            set(&obj, "me", me.into());
            set(&obj, "members", members(&m));
            "admitted"
        }
        RoomEvent::WrongCode => "wrong-code",
        RoomEvent::JoinRefused { member } => {
            set(&obj, "member", member.into());
            "join-refused"
        }
        RoomEvent::MemberJoined { member } => {
            set(&obj, "member", member.into());
            "joined"
        }
        RoomEvent::MemberLeft { member } => {
            set(&obj, "member", member.into());
            "left"
        }
        RoomEvent::Hello { from, name } => {
            set(&obj, "from", from.into());
            set(&obj, "name", name.into());
            "hello"
        }
        RoomEvent::Text {
            from,
            private,
            text,
        } => {
            set(&obj, "from", from.into());
            set(&obj, "private", private.into());
            set(&obj, "text", text.into());
            "text"
        }
        RoomEvent::Signal { from, data } => {
            set(&obj, "from", from.into());
            set(&obj, "data", data.into());
            "signal"
        }
        RoomEvent::Unreached { member, via } => {
            set(&obj, "member", member.into());
            set(&obj, "via", via.into());
            "unreached"
        }
        RoomEvent::Unheard { by } => {
            set(&obj, "by", by.into());
            "unheard"
        }
        RoomEvent::Undelivered { to } => {
            set(&obj, "to", to.into());
            "undelivered"
        }
        RoomEvent::Delivered { to } => {
            set(&obj, "to", to.into());
            "delivered"
        }
        RoomEvent::Missing { from, count } => {
            set(&obj, "from", from.into());
            // Exact up to 2^53: far above what one event can count (PROTOCOL.md 30.4).
            set(&obj, "count", (count as f64).into());
            "missing"
        }
        RoomEvent::Rekeyed { epoch } => {
            set(&obj, "epoch", epoch.into());
            "rekeyed"
        }
        RoomEvent::Refused { from, reason } => {
            set(&obj, "from", from.into());
            set(&obj, "reason", reason.code().into());
            "refused"
        }
    };
    set(&obj, "event", kind.into());
    obj
}

#[wasm_bindgen]
impl RoomState {
    /// A new room on the relay's `nameplate`, this page its host; `code` is what the
    /// others join with.
    pub fn create(nameplate: u32) -> Result<RoomState, JsValue> {
        let (room, _) = Room::create(&mut crate::rng(), nameplate)
            .map_err(|_| invalid("a nameplate is 1 to 999999"))?;
        Ok(Self {
            room,
            queue: Vec::new(),
        })
    }

    /// Starts joining with `code` (`4821-7kq9m2xa`; case, spaces and look-alikes are
    /// forgiven); `drain()` has the first message.
    pub fn join(code: &str) -> Result<RoomState, JsValue> {
        let code = RoomCode::parse(code).map_err(|_| err(Code::Malformed, "not a room code"))?;
        let (room, first) = Room::join(&mut crate::rng(), &code)
            .map_err(|_| err(Code::Crypto, "could not start the join"))?;
        Ok(Self {
            room,
            queue: vec![Output::Send(first)],
        })
    }

    /// Parses a code and returns its nameplate (the join URL's), or throws `MALFORMED`.
    #[wasm_bindgen(js_name = nameplateOf)]
    pub fn nameplate_of(code: &str) -> Result<u32, JsValue> {
        RoomCode::parse(code)
            .map(|c| c.nameplate())
            .map_err(|_| err(Code::Malformed, "not a room code"))
    }

    /// The code, for the host to show; `undefined` for a guest.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> Option<String> {
        self.room.code().map(|c| c.to_text().to_string())
    }

    /// This member's id once admitted.
    #[wasm_bindgen(getter)]
    pub fn me(&self) -> Option<u16> {
        self.room.me()
    }

    /// The member ids, this member included (empty until admitted).
    #[wasm_bindgen(getter)]
    pub fn members(&self) -> Vec<u16> {
        self.room.members()
    }

    /// Members another member sees but this one does not (the relay drops their
    /// frames to this member, or said they left): PROTOCOL.md 30.4 "Rosters".
    #[wasm_bindgen(getter)]
    pub fn unreached(&self) -> Vec<u16> {
        self.room.unreached().into_iter().map(|(m, _)| m).collect()
    }

    /// Members whose frames do not list this one: what it sends does not reach them
    /// (PROTOCOL.md 30.4 "Rosters").
    #[wasm_bindgen(getter)]
    pub fn unheard(&self) -> Vec<u16> {
        self.room.unheard()
    }

    /// Members that have not acknowledged this member's frames for 3 s (PROTOCOL.md
    /// 30.4 "Receipts").
    #[wasm_bindgen(getter)]
    pub fn undelivered(&self) -> Vec<u16> {
        self.room.undelivered()
    }

    /// The clock (ms, `Date.now()`): call before `handle` and `send`, and every few
    /// hundred ms; `drain()` has the receipt owed and the `undelivered`/`delivered`
    /// and `missing` events due.
    pub fn tick(&mut self, now_ms: f64) {
        // `Date.now()` is a whole, positive number of ms; anything else is time 0.
        let now = if now_ms.is_finite() && now_ms > 0.0 {
            now_ms as u64
        } else {
            0
        };
        let out = self.room.tick(now);
        self.queue.extend(out);
    }

    /// The room key's epoch once admitted.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> Option<u32> {
        self.room.epoch()
    }

    /// One message from the relay: `type` and its fields as the relay sent them, `data`
    /// decoded from base64url.
    pub fn handle(
        &mut self,
        kind: &str,
        from: u16,
        data: &[u8],
        members: &[u16],
    ) -> Result<(), JsValue> {
        let input = match kind {
            "pake" => RoomIn::Pake { from, data },
            "admitted" => RoomIn::Admitted {
                member: from,
                grant: data,
                members,
            },
            "joined" => RoomIn::Joined { member: from },
            "left" => RoomIn::Left { member: from },
            "frame" => RoomIn::Frame { from, data },
            "rekey" => RoomIn::Rekey { from, data },
            _ => return Err(invalid("not a room message type")),
        };
        let out = self.room.handle(&mut crate::rng(), input);
        self.queue.extend(out);
        Ok(())
    }

    /// Seals a text (`kind` "text"), a name ("hello") or WebRTC signalling ("signal")
    /// to member `to` (0: everyone); `drain()` has the frame.
    pub fn send(&mut self, kind: &str, to: u16, body: String) -> Result<(), JsValue> {
        let content = match kind {
            "text" => Content::Text(body),
            "hello" => Content::Hello(body),
            "signal" => Content::Signal(body),
            _ => return Err(invalid("kind is text, hello or signal")),
        };
        let to = if to == 0 { EVERYONE } else { to };
        let out = self.room.send(to, &content).map_err(|e| {
            let code = match e {
                SendRefused::NotInRoom => Code::NotInRoom,
                SendRefused::NoSuchMember => Code::NoSuchMember,
                SendRefused::TooLarge => Code::TooLarge,
            };
            err(code, "the room refused the frame")
        })?;
        self.queue.push(Output::Send(out));
        Ok(())
    }

    /// What to send (`{send, to, data}`) and what to show (`{event, ...}`), in order.
    pub fn drain(&mut self) -> Array {
        self.queue
            .drain(..)
            .map(|o| match o {
                Output::Send(s) => out_object(s),
                Output::Event(e) => event_object(e),
            })
            .collect()
    }

    /// Forgets the room's keys (the socket is closed by the caller).
    pub fn leave(&mut self) {
        self.room.leave();
        self.queue.clear();
    }
}
