//! Engine payloads: the plaintext inside every envelope body (design section 3).
//!
//! `payload = u8(type) || fields`. Parsing is strict (bounds, no trailing bytes, one
//! encoding per value) and never panics; an unknown type is [`Error::Malformed`], which
//! the engine acknowledges and surfaces instead of guessing.

use alloc::vec::Vec;
use core::fmt;

use sealpost_core::v2::group::{DISTRIBUTION_LEN, MAX_GROUP_OP_LEN, MAX_GROUP_STATE_LEN};
use sealpost_core::{Error, Result, UserId, Username};
use zeroize::Zeroizing;

use crate::account_state::AccountState;
use crate::codec::{Codec, Reader, put_list16, put_var32};
use crate::direct::Signal;
use crate::msg_id::MsgId;

/// Largest message content: what fits a 1 MiB bucket after the envelope's headers, an
/// RSA-4096 init block and this payload's own fields, with room to spare.
pub const MAX_CONTENT_LEN: usize = 1_000_000;
/// Most message ids in one receipt (receivers batch up to this many).
pub const MAX_RECEIPT_IDS: usize = 512;

const TYPE_MESSAGE: u8 = 1;
const TYPE_RECEIPT: u8 = 2;
const TYPE_RESET_REQUEST: u8 = 3;
const TYPE_ACCOUNT_SYNC: u8 = 4;
const TYPE_SIGNAL: u8 = 5;
const TYPE_GROUP_OP: u8 = 6;
const TYPE_SENDER_KEY: u8 = 7;
const TYPE_GROUP_TEXT: u8 = 8;
const TYPE_DEVICE_LEFT: u8 = 9;

/// A message written by a user.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    msg_id: MsgId,
    conversation: UserId,
    sender: Username,
    sent_at: u64,
    content_type: u8,
    content: Vec<u8>,
    seq: u64,
}

impl Message {
    /// A message; [`Error::TooLarge`] when `content` exceeds [`MAX_CONTENT_LEN`].
    pub fn new(
        msg_id: MsgId,
        conversation: UserId,
        sender: Username,
        sent_at: u64,
        content_type: u8,
        content: Vec<u8>,
    ) -> Result<Self> {
        if content.len() > MAX_CONTENT_LEN {
            return Err(Error::TooLarge);
        }
        Ok(Self {
            msg_id,
            conversation,
            sender,
            sent_at,
            content_type,
            content,
            seq: 0,
        })
    }

    /// The message numbered `seq` by its sending device (see [`Message::seq`]).
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// Stable across re-sends: receivers de-duplicate by it.
    pub fn msg_id(&self) -> MsgId {
        self.msg_id
    }

    /// The other party of the conversation, seen from the sender: the recipient (also
    /// in the sync copies the sender's own devices receive).
    pub fn conversation(&self) -> &UserId {
        &self.conversation
    }

    /// The sender's username (the engine checks it against the authenticated sender).
    pub fn sender(&self) -> &Username {
        &self.sender
    }

    /// The sender's clock when the message was first sent.
    pub fn sent_at(&self) -> u64 {
        self.sent_at
    }

    /// The sending device's number for this message (PROTOCOL.md 17.2): one more for
    /// each new message the device seals, kept by re-sends; `0` in a message sealed by
    /// a version before it. Inside the sealed payload, so the relay cannot change the
    /// order it gives one device's messages of the same second (`sent_at` has nothing
    /// finer); receivers show them by `(sent_at, seq)`.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The application's content type.
    pub fn content_type(&self) -> u8 {
        self.content_type
    }

