//! A room as one member sees it: joining, the member list, frame acceptance and the
//! guest's side of key rotation. The host's part is in `host.rs`.

use alloc::vec;
use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use rand_core::CryptoRng;
use sealpost_core::v2::room::{
    Content, EVERYONE, EpochKey, FrameHeader, JoinerConfirmed, JoinerPake, MAX_MEMBERS, MemberId,
    RoomCode, open_frame, open_rekey, seal_frame,
};
use zeroize::Zeroizing;

use super::host::HostState;
use super::{HOST, Output, Refusal, RoomEvent, RoomIn, RoomOut};

/// Why [`Room::send`] could not seal a frame. Stable codes for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefused {
    /// Not (or no longer) a member of the room.
    NotInRoom,
    /// The addressee is not a member.
    NoSuchMember,
    /// The content is over its limit.
    TooLarge,
}

impl SendRefused {
    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            SendRefused::NotInRoom => "NOT_IN_ROOM",
            SendRefused::NoSuchMember => "NO_SUCH_MEMBER",
            SendRefused::TooLarge => "TOO_LARGE",
        }
    }
}

/// What this member knows of another.
#[derive(Debug, Default)]
struct Peer {
    /// The highest counter accepted from it (counters start at 1).
    last_counter: u64,
    /// The epoch of the last frame accepted from it.
    last_epoch: Option<u32>,
}

/// A member's state.
pub(super) struct Membership {
    pub(super) me: MemberId,
    pub(super) key: EpochKey,
    pub(super) previous: Option<EpochKey>,
    next_counter: u64,
    peers: SortedMap<MemberId, Peer>,
    /// A guest's pairwise key with the host (rekeys).
    pair: Option<Zeroizing<[u8; 32]>>,
    /// Only the host's.
    pub(super) host: Option<HostState>,
}

impl Membership {
    pub(super) fn new(me: MemberId, key: EpochKey) -> Self {
        Self {
            me,
            key,
            previous: None,
            next_counter: 1,
            peers: SortedMap::new(),
            pair: None,
            host: None,
        }
    }

    pub(super) fn add_peer(&mut self, id: MemberId) -> bool {
        if id == self.me || self.peers.contains_key(&id) {
            return false;
        }
        self.peers.insert(id, Peer::default());
        true
    }

    pub(super) fn peer_ids(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.peers.keys().copied()
    }

    pub(super) fn member_count(&self) -> usize {
        self.peers.len() + 1
    }

    /// Moves to `next`, keeping the current key for frames still in flight.
    pub(super) fn advance(&mut self, next: EpochKey) {
        self.previous = Some(core::mem::replace(&mut self.key, next));
    }

    fn accept_frame(&mut self, from: MemberId, data: &[u8]) -> Result<RoomEvent, Refusal> {
        let me = self.me;
        let current = self.key.epoch;
        let peer = self.peers.get_mut(&from).ok_or(Refusal::UnknownSender)?;
        let h = FrameHeader::parse(data).map_err(|_| Refusal::Malformed)?;
        if h.sender != from {
            return Err(Refusal::Forged);
        }
        if h.to != EVERYONE && h.to != me {
            return Err(Refusal::Misaddressed);
        }
        let key = if h.epoch == current {
            &self.key
        } else {
            match &self.previous {
                Some(prev)
                    if h.epoch == prev.epoch && peer.last_epoch.is_none_or(|e| e == prev.epoch) =>
                {
                    prev
                }
                _ => return Err(Refusal::StaleEpoch),
            }
        };
        if h.counter <= peer.last_counter {
            return Err(Refusal::Replayed);
        }
        let content = open_frame(key, h, data).map_err(|e| match e {
            sealpost_core::Error::Decrypt => Refusal::Forged,
            _ => Refusal::Malformed,
        })?;
        peer.last_counter = h.counter;
        peer.last_epoch = Some(h.epoch);
        Ok(match content {
            Content::Hello(name) => RoomEvent::Hello { from, name },
            Content::Text(text) => RoomEvent::Text {
                from,
                private: h.to != EVERYONE,
                text,
            },
            Content::Signal(data) => RoomEvent::Signal { from, data },
        })
    }

    fn accept_rekey(&mut self, from: MemberId, data: &[u8]) -> Result<RoomEvent, Refusal> {
        if from != HOST || self.host.is_some() {
            return Err(Refusal::Unexpected);
        }
        let pair = self.pair.as_ref().ok_or(Refusal::Unexpected)?;
        let next = open_rekey(pair, self.me, data).map_err(|e| match e {
            sealpost_core::Error::Decrypt => Refusal::Forged,
            _ => Refusal::Malformed,
        })?;
        if next.epoch <= self.key.epoch {
            return Err(Refusal::Replayed);
        }
        let epoch = next.epoch;
        self.advance(next);
        Ok(RoomEvent::Rekeyed { epoch })
    }
}

