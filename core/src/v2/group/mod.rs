//! Groups of up to [`MAX_MEMBERS`] members (PROTOCOL.md 27, issue 10): one ciphertext per
//! message, whatever the group's size.
//!
//! - [`GroupState`] (27.2): id, name, epoch, key epoch, head, members with their
//!   usernames, identity fingerprints and since when each admin is one. Changes only by [`GroupOp`]s
//!   (27.3), RSA-PSS signed by the actor's identity key and checked by
//!   [`GroupState::apply`] (27.4): only admins add, remove, rename, promote, demote and
//!   rekey; anyone may leave. Every operation
//!   bumps the epoch; remove, leave and rekey also the key epoch, which retires every
//!   sending chain.
//! - Sender keys (27.5): each member device's sending chain, given to the other member
//!   devices once in a [`SenderKeyDistribution`] over the pairwise sessions.
//! - Group messages (27.6): [`GroupSession::seal`] encrypts once with AES-256-GCM and
//!   signs with the chain's ECDSA P-256 key; the blob is padded to an envelope bucket and
//!   shows the relay nothing but [`GROUP_VERSION`] and its length.
//! - [`Race`] (27.4): operations signed for the same epoch, settled the same way on every
//!   member by a rule no signer can game.
//! - [`GroupSession`]: one device's view of one group; [`GroupError`]: why something was
//!   refused, with stable codes.

mod concurrent;
mod error;
mod message;
mod names;
mod op;
mod sender_key;
mod session;
mod session_codec;
mod state;

pub use concurrent::Race;
pub use error::{GroupError, GroupResult};
pub use message::{GROUP_HEADER_BOX_LEN, GROUP_HEADER_LEN, GROUP_OVERHEAD, GROUP_VERSION};
pub use names::Invitee;
pub use op::{Change, GroupOp, MAX_GROUP_OP_LEN};
pub use sender_key::{DISTRIBUTION_LEN, SIGNATURE_LEN, SenderKeyDistribution, VERIFYING_KEY_LEN};
pub use session::{Applied, GroupMessage, GroupSession};
pub use state::{GroupState, MAX_GROUP_STATE_LEN, Member};

/// Most members of a group (the goal: what Signal and WhatsApp offer).
pub const MAX_MEMBERS: usize = 1000;
/// Longest group name in UTF-8 bytes.
pub const MAX_GROUP_NAME_LEN: usize = 128;
#[cfg(test)]
mod tests;
