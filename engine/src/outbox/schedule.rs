//! The re-send schedule: a target device that has not receipted a message gets it again
//! [`RESEND_AFTER`] after it was sealed to it, then after 4, 16 and 64 times that, at
//! most [`MAX_RESENDS`] times (reset requests count too), while the message is younger
//! than [`MAX_MESSAGE_AGE`]. The engine seals each device's due re-sends in one new
//! session (the device may have lost every session with us: a state rollback, a wiped
//! store), and the receiver de-duplicates by `msg_id`.

use alloc::vec::Vec;

use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;

use super::{Outbox, Resend, Target, TargetState};
use crate::limits::{MAX_MESSAGE_AGE, MAX_RESENDS, RESEND_AFTER};
use crate::msg_id::MsgId;

/// When `t` is due for its next re-send (`None`: never again).
fn next_resend(t: &Target) -> Option<u64> {
    if t.state != TargetState::Sent || t.resends >= MAX_RESENDS {
        // Unsent: the deposit is retried byte for byte first; receipted: done.
        return None;
    }
    let wait = RESEND_AFTER.checked_shl(2 * u32::from(t.resends))?;
    Some(t.sealed_at.saturating_add(wait))
}

impl Outbox {
    /// Re-sends due at `now`, in send order, one [`Resend`] per message with every due
    /// device. Nothing changes until [`Outbox::reseal_at`] records the new envelopes,
    /// so a device whose bundle is not known yet stays due.
    pub fn due(&self, now: u64) -> Vec<Resend> {
        self.entries
            .iter()
            .filter(|e| e.created_at.saturating_add(MAX_MESSAGE_AGE) > now)
            .filter_map(|e| {
                let devices: Vec<(UserId, DeviceId)> = e
                    .targets
                    .iter()
                    .filter(|t| next_resend(t).is_some_and(|at| at <= now))
                    .map(|t| (t.user, t.device))
                    .collect();
                (!devices.is_empty()).then(|| Resend {
                    message: e.message.clone(),
                    devices,
                })
            })
            .collect()
    }

    /// [`Outbox::reseal`] of a re-send sealed at `now`: each existing target counts one
    /// more re-send (at most [`MAX_RESENDS`]) and its timer starts again.
    pub fn reseal_at(&mut self, id: &MsgId, sealed: Vec<(UserId, DeviceId, Vec<u8>)>, now: u64) {
        self.reseal_inner(id, sealed, Some(now));
    }

    /// The earliest time a re-send is due, if any (a driver may sleep until then).
    pub fn next_due(&self) -> Option<u64> {
        self.entries
            .iter()
            .flat_map(|e| e.targets.iter().filter_map(next_resend))
            .min()
    }
}
