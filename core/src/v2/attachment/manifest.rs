//! The manifest (PROTOCOL.md 26.5): everything a recipient needs to fetch, check and
//! decrypt a file, sent as the content of an end-to-end encrypted message with content
//! type [`super::CONTENT_TYPE`]. It is the only place the file key exists besides the
//! sender's memory, so the relay, which holds the chunks, can read none of them.
//!
//! ```text
//! manifest = "F" 0x01 || file_key[32] || u64(size) || plaintext_sha256[32]
//!            || n × chunk_address[32]          (n from size, PROTOCOL.md 26.2)
//!            || file info                       (PROTOCOL.md 26.4)
//! ```

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::error::FileError;
use super::info::{FileInfo, MAX_MEDIA_TYPE_LEN, MAX_NAME_LEN, MAX_THUMBNAIL_LEN};
use super::layout::{Layout, MAX_CHUNKS};
use crate::primitives::Key;
use crate::wire::Reader;

const MANIFEST_TAG: [u8; 2] = [b'F', 1];
/// Longest manifest: 256 chunk addresses, the longest name and media types, the largest
/// thumbnail and a duration (about 25 KB, far below a message's content limit).
pub const MAX_MANIFEST_LEN: usize = 2
    + 32
    + 8
    + 32
    + MAX_CHUNKS * 32
    + (1 + MAX_NAME_LEN)
    + (1 + MAX_MEDIA_TYPE_LEN)
    + 1
    + (1 + MAX_MEDIA_TYPE_LEN)
    + (2 + MAX_THUMBNAIL_LEN)
    + 4;

/// A shared file: key, chunk addresses, plaintext SHA-256 and description. Holds the
/// file key: its encoding is secret and its `Debug` shows no key.
#[derive(Clone)]
pub struct Manifest {
    key: Key,
    size: u64,
    layout: Layout,
    sha256: [u8; 32],
    addresses: Vec<[u8; 32]>,
    info: FileInfo,
}

impl Manifest {
    /// Assembled by the encryptor and the parser, which guarantee that `layout` is
    /// `size`'s and `addresses.len()` its chunk count.
    pub(super) fn new(
        key: Key,
        size: u64,
        layout: Layout,
        sha256: [u8; 32],
        addresses: Vec<[u8; 32]>,
        info: FileInfo,
    ) -> Self {
        Self {
            key,
            size,
            layout,
            sha256,
            addresses,
            info,
        }
    }

    /// Parses a manifest strictly (PROTOCOL.md 26.5): any deviation, including trailing
    /// bytes, is [`FileError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileError> {
        if bytes.len() > MAX_MANIFEST_LEN {
            return Err(FileError::Malformed);
        }
        let malformed = |_| FileError::Malformed;
        let mut r = Reader::new(bytes);
        if r.array::<2>().map_err(malformed)? != MANIFEST_TAG {
            return Err(FileError::Malformed);
        }
        let key = Zeroizing::new(r.array::<32>().map_err(malformed)?);
        let size = r.u64().map_err(malformed)?;
        let layout = Layout::for_size(size).map_err(|_| FileError::Malformed)?;
        let sha256 = r.array::<32>().map_err(malformed)?;
        let addresses = (0..layout.chunk_count())
            .map(|_| r.array::<32>())
            .collect::<crate::Result<Vec<_>>>()
            .map_err(malformed)?;
        let info = FileInfo::read(&mut r)?;
        r.finish().map_err(malformed)?;
        Ok(Self::new(key, size, layout, sha256, addresses, info))
    }

    /// The encoding (secret: it holds the file key).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, FileError> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            2 + 32 + 8 + 32 + 32 * self.addresses.len() + 300,
        ));
        out.extend_from_slice(&MANIFEST_TAG);
        out.extend_from_slice(self.key.as_ref());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.sha256);
        for a in &self.addresses {
            out.extend_from_slice(a);
        }
        self.info.encode(&mut out)?;
        Ok(out)
    }

    /// The file's exact size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// SHA-256 of the whole plaintext.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The chunks' addresses (SHA-256 of each chunk), in file order: what to fetch.
    pub fn chunk_addresses(&self) -> &[[u8; 32]] {
        &self.addresses
    }

    /// How the file is cut (chunk size and count, what the relay stores).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Name, media type, thumbnail, duration.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    pub(super) fn key(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manifest")
            .field("size", &self.size)
            .field("chunks", &self.addresses.len())
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}
