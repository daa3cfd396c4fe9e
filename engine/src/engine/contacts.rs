//! Contacts as the app sees them: lookups by name, the contact list with what a safety
//! number needs, account syncs from the account's other devices, and the stored form of
//! the account part (the compact state plus the contacts' device lists).

use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use sealpost_core::v2::{
    DeviceEntry, DeviceList, MAX_DEVICE_LIST_LEN, MAX_TRUSTED_SESSIONS, REPLAY_MEMORY,
};
use sealpost_core::{Error, IdentityPublicKey, Result, SafetyNumber, UserId, Username};

use super::directory::Asker;
use super::out::Out;
use super::{Engine, MAX_LOOKUPS};
use crate::account_state::{AccountState, Contact, Fingerprint, MAX_CONTACTS, MAX_STRANGERS};
use crate::action::{LookupOutcome, Notice, Output, Part};
use crate::codec::{Codec, Reader, put_var16, put_var32};

/// The stored account part: `"a" 2 || var32(account state) || u16(n) || n ×
/// var16(device list)`.
const LOCAL_TAG: [u8; 2] = [b'a', 2];
/// Largest compact account state read back.
const MAX_STATE_LEN: usize = sealpost_core::v2::MAX_ACCOUNT_STATE_LEN;

/// One contact for the app's contact list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ContactInfo {
    /// The contact's user id.
    pub user_id: UserId,
    /// Its username, once known.
    pub username: Option<Username>,
    /// SHA-256 of the pinned identity key.
    pub fingerprint: Fingerprint,
    /// Whether the user compared safety numbers.
    pub verified: bool,
    /// Whether the user engaged with it (looked it up, wrote to it, marked it); a
    /// contact that only wrote first is a stranger: its messages are requests.
    pub engaged: bool,
    /// The pinned identity key itself, once the directory (or a session) showed it:
    /// with this account's, the input of the safety number ([`Engine::safety_number`]).
    /// `None` right after a restore, until the directory answers.
    pub identity: Option<IdentityPublicKey>,
    /// The directory serves another identity key (nothing is sent to it until the user
    /// forgets the contact).
    pub identity_changed: bool,
    /// How many devices its current device list has (0 when not known yet).
    pub devices: usize,
    /// The name the user gave it on any device of the account: `None` if it never
    /// did, empty once it removed the name (so an app can tell a removal from a name it
    /// has not shared yet). Untrusted text: the app cleans it for display.
    pub name: Option<alloc::string::String>,
}

impl Engine {
    /// Every contact, by user id.
    pub fn contacts(&self) -> Vec<ContactInfo> {
        self.account
            .contacts()
            .filter_map(|c| self.contact(&c.user_id))
            .collect()
    }

    /// One contact.
    pub fn contact(&self, user: &UserId) -> Option<ContactInfo> {
        let c = self.account.get(user)?;
        let listing = self
            .directory
            .listings
            .get(user)
            .filter(|l| l.list.identity().fingerprint() == c.fingerprint);
        Some(ContactInfo {
            user_id: c.user_id,
            username: c.username.clone(),
            fingerprint: c.fingerprint,
            verified: c.verified,
            engaged: c.engaged,
            identity: self.pinned_identity(user),
            identity_changed: self.contact_identity_changed(user),
            devices: listing.map_or(0, |l| l.list.devices().len()),
            name: c.nickname.as_ref().map(|n| n.name().into()),
        })
    }

    /// The pinned identity key of `user`, if this device has seen the key itself.
    fn pinned_identity(&self, user: &UserId) -> Option<IdentityPublicKey> {
        let pin = self.pin_of(user)?;
        if let Some(l) = self.directory.listings.get(user)
            && l.list.identity().fingerprint() == pin
        {
            return Some(l.list.identity().clone());
        }
        self.sessions
            .sessions()
            .into_iter()
            .find(|s| s.peer == *user && s.peer_identity.fingerprint() == pin)
            .map(|s| s.peer_identity)
    }

    /// The safety number of this account and the contact `user` (its pinned key), once
    /// the key is known (see [`ContactInfo::identity`]).
    pub fn safety_number(&self, user: &UserId) -> Option<SafetyNumber> {
        let theirs = self.pinned_identity(user)?;
        Some(SafetyNumber::new(
            &self.me.user_id,
            &self.me.identity.public(),
            user,
            &theirs,
        ))
    }

    /// The account's devices as this device knows them (the signed list's entries).
    pub fn devices(&self) -> &[DeviceEntry] {
        self.me.list.devices()
    }

    /// Looks `username` up: answered at once when the directory answered recently,
    /// else after [`Output::FetchDirectory`].
    pub(super) fn lookup(&mut self, now: u64, username: Username, out: &mut Out) {
        let user = username.user_id();
        if self.directory.fresh(&user, now).is_some() && !self.directory.requested.contains(&user) {
            self.lookups.insert(user, username);
            return self.lookup_answered(user, LookupOutcome::Found, now, out);
        }
        if self.contact_identity_changed(&user) {
            self.lookups.insert(user, username);
            return self.lookup_answered(user, LookupOutcome::IdentityChanged, now, out);
        }
        if !self.lookups.contains_key(&user) && self.lookups.len() >= MAX_LOOKUPS {
            return out.push(Output::LookupDone {
                username,
                user,
                outcome: LookupOutcome::Busy,
            });
        }
        self.lookups.insert(user, username);
        // The user asks: at once, also within the hour after "no such account".
        self.ask_directory(user, now, Asker::Input, out);
    }

