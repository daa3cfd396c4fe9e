//! The account state: what every device of an account shares (design sections 4 and 5).
//!
//! Contacts with the fingerprint of their pinned identity key (SHA-256 of the SPKI DER)
//! and verified marks, plus the contacts the user forgot (so that forgetting travels to
//! the other devices instead of coming back with their next sync). These bytes travel in
//! the backup (so a password login is not a fresh trust-on-first-use window), in the
//! device link grant and in `AccountSync` payloads between the account's own devices, so
//! they are compact: no keys, no device lists (a contact costs at most 179 bytes with
//! the longest name the user may give it, the largest state about 234 KiB, under the
//! relay's 256 KiB backup limit with room for the backup's key and header). The engine
//! checks the directory's identity key against the fingerprint when it first answers.

use alloc::string::String;
use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use sealpost_core::{Error, Result, UserId, Username};

use crate::codec::{Codec, Reader};

/// Most engaged contacts an account keeps (bounds the backup and every sync payload).
pub const MAX_CONTACTS: usize = 1024;
/// Most stranger contacts (pinned on first use, never engaged) an account keeps: a new
/// one evicts the least recently changed one, never an engaged contact.
pub const MAX_STRANGERS: usize = 256;
/// Most forgotten contacts remembered (the oldest goes first).
pub const MAX_FORGOTTEN: usize = 256;
/// Longest identity SPKI (RSA-4096 DER is 550 bytes).
pub const MAX_SPKI_LEN: usize = 1024;
/// Longest signed device list (design section 1.1).
pub const MAX_DEVICE_LIST_LEN: usize = 4096;
/// Longest name the user gives a contact, in UTF-8 bytes (64 characters of most
/// scripts; the state's worst case stays under the relay's 256 KiB backups).
pub const MAX_NICKNAME_LEN: usize = 96;
/// Longest encoded contact: flags, var8(username), fingerprint, `updated_at`, and the
/// name the user gave it: var8(name), `u64(set_at)`.
pub const MAX_CONTACT_LEN: usize = 1 + 1 + Username::MAX_LEN + 32 + 8 + 1 + MAX_NICKNAME_LEN + 8;

/// Longest encoded state: every contact with the longest name, every forgotten slot.
pub const MAX_LEN: usize =
    2 + 2 + (MAX_CONTACTS + MAX_STRANGERS) * MAX_CONTACT_LEN + 2 + MAX_FORGOTTEN * (32 + 8);

// A contact costs under 200 bytes; the whole state fits the relay's 256 KiB backups.
const _: () = assert!(MAX_CONTACT_LEN < 200);
// With room for the backup's header and its PKCS#8 identity key (20.2).
const _: () = assert!(MAX_LEN + 8 * 1024 < 256 * 1024);
const _: () = assert!(MAX_LEN <= sealpost_core::v2::MAX_ACCOUNT_STATE_LEN);

const TAG: [u8; 2] = [b'A', 5];
/// The former encoding, still read: no names the user gave.
const TAG_V4: [u8; 2] = [b'A', 4];
/// The encoding before that, still read: no engagement flag, every contact engaged.
const TAG_V3: [u8; 2] = [b'A', 3];
const VERIFIED: u8 = 1;
const NAMED: u8 = 2;
const ENGAGED: u8 = 4;
const NICKNAMED: u8 = 8;

/// The name the user gave a contact on one of its devices, with its own clock: it
/// merges apart from the rest of the entry, so naming a contact on one device and
/// marking it verified on another at the same time keeps both.
#[derive(Clone, PartialEq, Eq)]
pub struct Nickname {
    /// UTF-8, at most [`MAX_NICKNAME_LEN`] bytes (so always encodable); empty once the
    /// user removed it (so the removal travels too).
    name: String,
    /// When it was set (the naming device's clock); the newest wins.
    set_at: u64,
}

