//! Safety numbers: what two people compare (aloud or by QR code) to know that no one
//! sits between them.
//!
//! Each side's fingerprint is an iterated SHA-256 over its user id and identity key
//! (the iteration makes a key whose fingerprint collides with a target's partial digits
//! costly to find). The safety number is both 30-digit fingerprints in sorted order, so
//! both people see the same 60 digits.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::keys::IdentityPublicKey;
use crate::username::UserId;

/// SHA-256 iterations per fingerprint.
pub const FINGERPRINT_ITERATIONS: u32 = 5200;
/// Version byte of the QR payload.
pub const QR_VERSION: u8 = 1;

fn fingerprint(user_id: &UserId, key: &IdentityPublicKey) -> [u8; 32] {
    let spki = key.to_spki_der();
    let mut d: [u8; 32] = {
        let mut h = Sha256::new();
        h.update(b"sealpost/v1/safety\0");
        h.update(user_id.as_bytes());
        h.update(spki);
        h.finalize().into()
    };
    for _ in 0..FINGERPRINT_ITERATIONS {
        let mut h = Sha256::new();
        h.update(d);
        h.update(spki);
        d = h.finalize().into();
    }
    d
}

/// 30 decimal digits from the first 30 bytes: six 5-byte chunks, each mod 100000.
fn digits(fp: &[u8; 32]) -> String {
    let mut s = String::with_capacity(30);
    for chunk in fp.chunks_exact(5).take(6) {
        let v = chunk.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)) % 100_000;
        let mut buf = [b'0'; 5];
        let mut v = v;
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        s.extend(buf.iter().map(|b| char::from(*b)));
    }
    s
}

/// The safety number of two identities, identical on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    low: [u8; 32],
    high: [u8; 32],
}

impl SafetyNumber {
    /// Computes the safety number of `(a_id, a_key)` and `(b_id, b_key)`, in either order.
    pub fn new(
        a_id: &UserId,
        a_key: &IdentityPublicKey,
        b_id: &UserId,
        b_key: &IdentityPublicKey,
    ) -> Self {
        let a = fingerprint(a_id, a_key);
        let b = fingerprint(b_id, b_key);
        // Sort by the displayed digits so that both sides agree on the order.
        if (digits(&a), a) <= (digits(&b), b) {
            Self { low: a, high: b }
        } else {
            Self { low: b, high: a }
        }
    }

    /// 60 digits.
    pub fn digits(&self) -> String {
        let mut s = digits(&self.low);
        s.push_str(&digits(&self.high));
        s
    }

    /// Twelve groups of five digits separated by spaces, for reading aloud.
    pub fn display(&self) -> String {
        let d = self.digits();
        let mut out = String::with_capacity(71);
        for (i, c) in d.chars().enumerate() {
            if i > 0 && i % 5 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    /// The compact QR payload: `version || low fingerprint || high fingerprint`
    /// (65 bytes). Both sides produce identical bytes.
    pub fn qr_payload(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(65);
        v.push(QR_VERSION);
        v.extend_from_slice(&self.low);
        v.extend_from_slice(&self.high);
        v
    }

    /// Whether a scanned payload matches (constant time is unnecessary: nothing here is
    /// secret).
    pub fn matches_qr(&self, scanned: &[u8]) -> bool {
        scanned == self.qr_payload().as_slice()
    }
}