    /// The application's content.
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    /// The content, moved out.
    pub fn into_content(self) -> Vec<u8> {
        self.content
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("msg_id", &self.msg_id)
            .field("sent_at", &self.sent_at)
            .field("seq", &self.seq)
            .field("content_type", &self.content_type)
            .field("content_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

impl Message {
    /// Every field but `seq` (the whole encoding before `seq` existed; the outbox
    /// stores `seq` after it, since a stored message is not the last of its reader).
    pub(crate) fn encode_unnumbered(&self, out: &mut Vec<u8>) {
        self.msg_id.encode(out);
        self.conversation.encode(out);
        self.sender.encode(out);
        out.extend_from_slice(&self.sent_at.to_be_bytes());
        out.push(self.content_type);
        put_var32(out, &self.content);
    }

    /// Reads what [`Message::encode_unnumbered`] wrote (`seq` 0).
    pub(crate) fn read_unnumbered(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            msg_id: MsgId::read(r)?,
            conversation: UserId::read(r)?,
            sender: Username::read(r)?,
            sent_at: r.u64()?,
            content_type: r.u8()?,
            content: r.var32(MAX_CONTENT_LEN)?.to_vec(),
            seq: 0,
        })
    }
}

/// `seq` is an optional trailing `u64`, present exactly when it is not 0 (one encoding
/// per value): a message is always the last thing in what it is read from.
impl Codec for Message {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_unnumbered(out);
        if self.seq != 0 {
            out.extend_from_slice(&self.seq.to_be_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut m = Self::read_unnumbered(r)?;
        if !r.is_empty() {
            m.seq = r.u64()?;
            if m.seq == 0 {
                return Err(Error::Malformed);
            }
        }
        Ok(m)
    }
}

/// "This device opened these messages": confirms them, and the session they came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    ids: Vec<MsgId>,
}

impl Receipt {
    /// A receipt for 1 to [`MAX_RECEIPT_IDS`] messages.
    pub fn new(ids: Vec<MsgId>) -> Result<Self> {
        if ids.is_empty() || ids.len() > MAX_RECEIPT_IDS {
            return Err(Error::TooLarge);
        }
        Ok(Self { ids })
    }

    /// The receipted messages.
    pub fn ids(&self) -> &[MsgId] {
        &self.ids
    }
}

impl Codec for Receipt {
    fn encode(&self, out: &mut Vec<u8>) {
        put_list16(out, self.ids.iter());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.count16(MAX_RECEIPT_IDS, 16)?;
        let ids = (0..n).map(|_| MsgId::read(r)).collect::<Result<Vec<_>>>()?;
        Self::new(ids).map_err(|_| Error::Malformed)
    }
}

/// Everything the engine puts inside an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A user's message (to a contact, or a sync copy to an own device).
    Message(Message),
    /// Delivery confirmation.
    Receipt(Receipt),
    /// "I cannot read session `0`; start a new one and re-send what I did not receipt."
    ResetRequest([u8; 16]),
    /// Own devices only: the account state (contacts, pins, verified marks).
    AccountSync(AccountState),
    /// WebRTC signalling for a direct channel, to one device ([`crate::direct`]).
    Signal(Signal),
    /// A signed group operation (PROTOCOL.md 27.3), with the group state before it for
    /// a member it adds (27.7).
    GroupOp {
        /// The state the operation applies to (27.2), for a new member only.
        state: Option<Vec<u8>>,
        /// The operation (27.3).
        op: Vec<u8>,
    },
    /// A device's sending chain in a group (27.5, 227 bytes).
    SenderKey(Secret),
    /// A user's message to a group: the payload of a group message (27.6), never of an
    /// envelope. The group and the sender are the group message's.
    GroupText(GroupText),
    /// "A device left my account's device list: read it again" (PROTOCOL.md 17.1, 27.2
    /// "Devices"), to the devices of every member of the sender's groups. No fields: it
    /// is a hint, the signed list in the directory is what the receiver acts on.
    DeviceLeft,
}

/// Secret bytes (a sender key distribution holds a chain key): zeroized when dropped,
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Zeroizing<Vec<u8>>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A message written to a group: what a group message (27.6) carries.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupText {
    /// Stable across re-sends: receivers de-duplicate by it.
    pub msg_id: MsgId,
    /// The application's content type.
    pub content_type: u8,
    /// The application's content.
    pub content: Vec<u8>,
}

