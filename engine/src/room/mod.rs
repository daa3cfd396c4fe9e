//! Rooms (PROTOCOL.md 30) as a sans-I/O state machine: what the relay's room socket
//! said goes in ([`RoomIn`]), what to send on it and what to show come out
//! ([`Output`]). One [`Room`] per room this device is in; nothing of it is stored, and
//! dropping it forgets the room (its keys are wiped).
//!
//! The rules: a joiner is admitted only after SPAKE2 and a key confirmation both ways
//! with the host (member 1); the host rotates the room key whenever someone joins or
//! leaves, sealing the new key to each member under that member's pairwise PAKE key, so
//! a member who left cannot read what follows and one who joins cannot read what came
//! before; a frame is accepted only from a member, addressed to this member or
//! everyone, under the current key (or the previous one while its sender has not moved
//! on), numbered above the last one accepted in its stream from that sender (or in a
//! gap still awaited). Everything else is refused with a [`Refusal`] the app sees;
//! nothing is dropped in silence. Every frame
//! carries the members its sender sees, so a member the relay hides from some members
//! is reported to them ([`RoomEvent::Unreached`]) rather than silently left out, and a
//! member whose frames do not reach some others is told so ([`RoomEvent::Unheard`]).
//! Every roster entry also carries the last counter its sender accepted from that
//! member, so a member whose frames stop reaching another after they once did is told
//! ([`RoomEvent::Undelivered`]); time is an input ([`Room::tick`]). And every frame is
//! numbered in its stream (epoch, sender, addressee), so a member that accepts a frame
//! after a number was skipped waits [`REORDER_GRACE_MS`] for it, then is told
//! ([`RoomEvent::Missing`]).

mod gaps;
#[cfg(test)]
mod gaps_tests;
mod host;
mod member;
mod receipts;
#[cfg(test)]
mod receipts_tests;
mod roster;

use alloc::string::String;
use alloc::vec::Vec;

pub use sealpost_core::v2::room::{Content, EVERYONE, MAX_MEMBERS, MemberId, RoomCode};

pub use gaps::{MAX_OPEN_GAPS, REORDER_GRACE_MS};
pub use member::{MAX_PREVIOUS_EPOCH_FRAMES, Room, SendRefused};
pub use receipts::{MAX_AWAITED_FRAMES, RECEIPT_INTERVAL_MS, UNDELIVERED_GRACE_MS};

/// The host's member id: the relay gives it to whoever created the room.
pub const HOST: MemberId = 1;
/// Joins the host handles at once; more are refused until one finishes.
pub const MAX_PENDING_JOINS: usize = 4;

/// What the relay's room socket delivered (docs/API.md "Rooms"), decoded by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomIn<'a> {
    /// A PAKE message: for the host, a joiner's SPAKE2 message or confirmation; for a
    /// joiner, the host's SPAKE2 message.
    Pake {
        /// Who sent it (relay-stamped).
        from: MemberId,
        /// The bytes.
        data: &'a [u8],
    },
    /// For a joiner: the host admitted it.
    Admitted {
        /// The joiner's member id.
        member: MemberId,
        /// The host's grant.
        grant: &'a [u8],
        /// The members at that moment, the joiner included.
        members: &'a [MemberId],
    },
    /// Someone was admitted.
    Joined {
        /// The new member.
        member: MemberId,
    },
    /// Someone left (or a joiner gave up).
    Left {
        /// Who.
        member: MemberId,
    },
    /// A room frame.
    Frame {
        /// Who sent it (relay-stamped).
        from: MemberId,
        /// The sealed frame.
        data: &'a [u8],
    },
    /// A new room key from the host.
    Rekey {
        /// Who sent it (relay-stamped).
        from: MemberId,
        /// The sealed key.
        data: &'a [u8],
    },
}

/// What to send on the room socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomOut {
    /// A PAKE message to `to` (a joiner sends to [`HOST`]).
    Pake {
        /// The addressee.
        to: MemberId,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The host admits joiner `to` with a grant.
    Admit {
        /// The joiner.
        to: MemberId,
        /// The grant.
        grant: Vec<u8>,
    },
    /// The host refuses joiner `to` (wrong code): the relay counts a failed attempt.
    Refuse {
        /// The joiner.
        to: MemberId,
    },
    /// A sealed frame to `to` (or [`EVERYONE`]).
    Frame {
        /// The addressee.
        to: MemberId,
        /// The sealed frame.
        data: Vec<u8>,
    },
    /// The host's new room key for member `to`.
    Rekey {
        /// The member.
        to: MemberId,
        /// The sealed key.
        data: Vec<u8>,
    },
}

