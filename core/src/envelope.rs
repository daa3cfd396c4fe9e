//! The envelope wire format (protocol v1) and signed, RSA-wrapped envelopes.
//!
//! ```text
//! envelope  = version:u8(=1) || recipient:[32] || region        (total length is a bucket)
//! region    = [key_block] || header_box || body_box || padding
//! ```
//! Only the version, the recipient mailbox and the length (a size bucket) are in clear.
//! Whether a `key_block` (RSA-OAEP-wrapped seed) is present is not marked: the
//! recipient first tries its sessions' header keys on the region, then its encryption
//! keys on a key block. See docs/PROTOCOL.md for every field.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::bundle::KeyBundle;
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::keys::{
    EncryptionKey, EncryptionPublicKey, IdentityPublicKey, MAX_MODULUS_LEN, MAX_SPKI_LEN,
};
use crate::padding;
use crate::primitives::{self, Key, NONCE_LEN, TAG_LEN};
use crate::session::SealedMessage;
use crate::username::UserId;
use crate::wire::{Reader, put_var16, put_var32};

/// The protocol version byte.
pub const VERSION: u8 = 1;
/// `version || recipient`.
pub const PREFIX_LEN: usize = 1 + UserId::LEN;
/// Plaintext header length.
pub const HEADER_LEN: usize = 70;
/// Encrypted header length: nonce, header, tag.
pub const HEADER_BOX_LEN: usize = NONCE_LEN + HEADER_LEN + TAG_LEN;
/// Most recipients of one signed envelope (devices of a group).
pub const MAX_RECIPIENTS: usize = 64;

const BODY_AAD: &[u8] = b"sealpost/v1/body";
const KEY_LABEL: &[u8] = b"sealpost/v1/key\0";
const SIG_DOMAIN: &[u8] = b"sealpost/v1/envelope\0";

/// What kind of envelope a message arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// A one-shot envelope: RSA-wrapped and signed, possibly to several recipients.
    Sealed,
    /// The first message of a session: RSA-wrapped root, signed.
    SessionInit,
    /// A later message of a session: symmetric ratchet only.
    Session,
}

impl MessageKind {
    fn to_byte(self) -> u8 {
        match self {
            MessageKind::Sealed => 1,
            MessageKind::SessionInit => 2,
            MessageKind::Session => 3,
        }
    }

    fn from_byte(b: u8) -> Result<Self> {
        match b {
            1 => Ok(MessageKind::Sealed),
            2 => Ok(MessageKind::SessionInit),
            3 => Ok(MessageKind::Session),
            _ => Err(Error::Decrypt),
        }
    }
}

/// The encrypted header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: MessageKind,
    pub(crate) sender: UserId,
    pub(crate) session: [u8; 16],
    pub(crate) counter: u64,
    pub(crate) sent_at: u64,
    pub(crate) body_len: u32,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut v = Vec::with_capacity(HEADER_LEN);
        v.push(self.kind.to_byte());
        v.push(0); // flags, reserved
        v.extend_from_slice(self.sender.as_bytes());
        v.extend_from_slice(&self.session);
        v.extend_from_slice(&self.counter.to_be_bytes());
        v.extend_from_slice(&self.sent_at.to_be_bytes());
        v.extend_from_slice(&self.body_len.to_be_bytes());
        out.copy_from_slice(&v);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let kind = MessageKind::from_byte(r.u8()?)?;
        if r.u8()? != 0 {
            return Err(Error::Decrypt);
        }
        let h = Header {
            kind,
            sender: UserId(r.array()?),
            session: r.array()?,
            counter: r.u64()?,
            sent_at: r.u64()?,
            body_len: r.u32()?,
        };
        r.finish()?;
        Ok(h)
    }

    /// The header fields a signature covers (everything but `body_len`, which the
    /// header box binds anyway).
    fn signed_fields(&self, out: &mut Vec<u8>) {
        out.push(self.kind.to_byte());
        out.extend_from_slice(self.sender.as_bytes());
        out.extend_from_slice(&self.session);
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.sent_at.to_be_bytes());
    }
}

/// A stable 16-byte id for a message, computable by sender and recipient alike (for
/// receipts and de-duplication). The kind is included because a session's set-up
/// envelope and its first ratchet message both have counter 0.
pub fn message_id(
    kind: MessageKind,
    sender: &UserId,
    session: &[u8; 16],
    counter: u64,
) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"sealpost/v1/message-id\0");
    h.update([kind.to_byte()]);
    h.update(sender.as_bytes());
    h.update(session);
    h.update(counter.to_be_bytes());
    let d: [u8; 32] = h.finalize().into();
    let mut id = [0u8; 16];
    id.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
    id
}

