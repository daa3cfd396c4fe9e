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

impl Engine {
    /// On a tick: a chain a member device has not confirmed by its due time is given
    /// again, the same payload as first given (its counter: never an earlier one), to
    /// that device only while its account is a member of the group's state in the same
    /// key epoch (a new key epoch voids every given chain); a device that left its
    /// account's list is dropped where it is sealed (`send_vouched`). Spent re-sends are
    /// forgotten.
    pub(super) fn resend_chains(&mut self, now: u64, out: &mut Out) {
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
                let keep = live && state.member(&g.to.0).is_some() && g.resend(now);
                if keep {
                    again.push((g.to, g.payload.to_vec()));
                }
                keep
            });
        }
        for ((user, device), payload) in again {
            self.pend(user, Some(device), payload);
        }
    }

    /// A group message that no held chain opens (27.7): reported the first time, kept on
    /// the relay and tried again when a chain arrives (in memory, the last `MAX_PARKED`)
    /// or with the next connection, and given up only after `CHAIN_WAIT`
    /// ([`crate::failures::Failures::failed_group`]), which outlasts its chain's re-sends.
    pub(super) fn awaits_chain(&mut self, now: u64, blob_id: String, bytes: &[u8], out: &mut Out) {
        let (verdict, first) = self.failures.failed_group(&blob_id, now);
        let gave_up = verdict == Verdict::GiveUp;
        if first || gave_up {
            out.notice(Notice::CouldNotDecrypt {
                blob_id: blob_id.clone(),
                gave_up,
            });
        }
        if gave_up {
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
