//! The seen-set: exactly-once delivery across re-sends, session resets and restarts.
//!
//! Each delivered message is remembered as `(sender, msg_id) → sent_at` until
//! `sent_at + MAX_MESSAGE_AGE`, after which no envelope carrying it can open any more
//! (design 2.3), so forgetting it is safe. It is persisted with the device's keys.
//! Keyed by sender as well as id, so no one can suppress another sender's message by
//! reusing its id.
//!
//! Stored in [`SEEN_BUCKETS`] records by message id ([`bucket_of`]), so a driver that
//! stores one message rewrites one small record, not the whole set (up to 65,536 ids):
//! [`SeenSet::take_changed`] says which records changed, [`SeenSet::bucket_to_bytes`]
//! encodes one, [`SeenSet::merge_bucket`] reads one back.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use sealpost_core::{Error, Result, UserId};

use crate::codec::{Codec, Reader};
use crate::limits::{CLOCK_SKEW, MAX_MESSAGE_AGE};
use crate::msg_id::MsgId;

/// Most entries kept. At the cap, the entry that would expire first goes; its message
/// is then refused only by the session store (used counters), which is why the cap is
/// far above what 14 days of ordinary use produce.
pub const MAX_SEEN: usize = 1 << 16;

const TAG: [u8; 2] = [b'N', 2];

/// How many records the set is stored in (see the module's notes).
pub const SEEN_BUCKETS: u8 = 16;

/// The record that holds `id`. Message ids are random (a sender that picks its own only
/// makes one record larger: what is remembered does not change).
pub fn bucket_of(id: &MsgId) -> u8 {
    id.0[0] % SEEN_BUCKETS
}

/// Delivered message ids with their expiry.
#[derive(Clone, Debug, Default)]
pub struct SeenSet {
    by_id: BTreeMap<(UserId, MsgId), u64>,
    by_time: BTreeSet<(u64, UserId, MsgId)>,
    /// The records changed since [`SeenSet::take_changed`] (bit `b`: bucket `b`).
    changed: u16,
}

/// The same ids and times (what changed since the last save is not part of the set).
impl PartialEq for SeenSet {
    fn eq(&self, other: &Self) -> bool {
        self.by_time == other.by_time
    }
}

impl Eq for SeenSet {}

impl SeenSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of remembered messages.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `(sender, id)` was delivered already.
    pub fn contains(&self, sender: &UserId, id: &MsgId) -> bool {
        self.by_id.contains_key(&(*sender, *id))
    }

    /// Remembers a delivery; `false` when it was already remembered (deliver nothing).
    /// `sent_at` is clamped to `now + CLOCK_SKEW`, so a forged future time cannot make
    /// an entry outlive the others.
    pub fn insert(&mut self, sender: UserId, id: MsgId, sent_at: u64, now: u64) -> bool {
        if self.contains(&sender, &id) {
            return false;
        }
        let sent_at = sent_at.min(now.saturating_add(CLOCK_SKEW));
        self.changed |= self.add(sent_at, sender, id) | 1 << bucket_of(&id);
        true
    }

    /// Adds an entry not in the set, making room at the cap; the records that lost an
    /// entry for it.
    fn add(&mut self, sent_at: u64, sender: UserId, id: MsgId) -> u16 {
        let mut dropped = 0;
        while self.by_id.len() >= MAX_SEEN {
            let Some((_, s, i)) = self.by_time.pop_first() else {
                break;
            };
            self.by_id.remove(&(s, i));
            dropped |= 1 << bucket_of(&i);
        }
        self.by_id.insert((sender, id), sent_at);
        self.by_time.insert((sent_at, sender, id));
        dropped
    }

    /// Which records changed since the last call (bit `b`: [`SeenSet::bucket_to_bytes`]
    /// of `b`), and starts again from none.
    pub fn take_changed(&mut self) -> u16 {
        core::mem::take(&mut self.changed)
    }

    /// The stored record of bucket `b`: the entries whose id is in it, in the set's own
    /// encoding (a set of its own).
    pub fn bucket_to_bytes(&self, b: u8) -> Vec<u8> {
        let mut part = Self::new();
        for &(sent_at, sender, id) in self.by_time.iter().filter(|e| bucket_of(&e.2) == b) {
            part.by_id.insert((sender, id), sent_at);
            part.by_time.insert((sent_at, sender, id));
        }
        part.to_bytes()
    }

    /// Adds what [`SeenSet::bucket_to_bytes`] of `b` stored (entries already here are
    /// kept once; only records that lost an entry to the cap count as changed). An entry
    /// of another bucket is malformed: the records are not to be swapped.
    pub fn merge_bucket(&mut self, b: u8, bytes: &[u8]) -> Result<()> {
        let part = Self::from_bytes(bytes)?;
        if part.by_time.iter().any(|e| bucket_of(&e.2) != b) {
            return Err(Error::Malformed);
        }
        for (sent_at, sender, id) in part.by_time {
            if !self.contains(&sender, &id) {
                self.changed |= self.add(sent_at, sender, id);
            }
        }
        Ok(())
    }

    /// Forgets entries whose messages can no longer open; whether any went.
    pub fn prune(&mut self, now: u64) -> bool {
        let mut changed = false;
        while let Some(&(sent_at, sender, id)) = self.by_time.first() {
            if sent_at.saturating_add(MAX_MESSAGE_AGE) >= now {
                break;
            }
            self.by_time.pop_first();
            self.by_id.remove(&(sender, id));
            self.changed |= 1 << bucket_of(&id);
            changed = true;
        }
        changed
    }
}

