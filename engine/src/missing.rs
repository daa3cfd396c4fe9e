//! Messages that may be missing: gaps in a session's counters that stay open.
//!
//! The session store says which counters an opened message skipped
//! (`OpenedMessage::skipped`, also those before the first message of a new session)
//! and which skipped counters it still holds keys for (`SessionStore::missing`): it is
//! the one account of gaps. This module only adds time: when each gap opened, so that a
//! gap still open after [`MISSING_AFTER`] is surfaced once ("a message from X may be
//! missing") and then forgotten, and a gap whose key the store dropped (it can never
//! open) is counted too. So a loss never vanishes in silence and is never reported
//! twice. Persisted, so a restart within the hour does not hide a loss.

use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use sealpost_core::v2::{DeviceId, SessionId};
use sealpost_core::{Error, Result, UserId};

use crate::codec::{Codec, Reader};
use crate::limits::{MAX_MESSAGE_AGE, MISSING_AFTER};

/// Most sessions tracked (the least recently active goes first, reporting its gaps).
pub const MAX_TRACKED_SESSIONS: usize = 512;
/// Most open counters per session: the skipped keys the session store keeps.
pub const MAX_GAPS: usize = sealpost_core::v2::MAX_SKIPPED_KEYS;

const TAG: [u8; 2] = [b'M', 3];
/// The layout before the store was asked (it kept its own next counter, now ignored).
const TAG_V2: [u8; 2] = [b'M', 2];

/// One session's open counters.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Track {
    peer: UserId,
    device: DeviceId,
    active_at: u64,
    /// Open counter → when the gap opened.
    gaps: SortedMap<u64, u64>,
    /// Gaps whose keys the store dropped: they can never open, report them.
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
    sessions: SortedMap<SessionId, Track>,
}

impl Missing {
    /// Nothing tracked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Message `counter` of `session` from `from` (user, device) opened at `now`;
    /// `skipped`: the counters it skipped (`OpenedMessage::skipped`); `held`: the
    /// skipped counters of the session whose keys the store still holds after it
    /// opened (`SessionStore::missing`).
    pub fn opened(
        &mut self,
        session: SessionId,
        from: (UserId, DeviceId),
        counter: u64,
        skipped: &[u64],
        held: &[u64],
        now: u64,
    ) {
        if !self.sessions.contains_key(&session) && self.sessions.len() >= MAX_TRACKED_SESSIONS {
            self.evict_least_active();
        }
        let track = self.sessions.entry(session).or_insert(Track {
            peer: from.0,
            device: from.1,
            active_at: now,
            gaps: SortedMap::new(),
            lost: 0,
        });
        track.active_at = now;
        for n in skipped {
            track.gaps.insert(*n, now);
        }
        track.gaps.remove(&counter);
        let before = track.gaps.len();
        // A few hundred counters on either side at most: a plain scan.
        track.gaps.retain(|n, _| held.contains(n));
        let dropped = u16::try_from(before - track.gaps.len()).unwrap_or(u16::MAX);
        track.lost = track.lost.saturating_add(dropped);
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
        let old = match r.array::<2>()? {
            TAG => false,
            TAG_V2 => true,
            _ => return Err(Error::Malformed),
        };
        let n = r.count16(MAX_TRACKED_SESSIONS, 16 + 32 + 16 + 8 + 2 + 2)?;
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
            if old {
                r.u64()?;
            }
            let active_at = r.u64()?;
            let lost = r.u16()?;
            let g = r.count16(MAX_GAPS, 16)?;
            let mut gaps = SortedMap::new();
            let mut last_counter = None;
            for _ in 0..g {
                let counter = r.u64()?;
                if last_counter.is_some_and(|l| l >= counter) {
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
    use sealpost_core::sorted::SortedSet;

    use super::*;

    const NOW: u64 = 1_767_225_600;
    const S: SessionId = SessionId::from_bytes([1; 16]);

    fn peer() -> (UserId, DeviceId) {
        (UserId::from_bytes([2; 32]), DeviceId::from_bytes([3; 16]))
    }

    /// The session store's side, as the core keeps it: the receive chain's next counter
    /// and the skipped keys it holds (at most `MAX_GAPS`, oldest dropped).
    #[derive(Default)]
    struct Store {
        next: u64,
        held: SortedSet<u64>,
    }

    fn open(m: &mut Missing, store: &mut Store, counter: u64, now: u64) {
        let skipped: Vec<u64> = (store.next..counter).collect();
        store.held.extend(&skipped);
        store.held.remove(&counter);
        store.next = store.next.max(counter + 1);
        while store.held.len() > MAX_GAPS {
            store.held.pop_first();
        }
        let held: Vec<u64> = store.held.iter().copied().collect();
        m.opened(S, peer(), counter, &skipped, &held, now);
    }

    #[test]
    fn a_gap_that_stays_open_is_reported_once() {
        let (mut m, mut s) = (Missing::new(), Store::default());
        open(&mut m, &mut s, 0, NOW);
        open(&mut m, &mut s, 3, NOW);
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
        let (mut m, mut s) = (Missing::new(), Store::default());
        open(&mut m, &mut s, 2, NOW);
        open(&mut m, &mut s, 0, NOW + 5);
        open(&mut m, &mut s, 1, NOW + 6);
        assert!(m.due(NOW + MISSING_AFTER * 2).is_empty());
    }

    #[test]
    fn the_first_message_of_a_new_session_counts_what_came_before() {
        let (mut m, mut s) = (Missing::new(), Store::default());
        open(&mut m, &mut s, 1, NOW);
        assert_eq!(m.due(NOW + MISSING_AFTER)[0].count, 1);
    }

    #[test]
    fn stays_bounded_and_counts_what_the_store_dropped() {
        let (mut m, mut s) = (Missing::new(), Store::default());
        open(&mut m, &mut s, 0, NOW);
        open(&mut m, &mut s, 200, NOW);
        open(&mut m, &mut s, 400, NOW);
        assert_eq!(m.sessions.get(&S).map(|t| t.gaps.len()), Some(MAX_GAPS));
        let due = m.due(NOW + MISSING_AFTER);
        assert_eq!(due[0].count, 398);
        for i in 0..(MAX_TRACKED_SESSIONS as u64 + 5) {
            let mut id = [0; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            m.opened(SessionId::from_bytes(id), peer(), 0, &[], &[], NOW + i);
        }
        assert_eq!(m.sessions.len(), MAX_TRACKED_SESSIONS);
    }

    #[test]
    fn encoding_round_trips_and_is_strict() {
        let (mut m, mut s) = (Missing::new(), Store::default());
        open(&mut m, &mut s, 0, NOW);
        open(&mut m, &mut s, 3, NOW);
        let bytes = m.to_bytes();
        assert_eq!(Missing::from_bytes(&bytes), Ok(m.clone()));
        for len in 0..bytes.len() {
            assert!(Missing::from_bytes(&bytes[..len]).is_err());
        }
        // The layout before (with the engine's own next counter) still loads.
        let mut old = bytes.clone();
        old[..2].copy_from_slice(&TAG_V2);
        old.splice(4 + 16 + 32 + 16..4 + 16 + 32 + 16, 4u64.to_be_bytes());
        assert_eq!(Missing::from_bytes(&old), Ok(m));
    }
}
