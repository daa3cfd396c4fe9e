//! RSA key generation with the small primes computed instead of stored.
//!
//! `RsaPrivateKey::new` sieves its prime candidates through `crypto-primes`, whose sieve
//! carries a table of 2,047 small primes and their reciprocals: 49 KB of data, 22 KiB
//! gzip of the wasm package, where a key is generated once per account and device. Here
//! the same 2,047 odd primes are found by trial division when a key is generated (about
//! 50,000 divisions, nothing next to one primality test), candidates are sieved the same
//! way (residues of a random start, then steps of 2). What passes the sieve gets
//! Miller-Rabin to base 2 (which throws out nearly every composite left), then the
//! primality test of FIPS 186-5 Appendix B.3.1: Miller-Rabin with random bases, as many
//! rounds as Table B.1 asks for the prime's size and the key's security strength (its
//! error bound, Damgård-Landrock-Pomerance for random candidates, below 2^-128 for RSA-2048
//! and -3072 and below 2^-144 for RSA-4096). That bound is proven for candidates drawn
//! one by one (B.3.3); ours are a sieved walk from a random start, as `RsaPrivateKey::new`'s
//! are (incremental search, Brandt and Damgård 1992), with the base-2 round on top of the
//! table's. `RsaPrivateKey::new` runs a strong Lucas test
//! instead of the random bases (Baillie-PSW); its perfect-square check needs a big-integer
//! square root, and with the Lucas and Jacobi code that was about 18 KB of the wasm
//! package before wasm-opt (issue 14), for a test run once per prime. The key is built as
//! `RsaPrivateKey::new` builds it: two
//! primes of half the size each with their two top bits set (so the modulus has exactly
//! the requested size), e = 65537, d from Euler's totient. Beyond what `new` checks, p and
//! q must be as far apart as FIPS 186-5 requires, and a broken RNG (stuck output) ends in
//! an error instead of a key with p = q or an endless search. Our copies of candidates
//! are wiped; the ones the Miller-Rabin test and `from_primes` make inside are not (as
//! with `new`).

use alloc::vec;
use alloc::vec::Vec;

use crypto_primes::hazmat::MillerRabin;
use rand_core::CryptoRng;
use rsa::{BoxedUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How many odd primes the sieve divides by: the first 2,047 (3 to 17,863), as many as
/// `crypto-primes` uses for candidates of RSA sizes.
const SMALL_PRIME_COUNT: usize = 2047;

/// How far the sieve walks from one random start before drawing another. The average gap
/// between primes near 2^1024 is about 710, so a window of 2^20 is left unfinished only
/// with negligible probability; the bound keeps every residue sum within a `u32`.
const WINDOW: u32 = 1 << 20;

/// Random starts one prime search draws before giving up. A start is redrawn only when
/// its window holds no usable prime or runs past 2^bits (a start within 2^20 of the top),
/// both of negligible probability: running out means a broken RNG (one stuck at all ones
/// redrew forever).
const MAX_STARTS: usize = 8;

/// Prime pairs drawn before giving up: a pair is refused only when p and q are closer than
/// FIPS 186-5 allows (p = q included), about one pair in 2^98, so a second refusal already
/// means a broken RNG; each pair costs two prime searches (seconds for RSA-4096 in wasm).
const MAX_PAIRS: usize = 4;

/// Random-base Miller-Rabin rounds (FIPS 186-5 B.3.1) for primes of at least 2048 and
/// 1536 bits, the halves of RSA-4096 and -3072 keys: Table B.1's 4 for an error below
/// 2^-144 and 2^-128 (the third number; the tests check the rounds against
/// `crypto_primes::hazmat::minimum_mr_iterations`, too slow to evaluate at compile time).
/// [`ROUNDS_1024`] for the rest.
const ROUNDS: [(usize, usize, u32); 2] = [(2048, 4, 144), (1536, 4, 128)];
/// The rounds for 1024-bit primes (RSA-2048), and below them (only in tests): 6, for an
/// error below 2^-128, one more than Table B.1's 5 for RSA-2048's 2^-112.
const ROUNDS_1024: usize = 6;

/// The public exponent of every key (the `rsa` crate's and WebCrypto's default).
const PUBLIC_EXPONENT: u32 = 65_537;

/// FIPS 186-5 A.1.3 (step 5.4): |p - q| must exceed 2^(bits/2 - 100), else Fermat's
/// method factors n; this many bits below the primes' size.
const MIN_DISTANCE_SHIFT: u32 = 100;

/// A new RSA private key with a modulus of `bits` bits: a multiple of 16 (two primes of
/// whole bytes; 2048, 3072 and 4096 all are) within the `rsa` crate's modulus sizes.
/// Anything else is [`Error::InvalidKey`]: an odd byte count would give a shorter key
/// and tiny sizes would search forever.
pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R, bits: usize) -> Result<RsaPrivateKey> {
    if !bits.is_multiple_of(16)
        || !(RsaPublicKey::MIN_SIZE..=RsaPublicKey::MAX_SIZE).contains(&bits)
    {
        return Err(Error::InvalidKey);
    }
    let half = bits / 2;
    let half_bits = u32::try_from(half).map_err(|_| Error::InvalidKey)?;
    let small = small_primes();
    for _ in 0..MAX_PAIRS {
        let p = prime(rng, half, &small)?;
        let q = prime(rng, half, &small)?;
        if !far_apart(&p, &q, half_bits) {
            continue;
        }
        // p != q and e is invertible mod (p - 1)(q - 1) (`prime` refuses p = 1 mod e), so
        // this does not fail; the copies move into the key, which wipes them on drop.
        return RsaPrivateKey::from_primes(
            vec![BoxedUint::clone(&p), BoxedUint::clone(&q)],
            BoxedUint::from(PUBLIC_EXPONENT),
        )
        .map_err(|_| Error::Crypto);
    }
    Err(Error::Crypto)
}

