//! Sessions: one RSA-wrapped, signed set-up envelope, then a symmetric ratchet.
//!
//! RSA private operations cost ~100 ms in WebAssembly, so they happen only when a
//! session starts. Each direction of a session has an HMAC-SHA256 chain key that steps
//! forward once per message (`mk = HMAC(ck, 0x01)`, `ck' = HMAC(ck, 0x02)`); message keys
//! are deleted after use, so state stolen today does not open earlier messages. A
//! session is replaced by a fresh RSA-wrapped one after [`REKEY_MESSAGES`] messages,
//! after [`REKEY_AGE`], or as soon as the peer publishes a newer bundle: a rotated
//! encryption key, or a fresh log-in on a device that lacks our session state, which
//! re-publishes its bundle for exactly this reason.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::bundle::KeyBundle;
use crate::envelope::{
    self, Framed, HEADER_BOX_LEN, Header, MessageKind, Opened, SignedRecipient, encode_content,
    frame, message_id,
};
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::keys::{IdentityPublicKey, MAX_SPKI_LEN};
use crate::primitives::{self, Key};
use crate::username::UserId;
use crate::wire::{Reader, put_var16};

/// Start a new session after this many messages sent on one.
pub const REKEY_MESSAGES: u64 = 500;
/// Start a new session when one is this old (seconds): 7 days.
pub const REKEY_AGE: u64 = 7 * 24 * 3600;
/// Forget sessions unused for this long (seconds): 90 days.
pub const SESSION_IDLE_LIMIT: u64 = 90 * 24 * 3600;
/// How far ahead of the next expected message a counter may jump.
pub const MAX_SKIP: u64 = 256;
/// Most skipped message keys kept per session (oldest dropped first).
pub const MAX_SKIPPED_KEYS: usize = 256;
/// Most sessions kept per peer (older ones still decrypt in-flight messages).
pub const MAX_SESSIONS_PER_PEER: usize = 4;
/// Most sessions kept in total.
pub const MAX_SESSIONS: usize = 2048;
/// Ids of opened signed envelopes remembered for replay detection.
pub const REPLAY_MEMORY: usize = 4096;

const STORE_TAG: [u8; 2] = [b'S', 1];

/// One direction of a session.
struct Chain {
    chain_key: Key,
    header_key: Key,
    next: u64,
}

impl Chain {
    /// `(message key, next chain key)` for the current position.
    fn step(&self) -> Result<(Key, Key)> {
        Ok((
            primitives::hmac(&self.chain_key, &[1])?,
            primitives::hmac(&self.chain_key, &[2])?,
        ))
    }
}

