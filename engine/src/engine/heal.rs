//! Sessions that heal themselves (PROTOCOL.md 18.4, 18.6).
//!
//! - Receiver: an envelope that the core attributes to a session of an authenticated
//!   peer device (its header opened under a held session, or it carries a verified
//!   init of a session this device dropped) but that does not open makes this device
//!   forget that session and ask the peer device, in another session, to reset it
//!   (`ResetRequest`) and re-send what this device did not receipt; at most once per
//!   session per [`RESET_INTERVAL`]. For a session the store does not hold, only when
//!   the init's signer is the pinned identity and the device is listed. Nothing is sent
//!   for envelopes no session vouches for (no oracle for strangers, 18.7).
//! - Sender: a reset request is honoured only for a session held with the very device
//!   that asks, which is dropped (so a replay, a stale request, or a stranger naming
//!   someone else's session costs nothing); the unreceipted messages are re-sent.
//! - Sender, on `Tick`: what a device has not receipted is re-sent on the outbox's
//!   schedule (`outbox/schedule.rs`), each device's re-sends in one new session: this
//!   heals a receiver that lost the session entirely and cannot know whom to ask.
//!   The recipient's listing is asked for again once per re-send interval.
//! - Sender, on a directory answer: a message that no device of its recipient has
//!   receipted yet is sealed to the recipient's devices that joined its list since.

use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use rand_core::CryptoRng;
use sealpost_core::v2::{DeviceId, SessionId, Unreadable};
use sealpost_core::{Error, Result, UserId};

use super::Engine;
use super::directory::Asker;
use super::out::Out;
use crate::action::{Output, Part};
use crate::limits::RESET_INTERVAL;
use crate::msg_id::MsgId;

/// Most sessions remembered by [`ResetLimit`]; beyond it, requests wait.
const MAX_RESET_MEMORY: usize = 256;

/// When this device last asked for a reset of each session (memory only: after a
/// restart at most one more request per session).
#[derive(Debug, Default)]
pub(crate) struct ResetLimit {
    sent: SortedMap<SessionId, u64>,
}

impl ResetLimit {
    /// Whether a reset of `session` may be asked at `now` (then it is recorded).
    pub(crate) fn allow(&mut self, session: SessionId, now: u64) -> bool {
        self.sent
            .retain(|_, at| at.saturating_add(RESET_INTERVAL) > now && *at <= now);
        if self.sent.contains_key(&session) || self.sent.len() >= MAX_RESET_MEMORY {
            return false;
        }
        self.sent.insert(session, now);
        true
    }
}

