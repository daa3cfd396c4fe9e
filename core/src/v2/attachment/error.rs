//! The typed errors of file encryption: bad input from the caller or a peer is kept apart
//! from integrity failures (bytes that are not what the sender made), so that a client
//! can say "this file was altered" and never show it.

use core::fmt;

/// What went wrong with a file. New variants may be added, so match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileError {
    /// Bad input: a file larger than [`super::MAX_FILE_LEN`], or more bytes written to
    /// an encryptor than it was created for.
    TooLarge,
    /// Bad input: an encryptor finished before all its bytes were written and sealed.
    Incomplete,
    /// Bad input: a name, media type, thumbnail or duration outside the rules of
    /// PROTOCOL.md 26.4.
    InvalidInfo,
    /// Bad input: manifest bytes without the documented structure (from a peer: the
    /// message is malformed, not the file).
    Malformed,
    /// Integrity: chunk `index` does not hash to its address. The relay or the network
    /// served other bytes; fetching the chunk again may help.
    ChunkAddress {
        /// The chunk's position in the file.
        index: u32,
    },
    /// Integrity: chunk `index` has its address but does not open under the file key at
    /// its position (index and last-chunk flag), or its padding is not zeros. The sender
    /// made this file wrong; fetching again cannot help.
    ChunkOpen {
        /// The chunk's position in the file.
        index: u32,
    },
    /// Integrity: a chunk after the last one.
    Extended,
    /// Integrity: the file ended before its last chunk.
    Truncated,
    /// Integrity: every chunk opened, but the plaintext's SHA-256 is not the manifest's.
    PlaintextHash,
    /// AES-GCM refused to encrypt (cannot happen with the chunk sizes of this protocol).
    Crypto,
}

impl FileError {
    /// A stable, machine-readable code (the JS error `code`). Integrity failures start
    /// with `INTEGRITY_`.
    pub const fn code(self) -> &'static str {
        match self {
            FileError::TooLarge => "FILE_TOO_LARGE",
            FileError::Incomplete => "FILE_INCOMPLETE",
            FileError::InvalidInfo => "FILE_INVALID_INFO",
            FileError::Malformed => "MALFORMED",
            FileError::ChunkAddress { .. } => "INTEGRITY_CHUNK_ADDRESS",
            FileError::ChunkOpen { .. } => "INTEGRITY_CHUNK",
            FileError::Extended => "INTEGRITY_EXTENDED",
            FileError::Truncated => "INTEGRITY_TRUNCATED",
            FileError::PlaintextHash => "INTEGRITY_HASH",
            FileError::Crypto => "CRYPTO",
        }
    }

    /// Whether the bytes of a file were not what its sender made (never show such a
    /// file), as opposed to bad input.
    pub const fn is_integrity(self) -> bool {
        matches!(
            self,
            FileError::ChunkAddress { .. }
                | FileError::ChunkOpen { .. }
                | FileError::Extended
                | FileError::Truncated
                | FileError::PlaintextHash
        )
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::TooLarge => f.write_str("file exceeds the size limit or its stated size"),
            FileError::Incomplete => f.write_str("file finished before all its bytes were sealed"),
            FileError::InvalidInfo => {
                f.write_str("invalid file name, media type, thumbnail or duration")
            }
            FileError::Malformed => f.write_str("malformed file manifest"),
            FileError::ChunkAddress { index } => {
                write!(f, "chunk {index} does not match its address")
            }
            FileError::ChunkOpen { index } => {
                write!(f, "chunk {index} does not open at its position")
            }
            FileError::Extended => f.write_str("chunk after the last one"),
            FileError::Truncated => f.write_str("file ended before its last chunk"),
            FileError::PlaintextHash => f.write_str("file does not match its SHA-256"),
            FileError::Crypto => f.write_str("cryptographic operation failed"),
        }
    }
}

impl core::error::Error for FileError {}