/// The result of opening an envelope.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opened {
    /// Who sent it. For every kind the caller MUST check that `sender_identity` is the
    /// key the directory (or a verified contact) has for `sender` (session messages
    /// carry the key that signed the session's set-up envelope), and otherwise discard
    /// the message and call [`crate::SessionStore::forget_session`].
    pub sender: UserId,
    /// The sender's identity key (from the signature, or from the session).
    pub sender_identity: IdentityPublicKey,
    /// Envelope kind.
    pub kind: MessageKind,
    /// Session id (for [`MessageKind::Sealed`], a random per-message id).
    pub session_id: [u8; 16],
    /// Position in the session's sending chain (0 for signed kinds).
    pub counter: u64,
    /// Sender's clock at sealing, Unix seconds.
    pub sent_at: u64,
    /// Every recipient named by the sender (just us for session messages).
    pub recipients: Vec<UserId>,
    /// Application-defined content type (0 is UTF-8 text).
    pub content_type: u8,
    /// The plaintext.
    pub content: Vec<u8>,
    /// See [`message_id`].
    pub message_id: [u8; 16],
}

impl core::fmt::Debug for Opened {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            sender,
            sender_identity: _,
            kind,
            session_id: _,
            counter,
            sent_at,
            recipients,
            content_type,
            content,
            message_id: _,
        } = self;
        f.debug_struct("Opened")
            .field("sender", sender)
            .field("kind", kind)
            .field("counter", counter)
            .field("sent_at", sent_at)
            .field("recipients", &recipients.len())
            .field("content_type", content_type)
            .field("content_len", &content.len())
            .finish_non_exhaustive()
    }
}

/// Content type 0 must be UTF-8.
pub const CONTENT_TEXT: u8 = 0;

fn check_content(content_type: u8, content: &[u8]) -> Result<()> {
    if content_type == CONTENT_TEXT && core::str::from_utf8(content).is_err() {
        return Err(Error::Malformed);
    }
    if content.len() > padding::MAX_ENVELOPE_LEN {
        return Err(Error::TooLarge);
    }
    Ok(())
}

/// Appends `content_type || u32 len || content` after checking the content (so a
/// sender can never produce a message its recipient must reject).
pub(crate) fn encode_content(out: &mut Vec<u8>, content_type: u8, content: &[u8]) -> Result<()> {
    check_content(content_type, content)?;
    out.push(content_type);
    put_var32(out, content)
}

fn decode_content(r: &mut Reader<'_>) -> Result<(u8, Vec<u8>)> {
    let content_type = r.u8()?;
    let content = r.var32(padding::MAX_ENVELOPE_LEN)?.to_vec();
    check_content(content_type, &content).map_err(|_| Error::Decrypt)?;
    Ok((content_type, content))
}

/// Assembles `version || recipient || key_block || header_box || body_box || padding`,
/// padding with random bytes to the bucket. The header box's associated data binds the
/// prefix, the key block and a hash of everything after the header box.
pub(crate) fn frame<R: CryptoRng + ?Sized>(
    rng: &mut R,
    recipient: &UserId,
    key_block: &[u8],
    header_key: &[u8; 32],
    header: &Header,
    body_box: &[u8],
) -> Result<Vec<u8>> {
    let total = PREFIX_LEN + key_block.len() + HEADER_BOX_LEN + body_box.len();
    let bucket = padding::bucket_for(total).ok_or(Error::TooLarge)?;
    let mut tail = Vec::with_capacity(bucket - PREFIX_LEN - key_block.len() - HEADER_BOX_LEN);
    tail.extend_from_slice(body_box);
    let pad_start = tail.len();
    tail.resize(bucket - total + body_box.len(), 0);
    if let Some(pad) = tail.get_mut(pad_start..) {
        rng.fill_bytes(pad);
    }
    let mut header = header.clone();
    header.body_len = u32::try_from(body_box.len()).map_err(|_| Error::TooLarge)?;
    let aad = header_aad(recipient, key_block, &tail);
    let header_box = primitives::seal(rng, header_key, &aad, &header.encode())?;
    let mut out = Vec::with_capacity(bucket);
    out.push(VERSION);
    out.extend_from_slice(recipient.as_bytes());
    out.extend_from_slice(key_block);
    out.extend_from_slice(&header_box);
    out.extend_from_slice(&tail);
    Ok(out)
}

fn header_aad(recipient: &UserId, key_block: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(PREFIX_LEN + key_block.len() + 32);
    aad.push(VERSION);
    aad.extend_from_slice(recipient.as_bytes());
    aad.extend_from_slice(key_block);
    aad.extend_from_slice(&Sha256::digest(tail));
    aad
}

/// A checked envelope: right version, bucket length, split into recipient and region.
pub(crate) struct Framed<'a> {
    pub(crate) recipient: UserId,
    pub(crate) region: &'a [u8],
}

