//! Size buckets: every envelope is exactly one of these lengths, so the relay learns
//! only the bucket, never the message size.
//!
//! Buckets are the powers of two from 512 B to 64 KiB, then every multiple of 64 KiB up
//! to 1 MiB. Overhead is below 2x for small messages and below 1/16 for large ones.

/// Smallest envelope.
pub const MIN_BUCKET: usize = 512;
/// Where doubling stops and linear 64 KiB steps begin.
pub const LINEAR_STEP: usize = 64 * 1024;
/// Largest envelope (and so the relay's default blob limit).
pub const MAX_ENVELOPE_LEN: usize = 1024 * 1024;

/// The smallest bucket that holds `len` bytes, or `None` above [`MAX_ENVELOPE_LEN`].
pub fn bucket_for(len: usize) -> Option<usize> {
    if len > MAX_ENVELOPE_LEN {
        return None;
    }
    if len <= LINEAR_STEP {
        return Some(len.max(MIN_BUCKET).next_power_of_two());
    }
    len.div_ceil(LINEAR_STEP).checked_mul(LINEAR_STEP)
}

/// Whether `len` is exactly a bucket size.
pub fn is_bucket(len: usize) -> bool {
    bucket_for(len) == Some(len)
}

/// All bucket sizes, smallest first.
pub fn buckets() -> impl Iterator<Item = usize> {
    let doubling = (9..=16).map(|shift| 1usize << shift);
    let linear = (2..=MAX_ENVELOPE_LEN / LINEAR_STEP).map(|k| k * LINEAR_STEP);
    doubling.chain(linear)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_consistent() {
        assert_eq!(bucket_for(0), Some(512));
        assert_eq!(bucket_for(513), Some(1024));
        assert_eq!(bucket_for(65536), Some(65536));
        assert_eq!(bucket_for(65537), Some(131072));
        assert_eq!(bucket_for(MAX_ENVELOPE_LEN), Some(MAX_ENVELOPE_LEN));
        assert_eq!(bucket_for(MAX_ENVELOPE_LEN + 1), None);
        let all: alloc::vec::Vec<usize> = buckets().collect();
        assert_eq!(all.len(), 8 + 15);
        for b in &all {
            assert!(is_bucket(*b));
            assert!(!is_bucket(b - 1) || *b == 512);
        }
    }
}
