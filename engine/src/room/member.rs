//! A room as one member sees it: joining, the member list, frame acceptance and the
//! guest's side of key rotation. The host's part is in `host.rs`.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use sealpost_core::sort::sort_by_key;
use sealpost_core::sorted::SortedMap;

use rand_core::CryptoRng;
use sealpost_core::v2::room::{
    Content, EVERYONE, EpochKey, FRAME_VERSION, FrameBody, FrameHeader, JoinerConfirmed,
    JoinerPake, MAX_MEMBERS, MemberId, RoomCode, open_frame, open_rekey, seal_frame,
};
use zeroize::Zeroizing;

use super::gaps::{Arrivals, Stream, report_left};
use super::host::HostState;
use super::receipts::{Clock, Delivery};
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

/// Frames one sender may still have accepted under the previous room key once this
/// member moved to a new one (PROTOCOL.md 30.4 step 5): enough for what a member seals
/// in the round trip before its rekey arrives, and a bound on what a member who left
/// can forge under the old key with the relay's help.
pub const MAX_PREVIOUS_EPOCH_FRAMES: u8 = 16;

/// The shortest frame of an earlier format (1 to 3) that is told apart as such: their
/// 17-byte header, a roster count and a kind, a tag.
const OLD_FRAME_MIN_LEN: usize = 17 + 2 + 16;

/// What this member knows of another.
#[derive(Debug, Default)]
pub(super) struct Peer {
    /// The highest counter accepted from it (counters start at 1; 0: none yet).
    pub(super) last_counter: u64,
    /// Where its streams stand here, and the frames missing from them (`gaps.rs`).
    pub(super) arrivals: Arrivals,
    /// The last stream number this member gave its frames to it alone, under the
    /// current key: every stream starts at 1 in each epoch.
    sent_seq: u32,
    /// The epoch of the last frame accepted from it.
    last_epoch: Option<u32>,
    /// Frames accepted from it under the previous key since the last rotation.
    previous_accepted: u8,
    /// Whether it proved it holds the room key (PROTOCOL.md 30.4, "Who is in the
    /// room"): the host admitted it, or a frame of its own opened. The relay's `joined`
    /// and member lists alone prove nothing, so they do not make a member shown.
    pub(super) proven: bool,
    /// The members it said it sees, in its latest frame (highest counter) under the
    /// current key (`roster.rs`); emptied at each rotation.
    pub(super) roster: Vec<MemberId>,
    /// Whether this member's frames reach it, by its rosters' counters (`receipts.rs`).
    pub(super) delivery: Delivery,
}

/// What [`Membership::accept_frame`] found in a frame it accepted.
struct Accepted {
    /// The frame is the first proof that its sender holds the room key: shown now.
    shown: bool,
    /// The first frame accepted from its sender.
    first: bool,
    /// What it says (nothing for a receipt).
    event: Option<RoomEvent>,
}

/// A member's state.
pub(super) struct Membership {
    pub(super) me: MemberId,
    pub(super) key: EpochKey,
    pub(super) previous: Option<EpochKey>,
    next_counter: u64,
    /// The last stream number this member gave its frames to [`EVERYONE`] under the
    /// current key (those to one member: [`Peer::sent_seq`]).
    everyone_seq: u32,
    pub(super) peers: SortedMap<MemberId, Peer>,
    /// A guest's pairwise key with the host (rekeys).
    pair: Option<Zeroizing<[u8; 32]>>,
    /// The name this member last said (empty until it says one): what it announces
    /// itself with to each member it has not shown itself to yet.
    name: String,
    /// Only the host's.
    pub(super) host: Option<HostState>,
    /// The time, and the receipt owed (`receipts.rs`).
    pub(super) clock: Clock,
}

impl Membership {
    pub(super) fn new(me: MemberId, key: EpochKey) -> Self {
        Self {
            me,
            key,
            previous: None,
            next_counter: 1,
            everyone_seq: 0,
            peers: SortedMap::new(),
            pair: None,
            name: String::new(),
            host: None,
            clock: Clock::default(),
        }
    }

