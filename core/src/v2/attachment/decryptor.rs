//! Streaming decryption (PROTOCOL.md 26.7, recipient): chunks go in in file order, each
//! checked against its address and opened at its position; plaintext comes out one chunk
//! at a time. [`Decryptor::finish`] checks that nothing is missing and the whole
//! plaintext's SHA-256, so a caller keeps what it got aside (never shown, never saved
//! under its name) until `finish` succeeds.
//!
//! A chunk that fails leaves the decryptor where it was: after
//! [`FileError::ChunkAddress`] the caller may fetch the same chunk again.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::chunk;
use super::error::FileError;
use super::layout::Layout;
use super::manifest::Manifest;
use crate::primitives::Key;

/// Decrypts one file described by a manifest. Holds one chunk's plaintext (at most
/// 4 MiB) and the chunk addresses; the caller holds the one chunk it passes in.
pub struct Decryptor {
    key: Key,
    layout: Layout,
    sha256: [u8; 32],
    addresses: Vec<[u8; 32]>,
    /// The next chunk expected.
    index: u32,
    /// One chunk's plaintext (padding included).
    buffer: Zeroizing<Vec<u8>>,
    hasher: Sha256,
}

impl Decryptor {
    /// Starts decrypting the file `manifest` describes.
    pub fn new(manifest: &Manifest) -> Self {
        let layout = manifest.layout();
        Self {
            key: Zeroizing::new(*manifest.key()),
            layout,
            sha256: *manifest.sha256(),
            addresses: manifest.chunk_addresses().to_vec(),
            index: 0,
            buffer: Zeroizing::new(vec![0u8; layout.chunk_size()]),
            hasher: Sha256::new(),
        }
    }

    /// The address of the next chunk to fetch; `None` once every chunk was opened.
    pub fn next_address(&self) -> Option<&[u8; 32]> {
        self.upcoming(0)
    }

    /// The address of the chunk `ahead` places after the next one; `None` past the end.
    /// A downloader fetches a few chunks ahead while it opens the next, in order.
    pub fn upcoming(&self, ahead: u32) -> Option<&[u8; 32]> {
        let index = self.index.checked_add(ahead)?;
        self.addresses.get(usize::try_from(index).ok()?)
    }

    /// Checks and opens the next chunk and returns its file bytes (padding removed).
    /// Integrity errors: [`FileError::ChunkAddress`] (not the bytes named by the
    /// manifest), [`FileError::ChunkOpen`] (named, but not sealed at this position by
    /// the sender), [`FileError::Extended`] (every chunk was already opened).
    pub fn open_chunk(&mut self, bytes: &[u8]) -> Result<&[u8], FileError> {
        let index = self.index;
        let address = self.next_address().ok_or(FileError::Extended)?;
        if Sha256::digest(bytes).as_slice() != address.as_slice() {
            return Err(FileError::ChunkAddress { index });
        }
        let last = self.layout.is_last(index);
        chunk::open(&self.key, index, last, bytes, &mut self.buffer)
            .ok_or(FileError::ChunkOpen { index })?;
        let len = self.layout.plain_len(index);
        let (plain, padding) = self
            .buffer
            .split_at_checked(len)
            .ok_or(FileError::ChunkOpen { index })?;
        if padding.iter().any(|&b| b != 0) {
            return Err(FileError::ChunkOpen { index });
        }
        self.hasher.update(plain);
        self.index += 1;
        Ok(plain)
    }

    /// Succeeds only if every chunk was opened and the plaintext's SHA-256 is the
    /// manifest's: [`FileError::Truncated`] or [`FileError::PlaintextHash`] otherwise.
    pub fn finish(self) -> Result<(), FileError> {
        if self.index < self.layout.chunk_count() {
            return Err(FileError::Truncated);
        }
        let digest: [u8; 32] = self.hasher.finalize().into();
        if digest != self.sha256 {
            return Err(FileError::PlaintextHash);
        }
        Ok(())
    }
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("layout", &self.layout)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}
