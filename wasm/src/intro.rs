//! The sender's username inside every message the `Client` sends.
//!
//! A recipient learns a sender's user id and identity key from the envelope, but not the
//! name: user ids are hashes, and the directory maps names to keys, not back. Without the
//! name, a message from someone the recipient never looked up has no one to show and no
//! one to reply to. So the `Client` wraps its content in content type 255 (reserved by
//! the client; PROTOCOL.md §17): `var8(username) || content_type || content`. The
//! recipient accepts the name only if it hashes to the sender's user id (which the
//! envelope's signature or session binds), so it cannot be spoofed, and then unwraps.

use sealpost_core::{Error, UserId, Username, padding::MAX_ENVELOPE_LEN};

/// Content type of a wrapped message.
pub(crate) const INTRO: u8 = 0xFF;

/// Room left for the envelope's own overhead (key block, signature, identity key,
/// header, framing) when deciding whether the name still fits.
const OVERHEAD: usize = 8 * 1024;

/// `content` wrapped with `username`, or unchanged when it would no longer fit in an
/// envelope (the recipient then sees no name, as before).
pub(crate) fn wrap(username: &Username, content_type: u8, content: Vec<u8>) -> (u8, Vec<u8>) {
    let name = username.as_str().as_bytes();
    let Ok(len) = u8::try_from(name.len()) else {
        return (content_type, content);
    };
    if content.len() + name.len() + 2 + OVERHEAD > MAX_ENVELOPE_LEN {
        return (content_type, content);
    }
    let mut out = Vec::with_capacity(content.len() + name.len() + 2);
    out.push(len);
    out.extend_from_slice(name);
    out.push(content_type);
    out.extend_from_slice(&content);
    (INTRO, out)
}

/// A message's content after unwrapping.
pub(crate) struct Unwrapped {
    /// The sender's username, checked against the sender's user id.
    pub(crate) username: Option<Username>,
    pub(crate) content_type: u8,
    pub(crate) content: Vec<u8>,
}

/// Unwraps content type [`INTRO`] (other content passes through). `Malformed` when the
/// wrapping is broken or the name is not the sender's.
pub(crate) fn unwrap(
    sender: &UserId,
    content_type: u8,
    content: Vec<u8>,
) -> Result<Unwrapped, Error> {
    if content_type != INTRO {
        return Ok(Unwrapped {
            username: None,
            content_type,
            content,
        });
    }
    let (&len, rest) = content.split_first().ok_or(Error::Malformed)?;
    let (name, rest) = rest
        .split_at_checked(usize::from(len))
        .ok_or(Error::Malformed)?;
    let (&inner_type, inner) = rest.split_first().ok_or(Error::Malformed)?;
    let name = core::str::from_utf8(name).map_err(|_| Error::Malformed)?;
    let username = Username::parse(name).map_err(|_| Error::Malformed)?;
    // Only the canonical form: one name, one encoding.
    if username.as_str() != name || username.user_id() != *sender || inner_type == INTRO {
        return Err(Error::Malformed);
    }
    Ok(Unwrapped {
        username: Some(username),
        content_type: inner_type,
        content: inner.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Username {
        Username::parse(s).unwrap()
    }

    #[test]
    fn round_trip_checks_the_sender() {
        let alice = name("alice");
        let (t, c) = wrap(&alice, 0, b"hi".to_vec());
        assert_eq!(t, INTRO);
        let u = unwrap(&alice.user_id(), t, c.clone()).unwrap();
        assert_eq!(u.username.unwrap().as_str(), "alice");
        assert_eq!((u.content_type, u.content.as_slice()), (0, &b"hi"[..]));
        // Someone else's name: refused.
        assert!(unwrap(&name("mallory").user_id(), t, c).is_err());
    }

    #[test]
    fn plain_content_passes_through() {
        let u = unwrap(&name("bob").user_id(), 7, vec![1, 2]).unwrap();
        assert!(u.username.is_none());
        assert_eq!((u.content_type, u.content), (7, vec![1, 2]));
    }

    #[test]
    fn fail_malformed_wrappings() {
        let id = name("alice").user_id();
        for bad in [
            &[][..],
            &[5, b'a', b'l'],
            &[5, b'a', b'l', b'i', b'c', b'e'],
            &[5, b'A', b'l', b'i', b'c', b'e', 0],
            &[5, b'a', b'l', b'i', b'c', b'e', INTRO, 0],
            &[2, b'a', b'l', 0],
            &[0xff, 0],
        ] {
            assert!(unwrap(&id, INTRO, bad.to_vec()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn too_large_stays_unwrapped() {
        let big = vec![0u8; MAX_ENVELOPE_LEN - OVERHEAD];
        let (t, c) = wrap(&name("alice"), 1, big.clone());
        assert_eq!((t, c.len()), (1, big.len()));
    }
}
