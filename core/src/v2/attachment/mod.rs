//! Files, images and voice notes (PROTOCOL.md 26, issue 11): encrypted on the device
//! under a fresh 256-bit key, cut into fixed-size padded chunks, each chunk named by the
//! SHA-256 of its bytes and uploaded once for any number of recipients. The relay stores
//! chunks and learns only `chunk count × chunk size` and upload timing; name, media type,
//! exact size, key and chunk order travel in the [`Manifest`], which is the content of an
//! end-to-end encrypted message with content type [`CONTENT_TYPE`].
//!
//! - [`Layout`]: chunk size and count for a size ([`CHUNK_SIZES`], [`CHUNKS_PER_SIZE`],
//!   [`MAX_FILE_LEN`], [`MAX_CHUNKS`], [`CHUNK_OVERHEAD`]); [`is_chunk_len`] for relays.
//! - [`Encryptor`]: pieces in, [`EncryptedChunk`]s out, then the [`Manifest`].
//! - [`Decryptor`]: chunks in (in order), plaintext out, then the final checks.
//! - [`FileInfo`], [`Thumbnail`]: what the recipient sees before fetching.
//! - [`FileError`]: bad input apart from integrity failures ([`FileError::is_integrity`]).

mod chunk;
mod decryptor;
mod encryptor;
mod error;
mod info;
mod layout;
mod manifest;

pub use decryptor::Decryptor;
pub use encryptor::{EncryptedChunk, Encryptor};
pub use error::FileError;
pub(crate) use info::is_bidi_control;
pub use info::{
    FileInfo, MAX_DURATION_MS, MAX_MEDIA_TYPE_LEN, MAX_NAME_LEN, MAX_THUMBNAIL_LEN, Thumbnail,
};
pub use layout::{
    CHUNK_OVERHEAD, CHUNK_SIZES, CHUNKS_PER_SIZE, Layout, MAX_CHUNKS, MAX_FILE_LEN, is_chunk_len,
};
pub use manifest::{MAX_MANIFEST_LEN, Manifest};

/// The engine message content type whose content is a [`Manifest`] (PROTOCOL.md 17.2:
/// 0 is UTF-8 text, 1 opaque bytes).
pub const CONTENT_TYPE: u8 = 2;