/// Whether |p - q| > 2^(half_bits - 100) (FIPS 186-5 A.1.3 step 5.4), false for p = q.
/// Only which prime is the larger steers a branch, and p and q play the same role.
fn far_apart(p: &BoxedUint, q: &BoxedUint, half_bits: u32) -> bool {
    let gap = Zeroizing::new(if p > q {
        p.wrapping_sub(q)
    } else {
        q.wrapping_sub(p)
    });
    let limit = BoxedUint::one_with_precision(gap.bits_precision())
        .wrapping_shl_vartime(half_bits.saturating_sub(MIN_DISTANCE_SHIFT));
    *gap > limit
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

/// A random prime of exactly `bits` bits (a multiple of 8) with its two top bits set and
/// gcd(e, p - 1) = 1 (e is prime: p is not 1 mod e). Every rejected candidate is wiped as
/// well as the prime's start: one of them and a few primality tests give the prime.
fn prime<R: CryptoRng + ?Sized>(
    rng: &mut R,
    bits: usize,
    small: &[u32],
) -> Result<Zeroizing<BoxedUint>> {
    let precision = u32::try_from(bits).map_err(|_| Error::InvalidKey)?;
    let mut start = Zeroizing::new(vec![0u8; bits / 8]);
    for _ in 0..MAX_STARTS {
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
                if residue(&bytes, PUBLIC_EXPONENT) != 1 {
                    let candidate = Zeroizing::new(
                        BoxedUint::from_be_slice(&bytes, precision).map_err(|_| Error::Crypto)?,
                    );
                    if probably_prime(rng, &candidate)? {
                        return Ok(candidate);
                    }
                }
            }
            step += 2;
        }
    }
    Err(Error::Crypto)
}

/// Miller-Rabin to base 2, then the FIPS 186-5 rounds with random bases for the
/// candidate's size.
fn probably_prime<R: CryptoRng + ?Sized>(rng: &mut R, candidate: &BoxedUint) -> Result<bool> {
    let odd = Option::from(candidate.to_odd()).ok_or(Error::Crypto)?;
    let test = MillerRabin::new(odd);
    if test.test_base_two().is_composite() {
        return Ok(false);
    }
    let bits = candidate.bits() as usize;
    let rounds = ROUNDS
        .iter()
        .find(|(at_least, _, _)| bits >= *at_least)
        .map_or(ROUNDS_1024, |(_, n, _)| *n);
    Ok((0..rounds).all(|_| test.test_random_base(rng).is_probably_prime()))
}

