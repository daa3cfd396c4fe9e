//! A member's device left its list: the admins rotate the sender keys of every group
//! that member is in, so that device cannot read what follows (PROTOCOL.md 27.2
//! "Devices", 27.7). Made once per change of a list (when this device first sees the
//! list without the device), never per input.
//!
//! The admins learn of it when they read the member's new list. A member's own devices
//! make them read it at once: a device that sees its own account's list lose a device
//! tells every device of every member of its groups (`DeviceLeft`, 17.7), and a device
//! that gets that notice from a member reads the member's list again (`directory.rs`, at
//! most once per [`crate::limits::DEVICE_LEFT_INTERVAL`]). The notice carries nothing to
//! trust: only the signed list the directory serves can make a device rekey.

use alloc::vec::Vec;
use rand_core::CryptoRng;
use sealpost_core::UserId;
use sealpost_core::sorted::SortedSet;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::Change;

use super::Engine;
use super::out::Out;
use crate::codec::Codec;
use crate::payload::Payload;

impl Engine {
    /// `user`'s device list lost a device ([`super::listing::lost_a_device`]): a
    /// `rekey` for each group this account administers that has `user` as a member (this
    /// device in it); for this account's own list, a `DeviceLeft` notice to the members
    /// too. A device that is no longer in its own account's list signs and tells nothing.
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
        if user == me {
            self.tell_device_left();
        }
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

    /// Queues one `DeviceLeft` for every member account of the groups this device is in
    /// (each once, whatever the number of groups): every device of each, this account's
    /// other devices included (the device that left is no longer in the list they are
    /// sealed to). Every member device, not only the admins': the admins rekey when they
    /// read the list, and every member stops giving its chains (the next one after that
    /// rekey, too) to the device that left only once it reads the list, which a relay
    /// that keeps that device's mailbox would otherwise hand them to. Kept until the
    /// relay takes it, like the group's other pairwise payloads (`Part::Groups`).
    fn tell_device_left(&mut self) {
        let mut members: SortedSet<UserId> = SortedSet::new();
        for (_, e) in self.groups.live() {
            members.extend(e.session.state().members().keys());
        }
        let notice = Payload::DeviceLeft.to_bytes();
        for user in members {
            self.pend(user, None, notice.clone());
        }
    }
}
