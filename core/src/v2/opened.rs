//! What the session store hands out: sealed envelopes, opened messages, pending inits
//! and session summaries. Secrets (payloads, session keys) have redacted `Debug`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use crate::error::Error;
use crate::keys::IdentityPublicKey;
use crate::username::UserId;
use crate::v2::ids::{DeviceId, SessionId};
use crate::v2::session::Session;

/// An envelope ready for the relay: deposit `envelope` in the mailbox
/// `(recipient, recipient_device)`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedEnvelope {
    /// The recipient's user id.
    pub recipient: UserId,
    /// The recipient device (its mailbox).
    pub recipient_device: DeviceId,
    /// The envelope bytes (a bucket size).
    pub envelope: Vec<u8>,
    /// The session it was sealed in.
    pub session_id: SessionId,
    /// Its position in the session's sending chain.
    pub counter: u64,
    /// Whether sealing started a new session (one RSA encryption and one signature).
    pub new_session: bool,
    /// Whether it carries the session's init block (kind 2: not yet confirmed).
    pub with_init: bool,
}

impl fmt::Debug for SealedEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedEnvelope")
            .field("recipient", &self.recipient)
            .field("recipient_device", &self.recipient_device)
            .field("len", &self.envelope.len())
            .field("session_id", &self.session_id)
            .field("counter", &self.counter)
            .field("new_session", &self.new_session)
            .field("with_init", &self.with_init)
            .finish()
    }
}

/// An opened message. The sender is authenticated as `(sender, sender_device,
/// sender_identity)`: the identity signed the session's init. The engine must have
/// compared `sender_identity` with its pin for `sender` (it said so with `trusted`).
#[non_exhaustive]
pub struct OpenedMessage {
    /// Sender's user id.
    pub sender: UserId,
    /// Sender's device.
    pub sender_device: DeviceId,
    /// The identity key that signed the session's init.
    pub sender_identity: IdentityPublicKey,
    /// The session.
    pub session_id: SessionId,
    /// Position in the sender's chain.
    pub counter: u64,
    /// Sender's clock at sealing (checked against the time window).
    pub sent_at: u64,
    /// The plaintext payload (engine-defined), wiped on drop.
    pub payload: Zeroizing<Vec<u8>>,
    /// Counters this message skipped over in its session (possibly-missing messages;
    /// they may still arrive, see `SessionStore::missing`).
    pub skipped: Vec<u64>,
    /// Whether this message created the session (an accepted init).
    pub new_session: bool,
    /// Whether the session is trusted (see `SessionStore::accept`).
    pub trusted: bool,
}

impl fmt::Debug for OpenedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedMessage")
            .field("sender", &self.sender)
            .field("sender_device", &self.sender_device)
            .field("session_id", &self.session_id)
            .field("counter", &self.counter)
            .field("sent_at", &self.sent_at)
            .field("payload_len", &self.payload.len())
            .field("skipped", &self.skipped.len())
            .field("new_session", &self.new_session)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

/// A verified init from a device we have no session with (design 2.3 step 3). It
/// created no state: compare [`PendingInit::sender_identity`] with the pin for
/// [`PendingInit::sender`] (first contact: the directory's device list), then call
/// `SessionStore::accept` or drop it. The payload is released only by `accept`.
pub struct PendingInit {
    pub(crate) session: Session,
    pub(crate) counter: u64,
    pub(crate) sent_at: u64,
    pub(crate) payload: Zeroizing<Vec<u8>>,
    pub(crate) skipped: Vec<u64>,
}

impl PendingInit {
    /// The claimed sender (bound to the signature, not to a pin).
    pub fn sender(&self) -> &UserId {
        &self.session.peer
    }

    /// The sender's device.
    pub fn sender_device(&self) -> &DeviceId {
        &self.session.peer_device
    }

    /// The identity key that signed the init.
    pub fn sender_identity(&self) -> &IdentityPublicKey {
        &self.session.peer_identity
    }

    /// The new session's id.
    pub fn session_id(&self) -> &SessionId {
        &self.session.id
    }

    /// The initiator's clock when it created the session.
    pub fn init_at(&self) -> u64 {
        self.session.init_at
    }

    /// The message's counter (earlier ones become possibly-missing on accept).
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The message's send time.
    pub fn sent_at(&self) -> u64 {
        self.sent_at
    }
}

impl fmt::Debug for PendingInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingInit")
            .field("sender", self.sender())
            .field("sender_device", self.sender_device())
            .field("sender_identity", self.sender_identity())
            .field("session_id", self.session_id())
            .field("init_at", &self.init_at())
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// The result of `SessionStore::open`.
#[derive(Debug)]
pub enum Opening {
    /// A message in an existing session (state committed).
    Message(OpenedMessage),
    /// A new session's init, waiting for the engine's identity check (boxed: it holds
    /// a whole session; pass `*pending` to `SessionStore::accept`).
    Pending(Box<PendingInit>),
}

/// A summary of one session (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// Peer user.
    pub peer: UserId,
    /// Peer device.
    pub peer_device: DeviceId,
    /// The identity key the session is bound to.
    pub peer_identity: IdentityPublicKey,
    /// Whether we started it.
    pub initiator: bool,
    /// Whether the peer has answered in it (always true for the responder).
    pub confirmed: bool,
    /// Whether it is trusted.
    pub trusted: bool,
    /// Local time it was created.
    pub created_at: u64,
    /// Local time it was last used.
    pub last_used: u64,
    /// Messages sent in it.
    pub sent: u64,
    /// Skipped receive counters still awaited.
    pub missing: Vec<u64>,
}

impl SessionInfo {
    pub(crate) fn of(s: &Session) -> Self {
        Self {
            id: s.id,
            peer: s.peer,
            peer_device: s.peer_device,
            peer_identity: s.peer_identity.clone(),
            initiator: s.initiator,
            confirmed: !s.sends_init(),
            trusted: s.trusted,
            created_at: s.created_at,
            last_used: s.last_used,
            sent: s.send.next,
            missing: s.missing(),
        }
    }
}

/// The session an envelope that did not open is attributed to (see
/// `SessionStore::open_attributed`): its header box opened under that session's keys,
/// or it carried a verified init signed by `peer_identity`, so `(peer, peer_device)` is
/// authenticated as its sender. Nothing about *why* it did not open is said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unreadable {
    /// The peer user (the sender).
    pub peer: UserId,
    /// The peer device.
    pub peer_device: DeviceId,
    /// The session.
    pub session_id: SessionId,
    /// The identity key the session is bound to (held) or that signed the init (not
    /// held): compare it with the pin before acting on a session that is not held.
    pub peer_identity: IdentityPublicKey,
    /// Whether the store holds the session. `false`: a verified init of a session the
    /// store does not hold (its id is remembered from a dropped session, or the body of
    /// a new session's first message did not open).
    pub held: bool,
}

/// An error of `SessionStore::open_attributed`: the coarse [`Error`] (the same `open`
/// returns) and, when the sender is authenticated, the session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenFailure {
    /// What `SessionStore::open` returns for the same envelope.
    pub error: Error,
    /// The session, only for `Error::Decrypt` after the header opened in a held
    /// session, and for a verified init that is `Error::Replay` because its session
    /// was dropped or whose message does not open. `None` for everything else.
    pub session: Option<Box<Unreadable>>,
}

impl From<Error> for OpenFailure {
    fn from(error: Error) -> Self {
        Self {
            error,
            session: None,
        }
    }
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl core::error::Error for OpenFailure {}
