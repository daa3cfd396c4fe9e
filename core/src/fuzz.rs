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
