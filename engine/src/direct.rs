//! The direct channel's wire pieces (PROTOCOL.md 17.6 and 18.9): the `Signal` payload
//! that carries WebRTC signalling through the relay, sealed like any message (voice calls'
//! signalling too, 18.10: the same payload with a call id); the frames
//! that travel on the RTCDataChannel; the DTLS fingerprint binding; and the stable
//! reasons a channel is refused. The rules that use them are in `engine/direct.rs`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sealpost_core::v2::DeviceId;
use sealpost_core::{Error, Result, UserId};

use crate::codec::{Codec, Reader, put_var32};

/// Longest SDP carried in a signal (an offer or answer with every ICE candidate inline is
/// a few kilobytes).
pub const MAX_SDP_LEN: usize = 16_384;
/// A signal older (or further in the future) than this many seconds is dropped: its
/// sender was online then, not necessarily now, and its offer has gone stale.
pub const SIGNAL_MAX_AGE: u64 = 60;
/// Largest envelope sent over the channel; bigger ones (1 MiB buckets, attachments) go
/// through the relay. 64 KiB is what every browser's SCTP carries in one message.
pub const MAX_DIRECT_ENVELOPE: usize = 65_536;

/// SHA-256 of a DTLS certificate (its DER bytes), as in SDP's `a=fingerprint:sha-256`.
pub type CertFingerprint = [u8; 32];

/// What a signal asks of the receiving device. Kinds from `Ring` on are a voice call's
/// (PROTOCOL.md 18.10) and carry its [`CallId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalKind {
    /// "Here is my offer": answer it.
    Offer,
    /// "Here is my answer to your offer."
    Answer,
    /// "I closed the channel": fall back to the relay.
    Close,
    /// Call: "I am calling you" (to every device of the callee).
    Ring,
    /// Call: "I take your call; here is my offer" (callee to caller).
    Accept,
    /// Call: "here is my answer to your offer" (caller to the accepting device).
    CallAnswer,
    /// Call: "no" (callee to caller).
    Decline,
    /// Call: "I am in another call" (callee to caller).
    Busy,
    /// Call: "I hung up" (either side; the caller's before an answer is a cancel).
    HangUp,
    /// Call: "another of your devices took (or declined) it: stop ringing" (caller to
    /// the other devices it rang).
    Taken,
    /// Call: "your certificate was not the one you sealed: I refused the connection".
    Refuse,
}

/// Every kind, in wire order (code = index + 1).
const KINDS: [SignalKind; 11] = [
    SignalKind::Offer,
    SignalKind::Answer,
    SignalKind::Close,
    SignalKind::Ring,
    SignalKind::Accept,
    SignalKind::CallAnswer,
    SignalKind::Decline,
    SignalKind::Busy,
    SignalKind::HangUp,
    SignalKind::Taken,
    SignalKind::Refuse,
];

impl SignalKind {
    fn code(self) -> u8 {
        KINDS.iter().position(|k| *k == self).unwrap_or(0) as u8 + 1
    }

    /// Whether it is a call's (and so carries a call id).
    pub fn is_call(self) -> bool {
        self.code() >= 4
    }

    /// Whether it carries a fingerprint and an SDP.
    pub fn has_sdp(self) -> bool {
        matches!(
            self,
            SignalKind::Offer | SignalKind::Answer | SignalKind::Accept | SignalKind::CallAnswer
        )
    }
}

/// A voice call's id: 16 random bytes the caller picks.
pub type CallId = [u8; 16];

