//! Per-frame receipts (PROTOCOL.md 30.4 "Receipts"): every frame's roster carries, for
//! each member its sender lists, the last counter the sender accepted from that member.
//! A member keeps the counters and times of the frames it sent that each shown member
//! should get (to it or to everyone); when a shown member has not acknowledged one of
//! them [`UNDELIVERED_GRACE_MS`] after it was sent, this member is told
//! ([`RoomEvent::Undelivered`]), and told again when that member's frames acknowledge
//! everything overdue ([`RoomEvent::Delivered`]). A relay that starts dropping X's
//! frames to Y after Y accepted one from X, or drops Y's frames to X, is so reported to
//! X instead of X's texts being lost without a word (X cannot tell which way it fails).
//!
//! So that a member who only reads still acknowledges, a member that accepted a hello,
//! text or signal and has sent no frame to everyone since seals a receipt (kind 4, the
//! roster and nothing else) to everyone, at most one per [`RECEIPT_INTERVAL_MS`] since
//! its last frame. A receipt never calls for one (receipts are not awaited and do not make a
//! receipt owed), so receipts never answer receipts, and a flood of frames yields at
//! most one receipt per interval.
//!
//! Time is an input: [`super::Room::tick`] gives the clock; frames sealed by
//! `send` or `handle` are dated by the last tick.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use sealpost_core::v2::room::{Content, EVERYONE, MemberId, RosterEntry};

use super::member::Membership;
use super::{Output, RoomEvent};

/// The shortest time between a member's last frame and a receipt.
pub const RECEIPT_INTERVAL_MS: u64 = 1_000;
/// How long after sending a frame a member waits for a shown member to acknowledge it
/// before it reports it undelivered: a round trip and a receipt's interval, with room
/// to spare (the same 3 s as the package's grace for unreached members).
pub const UNDELIVERED_GRACE_MS: u64 = 3_000;
/// Frames awaited per member at most. When full, the newest entry is replaced by the
/// next one: a frame then waits for an acknowledgement dated by a later frame, which
/// can only delay a report, never make a false one.
pub const MAX_AWAITED_FRAMES: usize = 64;

/// What a member knows of whether its frames reach one other member.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    /// The highest counter of this member's that the other's rosters acknowledged.
    acked: u64,
    /// `(counter, sent at)` of frames sent to it (or everyone) above `acked`, oldest first.
    awaited: VecDeque<(u64, u64)>,
    /// Whether the app was told (`Undelivered`) and not yet told `Delivered`.
    reported: bool,
}

impl Delivery {
    fn overdue(&self, now: u64) -> bool {
        self.awaited
            .front()
            .is_some_and(|&(_, sent)| now >= sent.saturating_add(UNDELIVERED_GRACE_MS))
    }
}

/// This member's clock and what it owes.
#[derive(Debug, Default)]
pub(super) struct Clock {
    /// The latest time `tick` gave (ms); never goes back.
    now: u64,
    /// When this member last sealed a frame.
    last_sent: Option<u64>,
    /// It accepted a hello, text or signal since it last sealed a frame to everyone.
    owes_receipt: bool,
}

impl Clock {
    /// A clock at `now` (a joiner's, from the ticks it had before it was admitted).
    pub(super) fn starting(now: u64) -> Self {
        Self {
            now,
            ..Self::default()
        }
    }

    /// The latest time `tick` gave.
    pub(super) fn now(&self) -> u64 {
        self.now
    }
}

impl Membership {
    /// A hello, text or signal from another member was accepted: a receipt is owed.
    pub(super) fn owe_receipt(&mut self, content: &Content) {
        if !matches!(content, Content::Receipt) {
            self.clock.owes_receipt = true;
        }
    }

    /// This member sealed a frame `counter` to `to`: each shown member that should get
    /// it awaits it (not a receipt, which nobody answers). A frame to everyone pays the
    /// receipt owed (its roster reaches every member); one to a single member does not.
    pub(super) fn sent(&mut self, to: MemberId, counter: u64, content: &Content) {
        let now = self.clock.now;
        self.clock.last_sent = Some(now);
        if to == EVERYONE {
            self.clock.owes_receipt = false;
        }
        if matches!(content, Content::Receipt) {
            return;
        }
        for (&id, peer) in self.peers.iter_mut() {
            if peer.proven && (to == EVERYONE || to == id) {
                let awaited = &mut peer.delivery.awaited;
                if awaited.len() >= MAX_AWAITED_FRAMES {
                    awaited.pop_back();
                }
                awaited.push_back((counter, now));
            }
        }
    }

    /// `from`'s accepted frame listed `roster`: its entry for this member acknowledges
    /// every frame up to that counter. A counter below one acknowledged before changes
    /// nothing (a roster is its sender's word, and only ever grows from an honest one).
    pub(super) fn acknowledged(&mut self, from: MemberId, roster: &[RosterEntry]) {
        let me = self.me;
        let Some(counter) = roster.iter().find(|e| e.member == me).map(|e| e.counter) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let d = &mut peer.delivery;
        d.acked = d.acked.max(counter);
        while d.awaited.front().is_some_and(|&(c, _)| c <= d.acked) {
            d.awaited.pop_front();
        }
    }

    /// Advances the clock to `now` (never back), then [`Self::settle`].
    pub(super) fn tick(&mut self, now: u64) -> Vec<Output> {
        self.clock.now = self.clock.now.max(now);
        let mut out = Vec::new();
        self.settle(&mut out);
        out
    }

    /// Seals the receipt owed if the interval since the last frame passed, tells of
    /// each shown member whose acknowledgement is now overdue, or no longer is, and of
    /// the frames missing from each member's streams whose grace ran out (`gaps.rs`).
    pub(super) fn settle(&mut self, out: &mut Vec<Output>) {
        let now = self.clock.now;
        let quiet = self
            .clock
            .last_sent
            .is_none_or(|t| now >= t.saturating_add(RECEIPT_INTERVAL_MS));
        if self.clock.owes_receipt && quiet {
            out.extend(
                self.seal(EVERYONE, &Content::Receipt)
                    .ok()
                    .map(Output::Send),
            );
        }
        for (&to, peer) in self.peers.iter_mut() {
            let overdue = peer.proven && peer.delivery.overdue(now);
            if overdue != peer.delivery.reported {
                peer.delivery.reported = overdue;
                out.push(Output::Event(if overdue {
                    RoomEvent::Undelivered { to }
                } else {
                    RoomEvent::Delivered { to }
                }));
            }
        }
        self.report_gaps(out);
    }

    /// Shown members that have not acknowledged a frame sent to them
    /// [`UNDELIVERED_GRACE_MS`] or more before the last tick.
    pub(super) fn undelivered(&self) -> Vec<MemberId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.delivery.reported)
            .map(|(id, _)| *id)
            .collect()
    }
}
