//! Where the idempotency records (`Sent`, see keyed.rs) are stored: in 16 records chosen
//! by a hash of their key, so a send seals and writes the one record holding its key
//! (about 16 keys) instead of all 256 (about 70 KB sealed and written with every send
//! once full: ~5 ms of each message's path, docs/BENCHMARKS.md).
//!
//! Which records changed is a bit mask (`Inner::sent_dirty`): bit `b` is bucket `b`,
//! [`LEGACY`] the single record written before the buckets, emptied in the same atomic
//! batch that first writes every bucket.

use sealpost_core::UserId;
use sha2::Digest as _;
use wasm_bindgen::JsValue;

use super::persist::{self, Sent};
use crate::storage::StorageJs;
use crate::vault::Vault;

const BUCKETS: u8 = 16;
/// The record of every key in one, as stored before the buckets.
const LEGACY_NAME: &str = "sends";
/// The dirty bit of [`LEGACY_NAME`].
const LEGACY: u32 = 1 << BUCKETS;
/// Every bucket and the legacy record.
const ALL: u32 = (LEGACY << 1) - 1;

/// The dirty bit of `key`'s bucket.
pub(crate) fn bit(key: &str) -> u32 {
    1 << (sha2::Sha256::digest(key.as_bytes())[0] % BUCKETS)
}

fn name(bucket: u8) -> String {
    format!("sends.{bucket:x}")
}

/// Every stored name (the buckets and the legacy record), for removing an account.
pub(crate) fn names() -> impl Iterator<Item = String> {
    core::iter::once(LEGACY_NAME.to_owned()).chain((0..BUCKETS).map(name))
}

/// The stored keys, oldest first, and the dirty bits to start with: [`ALL`] when the
/// legacy record still held keys (the next batch moves them into the buckets).
pub(crate) async fn load(
    storage: &StorageJs,
    vault: &Vault,
    user: &UserId,
) -> Result<(Vec<(String, Sent)>, u32), JsValue> {
    let read = |bytes: Option<zeroize::Zeroizing<Vec<u8>>>| -> Vec<(String, Sent)> {
        persist::from_json(bytes.as_deref().map(|v| &v[..]))
    };
    let legacy = read(persist::load(storage, vault, user, LEGACY_NAME).await?);
    let mut buckets = Vec::new();
    for b in 0..BUCKETS {
        buckets.extend(read(persist::load(storage, vault, user, &name(b)).await?));
    }
    Ok(merge(legacy, buckets))
}

/// The keys of the legacy record and of the buckets, oldest first (a key in a bucket
/// replaces the same key in the legacy record: it is newer), and the dirty bits.
fn merge(
    mut sent: Vec<(String, Sent)>,
    buckets: Vec<(String, Sent)>,
) -> (Vec<(String, Sent)>, u32) {
    let dirty = if sent.is_empty() { 0 } else { ALL };
    for (key, s) in buckets {
        sent.retain(|(k, _)| *k != key);
        sent.push((key, s));
    }
    sealpost_core::sort::sort_by_key(&mut sent, |(_, s)| s.created_at);
    (sent, dirty)
}

/// The storage entries (key, sealed bytes) of the records marked in `dirty`.
pub(crate) fn entries(
    vault: &Vault,
    user: &UserId,
    sent: &[(String, Sent)],
    dirty: u32,
) -> Result<Vec<(String, Vec<u8>)>, JsValue> {
    let mut out = Vec::new();
    let mut seal = |name: &str, keys: Vec<&(String, Sent)>| -> Result<(), JsValue> {
        let sealed = vault.seal_raw(&format!("v2/{name}"), &persist::to_json(&keys)?)?;
        out.push((persist::key(user, name), sealed));
        Ok(())
    };
    for b in (0..BUCKETS).filter(|b| dirty & (1 << b) != 0) {
        seal(
            &name(b),
            sent.iter().filter(|(k, _)| bit(k) == 1 << b).collect(),
        )?;
    }
    if dirty & LEGACY != 0 {
        seal(LEGACY_NAME, Vec::new())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(msg_id: &str, created_at: u64) -> Sent {
        Sent {
            to: "to".into(),
            digest: "d".into(),
            msg_id: msg_id.into(),
            created_at,
            delivered: 0,
            total: 1,
        }
    }

    #[test]
    fn keys_spread_over_the_buckets_and_only_their_own_bit_is_set() {
        let mut seen = 0;
        for i in 0..256 {
            let b = bit(&format!("key-{i}"));
            assert_eq!(b.count_ones(), 1);
            assert!(b < LEGACY);
            seen |= b;
        }
        assert_eq!(seen, ALL & !LEGACY, "256 keys reach every bucket");
    }

    #[test]
    fn a_store_of_before_the_buckets_is_read_and_moved_into_them() {
        let legacy = vec![("a".into(), sent("1", 30)), ("b".into(), sent("2", 10))];
        let (all, dirty) = merge(legacy, Vec::new());
        assert_eq!(
            dirty, ALL,
            "every bucket written, the legacy record emptied"
        );
        let order: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(order, ["b", "a"], "oldest first");
    }

    #[test]
    fn a_key_in_a_bucket_wins_over_the_legacy_record_and_nothing_is_doubled() {
        let legacy = vec![("a".into(), sent("old", 10))];
        let buckets = vec![("a".into(), sent("new", 10)), ("c".into(), sent("3", 5))];
        let (all, _) = merge(legacy, buckets);
        let got: Vec<(&str, &str)> = all
            .iter()
            .map(|(k, s)| (k.as_str(), s.msg_id.as_str()))
            .collect();
        assert_eq!(got, [("c", "3"), ("a", "new")]);
    }

    #[test]
    fn buckets_alone_need_no_write() {
        let (all, dirty) = merge(Vec::new(), vec![("a".into(), sent("1", 1))]);
        assert_eq!((all.len(), dirty), (1, 0));
    }
}