/// A WebRTC signalling message, sealed in a session to one device: its DTLS certificate
/// fingerprint is bound to the sender's identity by the session, so a relay that rewrites
/// signalling cannot put its own certificate in the middle.
#[derive(Clone, PartialEq, Eq)]
pub struct Signal {
    /// What it asks.
    pub kind: SignalKind,
    /// The sender's clock when it was made.
    pub sent_at: u64,
    /// The sender's DTLS certificate (all zero in a `Close`).
    pub fingerprint: CertFingerprint,
    /// The SDP (UTF-8, every ICE candidate inline; empty in a `Close`).
    pub sdp: Vec<u8>,
    /// The call it belongs to: present exactly for the call kinds.
    pub call: Option<CallId>,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("sent_at", &self.sent_at)
            .field("sdp_len", &self.sdp.len())
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl Codec for Signal {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind.code());
        out.extend_from_slice(&self.sent_at.to_be_bytes());
        out.extend_from_slice(&self.fingerprint);
        put_var32(out, &self.sdp);
        if let Some(call) = &self.call {
            out.extend_from_slice(call);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let code = usize::from(r.u8()?);
        let kind = *KINDS.get(code.wrapping_sub(1)).ok_or(Error::Malformed)?;
        let sent_at = r.u64()?;
        let fingerprint = r.array()?;
        let sdp = r.var32(MAX_SDP_LEN)?.to_vec();
        let call = if kind.is_call() {
            Some(r.array()?)
        } else {
            None
        };
        // One encoding per value: a close and the call's notes carry nothing else; an
        // offer, answer, accept or call answer has an SDP in UTF-8.
        let empty = sdp.is_empty() && fingerprint == [0; 32];
        if kind.has_sdp() == empty || core::str::from_utf8(&sdp).is_err() {
            return Err(Error::Malformed);
        }
        Ok(Self {
            kind,
            sent_at,
            fingerprint,
            sdp,
            call,
        })
    }
}

/// Whether every `a=fingerprint:` line of `sdp` names `expected` with SHA-256 (and there
/// is at least one). Another hash function, a second certificate or an unparsable line
/// is a mismatch: the browser would accept any certificate the SDP names. (Bytes, not
/// `str`: the check runs in the wasm build, where string searching costs size.)
pub fn sdp_binds(sdp: &[u8], expected: &CertFingerprint) -> bool {
    let mut found = false;
    for line in sdp.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(rest) = line.strip_prefix(b"a=fingerprint:") else {
            continue;
        };
        let value = match rest.get(..8) {
            Some(hash) if hash.eq_ignore_ascii_case(b"sha-256 ") => rest.get(8..),
            _ => None,
        };
        if value.and_then(parse_colon_hex).as_ref() != Some(expected) {
            return false;
        }
        found = true;
    }
    found
}

/// `AB:CD:...` (32 bytes, either case) as bytes.
pub fn parse_colon_hex(s: &[u8]) -> Option<CertFingerprint> {
    if s.len() != 32 * 3 - 1 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = digit(*s.get(3 * i)?)?;
        let lo = digit(*s.get(3 * i + 1)?)?;
        if i < 31 && s.get(3 * i + 2) != Some(&b':') {
            return None;
        }
        *byte = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// One message on the data channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// An envelope, numbered by the sender (`0x01 || u64(seq) || envelope`).
    Blob {
        /// The sender's number for it (its deposit handle), echoed by the ack.
        seq: u64,
        /// The sealed envelope, exactly as it would be deposited at the relay.
        envelope: Vec<u8>,
    },
    /// "I stored what blob `seq` changed" (`0x02 || u64(seq)`): the relay's
    /// acknowledgement, spoken by the receiving device.
    Ack {
        /// The blob's number.
        seq: u64,
    },
}

impl Frame {
    /// The frame's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Frame::Blob { seq, envelope } => {
                out.push(1);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(envelope);
            }
            Frame::Ack { seq } => {
                out.push(2);
                out.extend_from_slice(&seq.to_be_bytes());
            }
        }
        out
    }

    /// Parses a frame; [`Error::Malformed`] for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let kind = r.u8()?;
        let seq = r.u64()?;
        match kind {
            1 => {
                let envelope = r.bytes(bytes.len().saturating_sub(9))?.to_vec();
                if envelope.is_empty() || envelope.len() > MAX_DIRECT_ENVELOPE {
                    return Err(Error::Malformed);
                }
                Ok(Frame::Blob { seq, envelope })
            }
            2 => {
                r.finish()?;
                Ok(Frame::Ack { seq })
            }
            _ => Err(Error::Malformed),
        }
    }
}

