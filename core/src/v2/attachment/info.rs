//! What a file is, for its recipient only (PROTOCOL.md 26.4): name, media type, and for
//! images a small thumbnail, for voice notes a duration. It travels in the manifest,
//! inside the end-to-end encrypted message; the relay never sees it.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::error::FileError;
use crate::wire::{Reader, put_var8, put_var16};

/// Longest file name, UTF-8 bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Longest media type, bytes.
pub const MAX_MEDIA_TYPE_LEN: usize = 127;
/// Largest thumbnail: enough for a 160-pixel JPEG or WebP preview, small enough that the
/// message carrying it stays in a 32 KiB envelope.
pub const MAX_THUMBNAIL_LEN: usize = 16 * 1024;
/// Longest duration (24 hours), milliseconds.
pub const MAX_DURATION_MS: u32 = 24 * 3600 * 1000;

const FLAG_THUMBNAIL: u8 = 1;
const FLAG_DURATION: u8 = 2;

/// Bidirectional formatting characters: a name like `photo\u{202E}gpj.exe` shows as
/// `photoexe.jpg`, so a file could pose as another type.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A file name a recipient can save and show without surprises: 1 to 255 bytes of UTF-8,
/// no control characters, no bidirectional formatting characters, no `/` or `\`, not `.`
/// or `..` (no path ever leaves the name).
fn check_name(name: &str) -> Result<(), FileError> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c.is_control() || is_bidi_control(c) || c == '/' || c == '\\');
    ok.then_some(()).ok_or(FileError::InvalidInfo)
}

/// A media type: 1 to 127 printable ASCII bytes with a `/` (`type/subtype`, parameters
/// allowed), e.g. `image/jpeg`, `audio/ogg; codecs=opus`.
fn check_media_type(media_type: &str) -> Result<(), FileError> {
    let ok = (1..=MAX_MEDIA_TYPE_LEN).contains(&media_type.len())
        && media_type.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && media_type.contains('/');
    ok.then_some(()).ok_or(FileError::InvalidInfo)
}

fn text(raw: &[u8]) -> Result<&str, FileError> {
    core::str::from_utf8(raw).map_err(|_| FileError::Malformed)
}

/// A small preview of an image, shown before the file is fetched.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    media_type: String,
    bytes: Vec<u8>,
}

impl Thumbnail {
    /// A thumbnail of 1 to [`MAX_THUMBNAIL_LEN`] bytes whose media type is an `image/`
    /// type; else [`FileError::InvalidInfo`].
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Result<Self, FileError> {
        check_media_type(media_type)?;
        if !media_type.starts_with("image/") || !(1..=MAX_THUMBNAIL_LEN).contains(&bytes.len()) {
            return Err(FileError::InvalidInfo);
        }
        Ok(Self {
            media_type: media_type.to_string(),
            bytes,
        })
    }

    /// The thumbnail's media type (`image/...`).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The encoded image.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thumbnail")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Name, media type and optional thumbnail and duration of a file.
#[derive(Clone, PartialEq, Eq)]
pub struct FileInfo {
    name: String,
    media_type: String,
    thumbnail: Option<Thumbnail>,
    duration_ms: Option<u32>,
}

impl FileInfo {
    /// A file's description; [`FileError::InvalidInfo`] for a name or media type outside
    /// the rules (PROTOCOL.md 26.4).
    pub fn new(name: &str, media_type: &str) -> Result<Self, FileError> {
        check_name(name)?;
        check_media_type(media_type)?;
        Ok(Self {
            name: name.to_string(),
            media_type: media_type.to_string(),
            thumbnail: None,
            duration_ms: None,
        })
    }

    /// With a thumbnail (images).
    pub fn with_thumbnail(mut self, thumbnail: Thumbnail) -> Self {
        self.thumbnail = Some(thumbnail);
        self
    }

    /// With a duration in milliseconds (voice notes, at most [`MAX_DURATION_MS`]).
    pub fn with_duration_ms(mut self, duration_ms: u32) -> Result<Self, FileError> {
        if duration_ms > MAX_DURATION_MS {
            return Err(FileError::InvalidInfo);
        }
        self.duration_ms = Some(duration_ms);
        Ok(self)
    }

    /// The file name (no path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The media type as the sender gave it.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The thumbnail, if any.
    pub fn thumbnail(&self) -> Option<&Thumbnail> {
        self.thumbnail.as_ref()
    }

    /// The duration in milliseconds, if any.
    pub fn duration_ms(&self) -> Option<u32> {
        self.duration_ms
    }

