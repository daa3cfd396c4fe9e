//! Operations signed for the same epoch (two admins, or two devices of one admin,
//! changing the group at once; PROTOCOL.md 27.4 "Concurrent operations"): every member
//! settles them with the same rule, whatever order they arrived in, so all members end
//! with the same state. A device that applied another one first goes back one step
//! ([`GroupSession::rewind`]); a losing actor signs its change again against the state
//! that won.
//!
//! The rule uses nothing a signer can choose to win. An earlier rule kept the operation
//! with the lower SHA-256, which the signer picks by signing again (the RSA-PSS salt is
//! random): an admin being removed could sign operations until one hashed lower and win
//! every race. Here an operation loses to a concurrent one that removes or demotes its
//! actor, and what is left is settled by admin seniority, a fact of the agreed state
//! (each admin's `admin_since`). The hash only chooses between two operations
//! of one actor, who could have sent either.

use alloc::vec::Vec;
use core::cmp::Ordering;

use sha2::{Digest, Sha256};

use super::error::{GroupError, GroupResult};
use super::op::{Change, GroupOp};
use super::session::{Applied, GroupSession, RetiredChain};
use super::session_codec::MAX_CHAINS;
use super::state::GroupState;
use crate::username::UserId;

/// The operations a device received for one epoch of a group, with the state they apply
/// to, and the one every member keeps ([`Race::winner`]).
///
/// Only operations that can still win are kept: each admin's with the lowest SHA-256
/// (two from one admin are its own equivocation) and a single non-admin's leave (the
/// lowest user id; a non-admin can only leave, and its leave wins only when no admin
/// made an operation). So a race holds at most one operation per admin, however many
/// an actor signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Race {
    before: GroupState,
    /// In walking order: admins by seniority, then the non-admin.
    ops: Vec<GroupOp>,
    winner: GroupOp,
}

impl Race {
    /// A race at `before` with its first operation, checked like any other
    /// ([`Race::enter`]).
    pub fn new(before: GroupState, op: GroupOp) -> GroupResult<Self> {
        let mut race = Self {
            before,
            ops: Vec::new(),
            winner: op.clone(),
        };
        race.enter(op)?;
        Ok(race)
    }

    /// The state the operations apply to.
    pub fn before(&self) -> &GroupState {
        &self.before
    }

    /// The epoch raced for: the epoch of [`Race::before`], which the operations carry.
    pub fn epoch(&self) -> u64 {
        self.before.epoch()
    }

    /// The operations kept, at most one per admin and one non-admin's leave.
    pub fn ops(&self) -> &[GroupOp] {
        &self.ops
    }

    /// The operation every member keeps for this epoch (PROTOCOL.md 27.4).
    pub fn winner(&self) -> &GroupOp {
        &self.winner
    }

    /// Takes an operation for this epoch. It is checked against [`Race::before`] as
    /// [`GroupState::apply`] does (a forged or invalid one is refused with that error:
    /// `GROUP_OLD_EPOCH` or `GROUP_EPOCH_AHEAD` for another epoch). Returns whether the
    /// kept operations changed (the winner may then be another one).
    pub fn enter(&mut self, op: GroupOp) -> GroupResult<bool> {
        self.before.apply(&op)?;
        if self.ops.iter().any(|o| o.to_bytes() == op.to_bytes()) {
            return Ok(false);
        }
        let admin = self.before.is_admin(op.actor());
        // The kept operation this one competes with for a place: the same admin's, or
        // the non-admin's leave.
        let rival = self.ops.iter().position(|o| {
            if admin {
                o.actor() == op.actor()
            } else {
                !self.before.is_admin(o.actor())
            }
        });
        if let Some(i) = rival {
            // The lower user id (only non-admins differ), then the lower hash.
            let keep_new = self
                .ops
                .get(i)
                .is_some_and(|old| match op.actor().cmp(old.actor()) {
                    Ordering::Equal => digest(&op) < digest(old),
                    other => other == Ordering::Less,
                });
            if !keep_new {
                return Ok(false);
            }
            self.ops.remove(i);
        }
        let rank = |o: &GroupOp| match self.before.member(o.actor()) {
            Some(m) if m.is_admin() => (false, m.admin_since),
            _ => (true, 0),
        };
        let at = self.ops.partition_point(|o| rank(o) <= rank(&op));
        self.ops.insert(at, op);
        if let Some(w) = walk(&self.ops) {
            self.winner = w.clone();
        }
        Ok(true)
    }
}

/// SHA-256 of an operation's bytes (27.4 step 1).
fn digest(op: &GroupOp) -> [u8; 32] {
    Sha256::digest(op.to_bytes()).into()
}

/// Who an operation takes power from: the members it removes or demotes (its actor
/// excepted, who may demote itself).
fn overrules(op: &GroupOp) -> impl Iterator<Item = &UserId> {
    let targets: &[UserId] = match op.change() {
        Change::Remove(users) => users,
        Change::Demote(user) => core::slice::from_ref(user),
        _ => &[],
    };
    targets.iter().filter(move |u| *u != op.actor())
}

/// PROTOCOL.md 27.4: walk the operations in seniority order of their actors; each
/// operation whose actor nothing walked before overruled overrules the actors it removes
/// or demotes. The winner is the first operation whose actor is not overruled at the
/// end. Some operation always is: the last one to overrule anyone was not overruled
/// when walked, and no one walked after it overruled anyone.
fn walk(ops: &[GroupOp]) -> Option<&GroupOp> {
    let mut overruled: Vec<&UserId> = Vec::new();
    for op in ops {
        if !overruled.contains(&op.actor()) {
            overruled.extend(overrules(op));
        }
    }
    ops.iter().find(|op| !overruled.contains(&op.actor()))
}

impl GroupSession {
    /// Goes back to `before`, the state this device held before its last operation, and
    /// applies `op` (which won over that last operation, [`Race::winner`]) to it instead.
    /// `before` must be one step behind the current state of the same group. The chains
    /// are kept only when the key epoch is the same and every member of the current
    /// state is still one (no one who may hold a chain is out); otherwise this is a
    /// rekey: every chain is dropped, and this device makes a new one.
    pub fn rewind(&mut self, before: &GroupState, op: &GroupOp) -> GroupResult<Applied> {
        if before.id() != self.state.id()
            || before.epoch().checked_add(1) != Some(self.state.epoch())
        {
            return Err(GroupError::OldEpoch);
        }
        let next = before.apply(op)?;
        let removed = next.member(&self.user).is_none();
        let rekeyed = next.key_epoch() != self.state.key_epoch()
            || self
                .state
                .members()
                .keys()
                .any(|u| next.member(u).is_none());
        if rekeyed || removed {
            self.own = None;
            // The chains the last step retired stay retired (their messages are still
            // refused with a reason) next to the ones dropped now, as many as stored.
            let dropped: Vec<RetiredChain> = self
                .chains
                .drain(..)
                .map(|c| RetiredChain {
                    header_key: c.chain.header_key,
                    sender: c.sender,
                })
                .collect();
            self.retired.extend(dropped);
            let excess = self.retired.len().saturating_sub(MAX_CHAINS);
            self.retired.drain(..excess);
        } else {
            // Only chains this state still allows (a member's, within its epochs).
            let (key_epoch, epoch) = (next.key_epoch(), next.epoch());
            self.chains.retain(|c| {
                next.member(&c.sender).is_some() && c.epoch >= key_epoch && c.epoch <= epoch
            });
        }
        self.state = next;
        Ok(Applied { rekeyed, removed })
    }
}
