//! Two operations signed for the same epoch of a group (two admins, or two devices of one
//! admin, acting at once; PROTOCOL.md 27.4 "Concurrent operations"). Each member device
//! keeps its last step (the operation and the state before it); an operation for that
//! same epoch that wins over it ([`wins_over`]: the lower hash) replaces it, so every
//! member ends with the same state whichever of the two it received first. The device
//! that signed the losing operation signs its change again against the state that won.

use rand_core::CryptoRng;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::{GroupError, GroupOp, wins_over};

use super::Engine;
use super::groups::Step;
use super::out::Out;
use crate::groups::LastStep;

impl Engine {
    /// An operation `op` for an epoch this device's state of `group` has passed.
    pub(super) fn concurrent_op<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        group: GroupId,
        op: &GroupOp,
        out: &mut Out,
    ) -> Step {
        let Some(entry) = self.groups.groups.get_mut(&group) else {
            return Step::Done;
        };
        let Some(last) = entry.last.clone() else {
            return Step::Done;
        };
        // Older than the last step (a replay), or the last step itself (a copy).
        if op.epoch() != last.op.epoch() || op.to_bytes() == last.op.to_bytes() {
            return Step::Done;
        }
        // Checked against the state it was signed for, as if it had come first: a forged
        // one is refused and reported like any other.
        if let Err(e) = last.before.apply(op) {
            if matches!(
                e,
                GroupError::NotMember | GroupError::NotAdmin | GroupError::BadSignature
            ) {
                self.refuse_group(Some(group), Some(*op.actor()), e, out);
            }
            return Step::Done;
        }
        if !wins_over(op, &last.op) {
            // The one applied here stays; its signer's devices settle the same way.
            return Step::Done;
        }
        let applied = match entry.session.rewind(&last.before, op) {
            Ok(a) => a,
            Err(e) => {
                self.refuse_group(Some(group), Some(*op.actor()), e, out);
                return Step::Done;
            }
        };
        entry.last = Some(LastStep {
            before: last.before,
            op: op.clone(),
            mine: false,
        });
        self.after_apply(group, op, applied.rekeyed, applied.removed, out);
        if last.mine && !applied.removed {
            // This device's change lost: signed again against the state that won (it
            // may no longer apply, e.g. both admins added the same member: then it is
            // refused here with a notice, and nothing is sent).
            self.propose(rng, group, last.op.change().clone(), out);
        }
        Step::Applied
    }
}
