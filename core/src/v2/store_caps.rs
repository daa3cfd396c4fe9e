//! Store limits and maintenance (design 2.4): no stranger can evict genuine state.
//!
//! - At most [`MAX_SESSIONS_PER_DEVICE`] sessions per peer device (the current one and
//!   the previous one, which still decrypts in-flight messages). A new session evicts
//!   the pair's untrusted session first, else the one the peer was heard in least
//!   recently (it has moved on from it), keeping ours it has not answered yet; an
//!   untrusted one never evicts a trusted one (it is refused instead).
//! - Untrusted sessions: at most [`MAX_UNTRUSTED_SESSIONS`], least recently used evicted.
//! - Trusted sessions: at most [`MAX_TRUSTED_SESSIONS`], evicted only by trusted ones.
//! - Every dropped session goes to the replay memory (`replay.rs`).

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::keys::IdentityPublicKey;
use crate::username::UserId;
use crate::v2::ids::{DeviceId, SessionId};
use crate::v2::opened::SessionInfo;
use crate::v2::session::SESSION_IDLE_LIMIT;
use crate::v2::session::Session;
use crate::v2::store::SessionStore;

/// Sessions kept per peer device.
pub const MAX_SESSIONS_PER_DEVICE: usize = 2;
/// Untrusted (message-request) sessions kept in total.
pub const MAX_UNTRUSTED_SESSIONS: usize = 64;
/// Trusted sessions kept in total.
pub const MAX_TRUSTED_SESSIONS: usize = 2048;

impl SessionStore {
    /// Inserts a new session, evicting by the rules above. Nothing changes on error.
    pub(crate) fn insert(&mut self, mut session: Session, now: u64) -> Result<()> {
        self.prune(now);
        // Strictly the newest, also within one second: "the newest usable session"
        // (`seal`) must not change unless a session is added.
        if let Some(newest) = self.sessions.iter().map(|s| s.created_at).max() {
            session.created_at = session.created_at.max(newest.saturating_add(1));
        }
        let same_pair =
            |s: &Session| s.peer == session.peer && s.peer_device == session.peer_device;
        let lru = |s: &Session| (s.last_used, s.created_at);
        let pair_full =
            self.sessions.iter().filter(|s| same_pair(s)).count() >= MAX_SESSIONS_PER_DEVICE;
        if pair_full && !session.trusted && self.sessions.iter().all(|s| !same_pair(s) || s.trusted)
        {
            return Err(Error::TooLarge);
        }
        while self.sessions.iter().filter(|s| same_pair(s)).count() >= MAX_SESSIONS_PER_DEVICE {
            let victim = self.pair_victim(&same_pair);
            self.drop_at(victim)?;
        }
        let (kind_cap, trusted) = if session.trusted {
            (MAX_TRUSTED_SESSIONS, true)
        } else {
            (MAX_UNTRUSTED_SESSIONS, false)
        };
        while self
            .sessions
            .iter()
            .filter(|s| s.trusted == trusted)
            .count()
            >= kind_cap
        {
            let victim = self.oldest(|s| s.trusted == trusted, lru);
            self.drop_at(victim)?;
        }
        self.sessions.push(session);
        Ok(())
    }