    /// The directory answered for `user`: if it was looked up, name the contact and
    /// tell the app.
    pub(super) fn lookup_answered(
        &mut self,
        user: UserId,
        outcome: LookupOutcome,
        now: u64,
        out: &mut Out,
    ) {
        let Some(username) = self.lookups.remove(&user) else {
            return;
        };
        if outcome == LookupOutcome::Found && user != self.me.user_id {
            self.learn_username(&username, now, out);
            self.engage(&user, now, out);
        }
        out.push(Output::LookupDone {
            username,
            user,
            outcome,
        });
    }

    /// Another device of the account sent its state: merge it (newest entry wins).
    /// A contact whose pin changed (the other device accepted a new key) or that was
    /// forgotten loses its sessions and listing here too.
    pub(super) fn account_synced(&mut self, theirs: &AccountState, out: &mut Out) {
        let before: SortedMap<UserId, Fingerprint> = self
            .account
            .contacts()
            .map(|c| (c.user_id, c.fingerprint))
            .collect();
        let changed = self.account.merge(theirs);
        if changed.is_empty() {
            return;
        }
        out.persist(Part::Account);
        for user in changed {
            out.notice(Notice::ContactChanged { user });
            if before.get(&user).copied() != self.pin_of(&user) {
                self.stranger_evicted(user, out);
            } else if self.account.get(&user).is_some_and(|c| c.engaged) {
                // Another device engaged with it: its sessions here are trusted too.
                self.trust_sessions(&user, out);
            }
        }
    }

    /// The user engaged with `user` (looked it up, writes to it): a stranger becomes an
    /// engaged contact, and its sessions trusted.
    pub(super) fn engage(&mut self, user: &UserId, now: u64, out: &mut Out) {
        let Some(c) = self.account.get(user).filter(|c| !c.engaged) else {
            return;
        };
        let engaged = Contact {
            engaged: true,
            updated_at: now.max(c.updated_at.saturating_add(1)),
            ..c.clone()
        };
        if self.account.upsert(engaged).is_ok() {
            self.account_changed = true;
            out.persist(Part::Account);
            self.trust_sessions(user, out);
        }
    }

    /// Marks the sessions with an engaged contact's pinned identity trusted, unless
    /// that would take the trusted sessions or the trusted replay memory over their caps
    /// (then they stay untrusted: they still open, and its next sessions are trusted).
    pub(super) fn trust_sessions(&mut self, user: &UserId, out: &mut Out) {
        let Some(pin) = self.pin_of(user) else {
            return;
        };
        let all = self.sessions.sessions();
        let promoted: Vec<_> = all
            .iter()
            .filter(|s| s.peer == *user && !s.trusted && s.peer_identity.fingerprint() == pin)
            .collect();
        let Some(first) = promoted.first() else {
            return;
        };
        let trusted = all.iter().filter(|s| s.trusted).count();
        let (remembered, _) = self.sessions.replay_memory_len();
        if trusted + promoted.len() > MAX_TRUSTED_SESSIONS
            || remembered + promoted.len() > REPLAY_MEMORY
        {
            return;
        }
        let identity = first.peer_identity.clone();
        self.sessions.set_trusted(user, &identity, true);
        out.persist(Part::Sessions);
    }

    /// `user` is no contact any more without a forgetting (a stranger evicted by a newer
    /// one, or a pin another device replaced): its sessions and listing go too.
    pub(super) fn stranger_evicted(&mut self, user: UserId, out: &mut Out) {
        self.sessions.forget_peer(&user);
        out.persist(Part::Sessions);
        self.directory.listings.remove(&user);
        self.directory.changed.remove(&user);
    }

    /// The stored account part.
    pub(super) fn account_to_local(&self) -> Vec<u8> {
        let state = self.account.to_bytes();
        let lists: Vec<&[u8]> = self
            .account
            .contacts()
            .filter_map(|c| {
                let l = self.directory.listings.get(&c.user_id)?;
                (l.list.identity().fingerprint() == c.fingerprint).then(|| l.list.to_bytes())
            })
            .collect();
        let mut out =
            Vec::with_capacity(8 + state.len() + lists.iter().map(|l| l.len() + 2).sum::<usize>());
        out.extend_from_slice(&LOCAL_TAG);
        put_var32(&mut out, &state);
        let n = u16::try_from(lists.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for l in lists.iter().take(usize::from(n)) {
            put_var16(&mut out, l);
        }
        out
    }

    /// Reads [`Engine::account_to_local`]: the state and the lists (verified).
    pub(super) fn account_from_local(bytes: &[u8]) -> Result<(AccountState, Vec<DeviceList>)> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != LOCAL_TAG {
            return Err(Error::Malformed);
        }
        let state = AccountState::from_bytes(r.var32(MAX_STATE_LEN)?)?;
        let n = r.count16(MAX_CONTACTS + MAX_STRANGERS, 2)?;
        let mut lists = Vec::with_capacity(n);
        for _ in 0..n {
            // A list that no longer verifies is dropped, not fatal: the directory has it.
            if let Ok(list) = DeviceList::from_bytes(r.var16(MAX_DEVICE_LIST_LEN)?) {
                lists.push(list);
            }
        }
        r.finish()?;
        Ok((state, lists))
    }
}
