//! The SQLite writer thread's coalescing wait (sqlite_writer.rs): a batch may wait a
//! little for the depositors the previous commit answered, so that they share the next
//! commit's fsync instead of alternating in two half-full commits.

use std::time::{Duration, Instant};

/// The next job, and whether it was queued already (sent before the previous commit
/// ended) rather than waited for; `None` once every sender is dropped.
pub(super) fn next_job<T>(work: &flume::Receiver<T>) -> Option<(T, bool)> {
    match work.try_recv() {
        Ok(w) => Some((w, true)),
        Err(flume::TryRecvError::Empty) => work.recv().ok().map(|w| (w, false)),
        Err(flume::TryRecvError::Disconnected) => None,
    }
}

/// Longest coalescing wait ([`Coalescing`]), whatever the disk.
const MAX_COALESCE: Duration = Duration::from_millis(1);

/// What the previous commit did, for the next batch's [`Coalescing`].
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Committed {
    /// Deposit jobs it answered.
    pub(super) deposits: usize,
    /// How long it took (statements, hand-off, `COMMIT` with its fsync).
    pub(super) took: Duration,
}

/// A bounded wait for the depositors the previous commit answered. Each of them may
/// send its next deposit within a round trip of its `201`; without the wait those
/// arrive just after the next batch was taken, so under load two halves of the
/// depositors alternate, each commit (and fsync) holding one half. So a batch waits
/// for as many deposits sent after the previous commit as that commit answered, at
/// most half that commit's time (a wait that costs half a commit can save a whole
/// one) and never over [`MAX_COALESCE`]; it ends as soon as they are there. Deposits
/// queued while that commit ran were sent by others and do not count. A batch after
/// a commit that answered no deposit does not wait: nobody is expected; nor does a
/// lone depositor's next deposit, which is what was expected.
pub(super) struct Coalescing {
    /// Deposits still expected.
    expected: usize,
    /// When the wait ends; set at the first wait.
    until: Option<Instant>,
    longest: Duration,
    /// Whether the jobs taken now were queued before the previous commit ended.
    queued: bool,
}

impl Coalescing {
    pub(super) fn new(last: &Committed, queued: bool) -> Self {
        Self {
            expected: last.deposits,
            until: None,
            longest: (last.took / 2).min(MAX_COALESCE),
            queued,
        }
    }

    /// Counts a job taken into the batch against the deposits expected, if it is a
    /// deposit that was not queued.
    pub(super) fn taken(&mut self, deposit: bool) {
        if !self.queued && deposit {
            self.expected = self.expected.saturating_sub(1);
        }
    }

    /// The next job if one comes before the wait ends; `None` at once if nothing is
    /// expected (any more).
    pub(super) fn more<T>(&mut self, work: &flume::Receiver<T>) -> Option<T> {
        // The queue is empty: whatever comes now was sent after the commit.
        self.queued = false;
        if self.expected == 0 || self.longest.is_zero() {
            return None;
        }
        let until = *self
            .until
            .get_or_insert_with(|| Instant::now() + self.longest);
        work.recv_deadline(until).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SLOW: Committed = Committed {
        deposits: 2,
        took: Duration::from_millis(40),
    };

    #[test]
    fn waits_for_the_answered_depositors_and_stops_once_they_are_back() {
        let (tx, rx) = flume::unbounded();
        let mut wait = Coalescing::new(&SLOW, true);
        // Queued during the commit: someone else's deposit, not one of the two.
        wait.taken(true);
        assert_eq!(
            wait.longest, MAX_COALESCE,
            "capped whatever the commit took"
        );
        tx.send(1).unwrap();
        assert_eq!(wait.more(&rx), Some(1));
        wait.taken(true);
        tx.send(2).unwrap();
        assert_eq!(wait.more(&rx), Some(2));
        wait.taken(true);
        // Both back: no wait any more, even though the deadline is not reached.
        let before = wait.until;
        assert_eq!(wait.more(&rx), None);
        assert_eq!(wait.until, before);
        assert_eq!(wait.expected, 0);
    }

    #[test]
    fn nobody_expected_means_no_wait() {
        let (_tx, rx) = flume::unbounded::<u8>();
        // A commit that answered no deposit (acknowledgements only).
        let acks = Committed {
            deposits: 0,
            took: Duration::from_millis(5),
        };
        let mut wait = Coalescing::new(&acks, false);
        assert_eq!(wait.more(&rx), None);
        assert!(wait.until.is_none(), "did not wait");
        // A lone depositor's next deposit, not queued: the one expected is there.
        let one = Committed {
            deposits: 1,
            took: Duration::from_millis(5),
        };
        let mut wait = Coalescing::new(&one, false);
        wait.taken(true);
        assert_eq!(wait.more(&rx), None);
        assert!(wait.until.is_none(), "did not wait");
        // Acknowledgements and other jobs are not deposits.
        let mut wait = Coalescing::new(&one, false);
        wait.taken(false);
        assert_eq!(wait.expected, 1);
    }

    #[test]
    fn the_wait_ends_at_half_the_previous_commit() {
        let (_tx, rx) = flume::unbounded::<u8>();
        let quick = Committed {
            deposits: 4,
            took: Duration::from_micros(600),
        };
        let mut wait = Coalescing::new(&quick, true);
        assert_eq!(wait.longest, Duration::from_micros(300));
        let started = Instant::now();
        assert_eq!(wait.more(&rx), None);
        let until = wait.until.unwrap();
        assert!(started + Duration::from_micros(300) <= until && until <= Instant::now());
        // The deadline is set once: a second wait ends at the same moment.
        assert_eq!(wait.more(&rx), None);
        assert_eq!(wait.until, Some(until));
    }

    #[test]
    fn the_next_job_says_whether_it_was_queued() {
        let (tx, rx) = flume::unbounded();
        tx.send(1).unwrap();
        assert_eq!(next_job(&rx), Some((1, true)));
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(2).unwrap();
        });
        assert_eq!(next_job(&rx), Some((2, false)));
        sender.join().unwrap();
        assert_eq!(next_job(&rx), None::<(u8, bool)>, "every sender dropped");
    }
}
