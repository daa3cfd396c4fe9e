//! Groups left out (the `groups` feature off, e.g. a package under its size budget:
//! groups bring ECDSA P-256): every group request is refused, a group message is
//! surfaced and acknowledged as one that cannot be opened, and a group payload in a
//! pairwise session as unreadable. Same calls as `groups.rs`.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;
use sealpost_core::v2::group::GroupError;
use sealpost_core::v2::{DeviceId, GroupId, OpenedMessage};
use sealpost_core::{Error, UserId};

use super::out::Out;
use super::{Engine, WaitingGroupSend};
use crate::action::{DepositHandle, Notice};
use crate::event::GroupRequest;
use crate::payload::Payload;

impl Engine {
    fn no_groups(&self, group: Option<GroupId>, out: &mut Out) {
        out.notice(Notice::GroupRefused {
            group,
            from: Some(self.me.user_id),
            error: GroupError::Malformed,
        });
    }

    pub(super) fn create_group<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        _: String,
        _: Vec<UserId>,
        out: &mut Out,
    ) {
        self.no_groups(None, out);
    }

    pub(super) fn change_group<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        group: GroupId,
        _: GroupRequest,
        out: &mut Out,
    ) {
        self.no_groups(Some(group), out);
    }

    pub(super) fn send_to_group<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        _: u64,
        send: WaitingGroupSend,
        out: &mut Out,
    ) {
        self.no_groups(Some(send.group), out);
    }

    pub(super) fn group_payload<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        _: u64,
        m: &OpenedMessage,
        _: Payload,
        out: &mut Out,
    ) {
        out.notice(Notice::Unreadable { user: m.sender });
    }

    pub(super) fn receive_group_message(
        &mut self,
        _: u64,
        blob_id: String,
        _: &[u8],
        out: &mut Out,
    ) {
        self.not_opened(blob_id, Error::Malformed, out);
    }

    pub(super) fn deposit_many_done(
        &mut self,
        _: DepositHandle,
        _: &[(UserId, DeviceId)],
        _: u64,
        _: &mut Out,
    ) {
    }

    pub(super) fn member_lost_device<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        _: UserId,
        _: &mut Out,
    ) {
    }

    pub(super) fn group_devices_left(&mut self, _: &UserId, _: &[DeviceId], _: &mut Out) {}

    pub(super) fn deposit_many_failed(&mut self, _: DepositHandle) -> bool {
        false
    }

    pub(super) fn retry_group_deposits(&mut self, _: &mut Out) {}

    pub(super) fn resend_chains(&mut self, _: u64, _: &mut Out) {}

    pub(super) fn end_chain_waits(&mut self, _: u64, _: &mut Out) {}

    pub(super) fn flush_group_pending<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        _: u64,
        _: &mut Out,
    ) {
    }

    pub(super) fn resume_group_sends<R: CryptoRng + ?Sized>(
        &mut self,
        _: &mut R,
        _: u64,
        _: &mut Out,
    ) {
    }

    /// No group payloads are sent without groups.
    pub(super) fn group_payload_deposited(&mut self, _: DepositHandle, _: &mut Out) {}
}
