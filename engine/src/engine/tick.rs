//! Time: missing-message notices (and the resets that recover them), outbox expiry,
//! scheduled re-sends (`heal.rs`), deposit retries, seen-set and session pruning,
//! device key rotation.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::Engine;
use super::directory::Asker;
use super::out::Out;
use crate::action::{DepositHandle, Notice, Output, Part};
use crate::msg_id::MsgId;

impl Engine {
    pub(super) fn tick<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64, out: &mut Out) {
        self.report_missing(rng, now, out);
        for (msg_id, d) in self.outbox.expire(now) {
            out.persist(Part::Outbox);
            if d.delivered == 0 {
                out.notice(Notice::NotDelivered { msg_id });
            }
        }
        if self.seen.prune(now) {
            out.persist(Part::Seen);
        }
        self.sessions.prune(now);
        self.resend_due(rng, now, out);
        self.direct_tick(now, out);
        self.call_tick(rng, now, out);
        self.retry_deposits(None, out);
        self.retry_group_deposits(out);
        self.resend_chains(now, out);
        self.end_chain_waits(now, out);
        self.noticed_due(now, out);
        self.rotate_keys(rng, now, out);
        let me = self.me.user_id;
        if self.directory.fresh(&me, now).is_none() {
            self.ask_directory(me, now, Asker::Upkeep, out);
        }
    }

    /// Gaps open for an hour: tell the user, and ask the sender to re-send what we did
    /// not receipt in a session that works (both sides drop the gapped one, and we
    /// re-send what the peer has not receipted from us, since it drops it too).
    fn report_missing<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64, out: &mut Out) {
        let due = self.missing.due(now);
        if due.is_empty() {
            return;
        }
        out.persist(Part::Missing);
        for m in due {
            out.notice(Notice::MaybeMissing {
                user: m.user,
                device: m.device,
                count: m.count,
            });
            // Recorded in the reset limit too (no second request within the hour);
            // forgetting the session and re-sending happen either way.
            if self.reset_limit.allow(m.session, now) {
                self.ask_reset(rng, now, m.user, m.device, m.session, out);
            } else {
                self.sessions.forget_session(&m.session);
                out.persist(Part::Sessions);
            }
        }
    }

    /// Deposits the relay refused, and (after a restart) outbox envelopes it never took;
    /// `only` those of one message.
    pub(super) fn retry_deposits(&mut self, only: Option<MsgId>, out: &mut Out) {
        let of = |msg: Option<MsgId>| only.is_none() || msg == only;
        let failed: Vec<DepositHandle> = self
            .in_flight
            .iter()
            .filter(|(_, d)| d.failed && of(d.msg))
            .map(|(h, _)| *h)
            .collect();
        for handle in failed {
            let Some(d) = self.in_flight.get(&handle) else {
                continue;
            };
            let (direct, output) = self.transport(d.to, d.device, &d.envelope, handle);
            out.push(output);
            if let Some(d) = self.in_flight.get_mut(&handle) {
                d.failed = false;
                d.direct = direct;
                d.aged = false;
            }
        }
        let unsent: Vec<_> = self
            .outbox
            .unsent()
            .filter(|(msg, user, device, _)| {
                of(Some(*msg))
                    && !self
                        .in_flight
                        .values()
                        .any(|d| d.msg == Some(*msg) && d.to == *user && d.device == *device)
            })
            .map(|(msg, user, device, env)| (msg, user, device, env.to_vec()))
            .collect();
        for (msg, user, device, envelope) in unsent {
            self.deposit(user, device, envelope, Some(msg), out);
        }
    }

    fn rotate_keys<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64, out: &mut Out) {
        if !self.me.keys.needs_rotation(now) {
            return;
        }
        let rotated = self
            .me
            .keys
            .rotate(rng, &self.me.identity, now)
            .and_then(|()| self.me.keys.bundle(rng, &self.me.identity, now));
        if let Ok(bundle) = rotated {
            out.persist(Part::Device);
            out.push(Output::PublishBundle(bundle.to_bytes().to_vec()));
        }
    }
}
