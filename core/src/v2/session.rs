//! One session between two devices (design 2.1): keys from a 32-byte seed, two HMAC
//! chains (PROTOCOL.md 13.2), skipped keys for messages that have not arrived yet.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::keys::IdentityPublicKey;
use crate::primitives::{self, Key};
use crate::username::UserId;
use crate::v2::bundle::DeviceBundle;
use crate::v2::ids::{DeviceId, SessionId};

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

const SESSION_INFO: &[u8] = b"sealpost/v2/session\0";

/// Every key of a session, derived from its seed.
pub(crate) struct SessionKeys {
    pub(crate) ck_i2r: Key,
    pub(crate) ck_r2i: Key,
    pub(crate) hk_i2r: Key,
    pub(crate) hk_r2i: Key,
    pub(crate) init_key: Key,
}

impl SessionKeys {
    /// `HKDF(seed, salt = empty, info = "sealpost/v2/session\0" || responder ids, 160)`.
    /// Only the responder's ids: a responder that holds just the seed can read the
    /// header (the initiator is bound by the init signature).
    pub(crate) fn derive(
        seed: &[u8; 32],
        responder: &UserId,
        responder_device: &DeviceId,
    ) -> Result<Self> {
        let okm = primitives::hkdf::<160>(
            seed,
            &[],
            &[
                SESSION_INFO,
                responder.as_bytes(),
                responder_device.as_bytes(),
            ],
        )?;
        let at = |i| primitives::key_at(okm.as_ref(), i);
        Ok(Self {
            ck_i2r: at(0)?,
            ck_r2i: at(1)?,
            hk_i2r: at(2)?,
            hk_r2i: at(3)?,
            init_key: at(4)?,
        })
    }
}

/// One direction of a session.
pub(crate) struct Chain {
    pub(crate) chain_key: Key,
    pub(crate) header_key: Key,
    pub(crate) next: u64,
}

impl Chain {
    /// `(message key, next chain key)` at the current position.
    pub(crate) fn step(&self) -> Result<(Key, Key)> {
        Ok((
            primitives::hmac(&self.chain_key, &[1])?,
            primitives::hmac(&self.chain_key, &[2])?,
        ))
    }
}

/// A session's state (PROTOCOL.md 13.4).
pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) peer: UserId,
    pub(crate) peer_device: DeviceId,
    pub(crate) peer_identity: IdentityPublicKey,
    /// The peer device's bundle epoch on its clock: the `issued_at` of the bundle we
    /// wrapped to, or the peer's `init_at` when the peer initiated.
    pub(crate) peer_epoch: u64,
    /// The initiator's clock when the session was created (replay memory expiry).
    pub(crate) init_at: u64,
    pub(crate) created_at: u64,
    pub(crate) last_used: u64,
    pub(crate) initiator: bool,
    /// Initiator only: a message from the responder opened in this session.
    pub(crate) confirmed: bool,
    /// The peer identity equals the engine's pin (said on `accept`; own sessions are).
    pub(crate) trusted: bool,
    /// Initiator, until confirmed: the init block repeated in every message.
    pub(crate) init_block: Vec<u8>,
    pub(crate) send: Chain,
    pub(crate) recv: Chain,
    /// Keys of skipped receive counters, oldest first.
    pub(crate) skipped: Vec<(u64, Key)>,
}

/// The receive-chain change that taking a message key implies, applied only once the
/// body opened (a failed open changes nothing).
pub(crate) enum RecvUpdate {
    UseSkipped(usize),
    Advance {
        next: u64,
        chain_key: Key,
        newly_skipped: Vec<(u64, Key)>,
    },
}

