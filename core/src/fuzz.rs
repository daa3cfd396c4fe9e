//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`core/tests/fuzz_corpus.rs`), so that what is fuzzed is exactly what is replayed.
//! Not part of the API.

use crate::backup::BackupParams;
use crate::v2;
use crate::{
    EncryptionKey, Identity, IdentityPublicKey, KeyBundle, SessionStore, UserId, Username,
};

/// Feeds `data` to every stateless parser. Results are ignored: only panics matter.
pub fn parsers(data: &[u8]) {
    let _ = KeyBundle::from_bytes(data);
    let _ = BackupParams::from_blob(data);
    let _ = Identity::from_secret_bytes(data);
    let _ = SessionStore::from_secret_bytes(data);
    let _ = IdentityPublicKey::from_spki_der(data);
    let _ = EncryptionKey::from_pkcs8_der(data);
    let _ = v2::DeviceList::from_bytes(data);
    let _ = v2::DeviceBundle::from_bytes(data);
    let _ = v2::SessionStore::from_secret_bytes(data);
    let _ = v2::backup::params_from_blob(data);
    let _ = v2::envelope_recipient(data);
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

/// Opens `data` as an envelope addressed to `me`.
pub fn open_envelope<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
    me: &Identity,
    store: &mut SessionStore,
    data: &[u8],
) {
    let _ = store.open(rng, me, data, 1_767_225_600);
}
