//! Devices that join the recipient's list after a message was sent (PROTOCOL.md 18.4):
//! a message that no device of its recipient has receipted yet is sealed to them too,
//! while it is younger than [`MAX_MESSAGE_AGE`], so a contact who logs in on a new
//! device gets what was written while every old device was away.

use alloc::vec::Vec;

use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;

use super::{Delivery, Outbox, Resend, TargetState};
use crate::limits::MAX_MESSAGE_AGE;
use crate::msg_id::MsgId;

impl Outbox {
    /// `user`'s device list now holds `current`. Every message to `user` younger than
    /// [`MAX_MESSAGE_AGE`] at `now` that no device of `user` has receipted is to be
    /// sealed to the devices of `current` it was not sealed to (in send order). Only
    /// the recipient's devices: a new own device gets history by link or transfer, not
    /// sync copies. Nothing changes until [`Outbox::reseal_at`] records the envelopes.
    pub fn devices_added(&self, user: &UserId, current: &[DeviceId], now: u64) -> Vec<Resend> {
        self.entries
            .iter()
            .filter(|e| e.message.conversation() == user)
            .filter(|e| e.created_at.saturating_add(MAX_MESSAGE_AGE) > now)
            .filter(|e| {
                !e.targets
                    .iter()
                    .any(|t| t.user == *user && t.state == TargetState::Receipted)
            })
            .filter_map(|e| {
                let devices: Vec<(UserId, DeviceId)> = current
                    .iter()
                    .filter(|d| !e.targets.iter().any(|t| t.user == *user && t.device == **d))
                    .map(|d| (*user, *d))
                    .collect();
                (!devices.is_empty()).then(|| Resend {
                    message: e.message.clone(),
                    devices,
                })
            })
            .collect()
    }

    /// The delivery state of a waiting message ("delivered to d of n devices").
    pub fn delivery(&self, id: &MsgId) -> Option<Delivery> {
        self.entry(id).map(|e| e.delivery())
    }

    /// When a waiting message was stamped (`sent_at`, Unix seconds): what every
    /// recipient compares when amendments of one second race (PROTOCOL.md 28.3).
    pub fn sent_at(&self, id: &MsgId) -> Option<u64> {
        self.entry(id).map(|e| e.message.sent_at())
    }
}
