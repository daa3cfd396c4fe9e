//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`core/tests/fuzz_corpus.rs`), so that what is fuzzed is exactly what is replayed.
//! Not part of the API.

use crate::backup::BackupParams;
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
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = Username::parse(text);
        let _ = UserId::from_hex(text);
    }
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
