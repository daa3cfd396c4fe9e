//! Files (PROTOCOL.md 26): the core's streaming encryptor and decryptor, one chunk at a
//! time, so neither side ever holds more than one chunk of a file in wasm memory. The
//! network half (upload, download, progress, resume) is `Client.sendFile` and
//! `Client.openAttachment` (`js/files.js`), which drive these.

use sealpost_core::v2::attachment::{Decryptor, Encryptor, FileInfo, Manifest, Thumbnail};
use wasm_bindgen::prelude::*;

use super::hex;
use crate::error::file_error;
use crate::rng;

#[wasm_bindgen(typescript_custom_section)]
const TS_FILES: &'static str = r#"
/** What a received file manifest says, before anything is fetched (`fileInfo`). */
export interface AttachmentInfo {
  name: string;
  mediaType: string;
  /** Exact size in bytes. */
  size: number;
  /** SHA-256 of the whole file (hex). */
  sha256: string;
  thumbnail?: { mediaType: string; bytes: Uint8Array };
  durationMs?: number;
}
"#;

/// Encrypts one file of a known size under a fresh key, chunk by chunk (PROTOCOL.md
/// 26.6): `write` pieces, take each `nextChunk`, then `finish` with the file's info.
#[wasm_bindgen]
#[derive(Debug)]
pub struct FileEncryptor {
    inner: Encryptor,
}

#[wasm_bindgen]
impl FileEncryptor {
    /// Starts a file of exactly `size` bytes (a u32: files are at most 2^30 bytes) under
    /// a fresh key, or under `key` (32 random bytes the caller keeps secret): then the
    /// same file gives the same chunks, so an upload can start again after its page
    /// closed and skip what the relay has (PROTOCOL.md 26.6). Throws `FILE_TOO_LARGE`
    /// above 2^30, `INVALID_ARGUMENT` for a key that is not 32 bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(size: u32, key: Option<Vec<u8>>) -> Result<FileEncryptor, JsValue> {
        let size = u64::from(size);
        let inner = match key {
            None => Encryptor::new(&mut rng(), size),
            Some(k) => {
                let k = zeroize::Zeroizing::new(k);
                let k = <[u8; 32]>::try_from(k.as_slice())
                    .map_err(|_| crate::error::invalid("a file key is 32 bytes"))?;
                Encryptor::resumable(k, size)
            }
        }
        .map_err(file_error)?;
        Ok(FileEncryptor { inner })
    }

    /// Plaintext bytes per chunk: read the file in pieces of this size.
    #[wasm_bindgen(getter, js_name = chunkSize)]
    pub fn chunk_size(&self) -> usize {
        self.inner.layout().chunk_size()
    }

    /// Takes bytes from the front of `piece` up to the end of the current chunk and
    /// returns how many (0 while a full chunk waits for `nextChunk`). Throws
    /// `FILE_TOO_LARGE` past the size given to the constructor.
    pub fn write(&mut self, piece: &[u8]) -> Result<usize, JsValue> {
        self.inner.write(piece).map_err(file_error)
    }

    /// The current chunk once all its bytes were written: its address (SHA-256, 32
    /// bytes) followed by the chunk; `undefined` before.
    #[wasm_bindgen(js_name = nextChunk)]
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, JsValue> {
        let chunk = self.inner.next_chunk(&mut rng()).map_err(file_error)?;
        Ok(chunk.map(|c| [c.address().as_slice(), c.bytes()].concat()))
    }

    /// The manifest once every chunk was taken: the content of the message that shares
    /// the file (content type 2). Secret: it holds the file key. `name`, `mediaType`,
    /// an image's thumbnail (an `image/` type and at most 16 KiB) and a voice note's
    /// duration follow PROTOCOL.md 26.4. Throws `FILE_INCOMPLETE`, `FILE_INVALID_INFO`.
    pub fn finish(
        self,
        name: &str,
        #[wasm_bindgen(js_name = mediaType)] media_type: &str,
        #[wasm_bindgen(js_name = thumbnailType)] thumbnail_type: Option<String>,
        thumbnail: Option<Vec<u8>>,
        #[wasm_bindgen(js_name = durationMs)] duration_ms: Option<u32>,
    ) -> Result<Vec<u8>, JsValue> {
        let mut info = FileInfo::new(name, media_type).map_err(file_error)?;
        if let (Some(t), Some(bytes)) = (thumbnail_type, thumbnail) {
            info = info.with_thumbnail(Thumbnail::new(&t, bytes).map_err(file_error)?);
        }
        if let Some(ms) = duration_ms {
            info = info.with_duration_ms(ms).map_err(file_error)?;
        }
        let manifest = self.inner.finish(info).map_err(file_error)?;
        Ok(manifest.to_bytes().map_err(file_error)?.to_vec())
    }
}