    /// Seals `content` to `to` (a shown member, or [`EVERYONE`]).
    pub(super) fn seal(&mut self, to: MemberId, content: &Content) -> Result<RoomOut, SendRefused> {
        let last_seq = if to == EVERYONE {
            self.everyone_seq
        } else {
            match self.peers.get(&to) {
                Some(p) if p.proven => p.sent_seq,
                _ => return Err(SendRefused::NoSuchMember),
            }
        };
        // 2^32 - 1 frames of one stream in one epoch is beyond any room's life; past it
        // the number stays, and the receivers refuse the frames as replayed.
        let seq = last_seq.saturating_add(1);
        let header = FrameHeader {
            epoch: self.key.epoch,
            sender: self.me,
            to,
            counter: self.next_counter,
            seq,
        };
        // Every frame says whom this member sees (PROTOCOL.md 30.4 "Rosters").
        let data = seal_frame(&self.key, header, &self.roster(), content)
            .map_err(|_| SendRefused::TooLarge)?;
        if to == EVERYONE {
            self.everyone_seq = seq;
        } else if let Some(p) = self.peers.get_mut(&to) {
            p.sent_seq = seq;
        }
        self.sent(to, header.counter, content);
        self.next_counter = self.next_counter.saturating_add(1);
        if let Content::Hello(name) = content {
            self.name.clone_from(name);
        }
        Ok(RoomOut::Frame { to, data })
    }

    /// This member's hello (its name, or an empty one) to `to`: how it proves to `to`
    /// that it holds the room key (PROTOCOL.md 30.4 "Who is in the room").
    pub(super) fn announce(&mut self, to: MemberId) -> Option<Output> {
        let hello = Content::Hello(self.name.clone());
        self.seal(to, &hello).ok().map(Output::Send)
    }

    /// Adds member `id`; `proven` when this member knows it holds the room key.
    pub(super) fn add_peer(&mut self, id: MemberId, proven: bool) -> bool {
        if id == self.me || self.peers.contains_key(&id) {
            return false;
        }
        self.peers.insert(
            id,
            Peer {
                proven,
                ..Peer::default()
            },
        );
        true
    }

    /// Every member the relay says is in the room, proven or not.
    pub(super) fn peer_ids(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.peers.keys().copied()
    }

