//! The room table (docs/API.md "Rooms"): rooms live in this process's memory only,
//! never in the store. A room is its nameplate, its members' outgoing queues and a
//! count of failed joins; it is gone the moment its host's socket closes (every other
//! member is closed with it), or once no member sent anything for `--room-idle-secs`. The relay forwards the members' messages blindly: it sees
//! who talks to whom and how much, never the code, the keys or the content.
//!
//! Online guessing of a room code is bounded here: each join attempt that did not end
//! in an admission (refused by the host, abandoned, timed out) is a failed join, counted
//! per address and per nameplate by `room_guesses.rs` (an address that failed too often
//! is refused on that nameplate; a nameplate that failed too often slows down, it never
//! locks its members out), and each address has a rate of room creations and joins
//! (`--rate-room-*`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

use crate::address::Source;
use crate::random_bytes;
use crate::room_guesses::{GuessLimits, Guesses};

/// Member id of the host.
pub const HOST: u16 = 1;
/// Most members of a room, the host included, counting joins in progress.
pub const MAX_MEMBERS: usize = 8;
/// Joins in progress at once in one room.
pub const MAX_PENDING: usize = 4;
/// Messages queued for one member before it is dropped from the room as too slow.
pub const QUEUE: usize = 64;

/// What a member's socket task is handed.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Send this text message.
    Send(Utf8Bytes),
    /// Send `{"type":"error","error":CODE}` and close.
    Close(&'static str),
}

#[derive(Debug)]
struct Slot {
    tx: mpsc::Sender<Delivery>,
    admitted: bool,
    /// Where the joiner connected from: its failure counts against that address.
    source: Option<Source>,
    /// TURN credentials this member asked for (at most [`TURN_REQUESTS`]).
    turn_asked: u8,
    /// PAKE messages this joiner sent the host (at most [`JOINER_PAKE_MESSAGES`]).
    pake_sent: u8,
}

/// What a joiner sends the host before it is admitted: its SPAKE2 message and its key
/// confirmation (docs/PROTOCOL.md 30.3). More is refused, so a joiner cannot flood the
/// host (or make the host's engine answer it again and again).
const JOINER_PAKE_MESSAGES: u8 = 2;

/// TURN credentials one member may ask for: enough to turn voice on and off a few
/// times, not a source of credentials for anything else.
pub const TURN_REQUESTS: u8 = 8;

#[derive(Debug)]
struct Room {
    members: BTreeMap<u16, Slot>,
    next_id: u16,
    guesses: Guesses,
    /// Members whose queue overflowed, to be dropped once the current operation ends.
    evicted: Vec<u16>,
    /// When a member last sent something (the idle rule).
    active_at: Instant,
}

impl Room {
    fn admitted(&self) -> impl Iterator<Item = u16> + '_ {
        self.members
            .iter()
            .filter(|(_, s)| s.admitted)
            .map(|(id, _)| *id)
    }

    fn pending(&self) -> usize {
        self.members.values().filter(|s| !s.admitted).count()
    }

    /// Queues `msg` for `id`; a member whose queue is full is dropped from the room
    /// when the operation ends ([`settle`]): its task sees its queue close and ends the
    /// socket, and the others hear it left.
    fn deliver(&mut self, id: u16, msg: Delivery) {
        if let Some(slot) = self.members.get(&id)
            && slot.tx.try_send(msg).is_err()
            && !self.evicted.contains(&id)
        {
            self.evicted.push(id);
        }
    }

    /// Queues `msg` from `from` for `to`, as [`Room::deliver`], except that a full host
    /// queue drops the sender instead of the host: dropping the host ends the room, so
    /// one guest sending faster than the host reads must not end it for everyone.
    fn deliver_from(&mut self, from: u16, to: u16, msg: Delivery) {
        if to != HOST || from == HOST {
            return self.deliver(to, msg);
        }
        if let Some(slot) = self.members.get(&HOST)
            && slot.tx.try_send(msg).is_err()
            && !self.evicted.contains(&from)
        {
            self.evicted.push(from);
        }
    }
}

/// Why a join or a creation was refused. Stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No room has this nameplate.
    NoRoom,
    /// This address took its failed joins on this nameplate.
    Locked,
    /// The nameplate took its failed joins for now (from all addresses): try later.
    Busy,
    /// Eight members (joins in progress included), or four joins in progress.
    Full,
    /// The relay holds `--max-rooms` rooms.
    TooManyRooms,
}

impl Refused {
    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Refused::NoRoom => "no_room",
            Refused::Locked => "room_locked",
            Refused::Busy => "room_busy",
            Refused::Full => "room_full",
            Refused::TooManyRooms => "too_many_rooms",
        }
    }
}

/// A member's place in a room; leaves the room when dropped.
#[derive(Debug)]
pub struct Membership {
    rooms: Arc<Rooms>,
    /// The room's nameplate.
    pub nameplate: u32,
    /// This member's id (1 for the host).
    pub id: u16,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.rooms.leave(self.nameplate, self.id);
    }
}

