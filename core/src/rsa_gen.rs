//! RSA key generation with the small primes computed instead of stored.
//!
//! `RsaPrivateKey::new` sieves its prime candidates through `crypto-primes`, whose sieve
//! carries a table of 2,047 small primes and their reciprocals: 49 KB of data, 22 KiB
//! gzip of the wasm package, where a key is generated once per account and device. Here
//! the same 2,047 odd primes are found by trial division when a key is generated (about
//! 50,000 divisions, nothing next to one primality test), candidates are sieved the same
//! way (residues of a random start, then steps of 2), and what passes the sieve gets the
//! same primality test (`crypto_primes::is_prime`: Miller-Rabin to base 2 and a strong
//! Lucas test, Baillie-PSW). The key is built as `RsaPrivateKey::new` builds it: two
//! primes of half the size each with their two top bits set (so the modulus has exactly
//! the requested size), e = 65537, d from Euler's totient.

use alloc::vec;
use alloc::vec::Vec;

use crypto_primes::{Flavor, is_prime};
use rand_core::CryptoRng;
use rsa::{BoxedUint, RsaPrivateKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How many odd primes the sieve divides by: the first 2,047 (3 to 17,863), as many as
/// `crypto-primes` uses for candidates of RSA sizes.
const SMALL_PRIME_COUNT: usize = 2047;

/// How far the sieve walks from one random start before drawing another. The average gap
/// between primes near 2^1024 is about 710, so a window of 2^20 is left unfinished only
/// with negligible probability; the bound keeps every residue sum within a `u32`.
const WINDOW: u32 = 1 << 20;

/// Key pairs drawn before giving up: a pair is refused only when p = q or when 65537
/// divides p - 1 or q - 1 (about one pair in 30,000), so running out means a broken RNG.
const MAX_PAIRS: usize = 64;

/// The public exponent of every key (the `rsa` crate's and WebCrypto's default).
const PUBLIC_EXPONENT: u64 = 65_537;

/// A new RSA private key with a modulus of `bits` bits (an even number of whole bytes per
/// prime: 2048, 3072 and 4096 all are).
pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R, bits: usize) -> Result<RsaPrivateKey> {
    let small = small_primes();
    for _ in 0..MAX_PAIRS {
        let p = prime(rng, bits / 2, &small)?;
        let q = prime(rng, bits - bits / 2, &small)?;
        // Refuses p = q and an exponent that is not invertible: draw a new pair.
        if let Ok(key) = RsaPrivateKey::from_primes(vec![p, q], BoxedUint::from(PUBLIC_EXPONENT)) {
            return Ok(key);
        }
    }
    Err(Error::Crypto)
}

/// The first [`SMALL_PRIME_COUNT`] odd primes, by trial division by the ones before.
fn small_primes() -> Vec<u32> {
    let mut primes: Vec<u32> = Vec::with_capacity(SMALL_PRIME_COUNT);
    let mut n = 3u32;
    while primes.len() < SMALL_PRIME_COUNT {
        if primes
            .iter()
            .take_while(|&&p| p * p <= n)
            .all(|&p| !n.is_multiple_of(p))
        {
            primes.push(n);
        }
        n += 2;
    }
    primes
}

/// A random prime of exactly `bits` bits (a multiple of 8) with its two top bits set.
fn prime<R: CryptoRng + ?Sized>(rng: &mut R, bits: usize, small: &[u32]) -> Result<BoxedUint> {
    let precision = u32::try_from(bits).map_err(|_| Error::InvalidKey)?;
    let mut start = Zeroizing::new(vec![0u8; bits / 8]);
    loop {
        rng.fill_bytes(&mut start);
        if let Some(first) = start.first_mut() {
            *first |= 0xc0;
        }
        if let Some(last) = start.last_mut() {
            *last |= 1;
        }
        let residues: Zeroizing<Vec<u32>> =
            Zeroizing::new(small.iter().map(|&p| residue(&start, p)).collect());
        let mut step = 0u32;
        while step < WINDOW {
            let sieved = residues
                .iter()
                .zip(small)
                .all(|(&r, &p)| !(r + step).is_multiple_of(p));
            if sieved {
                let mut bytes = Zeroizing::new(start.to_vec());
                if !add_small(&mut bytes, step) {
                    // Past 2^bits: the two top bits would be lost. Draw a new start.
                    break;
                }
                let candidate =
                    BoxedUint::from_be_slice(&bytes, precision).map_err(|_| Error::Crypto)?;
                if is_prime(Flavor::Any, &candidate) {
                    return Ok(candidate);
                }
            }
            step += 2;
        }
    }
}

/// `be mod p` for a big-endian number and a small `p` (below 2^23).
fn residue(be: &[u8], p: u32) -> u32 {
    be.iter().fold(0, |r, &b| ((r << 8) | u32::from(b)) % p)
}

/// Adds `n` to a big-endian number in place; false if the sum does not fit.
fn add_small(be: &mut [u8], n: u32) -> bool {
    let mut carry = n;
    for byte in be.iter_mut().rev() {
        if carry == 0 {
            break;
        }
        let sum = u32::from(*byte) + (carry & 0xff);
        *byte = (sum & 0xff) as u8;
        carry = (carry >> 8) + (sum >> 8);
    }
    carry == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};

    #[test]
    fn the_small_primes_are_the_first_2047_odd_primes() {
        let small = small_primes();
        assert_eq!(small.len(), 2047);
        assert_eq!(small[..10], [3, 5, 7, 11, 13, 17, 19, 23, 29, 31]);
        // The 2,048th prime (counting 2): the last of crypto-primes' table too.
        assert_eq!(small.last(), Some(&17_863));
        assert!(small.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn residues_and_small_additions_match_wide_arithmetic() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for _ in 0..200 {
            let mut be = [0u8; 16];
            rng.fill_bytes(&mut be);
            let wide = u128::from_be_bytes(be);
            for p in [3u32, 5, 251, 257, 17_863] {
                assert_eq!(u128::from(residue(&be, p)), wide % u128::from(p));
            }
            let n = rng.next_u32() % WINDOW;
            let mut sum = be;
            let fits = add_small(&mut sum, n);
            match wide.checked_add(u128::from(n)) {
                Some(s) => assert!(fits && u128::from_be_bytes(sum) == s),
                None => assert!(!fits),
            }
        }
        let mut top = [0xff; 4];
        assert!(!add_small(&mut top, 1));
    }

    #[test]
    fn primes_have_their_size_and_pass_the_full_test() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let small = small_primes();
        for bits in [256, 512, 1024] {
            let p = prime(&mut rng, bits, &small).unwrap();
            assert_eq!(p.bits() as usize, bits);
            assert!(bool::from(p.bit(bits as u32 - 2)));
            assert!(is_prime(Flavor::Any, &p));
            // Sieved: no small factor (is_prime alone would not say it was sieved).
            let be = p.to_be_bytes();
            assert!(small.iter().all(|&s| residue(&be, s) != 0));
        }
    }

    #[test]
    fn keys_have_the_requested_size_and_work() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let key = generate(&mut rng, 2048).unwrap();
        assert_eq!(key.n().bits(), 2048);
        assert_eq!(key.e(), &BoxedUint::from(PUBLIC_EXPONENT));
        assert_eq!(key.primes().len(), 2);
        key.validate().unwrap();
    }
}
