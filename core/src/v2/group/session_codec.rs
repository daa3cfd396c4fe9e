//! The secret encoding of a [`GroupSession`] (PROTOCOL.md 27.10): what a device stores
//! between runs. Parsing re-checks every rule the session keeps while running (chains of
//! members within the key epoch, one per device, at most eight per member, skipped keys
//! below the position), so stored bytes cannot hold what the session would refuse. Each
//! received chain is stored as the distribution of its current position.

use alloc::vec::Vec;

use p256::ecdsa::SigningKey;
use zeroize::Zeroizing;

use super::MAX_MEMBERS;
use super::error::{GroupError, GroupResult};
use super::sender_key::{DISTRIBUTION_LEN, SenderKeyDistribution, SendingChain};
use super::session::{GroupSession, RetiredChain};
use super::state::{GroupState, MAX_GROUP_STATE_LEN};
use crate::username::UserId;
use crate::v2::MAX_DEVICES;
use crate::v2::ids::{ChainId, DeviceId};
use crate::v2::session::{Chain, MAX_SKIPPED_KEYS};
use crate::wire::{Reader, put_var32};

const SESSION_TAG: [u8; 2] = [b'g', 1];
pub(super) const MAX_CHAINS: usize = MAX_MEMBERS * MAX_DEVICES;

impl GroupSession {
    /// The encoding (secret: chain keys, the signing key). Applications store it
    /// encrypted, like the session store (16.5).
    pub fn to_secret_bytes(&self) -> GroupResult<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        out.extend_from_slice(&SESSION_TAG);
        out.extend_from_slice(self.user.as_bytes());
        out.extend_from_slice(self.device.as_bytes());
        put_var32(&mut out, &self.state.to_bytes()?)?;
        match &self.own {
            None => out.push(0),
            Some(own) => {
                out.push(1);
                out.extend_from_slice(own.chain_id.as_bytes());
                out.extend_from_slice(&own.epoch.to_be_bytes());
                put_chain(&mut out, &own.chain);
                out.extend_from_slice(&own.signing.to_bytes());
            }
        }
        put_count(&mut out, self.chains.len())?;
        for c in &self.chains {
            let d = SenderKeyDistribution::of_receiving(c);
            out.extend_from_slice(&d.to_bytes());
            put_count(&mut out, c.skipped.len())?;
            for (n, mk) in &c.skipped {
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(mk.as_ref());
            }
        }
        put_count(&mut out, self.retired.len())?;
        for r in &self.retired {
            out.extend_from_slice(r.header_key.as_ref());
            out.extend_from_slice(r.sender.as_bytes());
        }
        Ok(out)
    }

    /// Parses what [`Self::to_secret_bytes`] wrote; anything a running session would not
    /// hold is [`GroupError::Malformed`].
    pub fn from_secret_bytes(bytes: &[u8]) -> GroupResult<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != SESSION_TAG {
            return Err(GroupError::Malformed);
        }
        let user = UserId::from_bytes(r.array()?);
        let device = DeviceId::from_bytes(r.array()?);
        // Stored by this device: a state of format 1 (27.2) is upgraded.
        let state = GroupState::from_stored_bytes(r.var32(MAX_GROUP_STATE_LEN)?)?;
        let own = match r.u8()? {
            0 => None,
            1 => {
                let chain_id = ChainId::from_bytes(r.array()?);
                let epoch = r.u64()?;
                let chain = read_chain(&mut r)?;
                let scalar = Zeroizing::new(r.array::<32>()?);
                let signing =
                    SigningKey::from_slice(scalar.as_ref()).map_err(|_| GroupError::Malformed)?;
                if epoch < state.key_epoch() || epoch > state.epoch() {
                    return Err(GroupError::Malformed);
                }
                Some(SendingChain {
                    chain_id,
                    epoch,
                    chain,
                    signing,
                })
            }
            _ => return Err(GroupError::Malformed),
        };
        let mut session = Self::restore(state, user, device, own);
        let n = usize::from(r.u16()?);
        if n > MAX_CHAINS {
            return Err(GroupError::Malformed);
        }
        for _ in 0..n {
            let d = SenderKeyDistribution::from_bytes(r.bytes(DISTRIBUTION_LEN)?)?;
            let k = usize::from(r.u16()?);
            if k > MAX_SKIPPED_KEYS {
                return Err(GroupError::Malformed);
            }
            let mut skipped = Vec::with_capacity(k);
            for _ in 0..k {
                let counter = r.u64()?;
                let mk = Zeroizing::new(r.array::<32>()?);
                if counter >= d.counter || skipped.iter().any(|(n, _)| *n == counter) {
                    return Err(GroupError::Malformed);
                }
                skipped.push((counter, mk));
            }
            session.restore_chain(&d, skipped)?;
        }
        let m = usize::from(r.u16()?);
        if m > MAX_CHAINS {
            return Err(GroupError::Malformed);
        }
        for _ in 0..m {
            session.retired.push(RetiredChain {
                header_key: Zeroizing::new(r.array()?),
                sender: UserId::from_bytes(r.array()?),
            });
        }
        r.finish()?;
        Ok(session)
    }
}

fn put_count(out: &mut Vec<u8>, n: usize) -> GroupResult<()> {
    let n = u16::try_from(n).map_err(|_| GroupError::TooLarge)?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_chain(out: &mut Vec<u8>, c: &Chain) {
    out.extend_from_slice(c.chain_key.as_ref());
    out.extend_from_slice(c.header_key.as_ref());
    out.extend_from_slice(&c.next.to_be_bytes());
}

fn read_chain(r: &mut Reader<'_>) -> GroupResult<Chain> {
    Ok(Chain {
        chain_key: Zeroizing::new(r.array()?),
        header_key: Zeroizing::new(r.array()?),
        next: r.u64()?,
    })
}
