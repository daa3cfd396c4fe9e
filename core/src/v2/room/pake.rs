//! Joining a room (PROTOCOL.md 30.3): SPAKE2 between the joiner (side A) and the host
//! (side B) over the room code, key confirmation both ways, then the host's grant of
//! the room key sealed under the PAKE key.
//!
//! Order matters for the online guess limit: the joiner confirms first, so a guesser
//! learns whether its one guess was right only from the host's answer, which the host
//! gives after counting the attempt; one who walks away after SPAKE2 learned nothing.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use spake2::{Ed25519Group, Identity, Password, Spake2};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::code::RoomCode;
use super::frame::{EpochKey, MemberId};
use crate::error::{Error, Result};
use crate::primitives::{self, Key};
use crate::wire::Reader;

/// Bytes of a SPAKE2 message: a side byte (`A` or `B`) and a compressed Edwards point.
pub const PAKE_MSG_LEN: usize = 33;
/// Bytes of a key confirmation.
pub const CONFIRM_LEN: usize = 32;
/// Bytes of a grant: the host's confirmation, then the sealed epoch, member and key.
pub const GRANT_LEN: usize = CONFIRM_LEN + 12 + 4 + 2 + 32 + 16;

const ID_JOINER: &[u8] = b"sealpost/v2/room-joiner";
const ID_HOST: &[u8] = b"sealpost/v2/room-host";
const KEYS_INFO: &[u8] = b"sealpost/v2/room-pake";
const GRANT_AAD: &[u8] = b"sealpost/v2/room-grant";

/// The four keys both sides derive from the SPAKE2 key `K`:
/// `HKDF-SHA256(ikm = K, salt = "", info = "sealpost/v2/room-pake", 128)`.
struct PakeKeys {
    confirm_joiner: Key,
    confirm_host: Key,
    grant: Key,
    pair: Key,
    /// `msgA || msgB`, what both confirmations cover.
    transcript: [u8; 2 * PAKE_MSG_LEN],
}

impl PakeKeys {
    fn derive(k: &[u8], msg_a: &[u8], msg_b: &[u8]) -> Result<Self> {
        let block = primitives::hkdf::<128>(k, &[], &[KEYS_INFO])?;
        let mut transcript = [0u8; 2 * PAKE_MSG_LEN];
        let (a, b) = transcript.split_at_mut(PAKE_MSG_LEN);
        a.copy_from_slice(msg_a.get(..PAKE_MSG_LEN).ok_or(Error::Malformed)?);
        b.copy_from_slice(msg_b.get(..PAKE_MSG_LEN).ok_or(Error::Malformed)?);
        Ok(Self {
            confirm_joiner: primitives::key_at(block.as_ref(), 0)?,
            confirm_host: primitives::key_at(block.as_ref(), 1)?,
            grant: primitives::key_at(block.as_ref(), 2)?,
            pair: primitives::key_at(block.as_ref(), 3)?,
            transcript,
        })
    }

    fn confirmation(&self, key: &Key) -> Result<[u8; CONFIRM_LEN]> {
        Ok(*primitives::hmac(key, &self.transcript)?)
    }

    fn grant_aad(&self, member: MemberId) -> Vec<u8> {
        let mut aad = Vec::with_capacity(GRANT_AAD.len() + self.transcript.len() + 2);
        aad.extend_from_slice(GRANT_AAD);
        aad.extend_from_slice(&self.transcript);
        aad.extend_from_slice(&member.to_be_bytes());
        aad
    }
}

fn spake(code: &RoomCode) -> (Password, Identity, Identity) {
    (
        Password::new(code.password().as_slice()),
        Identity::new(ID_JOINER),
        Identity::new(ID_HOST),
    )
}

/// The joiner before the host answered.
///
/// `spake2` 0.5.0-pre.0 has no `zeroize` feature and no `Drop` that wipes (and it builds
/// `curve25519-dalek` without its `zeroize` feature): its state (the secret scalar `x`,
/// a heap copy of the password and the password's scalar), its `Password` (another heap
/// copy, made in `spake()` and dropped at once) and, inside `finish`, the shared point
/// before hashing (a `Vec` it frees) stay in freed memory until reused. Their fields are
/// private and have no `DerefMut`, and wiping them from outside would need `unsafe`,
/// which this crate forbids; so the state is kept for one round trip only (the host's,
/// not even that: [`HostPake::respond`] finishes at once), and everything derived from
/// it here (`K`, the confirmation, grant and pair keys) is wiped.
pub struct JoinerPake {
    spake: Spake2<Ed25519Group>,
    msg_a: [u8; PAKE_MSG_LEN],
}

impl core::fmt::Debug for JoinerPake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("JoinerPake(<secret>)")
    }
}

impl JoinerPake {
    /// Starts a join with `code`; the message goes to the host.
    pub fn start<R: CryptoRng + ?Sized>(
        rng: &mut R,
        code: &RoomCode,
    ) -> Result<(Self, [u8; PAKE_MSG_LEN])> {
        let (pw, a, b) = spake(code);
        let (spake, msg) = Spake2::<Ed25519Group>::start_a_with_rng(&pw, &a, &b, rng);
        let msg_a: [u8; PAKE_MSG_LEN] = msg.as_slice().try_into().map_err(|_| Error::Crypto)?;
        Ok((Self { spake, msg_a }, msg_a))
    }

