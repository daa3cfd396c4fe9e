//! The two DER structures of RSA keys: SubjectPublicKeyInfo (RFC 5280) and PKCS#8
//! PrivateKeyInfo (RFC 5208) around PKCS#1 RSAPrivateKey (RFC 8017 A.1.2), with the
//! `rsaEncryption` algorithm identifier: what WebCrypto and OpenSSL read and write.
//!
//! Why by hand: the general `der`/`pkcs1`/`pkcs8`/`spki` crates made about 50 KiB of
//! the browser package (issue 14) for these two fixed shapes. Strict DER only (short or
//! minimal long lengths, minimal positive INTEGERs); `keys` also accepts a public key
//! only when it re-encodes to the same bytes. The tests check both directions against
//! the `rsa` crate's own encoding.

use alloc::vec::Vec;

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
/// `[0] IMPLICIT Attributes` of PKCS#8.
const ATTRIBUTES: u8 = 0xa0;
/// `[1] IMPLICIT BIT STRING` publicKey of a v2 PKCS#8 (RFC 5958).
const PUBLIC_KEY: u8 = 0x81;

/// The contents of `AlgorithmIdentifier { rsaEncryption, NULL }`.
const RSA_ENCRYPTION: [u8; 13] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// The contents of `AlgorithmIdentifier { id-RSASSA-PSS }` (no parameters), which a
/// PKCS#8 key may carry too.
const RSASSA_PSS: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
];

/// A reader of DER elements.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The contents of the next element, which must have `tag`.
    fn element(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&t, rest) = self.0.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            // Long form, minimal: one or two length bytes (every key here is < 64 KiB).
            let n = usize::from(first & 0x7f);
            if !(1..=2).contains(&n) {
                return None;
            }
            let (bytes, after) = rest.split_at_checked(n)?;
            rest = after;
            let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
            if bytes.first() == Some(&0) || len < 0x80 {
                return None;
            }
            len
        };
        let (contents, after) = rest.split_at_checked(len)?;
        self.0 = after;
        Some(contents)
    }

    /// Skips the next element if it has `tag`.
    fn skip_optional(&mut self, tag: u8) -> Option<()> {
        if self.0.first() == Some(&tag) {
            self.element(tag)?;
        }
        Some(())
    }

    /// A non-negative INTEGER in minimal form: its big-endian magnitude without the
    /// leading zero byte.
    fn uint(&mut self) -> Option<&'a [u8]> {
        let v = self.element(INTEGER)?;
        match v {
            [] => None,
            [b, ..] if b & 0x80 != 0 => None,
            [0, next, ..] if next & 0x80 == 0 => None,
            [0, rest @ ..] => Some(rest),
            _ => Some(v),
        }
    }

    /// A small INTEGER (a version).
    fn version(&mut self) -> Option<u8> {
        match self.uint()? {
            [] => Some(0),
            [v] => Some(*v),
            _ => None,
        }
    }

    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

fn put(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    put_len(out, contents.len());
    out.extend_from_slice(contents);
}

