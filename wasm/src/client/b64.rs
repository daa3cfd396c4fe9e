//! Base64url without padding (docs/API.md: the relay's JSON uses it; padding is accepted
//! on input). Hand-written rather than the `base64` crate: its general-purpose engine
//! was about 6 KB of the wasm module for two calls (the module has a gzip budget).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's value in the alphabet, 255 for a byte outside it.
const DECODE: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=group.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// `None` for a character outside the alphabet, a length no encoding has, or unused
/// bits that are not zero (every byte string has exactly one encoding).
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for group in s.chunks(4) {
        let take = group.len().checked_sub(1).filter(|&n| n > 0)?;
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            let v = DECODE[usize::from(c)];
            if v == 255 {
                return None;
            }
            n |= u32::from(v) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        if bytes.get(1 + take..)?.iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(bytes.get(1..1 + take)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..70 {
            let e = encode(&data[..len]);
            assert_eq!(e.len(), (len * 4).div_ceil(3));
            assert_eq!(decode(&e).as_deref(), Some(&data[..len]));
        }
        assert!(!encode(&data).contains(['+', '/', '=']));
    }

    #[test]
    fn known_values_and_padding() {
        assert_eq!(encode(b"foob"), "Zm9vYg");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(decode("").as_deref(), Some(&[][..]));
    }

    #[test]
    fn refuses_what_no_encoder_writes() {
        assert_eq!(decode("Zm9vY"), None); // a length no encoding has
        assert_eq!(decode("Zm9vYh"), None); // unused bits set
        assert_eq!(decode("Zm+v"), None); // standard alphabet
        assert_eq!(decode("Zm9v Yg"), None);
    }
}
