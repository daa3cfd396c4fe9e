//! Directory answers, pins and contacts.
//!
//! First contact pins the identity key of the directory's signed device list (trust on
//! first use); afterwards a list with another identity key is an identity change: a
//! security event, and nothing is sealed to the new key until the user forgets the
//! contact. A list never replaces a newer one (no rollback to revoked devices). Devices
//! that left a list lose their sessions, and messages only they held are re-sent.

use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use rand_core::CryptoRng;
use sealpost_core::v2::{DeviceBundle, DeviceId, DeviceList};
use sealpost_core::{Error, UserId, Username};

use super::Engine;
use super::directory::Listing;
use super::out::Out;
use super::send::SendError;
use crate::account_state::{Contact, Fingerprint, Nickname};
use crate::action::{LookupOutcome, Notice, Output, Part, SecurityKind};

impl Engine {
    /// The pinned identity fingerprint for `user`: our own for our account.
    pub(super) fn pin_of(&self, user: &UserId) -> Option<Fingerprint> {
        if *user == self.me.user_id {
            Some(self.me.identity_fp)
        } else {
            self.account.get(user).map(|c| c.fingerprint)
        }
    }

    /// Whether the directory showed another key than the pin for `user` this run.
    pub(super) fn contact_identity_changed(&self, user: &UserId) -> bool {
        self.directory.changed.contains(user)
    }

    /// Takes in the contacts' device lists stored with the account (after a restore),
    /// so that senders' devices are checked, and lists never roll back, before the
    /// directory answers. A list that does not verify or match its pin is skipped.
    pub(super) fn load_contact_lists(&mut self, lists: Vec<DeviceList>) {
        for list in lists {
            let user = *list.user_id();
            if user != self.me.user_id && self.pin_of(&user) == Some(list.identity().fingerprint())
            {
                self.directory.listings.insert(
                    user,
                    Listing {
                        list,
                        bundles: SortedMap::new(),
                        fetched_at: 0,
                    },
                );
            }
        }
    }

