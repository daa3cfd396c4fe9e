//! One chunk (PROTOCOL.md 26.3): `nonce[12] || AES-256-GCM(file_key, nonce, aad, padded
//! plaintext) || tag[16]`, with `aad = "sealpost/v2/file-chunk" || u32(index) ||
//! u8(last)`. The index stops reordering and substitution within a file, the last flag
//! truncation and extension; the fresh key per file stops mixing chunks across files.
//!
//! Both functions work in place on one chunk-sized buffer, so neither side ever holds
//! more than one chunk.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};

use crate::primitives::{NONCE_LEN, TAG_LEN};

const CHUNK_AAD: &[u8; 22] = b"sealpost/v2/file-chunk";

fn aad(index: u32, last: bool) -> [u8; 27] {
    let mut out = [0u8; 27];
    let (prefix, rest) = out.split_at_mut(CHUNK_AAD.len());
    prefix.copy_from_slice(CHUNK_AAD);
    let (idx, flag) = rest.split_at_mut(4);
    idx.copy_from_slice(&index.to_be_bytes());
    flag.copy_from_slice(&[u8::from(last)]);
    out
}

/// Seals `chunk` in place under `nonce`: on entry `chunk[12..len-16]` is the padded
/// plaintext; on return `chunk` is the whole chunk. `None` if `chunk` is shorter than
/// nonce and tag or AES-GCM refuses.
pub(super) fn seal(
    nonce: &[u8; NONCE_LEN],
    key: &[u8; 32],
    index: u32,
    last: bool,
    chunk: &mut [u8],
) -> Option<()> {
    let (head, rest) = chunk.split_at_mut_checked(NONCE_LEN)?;
    let body_len = rest.len().checked_sub(TAG_LEN)?;
    let (body, tag) = rest.split_at_mut(body_len);
    head.copy_from_slice(nonce);
    let nonce = Nonce::from(*nonce);
    let computed = Aes256Gcm::new(key.into())
        .encrypt_inout_detached(&nonce, &aad(index, last), body.into())
        .ok()?;
    tag.copy_from_slice(&computed);
    Some(())
}

/// Opens `chunk` into `out` (exactly `chunk.len() - 28` bytes). `None` if the lengths do
/// not fit or the tag does not verify for this index and flag; `out` is then zeroed.
pub(super) fn open(
    key: &[u8; 32],
    index: u32,
    last: bool,
    chunk: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let (nonce, rest) = chunk.split_at_checked(NONCE_LEN)?;
    let body_len = rest.len().checked_sub(TAG_LEN)?;
    let (body, tag) = rest.split_at(body_len);
    if out.len() != body.len() {
        return None;
    }
    out.copy_from_slice(body);
    let nonce = Nonce::try_from(nonce).ok()?;
    let tag = Tag::try_from(tag).ok()?;
    let opened = Aes256Gcm::new(key.into()).decrypt_inout_detached(
        &nonce,
        &aad(index, last),
        (&mut *out).into(),
        &tag,
    );
    if opened.is_err() {
        out.fill(0);
        return None;
    }
    Some(())
}