enum Phase {
    /// A joiner that sent its SPAKE2 message.
    Joining(JoinerPake),
    /// A joiner that sent its confirmation.
    Confirming(JoinerConfirmed),
    /// In the room.
    Member(Membership),
    /// Refused, left, or the host left: nothing more is accepted or sent.
    Over,
}

/// One room this device is in (or is joining). Holds its keys in memory only; they are
/// wiped when it is dropped.
pub struct Room {
    phase: Phase,
}

impl core::fmt::Debug for Room {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let phase = match &self.phase {
            Phase::Joining(_) => "joining",
            Phase::Confirming(_) => "confirming",
            Phase::Member(_) => "member",
            Phase::Over => "over",
        };
        f.debug_struct("Room")
            .field("phase", &phase)
            .field("me", &self.me())
            .field("members", &self.members())
            .finish()
    }
}

impl Room {
    /// A new room on the relay's `nameplate`: this device is its host (member 1). The
    /// code is what the others join with.
    pub fn create<R: CryptoRng + ?Sized>(
        rng: &mut R,
        nameplate: u32,
    ) -> sealpost_core::Result<(Self, RoomCode)> {
        let code = RoomCode::generate(rng, nameplate)?;
        let mut m = Membership::new(HOST, EpochKey::generate(rng, 0));
        m.host = Some(HostState::new(code.clone()));
        Ok((
            Self {
                phase: Phase::Member(m),
            },
            code,
        ))
    }

    /// Starts joining with `code`; the message goes to the host.
    pub fn join<R: CryptoRng + ?Sized>(
        rng: &mut R,
        code: &RoomCode,
    ) -> sealpost_core::Result<(Self, RoomOut)> {
        let (pake, msg) = JoinerPake::start(rng, code)?;
        Ok((
            Self {
                phase: Phase::Joining(pake),
            },
            RoomOut::Pake {
                to: HOST,
                data: msg.to_vec(),
            },
        ))
    }

    /// This member's id, once admitted.
    pub fn me(&self) -> Option<MemberId> {
        match &self.phase {
            Phase::Member(m) => Some(m.me),
            _ => None,
        }
    }

    /// Everyone in the room, this member included, by id; empty until admitted.
    pub fn members(&self) -> Vec<MemberId> {
        match &self.phase {
            Phase::Member(m) => {
                let mut all: Vec<MemberId> = m.peer_ids().collect();
                all.push(m.me);
                all.sort_unstable();
                all
            }
            _ => Vec::new(),
        }
    }

    /// The room key's epoch, once admitted.
    pub fn epoch(&self) -> Option<u32> {
        match &self.phase {
            Phase::Member(m) => Some(m.key.epoch),
            _ => None,
        }
    }

    /// The code, for the host to show.
    pub fn code(&self) -> Option<&RoomCode> {
        match &self.phase {
            Phase::Member(m) => m.host.as_ref().map(HostState::code),
            _ => None,
        }
    }

