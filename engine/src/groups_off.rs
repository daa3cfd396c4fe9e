//! `Part::Groups` without groups (the `groups` feature off): nothing is kept, and a
//! stored part is ignored.

use alloc::vec::Vec;

use sealpost_core::v2::group::GroupState;
use sealpost_core::{Result, UserId};
use zeroize::Zeroizing;

use crate::msg_id::MsgId;

/// No groups.
#[derive(Default)]
pub struct Groups {
    _none: (),
}

impl Groups {
    /// Nobody is a member of a group here.
    pub fn is_member_anywhere(&self, _: &UserId) -> bool {
        false
    }

    /// No sent group messages.
    pub fn receipted(&mut self, _: &UserId, _: &[MsgId]) -> Vec<(MsgId, usize, usize)> {
        Vec::new()
    }

    /// No chains given.
    pub fn chains_confirmed(
        &mut self,
        _: UserId,
        _: sealpost_core::v2::DeviceId,
        _: &[MsgId],
    ) -> bool {
        false
    }

    /// No group states.
    pub fn states(&self) -> impl Iterator<Item = &GroupState> {
        core::iter::empty()
    }

    /// The encoding of no groups (`groups.rs`: five empty lists).
    pub fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(alloc::vec![0; 10]))
    }

    /// Ignores what a build with groups stored.
    pub fn from_secret_bytes(_: &[u8]) -> Result<Self> {
        Ok(Self::default())
    }
}
