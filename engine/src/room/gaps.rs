//! Frames that did not arrive (PROTOCOL.md 30.4 "Gaps"). Each frame is numbered in its
//! stream: the frames of one epoch from one sender to one addressee, from 1. A member
//! gets every frame of two streams from each sender (to it, and to everyone), so when it
//! accepts number `n + 2` of a stream after `n`, number `n + 1` is missing: the relay
//! dropped it, or holds it back. The member waits [`REORDER_GRACE_MS`] for it (a frame
//! that comes within it fills the gap and is accepted like any other), then tells the
//! app ([`RoomEvent::Missing`]); a frame that comes after that is refused as `REPLAYED`,
//! like any frame at or below the highest accepted number of its stream.
//!
//! A gap is a range of numbers, never one entry per number, and a member keeps at most
//! [`MAX_OPEN_GAPS`] per sender: a sender that skips numbers on purpose makes reports
//! come sooner, never memory grow.

use alloc::vec::Vec;

use super::member::Membership;
use super::{MemberId, Output, Refusal, RoomEvent};

/// How long a member waits for a frame missing from a stream before it tells the app.
/// An honest relay forwards each sender's frames in order (one socket, one queue), so
/// this only lets a frame the relay holds back a moment still count as arrived.
pub const REORDER_GRACE_MS: u64 = 1_000;
/// Open gaps per sender at most. When one more opens, the oldest is reported at once.
pub const MAX_OPEN_GAPS: usize = 16;

/// The highest number accepted in each of the two streams of one sender under one
/// epoch (0: none yet).
#[derive(Debug, Default, Clone, Copy)]
struct Highest {
    everyone: u32,
    private: u32,
}

impl Highest {
    fn of(&mut self, private: bool) -> &mut u32 {
        if private {
            &mut self.private
        } else {
            &mut self.everyone
        }
    }
}

/// Numbers `first ..= last` of a stream, not arrived, to be reported at `due`.
#[derive(Debug)]
struct Gap {
    epoch: u32,
    private: bool,
    first: u32,
    last: u32,
    due: u64,
}

impl Gap {
    fn count(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    fn holds(&self, epoch: u32, private: bool, seq: u32) -> bool {
        self.epoch == epoch && self.private == private && (self.first..=self.last).contains(&seq)
    }
}

/// Where one sender's streams stand, as this member received them.
#[derive(Debug, Default)]
pub(super) struct Arrivals {
    /// Under the current epoch.
    current: Highest,
    /// Under the previous epoch (frames sealed before the sender moved on).
    previous: Highest,
    /// Open gaps, in no order (of either epoch: one under the previous epoch stays
    /// open after the next rotation, and is reported when due).
    gaps: Vec<Gap>,
}

/// The stream a frame belongs to, for [`Arrivals`]: its epoch, whether that epoch is the
/// current one (else the previous), and whether the frame is to this member alone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stream {
    pub(super) epoch: u32,
    pub(super) current: bool,
    pub(super) private: bool,
}

impl Arrivals {
    fn highest(&mut self, s: Stream) -> &mut u32 {
        if s.current {
            self.current.of(s.private)
        } else {
            self.previous.of(s.private)
        }
    }

    /// Whether number `seq` of stream `s` may be accepted: above the highest accepted,
    /// or in an open gap. Anything else came before ([`Refusal::Replayed`]): a replay, a
    /// duplicate, or a frame that came after its gap was reported.
    pub(super) fn check(&mut self, s: Stream, seq: u32) -> Result<(), Refusal> {
        let above = seq > *self.highest(s);
        if above || self.gaps.iter().any(|g| g.holds(s.epoch, s.private, seq)) {
            Ok(())
        } else {
            Err(Refusal::Replayed)
        }
    }

    /// Number `seq` of stream `s` was accepted (after [`Self::check`]) at `now`: a
    /// number above the one after the highest opens a gap due [`REORDER_GRACE_MS`]
    /// later; one in a gap closes that number.
    pub(super) fn accepted(&mut self, s: Stream, seq: u32, now: u64) {
        let highest = self.highest(s);
        if seq > *highest {
            let expected = highest.saturating_add(1);
            *highest = seq;
            if seq > expected {
                self.gaps.push(Gap {
                    epoch: s.epoch,
                    private: s.private,
                    first: expected,
                    last: seq - 1,
                    due: now.saturating_add(REORDER_GRACE_MS),
                });
            }
        } else if let Some(at) = self
            .gaps
            .iter()
            .position(|g| g.holds(s.epoch, s.private, seq))
            && let Some(g) = self.gaps.get_mut(at)
        {
            match (seq == g.first, seq == g.last) {
                (true, true) => {
                    self.gaps.swap_remove(at);
                }
                (true, false) => g.first += 1,
                (false, true) => g.last -= 1,
                (false, false) => {
                    let rest = Gap {
                        epoch: g.epoch,
                        private: g.private,
                        first: seq + 1,
                        last: g.last,
                        due: g.due,
                    };
                    g.last = seq - 1;
                    self.gaps.push(rest);
                }
            }
        }
        // The oldest gap gives way: reported by the `settle` that follows every frame.
        if self.gaps.len() > MAX_OPEN_GAPS
            && let Some(oldest) = self.gaps.iter_mut().min_by_key(|g| g.due)
        {
            oldest.due = 0;
        }
    }

    /// The member moved to a new epoch: the current streams become the previous ones,
    /// and the new epoch's start from nothing (every stream starts at 1 in each epoch).
    pub(super) fn rotate(&mut self) {
        self.previous = core::mem::take(&mut self.current);
    }

    /// Removes the gaps due at `now` (all of them with `None`) and counts their numbers.
    fn take_due(&mut self, now: Option<u64>) -> u64 {
        let mut count = 0u64;
        self.gaps.retain(|g| {
            let due = now.is_none_or(|now| g.due <= now);
            if due {
                count = count.saturating_add(g.count());
            }
            !due
        });
        count
    }
}

impl Membership {
    /// Tells of the frames each member's gaps that are due now leave out: one
    /// [`RoomEvent::Missing`] per member.
    pub(super) fn report_gaps(&mut self, out: &mut Vec<Output>) {
        let now = self.clock.now();
        for (&from, peer) in self.peers.iter_mut() {
            let count = peer.arrivals.take_due(Some(now));
            if count > 0 {
                out.push(Output::Event(RoomEvent::Missing { from, count }));
            }
        }
    }
}

/// What a member that left (`from`) still owed this one: its open gaps, reported at
/// once (nothing can fill them any more).
pub(super) fn report_left(from: MemberId, arrivals: &mut Arrivals, out: &mut Vec<Output>) {
    let count = arrivals.take_due(None);
    if count > 0 {
        out.push(Output::Event(RoomEvent::Missing { from, count }));
    }
}
