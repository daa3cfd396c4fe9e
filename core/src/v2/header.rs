//! The encrypted 88-byte header of an envelope v2 (design 2).
//!
//! ```text
//! kind u8 (2: carries the init block, 3: session only) || flags u8 (= 0)
//! || sender user_id[32] || sender device_id[16] || session[16]
//! || counter u64 || sent_at u64 || init_len u16 || body_len u32
//! ```

use crate::error::{Error, Result};
use crate::primitives::{NONCE_LEN, TAG_LEN};
use crate::username::UserId;
use crate::v2::ids::{DeviceId, SessionId};
use crate::wire::Reader;

/// Plaintext header length.
pub const HEADER_LEN: usize = 88;
/// Encrypted header length: nonce, header, tag.
pub const HEADER_BOX_LEN: usize = NONCE_LEN + HEADER_LEN + TAG_LEN;

/// Header kind of a message that carries its session's init block.
pub(crate) const KIND_INIT: u8 = 2;
/// Header kind of a message that does not.
pub(crate) const KIND_SESSION: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// [`KIND_INIT`] or [`KIND_SESSION`].
    pub(crate) kind: u8,
    pub(crate) sender: UserId,
    pub(crate) sender_device: DeviceId,
    pub(crate) session: SessionId,
    pub(crate) counter: u64,
    pub(crate) sent_at: u64,
    pub(crate) init_len: u16,
    pub(crate) body_len: u32,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let parts: [&[u8]; 9] = [
            &[self.kind],
            &[0],
            self.sender.as_bytes(),
            self.sender_device.as_bytes(),
            self.session.as_bytes(),
            &self.counter.to_be_bytes(),
            &self.sent_at.to_be_bytes(),
            &self.init_len.to_be_bytes(),
            &self.body_len.to_be_bytes(),
        ];
        let mut at = 0;
        for part in parts {
            if let Some(dst) = out.get_mut(at..at + part.len()) {
                dst.copy_from_slice(part);
            }
            at += part.len();
        }
        out
    }

    /// Decodes a header that opened: unknown kind, non-zero flags or a kind-3 header
    /// with an init block are [`Error::Decrypt`] (nothing after framing says more).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let kind = r.u8()?;
        let flags = r.u8()?;
        let h = Header {
            kind,
            sender: UserId(r.array()?),
            sender_device: DeviceId::from_bytes(r.array()?),
            session: SessionId::from_bytes(r.array()?),
            counter: r.u64()?,
            sent_at: r.u64()?,
            init_len: r.u16()?,
            body_len: r.u32()?,
        };
        r.finish().map_err(|_| Error::Decrypt)?;
        let kind_ok = match kind {
            KIND_INIT => h.init_len > 0,
            KIND_SESSION => h.init_len == 0,
            _ => false,
        };
        if !kind_ok || flags != 0 {
            return Err(Error::Decrypt);
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header {
            kind: KIND_INIT,
            sender: UserId([1; 32]),
            sender_device: DeviceId::from_bytes([2; 16]),
            session: SessionId::from_bytes([3; 16]),
            counter: 4,
            sent_at: 5,
            init_len: 6,
            body_len: 7,
        };
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes).unwrap(), h);
        assert_eq!(bytes[HEADER_LEN - 1], 7);
        let mut bad = bytes;
        bad[1] = 1;
        assert_eq!(Header::decode(&bad), Err(Error::Decrypt));
        let mut bad = bytes;
        bad[0] = 1;
        assert_eq!(Header::decode(&bad), Err(Error::Decrypt));
        let kind3 = Header {
            kind: KIND_SESSION,
            ..h
        };
        assert_eq!(Header::decode(&kind3.encode()), Err(Error::Decrypt));
    }
}