/// A non-negative INTEGER from big-endian bytes (leading zeros dropped, one added when
/// the top bit is set).
fn put_uint(out: &mut Vec<u8>, be: &[u8]) {
    let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    let magnitude = be.get(start..).unwrap_or_default();
    let pad = magnitude.first().is_none_or(|b| b & 0x80 != 0);
    out.push(INTEGER);
    put_len(out, magnitude.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
}

fn uint(be: &[u8], bits: u32) -> Option<BoxedUint> {
    BoxedUint::from_be_slice(be, bits).ok()
}

fn bits_of(be: &[u8]) -> Option<u32> {
    u32::try_from(be.len()).ok()?.checked_mul(8)
}

/// SubjectPublicKeyInfo DER of `key`.
pub(crate) fn encode_spki(key: &RsaPublicKey) -> Vec<u8> {
    let mut rsa_key = Vec::new();
    put_uint(&mut rsa_key, &key.n().to_be_bytes());
    put_uint(&mut rsa_key, &key.e().to_be_bytes());
    let mut bits = Vec::with_capacity(rsa_key.len() + 5);
    bits.push(0); // no unused bits
    put(&mut bits, SEQUENCE, &rsa_key);
    let mut info = Vec::with_capacity(bits.len() + 20);
    put(&mut info, SEQUENCE, &RSA_ENCRYPTION);
    put(&mut info, BIT_STRING, &bits);
    let mut out = Vec::with_capacity(info.len() + 4);
    put(&mut out, SEQUENCE, &info);
    out
}

/// Reads SubjectPublicKeyInfo DER with the `rsaEncryption` algorithm.
pub(crate) fn decode_spki(der: &[u8]) -> Option<RsaPublicKey> {
    let mut outer = Reader(der);
    let mut info = Reader(outer.element(SEQUENCE)?);
    outer.end()?;
    if info.element(SEQUENCE)? != RSA_ENCRYPTION {
        return None;
    }
    let bits = info.element(BIT_STRING)?;
    info.end()?;
    let (&0, bits) = bits.split_first()? else {
        return None;
    };
    let mut bits = Reader(bits);
    let mut key = Reader(bits.element(SEQUENCE)?);
    bits.end()?;
    let (n, e) = (key.uint()?, key.uint()?);
    key.end()?;
    RsaPublicKey::new(uint(n, bits_of(n)?)?, uint(e, bits_of(e)?)?).ok()
}

/// PKCS#8 DER (version 0, `rsaEncryption`) of a two-prime key with its CRT values
/// (`None` without them: `RsaPrivateKey::precompute` first).
pub(crate) fn encode_pkcs8(key: &RsaPrivateKey) -> Option<Zeroizing<Vec<u8>>> {
    let [p, q] = key.primes() else {
        return None;
    };
    let d = key.d();
    let (dp, dq) = (key.dp()?, key.dq()?);
    let qinv = Zeroizing::new(key.crt_coefficient()?.to_be_bytes());
    let mut rsa_key = Zeroizing::new(Vec::with_capacity(5 * key.size() + 32));
    put_uint(&mut rsa_key, &[0]);
    put_uint(&mut rsa_key, &key.n().to_be_bytes());
    put_uint(&mut rsa_key, &key.e().to_be_bytes());
    put_uint(&mut rsa_key, &Zeroizing::new(d.to_be_bytes()));
    put_uint(&mut rsa_key, &Zeroizing::new(p.to_be_bytes()));
    put_uint(&mut rsa_key, &Zeroizing::new(q.to_be_bytes()));
    put_uint(&mut rsa_key, &Zeroizing::new(dp.to_be_bytes()));
    put_uint(&mut rsa_key, &Zeroizing::new(dq.to_be_bytes()));
    put_uint(&mut rsa_key, &qinv);
    let mut wrapped = Zeroizing::new(Vec::with_capacity(rsa_key.len() + 4));
    put(&mut wrapped, SEQUENCE, &rsa_key);
    let mut info = Zeroizing::new(Vec::with_capacity(wrapped.len() + 24));
    put_uint(&mut info, &[0]);
    put(&mut info, SEQUENCE, &RSA_ENCRYPTION);
    put(&mut info, OCTET_STRING, &wrapped);
    let mut out = Zeroizing::new(Vec::with_capacity(info.len() + 4));
    put(&mut out, SEQUENCE, &info);
    Some(out)
}

/// Reads PKCS#8 DER of a two-prime RSA key (`rsaEncryption` or `id-RSASSA-PSS`;
/// version 0, or 1 with its public key; attributes ignored). The CRT values
/// in the key are checked for form only and computed anew, as the `rsa` crate does.
pub(crate) fn decode_pkcs8(der: &[u8]) -> Option<RsaPrivateKey> {
    let mut outer = Reader(der);
    let mut info = Reader(outer.element(SEQUENCE)?);
    outer.end()?;
    let version = info.version()?;
    let algorithm = info.element(SEQUENCE)?;
    if algorithm != RSA_ENCRYPTION && algorithm != RSASSA_PSS {
        return None;
    }
    let wrapped = info.element(OCTET_STRING)?;
    info.skip_optional(ATTRIBUTES)?;
    match version {
        0 => {}
        1 => {
            info.element(PUBLIC_KEY)?;
        }
        _ => return None,
    }
    info.end()?;
    let mut wrapped = Reader(wrapped);
    let mut key = Reader(wrapped.element(SEQUENCE)?);
    wrapped.end()?;
    if key.version()? != 0 {
        return None;
    }
    let n = key.uint()?;
    let e = key.uint()?;
    let d = key.uint()?;
    let p = key.uint()?;
    let q = key.uint()?;
    for _ in 0..3 {
        key.uint()?;
    }
    key.end()?;
    let bits = bits_of(n)?;
    let primes = alloc::vec![uint(p, bits)?, uint(q, bits)?];
    let e = uint(e, bits_of(e)?)?;
    RsaPrivateKey::from_components(uint(n, bits)?, e, uint(d, bits)?, primes).ok()
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};

    use super::*;

    /// Same bytes as the `rsa` crate's encoders, and each reads the other's output.
    #[test]
    fn matches_the_rsa_crate_both_ways() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        for bits in [2048, 3072] {
            let key = RsaPrivateKey::new(&mut rng, bits).unwrap();
            let public = key.to_public_key();
            let spki = encode_spki(&public);
            assert_eq!(spki, public.to_public_key_der().unwrap().as_bytes());
            assert_eq!(decode_spki(&spki).unwrap(), public);
            let pkcs8 = encode_pkcs8(&key).unwrap();
            assert_eq!(&pkcs8[..], key.to_pkcs8_der().unwrap().as_bytes());
            let read = decode_pkcs8(&pkcs8).unwrap();
            assert_eq!(read.d(), key.d());
            assert_eq!(read.primes(), key.primes());
            assert_eq!(RsaPrivateKey::from_pkcs8_der(&pkcs8).unwrap().d(), key.d());
            assert_eq!(RsaPublicKey::from_public_key_der(&spki).unwrap(), public);
        }
    }

    /// Every truncation, and every single-byte change the `rsa` crate refuses, is
    /// refused here too (a changed byte it accepts must give the same key).
    #[test]
    fn refuses_what_the_rsa_crate_refuses() {
        let mut rng = ChaCha20Rng::from_seed([8; 32]);
        let key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let spki = encode_spki(&key.to_public_key());
        for len in 0..spki.len() {
            assert!(decode_spki(&spki[..len]).is_none());
        }
        let mut extra = spki.clone();
        extra.push(0);
        assert!(decode_spki(&extra).is_none());
        for i in 0..40 {
            for delta in [1u8, 0x80] {
                let mut bad = spki.clone();
                bad[i] ^= delta;
                let theirs = RsaPublicKey::from_public_key_der(&bad).ok();
                assert_eq!(decode_spki(&bad), theirs, "byte {i} ^ {delta:#x}");
            }
        }
        let pkcs8 = encode_pkcs8(&key).unwrap();
        for len in [0, 1, 10, 100, pkcs8.len() - 1] {
            assert!(decode_pkcs8(&pkcs8[..len]).is_none());
        }
        for i in 0..40 {
            let mut bad = pkcs8.to_vec();
            bad[i] ^= 0x01;
            let theirs = RsaPrivateKey::from_pkcs8_der(&bad)
                .ok()
                .map(|k| k.d().clone());
            assert_eq!(
                decode_pkcs8(&bad).map(|k| k.d().clone()),
                theirs,
                "byte {i}"
            );
        }
    }

    #[test]
    fn integers_must_be_minimal_and_non_negative() {
        let read = |der: &[u8]| Reader(der).uint().map(<[u8]>::to_vec);
        assert_eq!(read(&[2, 1, 0]), Some(Vec::new()));
        assert_eq!(read(&[2, 1, 0x7f]), Some(alloc::vec![0x7f]));
        assert_eq!(read(&[2, 2, 0, 0x80]), Some(alloc::vec![0x80]));
        assert_eq!(read(&[2, 1, 0x80]), None);
        assert_eq!(read(&[2, 2, 0, 0x7f]), None);
        assert_eq!(read(&[2, 0]), None);
        // A long-form length must be needed.
        assert_eq!(read(&[2, 0x81, 1, 5]), None);
        let mut out = Vec::new();
        put_uint(&mut out, &[0, 0, 0x80]);
        assert_eq!(out, [2, 2, 0, 0x80]);
    }

    /// Builds SPKI and PKCS#8 around chosen INTEGER contents (not necessarily minimal).
    fn spki_with(n: &[u8], e: &[u8]) -> Vec<u8> {
        let mut key = Vec::new();
        put(&mut key, INTEGER, n);
        put(&mut key, INTEGER, e);
        let mut bits = alloc::vec![0];
        put(&mut bits, SEQUENCE, &key);
        let mut info = Vec::new();
        put(&mut info, SEQUENCE, &RSA_ENCRYPTION);
        put(&mut info, BIT_STRING, &bits);
        let mut out = Vec::new();
        put(&mut out, SEQUENCE, &info);
        out
    }

    fn pkcs8_with(ints: &[&[u8]]) -> Vec<u8> {
        let mut key = Vec::new();
        for i in ints {
            put(&mut key, INTEGER, i);
        }
        let mut wrapped = Vec::new();
        put(&mut wrapped, SEQUENCE, &key);
        let mut info = Vec::new();
        put_uint(&mut info, &[0]);
        put(&mut info, SEQUENCE, &RSA_ENCRYPTION);
        put(&mut info, OCTET_STRING, &wrapped);
        let mut out = Vec::new();
        put(&mut out, SEQUENCE, &info);
        out
    }

    /// Zero, one and out-of-range values in every INTEGER position give `None`, never a
    /// panic (a zero is one content byte, a zero-width number after the sign byte).
    #[test]
    fn fail_zero_and_degenerate_integers() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        let key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let n = key.n().to_be_bytes();
        let mut n_int = alloc::vec![0];
        n_int.extend_from_slice(&n);
        let e = [1u8, 0, 1];
        for (bad_n, bad_e) in [
            (&[0u8][..], &e[..]),
            (&n_int[..], &[0u8][..]),
            (&[0u8][..], &[0u8][..]),
            (&[1u8][..], &[1u8][..]),
            (&[3u8][..], &e[..]),
            (&n_int[..], &n_int[..]),
        ] {
            assert!(decode_spki(&spki_with(bad_n, bad_e)).is_none());
        }
        let good = encode_pkcs8(&key).unwrap();
        assert!(decode_pkcs8(&good).is_some());
        // The nine INTEGERs of the real key, then each replaced by 0, 1 and n.
        let mut wrapped = Reader(&good);
        let mut info = Reader(wrapped.element(SEQUENCE).unwrap());
        info.version().unwrap();
        info.element(SEQUENCE).unwrap();
        let mut octets = Reader(info.element(OCTET_STRING).unwrap());
        let mut fields = Reader(octets.element(SEQUENCE).unwrap());
        let ints: Vec<&[u8]> = (0..9).map(|_| fields.element(INTEGER).unwrap()).collect();
        assert_eq!(
            decode_pkcs8(&pkcs8_with(&ints)).map(|k| k.d().clone()),
            Some(key.d().clone())
        );
        for i in 0..9 {
            for value in [&[0u8][..], &[1u8][..], &n_int[..]] {
                let mut changed = ints.clone();
                if changed[i] == value {
                    continue;
                }
                changed[i] = value;
                let read = decode_pkcs8(&pkcs8_with(&changed));
                // The CRT values (6 to 8) are recomputed, as the rsa crate does.
                if i >= 6 {
                    assert_eq!(read.map(|k| k.d().clone()), Some(key.d().clone()), "{i}");
                } else {
                    assert!(read.is_none(), "integer {i}");
                }
            }
        }
    }

    /// A single changed bit anywhere in a PKCS#8 key or its SPKI: no panic, and accepted
    /// by the core only when the `rsa` crate accepts it too, with the same key.
    #[test]
    fn every_changed_bit_agrees_with_the_rsa_crate() {
        let mut rng = ChaCha20Rng::from_seed([10; 32]);
        let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let spki = encode_spki(&key.to_public_key());
        for i in 0..spki.len() {
            let mut bad = spki.clone();
            bad[i] ^= 1 << (i % 8);
            let theirs = RsaPublicKey::from_public_key_der(&bad).ok();
            assert_eq!(decode_spki(&bad), theirs, "spki byte {i}");
        }
        let pkcs8 = encode_pkcs8(&key).unwrap();
        for i in 0..pkcs8.len() {
            let mut bad = pkcs8.to_vec();
            bad[i] ^= 1 << (i % 8);
            let ours = decode_pkcs8(&bad).map(|k| k.d().clone());
            if let Some(d) = ours {
                let theirs = RsaPrivateKey::from_pkcs8_der(&bad).unwrap();
                assert_eq!(&d, theirs.d(), "pkcs8 byte {i}");
            }
        }
    }

    #[test]
    fn lengths_must_be_definite_minimal_and_inside_the_input() {
        let read = |der: &[u8]| Reader(der).element(OCTET_STRING).map(<[u8]>::to_vec);
        let long = alloc::vec![7u8; 0x100];
        let mut two = alloc::vec![4, 0x82, 1, 0];
        two.extend_from_slice(&long);
        assert_eq!(read(&two), Some(long.clone()));
        // Indefinite, three length bytes, a leading zero, a long form for a short length.
        assert_eq!(read(&[4, 0x80, 1, 0, 0]), None);
        assert_eq!(read(&[4, 0x83, 0, 1, 0]), None);
        let mut padded = alloc::vec![4, 0x82, 0, 0x80];
        padded.extend_from_slice(&long[..0x80]);
        assert_eq!(read(&padded), None);
        assert_eq!(read(&[4, 0x81, 0x7f]), None);
        // A length past the end, and no length at all.
        assert_eq!(read(&two[..two.len() - 1]), None);
        assert_eq!(read(&[4, 0x82, 1]), None);
        assert_eq!(read(&[4]), None);
        assert_eq!(read(&[]), None);
    }
}
