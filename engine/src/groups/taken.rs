//! The operations a device took for one group (PROTOCOL.md 27.4 "Late operations"): those
//! it applied, entered in a race, or reported, by epoch and SHA-256. A validly signed
//! operation for an epoch this device passed that is not among them is one it never saw
//! (the relay held it back past a later one, or its signer was on another state): the
//! members may have split, which is reported (`GROUP_FORKED`). One among them is a copy (a
//! re-send after a crash, a relay's replay in a fresh envelope) and changes nothing,
//! silently. Only [`MAX_TAKEN`] are kept with their epochs, those of the latest epochs;
//! the 16-byte digests of the [`MAX_OLD_TAKEN`] forgotten last are kept too, so a copy of
//! one of them is still known as a copy. An operation older than all of them cannot be
//! told from a copy, and is reported as such (`GROUP_TOO_OLD`), never dropped in silence.

use alloc::vec::Vec;

use sealpost_core::v2::group::GroupOp;
use sealpost_core::{Error, Result};

use crate::codec::Reader;

/// Operations remembered per group with their epochs (40 bytes each).
pub const MAX_TAKEN: usize = 64;
/// Operations forgotten from those, still known by a 16-byte digest (a copy of one is
/// silent: finding another signed operation with the same first 16 bytes of SHA-256 is
/// out of reach), the oldest forgotten first.
pub const MAX_OLD_TAKEN: usize = 448;

/// See the module documentation.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Taken {
    /// `(epoch, SHA-256 of the operation)`, oldest first.
    ops: Vec<(u64, [u8; 32])>,
    /// Some were forgotten to stay within [`MAX_TAKEN`] (always one of the oldest epoch
    /// kept): that epoch, and every one before it, may be incomplete.
    dropped: bool,
    /// The first 16 bytes of the SHA-256 of operations forgotten from `ops`, the oldest
    /// forgotten first: copies, not epochs (`covers` does not count them).
    old: Vec<[u8; 16]>,
}

impl Taken {
    /// Starting with `op` (the create or add that brought this device in).
    pub fn from_op(op: &GroupOp) -> Self {
        let mut taken = Self::default();
        taken.take(op);
        taken
    }

    /// Remembers `op`.
    pub fn take(&mut self, op: &GroupOp) {
        if self.has(op) {
            return;
        }
        if self.ops.len() >= MAX_TAKEN {
            // The one of the oldest epoch goes (not the first taken: a late operation
            // taken last may be older), so every epoch after the oldest kept stays whole.
            let oldest = (0..self.ops.len()).min_by_key(|i| self.ops.get(*i).map(|(e, _)| *e));
            if let Some(i) = oldest {
                let (_, digest) = self.ops.remove(i);
                if self.old.len() >= MAX_OLD_TAKEN {
                    self.old.remove(0);
                }
                self.old.push(short(&digest));
            }
            self.dropped = true;
        }
        self.ops.push((op.epoch(), op.digest()));
    }

    /// Whether `op` was taken before.
    pub fn has(&self, op: &GroupOp) -> bool {
        let digest = op.digest();
        self.ops.iter().any(|(_, d)| *d == digest) || self.old.contains(&short(&digest))
    }

    /// Whether every operation this device took for `epoch` is remembered, so one not
    /// among them is one it never saw.
    pub fn covers(&self, epoch: u64) -> bool {
        let oldest = self.ops.iter().map(|(e, _)| *e).min();
        oldest.is_some_and(|o| epoch > o || (epoch == o && !self.dropped))
    }

    /// `u8(dropped) || u16(n) || n × (u64(epoch) || digest[32])`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.dropped));
        let n = u16::try_from(self.ops.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for (epoch, digest) in &self.ops {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(digest);
        }
    }

    /// `u16(n) || n × digest[16]`: the forgotten ones (a later trailing part).
    pub(crate) fn encode_old(&self, out: &mut Vec<u8>) {
        let n = u16::try_from(self.old.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for digest in &self.old {
            out.extend_from_slice(digest);
        }
    }

    /// Reads [`Taken::encode_old`]; only after some were forgotten.
    pub(crate) fn read_old(&mut self, r: &mut Reader<'_>) -> Result<()> {
        let n = r.count16(MAX_OLD_TAKEN, 16)?;
        if n > 0 && !self.dropped {
            return Err(Error::Malformed);
        }
        self.old = (0..n).map(|_| r.array()).collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let dropped = r.bool()?;
        let n = r.count16(MAX_TAKEN, 40)?;
        let ops = (0..n)
            .map(|_| Ok((r.u64()?, r.array()?)))
            .collect::<Result<Vec<_>>>()?;
        if ops.is_empty() && dropped {
            return Err(Error::Malformed);
        }
        Ok(Self {
            ops,
            dropped,
            old: Vec::new(),
        })
    }
}

fn short(digest: &[u8; 32]) -> [u8; 16] {
    let mut s = [0; 16];
    s.copy_from_slice(&digest[..16]);
    s
}