/// Why a frame, rekey or PAKE message was refused. Stable codes for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// From someone who is not a member (or from this member itself).
    UnknownSender,
    /// Addressed to another member.
    Misaddressed,
    /// Under a room key this member no longer accepts (or does not have yet).
    StaleEpoch,
    /// Its stream number is not above the last one accepted in its stream from that
    /// sender, nor in a gap still awaited: a replay, a duplicate, or a frame that came
    /// after it was reported missing.
    Replayed,
    /// It did not open: forged, altered, or attributed to another sender.
    Forged,
    /// Not the documented format or outside the limits.
    Malformed,
    /// A frame of an earlier format (version 1, 2 or 3), which this member no longer
    /// accepts: its sender runs an older app.
    OldVersion,
    /// Not expected now (a PAKE message out of turn, a rekey from a non-host).
    Unexpected,
}

impl Refusal {
    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Refusal::UnknownSender => "UNKNOWN_SENDER",
            Refusal::Misaddressed => "MISADDRESSED",
            Refusal::StaleEpoch => "STALE_EPOCH",
            Refusal::Replayed => "REPLAYED",
            Refusal::Forged => "FORGED",
            Refusal::Malformed => "MALFORMED",
            Refusal::OldVersion => "OLD_VERSION",
            Refusal::Unexpected => "UNEXPECTED",
        }
    }
}

/// What the app is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// This joiner is in: its member id and the members.
    Admitted {
        /// This member's id.
        me: MemberId,
        /// Everyone in the room, this member included.
        members: Vec<MemberId>,
    },
    /// The code this joiner used is not the room's: the join is over.
    WrongCode,
    /// The host refused a joiner's code (host only).
    JoinRefused {
        /// The joiner.
        member: MemberId,
    },
    /// Someone joined.
    MemberJoined {
        /// Who.
        member: MemberId,
    },
    /// Someone left. When it is the host, the room is over.
    MemberLeft {
        /// Who.
        member: MemberId,
    },
    /// A member said its name.
    Hello {
        /// Who.
        from: MemberId,
        /// The name.
        name: String,
    },
    /// A text message.
    Text {
        /// Who.
        from: MemberId,
        /// Whether it was for this member only.
        private: bool,
        /// The text.
        text: String,
    },
    /// WebRTC signalling for the voice mesh.
    Signal {
        /// Who.
        from: MemberId,
        /// The app's signalling payload.
        data: String,
    },
    /// A shown member (`via`) sees `member`, which this member does not: the relay
    /// drops its frames to this member, or said it left. Said once while it lasts;
    /// `Room::unreached` tells whether it still does.
    Unreached {
        /// The member that does not reach this one.
        member: MemberId,
        /// A member whose frames say it sees `member`.
        via: MemberId,
    },
    /// A shown member, `by`, sends frames that do not list this member: nothing this
    /// member sends reaches it (the relay drops its frames to `by`, or all of them).
    /// Said once while it lasts; `Room::unheard` tells whether it still does.
    Unheard {
        /// The member this one does not reach.
        by: MemberId,
    },
    /// A shown member, `to`, has not acknowledged a frame this member sent it (or sent
    /// everyone) [`UNDELIVERED_GRACE_MS`] ago: this member's frames do not reach it, or
    /// its frames (receipts included) do not reach this member; which of the two cannot
    /// be told. Said once while it lasts; `Room::undelivered` tells whether it does.
    Undelivered {
        /// The member that does not acknowledge.
        to: MemberId,
    },
    /// After an [`RoomEvent::Undelivered`]: `to` acknowledged every frame overdue. It
    /// acknowledges the last counter it accepted, so frames in between may still have
    /// been lost.
    Delivered {
        /// The member that acknowledges again.
        to: MemberId,
    },
    /// `count` frames `from` sent this member (or everyone) did not arrive: later frames
    /// of the same stream did, and [`REORDER_GRACE_MS`] passed (or `from` left). Said
    /// once per gap; one that arrives after this is refused ([`Refusal::Replayed`]).
    Missing {
        /// The sender.
        from: MemberId,
        /// How many frames (a member can claim any number by skipping ahead).
        count: u64,
    },
    /// The room key moved to `epoch`.
    Rekeyed {
        /// The new epoch.
        epoch: u32,
    },
    /// Something from `from` was refused.
    Refused {
        /// The relay-stamped sender.
        from: MemberId,
        /// Why.
        reason: Refusal,
    },
}

/// One output of [`Room::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this on the room socket, in order.
    Send(RoomOut),
    /// Tell the app.
    Event(RoomEvent),
}