    /// Whether the room is over for this member (refused, left, or the host left).
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Over)
    }

    /// Seals `content` to `to` (a member, or [`EVERYONE`]).
    pub fn send(&mut self, to: MemberId, content: &Content) -> Result<RoomOut, SendRefused> {
        let Phase::Member(m) = &mut self.phase else {
            return Err(SendRefused::NotInRoom);
        };
        if to != EVERYONE && !m.peers.contains_key(&to) {
            return Err(SendRefused::NoSuchMember);
        }
        let header = FrameHeader {
            epoch: m.key.epoch,
            sender: m.me,
            to,
            counter: m.next_counter,
        };
        let data = seal_frame(&m.key, header, content).map_err(|_| SendRefused::TooLarge)?;
        m.next_counter = m.next_counter.saturating_add(1);
        Ok(RoomOut::Frame { to, data })
    }

    /// Leaves: the room's keys are forgotten now; the driver closes the socket (the
    /// relay tells the others).
    pub fn leave(&mut self) {
        self.phase = Phase::Over;
    }

    /// Takes what the relay delivered.
    pub fn handle<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, input: RoomIn<'_>) -> Vec<Output> {
        let refuse = |from, reason| vec![Output::Event(RoomEvent::Refused { from, reason })];
        match core::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Joining(pake) => match input {
                RoomIn::Pake { from: HOST, data } => match pake.finish(data) {
                    Ok((confirmed, confirm)) => {
                        self.phase = Phase::Confirming(confirmed);
                        vec![Output::Send(RoomOut::Pake {
                            to: HOST,
                            data: confirm.to_vec(),
                        })]
                    }
                    Err(_) => vec![Output::Event(RoomEvent::WrongCode)],
                },
                RoomIn::Left { member: HOST } => {
                    vec![Output::Event(RoomEvent::MemberLeft { member: HOST })]
                }
                other => {
                    self.phase = Phase::Joining(pake);
                    refuse(sender_of(&other), Refusal::Unexpected)
                }
            },
            Phase::Confirming(confirmed) => match input {
                RoomIn::Admitted {
                    member,
                    grant,
                    members,
                } => self.admitted(confirmed, member, grant, members),
                RoomIn::Left { member: HOST } => {
                    vec![Output::Event(RoomEvent::MemberLeft { member: HOST })]
                }
                other => {
                    self.phase = Phase::Confirming(confirmed);
                    refuse(sender_of(&other), Refusal::Unexpected)
                }
            },
            Phase::Member(mut m) => {
                let out = m.handle(rng, input);
                if !matches!(input, RoomIn::Left { member: HOST }) || m.host.is_some() {
                    self.phase = Phase::Member(m);
                }
                out
            }
            Phase::Over => Vec::new(),
        }
    }

    fn admitted(
        &mut self,
        confirmed: JoinerConfirmed,
        member: MemberId,
        grant: &[u8],
        members: &[MemberId],
    ) -> Vec<Output> {
        let g = match confirmed.open_grant(grant, member) {
            Ok(g) => g,
            Err(sealpost_core::Error::WrongCode) => {
                return vec![Output::Event(RoomEvent::WrongCode)];
            }
            Err(_) => {
                return vec![Output::Event(RoomEvent::Refused {
                    from: HOST,
                    reason: Refusal::Forged,
                })];
            }
        };
        if member == HOST || members.len() > MAX_MEMBERS || !members.contains(&HOST) {
            return vec![Output::Event(RoomEvent::Refused {
                from: HOST,
                reason: Refusal::Malformed,
            })];
        }
        let mut m = Membership::new(member, g.key);
        m.pair = Some(g.pair_key);
        for &id in members {
            m.add_peer(id);
        }
        let event = RoomEvent::Admitted {
            me: member,
            members: {
                let mut all: Vec<MemberId> = m.peer_ids().chain([member]).collect();
                all.sort_unstable();
                all
            },
        };
        self.phase = Phase::Member(m);
        vec![Output::Event(event)]
    }
}

/// The relay-stamped sender of an input (0 when it has none).
fn sender_of(input: &RoomIn<'_>) -> MemberId {
    match *input {
        RoomIn::Pake { from, .. } | RoomIn::Frame { from, .. } | RoomIn::Rekey { from, .. } => from,
        RoomIn::Admitted { .. } => HOST,
        RoomIn::Joined { member } | RoomIn::Left { member } => member,
    }
}

impl Membership {
    fn handle<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, input: RoomIn<'_>) -> Vec<Output> {
        let one = |r: Result<RoomEvent, Refusal>, from| {
            vec![Output::Event(r.unwrap_or_else(|reason| {
                RoomEvent::Refused { from, reason }
            }))]
        };
        match input {
            RoomIn::Frame { from, data } => one(self.accept_frame(from, data), from),
            RoomIn::Rekey { from, data } => one(self.accept_rekey(from, data), from),
            RoomIn::Pake { from, data } if self.host.is_some() => self.host_pake(rng, from, data),
            RoomIn::Joined { member } => {
                if self.host.is_none() && self.member_count() < MAX_MEMBERS && self.add_peer(member)
                {
                    vec![Output::Event(RoomEvent::MemberJoined { member })]
                } else {
                    Vec::new()
                }
            }
            RoomIn::Left { member } => self.left(rng, member),
            other => one(Err(Refusal::Unexpected), sender_of(&other)),
        }
    }

    fn left<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, member: MemberId) -> Vec<Output> {
        if let Some(host) = self.host.as_mut()
            && host.forget_pending(member)
        {
            return Vec::new();
        }
        if self.peers.remove(&member).is_none() {
            return Vec::new();
        }
        let mut out = vec![Output::Event(RoomEvent::MemberLeft { member })];
        if self.host.is_some() {
            out.extend(self.rotate(rng, None));
        }
        out
    }
}