/// The name itself stays out of logs.
impl core::fmt::Debug for Nickname {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Nickname")
            .field("len", &self.name.len())
            .field("set_at", &self.set_at)
            .finish()
    }
}

impl Nickname {
    /// A name of at most [`MAX_NICKNAME_LEN`] bytes ([`Error::TooLarge`] otherwise).
    pub fn new(name: &str, set_at: u64) -> Result<Self> {
        if name.len() > MAX_NICKNAME_LEN {
            return Err(Error::TooLarge);
        }
        Ok(Self {
            name: name.into(),
            set_at,
        })
    }

    /// The name; empty when the user removed it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When it was set.
    pub fn set_at(&self) -> u64 {
        self.set_at
    }

    /// The newer of two names (`set_at`, then the larger name so that two devices
    /// converge on a tie).
    fn newest<'a>(a: Option<&'a Self>, b: Option<&'a Self>) -> Option<&'a Self> {
        match (a, b) {
            (Some(x), Some(y)) => Some(if (y.set_at, &y.name) > (x.set_at, &x.name) {
                y
            } else {
                x
            }),
            (x, y) => x.or(y),
        }
    }
}

/// A pinned identity: SHA-256 of the identity key's SPKI DER
/// ([`sealpost_core::IdentityPublicKey::fingerprint`]).
pub type Fingerprint = [u8; 32];

/// One contact as every device of the account knows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact's user id.
    pub user_id: UserId,
    /// The contact's username, once known (a lookup or a first message carries it);
    /// when set, `user_id` is its user id.
    pub username: Option<Username>,
    /// The pinned identity: a session is accepted only from the key with this
    /// fingerprint, and a directory answer only with it.
    pub fingerprint: Fingerprint,
    /// Whether the user compared safety numbers with this contact.
    pub verified: bool,
    /// Whether the user engaged with this contact (looked it up, wrote to it, marked
    /// it): its sessions are trusted. A contact pinned only because it wrote first is a
    /// stranger (message requests), kept under its own cap ([`MAX_STRANGERS`]).
    pub engaged: bool,
    /// When this entry last changed (device clock), for merging syncs: the newest wins.
    pub updated_at: u64,
    /// The name the user gave it, if it ever did (merged on its own clock).
    pub nickname: Option<Nickname>,
}

impl core::fmt::Debug for Contact {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Contact")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("verified", &self.verified)
            .field("engaged", &self.engaged)
            .field("updated_at", &self.updated_at)
            .field("nicknamed", &self.nickname.is_some())
            .finish_non_exhaustive()
    }
}

impl Contact {
    fn valid(&self) -> bool {
        self.username
            .as_ref()
            .is_none_or(|name| name.user_id() == self.user_id)
    }
}

/// `u8(flags) || (var8(username) | user_id[32]) || fingerprint[32] || u64(updated_at)
/// [|| var8(nickname) || u64(set_at)]`: a named contact's user id is its username's.
/// Flags: 1 verified, 2 named, 4 engaged, 8 nicknamed (format 5 only).
impl Codec for Contact {
    fn encode(&self, out: &mut Vec<u8>) {
        let named = if self.username.is_some() { NAMED } else { 0 };
        let engaged = if self.engaged { ENGAGED } else { 0 };
        let nicknamed = if self.nickname.is_some() {
            NICKNAMED
        } else {
            0
        };
        out.push(u8::from(self.verified) | named | engaged | nicknamed);
        match &self.username {
            Some(name) => name.encode(out),
            None => self.user_id.encode(out),
        }
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&self.updated_at.to_be_bytes());
        if let Some(n) = &self.nickname {
            crate::codec::put_var8(out, n.name.as_bytes());
            out.extend_from_slice(&n.set_at.to_be_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let flags = r.u8()?;
        if flags & !(VERIFIED | NAMED | ENGAGED | NICKNAMED) != 0 {
            return Err(Error::Malformed);
        }
        let (user_id, username) = if flags & NAMED != 0 {
            let name = Username::read(r)?;
            (name.user_id(), Some(name))
        } else {
            (UserId::read(r)?, None)
        };
        Ok(Self {
            user_id,
            username,
            verified: flags & VERIFIED != 0,
            engaged: flags & ENGAGED != 0,
            fingerprint: r.array()?,
            updated_at: r.u64()?,
            nickname: if flags & NICKNAMED != 0 {
                let name = core::str::from_utf8(r.var8(MAX_NICKNAME_LEN)?)
                    .map_err(|_| Error::Malformed)?;
                Some(Nickname::new(name, r.u64()?).map_err(|_| Error::Malformed)?)
            } else {
                None
            },
        })
    }
}

/// Every contact of the account, by user id, and the forgotten ones.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct AccountState {
    contacts: SortedMap<UserId, Contact>,
    /// User id → when the user forgot that contact.
    forgotten: SortedMap<UserId, u64>,
}

