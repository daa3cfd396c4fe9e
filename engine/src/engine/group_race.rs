//! Operations signed for the same epoch of a group (two admins, or two devices of one
//! admin, acting at once; PROTOCOL.md 27.4 "Concurrent operations"). Each member device
//! keeps the race of the last epoch it passed ([`Race`]: the state before it and the
//! operations received for it); when one arrives that changes the race's winner, the
//! device goes back one step and applies the new winner instead, so every member ends
//! with the same state whichever order they came in. A device whose own operation just
//! lost signs its change again against the state that won.

use rand_core::CryptoRng;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::{GroupError, GroupOp, GroupState, Race};

use super::Engine;
use super::groups::Step;
use super::out::Out;
use crate::action::Part;
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
        let Some(last) = self
            .groups
            .groups
            .get_mut(&group)
            .and_then(|e| e.last.as_mut())
        else {
            return Step::Done;
        };
        // Older than the last step: a replay, or too late to settle (27.4).
        if op.epoch() != last.race.epoch() {
            return Step::Done;
        }
        let was = last.race.winner().clone();
        // Checked against the state it was signed for, as if it had come first: a forged
        // one is refused and reported like any other.
        match last.race.enter(op.clone()) {
            Ok(true) => {}
            // A copy, or one that cannot win (an admin's second operation hashing
            // higher, a second non-admin's leave).
            Ok(false) => return Step::Done,
            Err(e) => {
                if matches!(
                    e,
                    GroupError::NotMember | GroupError::NotAdmin | GroupError::BadSignature
                ) {
                    self.refuse_group(Some(group), Some(*op.actor()), e, out);
                }
                return Step::Done;
            }
        }
        out.persist(Part::Groups);
        let winner = last.race.winner().clone();
        if winner.to_bytes() == was.to_bytes() {
            return Step::Done;
        }
        let own_lost = last
            .own
            .as_ref()
            .filter(|own| own.to_bytes() == was.to_bytes())
            .cloned();
        let before = last.race.before().clone();
        let Some(entry) = self.groups.groups.get_mut(&group) else {
            return Step::Done;
        };
        let applied = match entry.session.rewind(&before, &winner) {
            Ok(a) => a,
            Err(e) => {
                self.refuse_group(Some(group), Some(*winner.actor()), e, out);
                return Step::Done;
            }
        };
        self.after_apply(group, &winner, applied.rekeyed, applied.removed, out);
        if let Some(own) = own_lost
            && !applied.removed
        {
            // This device's change lost: signed again against the state that won (it
            // may no longer apply, e.g. both admins added the same member, or this
            // account was demoted: then it is refused here with a notice, and nothing
            // is sent).
            self.propose(rng, group, own.change().clone(), out);
        }
        Step::Applied
    }
}

/// The race a device starts when its state passes an epoch with `op`, from the state
/// `before` it (which `op` was just applied to); `own` when this device signed it.
pub(super) fn start(before: GroupState, op: &GroupOp, own: bool) -> Option<LastStep> {
    let race = Race::new(before, op.clone()).ok()?;
    Some(LastStep {
        race,
        own: own.then(|| op.clone()),
    })
}
