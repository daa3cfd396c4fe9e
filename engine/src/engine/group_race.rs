//! Operations signed for the same epoch of a group (two admins, or two devices of one
//! admin, acting at once; PROTOCOL.md 27.4 "Concurrent operations"). Each member device
//! keeps the race of the last epoch it passed ([`Race`]: the state before it and the
//! operations received for it); when one arrives that changes the race's winner, the
//! device goes back one step and applies the new winner instead, so every member ends
//! with the same state whichever order they came in. A device whose own operation just
//! lost signs its change again against the state that won.

use rand_core::CryptoRng;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::{Change, GroupError, GroupOp, GroupState, Race};

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
        let Some(entry) = self.groups.groups.get_mut(&group) else {
            return Step::Done;
        };
        // Taken before: a copy (a re-send, a replay in a fresh envelope). Nothing to do.
        if entry.taken.has(op) {
            return Step::Done;
        }
        let Some(last) = entry.last.as_mut().filter(|l| l.race.epoch() == op.epoch()) else {
            // Older than the last step: too late to settle (27.4 "Late operations").
            return self.late_op(group, op, out);
        };
        let was = last.race.winner().clone();
        // Checked against the state it was signed for, as if it had come first: a forged
        // one is refused and reported like any other.
        let entered = last.race.enter(op.clone());
        entry.taken.take(op);
        out.persist(Part::Groups);
        match entered {
            Ok(true) => {}
            // One that cannot win (an admin's second operation hashing higher, a second
            // non-admin's leave).
            Ok(false) => return Step::Done,
            Err(e) => {
                if matches!(
                    e,
                    GroupError::NotMember
                        | GroupError::NotAdmin
                        | GroupError::BadSignature
                        | GroupError::Forked
                        | GroupError::OldFormat
                ) {
                    self.refuse_group(Some(group), Some(*op.actor()), e, out);
                }
                return Step::Done;
            }
        }
        let Some(last) = self
            .groups
            .groups
            .get_mut(&group)
            .and_then(|e| e.last.as_mut())
        else {
            return Step::Done;
        };
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
        // A lost rekey is not signed again when the winner moved the key epoch itself
        // (a remove, leave or rekey): two admins rekeying for one revoked device make
        // one key epoch step, not two (27.2 "Devices").
        let moved = entry.session.state().key_epoch() != before.key_epoch()
            && own_lost
                .as_ref()
                .is_some_and(|o| *o.change() == Change::Rekey);
        self.after_apply(group, &winner, applied.rekeyed, applied.removed, out);
        if let Some(own) = own_lost
            && !applied.removed
            && !moved
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

impl Engine {
    /// A validly signed operation for an epoch before the last step that this device
    /// never took (PROTOCOL.md 27.4 "Late operations"): it cannot be settled any more (one
    /// step back is kept), and dropping it in silence would hide that the members may
    /// hold different states. Reported as `GROUP_FORKED`; a forged one as what it is. One
    /// older than what [`crate::groups::Taken`] remembers may be a copy of one taken or
    /// one never seen: reported as `GROUP_TOO_OLD`, each time it comes (it is not
    /// remembered: that would make its epoch look remembered in full).
    fn late_op(&mut self, group: GroupId, op: &GroupOp, out: &mut Out) -> Step {
        let Some(entry) = self.groups.groups.get_mut(&group) else {
            return Step::Done;
        };
        let remembered = entry.taken.covers(op.epoch());
        // Its actor must be a member signing with its pinned key: of the current state,
        // or of the state before the last step (it may have left since).
        let checked = match entry.session.state().check_actor(op) {
            Err(GroupError::NotMember) => match &entry.last {
                Some(last) => last.race.before().check_actor(op).map(|_| ()),
                None => Err(GroupError::NotMember),
            },
            other => other.map(|_| ()),
        };
        let actor = op.actor();
        let known = entry.session.state().member(actor).is_some()
            || entry
                .last
                .as_ref()
                .is_some_and(|l| l.race.before().member(actor).is_some());
        if remembered {
            entry.taken.take(op);
            out.persist(Part::Groups);
        }
        let error = match (checked, remembered) {
            (Ok(()), true) => GroupError::Forked,
            (Ok(()), false) => GroupError::TooOld,
            // Its actor may have left in the epochs since: no pinned key to check it
            // against, and no history to tell it by.
            (Err(GroupError::NotMember), false) if !known => GroupError::TooOld,
            (Err(e), _) => e,
        };
        self.refuse_group(Some(group), Some(*op.actor()), error, out);
        Step::Done
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
