//! Two operations signed for the same epoch (two admins, or two devices of one admin,
//! changing the group at once; PROTOCOL.md 27.4 "Concurrent operations"): every member
//! keeps the one whose bytes hash lower, whatever order they arrived in, so all members
//! end with the same state. A device that applied the other one first goes back one
//! step ([`GroupSession::rewind`]); the loser's actor signs its change again against the
//! state that won.

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use super::error::{GroupError, GroupResult};
use super::op::GroupOp;
use super::session::{Applied, GroupSession, RetiredChain};
use super::session_codec::MAX_CHAINS;
use super::state::GroupState;

/// Whether `a` wins over `b` when both were signed for the same epoch of the same
/// group: the lower SHA-256 of the operation's bytes (27.3), compared as big-endian
/// numbers. The same operation never wins over itself.
pub fn wins_over(a: &GroupOp, b: &GroupOp) -> bool {
    Sha256::digest(a.to_bytes()) < Sha256::digest(b.to_bytes())
}

impl GroupSession {
    /// Goes back to `before`, the state this device held before its last operation, and
    /// applies `op` (which won over that last operation, [`wins_over`]) to it instead.
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
