//! Replay memory of dropped sessions (design 2.3 step 5, 2.4).
//!
//! A dropped responder session's init could be replayed to set it up again, so its id
//! is remembered until `init_at + MAX_MESSAGE_AGE`, after which the init fails the time
//! window anyway. Sessions we initiated need no entry: nobody can replay their init to
//! us (it is sealed to the peer device), and without the keys their messages do not open.
//!
//! Two memories, so strangers cannot flush what protects genuine sessions:
//! - **trusted**: ids of dropped trusted sessions. Entries only expire, never evicted
//!   early. It is bounded by refusing new trusted sessions (`accept` fails with
//!   [`crate::Error::TooLarge`]) while it holds [`REPLAY_MEMORY`] entries, or
//!   [`REPLAY_PER_PEER`] entries of the sender: only a peer the engine trusts, starting
//!   sessions far faster than any client does, can reach that, and it then blocks only
//!   itself (per peer) or, at the total, new sessions until entries expire.
//! - **untrusted**: ids of dropped untrusted sessions, a FIFO of [`UNTRUSTED_REPLAY_MEMORY`].
//!   Overflow is harmless for delivery: the engine's durable seen-set (design 3.3)
//!   refuses a replayed message's id anyway.

use alloc::vec::Vec;

use crate::username::UserId;
use crate::v2::ids::SessionId;
use crate::v2::session::Session;

/// Oldest accepted `sent_at` / `init_at`: 14 days (the relay's longest retention) plus
/// one hour of clock skew.
pub const MAX_MESSAGE_AGE: u64 = 14 * 24 * 3600 + 3600;
/// Most remembered ids of dropped trusted sessions before new trusted sessions wait.
pub const REPLAY_MEMORY: usize = 8192;
/// Most remembered ids of one peer user's dropped sessions before its new ones wait.
pub const REPLAY_PER_PEER: usize = 1024;
/// Remembered ids of dropped untrusted sessions (oldest forgotten first).
pub const UNTRUSTED_REPLAY_MEMORY: usize = 256;

/// One remembered trusted session.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrustedEntry {
    pub(crate) id: SessionId,
    pub(crate) peer: UserId,
    pub(crate) expires_at: u64,
}

#[derive(Default)]
pub(crate) struct ReplayMemory {
    pub(crate) trusted: Vec<TrustedEntry>,
    pub(crate) untrusted: Vec<(SessionId, u64)>,
}

impl ReplayMemory {
    pub(crate) fn contains(&self, id: &SessionId) -> bool {
        self.trusted.iter().any(|e| e.id == *id) || self.untrusted.iter().any(|(i, _)| i == id)
    }

    /// Remembers a dropped session if it could otherwise be set up again.
    pub(crate) fn remember(&mut self, s: &Session, now: u64) {
        let expires_at = s.init_at.saturating_add(MAX_MESSAGE_AGE);
        if s.initiator || expires_at < now || self.contains(&s.id) {
            return;
        }
        if s.trusted {
            self.trusted.push(TrustedEntry {
                id: s.id,
                peer: s.peer,
                expires_at,
            });
        } else {
            self.untrusted.push((s.id, expires_at));
            let excess = self.untrusted.len().saturating_sub(UNTRUSTED_REPLAY_MEMORY);
            self.untrusted.drain(..excess);
        }
    }

    /// Whether a new trusted session from `peer` may be created now.
    pub(crate) fn has_room_for(&self, peer: &UserId) -> bool {
        self.trusted.len() < REPLAY_MEMORY
            && self.trusted.iter().filter(|e| e.peer == *peer).count() < REPLAY_PER_PEER
    }

    /// Forgets entries whose inits can no longer pass the time window.
    pub(crate) fn prune(&mut self, now: u64) {
        self.trusted.retain(|e| e.expires_at >= now);
        self.untrusted.retain(|(_, t)| *t >= now);
    }
}
