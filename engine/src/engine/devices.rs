//! The account's own device list: adding and revoking devices from this one, and
//! taking in lists other devices of the account signed.

use rand_core::CryptoRng;
use sealpost_core::v2::{DeviceEntry, DeviceId, DeviceList};

use super::Engine;
use super::out::Out;
use crate::action::{Notice, Output, Part, SecurityKind};

impl Engine {
    /// Adds a device (the user confirmed a link): publishes the new signed list.
    pub(super) fn add_device<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        entry: DeviceEntry,
        out: &mut Out,
    ) {
        match self.me.list.with_device(rng, &self.me.identity, entry, now) {
            Ok(list) => self.adopt_own_list(rng, now, list, out),
            Err(error) => out.notice(Notice::DeviceListRefused { error }),
        }
    }

    /// Revokes a device: publishes the new list; contacts stop sealing to it when they
    /// see the list, and we stop sending it sync copies now.
    pub(super) fn revoke_device<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        device: DeviceId,
        out: &mut Out,
    ) {
        if device == self.me.device_id() || !self.me.list.contains(&device) {
            return out.notice(Notice::DeviceListRefused {
                error: sealpost_core::Error::Malformed,
            });
        }
        match self
            .me
            .list
            .without_device(rng, &self.me.identity, &device, now)
        {
            Ok(list) => self.adopt_own_list(rng, now, list, out),
            Err(error) => out.notice(Notice::DeviceListRefused { error }),
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
        self.me.list = list;
        out.persist(Part::Device);
        let user = self.me.user_id;
        let current: alloc::vec::Vec<DeviceId> =
            self.me.list.devices().iter().map(|d| d.id).collect();
        self.devices_left(rng, now, user, &current, out);
        // The new device needs the contacts, pins and verified marks.
        self.account_changed = true;
        if self.directory.request(user) {
            out.push(Output::FetchDirectory { user });
        }
    }

    /// A list of our account from the directory, already checked to be ours and
    /// signed by our identity key. A newer one is adopted; one without this device
    /// means this device was revoked.
    pub(super) fn own_list_fetched(&mut self, list: &DeviceList, out: &mut Out) {
        if self.me.list.check_update(list).is_ok() {
            self.me.list = list.clone();
            out.persist(Part::Device);
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
