//! File fixtures (PROTOCOL.md 26): encrypt with the streaming API, and an independent
//! writer of chunks and manifests straight from the document (aes-gcm and sha2 only) to
//! forge what only a sender could make: chunks sealed at the wrong position or with the
//! wrong flag, manifests that lie.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand_chacha::ChaCha20Rng;
use sealpost_core::v2::attachment::{Decryptor, Encryptor, FileError, FileInfo, Manifest};
use sha2::{Digest, Sha256};

/// `plaintext[i] = i % 251`: the file of the vectors.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Encrypts `data` in pieces of `piece` bytes.
pub fn encrypt(
    rng: &mut ChaCha20Rng,
    data: &[u8],
    piece: usize,
    info: FileInfo,
) -> (Manifest, Vec<Vec<u8>>) {
    let enc = Encryptor::new(rng, data.len() as u64).unwrap();
    encrypt_with(enc, rng, data, piece, info)
}

/// Encrypts `data` in pieces of `piece` bytes with `enc` (made for `data.len()` bytes).
pub fn encrypt_with(
    mut enc: Encryptor,
    rng: &mut ChaCha20Rng,
    data: &[u8],
    piece: usize,
    info: FileInfo,
) -> (Manifest, Vec<Vec<u8>>) {
    let mut chunks = Vec::new();
    for mut rest in data.chunks(piece) {
        while !rest.is_empty() {
            let taken = enc.write(rest).unwrap();
            rest = &rest[taken..];
            if let Some(c) = enc.next_chunk(rng).unwrap() {
                chunks.push(c.bytes().to_vec());
            }
        }
    }
    while let Some(c) = enc.next_chunk(rng).unwrap() {
        chunks.push(c.bytes().to_vec());
    }
    (enc.finish(info).unwrap(), chunks)
}

/// Feeds `chunks` in order; the plaintext, or the first error.
pub fn decrypt(manifest: &Manifest, chunks: &[Vec<u8>]) -> Result<Vec<u8>, FileError> {
    let mut dec = Decryptor::new(manifest);
    let mut out = Vec::new();
    for c in chunks {
        out.extend_from_slice(dec.open_chunk(c)?);
    }
    dec.finish()?;
    Ok(out)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The file key: bytes 2..34 of the manifest (26.5).
pub fn file_key(manifest: &Manifest) -> [u8; 32] {
    manifest.to_bytes().unwrap()[2..34].try_into().unwrap()
}

/// A chunk as 26.3 writes it: `nonce || AES-GCM(key, nonce, "sealpost/v2/file-chunk" ||
/// u32(index) || u8(last), padded) || tag`, with a nonce from `seed`.
pub fn forge_chunk(key: &[u8; 32], index: u32, last: bool, padded: &[u8], seed: u8) -> Vec<u8> {
    let nonce = [seed; 12];
    let mut aad = b"sealpost/v2/file-chunk".to_vec();
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    let ct = Aes256Gcm::new(key.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: padded,
                aad: &aad,
            },
        )
        .unwrap();
    [nonce.as_slice(), &ct].concat()
}

/// `manifest` with its size, plaintext hash and addresses replaced (26.5 layout: the
/// file info after the addresses is kept).
pub fn rewrite_manifest(
    manifest: &Manifest,
    size: u64,
    sha256: [u8; 32],
    addresses: &[[u8; 32]],
) -> Vec<u8> {
    let bytes = manifest.to_bytes().unwrap();
    let info_at = 2 + 32 + 8 + 32 + 32 * manifest.chunk_addresses().len();
    let mut out = bytes[..34].to_vec();
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&sha256);
    for a in addresses {
        out.extend_from_slice(a);
    }
    out.extend_from_slice(&bytes[info_at..]);
    out
}