struct Session {
    id: [u8; 16],
    peer: UserId,
    peer_identity: IdentityPublicKey,
    /// The peer's bundle epoch this session belongs to, on the peer's clock: the
    /// `issued_at` of the bundle we wrapped the root to, or the `sent_at` of the set-up
    /// envelope when the peer started it. A peer bundle issued later (a rotated key, or
    /// a fresh login on a device without our session) retires the session for sending.
    peer_epoch: u64,
    created_at: u64,
    last_used: u64,
    send: Chain,
    recv: Chain,
    /// Keys of messages skipped on the receiving chain, by counter.
    skipped: VecDeque<(u64, Key)>,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: [u8; 16],
        seed: &[u8; 32],
        me: &UserId,
        peer: UserId,
        peer_identity: IdentityPublicKey,
        peer_epoch: u64,
        initiator: bool,
        now: u64,
    ) -> Result<Self> {
        let (i, r) = if initiator { (me, &peer) } else { (&peer, me) };
        let okm = primitives::hkdf::<128>(
            seed,
            &id,
            &[b"sealpost/v1/session\0", i.as_bytes(), r.as_bytes()],
        )?;
        let i2r = Chain {
            chain_key: primitives::key_at(okm.as_ref(), 0)?,
            header_key: primitives::key_at(okm.as_ref(), 2)?,
            next: 0,
        };
        let r2i = Chain {
            chain_key: primitives::key_at(okm.as_ref(), 1)?,
            header_key: primitives::key_at(okm.as_ref(), 3)?,
            next: 0,
        };
        let (send, recv) = if initiator { (i2r, r2i) } else { (r2i, i2r) };
        Ok(Self {
            id,
            peer,
            peer_identity,
            peer_epoch,
            created_at: now,
            last_used: now,
            send,
            recv,
            skipped: VecDeque::new(),
        })
    }

    fn usable_for(&self, bundle: &KeyBundle, now: u64) -> bool {
        self.peer == *bundle.user_id()
            && self.peer_identity == *bundle.identity()
            && self.send.next < REKEY_MESSAGES
            && now.saturating_sub(self.created_at) < REKEY_AGE
            && bundle.issued_at() <= self.peer_epoch
    }

    /// The message key for `counter` on the receiving chain, and the state change that
    /// taking it implies, without applying it (so a failed decryption changes nothing).
    fn recv_key(&self, counter: u64) -> Result<(Key, RecvUpdate)> {
        if counter < self.recv.next {
            return self
                .skipped
                .iter()
                .position(|(n, _)| *n == counter)
                .and_then(|i| {
                    self.skipped
                        .get(i)
                        .map(|(_, k)| (k.clone(), RecvUpdate::UseSkipped(i)))
                })
                .ok_or(Error::Replay);
        }
        if counter - self.recv.next > MAX_SKIP {
            return Err(Error::Decrypt);
        }
        let mut chain_key = self.recv.chain_key.clone();
        let mut newly_skipped = Vec::new();
        for n in self.recv.next..counter {
            newly_skipped.push((n, primitives::hmac(&chain_key, &[1])?));
            chain_key = primitives::hmac(&chain_key, &[2])?;
        }
        let mk = primitives::hmac(&chain_key, &[1])?;
        let next_chain = primitives::hmac(&chain_key, &[2])?;
        Ok((
            mk,
            RecvUpdate::Advance {
                next: counter + 1,
                chain_key: next_chain,
                newly_skipped,
            },
        ))
    }

    fn apply(&mut self, update: RecvUpdate, now: u64) {
        match update {
            RecvUpdate::UseSkipped(i) => {
                self.skipped.remove(i);
            }
            RecvUpdate::Advance {
                next,
                chain_key,
                newly_skipped,
            } => {
                self.recv.next = next;
                self.recv.chain_key = chain_key;
                self.skipped.extend(newly_skipped);
                while self.skipped.len() > MAX_SKIPPED_KEYS {
                    self.skipped.pop_front();
                }
            }
        }
        self.last_used = now;
    }
}

enum RecvUpdate {
    UseSkipped(usize),
    Advance {
        next: u64,
        chain_key: Key,
        newly_skipped: Vec<(u64, Key)>,
    },
}

/// An envelope ready for the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMessage {
    /// The recipient's mailbox.
    pub recipient: UserId,
    /// The envelope bytes (a bucket size).
    pub envelope: Vec<u8>,
    /// See [`envelope::message_id`].
    pub message_id: [u8; 16],
    /// Whether this envelope starts a new session (and so cost an RSA operation).
    pub new_session: bool,
}

/// All session state of one account. Serialize it with
/// [`SessionStore::to_secret_bytes`] after every change that should survive a reload.
#[derive(Default)]
pub struct SessionStore {
    sessions: Vec<Session>,
    seen: VecDeque<[u8; 16]>,
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { sessions, seen } = self;
        f.debug_struct("SessionStore")
            .field("sessions", &sessions.len())
            .field("seen", &seen.len())
            .finish()
    }
}