/// `be mod p` for a big-endian number and a small `p` (below 2^24, so `r << 8` fits).
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
    use crypto_primes::{Flavor, is_prime};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use rsa::Oaep;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    use sha2::Sha256;

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
            assert!(is_prime(Flavor::Any, &*p));
            // Sieved: no small factor (is_prime alone would not say it was sieved).
            let be = p.to_be_bytes();
            assert!(small.iter().all(|&s| residue(&be, s) != 0));
        }
    }

    #[test]
    fn the_round_counts_are_fips_186_5_table_b1s() {
        use crypto_primes::hazmat::minimum_mr_iterations;
        for (bits, rounds, log2_error) in ROUNDS {
            assert_eq!(minimum_mr_iterations(bits as u32, log2_error), Some(rounds));
        }
        // Table B.1 itself: 1024-bit primes 5 rounds for 2^-112 (we run 6, for 2^-128),
        // 1536-bit 4 for 2^-128, 2048-bit 4 for 2^-144.
        assert_eq!(minimum_mr_iterations(1024, 112), Some(5));
        assert_eq!(minimum_mr_iterations(1024, 128), Some(ROUNDS_1024));
        assert_eq!(minimum_mr_iterations(1536, 128), Some(4));
        assert_eq!(minimum_mr_iterations(2048, 144), Some(4));
    }

    #[test]
    fn strong_pseudoprimes_to_base_two_are_refused_and_primes_pass() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        // Composites that pass Miller-Rabin to base 2 (the last to every prime base up to 23).
        for n in [
            2047u64,
            3277,
            4033,
            4681,
            8321,
            3_215_031_751,
            3_825_123_056_546_413_051,
        ] {
            assert!(
                !probably_prime(&mut rng, &BoxedUint::from(n)).unwrap(),
                "{n}"
            );
        }
        for p in [3u64, 17_863, 2_147_483_647, 18_446_744_073_709_551_557] {
            assert!(
                probably_prime(&mut rng, &BoxedUint::from(p)).unwrap(),
                "{p}"
            );
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

    /// Plays back fixed fills (each repeated until the next one is asked for: one per
    /// `fill_bytes`), then the last one forever: a broken or hostile randomness source.
    struct Scripted {
        fills: Vec<Vec<u8>>,
        next: usize,
    }

    impl Scripted {
        fn new(fills: Vec<Vec<u8>>) -> Self {
            Self { fills, next: 0 }
        }
    }

    impl rand_core::TryRng for Scripted {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
            unreachable!("the prime search reads whole starts")
        }
        fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
            unreachable!("the prime search reads whole starts")
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Self::Error> {
            let fill = &self.fills[self.next.min(self.fills.len() - 1)];
            self.next += 1;
            dst.copy_from_slice(&fill[..dst.len()]);
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Scripted {}

    fn low_bytes(len: usize, low: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; len];
        v[len - low.len()..].copy_from_slice(low);
        v
    }

    #[test]
    fn fail_sizes_that_are_not_whole_bytes_per_prime_or_out_of_range() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        // 1032 would give two 512-bit primes and a 1024-bit key; 0 and 16 never
        // terminated (every candidate of 8 bits or fewer is one of the small primes).
        for bits in [0, 16, 512, 1032, 2056, 8208] {
            assert_eq!(
                generate(&mut rng, bits).err(),
                Some(Error::InvalidKey),
                "{bits}"
            );
        }
    }

    #[test]
    fn keys_of_every_supported_size_have_the_fips_properties() {
        let mut rng = ChaCha20Rng::from_seed([11; 32]);
        for bits in [1024, 2048, 3072, 4096] {
            let key = generate(&mut rng, bits).unwrap();
            key.validate().unwrap();
            assert_eq!(key.n().bits() as usize, bits);
            assert_eq!(key.e(), &BoxedUint::from(PUBLIC_EXPONENT));
            let [p, q] = key.primes() else {
                panic!("two primes")
            };
            let (p, q): (&BoxedUint, &BoxedUint) = (p.as_ref(), q.as_ref());
            assert_ne!(p, q);
            let half = bits as u32 / 2;
            for f in [p, q] {
                assert_eq!(f.bits(), half);
                assert!(bool::from(f.bit(half - 2)), "two top bits set");
                assert!(is_prime(Flavor::Any, f));
                // gcd(e, f - 1) = 1: e is prime, so f is not 1 mod e.
                assert_ne!(residue(&f.to_be_bytes(), PUBLIC_EXPONENT), 1);
            }
            assert!(far_apart(p, q, half));
            // validate() checked d e = 1 mod (p - 1) and mod (q - 1); the CRT values are
            // there and decrypt what the public key encrypts (a wrong dp, dq or qinv would not).
            assert!(key.dp().is_some() && key.dq().is_some() && key.qinv().is_some());
            let ct = key
                .to_public_key()
                .encrypt(&mut rng, Oaep::<Sha256>::new(), b"crt")
                .unwrap();
            let pt = key.decrypt_blinded(&mut rng, Oaep::<Sha256>::new(), &ct);
            assert_eq!(pt.unwrap(), b"crt");
        }
    }

    #[test]
    fn fail_primes_close_enough_for_fermat_factoring() {
        // Two starts 4096 apart: p and q are the first primes after each, far closer than
        // FIPS 186-5's 2^(bits/2 - 100). A source this broken must give no key.
        let small = small_primes();
        let a = low_bytes(64, &[0x01]);
        let b = low_bytes(64, &[0x10, 0x01]);
        let p = prime(&mut Scripted::new(vec![a.clone()]), 512, &small).unwrap();
        let q = prime(&mut Scripted::new(vec![b.clone()]), 512, &small).unwrap();
        assert_ne!(p, q, "the two starts lead to different primes");
        assert!(!far_apart(&p, &q, 512));
        let mut rng = Scripted::new([a, b].iter().cycle().take(2 * MAX_PAIRS).cloned().collect());
        assert_eq!(generate(&mut rng, 1024).err(), Some(Error::Crypto));
    }

    #[test]
    fn the_fips_distance_is_exact() {
        let half = 512;
        let base = BoxedUint::one_with_precision(half).shl(half - 1);
        let limit = BoxedUint::one_with_precision(half).shl(half - 100);
        let just_over = base.wrapping_add(&limit).wrapping_add(BoxedUint::from(2u8));
        assert!(!far_apart(&base, &base, half));
        assert!(!far_apart(&base, &base.wrapping_add(&limit), half));
        assert!(far_apart(&base, &just_over, half));
        assert!(far_apart(&just_over, &base, half));
    }

    #[test]
    fn fail_a_stuck_source_ends_with_an_error_not_a_hang() {
        // All zeros: p = q every time. All ones: every start overflows the window at once,
        // which redrew forever before.
        for byte in [0x00, 0xff] {
            let mut rng = Scripted::new(vec![vec![byte; 64]]);
            assert_eq!(
                generate(&mut rng, 1024).err(),
                Some(Error::Crypto),
                "{byte:#x}"
            );
        }
    }

    #[test]
    fn a_start_at_the_top_of_the_range_is_redrawn() {
        // 2^512 - 1 is a multiple of 3 and 2^512 + 1 has no small factor: the first
        // candidate that passes the sieve is past 2^512, so the search draws again.
        let top = vec![0xffu8; 64];
        let second = low_bytes(64, &[0x01]);
        let small = small_primes();
        let mut rng = Scripted::new(vec![top, second]);
        let p = prime(&mut rng, 512, &small).unwrap();
        // One redraw, then the random bases of the one candidate that passed base 2.
        assert_eq!(rng.next, 2 + ROUNDS_1024, "one redraw");
        assert_eq!(p.bits(), 512);
        assert!(bool::from(p.bit(510)));
        assert!(is_prime(Flavor::Any, &*p));
    }

    #[test]
    fn a_prime_one_more_than_a_multiple_of_e_is_skipped() {
        // x = 65537 k + 1, prime, with its two top bits set: used as the start, the search
        // meets x first and must pass over it (e would have no inverse mod x - 1).
        let e = BoxedUint::from_be_slice(&PUBLIC_EXPONENT.to_be_bytes(), 256).unwrap();
        let mut k = BoxedUint::one_with_precision(256)
            .shl(254 - 16)
            .wrapping_mul(BoxedUint::from(3u8));
        let x = loop {
            let x = k.wrapping_mul(&e).wrapping_add(BoxedUint::one());
            if is_prime(Flavor::Any, &x) {
                break x;
            }
            k = k.wrapping_add(BoxedUint::from(2u8));
        };
        assert_eq!(x.bits(), 256);
        assert!(bool::from(x.bit(254)));
        let start = x.to_be_bytes().to_vec();
        assert_eq!(residue(&start, PUBLIC_EXPONENT), 1);
        let small = small_primes();
        let p = prime(&mut Scripted::new(vec![start]), 256, &small).unwrap();
        assert!(*p > x);
        assert_ne!(residue(&p.to_be_bytes(), PUBLIC_EXPONENT), 1);
        assert!(is_prime(Flavor::Any, &*p));
    }
}