/// SHA-256 of a file read piece by piece: the digest its manifest will carry (PROTOCOL.md
/// 26.4), known before an upload starts, so that the file picked again to resume it can
/// be checked to be the same one before anything is sent (`uploadFile`'s `sha256`).
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct FileHasher {
    inner: sha2::Sha256,
}

#[wasm_bindgen]
impl FileHasher {
    #[wasm_bindgen(constructor)]
    pub fn new() -> FileHasher {
        FileHasher::default()
    }

    pub fn update(&mut self, piece: &[u8]) {
        sha2::Digest::update(&mut self.inner, piece);
    }

    /// The 32-byte digest of everything given to `update`.
    pub fn finish(self) -> Vec<u8> {
        sha2::Digest::finalize(self.inner).to_vec()
    }
}

/// Checks and decrypts one file chunk by chunk, in order (PROTOCOL.md 26.7). What
/// `openChunk` returns is provisional until `finish` succeeds: never show it before.
#[wasm_bindgen]
#[derive(Debug)]
pub struct FileDecryptor {
    inner: Decryptor,
}

#[wasm_bindgen]
impl FileDecryptor {
    /// Starts decrypting the file a manifest describes. Throws `MALFORMED`.
    #[wasm_bindgen(constructor)]
    pub fn new(manifest: &[u8]) -> Result<FileDecryptor, JsValue> {
        let m = Manifest::from_bytes(manifest).map_err(file_error)?;
        Ok(FileDecryptor {
            inner: Decryptor::new(&m),
        })
    }

    /// The address (64 hex digits) of the next chunk to fetch, or of the one `ahead`
    /// places after it (a download fetches a few ahead); `undefined` past the end.
    #[wasm_bindgen(js_name = nextAddress)]
    pub fn next_address(&self, ahead: Option<u32>) -> Option<String> {
        self.inner.upcoming(ahead.unwrap_or(0)).map(|a| hex(a))
    }

    /// Checks and opens the next chunk; its file bytes. Throws `INTEGRITY_CHUNK_ADDRESS`
    /// (other bytes than the manifest names: fetching again may help; the decryptor stays
    /// at this chunk), `INTEGRITY_CHUNK`, `INTEGRITY_EXTENDED`, each with `index`.
    #[wasm_bindgen(js_name = openChunk)]
    pub fn open_chunk(&mut self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        self.inner
            .open_chunk(bytes)
            .map(<[u8]>::to_vec)
            .map_err(file_error)
    }

    /// Succeeds only if every chunk opened and the whole file has the manifest's
    /// SHA-256: `INTEGRITY_TRUNCATED`, `INTEGRITY_HASH` otherwise.
    pub fn finish(self) -> Result<(), JsValue> {
        self.inner.finish().map_err(file_error)
    }
}

/// What a file manifest (a message with content type 2) describes, without fetching
/// anything. Throws `MALFORMED`.
#[wasm_bindgen(js_name = fileInfo, unchecked_return_type = "AttachmentInfo")]
pub fn file_info(manifest: &[u8]) -> Result<JsValue, JsValue> {
    let m = Manifest::from_bytes(manifest).map_err(file_error)?;
    let info = m.info();
    let out = object(&[
        ("name", info.name().into()),
        ("mediaType", info.media_type().into()),
        // At most 2^30: exact as a number.
        ("size", (m.size() as f64).into()),
        ("sha256", hex(m.sha256()).into()),
    ]);
    if let Some(t) = info.thumbnail() {
        let thumb = object(&[
            ("mediaType", t.media_type().into()),
            ("bytes", js_sys::Uint8Array::from(t.bytes()).into()),
        ]);
        let _ = js_sys::Reflect::set(&out, &"thumbnail".into(), &thumb);
    }
    if let Some(ms) = info.duration_ms() {
        let _ = js_sys::Reflect::set(&out, &"durationMs".into(), &ms.into());
    }
    Ok(out)
}

/// A plain JS object with these properties.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}
