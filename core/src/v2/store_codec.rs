//! The secret encoding of a [`SessionStore`] (versioned, strictly parsed):
//!
//! ```text
//! "S" 2 || u32 n (<= 2048 + 64) || n × session || u32 t (<= REPLAY_MEMORY + 2048)
//! || t × (id[16] || peer[32] || u64 expires_at) || u16 u (<= 256) || u × (id[16] || u64 expires_at)
//! session = id[16] || peer[32] || peer_device[16] || var16(peer identity spki)
//!   || u64 peer_epoch || u64 init_at || u64 created_at || u64 last_used
//!   || u8 flags (1 initiator, 2 confirmed, 4 trusted) || var16(init_block)
//!   || send ck[32] hk[32] u64 next || recv ck[32] hk[32] u64 next
//!   || u16 k (<= 256) || k × (u64 counter || mk[32])
//! ```
//! `init_block` is non-empty exactly for unconfirmed initiator sessions; a responder
//! session is always confirmed; skipped counters are below the receive chain's next.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{IdentityPublicKey, MAX_SPKI_LEN};
use crate::username::UserId;
use crate::v2::ids::{DeviceId, SessionId};
use crate::v2::init::MAX_INIT_BLOCK_LEN;
use crate::v2::replay::{REPLAY_MEMORY, ReplayMemory, TrustedEntry, UNTRUSTED_REPLAY_MEMORY};
use crate::v2::session::{Chain, MAX_SKIPPED_KEYS, Session};
use crate::v2::store::SessionStore;
use crate::v2::store_caps::{
    MAX_SESSIONS_PER_DEVICE, MAX_TRUSTED_SESSIONS, MAX_UNTRUSTED_SESSIONS,
};
use crate::wire::{Reader, put_var16};

const STORE_TAG: [u8; 2] = [b'S', 2];
const INITIATOR: u8 = 1;
const CONFIRMED: u8 = 2;
const TRUSTED: u8 = 4;
const MAX_STORED_SESSIONS: usize = MAX_TRUSTED_SESSIONS + MAX_UNTRUSTED_SESSIONS;

fn len_u32(n: usize) -> Result<[u8; 4]> {
    Ok(u32::try_from(n).map_err(|_| Error::TooLarge)?.to_be_bytes())
}

