//! Chunk sizes (PROTOCOL.md 26.2): which of a few fixed sizes a file is cut into, so that
//! the relay learns only `chunk count × chunk size`, never the exact size.
//!
//! Sizes are the powers of 4 from 1 KiB to 4 MiB; a file takes the smallest size that
//! needs at most [`CHUNKS_PER_SIZE`] chunks, and 4 MiB chunks above 64 MiB. So padding
//! is less than one chunk: under 1 KiB up to 16 KiB, and under a quarter of the file
//! above (16 chunks of one size + 1 byte is 5 chunks of the next), plus 28 bytes per
//! chunk; memory on either side is one chunk (at
//! most 4 MiB), a 20 MB file is 5 chunks and a 100 MB one 24, while small files and voice
//! notes stay small (a 3 KB file is three 1 KiB chunks). Seven sizes keep the sets of
//! same-size chunks large.

use super::error::FileError;
use crate::primitives::{NONCE_LEN, TAG_LEN};

/// Plaintext bytes per chunk, smallest first.
pub const CHUNK_SIZES: [usize; 7] = [
    1 << 10,
    1 << 12,
    1 << 14,
    1 << 16,
    1 << 18,
    1 << 20,
    1 << 22,
];
/// A file takes the smallest chunk size that needs at most this many chunks.
pub const CHUNKS_PER_SIZE: u64 = 16;
/// Largest file: 256 chunks of 4 MiB. (The relay may accept less; the default is
/// 100 MB.)
pub const MAX_FILE_LEN: u64 = 1 << 30;
/// Most chunks in one file.
pub const MAX_CHUNKS: usize = 256;
/// What a chunk adds to its plaintext: nonce and tag of its AES-GCM box.
pub const CHUNK_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// How a file of a given size is cut: the same for sender and receiver, derived from the
/// size alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    chunk_size: usize,
    chunk_count: u32,
    last_len: usize,
}

impl Layout {
    /// The layout of a file of `size` bytes; [`FileError::TooLarge`] above
    /// [`MAX_FILE_LEN`]. An empty file is one chunk of padding.
    pub fn for_size(size: u64) -> Result<Self, FileError> {
        if size > MAX_FILE_LEN {
            return Err(FileError::TooLarge);
        }
        let mut chosen = None;
        for chunk_size in CHUNK_SIZES {
            let step = u64::try_from(chunk_size).map_err(|_| FileError::TooLarge)?;
            let count = size.div_ceil(step).max(1);
            chosen = Some((chunk_size, step, count));
            if count <= CHUNKS_PER_SIZE {
                break;
            }
        }
        let (chunk_size, step, count) = chosen.ok_or(FileError::TooLarge)?;
        let chunk_count = u32::try_from(count).map_err(|_| FileError::TooLarge)?;
        let before_last = (count - 1).saturating_mul(step);
        let last_len = usize::try_from(size - before_last).map_err(|_| FileError::TooLarge)?;
        Ok(Self {
            chunk_size,
            chunk_count,
            last_len,
        })
    }

    /// Plaintext bytes per chunk (the last chunk is padded with zeros to this).
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Bytes of every chunk on the relay: `chunk_size + 28`.
    pub fn chunk_len(&self) -> usize {
        self.chunk_size + CHUNK_OVERHEAD
    }

    /// Number of chunks (1 to [`MAX_CHUNKS`]).
    pub fn chunk_count(&self) -> u32 {
        self.chunk_count
    }

    /// File bytes in the last chunk (0 only for an empty file).
    pub fn last_len(&self) -> usize {
        self.last_len
    }

    /// What the relay stores: `chunk_count × chunk_len`.
    pub fn stored_len(&self) -> u64 {
        u64::from(self.chunk_count).saturating_mul(self.chunk_len() as u64)
    }

    /// File bytes in chunk `index`.
    pub(crate) fn plain_len(&self, index: u32) -> usize {
        if self.is_last(index) {
            self.last_len
        } else {
            self.chunk_size
        }
    }

    /// Whether chunk `index` is the last one.
    pub(crate) fn is_last(&self, index: u32) -> bool {
        index.saturating_add(1) == self.chunk_count
    }
}

/// Whether `len` is the length of a chunk of some file (what a relay checks on upload).
pub fn is_chunk_len(len: usize) -> bool {
    CHUNK_SIZES.iter().any(|s| s + CHUNK_OVERHEAD == len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: u64) -> (usize, u32, usize) {
        let l = Layout::for_size(size).unwrap();
        (l.chunk_size(), l.chunk_count(), l.last_len())
    }

    #[test]
    fn sizes_follow_the_rule() {
        assert_eq!(layout(0), (1024, 1, 0));
        assert_eq!(layout(1), (1024, 1, 1));
        assert_eq!(layout(2500), (1024, 3, 452));
        assert_eq!(layout(16 * 1024), (1024, 16, 1024));
        assert_eq!(layout(16 * 1024 + 1), (4096, 5, 1));
        assert_eq!(layout(20_000_000), (1 << 22, 5, 20_000_000 - 4 * (1 << 22)));
        assert_eq!(layout(100_000_000).1, 24);
        assert_eq!(layout(MAX_FILE_LEN), (1 << 22, 256, 1 << 22));
        assert_eq!(Layout::for_size(MAX_FILE_LEN + 1), Err(FileError::TooLarge));
        assert_eq!(Layout::for_size(u64::MAX), Err(FileError::TooLarge));
    }

    #[test]
    fn padding_costs_less_than_a_chunk_and_a_quarter_above_16_kib() {
        for size in 0..=16 * 1024u64 {
            let l = Layout::for_size(size).unwrap();
            assert!(u64::from(l.chunk_count()) * 1024 - size < 1024 || size == 0);
        }
        for size in [
            16 * 1024 + 1,
            64 * 1024 + 1,
            1 << 20,
            (64 << 20) + 1,
            100_000_000,
        ] {
            let l = Layout::for_size(size).unwrap();
            let padded = u64::from(l.chunk_count()) * l.chunk_size() as u64;
            assert!(padded * 4 <= size * 5, "{size}: {padded}");
        }
    }

    #[test]
    fn chunk_lengths_are_recognised() {
        assert!(is_chunk_len(1024 + 28));
        assert!(is_chunk_len((1 << 22) + 28));
        assert!(!is_chunk_len(1024));
        assert!(!is_chunk_len(2048 + 28));
        assert_eq!(Layout::for_size(5).unwrap().stored_len(), 1052);
    }
}
