//! What the directory told this run about other accounts (and our own): verified
//! device lists and the bundles they authorise, when each account was last asked for,
//! and the group members' `DeviceLeft` notices that wait to be asked for (PROTOCOL.md
//! 17.7). Memory only: bundles are public and re-fetched after a restart; the pins that
//! matter live in the account state.

use sealpost_core::sorted::{SortedMap, SortedSet};

use sealpost_core::UserId;
use sealpost_core::v2::{DeviceBundle, DeviceId, DeviceList};

use super::Engine;
use super::out::Out;
use crate::action::Output;
use crate::limits::{DEVICE_LEFT_INTERVAL, RESEND_AFTER};

/// Re-read a contact's devices before sending when the copy is older than this.
pub const DIRECTORY_MAX_AGE: u64 = 24 * 3600;

/// Most accounts whose last lookup is remembered ([`Directory::asked`]); beyond it the
/// entry of the smallest user id goes (that account may be asked for once more early).
const MAX_ASKED: usize = 4096;

/// One account as last fetched.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) list: DeviceList,
    pub(crate) bundles: SortedMap<DeviceId, DeviceBundle>,
    pub(crate) fetched_at: u64,
}

/// The last lookup of one account this run, and how the directory answered it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    at: u64,
    /// The last answer was "no such account" or a listing that cannot be used (does not
    /// verify, another identity key than the pin): kept until a usable one comes.
    unusable: bool,
}

/// Who wants a listing ([`Directory::ask`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asker {
    /// An input that waits for the answer and ends with it: a lookup or a send of the
    /// user, a change of the own device list, a blob to settle. Asked at once.
    Input,
    /// The engine's own upkeep, which runs again after every input or tick (re-sends,
    /// pending payloads, receipts, a listed device's missing bundle, the own list): at
    /// most once per [`RESEND_AFTER`] per account, and not while its listing is younger.
    Upkeep,
    /// A group member's `DeviceLeft` notice (PROTOCOL.md 27.2 "Devices"): at most once per
    /// [`DEVICE_LEFT_INTERVAL`] per account, and not while its listing is younger; one
    /// that must wait is asked again by a later tick ([`Directory::take_noticed`]).
    Notice,
}

impl Asker {
    /// How long after an account's last lookup, and after its last listing, this asker
    /// waits (0: at once).
    fn wait(self) -> u64 {
        match self {
            Asker::Input => 0,
            Asker::Upkeep => RESEND_AFTER,
            Asker::Notice => DEVICE_LEFT_INTERVAL,
        }
    }
}