impl AccountState {
    /// No contacts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The contact with `user_id`.
    pub fn get(&self, user_id: &UserId) -> Option<&Contact> {
        self.contacts.get(user_id)
    }

    /// Every contact, by user id.
    pub fn contacts(&self) -> impl ExactSizeIterator<Item = &Contact> {
        self.contacts.values()
    }

    /// Adds or replaces a contact (and clears a forgotten mark). A stranger (not
    /// engaged) beyond [`MAX_STRANGERS`] evicts the stranger changed least recently,
    /// whose user id is returned (without a forgetting mark: it is pinned on first use
    /// again if it writes again). [`Error::TooLarge`] when an engaged contact would
    /// exceed [`MAX_CONTACTS`], [`Error::Malformed`] when its username is not its user
    /// id's: nothing changes then.
    pub fn upsert(&mut self, contact: Contact) -> Result<Option<UserId>> {
        if !contact.valid() {
            return Err(Error::Malformed);
        }
        let user = contact.user_id;
        let others = |engaged: bool| {
            self.contacts
                .values()
                .filter(|c| c.engaged == engaged && c.user_id != user)
                .count()
        };
        let mut evicted = None;
        if contact.engaged {
            if others(true) >= MAX_CONTACTS {
                return Err(Error::TooLarge);
            }
        } else if others(false) >= MAX_STRANGERS {
            evicted = self
                .contacts
                .values()
                .filter(|c| !c.engaged && c.user_id != user)
                .min_by_key(|c| c.updated_at)
                .map(|c| c.user_id);
            if let Some(gone) = &evicted {
                self.contacts.remove(gone);
            }
        }
        self.forgotten.remove(&user);
        self.contacts.insert(user, contact);
        Ok(evicted)
    }

    /// How many contacts are strangers (pinned, not engaged).
    pub fn strangers(&self) -> usize {
        self.contacts.values().filter(|c| !c.engaged).count()
    }

    /// Removes a contact without a trace (its pin too).
    pub fn remove(&mut self, user_id: &UserId) -> Option<Contact> {
        self.contacts.remove(user_id)
    }