impl Session {
    /// Both chains from `keys`, oriented for our side.
    pub(crate) fn chains(keys: &SessionKeys, initiator: bool) -> (Chain, Chain) {
        let i2r = Chain {
            chain_key: keys.ck_i2r.clone(),
            header_key: keys.hk_i2r.clone(),
            next: 0,
        };
        let r2i = Chain {
            chain_key: keys.ck_r2i.clone(),
            header_key: keys.hk_r2i.clone(),
            next: 0,
        };
        if initiator { (i2r, r2i) } else { (r2i, i2r) }
    }

    /// Whether we may send to `bundle` in this session at `now` (PROTOCOL.md 14.1): same peer device and identity, fewer than 500 messages sent, younger
    /// than 7 days, and no newer bundle of the peer device than the session's epoch.
    pub(crate) fn usable_for(&self, bundle: &DeviceBundle, now: u64) -> bool {
        self.peer == *bundle.user_id()
            && self.peer_device == *bundle.device_id()
            && self.peer_identity == *bundle.identity()
            && self.send.next < REKEY_MESSAGES
            && now.saturating_sub(self.created_at) < REKEY_AGE
            && bundle.issued_at() <= self.peer_epoch
    }

    /// Whether the next message we send carries the init block (kind 2).
    pub(crate) fn sends_init(&self) -> bool {
        self.initiator && !self.confirmed
    }

    /// The message key for `counter` on the receive chain (PROTOCOL.md 15.2): see
    /// [`recv_key`].
    pub(crate) fn recv_key(&self, counter: u64) -> Result<(Key, RecvUpdate)> {
        recv_key(&self.recv, &self.skipped, counter)
    }

    /// Commits a receive-chain update; returns the counters that became skipped.
    pub(crate) fn apply(&mut self, update: RecvUpdate, now: u64) -> Vec<u64> {
        self.last_used = self.last_used.max(now);
        apply_recv(&mut self.recv, &mut self.skipped, update)
    }

    /// Counters skipped on the receive chain whose keys are still held.
    pub(crate) fn missing(&self) -> Vec<u64> {
        self.skipped.iter().map(|(n, _)| *n).collect()
    }
}

/// The message key for `counter` on a receive chain with its skipped keys (PROTOCOL.md
/// 15.2, and 27.6 for group chains): a used or evicted counter is [`Error::Replay`], a
/// jump beyond [`MAX_SKIP`] [`Error::Decrypt`]. Changes nothing: the update is applied
/// by [`apply_recv`] only once the message opened.
pub(crate) fn recv_key(
    recv: &Chain,
    skipped: &[(u64, Key)],
    counter: u64,
) -> Result<(Key, RecvUpdate)> {
    if counter < recv.next {
        return skipped
            .iter()
            .position(|(n, _)| *n == counter)
            .and_then(|i| {
                skipped
                    .get(i)
                    .map(|(_, k)| (k.clone(), RecvUpdate::UseSkipped(i)))
            })
            .ok_or(Error::Replay);
    }
    if counter - recv.next > MAX_SKIP {
        return Err(Error::Decrypt);
    }
    let mut chain_key = recv.chain_key.clone();
    let mut newly_skipped = Vec::new();
    for n in recv.next..counter {
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

/// Commits what [`recv_key`] computed; returns the counters that became skipped. At most
/// [`MAX_SKIPPED_KEYS`] are kept, oldest dropped first.
pub(crate) fn apply_recv(
    recv: &mut Chain,
    skipped: &mut Vec<(u64, Key)>,
    update: RecvUpdate,
) -> Vec<u64> {
    let mut newly = Vec::new();
    match update {
        RecvUpdate::UseSkipped(i) => {
            if i < skipped.len() {
                skipped.remove(i);
            }
        }
        RecvUpdate::Advance {
            next,
            chain_key,
            newly_skipped,
        } => {
            recv.next = next;
            recv.chain_key = chain_key;
            newly.extend(newly_skipped.iter().map(|(n, _)| *n));
            skipped.extend(newly_skipped);
            let excess = skipped.len().saturating_sub(MAX_SKIPPED_KEYS);
            skipped.drain(..excess);
        }
    }
    newly
}
