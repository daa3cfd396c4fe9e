//! Blobs that fail to open: surfaced each time, acknowledged after a few attempts.
//!
//! A blob that does not open now may open later (a directory fetch, a session that
//! arrives out of order), so it stays on the relay for a while; but each attempt can
//! cost several RSA decryptions, so after [`MAX_OPEN_ATTEMPTS`] it is acknowledged and
//! the relay stops pushing it. The counts live in memory only: after a restart a junk
//! blob costs at most [`MAX_OPEN_ATTEMPTS`] more attempts, a bounded price.
//!
//! A group message that no held chain opens waits longer ([`Failures::failed_group`]):
//! its chain may be re-sent (PROTOCOL.md 27.5), and trying it costs a header box per
//! held chain, no RSA. When it first failed is stored with the groups, so its wait (a
//! day) is not started again by each restart.

use alloc::string::String;
use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use crate::limits::{CHAIN_WAIT, MAX_OPEN_ATTEMPTS};

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

/// Failure counts per relay blob id, with the time of the first (group messages).
#[derive(Clone, Debug, Default)]
pub struct Failures {
    counts: SortedMap<String, (u8, u64)>,
    order: Vec<String>,
}

impl Failures {
    /// Nothing failed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one more failure of `blob_id`.
    pub fn failed(&mut self, blob_id: &str) -> Verdict {
        let (count, _) = self.count(blob_id, 0);
        self.verdict(blob_id, count >= MAX_OPEN_ATTEMPTS)
    }

    /// Counts one more failure, at `now`, of a group message that no held chain opens
    /// and that first failed at `since` (kept by the engine's stored groups, so a restart
    /// does not start its wait again): given up after [`MAX_OPEN_ATTEMPTS`] failures, the
    /// last at least [`CHAIN_WAIT`] after `since`, so a chain re-sent by its sender
    /// (PROTOCOL.md 27.5) still opens it.
    pub fn failed_group(&mut self, blob_id: &str, now: u64, since: u64) -> Verdict {
        let (count, _) = self.count(blob_id, now);
        let over = count >= MAX_OPEN_ATTEMPTS && now >= since.saturating_add(CHAIN_WAIT);
        self.verdict(blob_id, over)
    }

    /// One more failure: the count and the time of the first.
    fn count(&mut self, blob_id: &str, now: u64) -> (u8, u64) {
        if let Some((n, since)) = self.counts.get_mut(blob_id) {
            *n = n.saturating_add(1);
            return (*n, *since);
        }
        let excess = (self.order.len() + 1).saturating_sub(MAX_TRACKED_BLOBS);
        for old in self.order.drain(..excess) {
            self.counts.remove(&old);
        }
        self.counts.insert(String::from(blob_id), (1, now));
        self.order.push(String::from(blob_id));
        (1, now)
    }

    fn verdict(&mut self, blob_id: &str, over: bool) -> Verdict {
        if over {
            self.forget(blob_id);
            Verdict::GiveUp
        } else {
            Verdict::Retry
        }
    }

    /// Whether `blob_id` failed since this engine started.
    pub fn tried(&self, blob_id: &str) -> bool {
        self.counts.contains_key(blob_id)
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
    fn a_group_message_waits_for_its_chain_then_gives_up() {
        let mut f = Failures::new();
        let t = 1_000;
        assert_eq!(f.failed_group("g", t, t), Verdict::Retry);
        for _ in 0..10 {
            assert_eq!(f.failed_group("g", t + 60, t), Verdict::Retry);
        }
        assert_eq!(f.failed_group("g", t + CHAIN_WAIT - 1, t), Verdict::Retry);
        assert_eq!(f.failed_group("g", t + CHAIN_WAIT, t), Verdict::GiveUp);
        // Late but tried only twice: one more attempt first.
        assert_eq!(f.failed_group("h", t, t), Verdict::Retry);
        assert_eq!(f.failed_group("h", t + CHAIN_WAIT, t), Verdict::Retry);
        assert_eq!(f.failed_group("h", t + CHAIN_WAIT, t), Verdict::GiveUp);
        // After a restart (counts lost), the wait is still counted from `since`.
        let mut f = Failures::new();
        for _ in 0..2 {
            assert_eq!(f.failed_group("g", t + CHAIN_WAIT, t), Verdict::Retry);
        }
        assert_eq!(f.failed_group("g", t + CHAIN_WAIT, t), Verdict::GiveUp);
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
