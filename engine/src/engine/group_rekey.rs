//! A member's device left its list: the admins rotate the sender keys of every group
//! that member is in, so that device cannot read what follows (PROTOCOL.md 27.2
//! "Devices", 27.7). Made once per change of a list (when this device first sees the
//! list without the device), never per input.

use alloc::vec::Vec;
use rand_core::CryptoRng;
use sealpost_core::UserId;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::Change;

use super::Engine;
use super::out::Out;

impl Engine {
    /// `user`'s device list lost a device ([`super::listing::lost_a_device`]): a
    /// `rekey` for each group this account administers that has `user` as a member (this
    /// device in it). A device that is no longer in its own account's list signs nothing.
    pub(super) fn member_lost_device<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        user: UserId,
        out: &mut Out,
    ) {
        if !self.me.list.contains(&self.me.device_id()) {
            return;
        }
        let me = self.me.user_id;
        let groups: Vec<GroupId> = self
            .groups
            .groups
            .iter()
            .filter(|(_, e)| {
                let state = e.session.state();
                e.session.is_member() && state.is_admin(&me) && state.member(&user).is_some()
            })
            .map(|(id, _)| *id)
            .collect();
        for group in groups {
            self.propose(rng, group, Change::Rekey, out);
        }
    }
}
