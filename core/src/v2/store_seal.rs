//! Sealing (design 2.2; PROTOCOL.md 14, 18.4): a new session (also on demand, for re-sends that must
//! not depend on a session the receiver may have lost), and a message in a session.

use alloc::vec::Vec;
use rand_core::CryptoRng;

use crate::error::{Error, Result};
use crate::keys::IdentityKey;
use crate::padding;
use crate::primitives::{self, NONCE_LEN, TAG_LEN};
use crate::v2::bundle::DeviceBundle;
use crate::v2::device_keys::DeviceKeys;
use crate::v2::envelope::{PREFIX_LEN, frame};
use crate::v2::header::{HEADER_BOX_LEN, Header, KIND_INIT, KIND_SESSION};
use crate::v2::ids::SessionId;
use crate::v2::init::{Parties, make_init_block};
use crate::v2::opened::SealedEnvelope;
use crate::v2::session::{Session, SessionKeys};
use crate::v2::store::{BODY_AAD, SessionStore};

impl SessionStore {
    /// Seals `payload` so that the peer device can open it even if it lost every
    /// session with us (a re-send, PROTOCOL.md 18.4): in a session that carries its init
    /// block, i.e. the newest usable session we started and the peer never answered in,
    /// else a NEW session (which later [`SessionStore::seal`]s to the device then use).
    /// If the pair already has two sessions, the one the peer was heard in least
    /// recently goes (`store_caps.rs`). Errors as `seal`.
    pub fn seal_fresh<R: CryptoRng + ?Sized>(
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
        let unanswered = self
            .sessions
            .iter_mut()
            .filter(|s| s.sends_init() && s.usable_for(peer, now))
            .max_by_key(|s| s.created_at);
        if let Some(session) = unanswered {
            return seal_in(rng, me, session, payload, now);
        }
        self.start(rng, identity, me, peer, payload, now)
    }

    /// Starts a session with `peer` and seals `payload` in it (14.2).
    pub(crate) fn start<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &IdentityKey,
        me: &DeviceKeys,
        peer: &DeviceBundle,
        payload: &[u8],
        now: u64,
    ) -> Result<SealedEnvelope> {
        let current = peer.current_encryption_key(now)?;
        // Refuse oversized payloads before spending an RSA operation on them.
        let least = PREFIX_LEN + HEADER_BOX_LEN + current.size().bytes() + NONCE_LEN + TAG_LEN;
        let body = payload.len().saturating_add(NONCE_LEN + TAG_LEN);
        padding::bucket_for(least.saturating_add(body)).ok_or(Error::TooLarge)?;
        let id = SessionId::generate(rng);
        let seed = primitives::random_key(rng);
        let keys = SessionKeys::derive(&seed, peer.user_id(), peer.device_id())?;
        let parties = Parties {
            initiator: me.user_id(),
            initiator_device: me.device_id(),
            responder: peer.user_id(),
            responder_device: peer.device_id(),
        };
        let init_block = make_init_block(
            rng,
            identity,
            &parties,
            current,
            &id,
            now,
            &seed,
            &keys.init_key,
        )?;
        let (send, recv) = Session::chains(&keys, true);
        let mut session = Session {
            id,
            peer: *peer.user_id(),
            peer_device: *peer.device_id(),
            peer_identity: peer.identity().clone(),
            peer_epoch: peer.issued_at(),
            init_at: now,
            created_at: now,
            last_used: now,
            initiator: true,
            confirmed: false,
            trusted: true,
            init_block,
            send,
            recv,
            skipped: Vec::new(),
        };
        let mut sealed = seal_in(rng, me, &mut session, payload, now)?;
        sealed.new_session = true;
        self.insert(session, now)?;
        Ok(sealed)
    }
}

/// Seals one message in `session` and commits its sending chain only on success.
pub(crate) fn seal_in<R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &DeviceKeys,
    session: &mut Session,
    payload: &[u8],
    now: u64,
) -> Result<SealedEnvelope> {
    let counter = session.send.next;
    let (mk, next_chain) = session.send.step()?;
    let body_box = primitives::seal(rng, &mk, BODY_AAD, payload)?;
    let with_init = session.sends_init();
    let header = Header {
        kind: if with_init { KIND_INIT } else { KIND_SESSION },
        sender: *me.user_id(),
        sender_device: *me.device_id(),
        session: session.id,
        counter,
        sent_at: now,
        init_len: 0,
        body_len: 0,
    };
    let init_block: &[u8] = if with_init { &session.init_block } else { &[] };
    let envelope = frame(
        rng,
        &session.peer,
        &session.peer_device,
        &session.send.header_key,
        &header,
        init_block,
        &body_box,
    )?;
    session.send.chain_key = next_chain;
    session.send.next = counter + 1;
    session.last_used = session.last_used.max(now);
    Ok(SealedEnvelope {
        recipient: session.peer,
        recipient_device: session.peer_device,
        envelope,
        session_id: session.id,
        counter,
        new_session: false,
        with_init,
    })
}