/// Why a direct channel was refused or ended; the relay carries on either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectError {
    /// A signal's SDP, or the certificate the connection presented, is not the one the
    /// peer sealed: someone rewrote signalling. Never connected.
    FingerprintMismatch,
    /// Direct channels are only for engaged contacts (not strangers, not this account).
    NotAllowed,
    /// No device of the contact is known to offer to.
    NoDevices,
}

impl DirectError {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            DirectError::FingerprintMismatch => "DIRECT_FINGERPRINT_MISMATCH",
            DirectError::NotAllowed => "DIRECT_NOT_ALLOWED",
            DirectError::NoDevices => "DIRECT_NO_DEVICES",
        }
    }
}

const BLOB_ID_PREFIX: &str = "direct:";

/// The blob id under which the engine handles an envelope that came over the channel:
/// relay blob ids are 32 hex digits, so these never collide with them.
pub(crate) fn blob_id(user: &UserId, device: &DeviceId, seq: u64) -> String {
    format!(
        "{BLOB_ID_PREFIX}{}:{}:{seq}",
        user.to_hex(),
        device.to_hex()
    )
}

/// The peer and number of a [`blob_id`].
pub(crate) fn parse_blob_id(id: &str) -> Option<(UserId, DeviceId, u64)> {
    let mut parts = id.strip_prefix(BLOB_ID_PREFIX)?.split(':');
    let user = UserId::from_hex(parts.next()?).ok()?;
    let device = DeviceId::from_hex(parts.next()?).ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((user, device, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: CertFingerprint = [0xab; 32];

    fn colon(fp: &CertFingerprint) -> String {
        fp.iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    #[test]
    fn signals_round_trip_and_refuse_other_encodings() {
        let offer = Signal {
            kind: SignalKind::Offer,
            sent_at: 5,
            fingerprint: FP,
            sdp: b"v=0".to_vec(),
            call: None,
        };
        assert_eq!(Signal::from_bytes(&offer.to_bytes()), Ok(offer.clone()));
        let close = Signal {
            kind: SignalKind::Close,
            sent_at: 5,
            fingerprint: [0; 32],
            sdp: Vec::new(),
            call: None,
        };
        assert_eq!(Signal::from_bytes(&close.to_bytes()), Ok(close.clone()));
        let odd_close = Signal {
            sdp: b"x".to_vec(),
            ..close
        };
        assert_eq!(
            Signal::from_bytes(&odd_close.to_bytes()),
            Err(Error::Malformed)
        );
        let empty_offer = Signal {
            sdp: Vec::new(),
            fingerprint: [0; 32],
            ..offer.clone()
        };
        assert_eq!(
            Signal::from_bytes(&empty_offer.to_bytes()),
            Err(Error::Malformed)
        );
        let mut bad_kind = offer.to_bytes();
        bad_kind[0] = 12;
        assert_eq!(Signal::from_bytes(&bad_kind), Err(Error::Malformed));
        let latin1 = Signal {
            sdp: alloc::vec![0xff],
            ..offer
        };
        assert_eq!(
            Signal::from_bytes(&latin1.to_bytes()),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn call_signals_carry_their_call_and_only_accept_and_answer_an_sdp() {
        let ring = Signal {
            kind: SignalKind::Ring,
            sent_at: 5,
            fingerprint: [0; 32],
            sdp: Vec::new(),
            call: Some([7; 16]),
        };
        assert_eq!(Signal::from_bytes(&ring.to_bytes()), Ok(ring.clone()));
        let accept = Signal {
            kind: SignalKind::Accept,
            fingerprint: FP,
            sdp: b"v=0".to_vec(),
            ..ring.clone()
        };
        assert_eq!(Signal::from_bytes(&accept.to_bytes()), Ok(accept.clone()));
        // Without its call id (cut short), with an SDP it must not carry, without one
        // it must: all malformed. So is a direct kind followed by a call id.
        let bytes = ring.to_bytes();
        assert_eq!(
            Signal::from_bytes(&bytes[..bytes.len() - 1]),
            Err(Error::Malformed)
        );
        let ring_sdp = Signal {
            sdp: b"v=0".to_vec(),
            fingerprint: FP,
            ..ring.clone()
        };
        assert_eq!(
            Signal::from_bytes(&ring_sdp.to_bytes()),
            Err(Error::Malformed)
        );
        let bare_accept = Signal {
            kind: SignalKind::Accept,
            ..ring.clone()
        };
        assert_eq!(
            Signal::from_bytes(&bare_accept.to_bytes()),
            Err(Error::Malformed)
        );
        let close_with_call = Signal {
            kind: SignalKind::Close,
            ..ring
        };
        assert_eq!(
            Signal::from_bytes(&close_with_call.to_bytes()),
            Err(Error::Malformed)
        );
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(usize::from(k.code()), i + 1);
        }
        assert_eq!(Signal::from_bytes(&[12]), Err(Error::Malformed));
    }

    #[test]
    fn the_sdp_binds_only_the_sealed_certificate() {
        let line = format!("a=fingerprint:sha-256 {}\r\n", colon(&FP));
        let sdp = format!("v=0\r\n{line}m=application 9\r\n{line}");
        assert!(sdp_binds(sdp.as_bytes(), &FP));
        assert!(sdp_binds(sdp.to_lowercase().as_bytes(), &FP));
        // None at all, another certificate next to it, another hash, a broken value.
        assert!(!sdp_binds(b"v=0\r\n", &FP));
        let other = format!("{sdp}a=fingerprint:sha-256 {}\r\n", colon(&[1; 32]));
        assert!(!sdp_binds(other.as_bytes(), &FP));
        let sha1 = format!("{sdp}a=fingerprint:sha-1 AB:AB\r\n");
        assert!(!sdp_binds(sha1.as_bytes(), &FP));
        let short = format!("a=fingerprint:sha-256 {}\r\n", &colon(&FP)[3..]);
        assert!(!sdp_binds(short.as_bytes(), &FP));
        let long = format!("a=fingerprint:sha-256 {}:00\r\n", colon(&FP));
        assert!(!sdp_binds(long.as_bytes(), &FP));
    }

    #[test]
    fn frames_round_trip_and_refuse_the_rest() {
        for f in [
            Frame::Blob {
                seq: 7,
                envelope: alloc::vec![1, 2, 3],
            },
            Frame::Ack { seq: u64::MAX },
        ] {
            assert_eq!(Frame::from_bytes(&f.to_bytes()), Ok(f));
        }
        for bad in [
            &[][..],
            &[1, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0][..],
            &[3, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[2, 0, 0][..],
        ] {
            assert_eq!(Frame::from_bytes(bad), Err(Error::Malformed), "{bad:?}");
        }
        let mut big = alloc::vec![1u8; 9 + MAX_DIRECT_ENVELOPE + 1];
        big[0] = 1;
        assert_eq!(Frame::from_bytes(&big), Err(Error::Malformed));
    }

    #[test]
    fn direct_blob_ids_name_their_peer_and_never_a_relay_blob() {
        let user = UserId::from_hex(&"ab".repeat(32)).unwrap();
        let device = DeviceId::from_hex(&"cd".repeat(16)).unwrap();
        let id = blob_id(&user, &device, 42);
        assert_eq!(parse_blob_id(&id), Some((user, device, 42)));
        assert_eq!(parse_blob_id(&"0".repeat(32)), None);
        assert_eq!(parse_blob_id(&format!("{id}:1")), None);
    }
}
