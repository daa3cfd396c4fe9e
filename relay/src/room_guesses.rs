//! The online-guess budget of one room (docs/API.md "Rooms", docs/PROTOCOL.md 30.2).
//!
//! Each failed join is one online guess at the room's secret, so the relay bounds them;
//! but a bound that locks the nameplate for good lets any stranger who knows (or
//! guesses) a nameplate lock the room for its members. So the budget is split:
//!
//! - per (nameplate, address): `--room-max-failed-joins` failed joins, then that
//!   address alone is refused on that nameplate (`room_locked`);
//! - per nameplate, from all addresses together: a bucket of `--room-failed-join-burst`
//!   failures that refills at `--room-failed-joins-per-hour`. A join starts only while
//!   the bucket holds a token for it and for every join already in progress (each may
//!   yet fail); otherwise it is refused with `room_busy`, which says "try again later"
//!   and never locks anyone out.
//!
//! So a room of age `t` hours has taken at most `burst + per_hour * t` guesses, whatever
//! the number of addresses, and a guesser from one address cannot keep the room's
//! members out.

use std::collections::HashMap;

use crate::address::Source;
use crate::limits::Bucket;
use crate::rooms::Refused;

/// The configured bounds (`--room-max-failed-joins`, `--room-failed-join-burst`,
/// `--room-failed-joins-per-hour`).
#[derive(Debug, Clone, Copy)]
pub struct GuessLimits {
    /// Failed joins one address may make on one nameplate.
    pub per_source: u32,
    /// Failed joins a nameplate takes at once from all addresses.
    pub burst: f64,
    /// Failed joins per hour a nameplate takes from all addresses after the burst.
    pub per_hour: f64,
}

impl GuessLimits {
    /// Bounds with every value at least what makes sense (one failure per address, one
    /// in the bucket, no negative rate).
    pub fn new(per_source: u32, burst: f64, per_hour: f64) -> Self {
        Self {
            per_source: per_source.max(1),
            burst: burst.max(1.0),
            per_hour: per_hour.max(0.0),
        }
    }
}

/// One room's failed joins so far.
#[derive(Debug)]
pub struct Guesses {
    /// Failed joins per address (`None`: a request that came through no socket).
    by_source: HashMap<Option<Source>, u32>,
    /// Failures the nameplate may still take.
    budget: Bucket,
}

impl Guesses {
    /// A new room's budget: the whole burst.
    pub fn new(limits: &GuessLimits) -> Self {
        Self {
            by_source: HashMap::new(),
            budget: Bucket::full(limits.burst),
        }
    }

    fn refill(&mut self, limits: &GuessLimits) {
        self.budget.refill(limits.per_hour / 3600.0, limits.burst);
    }

    /// Whether a join from `source` may start while `pending` joins are in progress.
    pub fn may_try(
        &mut self,
        limits: &GuessLimits,
        source: Option<Source>,
        pending: usize,
    ) -> Result<(), Refused> {
        if self.by_source.get(&source).copied().unwrap_or(0) >= limits.per_source {
            return Err(Refused::Locked);
        }
        self.refill(limits);
        // Each join in progress may still fail: it holds a token until it ends.
        let in_flight = f64::from(u32::try_from(pending).unwrap_or(u32::MAX));
        if self.budget.tokens - in_flight < 1.0 {
            return Err(Refused::Busy);
        }
        Ok(())
    }

    /// A join from `source` ended without an admission.
    pub fn failed(&mut self, limits: &GuessLimits, source: Option<Source>) {
        let n = self.by_source.entry(source).or_insert(0);
        *n = n.saturating_add(1);
        self.refill(limits);
        self.budget.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn at(last: u8) -> Option<Source> {
        Some(Source::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))))
    }

    #[test]
    fn one_address_locks_only_itself_and_many_slow_the_room_down() {
        let limits = GuessLimits::new(2, 3.0, 0.0);
        let mut g = Guesses::new(&limits);
        for _ in 0..2 {
            g.may_try(&limits, at(1), 0).unwrap();
            g.failed(&limits, at(1));
        }
        assert_eq!(g.may_try(&limits, at(1), 0), Err(Refused::Locked));
        // Another address still may: one token is left, and only one join at a time.
        g.may_try(&limits, at(2), 0).unwrap();
        assert_eq!(g.may_try(&limits, at(3), 1), Err(Refused::Busy));
        g.failed(&limits, at(2));
        // The bucket is empty: everyone waits, nobody is locked out.
        assert_eq!(g.may_try(&limits, at(4), 0), Err(Refused::Busy));
        assert_eq!(g.may_try(&limits, at(2), 0), Err(Refused::Busy));
    }
}
