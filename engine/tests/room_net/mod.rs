//! A relay for room tests (PROTOCOL.md 30), simulated: FIFO queues like a real relay's
//! sockets, with a liar's knobs (invented members, dropped or held frames), and a clock that
//! ticks every member's engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_engine::room::{
    Content, EVERYONE, HOST, MemberId, Output, Refusal, Room, RoomCode, RoomEvent, RoomIn, RoomOut,
};

/// What the relay forwards (docs/API.md "Rooms"), recorded for the attacker.
#[derive(Debug, Clone)]
pub enum Wire {
    Pake(MemberId, Vec<u8>),
    Admitted(MemberId, Vec<u8>, Vec<MemberId>),
    Joined(MemberId),
    Left(MemberId),
    Frame(MemberId, Vec<u8>),
    Rekey(MemberId, Vec<u8>),
}

impl Wire {
    pub fn input(&self) -> RoomIn<'_> {
        match self {
            Wire::Pake(from, d) => RoomIn::Pake {
                from: *from,
                data: d,
            },
            Wire::Admitted(m, g, ms) => RoomIn::Admitted {
                member: *m,
                grant: g,
                members: ms,
            },
            Wire::Joined(m) => RoomIn::Joined { member: *m },
            Wire::Left(m) => RoomIn::Left { member: *m },
            Wire::Frame(from, d) => RoomIn::Frame {
                from: *from,
                data: d,
            },
            Wire::Rekey(from, d) => RoomIn::Rekey {
                from: *from,
                data: d,
            },
        }
    }
}

/// An honest relay and the members' engines.
pub struct Net {
    pub rng: ChaCha20Rng,
    pub rooms: BTreeMap<MemberId, Room>,
    pub admitted: Vec<MemberId>,
    pub next_id: MemberId,
    pub events: BTreeMap<MemberId, Vec<RoomEvent>>,
    /// Everything delivered, by recipient, in order.
    pub log: Vec<(MemberId, Wire)>,
    pub refused_joins: u32,
    pub code: RoomCode,
    /// Members a lying relay adds to the list it hands each newcomer.
    pub invented: Vec<MemberId>,
    /// `(from, to)`: a lying relay drops every frame of `from` to `to`.
    pub dropped: Vec<(MemberId, MemberId)>,
    /// `(from, to)`: a lying relay drops the next frame of `from` to `to` (one entry,
    /// one frame).
    pub drop_next: Vec<(MemberId, MemberId)>,
    /// `(from, to)`: a lying relay holds the next frame of `from` to `to` back (one
    /// entry, one frame) until [`Net::release`].
    pub hold_next: Vec<(MemberId, MemberId)>,
    /// The frames held back, with their recipients, in order.
    pub held: Vec<(MemberId, Wire)>,
    /// What the relay has yet to deliver, in order: a real relay's sockets are queues,
    /// so what a member sends while it handles an input goes after what came before.
    pub queue: VecDeque<(MemberId, Wire)>,
    pub delivering: bool,
    /// The clock every engine is given (`Room::tick`), in ms.
    pub now: u64,
}

