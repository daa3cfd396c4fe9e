//! The room code (PROTOCOL.md 30.1): `<nameplate>-<secret>`. The nameplate is the
//! relay's short number for the room (public); the secret is 8 characters the relay
//! never sees (40 random bits), and both are the SPAKE2 password.

use alloc::string::String;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Characters of the secret part.
pub const SECRET_LEN: usize = 8;
/// The largest nameplate a relay hands out (six decimal digits at most).
pub const MAX_NAMEPLATE: u32 = 999_999;

/// Crockford's base32, lower case: no `i`, `l`, `o`, `u`; read aloud or typed without
/// ambiguity.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A room code. Secret: redacted `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize)]
#[zeroize(drop)]
pub struct RoomCode {
    nameplate: u32,
    secret: [u8; SECRET_LEN],
}

impl fmt::Debug for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomCode({}-<redacted>)", self.nameplate)
    }
}

impl RoomCode {
    /// A fresh secret for the relay's `nameplate` (1 ..= [`MAX_NAMEPLATE`]).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, nameplate: u32) -> Result<Self> {
        check_nameplate(nameplate)?;
        let mut raw = Zeroizing::new([0u8; SECRET_LEN]);
        rng.fill_bytes(raw.as_mut());
        let mut secret = [0u8; SECRET_LEN];
        for (c, r) in secret.iter_mut().zip(raw.iter()) {
            *c = ALPHABET.get(usize::from(r & 0x1f)).copied().unwrap_or(b'0');
        }
        Ok(Self { nameplate, secret })
    }

    /// Parses a typed, scanned or linked code: the nameplate's decimal digits, `-`, then
    /// the 8 secret characters, case-insensitive, spaces and further `-` ignored, `o`
    /// read as `0` and `i`/`l` as `1`. Anything else is [`Error::Malformed`].
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (plate, rest) = text.split_once('-').ok_or(Error::Malformed)?;
        if plate.is_empty() || plate.len() > 6 || !plate.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Malformed);
        }
        if plate.starts_with('0') {
            return Err(Error::Malformed);
        }
        let nameplate: u32 = plate.parse().map_err(|_| Error::Malformed)?;
        check_nameplate(nameplate)?;
        let mut secret = [0u8; SECRET_LEN];
        let mut n = 0;
        for b in rest.bytes().filter(|b| !matches!(b, b' ' | b'-')) {
            let c = match b.to_ascii_lowercase() {
                b'o' => b'0',
                b'i' | b'l' => b'1',
                c => c,
            };
            if !ALPHABET.contains(&c) {
                return Err(Error::Malformed);
            }
            *secret.get_mut(n).ok_or(Error::Malformed)? = c;
            n += 1;
        }
        if n != SECRET_LEN {
            return Err(Error::Malformed);
        }
        Ok(Self { nameplate, secret })
    }

    /// The relay's number for the room.
    pub fn nameplate(&self) -> u32 {
        self.nameplate
    }

    /// The canonical text, `4821-7kq9m2xa`: shown, put in the QR code and in the link's
    /// fragment.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(7 + SECRET_LEN));
        s.push_str(&alloc::format!("{}-", self.nameplate));
        s.extend(self.secret.iter().map(|&c| char::from(c)));
        s
    }

    /// The SPAKE2 password: `"sealpost/v2/room-code\0" || text`.
    pub(crate) fn password(&self) -> Zeroizing<alloc::vec::Vec<u8>> {
        let text = self.to_text();
        let mut pw = Zeroizing::new(alloc::vec::Vec::with_capacity(32 + text.len()));
        pw.extend_from_slice(b"sealpost/v2/room-code\0");
        pw.extend_from_slice(text.as_bytes());
        pw
    }
}

fn check_nameplate(n: u32) -> Result<()> {
    if (1..=MAX_NAMEPLATE).contains(&n) {
        Ok(())
    } else {
        Err(Error::Malformed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn parse_is_forgiving_about_case_spaces_and_look_alikes() {
        let c = RoomCode::parse(" 4821-7KQ9 M2XA ").unwrap();
        assert_eq!(c.to_text().as_str(), "4821-7kq9m2xa");
        let look = RoomCode::parse("4821-OIL9m2xa").unwrap();
        assert_eq!(look.to_text().as_str(), "4821-0119m2xa");
        assert_eq!(c.nameplate(), 4821);
    }

    #[test]
    fn parse_refuses_what_is_not_a_code() {
        for bad in [
            "",
            "4821",
            "-7kq9m2xa",
            "04821-7kq9m2xa",
            "1234567-7kq9m2xa",
            "0-7kq9m2xa",
            "4821-7kq9m2x",
            "4821-7kq9m2xab",
            "4821-7kq9m2xu",
            "48a1-7kq9m2xa",
        ] {
            assert_eq!(RoomCode::parse(bad), Err(Error::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn generated_codes_round_trip_and_debug_hides_the_secret() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let c = RoomCode::generate(&mut rng, 77).unwrap();
        assert_eq!(RoomCode::parse(&c.to_text()).unwrap(), c);
        assert!(!alloc::format!("{c:?}").contains(&c.to_text()[3..]));
        assert!(RoomCode::generate(&mut rng, 0).is_err());
        assert!(RoomCode::generate(&mut rng, MAX_NAMEPLATE + 1).is_err());
    }
}
