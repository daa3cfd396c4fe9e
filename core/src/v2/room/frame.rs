//! Room frames (PROTOCOL.md 30.4) and room key rotation (30.5): AES-256-GCM under the
//! room key of an epoch, with the sender, the addressee, the epoch and the sender's
//! counter in the associated data and the nonce. Each frame also carries, sealed, the
//! sender's roster: the members it sees, each with the last counter it accepted from
//! that member, so a member the relay hides from some is shown to them through the
//! others' frames, and a sender learns which of its frames reached whom. Each frame
//! is also numbered in its stream (its epoch, sender and addressee), so a receiver sees
//! a frame missing between two that arrived. This module
//! seals and opens; which counters and epochs a member accepts, and what a roster
//! means, are the engine's rules.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::primitives::{self, Key};
use crate::wire::Reader;

use super::MAX_MEMBERS;

/// A member's number in its room, given by the relay (1 is the host).
pub type MemberId = u16;
/// The addressee of a frame for every member.
pub const EVERYONE: MemberId = 0;
/// Frame format version (4: the header carries the frame's number in its stream; 3
/// had none, 2 had rosters of member ids only).
pub const FRAME_VERSION: u8 = 4;
/// Bytes of a roster entry: `member_id(u16) || counter(u64)`.
pub const ROSTER_ENTRY_LEN: usize = 2 + 8;
/// Bytes of a frame header: version, epoch, sender, addressee, counter, stream number.
pub const FRAME_HEADER_LEN: usize = 1 + 4 + 2 + 2 + 8 + 4;
/// Longest text of a text frame, in UTF-8 bytes.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest WebRTC signalling payload (an SDP offer with its candidates).
pub const MAX_SIGNAL_LEN: usize = 16 * 1024;
/// Longest display name in a hello.
pub const MAX_NAME_LEN: usize = 64;
/// Largest frame: the header, the longest roster, the longest content and its kind
/// byte, the tag.
pub const MAX_FRAME_LEN: usize =
    FRAME_HEADER_LEN + 1 + ROSTER_ENTRY_LEN * MAX_MEMBERS + 1 + MAX_SIGNAL_LEN + 16;
/// Bytes of a rekey message.
pub const REKEY_LEN: usize = 4 + 12 + 32 + 16;

const FRAME_AAD: &[u8] = b"sealpost/v2/room-frame";
const REKEY_AAD: &[u8] = b"sealpost/v2/room-rekey";

/// A room key and the epoch it belongs to.
#[derive(Clone)]
pub struct EpochKey {
    /// Starts at 0 with the room; +1 at every change of membership.
    pub epoch: u32,
    /// The AES-256-GCM key of the room's frames in this epoch.
    pub key: Key,
}

impl core::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EpochKey(epoch {}, <secret>)", self.epoch)
    }
}

impl EpochKey {
    /// Wraps `key` of `epoch`.
    pub fn new(epoch: u32, key: [u8; 32]) -> Self {
        Self {
            epoch,
            key: Zeroizing::new(key),
        }
    }

    /// A fresh random key for `epoch`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, epoch: u32) -> Self {
        Self {
            epoch,
            key: primitives::random_key(rng),
        }
    }
}

/// What a frame carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A member's display name, sent once after joining (kind 1).
    Hello(String),
    /// A text message (kind 2).
    Text(String),
    /// WebRTC signalling for the voice mesh: offer, answer or ICE candidate, opaque
    /// UTF-8 the app defines (kind 3). The SDP's DTLS fingerprint travels here, so
    /// only a room member can put itself in the media path.
    Signal(String),
    /// Nothing but the roster: a member that accepted frames and sent none for a while
    /// says which counters it accepted (kind 4, an empty body).
    Receipt,
}

/// One member of a sender's roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RosterEntry {
    /// A member the sender sees.
    pub member: MemberId,
    /// The last counter the sender accepted from `member` when it sealed the frame;
    /// 0 in the sender's own entry.
    pub counter: u64,
}

/// What a frame's sealed part holds: the sender's roster and the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameBody {
    /// The members the sender sees (itself included), ascending by id, at most
    /// [`MAX_MEMBERS`], none [`EVERYONE`].
    pub roster: Vec<RosterEntry>,
    /// What it says.
    pub content: Content,
}