impl fmt::Debug for GroupText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupText")
            .field("msg_id", &self.msg_id)
            .field("content_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

impl Codec for Payload {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Message(m) => {
                out.push(TYPE_MESSAGE);
                m.encode(out);
            }
            Payload::Receipt(r) => {
                out.push(TYPE_RECEIPT);
                r.encode(out);
            }
            Payload::ResetRequest(session) => {
                out.push(TYPE_RESET_REQUEST);
                out.extend_from_slice(session);
            }
            Payload::AccountSync(state) => {
                out.push(TYPE_ACCOUNT_SYNC);
                state.encode(out);
            }
            Payload::Signal(signal) => {
                out.push(TYPE_SIGNAL);
                signal.encode(out);
            }
            Payload::GroupOp { state, op } => {
                out.push(TYPE_GROUP_OP);
                match state {
                    Some(state) => {
                        out.push(1);
                        put_var32(out, state);
                    }
                    None => out.push(0),
                }
                put_var32(out, op);
            }
            Payload::SenderKey(d) => {
                out.push(TYPE_SENDER_KEY);
                out.extend_from_slice(&d.0);
            }
            Payload::GroupText(t) => {
                out.push(TYPE_GROUP_TEXT);
                t.msg_id.encode(out);
                out.push(t.content_type);
                put_var32(out, &t.content);
            }
            Payload::DeviceLeft => out.push(TYPE_DEVICE_LEFT),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        match r.u8()? {
            TYPE_MESSAGE => Ok(Payload::Message(Message::read(r)?)),
            TYPE_RECEIPT => Ok(Payload::Receipt(Receipt::read(r)?)),
            TYPE_RESET_REQUEST => Ok(Payload::ResetRequest(r.array()?)),
            TYPE_ACCOUNT_SYNC => Ok(Payload::AccountSync(AccountState::read(r)?)),
            TYPE_SIGNAL => Ok(Payload::Signal(Signal::read(r)?)),
            TYPE_GROUP_OP => {
                let state = match r.bool()? {
                    true => Some(r.var32(MAX_GROUP_STATE_LEN)?.to_vec()),
                    false => None,
                };
                let op = r.var32(MAX_GROUP_OP_LEN)?.to_vec();
                Ok(Payload::GroupOp { state, op })
            }
            TYPE_SENDER_KEY => Ok(Payload::SenderKey(Secret(Zeroizing::new(
                r.bytes(DISTRIBUTION_LEN)?.to_vec(),
            )))),
            TYPE_GROUP_TEXT => Ok(Payload::GroupText(GroupText {
                msg_id: MsgId::read(r)?,
                content_type: r.u8()?,
                content: r.var32(MAX_CONTENT_LEN)?.to_vec(),
            })),
            TYPE_DEVICE_LEFT => Ok(Payload::DeviceLeft),
            _ => Err(Error::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        let alice = Username::parse("alice").unwrap();
        let bob = Username::parse("bob").unwrap().user_id();
        Message::new(
            MsgId([7; 16]),
            bob,
            alice,
            1_767_225_600,
            1,
            b"hi bob".to_vec(),
        )
        .unwrap()
    }

    fn samples() -> Vec<Payload> {
        alloc::vec![
            Payload::Message(message()),
            Payload::Message(message().with_seq(0x0102_0304_0506_0708)),
            Payload::Receipt(Receipt::new(alloc::vec![MsgId([1; 16]), MsgId([2; 16])]).unwrap()),
            Payload::ResetRequest([9; 16]),
            Payload::AccountSync(AccountState::new()),
            Payload::Signal(Signal {
                kind: crate::direct::SignalKind::Answer,
                sent_at: 9,
                fingerprint: [3; 32],
                sdp: b"v=0".to_vec(),
                call: None,
            }),
            Payload::GroupOp {
                state: Some(alloc::vec![1, 2, 3]),
                op: alloc::vec![4, 5],
            },
            Payload::GroupOp {
                state: None,
                op: alloc::vec![6],
            },
            Payload::SenderKey(Secret(Zeroizing::new(alloc::vec![8; DISTRIBUTION_LEN]))),
            Payload::GroupText(GroupText {
                msg_id: MsgId([3; 16]),
                content_type: 1,
                content: b"hi all".to_vec(),
            }),
            Payload::DeviceLeft,
        ]
    }

    #[test]
    fn every_payload_round_trips() {
        for p in samples() {
            assert_eq!(Payload::from_bytes(&p.to_bytes()), Ok(p));
        }
    }

    #[test]
    fn truncations_and_trailing_bytes_are_refused() {
        for p in samples() {
            let bytes = p.to_bytes();
            for len in 0..bytes.len() {
                match Payload::from_bytes(&bytes[..len]) {
                    Err(_) => {}
                    // Only cutting a message's optional `seq` leaves a message: the one
                    // without it (the AEAD around every payload stops such a cut).
                    Ok(Payload::Message(m)) => {
                        assert_eq!(len, bytes.len() - 8, "{p:?} at {len}");
                        assert_eq!(m.seq(), 0);
                    }
                    Ok(q) => panic!("{p:?} at {len}: {q:?}"),
                }
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Payload::from_bytes(&longer), Err(Error::Malformed));
        }
    }

    #[test]
    fn bit_flips_never_panic_and_stay_canonical() {
        for p in samples() {
            let bytes = p.to_bytes();
            for i in 0..bytes.len() {
                for bit in [0x01, 0x80] {
                    let mut flipped = bytes.clone();
                    flipped[i] ^= bit;
                    if let Ok(q) = Payload::from_bytes(&flipped) {
                        // An account state in a former format is read and re-written
                        // in the current one (the only second encoding there is).
                        let legacy = flipped.get(..3) == Some(&[TYPE_ACCOUNT_SYNC, b'A', 4]);
                        if !legacy {
                            assert_eq!(q.to_bytes(), flipped);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_types_and_bounds_are_malformed() {
        assert_eq!(Payload::from_bytes(&[0]), Err(Error::Malformed));
        assert_eq!(Payload::from_bytes(&[10]), Err(Error::Malformed));
        // `DeviceLeft` has no fields.
        assert_eq!(Payload::from_bytes(&[9]), Ok(Payload::DeviceLeft));
        assert_eq!(Payload::from_bytes(&[9, 0]), Err(Error::Malformed));
        assert_eq!(Payload::from_bytes(&[]), Err(Error::Malformed));
        // An empty receipt is not a receipt.
        assert_eq!(Payload::from_bytes(&[2, 0, 0]), Err(Error::Malformed));
        // A count larger than the bytes that follow.
        assert_eq!(Payload::from_bytes(&[2, 0x01, 0xff]), Err(Error::Malformed));
        // A content length beyond the limit is refused before any allocation.
        let mut big = Payload::Message(message()).to_bytes();
        let len_at = big.len() - 6 - 4;
        big[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Payload::from_bytes(&big), Err(Error::Malformed));
    }

    #[test]
    fn a_message_without_seq_is_read_and_seq_zero_has_one_encoding() {
        let plain = Payload::Message(message()).to_bytes();
        let numbered = Payload::Message(message().with_seq(1)).to_bytes();
        assert_eq!(numbered.len(), plain.len() + 8);
        assert_eq!(numbered[..plain.len()], plain[..]);
        let Ok(Payload::Message(m)) = Payload::from_bytes(&plain) else {
            panic!("a message of an earlier version")
        };
        assert_eq!(m.seq(), 0);
        // `seq` 0 is written by leaving it out, never as eight zero bytes.
        let mut zero = plain.clone();
        zero.extend_from_slice(&[0; 8]);
        assert_eq!(Payload::from_bytes(&zero), Err(Error::Malformed));
    }

    #[test]
    fn builders_enforce_the_limits() {
        let bob = Username::parse("bob").unwrap();
        let too_big = alloc::vec![0; MAX_CONTENT_LEN + 1];
        assert_eq!(
            Message::new(MsgId([0; 16]), bob.user_id(), bob, 0, 1, too_big),
            Err(Error::TooLarge)
        );
        assert_eq!(Receipt::new(Vec::new()), Err(Error::TooLarge));
        assert_eq!(
            Receipt::new(alloc::vec![MsgId([0; 16]); MAX_RECEIPT_IDS + 1]),
            Err(Error::TooLarge)
        );
    }
}