/// Every room of this process.
#[derive(Debug)]
pub struct Rooms {
    rooms: Mutex<HashMap<u32, Room>>,
    max_rooms: usize,
    guess_limits: GuessLimits,
}

impl Rooms {
    /// An empty table for at most `max_rooms` rooms whose failed joins are bounded by
    /// `guess_limits`.
    pub fn new(max_rooms: usize, guess_limits: GuessLimits) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            max_rooms,
            guess_limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Room>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rooms open now (tests and `/metrics`).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no room is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Members (joins in progress included) in all rooms now.
    pub fn members(&self) -> usize {
        self.lock().values().map(|r| r.members.len()).sum()
    }

    /// A new room with the caller as its host, on a free random nameplate: four digits
    /// while they last, then five, then six.
    pub fn create(self: &Arc<Self>, tx: mpsc::Sender<Delivery>) -> Result<Membership, Refused> {
        let mut rooms = self.lock();
        if rooms.len() >= self.max_rooms {
            return Err(Refused::TooManyRooms);
        }
        let nameplate = [10_000u32, 100_000, 1_000_000]
            .into_iter()
            .flat_map(|bound| (0..16).map(move |_| bound))
            .map(|bound| 1 + u32::from_be_bytes(random_bytes()) % (bound - 1))
            .find(|n| !rooms.contains_key(n))
            .ok_or(Refused::TooManyRooms)?;
        rooms.insert(
            nameplate,
            Room {
                members: BTreeMap::from([(
                    HOST,
                    Slot {
                        tx,
                        admitted: true,
                        source: None,
                        turn_asked: 0,
                        pake_sent: 0,
                    },
                )]),
                next_id: HOST + 1,
                guesses: Guesses::new(&self.guess_limits),
                evicted: Vec::new(),
                active_at: Instant::now(),
            },
        );
        Ok(Membership {
            rooms: Arc::clone(self),
            nameplate,
            id: HOST,
        })
    }