impl Net {
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (host, code) = Room::create(&mut rng, 4821).unwrap();
        Self {
            rng,
            rooms: BTreeMap::from([(HOST, host)]),
            admitted: vec![HOST],
            next_id: 2,
            events: BTreeMap::new(),
            log: Vec::new(),
            refused_joins: 0,
            code,
            invented: Vec::new(),
            dropped: Vec::new(),
            drop_next: Vec::new(),
            hold_next: Vec::new(),
            held: Vec::new(),
            queue: VecDeque::new(),
            delivering: false,
            now: 0,
        }
    }

    /// Queues `wire` for `to`, and delivers everything queued unless already doing so.
    pub fn deliver(&mut self, to: MemberId, wire: Wire) {
        self.queue.push_back((to, wire));
        if core::mem::replace(&mut self.delivering, true) {
            return;
        }
        while let Some((to, wire)) = self.queue.pop_front() {
            self.log.push((to, wire.clone()));
            let Some(room) = self.rooms.get_mut(&to) else {
                continue;
            };
            let out = room.handle(&mut self.rng, wire.input());
            self.outputs(to, out);
        }
        self.delivering = false;
    }

    /// Lets `ms` pass, ticking every member's engine each 100 ms and relaying what it
    /// sends (receipts).
    pub fn wait(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + 100).min(end);
            let ids: Vec<MemberId> = self.rooms.keys().copied().collect();
            for id in ids {
                let Some(room) = self.rooms.get_mut(&id) else {
                    continue;
                };
                let out = room.tick(self.now);
                self.outputs(id, out);
            }
        }
    }

    /// The `Undelivered` (true) and `Delivered` (false) events `who` was told, in order.
    pub fn delivery_events(&self, who: MemberId) -> Vec<(MemberId, bool)> {
        self.events
            .get(&who)
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                RoomEvent::Undelivered { to } => Some((*to, true)),
                RoomEvent::Delivered { to } => Some((*to, false)),
                _ => None,
            })
            .collect()
    }

    /// How many frames `from` sent (as the relay saw them delivered) to `to`.
    pub fn frames_delivered(&self, from: MemberId, to: MemberId) -> usize {
        self.log
            .iter()
            .filter(|(t, w)| *t == to && matches!(w, Wire::Frame(f, _) if *f == from))
            .count()
    }

    pub fn outputs(&mut self, from: MemberId, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Event(e) => self.events.entry(from).or_default().push(e),
                Output::Send(s) => self.relay(from, s),
            }
        }
    }

    /// The relay's forwarding rules.
    pub fn relay(&mut self, from: MemberId, out: RoomOut) {
        match out {
            RoomOut::Pake { to, data } => self.deliver(to, Wire::Pake(from, data)),
            RoomOut::Admit { to, grant } => {
                assert_eq!(from, HOST);
                self.admitted.push(to);
                let members = self.admitted.clone();
                for m in members.clone() {
                    if m != to && m != HOST {
                        self.deliver(m, Wire::Joined(to));
                    }
                }
                let listed = [members, self.invented.clone()].concat();
                self.deliver(to, Wire::Admitted(to, grant, listed));
            }
            RoomOut::Refuse { to } => {
                assert_eq!(from, HOST);
                self.refused_joins += 1;
                self.rooms.remove(&to);
            }
            RoomOut::Frame { to, data } => {
                for m in self.admitted.clone() {
                    let hidden =
                        self.dropped.contains(&(from, m)) || take(&mut self.drop_next, (from, m));
                    if m == from || (to != EVERYONE && to != m) || hidden {
                        continue;
                    }
                    if take(&mut self.hold_next, (from, m)) {
                        self.held.push((m, Wire::Frame(from, data.clone())));
                    } else {
                        self.deliver(m, Wire::Frame(from, data.clone()));
                    }
                }
            }
            RoomOut::Rekey { to, data } => {
                assert_eq!(from, HOST);
                self.deliver(to, Wire::Rekey(from, data));
            }
        }
    }

    /// Delivers the frames held back, in the order they were held.
    pub fn release(&mut self) {
        for (to, wire) in core::mem::take(&mut self.held) {
            self.deliver(to, wire);
        }
    }

    /// The counts of the `Missing` events `who` was told about `from`, in order.
    pub fn missing(&self, who: MemberId, from: MemberId) -> Vec<u64> {
        self.events
            .get(&who)
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                RoomEvent::Missing { from: f, count } if *f == from => Some(*count),
                _ => None,
            })
            .collect()
    }

    pub fn join(&mut self, code: &RoomCode) -> MemberId {
        let id = self.next_id;
        self.next_id += 1;
        let (room, first) = Room::join(&mut self.rng, code).unwrap();
        self.rooms.insert(id, room);
        self.relay(id, first);
        id
    }

    pub fn leave(&mut self, who: MemberId) -> Room {
        let room = self.rooms.remove(&who).unwrap();
        self.admitted.retain(|&m| m != who);
        for m in self.admitted.clone() {
            self.deliver(m, Wire::Left(who));
        }
        // `Room::leave` would wipe its keys: the test does not call it, to play the
        // member who left and still listens.
        room
    }

    pub fn say(&mut self, who: MemberId, to: MemberId, text: &str) {
        let out = self
            .rooms
            .get_mut(&who)
            .unwrap()
            .send(to, &Content::Text(text.into()))
            .unwrap();
        self.relay(who, out);
    }

    pub fn texts(&self, who: MemberId) -> Vec<(MemberId, String)> {
        self.events
            .get(&who)
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                RoomEvent::Text { from, text, .. } => Some((*from, text.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn refusals(&self, who: MemberId) -> Vec<Refusal> {
        self.events
            .get(&who)
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                RoomEvent::Refused { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    pub fn last_frame_to(&self, who: MemberId) -> (MemberId, Vec<u8>) {
        self.log
            .iter()
            .rev()
            .find_map(|(to, w)| match w {
                Wire::Frame(from, d) if *to == who => Some((*from, d.clone())),
                _ => None,
            })
            .unwrap()
    }

    pub fn feed(&mut self, who: MemberId, input: Wire) -> Vec<Output> {
        let room = self.rooms.get_mut(&who).unwrap();
        room.handle(&mut self.rng, input.input())
    }
}

/// Removes `entry` from `list` if it is there; whether it was.
fn take(list: &mut Vec<(MemberId, MemberId)>, entry: (MemberId, MemberId)) -> bool {
    match list.iter().position(|e| *e == entry) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

/// The `(member, via)` of every `Unreached` event `who` was told.
pub fn unreached_events(net: &Net, who: MemberId) -> Vec<(MemberId, MemberId)> {
    net.events
        .get(&who)
        .into_iter()
        .flatten()
        .filter_map(|e| match e {
            RoomEvent::Unreached { member, via } => Some((*member, *via)),
            _ => None,
        })
        .collect()
}

/// Nobody among `members` misses anyone, or is missed by anyone, now.
pub fn assert_quiet(net: &Net, members: &[MemberId]) {
    for m in members {
        assert!(
            net.rooms[m].unreached().is_empty(),
            "member {m} misses someone"
        );
        assert!(net.rooms[m].unheard().is_empty(), "member {m} is missed");
    }
}

pub fn refused(out: &[Output]) -> Option<Refusal> {
    out.iter().find_map(|o| match o {
        Output::Event(RoomEvent::Refused { reason, .. }) => Some(*reason),
        _ => None,
    })
}
