//! Envelope v2 framing (design 2).
//!
//! ```text
//! envelope = 0x02 || recipient user_id[32] || recipient device_id[16]     (prefix, 49)
//!            || header_box[116] || init_block[init_len] || body_box[body_len] || padding
//! header_aad = prefix || SHA-256(everything after header_box)
//! ```
//! The total length is a size bucket (PROTOCOL.md 12.1). Only the prefix is in clear; the
//! header box authenticates everything else, so flipping any bit fails.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::padding;
use crate::primitives;
use crate::username::UserId;
use crate::v2::header::{HEADER_BOX_LEN, Header};
use crate::v2::ids::DeviceId;
use crate::wire::Reader;

/// The version byte of every envelope v2.
pub const VERSION: u8 = 2;
/// `version || recipient user_id || recipient device_id`: the part the relay reads.
pub const PREFIX_LEN: usize = 1 + UserId::LEN + DeviceId::LEN;

/// Which mailbox an envelope v2 is for (what a relay checks on deposit): the length
/// must be a bucket and the version 2, else [`Error::Malformed`].
pub fn envelope_recipient(envelope: &[u8]) -> Result<(UserId, DeviceId)> {
    if !padding::is_bucket(envelope.len()) {
        return Err(Error::Malformed);
    }
    let mut r = Reader::new(envelope);
    if r.u8()? != VERSION {
        return Err(Error::Malformed);
    }
    Ok((UserId(r.array()?), DeviceId::from_bytes(r.array()?)))
}

fn header_aad(prefix: &[u8], after_header_box: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(PREFIX_LEN + 32);
    aad.extend_from_slice(prefix);
    aad.extend_from_slice(&Sha256::digest(after_header_box));
    aad
}

/// Assembles an envelope: sets `header.init_len` and `header.body_len`, pads with
/// random bytes to the bucket, seals the header with `header_key`.
pub(crate) fn frame<R: CryptoRng + ?Sized>(
    rng: &mut R,
    recipient: &UserId,
    recipient_device: &DeviceId,
    header_key: &[u8; 32],
    header: &Header,
    init_block: &[u8],
    body_box: &[u8],
) -> Result<Vec<u8>> {
    let content = init_block.len().saturating_add(body_box.len());
    let total = (PREFIX_LEN + HEADER_BOX_LEN).saturating_add(content);
    let bucket = padding::bucket_for(total).ok_or(Error::TooLarge)?;
    let mut header = header.clone();
    header.init_len = u16::try_from(init_block.len()).map_err(|_| Error::TooLarge)?;
    header.body_len = u32::try_from(body_box.len()).map_err(|_| Error::TooLarge)?;
    let mut out = Vec::with_capacity(bucket);
    out.push(VERSION);
    out.extend_from_slice(recipient.as_bytes());
    out.extend_from_slice(recipient_device.as_bytes());
    let mut after = Vec::with_capacity(bucket - PREFIX_LEN - HEADER_BOX_LEN);
    after.extend_from_slice(init_block);
    after.extend_from_slice(body_box);
    let pad_start = after.len();
    after.resize(bucket - PREFIX_LEN - HEADER_BOX_LEN, 0);
    if let Some(pad) = after.get_mut(pad_start..) {
        rng.fill_bytes(pad);
    }
    let aad = header_aad(&out, &after);
    let header_box = primitives::seal(rng, header_key, &aad, &header.encode())?;
    out.extend_from_slice(&header_box);
    out.extend_from_slice(&after);
    Ok(out)
}

/// A framed envelope v2: right length and version, split at the header box, with the
/// header's associated data computed once (it hashes up to 1 MiB).
pub(crate) struct Framed<'a> {
    pub(crate) recipient: UserId,
    pub(crate) recipient_device: DeviceId,
    header_box: &'a [u8],
    /// Everything after the header box: init block, body box, padding.
    pub(crate) after: &'a [u8],
    aad: Vec<u8>,
}

/// A header that opened, with the init block and body box it describes.
pub(crate) struct OpenedHeader<'a> {
    pub(crate) header: Header,
    pub(crate) init_block: &'a [u8],
    pub(crate) body_box: &'a [u8],
}

impl<'a> Framed<'a> {
    pub(crate) fn parse(envelope: &'a [u8]) -> Result<Self> {
        let (recipient, recipient_device) = envelope_recipient(envelope)?;
        let (prefix, rest) = envelope
            .split_at_checked(PREFIX_LEN)
            .ok_or(Error::Malformed)?;
        let (header_box, after) = rest
            .split_at_checked(HEADER_BOX_LEN)
            .ok_or(Error::Malformed)?;
        Ok(Self {
            recipient,
            recipient_device,
            header_box,
            after,
            aad: header_aad(prefix, after),
        })
    }

    /// Opens the header box with `header_key` and checks that the lengths it states fit.
    pub(crate) fn open_header(&self, header_key: &[u8; 32]) -> Result<OpenedHeader<'a>> {
        let plain = primitives::open(header_key, &self.aad, self.header_box)?;
        let header = Header::decode(&plain).map_err(|_| Error::Decrypt)?;
        let init_len = usize::from(header.init_len);
        let body_len = usize::try_from(header.body_len).map_err(|_| Error::Decrypt)?;
        let (init_block, rest) = self
            .after
            .split_at_checked(init_len)
            .ok_or(Error::Decrypt)?;
        let body_box = rest.get(..body_len).ok_or(Error::Decrypt)?;
        Ok(OpenedHeader {
            header,
            init_block,
            body_box,
        })
    }
}
