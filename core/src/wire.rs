//! Bounds-checked big-endian framing shared by every wire format.
//!
//! All parsing of untrusted bytes goes through [`Reader`], which never panics: every
//! read either returns the bytes or [`Error::Malformed`].

use alloc::vec::Vec;

use crate::error::{Error, Result};

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.rest.len() {
            return Err(Error::Malformed);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `u8`-length-prefixed field of at most `max` bytes.
    pub(crate) fn var8(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u8()?);
        if len > max {
            return Err(Error::Malformed);
        }
        self.bytes(len)
    }

    /// A `u16`-length-prefixed field of at most `max` bytes.
    pub(crate) fn var16(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(Error::Malformed);
        }
        self.bytes(len)
    }

    /// A `u32`-length-prefixed field of at most `max` bytes.
    pub(crate) fn var32(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = usize::try_from(self.u32()?).map_err(|_| Error::Malformed)?;
        if len > max {
            return Err(Error::Malformed);
        }
        self.bytes(len)
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Fails unless every byte was consumed: trailing garbage is an error, so each
    /// value has exactly one encoding.
    pub(crate) fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }
}

/// Lowercase hex of one byte.
pub(crate) fn hex_byte(b: u8) -> [u8; 2] {
    let digit = |n: u8| if n < 10 { b'0' + n } else { b'a' + n - 10 };
    [digit(b >> 4), digit(b & 0x0f)]
}

/// Appends `u8`-length-prefixed bytes.
pub(crate) fn put_var8(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u8::try_from(bytes.len()).map_err(|_| Error::TooLarge)?;
    out.push(len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends `u16`-length-prefixed bytes. Callers only pass fields whose length is
/// bounded far below `u16::MAX` by construction (keys, signatures).
pub(crate) fn put_var16(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len()).map_err(|_| Error::TooLarge)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends `u32`-length-prefixed bytes.
pub(crate) fn put_var32(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| Error::TooLarge)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_rejects_short_input() {
        let mut r = Reader::new(&[0, 5, 1, 2]);
        assert_eq!(r.var16(10), Err(Error::Malformed));
        let mut r = Reader::new(&[0, 2, 1, 2, 3]);
        assert_eq!(r.var16(10).unwrap(), &[1, 2]);
        assert_eq!(r.finish(), Err(Error::Malformed));
        let mut r = Reader::new(&[0, 3, 1, 2, 3]);
        assert_eq!(r.var16(2), Err(Error::Malformed));
    }
}