    /// Takes the host's SPAKE2 message; returns the joiner's confirmation to send.
    pub fn finish(self, msg_b: &[u8]) -> Result<(JoinerConfirmed, [u8; CONFIRM_LEN])> {
        if msg_b.len() != PAKE_MSG_LEN {
            return Err(Error::Malformed);
        }
        let k = Zeroizing::new(self.spake.finish(msg_b).map_err(|_| Error::Malformed)?);
        let keys = PakeKeys::derive(&k, &self.msg_a, msg_b)?;
        let confirm = keys.confirmation(&keys.confirm_joiner)?;
        Ok((JoinerConfirmed { keys }, confirm))
    }
}

/// What the host's grant gives the joiner.
pub struct Grant {
    /// The member id the host admitted (the relay's id for the joiner).
    pub member: MemberId,
    /// The room key and its epoch.
    pub key: EpochKey,
    /// The key the host seals later room keys to this member with (30.5).
    pub pair_key: Key,
}

impl core::fmt::Debug for Grant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Grant(member {}, epoch {})", self.member, self.key.epoch)
    }
}

/// The joiner after it confirmed, waiting for the grant.
pub struct JoinerConfirmed {
    keys: PakeKeys,
}

impl core::fmt::Debug for JoinerConfirmed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("JoinerConfirmed(<secret>)")
    }
}

impl JoinerConfirmed {
    /// Checks the host's confirmation and opens the grant for `member` (the id the
    /// relay gave this joiner). A host that used another code fails the confirmation:
    /// [`Error::WrongCode`]; a grant altered on the way, or for another member, is
    /// [`Error::Decrypt`].
    pub fn open_grant(self, grant: &[u8], member: MemberId) -> Result<Grant> {
        if grant.len() != GRANT_LEN {
            return Err(Error::Malformed);
        }
        let (confirm, sealed) = grant.split_at(CONFIRM_LEN);
        let expected = self.keys.confirmation(&self.keys.confirm_host)?;
        if !bool::from(expected.ct_eq(confirm)) {
            return Err(Error::WrongCode);
        }
        let plain = primitives::open(&self.keys.grant, &self.keys.grant_aad(member), sealed)?;
        let mut r = Reader::new(&plain);
        let epoch = r.u32()?;
        let granted = r.u16()?;
        let key: [u8; 32] = r.array()?;
        r.finish()?;
        if granted != member {
            return Err(Error::Decrypt);
        }
        Ok(Grant {
            member,
            key: EpochKey::new(epoch, key),
            pair_key: self.keys.pair.clone(),
        })
    }
}

/// The host's side of one join attempt, after it answered the joiner's message.
pub struct HostPake {
    keys: PakeKeys,
}

impl core::fmt::Debug for HostPake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HostPake(<secret>)")
    }
}

impl HostPake {
    /// Answers a joiner's SPAKE2 message; the returned message goes back to it.
    pub fn respond<R: CryptoRng + ?Sized>(
        rng: &mut R,
        code: &RoomCode,
        msg_a: &[u8],
    ) -> Result<(Self, [u8; PAKE_MSG_LEN])> {
        if msg_a.len() != PAKE_MSG_LEN {
            return Err(Error::Malformed);
        }
        let (pw, a, b) = spake(code);
        let (spake, msg) = Spake2::<Ed25519Group>::start_b_with_rng(&pw, &a, &b, rng);
        let msg_b: [u8; PAKE_MSG_LEN] = msg.as_slice().try_into().map_err(|_| Error::Crypto)?;
        let k = Zeroizing::new(spake.finish(msg_a).map_err(|_| Error::Malformed)?);
        let keys = PakeKeys::derive(&k, msg_a, &msg_b)?;
        Ok((Self { keys }, msg_b))
    }

    /// Checks the joiner's confirmation: [`Error::WrongCode`] when it used another code
    /// (or the message was altered: the two are indistinguishable, and both are a
    /// failed attempt).
    pub fn check(&self, confirm: &[u8]) -> Result<()> {
        let expected = self.keys.confirmation(&self.keys.confirm_joiner)?;
        if confirm.len() == CONFIRM_LEN && bool::from(expected.ct_eq(confirm)) {
            Ok(())
        } else {
            Err(Error::WrongCode)
        }
    }

    /// The grant for `member` after [`check`](Self::check) passed:
    /// `confirm_host || seal(grant_key, aad, epoch || member || room_key)`.
    pub fn grant<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        member: MemberId,
        key: &EpochKey,
    ) -> Result<Vec<u8>> {
        let mut plain = Zeroizing::new(Vec::with_capacity(4 + 2 + 32));
        plain.extend_from_slice(&key.epoch.to_be_bytes());
        plain.extend_from_slice(&member.to_be_bytes());
        plain.extend_from_slice(key.key.as_ref());
        let mut out = Vec::with_capacity(GRANT_LEN);
        out.extend_from_slice(&self.keys.confirmation(&self.keys.confirm_host)?);
        out.extend_from_slice(&primitives::seal(
            rng,
            &self.keys.grant,
            &self.keys.grant_aad(member),
            &plain,
        )?);
        Ok(out)
    }

    /// The key later room keys are sealed to this member with.
    pub fn pair_key(&self) -> Key {
        self.keys.pair.clone()
    }
}