impl<'a> Framed<'a> {
    pub(crate) fn parse(envelope: &'a [u8]) -> Result<Self> {
        if !padding::is_bucket(envelope.len()) {
            return Err(Error::Malformed);
        }
        let mut r = Reader::new(envelope);
        if r.u8()? != VERSION {
            return Err(Error::Malformed);
        }
        let recipient = UserId(r.array()?);
        Ok(Self {
            recipient,
            region: r.rest(),
        })
    }

    /// The associated data of the header box at `offset` of the region (it hashes the
    /// whole tail, so compute it once per offset, not once per key tried).
    pub(crate) fn header_aad(&self, offset: usize) -> Result<Vec<u8>> {
        let key_block = self.region.get(..offset).ok_or(Error::Decrypt)?;
        let tail = self
            .region
            .get(offset + HEADER_BOX_LEN..)
            .ok_or(Error::Decrypt)?;
        Ok(header_aad(&self.recipient, key_block, tail))
    }

    /// Tries to open the header box at `offset` of the region with `header_key`, given
    /// [`Framed::header_aad`] for that offset. Returns the header and the body box.
    pub(crate) fn open_header(
        &self,
        offset: usize,
        aad: &[u8],
        header_key: &[u8; 32],
    ) -> Result<(Header, &'a [u8])> {
        let header_box = self
            .region
            .get(offset..offset + HEADER_BOX_LEN)
            .ok_or(Error::Decrypt)?;
        let tail = self
            .region
            .get(offset + HEADER_BOX_LEN..)
            .ok_or(Error::Decrypt)?;
        let plain = primitives::open(header_key, aad, header_box)?;
        let header = Header::decode(&plain)?;
        let body_len = usize::try_from(header.body_len).map_err(|_| Error::Decrypt)?;
        let body_box = tail.get(..body_len).ok_or(Error::Decrypt)?;
        Ok((header, body_box))
    }
}

/// Seals a body with a one-time body key.
pub(crate) fn seal_body<R: CryptoRng + ?Sized>(
    rng: &mut R,
    body_key: &[u8; 32],
    body: &[u8],
) -> Result<Vec<u8>> {
    primitives::seal(rng, body_key, BODY_AAD, body)
}

/// Opens a body box and reads `content_type || content` from it.
pub(crate) fn open_plain_body(body_key: &[u8; 32], body_box: &[u8]) -> Result<(u8, Vec<u8>)> {
    let plain = primitives::open(body_key, BODY_AAD, body_box)?;
    let mut r = Reader::new(&plain);
    let content = decode_content(&mut r)?;
    r.finish().map_err(|_| Error::Decrypt)?;
    Ok(content)
}

/// Header and body keys of a signed envelope, derived from its wrapped seed.
struct SeedKeys {
    header: Key,
    body: Key,
}

fn seed_keys(seed: &[u8]) -> Result<SeedKeys> {
    let okm = primitives::hkdf::<64>(seed, &[], &[b"sealpost/v1/init\0"])?;
    Ok(SeedKeys {
        header: primitives::key_at(okm.as_ref(), 0)?,
        body: primitives::key_at(okm.as_ref(), 1)?,
    })
}

fn key_label(recipient: &UserId) -> Vec<u8> {
    let mut label = Vec::with_capacity(KEY_LABEL.len() + 32);
    label.extend_from_slice(KEY_LABEL);
    label.extend_from_slice(recipient.as_bytes());
    label
}

fn signing_input(
    header: &Header,
    seed: &[u8],
    recipients: &[UserId],
    content_type: u8,
    content: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIG_DOMAIN.len() + 256 + recipients.len() * 32);
    m.extend_from_slice(SIG_DOMAIN);
    header.signed_fields(&mut m);
    m.extend_from_slice(&Sha256::digest(seed));
    m.push(recipients.len() as u8);
    for r in recipients {
        m.extend_from_slice(r.as_bytes());
    }
    m.push(content_type);
    m.extend_from_slice(&Sha256::digest(content));
    m
}

/// What the signed-envelope sealer needs to know about one recipient.
pub(crate) struct SignedRecipient<'a> {
    pub(crate) id: UserId,
    pub(crate) key: &'a EncryptionPublicKey,
}

