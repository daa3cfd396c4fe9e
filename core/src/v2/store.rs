//! The session store of one device (design 2.3, 2.4): seal in the right session per
//! device pair, open envelopes, and set up sessions from verified inits only when the
//! engine says the sender's identity is the pinned one.
//!
//! State changes only when opening succeeds; a [`PendingInit`] changes nothing until
//! [`SessionStore::accept`]. Store limits and replay memory: `store_caps.rs` and
//! `replay.rs`; the secret encoding: `store_codec.rs`; sealing: `store_seal.rs`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::error::{Error, Result};
use crate::keylife::CLOCK_SKEW;
use crate::keys::IdentityKey;
use crate::primitives;
use crate::v2::bundle::DeviceBundle;
use crate::v2::device_keys::DeviceKeys;
use crate::v2::envelope::{Framed, OpenedHeader};
use crate::v2::header::KIND_INIT;
use crate::v2::ids::SessionId;
use crate::v2::init::open_init;
use crate::v2::opened::{
    OpenFailure, OpenedMessage, Opening, PendingInit, SealedEnvelope, Unreadable,
};
use crate::v2::replay::{MAX_MESSAGE_AGE, ReplayMemory};
use crate::v2::session::Session;
use crate::v2::store_seal::seal_in;

pub(crate) const BODY_AAD: &[u8] = b"sealpost/v2/body";

/// All sessions of one device, and the replay memory of dropped ones. Secret: store
/// [`SessionStore::to_secret_bytes`] encrypted after every change.
#[derive(Default)]
pub struct SessionStore {
    pub(crate) sessions: Vec<Session>,
    pub(crate) replay: ReplayMemory,
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStore")
            .field("sessions", &self.sessions.len())
            .field("replay_trusted", &self.replay.trusted.len())
            .field("replay_untrusted", &self.replay.untrusted.len())
            .finish()
    }
}

/// `now - MAX_MESSAGE_AGE <= t <= now + CLOCK_SKEW`, else [`Error::Expired`].
pub(crate) fn check_window(t: u64, now: u64) -> Result<()> {
    if t < now.saturating_sub(MAX_MESSAGE_AGE) || t > now.saturating_add(CLOCK_SKEW) {
        return Err(Error::Expired);
    }
    Ok(())
}

