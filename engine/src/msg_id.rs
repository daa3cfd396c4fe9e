//! Message ids: random per message, stable across re-sends, the unit of exactly-once.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sealpost_core::Result;

use crate::codec::{Codec, Reader};

/// A message id (design section 3): chosen by the sending device, kept by every re-send
/// of the message, so receivers can de-duplicate by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgId(pub [u8; 16]);

impl MsgId {
    /// A fresh random id.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }
}

impl fmt::Debug for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MsgId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Codec for MsgId {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self(r.array()?))
    }
}