    /// The members that proved they hold the room key, and this one.
    fn shown(&self) -> Vec<MemberId> {
        let mut all: Vec<MemberId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.proven)
            .map(|(id, _)| *id)
            .chain([self.me])
            .collect();
        sort_by_key(&mut all, |m| *m);
        all
    }

    pub(super) fn member_count(&self) -> usize {
        self.peers.len() + 1
    }

    /// Moves to `next`, keeping the current key for frames still in flight. Every
    /// stream starts again at 1 under the new key.
    pub(super) fn advance(&mut self, next: EpochKey) {
        self.previous = Some(core::mem::replace(&mut self.key, next));
        self.everyone_seq = 0;
        for p in self.peers.values_mut() {
            p.previous_accepted = 0;
            p.sent_seq = 0;
            p.roster.clear();
            p.arrivals.rotate();
        }
    }

    /// A frame from `from`: what it says, whether it is the first proof that `from`
    /// holds the room key (then `from` is shown), and whether it is the first frame
    /// accepted from `from` at all.
    fn accept_frame(&mut self, from: MemberId, data: &[u8]) -> Result<Accepted, Refusal> {
        let me = self.me;
        let current = self.key.epoch;
        let peer = self.peers.get_mut(&from).ok_or(Refusal::UnknownSender)?;
        // A frame of a format this member no longer speaks (PROTOCOL.md 30.4: 2 had no
        // receipts, 3 no stream numbers), at least as long as its header, a roster
        // count, a kind and a tag.
        let old = data.first().is_some_and(|&v| v != 0 && v < FRAME_VERSION);
        if old && data.len() >= OLD_FRAME_MIN_LEN {
            return Err(Refusal::OldVersion);
        }
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
                    if h.epoch == prev.epoch
                        && peer.last_epoch.is_none_or(|e| e == prev.epoch)
                        && peer.previous_accepted < MAX_PREVIOUS_EPOCH_FRAMES =>
                {
                    prev
                }
                _ => return Err(Refusal::StaleEpoch),
            }
        };
        let stream = Stream {
            epoch: h.epoch,
            current: h.epoch == current,
            private: h.to != EVERYONE,
        };
        peer.arrivals.check(stream, h.seq)?;
        let FrameBody { roster, content } = open_frame(key, h, data).map_err(|e| match e {
            sealpost_core::Error::Decrypt => Refusal::Forged,
            _ => Refusal::Malformed,
        })?;
        peer.arrivals.accepted(stream, h.seq, self.clock.now());
        let first = peer.last_counter == 0;
        // A frame that filled a gap is older than one accepted before: its roster and
        // counter say less than what is known.
        let latest = h.counter > peer.last_counter;
        peer.last_counter = peer.last_counter.max(h.counter);
        peer.last_epoch = Some(h.epoch);
        if h.epoch == current {
            if latest {
                peer.roster = roster.iter().map(|e| e.member).collect();
            }
        } else {
            // Sealed before a change of membership this member already saw.
            peer.previous_accepted += 1;
        }
        let shown = !core::mem::replace(&mut peer.proven, true);
        // Its counters are its word whatever the epoch: they only grow.
        self.acknowledged(from, &roster);
        self.owe_receipt(&content);
        let event = match content {
            Content::Hello(name) => Some(RoomEvent::Hello { from, name }),
            Content::Text(text) => Some(RoomEvent::Text {
                from,
                private: h.to != EVERYONE,
                text,
            }),
            Content::Signal(data) => Some(RoomEvent::Signal { from, data }),
            Content::Receipt => None,
        };
        Ok(Accepted {
            shown,
            first,
            event,
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
    /// The latest tick, kept across the join so a joiner's first frames are dated.
    now: u64,
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
                now: 0,
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
                now: 0,
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

    /// Everyone in the room who proved it holds the room key (the host, whoever the
    /// host admitted, whoever sent a frame that opened), this member included, by id;
    /// empty until admitted. A member the relay only announced is not in it.
    pub fn members(&self) -> Vec<MemberId> {
        match &self.phase {
            Phase::Member(m) => m.shown(),
            _ => Vec::new(),
        }
    }

    /// Members some member sees but this one does not (PROTOCOL.md 30.4 "Rosters"):
    /// `(member, via)`, `via` being a shown member whose last frame under the current
    /// key lists `member`. A relay that drops a member's frames to this one, or says it
    /// left, cannot keep it out of the others' frames. Empty until admitted.
    pub fn unreached(&self) -> Vec<(MemberId, MemberId)> {
        match &self.phase {
            Phase::Member(m) => m.unreached(),
            _ => Vec::new(),
        }
    }

    /// Shown members whose last frame under the current key does not list this one
    /// (PROTOCOL.md 30.4 "Rosters"): what this member sends does not reach them. Empty
    /// until admitted.
    pub fn unheard(&self) -> Vec<MemberId> {
        match &self.phase {
            Phase::Member(m) => m.unheard(),
            _ => Vec::new(),
        }
    }

    /// Shown members that have not acknowledged a frame this member sent them, or sent
    /// everyone, [`UNDELIVERED_GRACE_MS`](super::UNDELIVERED_GRACE_MS) or more before the
    /// last tick (PROTOCOL.md 30.4 "Receipts"). Empty until admitted.
    pub fn undelivered(&self) -> Vec<MemberId> {
        match &self.phase {
            Phase::Member(m) => m.undelivered(),
            _ => Vec::new(),
        }
    }

    /// The clock, in milliseconds from any fixed origin (never going back): seals the
    /// receipt this member owes once [`RECEIPT_INTERVAL_MS`](super::RECEIPT_INTERVAL_MS)
    /// passed since its last frame, and tells of members whose acknowledgements are
    /// overdue, or no longer are. Frames sealed by [`Room::send`] and [`Room::handle`]
    /// are dated by the last tick: call it before them, and every few hundred ms.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Output> {
        self.now = self.now.max(now_ms);
        match &mut self.phase {
            Phase::Member(m) => m.tick(self.now),
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
        m.seal(to, content)
    }

    /// Leaves: the room's keys are forgotten now; the driver closes the socket (the
    /// relay tells the others).
    pub fn leave(&mut self) {
        self.phase = Phase::Over;
    }

    /// Takes what the relay delivered.
    pub fn handle<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, input: RoomIn<'_>) -> Vec<Output> {
        let refuse = |from, reason| vec![Output::Event(RoomEvent::Refused { from, reason })];
        // A member's input is handled where the membership lies: moving it out and back
        // would leave copies of its room keys behind on the stack at every input.
        if let Phase::Member(m) = &mut self.phase {
            let out = m.handle(rng, input);
            if matches!(input, RoomIn::Left { member: HOST }) && m.host.is_none() {
                self.phase = Phase::Over;
            }
            return out;
        }
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
            // Handled in place above: the membership is never moved out of `self`.
            phase @ Phase::Member(_) => {
                self.phase = phase;
                Vec::new()
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
        let bad_id = member == HOST || member == EVERYONE;
        if bad_id || members.len() > MAX_MEMBERS || !members.contains(&HOST) {
            return vec![Output::Event(RoomEvent::Refused {
                from: HOST,
                reason: Refusal::Malformed,
            })];
        }
        let mut m = Membership::new(member, g.key);
        m.clock = Clock::starting(self.now);
        m.pair = Some(g.pair_key);
        // The grant proves the host; the others prove themselves with their frames.
        for &id in members {
            m.add_peer(id, id == HOST);
        }
        let event = RoomEvent::Admitted {
            me: member,
            members: m.shown(),
        };
        // Shows this member to everyone already in the room.
        let hello = m.announce(EVERYONE);
        self.phase = Phase::Member(m);
        [Output::Event(event)].into_iter().chain(hello).collect()
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
    pub(super) fn handle<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        input: RoomIn<'_>,
    ) -> Vec<Output> {
        let one = |r: Result<RoomEvent, Refusal>, from| {
            vec![Output::Event(r.unwrap_or_else(|reason| {
                RoomEvent::Refused { from, reason }
            }))]
        };
        match input {
            RoomIn::Frame { from, data } => {
                let before = self.reports();
                let a = match self.accept_frame(from, data) {
                    Ok(a) => a,
                    Err(reason) => return one(Err(reason), from),
                };
                let mut out = Vec::new();
                if a.shown {
                    out.push(Output::Event(RoomEvent::MemberJoined { member: from }));
                }
                out.extend(a.event.map(Output::Event));
                // The first frame from it: whatever this member sealed before may have
                // gone out before it listed `from`, so it answers with a frame that does
                // (the host, which showed a newcomer when it admitted it, included).
                if a.first {
                    out.extend(self.announce(from));
                }
                self.tell(&before, &mut out);
                self.settle(&mut out);
                out
            }
            RoomIn::Rekey { from, data } => one(self.accept_rekey(from, data), from),
            RoomIn::Pake { from, data } if self.host.is_some() => self.host_pake(rng, from, data),
            // Only the relay's word: the member is shown once a frame of its own opens.
            RoomIn::Joined { member } => {
                if self.host.is_none() && self.member_count() < MAX_MEMBERS {
                    self.add_peer(member, false);
                }
                Vec::new()
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
        self.forget_in_rosters(member);
        let Some(mut peer) = self.peers.remove(&member) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        report_left(member, &mut peer.arrivals, &mut out);
        if peer.proven {
            out.push(Output::Event(RoomEvent::MemberLeft { member }));
        }
        if self.host.is_some() {
            out.extend(self.rotate(rng, None));
        }
        out
    }
}
