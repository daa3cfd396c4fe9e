//! The account's own device list: adding and revoking devices from this one, and
//! taking in lists other devices of the account signed.

use rand_core::CryptoRng;
use sealpost_core::v2::{DeviceEntry, DeviceId, DeviceList};
use sealpost_core::{Error, UserId};

use super::directory::Asker;
use super::listing::lost_a_device;
use super::out::Out;
use super::{Engine, MAX_DEVICE_OPS};
use crate::action::{Notice, Output, Part, SecurityKind};

/// A change of the own device list, waiting for the directory's current list.
pub(super) enum DeviceOp {
    Add(DeviceEntry),
    Revoke(DeviceId),
}

impl Engine {
    /// Adds a device (the user confirmed a link) or revokes one: first fetches the
    /// account's current list (another device may have changed it since this one last
    /// looked), then [`Engine::apply_device_ops`] applies the change to that list.
    pub(super) fn device_op(&mut self, op: DeviceOp, now: u64, out: &mut Out) {
        if self.device_ops.len() >= MAX_DEVICE_OPS {
            return out.notice(Notice::DeviceListRefused {
                error: Error::TooLarge,
            });
        }
        self.device_ops.push(op);
        self.ask_directory(self.me.user_id, now, Asker::Input, out);
    }

    /// The own list was fetched (and taken in if newer): apply the waiting changes.
    pub(super) fn apply_device_ops<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        for op in core::mem::take(&mut self.device_ops) {
            if !self.me.list.contains(&self.me.device_id()) {
                // This device was revoked: it changes nothing any more.
                out.notice(Notice::DeviceListRefused {
                    error: Error::BadSignature,
                });
                continue;
            }
            let signed = match op {
                DeviceOp::Add(entry) => {
                    self.me.list.with_device(rng, &self.me.identity, entry, now)
                }
                DeviceOp::Revoke(device)
                    if device == self.me.device_id() || !self.me.list.contains(&device) =>
                {
                    Err(Error::Malformed)
                }
                DeviceOp::Revoke(device) => {
                    self.me
                        .list
                        .without_device(rng, &self.me.identity, &device, now)
                }
            };
            match signed {
                Ok(list) => self.adopt_own_list(rng, now, list, out),
                Err(error) => out.notice(Notice::DeviceListRefused { error }),
            }
        }
    }

    /// The directory's own list could not be used: the waiting changes are refused.
    pub(super) fn device_ops_refused(&mut self, user: UserId, error: Error, out: &mut Out) {
        if user != self.me.user_id {
            return;
        }
        for _ in core::mem::take(&mut self.device_ops) {
            out.notice(Notice::DeviceListRefused { error });
        }
    }

    fn adopt_own_list<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        list: DeviceList,
        out: &mut Out,
    ) {
        out.push(Output::PublishDeviceList(list.to_bytes().to_vec()));
        let lost = lost_a_device(&self.me.list, &list);
        self.me.list = list;
        out.persist(Part::Device);
        let user = self.me.user_id;
        if lost {
            self.member_lost_device(rng, user, out);
        }
        let current: alloc::vec::Vec<DeviceId> =
            self.me.list.devices().iter().map(|d| d.id).collect();
        self.devices_left(rng, now, user, &current, out);
        // The new device needs the contacts, pins and verified marks.
        self.account_changed = true;
        self.ask_directory(user, now, Asker::Input, out);
    }

    /// A list of our account from the directory, already checked to be ours and
    /// signed by our identity key. A newer one is adopted; one without this device
    /// means this device was revoked.
    pub(super) fn own_list_fetched<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        list: &DeviceList,
        out: &mut Out,
    ) {
        if self.me.list.check_update(list).is_ok() {
            let lost = lost_a_device(&self.me.list, list);
            self.me.list = list.clone();
            out.persist(Part::Device);
            if lost {
                self.member_lost_device(rng, self.me.user_id, out);
            }
            if !list.contains(&self.me.device_id()) {
                out.notice(Notice::SecurityEvent {
                    kind: SecurityKind::DeviceRevoked,
                    user: self.me.user_id,
                });
            }
        } else if list.version() < self.me.list.version() {
            // The directory lags behind what we signed: publish ours again.
            out.push(Output::PublishDeviceList(self.me.list.to_bytes().to_vec()));
        }
    }
}