impl SessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seals `payload` to the peer device of `peer` (a bundle the engine checked against
    /// the peer's device list and pin). Uses the newest usable unconfirmed session we
    /// started, else the newest session usable for this device pair (PROTOCOL.md
    /// 14.1), else starts one (RSA wrap and `identity` signature);
    /// sessions we start are trusted. Every message of an unconfirmed session carries
    /// its init block (kind 2). Sealing to this device itself is [`Error::Malformed`].
    pub fn seal<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &IdentityKey,
        me: &DeviceKeys,
        peer: &DeviceBundle,
        payload: &[u8],
        now: u64,
    ) -> Result<SealedEnvelope> {
        if peer.user_id() == me.user_id() && peer.device_id() == me.device_id() {
            return Err(Error::Malformed);
        }
        peer.current_encryption_key(now)?;
        // An unconfirmed session of ours first: re-sends go there too (`seal_fresh`), so
        // the peer hears us in one session at a time (PROTOCOL.md 14.1).
        let usable = self
            .sessions
            .iter_mut()
            .filter(|s| s.usable_for(peer, now))
            .max_by_key(|s| (s.sends_init(), s.created_at));
        if let Some(session) = usable {
            return seal_in(rng, me, session, payload, now);
        }
        self.start(rng, identity, me, peer, payload, now)
    }

    /// Opens an envelope addressed to this device. A message in a known session is
    /// opened and committed ([`Opening::Message`]); a valid init of a new session is
    /// returned as [`Opening::Pending`] without creating anything. Errors: not a
    /// bucket or not version 2 [`Error::Malformed`]; `sent_at`/`init_at` outside
    /// `[now - MAX_MESSAGE_AGE, now + CLOCK_SKEW]` [`Error::Expired`]; a counter already
    /// used, or a session id in use or remembered, [`Error::Replay`]; anything else
    /// (other mailbox, altered, forged, unknown) [`Error::Decrypt`].
    pub fn open<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        me: &DeviceKeys,
        envelope: &[u8],
        now: u64,
    ) -> Result<Opening> {
        self.open_attributed(rng, me, envelope, now)
            .map_err(|f| f.error)
    }

    /// [`SessionStore::open`], whose errors also name the session an envelope belongs
    /// to when its sender is authenticated ([`OpenFailure::session`]), so the engine
    /// can ask that device to start over (PROTOCOL.md 18.6). Attributed: `Decrypt` after the
    /// header box opened under a held session's key (altered body, a counter jump
    /// beyond `MAX_SKIP`, a header that contradicts its session); `Replay` of a
    /// verified init whose session was dropped (the replay memory has it); `Decrypt`
    /// of a verified init whose message does not open. The error itself is the coarse
    /// one `open` returns; same work, same state (none changes on error).
    pub fn open_attributed<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        me: &DeviceKeys,
        envelope: &[u8],
        now: u64,
    ) -> core::result::Result<Opening, OpenFailure> {
        let framed = Framed::parse(envelope)?;
        if framed.recipient != *me.user_id() || framed.recipient_device != *me.device_id() {
            return Err(Error::Decrypt.into());
        }
        let found = self.sessions.iter().enumerate().find_map(|(i, s)| {
            framed
                .open_header(&s.recv.header_key)
                .ok()
                .map(|opened| (i, opened))
        });
        if let Some((index, opened)) = found {
            return self
                .open_in_session(index, &opened, now)
                .map(|m| {
                    // Store order is the order in which the peers were last heard.
                    if let Some(tail) = self.sessions.get_mut(index..) {
                        tail.rotate_left(1);
                    }
                    Opening::Message(m)
                })
                .map_err(|error| OpenFailure {
                    error,
                    session: (error == Error::Decrypt)
                        .then(|| self.sessions.get(index).map(held))
                        .flatten(),
                });
        }
        let init = open_init(rng, me, &framed)?;
        let h = &init.opened.header;
        if h.sender == *me.user_id() && h.sender_device == *me.device_id() {
            return Err(Error::Decrypt.into());
        }
        check_window(init.init_at, now)?;
        check_window(h.sent_at, now)?;
        let unreadable = |error| OpenFailure {
            error,
            session: Some(Box::new(Unreadable {
                peer: h.sender,
                peer_device: h.sender_device,
                session_id: h.session,
                peer_identity: init.sender_identity.clone(),
                held: false,
            })),
        };
        if self.replay.contains(&h.session) {
            return Err(unreadable(Error::Replay));
        }
        if self.knows(&h.session) {
            return Err(Error::Replay.into());
        }
        let (send, recv) = Session::chains(&init.keys, false);
        let mut session = Session {
            id: h.session,
            peer: h.sender,
            peer_device: h.sender_device,
            peer_identity: init.sender_identity.clone(),
            peer_epoch: init.init_at,
            init_at: init.init_at,
            created_at: now,
            last_used: now,
            initiator: false,
            confirmed: true,
            trusted: false,
            init_block: Vec::new(),
            send,
            recv,
            skipped: Vec::new(),
        };
        let (mk, update) = session.recv_key(h.counter).map_err(unreadable)?;
        let payload = primitives::open(&mk, BODY_AAD, init.opened.body_box).map_err(unreadable)?;
        let skipped = session.apply(update, now);
        Ok(Opening::Pending(Box::new(PendingInit {
            counter: h.counter,
            sent_at: h.sent_at,
            session,
            payload,
            skipped,
        })))
    }

    fn knows(&self, id: &SessionId) -> bool {
        self.replay.contains(id) || self.sessions.iter().any(|s| s.id == *id)
    }

    fn open_in_session(
        &mut self,
        index: usize,
        opened: &OpenedHeader<'_>,
        now: u64,
    ) -> Result<OpenedMessage> {
        let s = self.sessions.get_mut(index).ok_or(Error::Decrypt)?;
        let h = &opened.header;
        // Only the initiator sends kind 2, so only a responder session accepts it.
        if h.session != s.id
            || h.sender != s.peer
            || h.sender_device != s.peer_device
            || (h.kind == KIND_INIT && s.initiator)
        {
            return Err(Error::Decrypt);
        }
        check_window(h.sent_at, now)?;
        let (mk, update) = s.recv_key(h.counter)?;
        let payload = primitives::open(&mk, BODY_AAD, opened.body_box)?;
        let skipped = s.apply(update, now);
        if s.initiator {
            s.confirmed = true;
            s.init_block = Vec::new();
        }
        Ok(OpenedMessage {
            sender: s.peer,
            sender_device: s.peer_device,
            sender_identity: s.peer_identity.clone(),
            session_id: s.id,
            counter: h.counter,
            sent_at: h.sent_at,
            payload,
            skipped,
            new_session: false,
            trusted: s.trusted,
        })
    }

    /// Creates the responder session of a [`PendingInit`] and releases its message.
    /// `trusted`: whether the sender's identity equals the engine's pin for the sender
    /// (a mismatch should not be accepted at all: drop it and report). Re-checks the
    /// time window and replay (the engine may have waited for the directory).
    /// Untrusted sessions never displace trusted ones: an untrusted init for a device
    /// pair that has two trusted sessions, or a trusted one while the replay memory is
    /// full (see `replay.rs`), is refused with [`Error::TooLarge`].
    pub fn accept(
        &mut self,
        pending: PendingInit,
        trusted: bool,
        now: u64,
    ) -> Result<OpenedMessage> {
        let PendingInit {
            mut session,
            counter,
            sent_at,
            payload,
            skipped,
        } = pending;
        check_window(session.init_at, now)?;
        check_window(sent_at, now)?;
        if self.knows(&session.id) {
            return Err(Error::Replay);
        }
        if trusted && !self.replay.has_room_for(&session.peer) {
            return Err(Error::TooLarge);
        }
        session.trusted = trusted;
        session.created_at = now;
        session.last_used = now;
        let message = OpenedMessage {
            sender: session.peer,
            sender_device: session.peer_device,
            sender_identity: session.peer_identity.clone(),
            session_id: session.id,
            counter,
            sent_at,
            payload,
            skipped,
            new_session: true,
            trusted,
        };
        self.insert(session, now)?;
        Ok(message)
    }
}

/// What an attributed failure says about a held session.
fn held(s: &Session) -> Box<Unreadable> {
    Box::new(Unreadable {
        peer: s.peer,
        peer_device: s.peer_device,
        session_id: s.id,
        peer_identity: s.peer_identity.clone(),
        held: true,
    })
}