/// `n(u8) || n × (member_id(u16) || counter(u64)) || kind(u8) || body`.
fn encode_body(roster: &[RosterEntry], content: &Content) -> Result<Zeroizing<Vec<u8>>> {
    check_roster(roster)?;
    let mut out = Zeroizing::new(Vec::new());
    // At most MAX_MEMBERS (checked above): it fits a byte.
    out.push(roster.len() as u8);
    for e in roster {
        out.extend_from_slice(&e.member.to_be_bytes());
        out.extend_from_slice(&e.counter.to_be_bytes());
    }
    out.extend_from_slice(&content.encode()?);
    Ok(out)
}

impl FrameBody {
    fn decode(plain: &[u8]) -> Result<Self> {
        let mut r = Reader::new(plain);
        let n = usize::from(r.u8()?);
        let mut roster = Vec::new();
        for _ in 0..n.min(MAX_MEMBERS + 1) {
            let member = r.u16()?;
            roster.push(RosterEntry {
                member,
                counter: r.u64()?,
            });
        }
        check_roster(&roster)?;
        let content = Content::decode(r.bytes(r.remaining())?)?;
        Ok(Self { roster, content })
    }
}

/// A roster is at most [`MAX_MEMBERS`] entries, member ids strictly ascending, none 0.
fn check_roster(roster: &[RosterEntry]) -> Result<()> {
    let mut last = EVERYONE;
    for e in roster {
        if e.member <= last {
            return Err(Error::Malformed);
        }
        last = e.member;
    }
    if roster.len() > MAX_MEMBERS {
        return Err(Error::Malformed);
    }
    Ok(())
}

impl Content {
    fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let (kind, body, max) = match self {
            Content::Hello(s) => (1u8, s.as_str(), MAX_NAME_LEN),
            Content::Text(s) => (2, s.as_str(), MAX_TEXT_LEN),
            Content::Signal(s) => (3, s.as_str(), MAX_SIGNAL_LEN),
            Content::Receipt => (4, "", 0),
        };
        if body.len() > max {
            return Err(Error::TooLarge);
        }
        let mut out = Zeroizing::new(Vec::with_capacity(1 + body.len()));
        out.push(kind);
        out.extend_from_slice(body.as_bytes());
        Ok(out)
    }

    fn decode(plain: &[u8]) -> Result<Self> {
        let (&kind, body) = plain.split_first().ok_or(Error::Malformed)?;
        let text = || {
            core::str::from_utf8(body)
                .map(String::from)
                .map_err(|_| Error::Malformed)
        };
        let (content, max) = match kind {
            1 => (Content::Hello(text()?), MAX_NAME_LEN),
            2 => (Content::Text(text()?), MAX_TEXT_LEN),
            3 => (Content::Signal(text()?), MAX_SIGNAL_LEN),
            4 if body.is_empty() => (Content::Receipt, 0),
            _ => return Err(Error::Malformed),
        };
        if body.len() > max {
            return Err(Error::TooLarge);
        }
        Ok(content)
    }
}

/// The clear header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The epoch of the key it is sealed under.
    pub epoch: u32,
    /// Who sealed it.
    pub sender: MemberId,
    /// Whom it is for: one member, or [`EVERYONE`].
    pub to: MemberId,
    /// The sender's frame counter: starts at 1, +1 per frame, never reset.
    pub counter: u64,
    /// The frame's number in its stream, the frames of one epoch from `sender` to `to`:
    /// starts at 1 in each epoch, +1 per frame of that stream. A receiver gets every
    /// frame of its two streams from a sender (to it, and to [`EVERYONE`]), so a number
    /// skipped there is a frame that did not arrive.
    pub seq: u32,
}

impl FrameHeader {
    fn to_bytes(self) -> [u8; FRAME_HEADER_LEN] {
        let mut h = [0u8; FRAME_HEADER_LEN];
        let bytes = [FRAME_VERSION]
            .into_iter()
            .chain(self.epoch.to_be_bytes())
            .chain(self.sender.to_be_bytes())
            .chain(self.to.to_be_bytes())
            .chain(self.counter.to_be_bytes())
            .chain(self.seq.to_be_bytes());
        for (slot, b) in h.iter_mut().zip(bytes) {
            *slot = b;
        }
        h
    }

