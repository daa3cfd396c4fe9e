//! Blobs that fail to open: surfaced each time, acknowledged after a few attempts.
//!
//! A blob that does not open now may open later (a directory fetch, a session that
//! arrives out of order), so it stays on the relay for a while; but each attempt can
//! cost several RSA decryptions, so after [`MAX_OPEN_ATTEMPTS`] it is acknowledged and
//! the relay stops pushing it. The counts live in memory only: after a restart a junk
//! blob costs at most [`MAX_OPEN_ATTEMPTS`] more attempts, a bounded price.

use alloc::collections::VecDeque;
use alloc::string::String;
use sealpost_core::sorted::SortedMap;

use crate::limits::MAX_OPEN_ATTEMPTS;

/// Most blobs tracked; the oldest entry goes first (it then gets a fresh budget).
pub const MAX_TRACKED_BLOBS: usize = 1024;

/// What to do with a blob that failed to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Leave it on the relay: a later attempt may succeed.
    Retry,
    /// Acknowledge it: it failed [`MAX_OPEN_ATTEMPTS`] times.
    GiveUp,
}

/// Failure counts per relay blob id.
#[derive(Clone, Debug, Default)]
pub struct Failures {
    counts: SortedMap<String, u8>,
    order: VecDeque<String>,
}

impl Failures {
    /// Nothing failed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one more failure of `blob_id`.
    pub fn failed(&mut self, blob_id: &str) -> Verdict {
        let count = match self.counts.get_mut(blob_id) {
            Some(n) => {
                *n = n.saturating_add(1);
                *n
            }
            None => {
                while self.order.len() >= MAX_TRACKED_BLOBS {
                    if let Some(old) = self.order.pop_front() {
                        self.counts.remove(&old);
                    }
                }
                self.counts.insert(String::from(blob_id), 1);
                self.order.push_back(String::from(blob_id));
                1
            }
        };
        if count >= MAX_OPEN_ATTEMPTS {
            self.forget(blob_id);
            Verdict::GiveUp
        } else {
            Verdict::Retry
        }
    }

    /// Forgets `blob_id` (it opened, or was acknowledged).
    pub fn forget(&mut self, blob_id: &str) {
        if self.counts.remove(blob_id).is_some() {
            self.order.retain(|b| b != blob_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_on_the_third_failure() {
        let mut f = Failures::new();
        assert_eq!(f.failed("a"), Verdict::Retry);
        assert_eq!(f.failed("b"), Verdict::Retry);
        assert_eq!(f.failed("a"), Verdict::Retry);
        assert_eq!(f.failed("a"), Verdict::GiveUp);
        // Forgotten once given up: a new blob with a reused id starts over.
        assert_eq!(f.failed("a"), Verdict::Retry);
    }

    #[test]
    fn success_resets_the_count() {
        let mut f = Failures::new();
        f.failed("a");
        f.failed("a");
        f.forget("a");
        assert_eq!(f.failed("a"), Verdict::Retry);
    }

    #[test]
    fn stays_bounded() {
        let mut f = Failures::new();
        for i in 0..MAX_TRACKED_BLOBS + 10 {
            f.failed(&alloc::format!("{i}"));
        }
        assert_eq!(f.counts.len(), MAX_TRACKED_BLOBS);
        assert_eq!(f.order.len(), MAX_TRACKED_BLOBS);
    }
}
