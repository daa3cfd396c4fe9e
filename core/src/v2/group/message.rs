//! The group message (PROTOCOL.md 27.6): one blob, identical for every recipient device,
//! padded to an envelope bucket (12.1). Only the version byte is in clear; the group, the
//! chain, the epoch and the counter are in a header encrypted under the chain's header
//! key, so the relay that stores the blob in many mailboxes learns no group id.
//!
//! ```text
//! blob       = 0x03 || header_box[88] || body_box || padding
//! header_box = box(header_key, 0x03 || SHA-256(after), header[60])     after = blob[89..]
//! header     = group_id[16] || chain_id[16] || u64(epoch) || u64(counter) || u64(sent_at)
//!              || u32(body_len)
//! body_box   = box(mk, "sealpost/v2/group-body", payload || signature[64])
//! signature  = ECDSA-P256-SHA256(chain signing key,
//!              "sealpost/v2/group-message\0" || header[0..56] || payload)
//! ```

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::error::{GroupError, GroupResult};
use super::sender_key::SIGNATURE_LEN;
use crate::padding;
use crate::primitives::{self, NONCE_LEN, TAG_LEN};
use crate::v2::ids::{ChainId, GroupId};
use crate::wire::Reader;

/// First byte of every group message: apart from envelope v2 (`0x02`), which names one
/// recipient device in clear.
pub const GROUP_VERSION: u8 = 3;
/// Plaintext header length.
pub const GROUP_HEADER_LEN: usize = 60;
/// `12 + 60 + 16`.
pub const GROUP_HEADER_BOX_LEN: usize = NONCE_LEN + GROUP_HEADER_LEN + TAG_LEN;
/// Bytes before the body box.
pub(super) const PREFIX: usize = 1 + GROUP_HEADER_BOX_LEN;
/// Bytes a message adds to its payload before padding: prefix, body box, signature.
pub const GROUP_OVERHEAD: usize = PREFIX + NONCE_LEN + TAG_LEN + SIGNATURE_LEN;

const BODY_AAD: &[u8] = b"sealpost/v2/group-body";
const SIGNATURE_DOMAIN: &[u8] = b"sealpost/v2/group-message\0";
/// `group_id || chain_id || epoch || counter || sent_at`: the signed part of the header.
const SIGNED_HEADER_LEN: usize = 56;

/// A group message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) group_id: GroupId,
    pub(super) chain_id: ChainId,
    pub(super) epoch: u64,
    pub(super) counter: u64,
    pub(super) sent_at: u64,
    pub(super) body_len: u32,
}

impl Header {
    fn encode(&self) -> [u8; GROUP_HEADER_LEN] {
        let mut out = [0u8; GROUP_HEADER_LEN];
        let fields: [&[u8]; 6] = [
            self.group_id.as_bytes(),
            self.chain_id.as_bytes(),
            &self.epoch.to_be_bytes(),
            &self.counter.to_be_bytes(),
            &self.sent_at.to_be_bytes(),
            &self.body_len.to_be_bytes(),
        ];
        let mut at = 0;
        for f in fields {
            if let Some(dst) = out.get_mut(at..at + f.len()) {
                dst.copy_from_slice(f);
            }
            at += f.len();
        }
        out
    }

    fn decode(bytes: &[u8]) -> GroupResult<Self> {
        let mut r = Reader::new(bytes);
        let h = Self {
            group_id: GroupId::from_bytes(r.array()?),
            chain_id: ChainId::from_bytes(r.array()?),
            epoch: r.u64()?,
            counter: r.u64()?,
            sent_at: r.u64()?,
            body_len: r.u32()?,
        };
        r.finish()?;
        Ok(h)
    }

    /// What the chain's signing key signs: the header's identifying fields and the payload.
    pub(super) fn signing_input(&self, payload: &[u8]) -> Vec<u8> {
        let header = self.encode();
        let mut input =
            Vec::with_capacity(SIGNATURE_DOMAIN.len() + SIGNED_HEADER_LEN + payload.len());
        input.extend_from_slice(SIGNATURE_DOMAIN);
        input.extend_from_slice(header.get(..SIGNED_HEADER_LEN).unwrap_or_default());
        input.extend_from_slice(payload);
        input
    }
}