    fn oldest<K: Ord>(
        &self,
        filter: impl Fn(&Session) -> bool,
        key: impl Fn(&Session) -> K,
    ) -> Option<usize> {
        self.sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| filter(s))
            .min_by_key(|(_, s)| key(s))
            .map(|(i, _)| i)
    }

    fn drop_at(&mut self, index: Option<usize>) -> Result<()> {
        let index = index
            .filter(|i| *i < self.sessions.len())
            .ok_or(Error::Crypto)?;
        let gone = self.sessions.remove(index);
        self.replay.remember(&gone, 0);
        Ok(())
    }

    fn drop_where(&mut self, mut filter: impl FnMut(&Session) -> bool, now: u64) {
        let mut gone = Vec::new();
        let mut kept = Vec::with_capacity(self.sessions.len());
        for s in self.sessions.drain(..) {
            if filter(&s) {
                gone.push(s)
            } else {
                kept.push(s)
            }
        }
        self.sessions = kept;
        for s in &gone {
            self.replay.remember(s, now);
        }
    }

    /// Drops sessions unused for 90 days and replay entries past their expiry.
    pub fn prune(&mut self, now: u64) {
        self.drop_where(
            |s| now.saturating_sub(s.last_used) >= SESSION_IDLE_LIMIT,
            now,
        );
        self.replay.prune(now);
    }

    /// The session of a full device pair that makes room for a new one. Store order is
    /// the order in which the peer was last heard in each session (a session we start
    /// or accept goes last, and moves last whenever a message opens in it). The first
    /// untrusted one; else the first the peer has sent in (a responder session, or one
    /// of ours it confirmed), i.e. the one it was heard in least recently and has moved
    /// on from; else the first of ours it has not answered yet (it sends in those as
    /// soon as their init arrives).
    fn pair_victim(&self, same_pair: &impl Fn(&Session) -> bool) -> Option<usize> {
        let first =
            |f: &dyn Fn(&Session) -> bool| self.sessions.iter().position(|s| same_pair(s) && f(s));
        first(&|s| !s.trusted)
            .or_else(|| first(&|s| !s.sends_init()))
            .or_else(|| first(&|_| true))
    }

    /// Drops one session (its id stays in replay memory).
    pub fn forget_session(&mut self, id: &SessionId) {
        self.drop_where(|s| s.id == *id, 0);
    }

    /// Drops every session with one device of `user` (e.g. it left their device list).
    pub fn forget_device(&mut self, user: &UserId, device: &DeviceId) {
        self.drop_where(|s| s.peer == *user && s.peer_device == *device, 0);
    }

    /// Drops every session with `user` (e.g. the user decided to distrust them).
    pub fn forget_peer(&mut self, user: &UserId) {
        self.drop_where(|s| s.peer == *user, 0);
    }

    /// Marks every session with `user` bound to `identity` trusted or not (the engine
    /// pinned or unpinned that identity, e.g. the user accepted a message request).
    /// Returns how many sessions matched.
    pub fn set_trusted(
        &mut self,
        user: &UserId,
        identity: &IdentityPublicKey,
        trusted: bool,
    ) -> usize {
        let mut n = 0;
        for s in self
            .sessions
            .iter_mut()
            .filter(|s| s.peer == *user && s.peer_identity == *identity)
        {
            s.trusted = trusted;
            n += 1;
        }
        n
    }

    /// Number of sessions held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn find(&self, id: &SessionId) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == *id)
    }

    /// Whether a session is confirmed (the responder answered in it; a responder's own
    /// session always is). `None` for an unknown session.
    pub fn is_confirmed(&self, id: &SessionId) -> Option<bool> {
        self.find(id).map(|s| !s.sends_init())
    }

    /// The receive counters a session skipped and still holds keys for: messages that
    /// may be missing (they can still arrive). `None` for an unknown session.
    pub fn missing(&self, id: &SessionId) -> Option<Vec<u64>> {
        self.find(id).map(Session::missing)
    }

    /// A summary of one session.
    pub fn session(&self, id: &SessionId) -> Option<SessionInfo> {
        self.find(id).map(SessionInfo::of)
    }

    /// Summaries of every session.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.sessions.iter().map(SessionInfo::of).collect()
    }

    /// Whether `id` is in the replay memory of dropped sessions.
    pub fn remembers(&self, id: &SessionId) -> bool {
        self.replay.contains(id)
    }

    /// Entries in the replay memory: `(trusted, untrusted)`.
    pub fn replay_memory_len(&self) -> (usize, usize) {
        (self.replay.trusted.len(), self.replay.untrusted.len())
    }
}
