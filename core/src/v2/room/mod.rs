//! Rooms (PROTOCOL.md 30): up to eight members who share a short code, talk in text
//! and voice, and leave nothing behind. This module holds the cryptography: the
//! [`RoomCode`], the join (SPAKE2 with key confirmation and a sealed grant of the room
//! key: [`JoinerPake`], [`HostPake`]), room frames ([`seal_frame`], [`open_frame`])
//! and the rotation of the room key ([`seal_rekey`], [`open_rekey`]). The rules (who
//! is a member, which frames are accepted) are the engine's.

mod code;
mod frame;
mod pake;
#[cfg(test)]
mod tests;

pub use code::{MAX_NAMEPLATE, RoomCode, SECRET_LEN};
pub use frame::{
    Content, EVERYONE, EpochKey, FRAME_HEADER_LEN, FRAME_VERSION, FrameBody, FrameHeader,
    MAX_FRAME_LEN, MAX_NAME_LEN, MAX_SIGNAL_LEN, MAX_TEXT_LEN, MemberId, REKEY_LEN,
    ROSTER_ENTRY_LEN, RosterEntry, open_frame, open_rekey, seal_frame, seal_rekey,
};
pub use pake::{
    CONFIRM_LEN, GRANT_LEN, Grant, HostPake, JoinerConfirmed, JoinerPake, PAKE_MSG_LEN,
};

/// Most members of a room, the host included.
pub const MAX_MEMBERS: usize = 8;
