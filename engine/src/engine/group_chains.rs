//! A chain the relay took and dropped (PROTOCOL.md 27.5 "Confirming a chain"): the
//! device that gave it gives it again until the receiving device confirms it, and the
//! receiving device keeps the group messages it cannot open yet on the relay long enough
//! for that re-send to open them.

use alloc::string::String;
use alloc::vec::Vec;

use super::Engine;
use super::out::Out;
use crate::action::{Notice, Output, Part};
use crate::failures::Verdict;
use crate::limits::{CHAIN_WAIT, CLOCK_SKEW, MAX_MESSAGE_AGE};

impl Engine {
    /// On a tick: a chain a member device has not confirmed by its due time is given
    /// again, the same payload as first given (its counter: never an earlier one), to
    /// that device only while its account is a member of the group's state in the same
    /// key epoch (a new key epoch voids every given chain); a device that left its
    /// account's list is dropped where it is sealed (`send_vouched`). Spent re-sends are
    /// forgotten. A re-send the pending queue has no room for (`MAX_PENDING`) is neither
    /// counted nor dropped: it stays due and goes on a later tick.
    pub(super) fn resend_chains(&mut self, now: u64, out: &mut Out) {
        let mut room = self.groups.room();
        let mut again = Vec::new();
        for entry in self.groups.groups.values_mut() {
            if !entry.given.iter().any(|g| g.due <= now) {
                continue;
            }
            out.persist(Part::Groups);
            let state = entry.session.state();
            let live = entry.session.is_member();
            entry.given.retain_mut(|g| {
                if g.due > now {
                    return true;
                }
                if !live || state.member(&g.to.0).is_none() {
                    return false;
                }
                if room == 0 {
                    return true;
                }
                let keep = g.resend(now);
                if keep {
                    room -= 1;
                    again.push((g.to, g.payload.to_vec()));
                }
                keep
            });
        }
        for ((user, device), payload) in again {
            self.pend(user, Some(device), payload);
        }
    }

    /// On a tick: group messages that waited `CHAIN_WAIT` since they first failed, and
    /// that this run of the engine tried (so they are still on the relay, and any chain
    /// handed over with them on that connection was tried first), are given up with a
    /// notice. A device restarted more often than it is handed a blob three times still
    /// gives it up after its day (the counts of attempts live in memory). One not handed
    /// over again (the relay deleted it after its 14 days) is given up, with its notice,
    /// once it could no longer open anyway: `MAX_MESSAGE_AGE` (and the clock skew) after
    /// it first failed, its sender's `sent_at` is too old (27.6 step 4). Before, its
    /// entry stayed until newer ones pushed it out.
    pub(super) fn end_chain_waits(&mut self, now: u64, out: &mut Out) {
        let failures = &mut self.failures;
        let parked = &mut self.group_parked;
        self.groups.waits.retain(|(blob_id, since)| {
            let expired = now > since.saturating_add(MAX_MESSAGE_AGE + CLOCK_SKEW);
            let tried = failures.tried(blob_id);
            if !expired && (now < since.saturating_add(CHAIN_WAIT) || !tried) {
                return true;
            }
            failures.forget(blob_id);
            parked.retain(|(id, _)| id != blob_id);
            out.persist(Part::Groups);
            out.notice(Notice::CouldNotDecrypt {
                blob_id: blob_id.clone(),
                gave_up: true,
            });
            out.push(Output::Ack {
                blob_id: blob_id.clone(),
            });
            false
        });
        self.groups.waits_changed();
    }

    /// A group message that no held chain opens (27.7): reported the first time, kept on
    /// the relay and tried again when a chain arrives (in memory, the last `MAX_PARKED`)
    /// or with the next connection, and given up only after `CHAIN_WAIT` from its first
    /// failure ([`crate::failures::Failures::failed_group`]), which outlasts its chain's
    /// re-sends. When it first failed is stored (`Part::Groups`): a restart neither
    /// reports it again nor starts its wait again.
    pub(super) fn awaits_chain(&mut self, now: u64, blob_id: String, bytes: &[u8], out: &mut Out) {
        let (since, first) = self.groups.wait_since(&blob_id, now);
        let verdict = self.failures.failed_group(&blob_id, now, since);
        let gave_up = verdict == Verdict::GiveUp;
        if first || gave_up {
            out.persist(Part::Groups);
            out.notice(Notice::CouldNotDecrypt {
                blob_id: blob_id.clone(),
                gave_up,
            });
        }
        if gave_up {
            self.groups.wait_over(&blob_id);
            return out.push(Output::Ack { blob_id });
        }
        // Full: the oldest goes (anyone can deposit blobs no chain opens, and they now
        // wait a day; the relay still holds it for the next connection).
        if !self.group_parked.iter().any(|(id, _)| *id == blob_id) {
            if self.group_parked.len() >= super::MAX_PARKED {
                self.group_parked.remove(0);
            }
            self.group_parked.push((blob_id, bytes.to_vec()));
        }
    }
}
