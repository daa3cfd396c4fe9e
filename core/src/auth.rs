//! What an account signs to prove to the relay that it owns a mailbox.
//!
//! The relay knows only the identity public key in the registered bundle; it checks
//! RSA-PSS signatures over these domain-separated strings. Keeping them here means the
//! relay and every client build exactly the same bytes.

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::username::UserId;
use crate::v2::DeviceId;
use crate::wire::hex_byte;

/// Bytes signed for one HTTP request:
/// `"sealpost/v1/request\0" || method || "\n" || path_and_query || "\n" ||
/// hex(SHA-256(body)) || "\n" || timestamp (decimal Unix seconds) || "\n" || nonce`.
pub fn request_signing_input(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: u64,
    nonce: &str,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(160 + path_and_query.len());
    m.extend_from_slice(b"sealpost/v1/request\0");
    m.extend_from_slice(method.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(path_and_query.as_bytes());
    m.push(b'\n');
    for b in Sha256::digest(body) {
        m.extend_from_slice(&hex_byte(b));
    }
    m.push(b'\n');
    let mut digits = [0u8; 20];
    let mut n = timestamp;
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    m.extend_from_slice(digits.get(i..).unwrap_or_default());
    m.push(b'\n');
    m.extend_from_slice(nonce.as_bytes());
    m
}

/// Bytes signed to answer a relay challenge (WebSocket log-in, bearer tokens):
/// `"sealpost/v1/challenge\0" || user_id || challenge`.
pub fn challenge_signing_input(user_id: &UserId, challenge: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + challenge.len());
    m.extend_from_slice(b"sealpost/v1/challenge\0");
    m.extend_from_slice(user_id.as_bytes());
    m.extend_from_slice(challenge);
    m
}

/// Bytes signed to answer the challenge on a device mailbox's WebSocket (PROTOCOL.md
/// 22): [`challenge_signing_input`]`(user_id, device_id || challenge)`, so an answer is
/// good for that one device's mailbox only.
pub fn device_challenge_signing_input(
    user_id: &UserId,
    device_id: &DeviceId,
    challenge: &[u8],
) -> Vec<u8> {
    let mut bound = Vec::with_capacity(DeviceId::LEN + challenge.len());
    bound.extend_from_slice(device_id.as_bytes());
    bound.extend_from_slice(challenge);
    challenge_signing_input(user_id, &bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_input_is_exact() {
        let m = request_signing_input("POST", "/v1/x?a=1", b"", 1_700_000_000, "n0");
        let expected = b"sealpost/v1/request\0POST\n/v1/x?a=1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1700000000\nn0";
        assert_eq!(m, expected.to_vec());
        let zero = request_signing_input("GET", "/", b"", 0, "");
        assert!(zero.ends_with(b"\n0\n"));
    }

    #[test]
    fn device_challenge_input_binds_the_device() {
        let user = UserId::from_bytes([1; 32]);
        let device = DeviceId::from_bytes([2; 16]);
        let m = device_challenge_signing_input(&user, &device, &[3; 32]);
        let mut expected = b"sealpost/v1/challenge\0".to_vec();
        expected.extend_from_slice(&[1; 32]);
        expected.extend_from_slice(&[2; 16]);
        expected.extend_from_slice(&[3; 32]);
        assert_eq!(m, expected);
        assert_eq!(m.len(), 102);
    }
}