/// Verified listings, the fetches under way and the lookups made.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub(crate) listings: SortedMap<UserId, Listing>,
    pub(crate) requested: SortedSet<UserId>,
    /// Contacts whose directory listing carries another identity key than their pin.
    pub(crate) changed: SortedSet<UserId>,
    /// The last lookup of each account (memory only): within [`RESEND_AFTER`], or
    /// answered unusably.
    asked: SortedMap<UserId, Asked>,
    /// Accounts whose `DeviceLeft` notice came while an [`Asker::Notice`] lookup had to
    /// wait (memory only, at most [`MAX_ASKED`]): asked by the next tick that may, unless
    /// a lookup of any asker went first (it reads the list after the notice came).
    noticed: SortedSet<UserId>,
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

    /// Whether to fetch `user`'s listing now (then the fetch is under way until the
    /// answer). Never twice at once. An [`Asker::Upkeep`] lookup waits [`RESEND_AFTER`]
    /// after the last lookup of the account and after its last listing, whatever the
    /// answer was (none, "no such account", one that does not verify, one without the
    /// bundle wanted): the upkeep runs after every input, and the answer is an input, so
    /// asking again at once would ask without end (PROTOCOL.md 18.1 "Lookups"). An
    /// [`Asker::Notice`] lookup waits [`DEVICE_LEFT_INTERVAL`] the same way, and one
    /// that waits (or finds a fetch under way, which may have been asked before the
    /// notice's list was published) is remembered for a later tick ([`Directory::take_noticed`]).
    pub(crate) fn ask(&mut self, user: UserId, now: u64, asker: Asker) -> bool {
        self.asked
            .retain(|_, a| a.unusable || (a.at.saturating_add(RESEND_AFTER) > now && a.at <= now));
        let wait = asker.wait();
        let recent = |at: u64| at.saturating_add(wait) > now && at <= now;
        let waits = self.requested.contains(&user)
            || (wait > 0
                && (self.asked.get(&user).is_some_and(|a| recent(a.at))
                    || self
                        .listings
                        .get(&user)
                        .is_some_and(|l| recent(l.fetched_at))));
        if waits {
            if asker == Asker::Notice
                && (self.noticed.contains(&user) || self.noticed.len() < MAX_ASKED)
            {
                self.noticed.insert(user);
            }
            return false;
        }
        self.noticed.remove(&user);
        let unusable = self.unreachable(&user);
        self.remember(user, Asked { at: now, unusable });
        self.requested.insert(user);
        true
    }

    /// The accounts whose `DeviceLeft` notice waits for a lookup ([`Asker::Notice`]),
    /// taken: asking for one that must still wait remembers it again.
    pub(crate) fn take_noticed(&mut self) -> SortedSet<UserId> {
        core::mem::take(&mut self.noticed)
    }

    /// Records `asked` for `user`, making room at [`MAX_ASKED`].
    fn remember(&mut self, user: UserId, asked: Asked) {
        if !self.asked.contains_key(&user) && self.asked.len() >= MAX_ASKED {
            self.asked.pop_first();
        }
        self.asked.insert(user, asked);
    }

    /// The directory answered for `user`; `usable`: with a listing taken in. `true` when
    /// the account became unreachable with this answer (it was not before this run).
    pub(crate) fn answered(&mut self, user: UserId, now: u64, usable: bool) -> bool {
        self.requested.remove(&user);
        let was = self.unreachable(&user);
        match self.asked.get_mut(&user) {
            Some(a) => a.unusable = !usable,
            None if !usable => self.remember(
                user,
                Asked {
                    at: now,
                    unusable: true,
                },
            ),
            None => {}
        }
        !usable && !was
    }

    /// Whether the directory's last answer for `user` this run was unusable ("no such
    /// account", a listing that does not verify or carries another identity key).
    pub(crate) fn unreachable(&self, user: &UserId) -> bool {
        self.asked.get(user).is_some_and(|a| a.unusable)
    }
}

impl Engine {
    /// Asks the driver for `user`'s listing when [`Directory::ask`] says so.
    pub(super) fn ask_directory(&mut self, user: UserId, now: u64, asker: Asker, out: &mut Out) {
        if self.directory.ask(user, now, asker) {
            out.push(Output::FetchDirectory { user });
        }
    }

    /// A `DeviceLeft` notice from `from`, authenticated by its pairwise session: when
    /// `from` is a member of a group this device is in (this account included), its list
    /// is read again ([`Asker::Notice`]: at most once per
    /// [`crate::limits::DEVICE_LEFT_INTERVAL`]); the answer goes the way of every list,
    /// and a list that lost a device makes an admin rekey. Anyone else's is ignored
    /// without a report: it asks for nothing, and a member just removed (or one whose
    /// add this device has not taken yet) sends one in good faith.
    pub(super) fn device_left_noticed(&mut self, now: u64, from: UserId, out: &mut Out) {
        if self.groups.is_member_anywhere(&from) {
            self.ask_directory(from, now, Asker::Notice, out);
        }
    }

    /// On a tick: the notices whose lookup had to wait are asked for now if they may,
    /// else remembered again (those of accounts no longer in any group are dropped).
    pub(super) fn noticed_due(&mut self, now: u64, out: &mut Out) {
        for user in self.directory.take_noticed() {
            if self.groups.is_member_anywhere(&user) {
                self.ask_directory(user, now, Asker::Notice, out);
            }
        }
    }
}
