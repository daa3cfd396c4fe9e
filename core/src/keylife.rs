//! The life cycle of a device's encryption keys ([`crate::v2::DeviceKeys`]): how long
//! they are valid, when they rotate, how long they are kept, how many a bundle lists
//! (docs/PROTOCOL.md 11.1). Keys are kept oldest first.

use alloc::vec::Vec;

/// How long a new encryption key is valid for senders: 30 days.
pub const ENCRYPTION_KEY_LIFETIME: u64 = 30 * 24 * 3600;
/// Rotate when less than this much validity is left: 7 days.
pub const ROTATE_BEFORE_EXPIRY: u64 = 7 * 24 * 3600;
/// Keep an expired private key this long for envelopes still in flight (the relay's
/// default time-to-live), then delete it: 14 days.
pub const RETAIN_AFTER_EXPIRY: u64 = 14 * 24 * 3600;
/// Most encryption keys one bundle may list (current, next and older ones still valid).
pub const MAX_ENCRYPTION_KEYS: usize = 4;
/// Clock difference tolerated between a key's owner and its senders: 1 hour.
pub const CLOCK_SKEW: u64 = 3600;

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
