//! One way to encode and parse every engine format, in the spirit of rustls' `Codec`.
//!
//! Every type that goes on the wire or into storage implements [`Codec`]: `encode`
//! appends, `read` parses from a [`Reader`], which never panics (every read is either the
//! bytes or [`Error::Malformed`]). Encoding is infallible because every value checks its
//! bounds when it is built; the `put_*` helpers still clamp so that a broken invariant
//! yields a short but self-consistent encoding, never a panic.

use alloc::vec::Vec;

use sealpost_core::v2::DeviceId;
use sealpost_core::{Error, Result, UserId, Username};

/// A cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.rest.len() {
            return Err(Error::Malformed);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A strict boolean: `0` or `1`, anything else is malformed (one encoding per value).
    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Malformed),
        }
    }

    /// `var8`: a `u8` length and at most `max` bytes.
    pub fn var8(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u8()?);
        self.bounded(len, max)
    }

    /// `var16`: a `u16` length and at most `max` bytes.
    pub fn var16(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u16()?);
        self.bounded(len, max)
    }

    /// `var32`: a `u32` length and at most `max` bytes.
    pub fn var32(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::try_from(self.u32()?).map_err(|_| Error::Malformed)?;
        self.bounded(len, max)
    }

    /// A `u16` item count of at most `max`, checked against the bytes left (each item
    /// takes at least `min_item_len`) so a forged count cannot make us allocate.
    pub fn count16(&mut self, max: usize, min_item_len: usize) -> Result<usize> {
        let n = usize::from(self.u16()?);
        if n > max || n.saturating_mul(min_item_len) > self.rest.len() {
            return Err(Error::Malformed);
        }
        Ok(n)
    }

    fn bounded(&mut self, len: usize, max: usize) -> Result<&'a [u8]> {
        if len > max {
            return Err(Error::Malformed);
        }
        self.bytes(len)
    }

    /// Whether every byte was consumed (a format that grew an optional trailing part
    /// reads it only when there is one).
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Fails unless every byte was consumed: trailing bytes are an error, so each value
    /// has exactly one encoding.
    pub fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }
}

/// A value with one canonical byte encoding.
pub trait Codec: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Parses one value from `r`, leaving the rest.
    fn read(r: &mut Reader<'_>) -> Result<Self>;

    /// The encoding as a fresh vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Parses exactly one value: trailing bytes are [`Error::Malformed`].
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let value = Self::read(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

impl Codec for UserId {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(UserId::from_bytes(r.array()?))
    }
}

impl Codec for DeviceId {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(DeviceId::from_bytes(r.array()?))
    }
}

impl Codec for Username {
    fn encode(&self, out: &mut Vec<u8>) {
        put_var8(out, self.as_str().as_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        parse_username(r.var8(Username::MAX_LEN)?)
    }
}

/// A username as stored: valid and already normalised (one spelling per name).
pub fn parse_username(raw: &[u8]) -> Result<Username> {
    let text = core::str::from_utf8(raw).map_err(|_| Error::Malformed)?;
    let name = Username::parse(text).map_err(|_| Error::Malformed)?;
    if name.as_str() != text {
        return Err(Error::Malformed);
    }
    Ok(name)
}

/// Appends `var8(bytes)`, clamped to 255 bytes.
pub fn put_var8(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or_default());
}

/// Appends `var16(bytes)`, clamped to 65535 bytes.
pub fn put_var16(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or_default());
}

/// Appends `var32(bytes)`, clamped to `u32::MAX` bytes.
pub fn put_var32(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    let end = usize::try_from(len).unwrap_or(usize::MAX);
    out.extend_from_slice(bytes.get(..end).unwrap_or_default());
}

/// Appends a `u16` count and the items, clamped to 65535 items.
pub fn put_list16<'a, T: Codec + 'a>(
    out: &mut Vec<u8>,
    items: impl ExactSizeIterator<Item = &'a T>,
) {
    let len = u16::try_from(items.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    for item in items.take(usize::from(len)) {
        item.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[0, 5, 1, 2]);
        assert_eq!(r.var16(10), Err(Error::Malformed));
        let mut r = Reader::new(&[2, 1, 2, 3]);
        assert_eq!(r.var8(10), Ok(&[1u8, 2][..]));
        assert_eq!(r.finish(), Err(Error::Malformed));
        let mut r = Reader::new(&[3, 1, 2, 3]);
        assert_eq!(r.var8(2), Err(Error::Malformed));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.var32(usize::MAX), Err(Error::Malformed));
    }

    #[test]
    fn forged_counts_are_refused_before_allocating() {
        let mut r = Reader::new(&[0xff, 0xff, 0]);
        assert_eq!(r.count16(usize::MAX, 16), Err(Error::Malformed));
        let mut r = Reader::new(&[0, 1, 0]);
        assert_eq!(r.count16(0, 1), Err(Error::Malformed));
    }

    #[test]
    fn booleans_have_one_encoding() {
        assert_eq!(Reader::new(&[1]).bool(), Ok(true));
        assert_eq!(Reader::new(&[2]).bool(), Err(Error::Malformed));
    }

    #[test]
    fn usernames_must_be_normalised() {
        let name = Username::parse("alice").unwrap();
        assert_eq!(Username::from_bytes(&name.to_bytes()), Ok(name));
        assert_eq!(Username::from_bytes(b"\x05Alice"), Err(Error::Malformed));
        assert_eq!(Username::from_bytes(b"\x02al"), Err(Error::Malformed));
    }

    #[test]
    fn helpers_clamp_instead_of_panicking() {
        let mut out = Vec::new();
        put_var8(&mut out, &[7u8; 300]);
        assert_eq!(out.len(), 256);
        assert_eq!(Reader::new(&out).var8(255).map(<[u8]>::len), Ok(255));
    }
}
