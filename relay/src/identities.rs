//! The accounts' identity keys as owner authentication needs them: read from the stored
//! device list, whose signature is verified once per list (not on every request), and
//! the same signature work whether or not the account exists.
//!
//! Refusing a forged request for an unknown id without verifying anything answered
//! measurably faster than for a known one (issue 13: +33% to +128%), which told anyone
//! which ids exist. Now every signed request costs one RSA-PSS verification with a key
//! of the signature's length (2048, 3072 or 4096 bits): the account's key when it is
//! that size, else a key nobody holds. A signature of any other length costs none, for
//! every account alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sealpost_core::IdentityPublicKey;
use sealpost_core::v2::DeviceList;
use sha2::{Digest, Sha256};

/// Verified lists kept; when full, the cache starts over (a miss costs one verification).
const CAPACITY: usize = 4096;

/// Parsed, verified device lists by SHA-256 of their stored bytes: a list that changes
/// is a new entry, so nothing is ever stale.
#[derive(Debug, Default)]
pub struct VerifiedLists {
    lists: Mutex<HashMap<[u8; 32], Arc<DeviceList>>>,
}

impl VerifiedLists {
    /// The list `stored` parses to (its signature verified), or `None` if it does not
    /// parse, from the cache when it was seen before.
    pub fn get(&self, stored: &[u8]) -> Option<Arc<DeviceList>> {
        let hash: [u8; 32] = Sha256::digest(stored).into();
        let cached = self
            .lists
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned();
        if let Some(list) = cached {
            return Some(list);
        }
        // Verified outside the lock: other requests go on meanwhile.
        let list = Arc::new(DeviceList::from_bytes(stored).ok()?);
        let mut lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        if lists.len() >= CAPACITY {
            lists.clear();
        }
        lists.insert(hash, Arc::clone(&list));
        Some(list)
    }
}

/// Verifies `sig` over `msg` with `key` (the account's identity key, `None` for an
/// unknown account) doing the same work either way: one verification with a key of
/// the signature's length. `true` only for a valid signature by `key`.
pub fn verify_uniformly(key: Option<&IdentityPublicKey>, msg: &[u8], sig: &[u8]) -> bool {
    match key {
        Some(key) if key.to_spki_der().len() == spki_len_for(sig.len()) => {
            key.verify(msg, sig).is_ok()
        }
        _ => {
            if let Some(nobodys) = nobodys_key(sig.len()) {
                let _ = nobodys.verify(msg, sig);
            }
            false
        }
    }
}

/// The SPKI DER length of an RSA key whose signatures are `sig_len` bytes (0 when no
/// key size has them).
fn spki_len_for(sig_len: usize) -> usize {
    nobodys_key(sig_len).map_or(0, |k| k.to_spki_der().len())
}

/// The key nobody holds whose signatures are `sig_len` bytes long.
fn nobodys_key(sig_len: usize) -> Option<&'static IdentityPublicKey> {
    static KEYS: OnceLock<Vec<IdentityPublicKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        [DUMMY_2048, DUMMY_3072, DUMMY_4096]
            .iter()
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .filter_map(|der| IdentityPublicKey::from_spki_der(&der).ok())
            .collect()
    });
    let index = match sig_len {
        256 => 0,
        384 => 1,
        512 => 2,
        _ => return None,
    };
    keys.get(index)
}

