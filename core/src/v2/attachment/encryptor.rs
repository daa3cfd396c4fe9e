//! Streaming encryption (PROTOCOL.md 26.6, sender): plaintext goes in in pieces of any
//! size, chunks come out one at a time, and memory stays at one chunk whatever the file
//! size. The size must be known up front because it picks the chunk size.
//!
//! ```text
//! let mut enc = Encryptor::new(rng, size)?;
//! for piece in pieces {
//!     let mut rest = piece;
//!     while !rest.is_empty() {
//!         let taken = enc.write(rest)?;
//!         rest = &rest[taken..];
//!         if let Some(chunk) = enc.next_chunk(rng)? { upload(chunk.address(), chunk.bytes()) }
//!     }
//! }
//! while let Some(chunk) = enc.next_chunk(rng)? { upload(...) }   // the last chunk
//! let manifest = enc.finish(info)?;
//! ```
//!
//! [`Encryptor::resumable`] seals the same file under the same key into the same chunks
//! (nonces derived from the key and the file's bytes, 26.6), so an upload cut off with
//! the page that made it can start again and skip the chunks the relay has.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::chunk;
use super::error::FileError;
use super::info::FileInfo;
use super::layout::{CHUNK_OVERHEAD, Layout};
use super::manifest::Manifest;
use crate::primitives::{Key, NONCE_LEN, hmac, random_key};

/// Domain separation of the nonce key and of each derived nonce (PROTOCOL.md 26.6).
const NONCE_KEY_LABEL: &[u8] = b"sealpost/v2/file-nonce-key";
const NONCE_LABEL: &[u8; 22] = b"sealpost/v2/file-nonce";

/// Encrypts one file under a fresh random key (or a given one, [`Encryptor::resumable`]).
pub struct Encryptor {
    key: Key,
    /// Set by [`Encryptor::resumable`]: chunk nonces are derived with it; random otherwise.
    nonce_key: Option<Key>,
    size: u64,
    layout: Layout,
    written: u64,
    /// The chunk being filled (equals the number of chunks sealed so far).
    index: u32,
    /// Plaintext bytes of chunk `index` in `buffer` so far.
    filled: usize,
    /// One whole chunk: nonce, plaintext then ciphertext, tag.
    buffer: Zeroizing<Vec<u8>>,
    hasher: Sha256,
    addresses: Vec<[u8; 32]>,
}

/// One sealed chunk, borrowed from the encryptor until the next write.
pub struct EncryptedChunk<'a> {
    index: u32,
    address: [u8; 32],
    bytes: &'a [u8],
}

