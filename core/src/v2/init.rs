//! The init block (design 2.2): made once per session by the initiator and repeated
//! verbatim in every message until the responder answers, so any one message that
//! arrives sets the session up.
//!
//! ```text
//! init_block = key_block[k_r] || init_box
//! key_block  = RSAES-OAEP(responder device key, "sealpost/v2/key\0" || user || device, seed)
//! init_box   = box(init_key, "sealpost/v2/init", u64 init_at || var16(spki) || var16(sig))
//! sig        = PSS("sealpost/v2/init\0" || initiator user || device || responder user
//!                  || device || session || u64 init_at || SHA-256(seed) || SHA-256(key_block))
//! ```

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{
    EncryptionKey, EncryptionPublicKey, IdentityKey, IdentityPublicKey, MAX_MODULUS_LEN,
    MAX_SPKI_LEN,
};
use crate::primitives::{self, NONCE_LEN, TAG_LEN};
use crate::username::UserId;
use crate::v2::device_keys::DeviceKeys;
use crate::v2::envelope::{Framed, OpenedHeader};
use crate::v2::header::KIND_INIT;
use crate::v2::ids::{DeviceId, SessionId};
use crate::v2::session::SessionKeys;
use crate::wire::{Reader, put_var16};

const KEY_LABEL: &[u8] = b"sealpost/v2/key\0";
const INIT_AAD: &[u8] = b"sealpost/v2/init";
const INIT_SIG_DOMAIN: &[u8] = b"sealpost/v2/init\0";

/// Longest init block accepted in stored state: RSA-4096 key block, box overhead,
/// `init_at`, an identity spki and a signature, with room to spare.
pub(crate) const MAX_INIT_BLOCK_LEN: usize = 4096;

/// Who talks to whom in a session (the initiator first).
pub(crate) struct Parties<'a> {
    pub(crate) initiator: &'a UserId,
    pub(crate) initiator_device: &'a DeviceId,
    pub(crate) responder: &'a UserId,
    pub(crate) responder_device: &'a DeviceId,
}

/// The OAEP label: binds the wrapped seed to the recipient device's mailbox.
fn key_label(user: &UserId, device: &DeviceId) -> Vec<u8> {
    let mut label = Vec::with_capacity(KEY_LABEL.len() + 48);
    label.extend_from_slice(KEY_LABEL);
    label.extend_from_slice(user.as_bytes());
    label.extend_from_slice(device.as_bytes());
    label
}

fn signing_input(
    parties: &Parties<'_>,
    session: &SessionId,
    init_at: u64,
    seed: &[u8; 32],
    key_block: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(INIT_SIG_DOMAIN.len() + 96 + 16 + 8 + 64);
    m.extend_from_slice(INIT_SIG_DOMAIN);
    m.extend_from_slice(parties.initiator.as_bytes());
    m.extend_from_slice(parties.initiator_device.as_bytes());
    m.extend_from_slice(parties.responder.as_bytes());
    m.extend_from_slice(parties.responder_device.as_bytes());
    m.extend_from_slice(session.as_bytes());
    m.extend_from_slice(&init_at.to_be_bytes());
    m.extend_from_slice(&Sha256::digest(seed));
    m.extend_from_slice(&Sha256::digest(key_block));
    m
}

/// Wraps `seed` to the responder device's key and signs the set-up.
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_init_block<R: CryptoRng + ?Sized>(
    rng: &mut R,
    identity: &IdentityKey,
    parties: &Parties<'_>,
    peer_key: &EncryptionPublicKey,
    session: &SessionId,
    init_at: u64,
    seed: &[u8; 32],
    init_key: &[u8; 32],
) -> Result<Vec<u8>> {
    let label = key_label(parties.responder, parties.responder_device);
    let key_block = peer_key.wrap_key(rng, &label, seed)?;
    let signature = identity.sign(
        rng,
        &signing_input(parties, session, init_at, seed, &key_block),
    )?;
    let mut plain = Vec::with_capacity(8 + 2 + 1024 + 2 + 512);
    plain.extend_from_slice(&init_at.to_be_bytes());
    put_var16(&mut plain, identity.public().to_spki_der())?;
    put_var16(&mut plain, &signature)?;
    let init_box = primitives::seal(rng, init_key, INIT_AAD, &plain)?;
    let mut block = key_block;
    block.extend_from_slice(&init_box);
    Ok(block)
}

/// A verified init: the header that opened with its keys, before any state exists.
pub(crate) struct OpenedInit<'a> {
    pub(crate) opened: OpenedHeader<'a>,
    pub(crate) keys: SessionKeys,
    pub(crate) sender_identity: IdentityPublicKey,
    pub(crate) init_at: u64,
}

/// Design 2.3 step 3: tries every retained private key of `me`, newest first.
pub(crate) fn open_init<'a, R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &DeviceKeys,
    framed: &Framed<'a>,
) -> Result<OpenedInit<'a>> {
    for key in me.decryption_keys() {
        if let Ok(opened) = open_init_with(rng, me, key, framed) {
            return Ok(opened);
        }
    }
    Err(Error::Decrypt)
}

fn open_init_with<'a, R: CryptoRng + ?Sized>(
    rng: &mut R,
    me: &DeviceKeys,
    key: &EncryptionKey,
    framed: &Framed<'a>,
) -> Result<OpenedInit<'a>> {
    let k = key.public().size().bytes();
    let key_block = framed.after.get(..k).ok_or(Error::Decrypt)?;
    let label = key_label(me.user_id(), me.device_id());
    let seed_bytes = key.unwrap_key(rng, &label, key_block)?;
    let seed: Zeroizing<[u8; 32]> =
        Zeroizing::new(<[u8; 32]>::try_from(seed_bytes.as_slice()).map_err(|_| Error::Decrypt)?);
    let keys = SessionKeys::derive(&seed, me.user_id(), me.device_id())?;
    let opened = framed.open_header(&keys.hk_i2r)?;
    if opened.header.kind != KIND_INIT || opened.init_block.len() < k + NONCE_LEN + TAG_LEN {
        return Err(Error::Decrypt);
    }
    let init_box = opened.init_block.get(k..).ok_or(Error::Decrypt)?;
    let plain = primitives::open(&keys.init_key, INIT_AAD, init_box)?;
    let mut r = Reader::new(&plain);
    let init_at = r.u64()?;
    let sender_identity =
        IdentityPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?).map_err(|_| Error::Decrypt)?;
    let signature = r.var16(MAX_MODULUS_LEN)?;
    r.finish()?;
    let parties = Parties {
        initiator: &opened.header.sender,
        initiator_device: &opened.header.sender_device,
        responder: me.user_id(),
        responder_device: me.device_id(),
    };
    sender_identity
        .verify(
            &signing_input(&parties, &opened.header.session, init_at, &seed, key_block),
            signature,
        )
        .map_err(|_| Error::Decrypt)?;
    Ok(OpenedInit {
        opened,
        keys,
        sender_identity,
        init_at,
    })
}