    /// A join attempt on `nameplate` from `source`: a member id, not admitted until the
    /// host says so.
    pub fn join(
        self: &Arc<Self>,
        nameplate: u32,
        source: Option<Source>,
        tx: mpsc::Sender<Delivery>,
    ) -> Result<Membership, Refused> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(&nameplate).ok_or(Refused::NoRoom)?;
        if room.members.len() >= MAX_MEMBERS || room.pending() >= MAX_PENDING {
            return Err(Refused::Full);
        }
        let pending = room.pending();
        room.guesses.may_try(&self.guess_limits, source, pending)?;
        let id = room.next_id;
        room.next_id = id.checked_add(1).ok_or(Refused::Locked)?;
        room.members.insert(
            id,
            Slot {
                tx,
                admitted: false,
                source,
                turn_asked: 0,
                pake_sent: 0,
            },
        );
        Ok(Membership {
            rooms: Arc::clone(self),
            nameplate,
            id,
        })
    }

    /// Closes every room in which no member sent anything for `idle` (each member is
    /// told `room_idle`), so a forgotten host's socket does not hold a nameplate forever.
    /// Returns how many it closed.
    pub fn close_idle(&self, idle: Duration) -> usize {
        let mut rooms = self.lock();
        let before = rooms.len();
        rooms.retain(|_, room| {
            let keep = room.active_at.elapsed() < idle;
            if !keep {
                for slot in room.members.values() {
                    let _ = slot.tx.try_send(Delivery::Close("room_idle"));
                }
            }
            keep
        });
        before - rooms.len()
    }

    /// Runs `f` on the room of `m`, if it still exists and `m` is still in it, then
    /// drops the members whose queues overflowed. Anything a member sends counts as
    /// activity.
    fn with_room<T>(&self, m: &Membership, f: impl FnOnce(&mut Room) -> T) -> Option<T> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(&m.nameplate)?;
        room.active_at = Instant::now();
        let out = room.members.contains_key(&m.id).then(|| f(room));
        settle(&mut rooms, m.nameplate, &self.guess_limits);
        out
    }

    /// Whether `m` has been admitted.
    pub fn is_admitted(&self, m: &Membership) -> bool {
        self.lock()
            .get(&m.nameplate)
            .and_then(|r| r.members.get(&m.id))
            .is_some_and(|s| s.admitted)
    }

    /// A PAKE message from `m`: a joiner's goes to the host, the host's to a join in
    /// progress. `false` if `m` may not send it (the caller closes `m`); a message to a
    /// joiner that already went is dropped (the host hears `left`).
    pub fn pake(&self, m: &Membership, to: u16, msg: impl Fn(u16) -> Utf8Bytes) -> bool {
        self.with_room(m, |r| {
            let admitted = |id: u16| r.members.get(&id).map(|s| s.admitted);
            let allowed = if m.id == HOST {
                admitted(to) != Some(true) && to != HOST
            } else {
                admitted(m.id) == Some(false)
                    && to == HOST
                    && r.members.get_mut(&m.id).is_some_and(|s| {
                        s.pake_sent = s.pake_sent.saturating_add(1);
                        s.pake_sent <= JOINER_PAKE_MESSAGES
                    })
            };
            if allowed {
                r.deliver_from(m.id, to, Delivery::Send(msg(m.id)));
            }
            allowed
        })
        .unwrap_or(true)
    }

    /// The host admits joiner `to`: it becomes a member, is handed `admitted(members)`,
    /// and the other guests hear `joined`.
    pub fn admit(
        &self,
        m: &Membership,
        to: u16,
        admitted: impl FnOnce(&[u16]) -> Utf8Bytes,
        joined: Utf8Bytes,
    ) -> bool {
        if m.id != HOST {
            return false;
        }
        self.with_room(m, |r| {
            match r.members.get_mut(&to) {
                Some(slot) if !slot.admitted => slot.admitted = true,
                Some(_) => return false,
                None => return true,
            }
            let members: Vec<u16> = r.admitted().collect();
            for id in members.iter().copied().filter(|&id| id != HOST && id != to) {
                r.deliver(id, Delivery::Send(joined.clone()));
            }
            r.deliver(to, Delivery::Send(admitted(&members)));
            true
        })
        .unwrap_or(true)
    }

    /// The host refuses joiner `to` (wrong code): a failed join; `to` is closed.
    pub fn refuse(&self, m: &Membership, to: u16) -> bool {
        if m.id != HOST {
            return false;
        }
        self.with_room(m, |r| match r.members.get(&to).map(|s| s.admitted) {
            Some(false) => {
                r.deliver(to, Delivery::Close("wrong_code"));
                true
            }
            Some(true) => false,
            None => true,
        })
        .unwrap_or(true)
    }

    /// A frame (or, from the host, a rekey) from admitted member `m` to `to` (0: every
    /// other member). One to a member that already left is dropped (the sender hears
    /// `left`).
    pub fn forward(&self, m: &Membership, to: u16, msg: Utf8Bytes, host_only: bool) -> bool {
        if host_only && (m.id != HOST || to == 0) {
            return false;
        }
        self.with_room(m, |r| {
            if !r.members.get(&m.id).is_some_and(|s| s.admitted) {
                return false;
            }
            let targets: Vec<u16> = r
                .admitted()
                .filter(|&id| id != m.id && (to == 0 || to == id))
                .collect();
            for id in targets {
                r.deliver_from(m.id, id, Delivery::Send(msg.clone()));
            }
            true
        })
        .unwrap_or(true)
    }

    /// Admitted member `m` asks for TURN credentials: it is handed `reply(true)` in a
    /// room with another admitted member (it proved the code to the host, or it is the
    /// host that admitted someone), `reply(false)` (STUN only) while the host is alone.
    /// `false` when `m` is not admitted or asked [`TURN_REQUESTS`] times already (the
    /// caller closes it).
    pub fn turn(&self, m: &Membership, reply: impl FnOnce(bool) -> Utf8Bytes) -> bool {
        self.with_room(m, |r| {
            let with_others = r.admitted().count() >= 2;
            let Some(slot) = r.members.get_mut(&m.id) else {
                return false;
            };
            if !slot.admitted || slot.turn_asked >= TURN_REQUESTS {
                return false;
            }
            slot.turn_asked += 1;
            r.deliver(m.id, Delivery::Send(reply(with_others)));
            true
        })
        .unwrap_or(false)
    }

    /// `id` left `nameplate` (its socket closed).
    fn leave(&self, nameplate: u32, id: u16) {
        let mut rooms = self.lock();
        if let Some(room) = rooms.get_mut(&nameplate)
            && !room.evicted.contains(&id)
        {
            room.evicted.push(id);
        }
        settle(&mut rooms, nameplate, &self.guess_limits);
    }
}

/// Drops the members of `nameplate` that left or overflowed: a join in progress counts
/// as failed and the host hears it went; a member's leaving is told to the others; the
/// host's ends the room (every member is closed) and nothing of it remains.
fn settle(rooms: &mut HashMap<u32, Room>, nameplate: u32, limits: &GuessLimits) {
    while let Some(room) = rooms.get_mut(&nameplate)
        && let Some(id) = room.evicted.pop()
    {
        let Some(slot) = room.members.remove(&id) else {
            continue;
        };
        if id == HOST {
            for other in room.members.values() {
                let _ = other.tx.try_send(Delivery::Close("room_closed"));
            }
            rooms.remove(&nameplate);
            return;
        }
        let left: Utf8Bytes = format!(r#"{{"type":"left","member":{id}}}"#).into();
        if slot.admitted {
            let others: Vec<u16> = room.admitted().collect();
            for other in others {
                room.deliver(other, Delivery::Send(left.clone()));
            }
        } else {
            room.guesses.failed(limits, slot.source);
            room.deliver(HOST, Delivery::Send(left));
        }
    }
}