// RSA public keys (SPKI DER, base64) made for this file, their private halves discarded
// at once: nobody can sign for them, and what they verify is refused anyway.
const DUMMY_2048: &str = concat!(
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAplsFAkAtku4f/lmamEmJBqGqv/NGoi8nYslu2hgB+ec8",
    "kaBeVmPVI503p6I9XX5r0A8M2rL+jbDYlUoqMxDFdg6ebwvaz2EXg5I1K7vCG2waMsfDuwCUhhxJrEaLIk+3qIy0",
    "MEqTtT6BJElL48s+hYFNVHCnzu8nwyCIU/X0rRQ3ayJKIR5n3a69D+Jfj3TpP7d05hVAQV2dkt66sORaHe8pCgVb",
    "2zU2/OKYIrqn1FG0ruNUCeaHWRQBr/VIXpCZdU1QqPxLyKkj6ZzT3qkiQ1jehnmxBjJqIus2EFnI/SSQchodP/ok",
    "OsLnbWI/ca21Jrj8azOwl+4usB9Es+cvrwIDAQAB"
);
const DUMMY_3072: &str = concat!(
    "MIIBojANBgkqhkiG9w0BAQEFAAOCAY8AMIIBigKCAYEA0j2Z9ViRfZzCjVk4cFI6vbOqWhx7H0tmeuafusxWfwq2",
    "gCf3zbRenE0fMVyjGo4VgJh7PuoMH9bZwMWGxGcC1ClwSRcu0vN8ULUfAShK+6VzfZv5tQEyrKq/kv6oII2yuigd",
    "X6YhIBBJMy0YPVZL8iiHNpxsj5EfoHgVZCoFLcz6Wqc0y1XmmLDRQrL9T5GyvzrYH2kmZbE/Pu3QMhNa96xtDUZZ",
    "RS0kXFHKMKz2FY3jlsRhmPjm9WQB6YHx2K42sClaNKZFX2cpPnBw1Uklc45zMZFGiO7Tqj8aKKcFDUy92prSsmiV",
    "ehUDrFLma39Pl6VCtY+m5sX4QGdVjY+s3TAYRqdoXi2l1EyLln/NP2t/Yr4/a1edgsOSHmYoEwNX2x9ISSUDB8tA",
    "x+bmWcYRsSAWRn9VnRi6tC9f0pY53WWxNKjEKOR9ffUIoTECsf4kRMkmrVVeUw/3OEymDc9iS8xaeB/vLVuKGdNe",
    "6Oda88yYVQ72Er9+nVWvcuyRb3h5AgMBAAE="
);
const DUMMY_4096: &str = concat!(
    "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAm6vpJt89Lz9odrW6d6bxvbEDQuEM7V7ECzRN5WEVEkuv",
    "mX0l0SqO6gH+qbaqTsG/qgVNxbakI4R18/vGL1HZgvAoV2S6dsXmNdR64nseNmRtjSUrJnQNZ6NAIjnRpf6p1NXe",
    "gyuyTLZpIlM/PE6ytOSeaIMLst44kOWGe1vb/GZhOUMVbM+aVzfL4Ax40wlmkZliLj/sVEMtMcuMzqLrfwjqtJfk",
    "66q95qOOtNwflyE0b1/wRZw/68pgMjbF+VLxBTjXGZK/JpTZ2BFcAN/kiyzuWxrd9KX7+wMKjS0hvIvXynCTH1jx",
    "f1grtiqMVLH8HaCyFeNnUg2qD63WytZOBTioP/wn4C2s/7e9bw4+WADs7aq1es1Jflee3ILaafcGgywob8vFYOLA",
    "ltak4xDVEJu9Nmcs3yd/PaYQ+KQw+f0L8I3TFdLnJ63tbRHwIZye8sw0t6BTfjsZTV/SnSViGvHQy8VEN4rSbHrE",
    "RCY7r8dhZ9UA4/asnrlmbb3Cbe74Wk3EDc9Cwu3muCOWtrT5pR80E2nKXlJeCsP1rmf9gP7B9WmxRuELRK5sQnTc",
    "gwV2Vh/SGzgWYzlk0nvG9QcQOH1n+/BawXQruJfZSEIVkWxzC/yoba2fK1dSGtSoNxUYl251v7JG8yZi6h36B6vW",
    "3fe81nebynyR2rJ7lS98uokCAwEAAQ=="
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobodys_keys_parse_in_every_size() {
        for (len, bits) in [(256, 2048), (384, 3072), (512, 4096)] {
            let key = nobodys_key(len).unwrap();
            assert!(key.verify(b"x", &vec![1; len]).is_err(), "{bits}");
        }
        assert!(nobodys_key(300).is_none());
        assert!(!verify_uniformly(None, b"x", &[1; 512]));
    }
}
