//! Receipts this device owes: every message it opened is receipted to the sending
//! device, and the sender keeps re-sending (and shows "on relay") until a receipt
//! arrives. An owed receipt is durable ([`crate::Part::Receipts`]) until the relay
//! confirmed a deposit that carries it, so a restart between opening a message (whose
//! blob is then acknowledged) and that confirmation re-sends the receipt instead of
//! leaving the sender to wait for its hourly re-send.

use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use sealpost_core::v2::DeviceId;
use sealpost_core::{Error, Result, UserId};

use crate::codec::{Codec, Reader};
use crate::msg_id::MsgId;

/// Most receipts owed at once. Beyond it the oldest receipt of the device owed the most
/// goes: its sender's next re-send is receipted again, so the cost is a re-send, and a
/// device that floods this one with messages crowds out only its own receipts first.
pub const MAX_OWED_RECEIPTS: usize = 4096;

const TAG: [u8; 2] = [b'R', 2];

/// Receipts owed per sending device, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwedReceipts {
    devices: SortedMap<(UserId, DeviceId), Vec<MsgId>>,
}

impl OwedReceipts {
    /// Nothing owed.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many receipts are owed.
    pub fn len(&self) -> usize {
        self.devices.values().map(Vec::len).sum()
    }

    /// Whether nothing is owed.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Owes `device` of `user` a receipt for `msg_id`; `false` when it was owed already.
    pub fn owe(&mut self, user: UserId, device: DeviceId, msg_id: MsgId) -> bool {
        let ids = self.devices.entry((user, device)).or_default();
        if ids.contains(&msg_id) {
            return false;
        }
        ids.push(msg_id);
        if self.len() > MAX_OWED_RECEIPTS {
            self.evict();
        }
        true
    }

    fn evict(&mut self) {
        let most = self
            .devices
            .iter()
            .max_by_key(|(_, ids)| ids.len())
            .map(|(k, _)| *k);
        if let Some(k) = most
            && let Some(ids) = self.devices.get_mut(&k)
        {
            ids.remove(0);
            if ids.is_empty() {
                self.devices.remove(&k);
            }
        }
    }

    /// A deposit carrying `ids` to `device` of `user` was confirmed (or can never be
    /// made): they are owed no more. Whether anything changed.
    pub fn paid(&mut self, user: UserId, device: DeviceId, ids: &[MsgId]) -> bool {
        let Some(owed) = self.devices.get_mut(&(user, device)) else {
            return false;
        };
        let before = owed.len();
        owed.retain(|id| !ids.contains(id));
        let changed = owed.len() != before;
        if owed.is_empty() {
            self.devices.remove(&(user, device));
        }
        changed
    }

    /// Every owed receipt, per device, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&(UserId, DeviceId), &Vec<MsgId>)> {
        self.devices.iter()
    }
}

impl Codec for OwedReceipts {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TAG);
        // Bounded by MAX_OWED_RECEIPTS, so the counts fit in u16.
        let n = u16::try_from(self.devices.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for ((user, device), ids) in self.devices.iter().take(usize::from(n)) {
            user.encode(out);
            device.encode(out);
            crate::codec::put_list16(out, ids.iter());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        if r.array::<2>()? != TAG {
            return Err(Error::Malformed);
        }
        let n = r.count16(MAX_OWED_RECEIPTS, 32 + 16 + 2 + 16)?;
        let mut owed = Self::new();
        let mut total = 0usize;
        let mut last = None;
        for _ in 0..n {
            let key = (UserId::read(r)?, DeviceId::read(r)?);
            if last.is_some_and(|l| l >= key) {
                return Err(Error::Malformed);
            }
            last = Some(key);
            let k = r.count16(MAX_OWED_RECEIPTS, 16)?;
            if k == 0 {
                return Err(Error::Malformed);
            }
            let mut ids = Vec::with_capacity(k);
            for _ in 0..k {
                let id = MsgId::read(r)?;
                if ids.contains(&id) {
                    return Err(Error::Malformed);
                }
                ids.push(id);
            }
            total += k;
            if total > MAX_OWED_RECEIPTS {
                return Err(Error::Malformed);
            }
            owed.devices.insert(key, ids);
        }
        Ok(owed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(n: u8) -> (UserId, DeviceId) {
        (UserId::from_bytes([n; 32]), DeviceId::from_bytes([n; 16]))
    }

    #[test]
    fn owed_until_paid_once_each() {
        let mut o = OwedReceipts::new();
        let (u, d) = dev(1);
        assert!(o.owe(u, d, MsgId([1; 16])));
        assert!(!o.owe(u, d, MsgId([1; 16])));
        assert!(o.owe(u, d, MsgId([2; 16])));
        assert_eq!(o.len(), 2);
        assert!(!o.paid(dev(2).0, dev(2).1, &[MsgId([1; 16])]));
        assert!(o.paid(u, d, &[MsgId([1; 16])]));
        assert!(!o.paid(u, d, &[MsgId([1; 16])]));
        assert!(o.paid(u, d, &[MsgId([2; 16])]));
        assert!(o.is_empty());
    }

    #[test]
    fn bounded_and_the_device_owed_the_most_gives_way() {
        let mut o = OwedReceipts::new();
        let (u, d) = dev(1);
        let (v, e) = dev(2);
        o.owe(v, e, MsgId([0xee; 16]));
        for i in 0..MAX_OWED_RECEIPTS as u32 + 10 {
            let mut id = [0; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            o.owe(u, d, MsgId(id));
        }
        assert_eq!(o.len(), MAX_OWED_RECEIPTS);
        assert!(
            !o.owe(v, e, MsgId([0xee; 16])),
            "the other device keeps its receipt"
        );
    }

    #[test]
    fn encoding_round_trips_and_is_strict() {
        let mut o = OwedReceipts::new();
        o.owe(dev(1).0, dev(1).1, MsgId([1; 16]));
        o.owe(dev(1).0, dev(1).1, MsgId([2; 16]));
        o.owe(dev(2).0, dev(2).1, MsgId([3; 16]));
        let bytes = o.to_bytes();
        assert_eq!(OwedReceipts::from_bytes(&bytes), Ok(o));
        for len in 0..bytes.len() {
            assert!(OwedReceipts::from_bytes(&bytes[..len]).is_err());
        }
        assert_eq!(
            OwedReceipts::from_bytes(&OwedReceipts::new().to_bytes()),
            Ok(OwedReceipts::new())
        );
    }
}
