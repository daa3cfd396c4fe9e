//! What the directory told this run about other accounts (and our own): verified
//! device lists and the bundles they authorise. Memory only: bundles are public and
//! re-fetched after a restart; the pins that matter live in the account state.

use sealpost_core::sorted::{SortedMap, SortedSet};

use sealpost_core::UserId;
use sealpost_core::v2::{DeviceBundle, DeviceId, DeviceList};

use crate::limits::RESEND_AFTER;

/// Re-read a contact's devices before sending when the copy is older than this.
pub const DIRECTORY_MAX_AGE: u64 = 24 * 3600;

/// One account as last fetched.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) list: DeviceList,
    pub(crate) bundles: SortedMap<DeviceId, DeviceBundle>,
    pub(crate) fetched_at: u64,
}

/// Verified listings, and the fetches under way.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub(crate) listings: SortedMap<UserId, Listing>,
    pub(crate) requested: SortedSet<UserId>,
    /// Contacts whose directory listing carries another identity key than their pin.
    pub(crate) changed: SortedSet<UserId>,
    /// When a listing was last asked for again before a timed re-send (memory only).
    pub(crate) refreshed: SortedMap<UserId, u64>,
}

impl Directory {
    /// The listing of `user` if fetched within [`DIRECTORY_MAX_AGE`].
    pub(crate) fn fresh(&self, user: &UserId, now: u64) -> Option<&Listing> {
        self.listings
            .get(user)
            .filter(|l| l.fetched_at.saturating_add(DIRECTORY_MAX_AGE) > now)
    }

    /// The bundle of `(user, device)`, however old (sessions only need it to seal).
    pub(crate) fn bundle(&self, user: &UserId, device: &DeviceId) -> Option<&DeviceBundle> {
        self.listings.get(user)?.bundles.get(device)
    }

    /// Asks for `user`'s listing again before a timed re-send (PROTOCOL.md 18.4) when it
    /// is older than [`RESEND_AFTER`], so a device that joined the list is learned
    /// within the first re-send interval; at most once per [`RESEND_AFTER`] per user,
    /// also when the directory does not answer. `true`: fetch it.
    pub(crate) fn refresh(&mut self, user: UserId, now: u64) -> bool {
        self.refreshed
            .retain(|_, at| at.saturating_add(RESEND_AFTER) > now && *at <= now);
        let old = self
            .listings
            .get(&user)
            .is_none_or(|l| l.fetched_at.saturating_add(RESEND_AFTER) <= now);
        if !old || self.refreshed.contains_key(&user) || !self.request(user) {
            return false;
        }
        self.refreshed.insert(user, now);
        true
    }

    /// Marks a fetch as under way; `false` when one already is (ask once).
    pub(crate) fn request(&mut self, user: UserId) -> bool {
        self.requested.insert(user)
    }
}
