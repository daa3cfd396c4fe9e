//! The account state: what every device of an account shares (design sections 4 and 5).
//!
//! Contacts with their pinned identity keys, verified marks and last known device lists.
//! These bytes travel in the backup (so a password login is not a fresh trust-on-first-use
//! window), in the device link grant and in `AccountSync` payloads between the account's
//! own devices. Keys are kept as canonical SPKI DER bytes, so this file needs no crypto:
//! the engine compares them with what `sealpost_core` verified.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use sealpost_core::{Error, Result, UserId, Username};

use crate::codec::{Codec, Reader, parse_username, put_list16, put_var16};

/// Most contacts an account keeps (bounds the backup and every sync payload).
pub const MAX_CONTACTS: usize = 1024;
/// Longest identity SPKI (RSA-4096 DER is 550 bytes).
pub const MAX_SPKI_LEN: usize = 1024;
/// Longest signed device list (design section 1.1).
pub const MAX_DEVICE_LIST_LEN: usize = 4096;

const TAG: [u8; 2] = [b'A', 2];

/// One contact as every device of the account knows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact's user id.
    pub user_id: UserId,
    /// The contact's username, once known (a first message carries it).
    pub username: Option<Username>,
    /// The pinned identity key (SPKI DER): a session is accepted only from it.
    pub identity_spki: Vec<u8>,
    /// Whether the user compared safety numbers with this contact.
    pub verified: bool,
    /// The newest signed device list seen for this contact (empty when none yet).
    pub device_list: Vec<u8>,
    /// When this entry last changed (device clock), for merging syncs: the newest wins.
    pub updated_at: u64,
}

impl core::fmt::Debug for Contact {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Contact")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("verified", &self.verified)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl Codec for Contact {
    fn encode(&self, out: &mut Vec<u8>) {
        self.user_id.encode(out);
        match &self.username {
            Some(name) => name.encode(out),
            None => out.push(0),
        }
        put_var16(out, &self.identity_spki);
        out.push(u8::from(self.verified));
        put_var16(out, &self.device_list);
        out.extend_from_slice(&self.updated_at.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let user_id = UserId::read(r)?;
        let raw_name = r.var8(Username::MAX_LEN)?;
        // An empty var8 is "no name yet"; anything else must be a normalised name.
        let username = if raw_name.is_empty() {
            None
        } else {
            Some(parse_username(raw_name)?)
        };
        let identity_spki = r.var16(MAX_SPKI_LEN)?.to_vec();
        if identity_spki.is_empty() {
            return Err(Error::Malformed);
        }
        let verified = r.bool()?;
        let device_list = r.var16(MAX_DEVICE_LIST_LEN)?.to_vec();
        let updated_at = r.u64()?;
        Ok(Self {
            user_id,
            username,
            identity_spki,
            verified,
            device_list,
            updated_at,
        })
    }
}

/// Every contact of the account, by user id.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct AccountState {
    contacts: BTreeMap<UserId, Contact>,
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

    /// Adds or replaces a contact. [`Error::TooLarge`] when a new contact would exceed
    /// [`MAX_CONTACTS`], [`Error::Malformed`] when a field is out of bounds: nothing
    /// changes then.
    pub fn upsert(&mut self, contact: Contact) -> Result<()> {
        if contact.identity_spki.is_empty()
            || contact.identity_spki.len() > MAX_SPKI_LEN
            || contact.device_list.len() > MAX_DEVICE_LIST_LEN
        {
            return Err(Error::Malformed);
        }
        if !self.contacts.contains_key(&contact.user_id) && self.contacts.len() >= MAX_CONTACTS {
            return Err(Error::TooLarge);
        }
        self.contacts.insert(contact.user_id, contact);
        Ok(())
    }

    /// Forgets a contact (its pin too: the next contact is a new trust-on-first-use).
    pub fn remove(&mut self, user_id: &UserId) -> Option<Contact> {
        self.contacts.remove(user_id)
    }