    /// `0x0000 || sender || counter`: unique per key while counters never repeat.
    fn nonce(self) -> [u8; 12] {
        let mut n = [0u8; 12];
        let [s0, s1] = self.sender.to_be_bytes();
        let c = self.counter.to_be_bytes();
        for (slot, b) in n.iter_mut().zip([0, 0, s0, s1].into_iter().chain(c)) {
            *slot = b;
        }
        n
    }

    /// Reads the header of `frame` (version, lengths) without opening it.
    pub fn parse(frame: &[u8]) -> Result<Self> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(Error::TooLarge);
        }
        let mut r = Reader::new(frame);
        if r.u8()? != FRAME_VERSION {
            return Err(Error::Malformed);
        }
        let h = Self {
            epoch: r.u32()?,
            sender: r.u16()?,
            to: r.u16()?,
            counter: r.u64()?,
            seq: r.u32()?,
        };
        if r.remaining() < 1 + 1 + 16 {
            return Err(Error::Malformed);
        }
        Ok(h)
    }
}

fn aad(header: &[u8; FRAME_HEADER_LEN]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(FRAME_AAD.len() + FRAME_HEADER_LEN);
    aad.extend_from_slice(FRAME_AAD);
    aad.extend_from_slice(header);
    aad
}

/// `header || AES-256-GCM(key, nonce, "sealpost/v2/room-frame" || header,
/// n || roster || kind || body)`: `roster` is the sender's (see [`FrameBody`]).
pub fn seal_frame(
    key: &EpochKey,
    header: FrameHeader,
    roster: &[RosterEntry],
    content: &Content,
) -> Result<Vec<u8>> {
    if header.epoch != key.epoch || header.counter == 0 || header.seq == 0 {
        return Err(Error::Malformed);
    }
    seal_plain(key, header, &encode_body(roster, content)?)
}

/// Seals `plain` as it is (tests seal what [`FrameBody`] would refuse to encode).
pub(super) fn seal_plain(key: &EpochKey, header: FrameHeader, plain: &[u8]) -> Result<Vec<u8>> {
    let h = header.to_bytes();
    let ct = primitives::seal_at(&key.key, header.nonce(), &aad(&h), plain)?;
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + ct.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a frame whose [`FrameHeader::parse`] gave `header` under `key` (of the
/// header's epoch). Altered, forged or re-addressed bytes are [`Error::Decrypt`].
pub fn open_frame(key: &EpochKey, header: FrameHeader, frame: &[u8]) -> Result<FrameBody> {
    if header.epoch != key.epoch {
        return Err(Error::Decrypt);
    }
    let h = header.to_bytes();
    let ct = frame.get(FRAME_HEADER_LEN..).ok_or(Error::Malformed)?;
    if frame.get(..FRAME_HEADER_LEN) != Some(&h[..]) {
        return Err(Error::Malformed);
    }
    let plain = primitives::open_at(&key.key, header.nonce(), &aad(&h), ct)?;
    FrameBody::decode(&plain)
}

fn rekey_aad(epoch: u32, member: MemberId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(REKEY_AAD.len() + 6);
    aad.extend_from_slice(REKEY_AAD);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.extend_from_slice(&member.to_be_bytes());
    aad
}

/// The host's new room key for `member`:
/// `epoch || seal(pair_key, "sealpost/v2/room-rekey" || epoch || member, key)`.
pub fn seal_rekey<R: CryptoRng + ?Sized>(
    rng: &mut R,
    pair_key: &Key,
    member: MemberId,
    key: &EpochKey,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(REKEY_LEN);
    out.extend_from_slice(&key.epoch.to_be_bytes());
    out.extend_from_slice(&primitives::seal(
        rng,
        pair_key,
        &rekey_aad(key.epoch, member),
        key.key.as_ref(),
    )?);
    Ok(out)
}

/// Opens a rekey sealed for `member` (this member); anything else is [`Error::Decrypt`].
pub fn open_rekey(pair_key: &Key, member: MemberId, rekey: &[u8]) -> Result<EpochKey> {
    if rekey.len() != REKEY_LEN {
        return Err(Error::Malformed);
    }
    let mut r = Reader::new(rekey);
    let epoch = r.u32()?;
    let sealed = r.bytes(r.remaining())?;
    let plain = primitives::open(pair_key, &rekey_aad(epoch, member), sealed)?;
    let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| Error::Decrypt)?;
    Ok(EpochKey::new(epoch, key))
}