impl SessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of sessions held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Seals `content` to `peer` (whose bundle the caller has verified and, ideally,
    /// pinned). Uses the newest healthy session with the peer, or starts a new one.
    pub fn seal<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        me: &Identity,
        peer: &KeyBundle,
        content_type: u8,
        content: &[u8],
        now: u64,
    ) -> Result<SealedMessage> {
        let current = peer.current_encryption_key(now)?;
        let usable = self
            .sessions
            .iter_mut()
            .filter(|s| s.usable_for(peer, now))
            .max_by_key(|s| s.created_at);
        if let Some(session) = usable {
            return seal_in_session(rng, me, session, content_type, content, now);
        }
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let seed = primitives::random_key(rng);
        let targets = [SignedRecipient {
            id: *peer.user_id(),
            key: current,
        }];
        let mut sealed = envelope::seal_signed(
            rng,
            me,
            MessageKind::SessionInit,
            id,
            &seed,
            &targets,
            content_type,
            content,
            now,
        )?;
        let (recipient, envelope) = sealed.pop().ok_or(Error::Crypto)?;
        let session = Session::new(
            id,
            &seed,
            me.user_id(),
            recipient,
            peer.identity().clone(),
            peer.issued_at(),
            true,
            now,
        )?;
        self.insert(session, now);
        Ok(SealedMessage {
            recipient,
            envelope,
            message_id: message_id(MessageKind::SessionInit, me.user_id(), &id, 0),
            new_session: true,
        })
    }

    /// Opens an envelope addressed to `me`: a session message, a session set-up or a
    /// one-shot sealed envelope. State changes only when opening succeeds.
    pub fn open<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        me: &Identity,
        envelope: &[u8],
        now: u64,
    ) -> Result<Opened> {
        let framed = Framed::parse(envelope)?;
        if framed.recipient != *me.user_id() {
            return Err(Error::Decrypt);
        }
        if let Some(opened) = self.open_session_message(&framed, me.user_id(), now)? {
            return Ok(opened);
        }
        let signed = envelope::open_signed(rng, me, &framed)?;
        let opened = signed.opened;
        if self.seen.contains(&opened.session_id)
            || self.sessions.iter().any(|s| s.id == opened.session_id)
        {
            return Err(Error::Replay);
        }
        if opened.kind == MessageKind::SessionInit {
            let session = Session::new(
                opened.session_id,
                &signed.seed,
                me.user_id(),
                opened.sender,
                opened.sender_identity.clone(),
                opened.sent_at,
                false,
                now,
            )?;
            self.insert(session, now);
        }
        self.remember(opened.session_id);
        Ok(opened)
    }

    /// `Ok(None)` when no session's header key opens the header.
    fn open_session_message(
        &mut self,
        framed: &Framed<'_>,
        me: &UserId,
        now: u64,
    ) -> Result<Option<Opened>> {
        if framed.region.len() < HEADER_BOX_LEN {
            return Ok(None);
        }
        let aad = framed.header_aad(0)?;
        let found = self.sessions.iter().enumerate().find_map(|(i, s)| {
            framed
                .open_header(0, &aad, &s.recv.header_key)
                .ok()
                .map(|h| (i, h))
        });
        let Some((index, (header, body_box))) = found else {
            return Ok(None);
        };
        let session = self.sessions.get_mut(index).ok_or(Error::Decrypt)?;
        if header.kind != MessageKind::Session
            || header.session != session.id
            || header.sender != session.peer
        {
            return Err(Error::Decrypt);
        }
        let (key, update) = session.recv_key(header.counter)?;
        let (content_type, content) = envelope::open_plain_body(&key, body_box)?;
        session.apply(update, now);
        Ok(Some(Opened {
            sender: header.sender,
            sender_identity: session.peer_identity.clone(),
            kind: MessageKind::Session,
            session_id: header.session,
            counter: header.counter,
            sent_at: header.sent_at,
            recipients: alloc::vec![*me],
            content_type,
            content,
            message_id: message_id(
                MessageKind::Session,
                &header.sender,
                &header.session,
                header.counter,
            ),
        }))
    }

    fn insert(&mut self, session: Session, now: u64) {
        let peer = session.peer;
        self.sessions.push(session);
        self.prune(now);
        while self.sessions.iter().filter(|s| s.peer == peer).count() > MAX_SESSIONS_PER_PEER {
            self.remove_least_recent(|s| s.peer == peer);
        }
        while self.sessions.len() > MAX_SESSIONS {
            self.remove_least_recent(|_| true);
        }
    }

    fn remove_least_recent(&mut self, filter: impl Fn(&Session) -> bool) {
        let oldest = self
            .sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| filter(s))
            .min_by_key(|(_, s)| (s.last_used, s.created_at))
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            let gone = self.sessions.remove(i);
            self.remember(gone.id);
        }
    }

    fn remember(&mut self, id: [u8; 16]) {
        self.seen.push_back(id);
        while self.seen.len() > REPLAY_MEMORY {
            self.seen.pop_front();
        }
    }

    /// Forgets sessions unused for [`SESSION_IDLE_LIMIT`].
    pub fn prune(&mut self, now: u64) {
        let mut gone = Vec::new();
        self.sessions.retain(|s| {
            let keep = now.saturating_sub(s.last_used) < SESSION_IDLE_LIMIT;
            if !keep {
                gone.push(s.id);
            }
            keep
        });
        for id in gone {
            self.remember(id);
        }
    }

    /// Forgets one session, e.g. one set up by an envelope whose `sender_identity` did
    /// not match the key the app has for the sender. Its id stays in replay memory.
    pub fn forget_session(&mut self, session_id: &[u8; 16]) {
        let before = self.sessions.len();
        self.sessions.retain(|s| s.id != *session_id);
        if self.sessions.len() != before {
            self.remember(*session_id);
        }
    }

    /// Forgets every session with `peer` (for example after their identity key changed
    /// and the user decided to distrust it).
    pub fn forget_peer(&mut self, peer: &UserId) {
        self.sessions.retain(|s| s.peer != *peer);
    }

    /// Serializes all session secrets. The caller must store the result encrypted.
    pub fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(256 + self.sessions.len() * 1024));
        out.extend_from_slice(&STORE_TAG);
        out.extend_from_slice(
            &u32::try_from(self.sessions.len())
                .map_err(|_| Error::TooLarge)?
                .to_be_bytes(),
        );
        for s in &self.sessions {
            out.extend_from_slice(&s.id);
            out.extend_from_slice(s.peer.as_bytes());
            put_var16(&mut out, s.peer_identity.to_spki_der())?;
            out.extend_from_slice(&s.peer_epoch.to_be_bytes());
            out.extend_from_slice(&s.created_at.to_be_bytes());
            out.extend_from_slice(&s.last_used.to_be_bytes());
            for c in [&s.send, &s.recv] {
                out.extend_from_slice(c.chain_key.as_ref());
                out.extend_from_slice(c.header_key.as_ref());
                out.extend_from_slice(&c.next.to_be_bytes());
            }
            out.extend_from_slice(
                &u16::try_from(s.skipped.len())
                    .map_err(|_| Error::TooLarge)?
                    .to_be_bytes(),
            );
            for (n, k) in &s.skipped {
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(k.as_ref());
            }
        }
        out.extend_from_slice(
            &u32::try_from(self.seen.len())
                .map_err(|_| Error::TooLarge)?
                .to_be_bytes(),
        );
        for id in &self.seen {
            out.extend_from_slice(id);
        }
        Ok(out)
    }

    /// Reads what [`SessionStore::to_secret_bytes`] wrote.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != STORE_TAG {
            return Err(Error::Malformed);
        }
        let count = usize::try_from(r.u32()?).map_err(|_| Error::Malformed)?;
        if count > MAX_SESSIONS {
            return Err(Error::Malformed);
        }
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            let id = r.array()?;
            let peer = UserId(r.array()?);
            let peer_identity = IdentityPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?)?;
            let peer_epoch = r.u64()?;
            let created_at = r.u64()?;
            let last_used = r.u64()?;
            let mut chain = || -> Result<Chain> {
                Ok(Chain {
                    chain_key: Zeroizing::new(r.array()?),
                    header_key: Zeroizing::new(r.array()?),
                    next: r.u64()?,
                })
            };
            let send = chain()?;
            let recv = chain()?;
            let skipped_len = usize::from(r.u16()?);
            if skipped_len > MAX_SKIPPED_KEYS {
                return Err(Error::Malformed);
            }
            let mut skipped = VecDeque::with_capacity(skipped_len);
            for _ in 0..skipped_len {
                skipped.push_back((r.u64()?, Zeroizing::new(r.array()?)));
            }
            sessions.push(Session {
                id,
                peer,
                peer_identity,
                peer_epoch,
                created_at,
                last_used,
                send,
                recv,
                skipped,
            });
        }
        let seen_len = usize::try_from(r.u32()?).map_err(|_| Error::Malformed)?;
        if seen_len > REPLAY_MEMORY {
            return Err(Error::Malformed);
        }
        let mut seen = VecDeque::with_capacity(seen_len);
        for _ in 0..seen_len {
            seen.push_back(r.array()?);
        }
        r.finish()?;
        Ok(Self { sessions, seen })
    }
}

fn seal_in_session<R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &Identity,
    session: &mut Session,
    content_type: u8,
    content: &[u8],
    now: u64,
) -> Result<SealedMessage> {
    let counter = session.send.next;
    let (mk, next_chain) = session.send.step()?;
    let header = Header {
        kind: MessageKind::Session,
        sender: *me.user_id(),
        session: session.id,
        counter,
        sent_at: now,
        body_len: 0,
    };
    let mut body = Vec::with_capacity(content.len() + 5);
    encode_content(&mut body, content_type, content)?;
    let body_box = envelope::seal_body(rng, &mk, &body)?;
    let envelope = frame(
        rng,
        &session.peer,
        &[],
        &session.send.header_key,
        &header,
        &body_box,
    )?;
    session.send.chain_key = next_chain;
    session.send.next = counter + 1;
    session.last_used = now;
    Ok(SealedMessage {
        recipient: session.peer,
        envelope,
        message_id: message_id(MessageKind::Session, me.user_id(), &session.id, counter),
        new_session: false,
    })
}