/// Seals one signed envelope per recipient sharing one body box, seed and signature.
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_signed<R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &Identity,
    kind: MessageKind,
    session: [u8; 16],
    seed: &[u8; 32],
    recipients: &[SignedRecipient<'_>],
    content_type: u8,
    content: &[u8],
    now: u64,
) -> Result<Vec<(UserId, Vec<u8>)>> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(Error::TooLarge);
    }
    let ids: Vec<UserId> = recipients.iter().map(|r| r.id).collect();
    let header = Header {
        kind,
        sender: *me.user_id(),
        session,
        counter: 0,
        sent_at: now,
        body_len: 0,
    };
    let signature = me.identity_key().sign(
        rng,
        &signing_input(&header, seed, &ids, content_type, content),
    )?;
    let mut body = Vec::with_capacity(content.len() + 1200 + ids.len() * 32);
    put_var16(&mut body, me.identity_key().public().to_spki_der())?;
    put_var16(&mut body, &signature)?;
    body.push(ids.len() as u8);
    for id in &ids {
        body.extend_from_slice(id.as_bytes());
    }
    encode_content(&mut body, content_type, content)?;
    let keys = seed_keys(seed)?;
    let body_box = seal_body(rng, &keys.body, &body)?;
    recipients
        .iter()
        .map(|r| {
            let key_block = r.key.wrap_key(rng, &key_label(&r.id), seed)?;
            frame(rng, &r.id, &key_block, &keys.header, &header, &body_box).map(|e| (r.id, e))
        })
        .collect()
}

/// A successfully opened signed envelope, before the caller commits any state.
pub(crate) struct OpenedSigned {
    pub(crate) opened: Opened,
    pub(crate) seed: primitives::Key,
}

/// Tries every decryption key on a key block at the start of the region.
pub(crate) fn open_signed<R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &Identity,
    framed: &Framed<'_>,
) -> Result<OpenedSigned> {
    for key in me.decryption_keys() {
        if let Ok(opened) = open_signed_with(rng, me.user_id(), key, framed) {
            return Ok(opened);
        }
    }
    Err(Error::Decrypt)
}

fn open_signed_with<R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &UserId,
    key: &EncryptionKey,
    framed: &Framed<'_>,
) -> Result<OpenedSigned> {
    let k = key.public().size().bytes();
    let key_block = framed.region.get(..k).ok_or(Error::Decrypt)?;
    let seed_bytes = key.unwrap_key(rng, &key_label(me), key_block)?;
    if seed_bytes.len() != 32 {
        return Err(Error::Decrypt);
    }
    let seed = primitives::key_at(&seed_bytes, 0).map_err(|_| Error::Decrypt)?;
    let keys = seed_keys(seed.as_ref())?;
    let (header, body_box) = framed.open_header(k, &framed.header_aad(k)?, &keys.header)?;
    if header.kind == MessageKind::Session || header.counter != 0 {
        return Err(Error::Decrypt);
    }
    let plain = primitives::open(&keys.body, BODY_AAD, body_box)?;
    let mut r = Reader::new(&plain);
    let sender_identity =
        IdentityPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?).map_err(|_| Error::Decrypt)?;
    let signature = r.var16(MAX_MODULUS_LEN)?;
    let count = usize::from(r.u8()?);
    if count == 0 || count > MAX_RECIPIENTS {
        return Err(Error::Decrypt);
    }
    let mut recipients = Vec::with_capacity(count);
    for _ in 0..count {
        recipients.push(UserId(r.array()?));
    }
    let (content_type, content) = decode_content(&mut r)?;
    r.finish()?;
    if !recipients.contains(me)
        || (header.kind == MessageKind::SessionInit && recipients.len() != 1)
    {
        return Err(Error::Decrypt);
    }
    sender_identity
        .verify(
            &signing_input(&header, seed.as_ref(), &recipients, content_type, &content),
            signature,
        )
        .map_err(|_| Error::Decrypt)?;
    Ok(OpenedSigned {
        opened: Opened {
            sender: header.sender,
            sender_identity,
            kind: header.kind,
            session_id: header.session,
            counter: 0,
            sent_at: header.sent_at,
            recipients,
            content_type,
            content,
            message_id: message_id(header.kind, &header.sender, &header.session, 0),
        },
        seed,
    })
}

/// Seals a one-shot signed envelope to every current encryption key of `recipients`
/// (several people, or several devices), returning one envelope per recipient mailbox,
/// all with the same message id. Costs one RSA signature plus one RSA encryption per
/// recipient; prefer [`crate::SessionStore::seal`] for conversations.
pub fn seal<R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &Identity,
    recipients: &[&KeyBundle],
    content_type: u8,
    content: &[u8],
    now: u64,
) -> Result<Vec<SealedMessage>> {
    let targets = recipients
        .iter()
        .map(|b| {
            Ok(SignedRecipient {
                id: *b.user_id(),
                key: b.current_encryption_key(now)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let seed = primitives::random_key(rng);
    let message_id = message_id(MessageKind::Sealed, me.user_id(), &id, 0);
    let sealed = seal_signed(
        rng,
        me,
        MessageKind::Sealed,
        id,
        &seed,
        &targets,
        content_type,
        content,
        now,
    )?;
    Ok(sealed
        .into_iter()
        .map(|(recipient, envelope)| SealedMessage {
            recipient,
            envelope,
            message_id,
            new_session: false,
        })
        .collect())
}