    /// `var8(name) || var8(media type) || u8(flags) || [var8(thumbnail media type) ||
    /// var16(thumbnail)] || [u32(duration_ms)]`. Every field was checked when built, so
    /// the length prefixes fit.
    pub(super) fn encode(&self, out: &mut Vec<u8>) -> Result<(), FileError> {
        let fits = |r: crate::Result<()>| r.map_err(|_| FileError::InvalidInfo);
        fits(put_var8(out, self.name.as_bytes()))?;
        fits(put_var8(out, self.media_type.as_bytes()))?;
        let flags = if self.thumbnail.is_some() {
            FLAG_THUMBNAIL
        } else {
            0
        } | if self.duration_ms.is_some() {
            FLAG_DURATION
        } else {
            0
        };
        out.push(flags);
        if let Some(t) = &self.thumbnail {
            fits(put_var8(out, t.media_type.as_bytes()))?;
            fits(put_var16(out, &t.bytes))?;
        }
        if let Some(ms) = self.duration_ms {
            out.extend_from_slice(&ms.to_be_bytes());
        }
        Ok(())
    }

    /// Parses what [`FileInfo::encode`] wrote, with the same rules as the constructors:
    /// anything outside them is [`FileError::Malformed`].
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, FileError> {
        let malformed = |_| FileError::Malformed;
        let name = text(r.var8(MAX_NAME_LEN).map_err(malformed)?)?;
        let media_type = text(r.var8(MAX_MEDIA_TYPE_LEN).map_err(malformed)?)?;
        let mut info = Self::new(name, media_type).map_err(|_| FileError::Malformed)?;
        let flags = r.u8().map_err(malformed)?;
        if flags & !(FLAG_THUMBNAIL | FLAG_DURATION) != 0 {
            return Err(FileError::Malformed);
        }
        if flags & FLAG_THUMBNAIL != 0 {
            let media_type = text(r.var8(MAX_MEDIA_TYPE_LEN).map_err(malformed)?)?;
            let bytes = r.var16(MAX_THUMBNAIL_LEN).map_err(malformed)?.to_vec();
            let thumbnail = Thumbnail::new(media_type, bytes).map_err(|_| FileError::Malformed)?;
            info = info.with_thumbnail(thumbnail);
        }
        if flags & FLAG_DURATION != 0 {
            let ms = r.u32().map_err(malformed)?;
            info = info
                .with_duration_ms(ms)
                .map_err(|_| FileError::Malformed)?;
        }
        Ok(info)
    }
}

impl fmt::Debug for FileInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names are user content: only their presence is logged.
        f.debug_struct("FileInfo")
            .field("name_len", &self.name.len())
            .field("thumbnail", &self.thumbnail)
            .field("duration_ms", &self.duration_ms)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn names_carry_no_path_and_no_control_characters() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\nb",
            "a\u{7f}",
            "a\u{85}b",
            "photo\u{202E}gpj.exe",
            "a\u{2066}b",
            "a\u{200F}",
            "\u{61C}",
        ] {
            assert_eq!(
                FileInfo::new(bad, "text/plain"),
                Err(FileError::InvalidInfo),
                "{bad:?}"
            );
        }
        let long = "é".repeat(128);
        assert_eq!(
            FileInfo::new(&long, "text/plain"),
            Err(FileError::InvalidInfo)
        );
        assert!(FileInfo::new("..hidden", "text/plain").is_ok());
        assert!(FileInfo::new("Foto 2026 ☀.jpg", "image/jpeg").is_ok());
    }

    #[test]
    fn media_types_are_printable_ascii_with_a_slash() {
        for bad in ["", "jpeg", "image/jpé", "image/\tjpeg"] {
            assert_eq!(
                FileInfo::new("a", bad),
                Err(FileError::InvalidInfo),
                "{bad:?}"
            );
        }
        assert!(FileInfo::new("a.ogg", "audio/ogg; codecs=opus").is_ok());
        assert_eq!(
            Thumbnail::new("text/plain", vec![1]),
            Err(FileError::InvalidInfo)
        );
        assert_eq!(
            Thumbnail::new("image/webp", vec![]),
            Err(FileError::InvalidInfo)
        );
        assert_eq!(
            Thumbnail::new("image/webp", vec![0; MAX_THUMBNAIL_LEN + 1]),
            Err(FileError::InvalidInfo)
        );
    }

    #[test]
    fn durations_are_bounded() {
        let info = FileInfo::new("a.ogg", "audio/ogg").unwrap();
        assert_eq!(
            info.clone().with_duration_ms(MAX_DURATION_MS + 1),
            Err(FileError::InvalidInfo)
        );
        assert!(info.with_duration_ms(MAX_DURATION_MS).is_ok());
    }

    #[test]
    fn debug_shows_no_name() {
        let info = FileInfo::new("secret-plans.pdf", "application/pdf").unwrap();
        assert!(!alloc::format!("{info:?}").contains("secret"));
    }
}
