#![no_main]
use std::sync::OnceLock;

use sealpost_core::IdentityPublicKey;

/// alice's fixture identity key (tests/vectors/keys.json), as the corpus replay uses.
const ALICE_SPKI: &[u8] = include_bytes!("../corpus/parsers/spki-alice");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static KEY: OnceLock<Option<IdentityPublicKey>> = OnceLock::new();
    if let Some(key) = KEY.get_or_init(|| IdentityPublicKey::from_spki_der(ALICE_SPKI).ok()) {
        sealpost_core::fuzz::open_group_message(key, data);
    }
});