impl SessionStore {
    /// Serializes all session secrets. The caller must store the result encrypted.
    pub fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(64 + self.sessions.len() * 1024));
        out.extend_from_slice(&STORE_TAG);
        out.extend_from_slice(&len_u32(self.sessions.len())?);
        for s in &self.sessions {
            out.extend_from_slice(s.id.as_bytes());
            out.extend_from_slice(s.peer.as_bytes());
            out.extend_from_slice(s.peer_device.as_bytes());
            put_var16(&mut out, s.peer_identity.to_spki_der())?;
            for t in [s.peer_epoch, s.init_at, s.created_at, s.last_used] {
                out.extend_from_slice(&t.to_be_bytes());
            }
            let flag = |set: bool, bit: u8| if set { bit } else { 0 };
            let flags = flag(s.initiator, INITIATOR)
                | flag(s.confirmed, CONFIRMED)
                | flag(s.trusted, TRUSTED);
            out.push(flags);
            put_var16(&mut out, &s.init_block)?;
            for c in [&s.send, &s.recv] {
                out.extend_from_slice(c.chain_key.as_ref());
                out.extend_from_slice(c.header_key.as_ref());
                out.extend_from_slice(&c.next.to_be_bytes());
            }
            let k = u16::try_from(s.skipped.len()).map_err(|_| Error::TooLarge)?;
            out.extend_from_slice(&k.to_be_bytes());
            for (n, mk) in &s.skipped {
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(mk.as_ref());
            }
        }
        out.extend_from_slice(&len_u32(self.replay.trusted.len())?);
        for e in &self.replay.trusted {
            out.extend_from_slice(e.id.as_bytes());
            out.extend_from_slice(e.peer.as_bytes());
            out.extend_from_slice(&e.expires_at.to_be_bytes());
        }
        let u = u16::try_from(self.replay.untrusted.len()).map_err(|_| Error::TooLarge)?;
        out.extend_from_slice(&u.to_be_bytes());
        for (id, t) in &self.replay.untrusted {
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(&t.to_be_bytes());
        }
        Ok(out)
    }

    /// Reads [`SessionStore::to_secret_bytes`]. Anything inconsistent is
    /// [`Error::Malformed`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != STORE_TAG {
            return Err(Error::Malformed);
        }
        let count = usize::try_from(r.u32()?).map_err(|_| Error::Malformed)?;
        if count > MAX_STORED_SESSIONS {
            return Err(Error::Malformed);
        }
        let mut sessions: Vec<Session> = Vec::with_capacity(count);
        for _ in 0..count {
            let s = read_session(&mut r)?;
            let same_pair = sessions
                .iter()
                .filter(|o| o.peer == s.peer && o.peer_device == s.peer_device)
                .count();
            if same_pair >= MAX_SESSIONS_PER_DEVICE || sessions.iter().any(|o| o.id == s.id) {
                return Err(Error::Malformed);
            }
            sessions.push(s);
        }
        let untrusted_sessions = sessions.iter().filter(|s| !s.trusted).count();
        if untrusted_sessions > MAX_UNTRUSTED_SESSIONS
            || count - untrusted_sessions > MAX_TRUSTED_SESSIONS
        {
            return Err(Error::Malformed);
        }
        let mut replay = ReplayMemory::default();
        let t = usize::try_from(r.u32()?).map_err(|_| Error::Malformed)?;
        if t > REPLAY_MEMORY + MAX_STORED_SESSIONS {
            return Err(Error::Malformed);
        }
        for _ in 0..t {
            replay.trusted.push(TrustedEntry {
                id: SessionId::from_bytes(r.array()?),
                peer: UserId(r.array()?),
                expires_at: r.u64()?,
            });
        }
        let u = usize::from(r.u16()?);
        if u > UNTRUSTED_REPLAY_MEMORY {
            return Err(Error::Malformed);
        }
        let mut untrusted = Vec::with_capacity(u);
        for _ in 0..u {
            untrusted.push((SessionId::from_bytes(r.array()?), r.u64()?));
        }
        replay.untrusted = untrusted;
        r.finish()?;
        Ok(Self { sessions, replay })
    }
}

fn read_chain(r: &mut Reader<'_>) -> Result<Chain> {
    Ok(Chain {
        chain_key: Zeroizing::new(r.array()?),
        header_key: Zeroizing::new(r.array()?),
        next: r.u64()?,
    })
}

fn read_session(r: &mut Reader<'_>) -> Result<Session> {
    let id = SessionId::from_bytes(r.array()?);
    let peer = UserId(r.array()?);
    let peer_device = DeviceId::from_bytes(r.array()?);
    let peer_identity =
        IdentityPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?).map_err(|_| Error::Malformed)?;
    let peer_epoch = r.u64()?;
    let init_at = r.u64()?;
    let created_at = r.u64()?;
    let last_used = r.u64()?;
    let flags = r.u8()?;
    if flags & !(INITIATOR | CONFIRMED | TRUSTED) != 0 {
        return Err(Error::Malformed);
    }
    let initiator = flags & INITIATOR != 0;
    let confirmed = flags & CONFIRMED != 0;
    let init_block = r.var16(MAX_INIT_BLOCK_LEN)?.to_vec();
    if (!initiator && !confirmed) || init_block.is_empty() != confirmed {
        return Err(Error::Malformed);
    }
    let send = read_chain(r)?;
    let recv = read_chain(r)?;
    let k = usize::from(r.u16()?);
    if k > MAX_SKIPPED_KEYS {
        return Err(Error::Malformed);
    }
    let mut skipped = Vec::with_capacity(k);
    for _ in 0..k {
        let n = r.u64()?;
        if n >= recv.next || skipped.iter().any(|(m, _)| *m == n) {
            return Err(Error::Malformed);
        }
        skipped.push((n, Zeroizing::new(r.array()?)));
    }
    Ok(Session {
        id,
        peer,
        peer_device,
        peer_identity,
        peer_epoch,
        init_at,
        created_at,
        last_used,
        initiator,
        confirmed,
        trusted: flags & TRUSTED != 0,
        init_block,
        send,
        recv,
        skipped,
    })
}