/// Frames a message: `body_box` under `mk`, the header under `header_key`, padding to the
/// bucket of the whole.
pub(super) fn frame<R: CryptoRng + ?Sized>(
    rng: &mut R,
    header_key: &[u8; 32],
    mk: &[u8; 32],
    mut header: Header,
    payload: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> GroupResult<Vec<u8>> {
    let total = payload
        .len()
        .checked_add(GROUP_OVERHEAD)
        .ok_or(GroupError::TooLarge)?;
    let bucket = padding::bucket_for(total).ok_or(GroupError::TooLarge)?;
    let mut plain = Zeroizing::new(Vec::with_capacity(payload.len() + SIGNATURE_LEN));
    plain.extend_from_slice(payload);
    plain.extend_from_slice(signature);
    let body = primitives::seal(rng, mk, BODY_AAD, &plain)?;
    header.body_len = u32::try_from(body.len()).map_err(|_| GroupError::TooLarge)?;
    let mut after = body;
    let mut pad = alloc::vec![0u8; bucket - total];
    rng.fill_bytes(&mut pad);
    after.extend_from_slice(&pad);
    let header_box = primitives::seal(rng, header_key, &header_aad(&after), &header.encode())?;
    let mut blob = Vec::with_capacity(bucket);
    blob.push(GROUP_VERSION);
    blob.extend_from_slice(&header_box);
    blob.extend_from_slice(&after);
    Ok(blob)
}

/// `0x03 || SHA-256(after)`: the header box authenticates every byte of the blob.
fn header_aad(after: &[u8]) -> [u8; 33] {
    let mut aad = [0u8; 33];
    aad[0] = GROUP_VERSION;
    if let Some(dst) = aad.get_mut(1..) {
        dst.copy_from_slice(&Sha256::digest(after));
    }
    aad
}

/// A blob split for opening: its header box and the bytes after it.
pub(super) struct Framed<'a> {
    header_box: &'a [u8],
    after: &'a [u8],
    aad: [u8; 33],
}

impl<'a> Framed<'a> {
    /// A bucket length and the group version, else [`GroupError::Malformed`].
    pub(super) fn parse(blob: &'a [u8]) -> GroupResult<Self> {
        if !padding::is_bucket(blob.len()) || blob.first() != Some(&GROUP_VERSION) {
            return Err(GroupError::Malformed);
        }
        let header_box = blob.get(1..PREFIX).ok_or(GroupError::Malformed)?;
        let after = blob.get(PREFIX..).ok_or(GroupError::Malformed)?;
        Ok(Self {
            header_box,
            after,
            aad: header_aad(after),
        })
    }

    /// The header, if it opens under `header_key` and is consistent with the blob.
    pub(super) fn header(&self, header_key: &[u8; 32]) -> Option<Header> {
        let plain = primitives::open(header_key, &self.aad, self.header_box).ok()?;
        let h = Header::decode(&plain).ok()?;
        let body_len = usize::try_from(h.body_len).ok()?;
        (body_len >= NONCE_LEN + TAG_LEN + SIGNATURE_LEN && body_len <= self.after.len())
            .then_some(h)
    }

    /// `(payload, signature)` from the body box under `mk`.
    pub(super) fn body(
        &self,
        header: &Header,
        mk: &[u8; 32],
    ) -> GroupResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        let body_len = usize::try_from(header.body_len).map_err(|_| GroupError::Decrypt)?;
        let body = self.after.get(..body_len).ok_or(GroupError::Decrypt)?;
        let mut plain = primitives::open(mk, BODY_AAD, body)?;
        let at = plain
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(GroupError::Decrypt)?;
        let signature = plain.split_off(at);
        Ok((plain, signature))
    }
}
