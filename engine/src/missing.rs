//! Messages that may be missing: gaps in a session's counters that stay open.
//!
//! A message that arrives with a counter beyond the next expected one leaves a gap: the
//! skipped messages may still come (reordering), or may have been dropped by the relay.
//! A gap still open after [`MISSING_AFTER`] is surfaced once ("a message from X may be
//! missing") and then forgotten, so a loss never vanishes in silence and is never
//! reported twice. Persisted, so a restart within the hour does not hide a loss.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use sealpost_core::v2::{DeviceId, SessionId};
use sealpost_core::{Error, Result, UserId};

use crate::codec::{Codec, Reader};
use crate::limits::{MAX_MESSAGE_AGE, MISSING_AFTER};

/// Most sessions tracked (the least recently active goes first, reporting its gaps).
pub const MAX_TRACKED_SESSIONS: usize = 512;
/// Most open counters per session: as many skipped keys as the session store keeps.
pub const MAX_GAPS: usize = 256;

const TAG: [u8; 2] = [b'M', 2];

/// One session's receiving position and open counters.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Track {
    peer: UserId,
    device: DeviceId,
    next: u64,
    active_at: u64,
    /// Open counter → when the gap opened.
    gaps: BTreeMap<u64, u64>,
    /// Counters pushed out of `gaps` by newer ones: their keys are gone, report them.
    lost: u16,
}

/// "Messages from `user`'s `device` in `session` may be missing."
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaybeMissing {
    /// The sender.
    pub user: UserId,
    /// The sending device.
    pub device: DeviceId,
    /// The session with the gap.
    pub session: SessionId,
    /// How many messages.
    pub count: usize,
}

/// Open gaps per session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Missing {
    sessions: BTreeMap<SessionId, Track>,
}

impl Missing {
    /// Nothing tracked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Message `counter` of `session` (from `peer`'s `device`) opened at `now`.
    /// `new_session`: this message created the session, so counters before it are gaps;
    /// otherwise an untracked session starts at `counter` (its earlier gaps, if any, were
    /// reported before it was forgotten).
    pub fn opened(
        &mut self,
        session: SessionId,
        peer: UserId,
        device: DeviceId,
        counter: u64,
        new_session: bool,
        now: u64,
    ) {
        if !self.sessions.contains_key(&session) && self.sessions.len() >= MAX_TRACKED_SESSIONS {
            self.evict_least_active();
        }
        let track = self.sessions.entry(session).or_insert(Track {
            peer,
            device,
            next: if new_session { 0 } else { counter },
            active_at: now,
            gaps: BTreeMap::new(),
            lost: 0,
        });
        track.active_at = now;
        if counter >= track.next {
            // At most MAX_GAPS counters are added, however far the counter jumped: the
            // session store refuses jumps beyond its MAX_SKIP anyway.
            let from = track.next.max(counter.saturating_sub(MAX_GAPS as u64));
            for n in from..counter {
                track.gaps.insert(n, now);
            }
            track.next = counter.saturating_add(1);
        } else {
            track.gaps.remove(&counter);
        }
        // Keys the session store no longer keeps can never open: report them next tick.
        while track.gaps.len() > MAX_GAPS && track.gaps.pop_first().is_some() {
            track.lost = track.lost.saturating_add(1);
        }
    }

    fn evict_least_active(&mut self) {
        let oldest = self
            .sessions
            .iter()
            .min_by_key(|(_, t)| t.active_at)
            .map(|(id, _)| *id);
        if let Some(id) = oldest {
            self.sessions.remove(&id);
        }
    }

    /// Gaps open since [`MISSING_AFTER`], one entry per session, each reported once.
    /// Sessions with nothing open and no message for [`MAX_MESSAGE_AGE`] are forgotten.
    pub fn due(&mut self, now: u64) -> Vec<MaybeMissing> {
        let mut out = Vec::new();
        for (session, track) in &mut self.sessions {
            let before = track.gaps.len();
            track
                .gaps
                .retain(|_, opened| opened.saturating_add(MISSING_AFTER) > now);
            let count = before - track.gaps.len() + usize::from(core::mem::take(&mut track.lost));
            if count > 0 {
                out.push(MaybeMissing {
                    user: track.peer,
                    device: track.device,
                    session: *session,
                    count,
                });
            }
        }
        self.sessions
            .retain(|_, t| !t.gaps.is_empty() || t.active_at.saturating_add(MAX_MESSAGE_AGE) > now);
        out
    }
}