impl Engine {
    /// An envelope the core attributed to session `u` did not open. Returns whether a
    /// reset was asked (the envelope then never opens: acknowledge it).
    pub(super) fn unreadable<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        u: Unreadable,
        out: &mut Out,
    ) -> bool {
        if (u.peer == self.me.user_id && u.peer_device == self.me.device_id())
            || !self.trusts(&u.peer)
        {
            return false;
        }
        if !u.held {
            // A verified init, but no session vouches for it: its signer must be the
            // pin, and its device in the signer's list.
            let pinned = self.pin_of(&u.peer) == Some(u.peer_identity.fingerprint());
            let listed = if u.peer == self.me.user_id {
                self.me.list.contains(&u.peer_device)
            } else {
                self.directory
                    .listings
                    .get(&u.peer)
                    .is_some_and(|l| l.list.contains(&u.peer_device))
            };
            if !pinned || !listed {
                return false;
            }
        }
        if !self.reset_limit.allow(u.session_id, now) {
            return false;
        }
        self.ask_reset(rng, now, u.peer, u.peer_device, u.session_id, out);
        true
    }

    /// Forgets `session` with `(user, device)`, queues a `ResetRequest` for it (sealed
    /// with the next control flush, so in another session) and re-sends what that
    /// device has not receipted from us (it drops the session too).
    pub(super) fn ask_reset<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        session: SessionId,
        out: &mut Out,
    ) {
        if !self.trusts(&user) {
            // No session of ours for a stranger (see `Engine::trusts`).
            return;
        }
        self.resets.insert((user, device), *session.as_bytes());
        self.sessions.forget_session(&session);
        out.persist(Part::Sessions);
        let resends = self.outbox.reset(&user, &device);
        self.resend(rng, now, resends, out);
    }

    /// `Tick`: the re-sends the outbox schedule says are due. As for a send, an account
    /// whose listing is older than `DIRECTORY_MAX_AGE` is fetched first (a revoked
    /// device gets nothing more); its re-sends wait for a later tick. A recipient's
    /// listing older than `RESEND_AFTER` is asked for again (at most once per
    /// `RESEND_AFTER`), without holding the re-sends back: a device that joined its list
    /// is sealed to when the answer comes ([`Engine::devices_joined`]).
    pub(super) fn resend_due<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        let mut due = self.outbox.due(now);
        let mut stale: Vec<UserId> = Vec::new();
        let mut recipients: Vec<UserId> = Vec::new();
        for r in &mut due {
            let to = *r.message.conversation();
            if to != self.me.user_id
                && !recipients.contains(&to)
                && r.devices.iter().any(|(user, _)| *user == to)
            {
                recipients.push(to);
            }
            r.devices.retain(|(user, _)| {
                let fresh = self.directory.fresh(user, now).is_some();
                if !fresh && !stale.contains(user) {
                    stale.push(*user);
                }
                fresh
            });
        }
        // Upkeep, both: every tick would ask again for an account the directory does not
        // know, or whose listing does not bring the device due.
        for user in stale.iter().chain(&recipients) {
            self.ask_directory(*user, now, Asker::Upkeep, out);
        }
        due.retain(|r| !r.devices.is_empty());
        if !due.is_empty() {
            self.resend(rng, now, due, out);
        }
    }

    /// `user`'s listing was taken in: every message to `user` that no device of `user`
    /// has receipted yet, younger than `MAX_MESSAGE_AGE`, is sealed to the listed
    /// devices it was not sealed to (a contact logged in on a new device while its old
    /// ones were away), each device in a new session as for re-sends. Only devices whose
    /// bundle the listing carries (no fetch is asked for the others: a later listing
    /// brings them). Not for the own account: a new own device gets history by link or
    /// transfer, not sync copies.
    pub(super) fn devices_joined<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        out: &mut Out,
    ) {
        if user == self.me.user_id || !self.trusts(&user) {
            return;
        }
        let Some(listing) = self.directory.listings.get(&user) else {
            return;
        };
        let current: Vec<DeviceId> = listing
            .list
            .devices()
            .iter()
            .map(|d| d.id)
            .filter(|d| listing.bundles.contains_key(d))
            .collect();
        let resends = self.outbox.devices_added(&user, &current, now);
        if resends.is_empty() {
            return;
        }
        let ids: Vec<MsgId> = resends.iter().map(|r| r.message.msg_id()).collect();
        self.resend(rng, now, resends, out);
        for msg_id in ids {
            if let Some(d) = self.outbox.delivery(&msg_id) {
                out.push(Output::DeliveryUpdate {
                    msg_id,
                    delivered: d.delivered,
                    total: d.total,
                });
            }
        }
    }

    /// Seals `payload` to one device in a new session (its bundle must be known).
    pub(super) fn seal_fresh_to<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: &UserId,
        device: &DeviceId,
        payload: &[u8],
    ) -> Result<Vec<u8>> {
        let bundle = self.directory.bundle(user, device).ok_or(Error::Expired)?;
        let sealed = self.sessions.seal_fresh(
            rng,
            &self.me.identity,
            &self.me.keys,
            bundle,
            payload,
            now,
        )?;
        Ok(sealed.envelope)
    }

    /// Asks the directory for `user` when a device's bundle is not known (re-sends wait
    /// for it and go with a later tick); upkeep: a listing that does not bring the bundle
    /// is not asked for again within the hour.
    pub(super) fn want_bundle(&mut self, user: UserId, device: &DeviceId, now: u64, out: &mut Out) {
        if self.directory.bundle(&user, device).is_none() {
            self.ask_directory(user, now, Asker::Upkeep, out);
        }
    }
}