impl EncryptedChunk<'_> {
    /// Position in the file.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// SHA-256 of the chunk: its name on the relay.
    pub fn address(&self) -> &[u8; 32] {
        &self.address
    }

    /// The chunk as uploaded (`chunk_size + 28` bytes).
    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl fmt::Debug for EncryptedChunk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedChunk")
            .field("index", &self.index)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts a file of exactly `size` bytes with a fresh key;
    /// [`FileError::TooLarge`] above [`super::MAX_FILE_LEN`].
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R, size: u64) -> Result<Self, FileError> {
        Self::start(random_key(rng), None, size)
    }

    /// Starts a file of exactly `size` bytes under `key` (a fresh random key the caller
    /// keeps, secret like the manifest), with each chunk's nonce derived from the key, the
    /// chunk's index and the SHA-256 of the file up to the chunk's end (PROTOCOL.md
    /// 26.6): the same bytes under the same key give the same chunks and addresses, so an
    /// upload started again after its page closed skips what the relay has; other bytes
    /// give other nonces, never one nonce for two plaintexts.
    pub fn resumable(key: [u8; 32], size: u64) -> Result<Self, FileError> {
        let nonce_key = hmac(&key, NONCE_KEY_LABEL).map_err(|_| FileError::Crypto)?;
        Self::start(Key::new(key), Some(nonce_key), size)
    }

    fn start(key: Key, nonce_key: Option<Key>, size: u64) -> Result<Self, FileError> {
        let layout = Layout::for_size(size)?;
        let count = usize::try_from(layout.chunk_count()).map_err(|_| FileError::TooLarge)?;
        Ok(Self {
            key,
            nonce_key,
            size,
            layout,
            written: 0,
            index: 0,
            filled: 0,
            buffer: Zeroizing::new(vec![0u8; layout.chunk_len()]),
            hasher: Sha256::new(),
            addresses: Vec::with_capacity(count),
        })
    }

    /// How the file is cut.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Takes bytes from the front of `data` up to the end of the current chunk and
    /// returns how many it took: 0 while a full chunk waits for [`Encryptor::next_chunk`].
    /// [`FileError::TooLarge`] (nothing taken) if `data` would go past the size given to
    /// [`Encryptor::new`].
    pub fn write(&mut self, data: &[u8]) -> Result<usize, FileError> {
        let after = u64::try_from(data.len())
            .ok()
            .and_then(|n| self.written.checked_add(n))
            .ok_or(FileError::TooLarge)?;
        if after > self.size {
            return Err(FileError::TooLarge);
        }
        let room = self.layout.chunk_size().saturating_sub(self.filled);
        let take = room.min(data.len());
        let start = NONCE_LEN + self.filled;
        let (Some(piece), Some(dst)) = (data.get(..take), self.buffer.get_mut(start..start + take))
        else {
            return Ok(0);
        };
        dst.copy_from_slice(piece);
        self.hasher.update(piece);
        self.filled += take;
        self.written += take as u64;
        Ok(take)
    }

    /// Seals the current chunk once its plaintext is complete (full, or the last chunk
    /// with every byte written) and returns it; `None` while it is not.
    pub fn next_chunk<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<Option<EncryptedChunk<'_>>, FileError> {
        let index = self.index;
        let last = self.layout.is_last(index);
        let complete =
            self.filled == self.layout.chunk_size() || (last && self.written == self.size);
        if index >= self.layout.chunk_count() || !complete {
            return Ok(None);
        }
        let pad_start = NONCE_LEN + self.filled;
        let pad_end = self.buffer.len().saturating_sub(CHUNK_OVERHEAD - NONCE_LEN);
        if let Some(padding) = self.buffer.get_mut(pad_start..pad_end) {
            padding.fill(0);
        }
        let mut nonce = [0u8; NONCE_LEN];
        match &self.nonce_key {
            Some(k) => {
                // HMAC(nonce_key, label || u32(index) || u8(last) || SHA-256(file bytes so far)).
                let mut input = [0u8; 59];
                let (label, rest) = input.split_at_mut(NONCE_LABEL.len());
                let (i, rest) = rest.split_at_mut(4);
                let (flag, prefix) = rest.split_at_mut(1);
                label.copy_from_slice(NONCE_LABEL);
                i.copy_from_slice(&index.to_be_bytes());
                flag.copy_from_slice(&[u8::from(last)]);
                prefix.copy_from_slice(&self.hasher.clone().finalize());
                let mac = hmac(k, &input).map_err(|_| FileError::Crypto)?;
                nonce.copy_from_slice(mac.get(..NONCE_LEN).ok_or(FileError::Crypto)?);
            }
            None => rng.fill_bytes(&mut nonce),
        }
        chunk::seal(&nonce, &self.key, index, last, &mut self.buffer).ok_or(FileError::Crypto)?;
        let address: [u8; 32] = Sha256::digest(self.buffer.as_slice()).into();
        self.addresses.push(address);
        self.index += 1;
        self.filled = 0;
        Ok(Some(EncryptedChunk {
            index,
            address,
            bytes: &self.buffer,
        }))
    }

    /// The manifest, once every chunk was taken; [`FileError::Incomplete`] before.
    pub fn finish(self, info: FileInfo) -> Result<Manifest, FileError> {
        if self.index < self.layout.chunk_count() {
            return Err(FileError::Incomplete);
        }
        Ok(Manifest::new(
            self.key,
            self.size,
            self.layout,
            self.hasher.finalize().into(),
            self.addresses,
            info,
        ))
    }
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("layout", &self.layout)
            .field("written", &self.written)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}