    pub(super) fn directory_fetched<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        list_bytes: &[u8],
        bundles: &[Vec<u8>],
        out: &mut Out,
    ) {
        let list = match DeviceList::from_bytes(list_bytes) {
            Ok(list) if *list.user_id() == user => list,
            _ => {
                self.directory.answered(user, now, false);
                out.notice(Notice::SecurityEvent {
                    kind: SecurityKind::BadDirectory,
                    user,
                });
                self.lookup_answered(user, LookupOutcome::BadDirectory, now, out);
                self.device_ops_refused(user, Error::BadSignature, out);
                return self.give_up_on(user, SendError::NoSuchUser, now, rng, out);
            }
        };
        let fingerprint = list.identity().fingerprint();
        if self.pin_of(&user).is_some_and(|pin| pin != fingerprint) {
            self.directory.answered(user, now, false);
            if self.directory.changed.insert(user) {
                out.notice(Notice::SecurityEvent {
                    kind: SecurityKind::IdentityChanged,
                    user,
                });
            }
            self.lookup_answered(user, LookupOutcome::IdentityChanged, now, out);
            self.device_ops_refused(user, Error::BadSignature, out);
            return self.give_up_on(user, SendError::IdentityChanged, now, rng, out);
        }
        self.directory.answered(user, now, true);
        let previous = self.directory.listings.remove(&user);
        let previous_bytes = previous.as_ref().map(|p| p.list.to_bytes().to_vec());
        let previously_bundled: Vec<DeviceId> = previous
            .as_ref()
            .map(|p| p.bundles.keys().copied().collect())
            .unwrap_or_default();
        let (list, lost) = match previous {
            // Never roll back to an older list (it could list revoked devices).
            Some(p) if p.list.version() > list.version() => (p.list, false),
            Some(p) => {
                let lost = lost_a_device(&p.list, &list);
                (list, lost)
            }
            None => (list, false),
        };
        if user == self.me.user_id {
            self.own_list_fetched(rng, &list, out);
        } else {
            self.pin(user, &list, now, out);
            if previous_bytes.as_deref() != Some(list.to_bytes()) {
                // The contact's newest list is stored with the account (locally).
                out.persist(Part::Account);
            }
        }
        let mut verified: SortedMap<DeviceId, DeviceBundle> = SortedMap::new();
        for raw in bundles {
            if let Ok(b) = DeviceBundle::from_bytes(raw)
                && list.check_bundle(&b).is_ok()
                && verified
                    .get(b.device_id())
                    .is_none_or(|old| old.issued_at() < b.issued_at())
            {
                verified.insert(*b.device_id(), b);
            }
        }
        // An own device whose bundle we see for the first time gets the account state
        // (contacts, names, marks): a sync skipped while its bundle was unknown is not
        // repeated otherwise, and its copies of our sent messages need the names.
        if user == self.me.user_id
            && verified
                .keys()
                .any(|d| *d != self.me.device_id() && !previously_bundled.contains(d))
        {
            self.account_changed = true;
        }
        let current: Vec<DeviceId> = list.devices().iter().map(|d| d.id).collect();
        self.directory.listings.insert(
            user,
            Listing {
                list,
                bundles: verified,
                fetched_at: now,
            },
        );
        self.devices_left(rng, now, user, &current, out);
        // Our own list is compared in `own_list_fetched` (with the list this device holds).
        if lost && user != self.me.user_id {
            self.member_lost_device(rng, user, out);
        }
        self.devices_joined(rng, now, user, out);
        self.lookup_answered(user, LookupOutcome::Found, now, out);
        if user == self.me.user_id {
            self.apply_device_ops(rng, now, out);
        }
        self.resume_parked(rng, now, user, out);
        self.resume_sends(rng, now, out);
    }

    /// `user`'s devices are now `current`: forget sessions with devices that left,
    /// re-send what only they had.
    pub(super) fn devices_left<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        current: &[DeviceId],
        out: &mut Out,
    ) {
        for s in self.sessions.sessions() {
            if s.peer == user && !current.contains(&s.peer_device) {
                self.sessions.forget_device(&user, &s.peer_device);
                out.persist(Part::Sessions);
            }
        }
        self.group_devices_left(&user, current, out);
        let (resends, changed) = self.outbox.devices_changed(&user, current);
        if changed.is_empty() {
            return;
        }
        for (msg_id, d) in changed {
            out.push(Output::DeliveryUpdate {
                msg_id,
                delivered: d.delivered,
                total: d.total,
            });
        }
        out.persist(Part::Outbox);
        self.resend(rng, now, resends, out);
    }

    /// Pins a first contact (trust on first use), named if it was looked up. Engaged
    /// when the user looked it up or writes to it; else a stranger (it wrote first:
    /// its messages are requests, its sessions untrusted, its slot evictable).
    fn pin(&mut self, user: UserId, list: &DeviceList, now: u64, out: &mut Out) {
        if self.account.get(&user).is_some() {
            return;
        }
        let engaged =
            self.lookups.contains_key(&user) || self.waiting.iter().any(|w| w.to.user_id() == user);
        let contact = Contact {
            user_id: user,
            username: self.lookups.get(&user).cloned(),
            fingerprint: list.identity().fingerprint(),
            verified: false,
            engaged,
            updated_at: self.stamp(&user, now),
            nickname: None,
        };
        if let Ok(evicted) = self.account.upsert(contact) {
            self.account_changed = true;
            out.persist(Part::Account);
            if let Some(gone) = evicted {
                self.stranger_evicted(gone, out);
            }
        }
    }

    /// A change time for `user`'s entry later than its forgetting (merges compare them).
    pub(super) fn stamp(&self, user: &UserId, now: u64) -> u64 {
        self.account
            .forgotten_at(user)
            .map_or(now, |t| now.max(t.saturating_add(1)))
    }

    /// Records a contact's username once known (a send to it, or its first message).
    pub(super) fn learn_username(&mut self, name: &Username, now: u64, out: &mut Out) {
        let user = name.user_id();
        if let Some(c) = self.account.get(&user)
            && c.username.is_none()
        {
            let named = Contact {
                username: Some(name.clone()),
                updated_at: now.max(c.updated_at.saturating_add(1)),
                ..c.clone()
            };
            if self.account.upsert(named).is_ok() {
                self.account_changed = true;
                out.persist(Part::Account);
            }
        }
    }

    /// The directory has no such account: parked blobs claiming it are forgeries,
    /// waiting sends to it fail.
    pub(super) fn directory_missing<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        out: &mut Out,
    ) {
        let lost = self.directory.answered(user, now, false);
        if lost && (self.account.get(&user).is_some() || self.trusts(&user)) {
            out.notice(Notice::Unreachable { user });
        }
        self.lookup_answered(user, LookupOutcome::NoSuchUser, now, out);
        if user == self.me.user_id {
            // Nothing newer than ours to take in.
            self.apply_device_ops(rng, now, out);
        }
        self.give_up_on(user, SendError::NoSuchUser, now, rng, out);
    }

    /// No usable listing for `user`: fail its waiting sends, settle its parked blobs, send
    /// the group messages that waited for it to the other members.
    fn give_up_on<R: CryptoRng + ?Sized>(
        &mut self,
        user: UserId,
        error: SendError,
        now: u64,
        rng: &mut R,
        out: &mut Out,
    ) {
        let waiting = core::mem::take(&mut self.waiting);
        for send in waiting {
            if send.to.user_id() == user || user == self.me.user_id {
                out.notice(Notice::SendFailed {
                    msg_id: send.msg_id,
                    error,
                });
            } else {
                self.waiting.push(send);
            }
        }
        self.resume_parked(rng, now, user, out);
        self.resume_group_sends(rng, now, out);
    }

    /// Marks a contact (or takes the mark back); either way the user engaged with it.
    pub(super) fn set_verified(&mut self, user: UserId, verified: bool, now: u64, out: &mut Out) {
        if let Some(c) = self.account.get(&user)
            && (c.verified != verified || !c.engaged)
        {
            let marked = Contact {
                verified,
                engaged: true,
                updated_at: now.max(c.updated_at.saturating_add(1)),
                ..c.clone()
            };
            if self.account.upsert(marked).is_ok() {
                self.account_changed = true;
                out.persist(Part::Account);
                self.trust_sessions(&user, out);
            }
        }
    }

    /// The user names `user` (an empty name removes the name): kept on its own clock,
    /// so a name set here and a mark set on another device at once both survive.
    pub(super) fn set_contact_name(&mut self, user: UserId, name: &str, now: u64, out: &mut Out) {
        let Some(c) = self.account.get(&user) else {
            return;
        };
        if c.nickname.as_ref().map_or("", Nickname::name) == name {
            return;
        }
        let set_at = c
            .nickname
            .as_ref()
            .map_or(now, |n| now.max(n.set_at().saturating_add(1)));
        let Ok(nickname) = Nickname::new(name, set_at) else {
            return;
        };
        let named = Contact {
            nickname: Some(nickname),
            ..c.clone()
        };
        if self.account.upsert(named).is_ok() {
            self.account_changed = true;
            out.persist(Part::Account);
        }
    }

    /// Forgets a contact, its pin, its sessions and its listing: the next contact is a
    /// new trust on first use (how a user accepts a changed identity key).
    pub(super) fn forget_contact(&mut self, user: UserId, now: u64, out: &mut Out) {
        if user == self.me.user_id {
            return;
        }
        let at = self
            .account
            .get(&user)
            .map_or(now, |c| now.max(c.updated_at.saturating_add(1)));
        self.account.forget(&user, at);
        self.sessions.forget_peer(&user);
        self.directory.listings.remove(&user);
        self.directory.changed.remove(&user);
        self.account_changed = true;
        out.persist(Part::Account);
        out.persist(Part::Sessions);
    }
}

/// Whether `new`, a list that replaces `old`, lacks a device `old` listed (PROTOCOL.md
/// 27.2 "Devices": the admins rekey).
pub(super) fn lost_a_device(old: &DeviceList, new: &DeviceList) -> bool {
    old.devices().iter().any(|d| !new.contains(&d.id))
}