impl Codec for Missing {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TAG);
        let n = u16::try_from(self.sessions.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for (id, t) in self.sessions.iter().take(usize::from(n)) {
            out.extend_from_slice(id.as_bytes());
            t.peer.encode(out);
            t.device.encode(out);
            out.extend_from_slice(&t.next.to_be_bytes());
            out.extend_from_slice(&t.active_at.to_be_bytes());
            out.extend_from_slice(&t.lost.to_be_bytes());
            let g = u16::try_from(t.gaps.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&g.to_be_bytes());
            for (counter, opened) in t.gaps.iter().take(usize::from(g)) {
                out.extend_from_slice(&counter.to_be_bytes());
                out.extend_from_slice(&opened.to_be_bytes());
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        if r.array::<2>()? != TAG {
            return Err(Error::Malformed);
        }
        let n = r.count16(MAX_TRACKED_SESSIONS, 16 + 32 + 16 + 8 + 8 + 2 + 2)?;
        let mut missing = Self::new();
        let mut last = None;
        for _ in 0..n {
            let id = SessionId::from_bytes(r.array()?);
            if last.is_some_and(|l| l >= id) {
                return Err(Error::Malformed);
            }
            last = Some(id);
            let peer = UserId::read(r)?;
            let device = DeviceId::read(r)?;
            let next = r.u64()?;
            let active_at = r.u64()?;
            let lost = r.u16()?;
            let g = r.count16(MAX_GAPS, 16)?;
            let mut gaps = BTreeMap::new();
            let mut last_counter = None;
            for _ in 0..g {
                let counter = r.u64()?;
                if counter >= next || last_counter.is_some_and(|l| l >= counter) {
                    return Err(Error::Malformed);
                }
                last_counter = Some(counter);
                gaps.insert(counter, r.u64()?);
            }
            missing.sessions.insert(
                id,
                Track {
                    peer,
                    device,
                    next,
                    active_at,
                    gaps,
                    lost,
                },
            );
        }
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600;
    const S: SessionId = SessionId::from_bytes([1; 16]);

    fn peer() -> (UserId, DeviceId) {
        (UserId::from_bytes([2; 32]), DeviceId::from_bytes([3; 16]))
    }

    fn open(m: &mut Missing, counter: u64, new_session: bool, now: u64) {
        let (user, device) = peer();
        m.opened(S, user, device, counter, new_session, now);
    }

    #[test]
    fn a_gap_that_stays_open_is_reported_once() {
        let mut m = Missing::new();
        open(&mut m, 0, true, NOW);
        open(&mut m, 3, false, NOW);
        assert!(m.due(NOW + MISSING_AFTER - 1).is_empty());
        let (user, device) = peer();
        assert_eq!(
            m.due(NOW + MISSING_AFTER),
            [MaybeMissing {
                user,
                device,
                session: S,
                count: 2
            }]
        );
        assert!(m.due(NOW + 10 * MISSING_AFTER).is_empty());
    }

    #[test]
    fn late_arrivals_close_their_gap() {
        let mut m = Missing::new();
        open(&mut m, 2, true, NOW);
        open(&mut m, 0, false, NOW + 5);
        open(&mut m, 1, false, NOW + 6);
        assert!(m.due(NOW + MISSING_AFTER * 2).is_empty());
    }

    #[test]
    fn the_first_message_of_a_new_session_counts_what_came_before() {
        let mut m = Missing::new();
        open(&mut m, 1, true, NOW);
        assert_eq!(m.due(NOW + MISSING_AFTER)[0].count, 1);
        // An untracked existing session (forgotten, or restored) starts where it is.
        let mut m = Missing::new();
        open(&mut m, 40, false, NOW);
        assert!(m.due(NOW + MISSING_AFTER).is_empty());
    }

    #[test]
    fn stays_bounded_and_counts_what_it_had_to_drop() {
        let mut m = Missing::new();
        open(&mut m, 0, true, NOW);
        open(&mut m, 200, false, NOW);
        open(&mut m, 400, false, NOW);
        let due = m.due(NOW + MISSING_AFTER);
        assert_eq!(due[0].count, 398);
        for i in 0..(MAX_TRACKED_SESSIONS as u64 + 5) {
            let mut id = [0; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            m.opened(
                SessionId::from_bytes(id),
                peer().0,
                peer().1,
                0,
                true,
                NOW + i,
            );
        }
        assert_eq!(m.sessions.len(), MAX_TRACKED_SESSIONS);
    }

    #[test]
    fn encoding_round_trips_and_is_strict() {
        let mut m = Missing::new();
        open(&mut m, 0, true, NOW);
        open(&mut m, 3, false, NOW);
        let bytes = m.to_bytes();
        assert_eq!(Missing::from_bytes(&bytes), Ok(m));
        for len in 0..bytes.len() {
            assert!(Missing::from_bytes(&bytes[..len]).is_err());
        }
    }
}
