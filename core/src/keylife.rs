//! The life cycle of retained encryption private keys, shared by the v1 [`crate::Identity`]
//! and the v2 [`crate::v2::DeviceKeys`] so both rotate, publish and prune by the same
//! rules (docs/PROTOCOL.md section 9.1). Keys are kept oldest first.

use alloc::vec::Vec;

use crate::bundle::MAX_ENCRYPTION_KEYS;
use crate::identity::{RETAIN_AFTER_EXPIRY, ROTATE_BEFORE_EXPIRY};

/// Most encryption private keys retained; rotating beyond it deletes the oldest early.
pub(crate) const MAX_RETAINED_KEYS: usize = 2 * MAX_ENCRYPTION_KEYS;

/// Anything with an end of validity.
pub(crate) trait Expiring {
    /// End of validity (Unix seconds, exclusive).
    fn expires_at(&self) -> u64;
}

/// The `issued_at` of the next bundle: strictly increasing across calls.
pub(crate) fn next_issued(last_issued: u64, now: u64) -> u64 {
    now.max(last_issued.saturating_add(1))
}

/// The newest (up to four) keys that have not expired at `now`, oldest first: what a
/// bundle publishes.
pub(crate) fn publishable<T: Expiring>(keys: &[T], now: u64) -> Vec<&T> {
    let mut out: Vec<&T> = keys
        .iter()
        .rev()
        .filter(|k| k.expires_at() > now)
        .take(MAX_ENCRYPTION_KEYS)
        .collect();
    out.reverse();
    out
}

/// Whether the newest key expires within [`ROTATE_BEFORE_EXPIRY`].
pub(crate) fn needs_rotation<T: Expiring>(keys: &[T], now: u64) -> bool {
    keys.last()
        .is_none_or(|k| k.expires_at() <= now.saturating_add(ROTATE_BEFORE_EXPIRY))
}

/// Deletes keys that expired more than [`RETAIN_AFTER_EXPIRY`] ago, never the newest.
pub(crate) fn prune<T: Expiring>(keys: &mut Vec<T>, now: u64) {
    let newest = keys.len().saturating_sub(1);
    let mut index = 0;
    keys.retain(|k| {
        let keep = index == newest || k.expires_at().saturating_add(RETAIN_AFTER_EXPIRY) > now;
        index += 1;
        keep
    });
}

/// After a rotation: prune, then drop the oldest beyond [`MAX_RETAINED_KEYS`].
pub(crate) fn prune_after_rotation<T: Expiring>(keys: &mut Vec<T>, now: u64) {
    prune(keys, now);
    let excess = keys.len().saturating_sub(MAX_RETAINED_KEYS);
    keys.drain(..excess);
}
