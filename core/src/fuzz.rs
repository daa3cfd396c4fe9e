//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`core/tests/fuzz_corpus.rs`), so that what is fuzzed is exactly what is replayed.
//! Not part of the API.

use crate::v2;
use crate::wire::Reader;
use crate::{EncryptionKey, IdentityPublicKey, UserId, Username};

/// Feeds `data` to every stateless parser. Results are ignored: only panics matter.
pub fn parsers(data: &[u8]) {
    let _ = IdentityPublicKey::from_spki_der(data);
    let _ = EncryptionKey::from_pkcs8_der(data);
    let _ = v2::DeviceList::from_bytes(data);
    let _ = v2::DeviceBundle::from_bytes(data);
    let _ = v2::SessionStore::from_secret_bytes(data);
    let _ = v2::backup::params_from_blob(data);
    let _ = v2::envelope_recipient(data);
    let _ = v2::attachment::Manifest::from_bytes(data);
    let _ = v2::group::GroupOp::from_bytes(data);
    let _ = v2::group::GroupState::from_bytes(data);
    let _ = v2::group::GroupState::from_stored_bytes(data);
    let _ = v2::group::SenderKeyDistribution::from_bytes(data);
    let _ = v2::group::GroupSession::from_secret_bytes(data);
    if let Ok(code) = v2::LinkCode::parse("AAAAAAAAAAAAAAAAAAAA") {
        let _ = v2::LinkHello::open(&code, data);
        let _ = v2::LinkGrant::open(&code, &[], data);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = Username::parse(text);
        let _ = UserId::from_hex(text);
        let _ = v2::LinkCode::parse(text);
        let _ = v2::DeviceId::from_hex(text);
    }
}

/// Opens `data` as an envelope v2 addressed to `me` (a pending init is dropped).
pub fn open_envelope_v2<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
    me: &v2::DeviceKeys,
    store: &mut v2::SessionStore,
    data: &[u8],
) {
    let _ = store.open(rng, me, data, 1_767_225_600);
}

/// Reads `data` as a device's secret keys, checked against `identity` (what a client
/// loads from its storage).
pub fn device_secrets(identity: &IdentityPublicKey, data: &[u8]) {
    let _ = v2::DeviceKeys::from_secret_bytes(data, identity);
}

/// Reads `data` as `u16(len) || manifest` followed by chunks, each `u16(len) || chunk`,
/// and decrypts them in order (what a recipient does with a manifest from a peer and
/// chunks from the relay). A record cut short ends the input.
pub fn decrypt_file(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(manifest) = r.var16(usize::from(u16::MAX)) else {
        return;
    };
    let Ok(manifest) = v2::attachment::Manifest::from_bytes(manifest) else {
        return;
    };
    let mut decryptor = v2::attachment::Decryptor::new(&manifest);
    while let Ok(chunk) = r.var16(usize::from(u16::MAX)) {
        let _ = decryptor.open_chunk(chunk);
    }
    let _ = decryptor.finish();
}

/// The P-256 base point, uncompressed: a valid verifying key for [`open_group_message`].
const P256_G: [u8; 65] = [
    4, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

/// The group of [`open_group_message`]: id `[1; 16]` at epoch 1, members `[1; 32]`
/// (admin) and `[2; 32]`, both with `identity`'s fingerprint, and the chain of member
/// `[1; 32]`'s device `[1; 16]`: id `[3; 16]`, chain key `[4; 32]`, header key `[5; 32]`,
/// signing key the scalar 1 (verifying key the base point), at position 0.
pub fn group_fixture(
    identity: &IdentityPublicKey,
) -> Option<(v2::group::GroupState, v2::group::SenderKeyDistribution)> {
    let fp = identity.fingerprint();
    let mut state = alloc::vec::Vec::new();
    state.extend_from_slice(b"G\x02");
    state.extend_from_slice(&[1; 16]);
    state.extend_from_slice(&1u64.to_be_bytes());
    state.extend_from_slice(&1u64.to_be_bytes());
    state.extend_from_slice(&[1, b'g', 0, 2]);
    for (user, admin_since) in [([1u8; 32], 1u64), ([2; 32], 0)] {
        state.extend_from_slice(&user);
        state.extend_from_slice(&fp);
        state.extend_from_slice(&admin_since.to_be_bytes());
    }
    let state = v2::group::GroupState::from_bytes(&state).ok()?;
    let dist = v2::group::SenderKeyDistribution {
        group_id: v2::GroupId::from_bytes([1; 16]),
        chain_id: v2::ChainId::from_bytes([3; 16]),
        epoch: 1,
        sender: UserId::from_bytes([1; 32]),
        sender_device: v2::DeviceId::from_bytes([1; 16]),
        counter: 0,
        chain_key: zeroize::Zeroizing::new([4; 32]),
        header_key: zeroize::Zeroizing::new([5; 32]),
        verifying_key: P256_G,
    };
    Some((state, dist))
}

/// Member `[2; 32]`'s device `[2; 16]` in [`group_fixture`]'s group, holding its chain.
pub fn group_receiver(identity: &IdentityPublicKey) -> Option<v2::group::GroupSession> {
    let (state, dist) = group_fixture(identity)?;
    let me = UserId::from_bytes([2; 32]);
    let mut session =
        v2::group::GroupSession::join(state, me, v2::DeviceId::from_bytes([2; 16])).ok()?;
    session
        .add_chain(&dist.sender, &dist.sender_device, identity, &dist)
        .ok()?;
    Some(session)
}

/// Applies `data` as an operation to [`group_fixture`]'s state and opens it as a group
/// message at [`group_receiver`] (at 2026-01-01T00:00:00Z).
pub fn open_group_message(identity: &IdentityPublicKey, data: &[u8]) {
    if let (Some((state, _)), Ok(op)) = (
        group_fixture(identity),
        v2::group::GroupOp::from_bytes(data),
    ) {
        let _ = state.apply(&op);
    }
    if let Some(mut session) = group_receiver(identity) {
        let _ = session.open(data, 1_767_225_600);
    }
}