impl Codec for SeenSet {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TAG);
        let n = u32::try_from(self.by_time.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for (sent_at, sender, id) in &self.by_time {
            sender.encode(out);
            id.encode(out);
            out.extend_from_slice(&sent_at.to_be_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        if r.array::<2>()? != TAG {
            return Err(Error::Malformed);
        }
        let n = usize::try_from(r.u32()?).map_err(|_| Error::Malformed)?;
        if n > MAX_SEEN {
            return Err(Error::Malformed);
        }
        let mut set = Self::new();
        let mut last = None;
        for _ in 0..n {
            let sender = UserId::read(r)?;
            let id = MsgId::read(r)?;
            let sent_at = r.u64()?;
            let key = (sent_at, sender, id);
            // Sorted by (sent_at, sender, id) without duplicates: one encoding.
            if last.is_some_and(|l| l >= key) {
                return Err(Error::Malformed);
            }
            last = Some(key);
            set.by_id.insert((sender, id), sent_at);
            set.by_time.insert(key);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600;

    fn user(n: u8) -> UserId {
        UserId::from_bytes([n; 32])
    }

    #[test]
    fn a_message_is_delivered_once() {
        let mut seen = SeenSet::new();
        assert!(seen.insert(user(1), MsgId([1; 16]), NOW, NOW));
        assert!(!seen.insert(user(1), MsgId([1; 16]), NOW, NOW + 5));
        // Another sender's message with the same id is another message.
        assert!(seen.insert(user(2), MsgId([1; 16]), NOW, NOW));
    }

    #[test]
    fn entries_live_exactly_as_long_as_their_messages_can_open() {
        let mut seen = SeenSet::new();
        seen.insert(user(1), MsgId([1; 16]), NOW, NOW);
        assert!(!seen.prune(NOW + MAX_MESSAGE_AGE));
        assert!(seen.contains(&user(1), &MsgId([1; 16])));
        assert!(seen.prune(NOW + MAX_MESSAGE_AGE + 1));
        assert!(seen.is_empty());
    }

    #[test]
    fn a_forged_future_time_is_clamped() {
        let mut seen = SeenSet::new();
        seen.insert(user(1), MsgId([1; 16]), u64::MAX, NOW);
        assert!(seen.prune(NOW + CLOCK_SKEW + MAX_MESSAGE_AGE + 1));
    }

    #[test]
    fn the_cap_drops_the_entry_closest_to_expiry() {
        let mut seen = SeenSet::new();
        for i in 0..MAX_SEEN as u64 {
            let mut id = [0; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            seen.insert(user(1), MsgId(id), NOW + i, NOW);
        }
        assert!(seen.insert(user(2), MsgId([9; 16]), NOW + 10, NOW));
        assert_eq!(seen.len(), MAX_SEEN);
        assert!(!seen.contains(&user(1), &MsgId([0; 16])));
    }

    #[test]
    fn the_records_hold_the_set_and_only_changed_ones_are_marked() {
        let mut seen = SeenSet::new();
        let id = |n: u8| MsgId([n; 16]);
        for n in 0..40 {
            seen.insert(user(1), id(n), NOW + u64::from(n), NOW);
        }
        assert_eq!(seen.take_changed(), 0xffff, "40 ids reach every record");
        assert_eq!(seen.take_changed(), 0);
        seen.insert(user(2), id(17), NOW, NOW);
        assert_eq!(seen.take_changed(), 1 << bucket_of(&id(17)));
        assert!(!seen.insert(user(2), id(17), NOW, NOW));
        assert_eq!(seen.take_changed(), 0, "a replay changes nothing");
        // Forgetting the first one (sent at NOW) marks its record and user 2's.
        assert!(seen.prune(NOW + MAX_MESSAGE_AGE + 1));
        assert_eq!(
            seen.take_changed(),
            1 << bucket_of(&id(0)) | 1 << bucket_of(&id(17))
        );
        let mut back = SeenSet::new();
        for b in 0..SEEN_BUCKETS {
            back.merge_bucket(b, &seen.bucket_to_bytes(b)).unwrap();
            // Merged twice: kept once.
            back.merge_bucket(b, &seen.bucket_to_bytes(b)).unwrap();
        }
        assert_eq!(back, seen);
        assert_eq!(back.take_changed(), 0, "read back as stored");
        let record = seen.bucket_to_bytes(bucket_of(&id(5)));
        assert_eq!(
            back.merge_bucket(bucket_of(&id(5)) + 1, &record),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn encoding_round_trips_and_is_strict() {
        let mut seen = SeenSet::new();
        seen.insert(user(1), MsgId([1; 16]), NOW, NOW);
        seen.insert(user(2), MsgId([2; 16]), NOW - 5, NOW);
        let bytes = seen.to_bytes();
        assert_eq!(SeenSet::from_bytes(&bytes), Ok(seen));
        for len in 0..bytes.len() {
            assert!(SeenSet::from_bytes(&bytes[..len]).is_err());
        }
        // Entries out of order (swapped) are not the canonical encoding.
        let entry = 32 + 16 + 8;
        let mut swapped = bytes[..6].to_vec();
        swapped.extend_from_slice(&bytes[6 + entry..]);
        swapped.extend_from_slice(&bytes[6..6 + entry]);
        assert_eq!(SeenSet::from_bytes(&swapped), Err(Error::Malformed));
    }
}