    /// Takes in another device's state: for each contact the newer entry wins
    /// (`updated_at`), so two devices converge whatever order syncs arrive in. Returns
    /// whether anything changed.
    pub fn merge(&mut self, other: &AccountState) -> bool {
        let mut changed = false;
        for theirs in other.contacts.values() {
            let newer = self
                .contacts
                .get(&theirs.user_id)
                .is_none_or(|mine| theirs.updated_at > mine.updated_at);
            if newer && self.upsert(theirs.clone()).is_ok() {
                changed = true;
            }
        }
        changed
    }
}

impl Codec for AccountState {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TAG);
        put_list16(out, self.contacts.values());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        if r.array::<2>()? != TAG {
            return Err(Error::Malformed);
        }
        let n = r.count16(MAX_CONTACTS, 32 + 1 + 2 + 1 + 2 + 8)?;
        let mut state = Self::new();
        for _ in 0..n {
            let contact = Contact::read(r)?;
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
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str, verified: bool, updated_at: u64) -> Contact {
        let username = Username::parse(name).unwrap();
        Contact {
            user_id: username.user_id(),
            username: Some(username),
            identity_spki: alloc::vec![name.len() as u8; 40],
            verified,
            device_list: alloc::vec![1, 2, 3],
            updated_at,
        }
    }

    #[test]
    fn round_trips_and_is_canonical() {
        let mut state = AccountState::new();
        state.upsert(contact("alice", true, 5)).unwrap();
        state.upsert(contact("bob", false, 6)).unwrap();
        let mut nameless = contact("carol", false, 7);
        nameless.username = None;
        state.upsert(nameless).unwrap();
        let bytes = state.to_bytes();
        assert_eq!(AccountState::from_bytes(&bytes), Ok(state));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(AccountState::from_bytes(&trailing), Err(Error::Malformed));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_refused_or_harmless() {
        let mut state = AccountState::new();
        state.upsert(contact("alice", true, 5)).unwrap();
        let bytes = state.to_bytes();
        for len in 0..bytes.len() {
            assert!(AccountState::from_bytes(&bytes[..len]).is_err());
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x80;
            if let Ok(other) = AccountState::from_bytes(&flipped) {
                assert_eq!(other.to_bytes(), flipped);
            }
        }
    }

    #[test]
    fn duplicate_or_unsorted_contacts_are_malformed() {
        let mut one = AccountState::new();
        one.upsert(contact("alice", true, 5)).unwrap();
        let entry = &one.to_bytes()[4..];
        let mut twice = alloc::vec![b'A', 2, 0, 2];
        twice.extend_from_slice(entry);
        twice.extend_from_slice(entry);
        assert_eq!(AccountState::from_bytes(&twice), Err(Error::Malformed));
    }

    #[test]
    fn merge_keeps_the_newest_entry_per_contact() {
        let mut mine = AccountState::new();
        mine.upsert(contact("alice", false, 10)).unwrap();
        mine.upsert(contact("bob", true, 10)).unwrap();
        let mut theirs = AccountState::new();
        theirs.upsert(contact("alice", true, 11)).unwrap();
        theirs.upsert(contact("bob", false, 9)).unwrap();
        theirs.upsert(contact("carol", false, 1)).unwrap();
        assert!(mine.merge(&theirs));
        let alice = Username::parse("alice").unwrap().user_id();
        let bob = Username::parse("bob").unwrap().user_id();
        assert!(mine.get(&alice).unwrap().verified);
        assert!(mine.get(&bob).unwrap().verified);
        assert_eq!(mine.contacts().len(), 3);
        assert!(!mine.merge(&theirs));
    }

    #[test]
    fn bounds_are_enforced_without_changing_state() {
        let mut state = AccountState::new();
        let mut huge = contact("alice", false, 1);
        huge.identity_spki = alloc::vec![0; MAX_SPKI_LEN + 1];
        assert_eq!(state.upsert(huge), Err(Error::Malformed));
        let mut empty = contact("alice", false, 1);
        empty.identity_spki.clear();
        assert_eq!(state.upsert(empty), Err(Error::Malformed));
        assert_eq!(state.contacts().len(), 0);
    }
}
