//! Chains this device gave to member devices that have not confirmed them yet
//! (PROTOCOL.md 27.5 "Confirming a chain"): the relay's `201` says only that it took the
//! deposit, not that the device will get it. Each is kept (the payload first given,
//! so a re-send carries the same `counter`: never more than the device was given) until
//! the device receipts the chain's id, and given again on a backoff schedule
//! ([`CHAIN_RESEND_AFTER`], [`MAX_CHAIN_RESENDS`]). Stored as a trailing part of
//! `Part::Groups` (stores written before it have none).

use alloc::vec::Vec;
use sealpost_core::v2::group::DISTRIBUTION_LEN;
use sealpost_core::v2::{ChainId, DeviceId, GroupId};
use sealpost_core::{Error, Result, UserId};
use zeroize::Zeroizing;

use super::{Groups, put_count};
use crate::codec::{Codec, Reader, put_var32};
use crate::limits::{CHAIN_RESEND_AFTER, MAX_CHAIN_RESENDS};
use crate::msg_id::MsgId;
use crate::payload::{Payload, Secret};

/// A `SenderKey` payload: its type byte and the distribution.
const MAX_GIVEN_PAYLOAD: usize = 1 + DISTRIBUTION_LEN;

/// This device's chain as given to one member device, until that device confirms it.
#[derive(Clone)]
pub struct GivenChain {
    /// The member device.
    pub to: (UserId, DeviceId),
    /// The chain (a receipt of this id confirms it).
    pub chain: ChainId,
    /// The `SenderKey` payload as first given (secret: the chain key at its counter).
    pub payload: Zeroizing<Vec<u8>>,
    /// When it goes again (or, after the last re-send, is forgotten).
    pub due: u64,
    /// Re-sends so far.
    pub resent: u8,
}

impl GivenChain {
    /// Given at `now`.
    pub fn new(
        to: (UserId, DeviceId),
        chain: ChainId,
        payload: Zeroizing<Vec<u8>>,
        now: u64,
    ) -> Self {
        Self {
            to,
            chain,
            payload,
            due: now.saturating_add(CHAIN_RESEND_AFTER),
            resent: 0,
        }
    }

    /// Due at `now`: `true` if it goes again (the next one waits four times longer),
    /// `false` if its re-sends are spent (forget it).
    pub fn resend(&mut self, now: u64) -> bool {
        if self.resent >= MAX_CHAIN_RESENDS {
            return false;
        }
        self.resent += 1;
        // 4^resent intervals; resent <= MAX_CHAIN_RESENDS, far from overflowing.
        self.due = now.saturating_add(CHAIN_RESEND_AFTER << (2 * self.resent));
        true
    }

    /// Whether `ids` (a receipt) confirm this chain.
    pub fn confirmed_by(&self, ids: &[MsgId]) -> bool {
        ids.contains(&MsgId(*self.chain.as_bytes()))
    }
}

impl Groups {
    /// `device` of `user` receipted `ids`: the chains it confirms are given no more.
    /// Whether anything changed.
    pub fn chains_confirmed(&mut self, user: UserId, device: DeviceId, ids: &[MsgId]) -> bool {
        let mut changed = false;
        for entry in self.groups.values_mut() {
            let before = entry.given.len();
            entry
                .given
                .retain(|g| g.to != (user, device) || !g.confirmed_by(ids));
            changed |= entry.given.len() != before;
        }
        changed
    }

    /// The trailing part: `u16(g)`, then per group with unconfirmed chains
    /// `group_id[16] || u16(n) || n × (user[32] || device[16] || chain[16] || u64(due)
    /// || u8(resent) || var32(payload))`.
    pub(super) fn put_given(&self, out: &mut Vec<u8>) {
        let groups: Vec<_> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.given.is_empty())
            .collect();
        put_count(out, groups.len());
        for (id, g) in groups {
            out.extend_from_slice(id.as_bytes());
            put_count(out, g.given.len());
            for given in &g.given {
                given.to.0.encode(out);
                given.to.1.encode(out);
                out.extend_from_slice(given.chain.as_bytes());
                out.extend_from_slice(&given.due.to_be_bytes());
                out.push(given.resent);
                put_var32(out, &given.payload);
            }
        }
    }

    /// A store written before the chains given were kept (commit a5d396b) has no such
    /// part, though this device gave its current chain to the devices of `distributed`,
    /// and none of them confirmed it (no device did before). Each is taken as given and
    /// not confirmed, due at once: the chain goes again at its position now (the one
    /// first given is gone; never an earlier counter than given), so a device the relay
    /// kept it from reads what follows, and a device that holds it takes it as a copy and
    /// confirms it.
    pub(super) fn given_before_kept(&mut self) {
        for entry in self.groups.values_mut() {
            let Some(dist) = entry.session.own_sender_key() else {
                continue;
            };
            let key = dist.to_bytes();
            let payload = Zeroizing::new(Payload::SenderKey(Secret(key)).to_bytes());
            for to in &entry.distributed {
                entry.given.push(GivenChain {
                    to: *to,
                    chain: dist.chain_id,
                    payload: payload.clone(),
                    due: 0,
                    resent: 0,
                });
            }
        }
    }

    /// Reads [`Groups::put_given`] into the groups already read.
    pub(super) fn read_given(&mut self, r: &mut Reader<'_>) -> Result<()> {
        for _ in 0..r.count16(super::MAX_GROUPS, 18)? {
            let id = GroupId::from_bytes(r.array()?);
            let entry = self.groups.get_mut(&id).ok_or(Error::Malformed)?;
            for _ in 0..r.count16(usize::from(u16::MAX), 32 + 16 + 16 + 8 + 1 + 4)? {
                let given = GivenChain {
                    to: (UserId::read(r)?, DeviceId::read(r)?),
                    chain: ChainId::from_bytes(r.array()?),
                    due: r.u64()?,
                    resent: r.u8()?,
                    payload: Zeroizing::new(r.var32(MAX_GIVEN_PAYLOAD)?.to_vec()),
                };
                if given.resent > MAX_CHAIN_RESENDS {
                    return Err(Error::Malformed);
                }
                entry.given.push(given);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to() -> (UserId, DeviceId) {
        (UserId::from_bytes([1; 32]), DeviceId::from_bytes([2; 16]))
    }

    #[test]
    fn re_sent_four_times_each_four_times_later_then_forgotten() {
        let mut g = GivenChain::new(
            to(),
            ChainId::from_bytes([1; 16]),
            Zeroizing::new(Vec::new()),
            0,
        );
        let mut at = Vec::new();
        let mut now = g.due;
        while g.resend(now) {
            at.push(now);
            now = g.due;
        }
        assert_eq!(at, [600, 3000, 12_600, 51_000]);
        assert_eq!(now, 51_000 + 600 * 256, "forgotten one interval later");
        assert_eq!(at.last().copied(), Some(crate::limits::LAST_CHAIN_RESEND));
    }

    #[test]
    fn only_a_receipt_of_the_chain_id_confirms_it() {
        let g = GivenChain::new(
            to(),
            ChainId::from_bytes([7; 16]),
            Zeroizing::new(Vec::new()),
            0,
        );
        assert!(!g.confirmed_by(&[MsgId([6; 16])]));
        assert!(g.confirmed_by(&[MsgId([6; 16]), MsgId([7; 16])]));
    }
}