    /// Forgets a contact at time `at` (its pin too: the next contact is a new trust on
    /// first use), and remembers that, so a merge with an older state does not bring
    /// the pin back.
    pub fn forget(&mut self, user_id: &UserId, at: u64) -> Option<Contact> {
        let gone = self.contacts.remove(user_id);
        self.forgotten.insert(*user_id, at);
        while self.forgotten.len() > MAX_FORGOTTEN {
            let oldest = self
                .forgotten
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(u, _)| *u);
            match oldest {
                Some(u) => self.forgotten.remove(&u),
                None => break,
            };
        }
        gone
    }

    /// When `user_id` was forgotten, if it was (and not pinned again since).
    pub fn forgotten_at(&self, user_id: &UserId) -> Option<u64> {
        self.forgotten.get(user_id).copied()
    }

    /// Takes in another device's state: for each contact the newer entry or forgetting
    /// wins (`updated_at`), so two devices converge whatever order syncs arrive in; the
    /// engagement with one pin is never taken back (either device's mark counts), and
    /// the name the user gave is merged on its own clock (`set_at`).
    /// Returns the user ids whose entry changed (or that a stranger evicted).
    pub fn merge(&mut self, other: &AccountState) -> Vec<UserId> {
        let mut changed = Vec::new();
        for theirs in other.contacts.values() {
            let user = theirs.user_id;
            let mine = self.contacts.get(&user);
            let same_pin = mine.is_some_and(|m| m.fingerprint == theirs.fingerprint);
            let newer = mine.is_none_or(|m| theirs.updated_at > m.updated_at)
                && self
                    .forgotten_at(&user)
                    .is_none_or(|t| theirs.updated_at > t);
            let nickname = Nickname::newest(
                mine.and_then(|m| m.nickname.as_ref()),
                theirs.nickname.as_ref(),
            )
            .cloned();
            let taken = match mine {
                Some(m) if newer => Contact {
                    engaged: theirs.engaged || (same_pin && m.engaged),
                    nickname,
                    ..theirs.clone()
                },
                None if newer => theirs.clone(),
                Some(m) => Contact {
                    engaged: m.engaged || (same_pin && theirs.engaged),
                    nickname,
                    ..m.clone()
                },
                None => continue,
            };
            if self.contacts.get(&user) == Some(&taken) {
                continue;
            }
            if let Ok(evicted) = self.upsert(taken) {
                changed.push(user);
                changed.extend(evicted);
            }
        }
        for (user, at) in &other.forgotten {
            let newer = self.contacts.get(user).is_none_or(|c| *at > c.updated_at)
                && self.forgotten_at(user).is_none_or(|t| *at > t);
            if newer {
                if self.contacts.contains_key(user) {
                    changed.push(*user);
                }
                self.forget(user, *at);
            }
        }
        changed
    }
}

/// `"A" 5 || u16(n) || n × contact (by user id) || u16(m) || m × (user_id || u64(at))`;
/// `"A" 4` (no names the user gave) and `"A" 3` (no engaged flag either: every contact
/// engaged) are still read.
impl Codec for AccountState {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TAG);
        crate::codec::put_list16(out, self.contacts.values());
        let m = u16::try_from(self.forgotten.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&m.to_be_bytes());
        for (user, at) in self.forgotten.iter().take(usize::from(m)) {
            user.encode(out);
            out.extend_from_slice(&at.to_be_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let tag = r.array::<2>()?;
        if ![TAG, TAG_V4, TAG_V3].contains(&tag) {
            return Err(Error::Malformed);
        }
        let v3 = tag == TAG_V3;
        let n = r.count16(MAX_CONTACTS + MAX_STRANGERS, 1 + 2 + 32 + 8)?;
        let mut state = Self::new();
        for _ in 0..n {
            let mut contact = Contact::read(r)?;
            if tag != TAG && contact.nickname.is_some() {
                return Err(Error::Malformed);
            }
            if v3 {
                if contact.engaged {
                    return Err(Error::Malformed);
                }
                contact.engaged = true;
            }
            // One meaning per encoding: no stranger evicted while reading.
            if !contact.engaged && state.strangers() >= MAX_STRANGERS {
                return Err(Error::Malformed);
            }
            // Sorted and unique: one encoding per state.
            if state
                .contacts
                .last_key_value()
                .is_some_and(|(last, _)| *last >= contact.user_id)
            {
                return Err(Error::Malformed);
            }
            state.upsert(contact)?;
        }
        let m = r.count16(MAX_FORGOTTEN, 32 + 8)?;
        for _ in 0..m {
            let user = UserId::read(r)?;
            let at = r.u64()?;
            let sorted = state
                .forgotten
                .last_key_value()
                .is_none_or(|(last, _)| *last < user);
            if !sorted || state.contacts.contains_key(&user) {
                return Err(Error::Malformed);
            }
            state.forgotten.insert(user, at);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests;
