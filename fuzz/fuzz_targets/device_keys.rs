#![no_main]
// A device's secret keys as a client loads them from storage, checked against an
// identity key (generated from a fixed seed: parsing runs up to the signature check).
use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::{IdentityKey, IdentityPublicKey, KeySize};

fn identity() -> &'static IdentityPublicKey {
    static ID: OnceLock<IdentityPublicKey> = OnceLock::new();
    ID.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        IdentityKey::generate(&mut rng, KeySize::Rsa2048).unwrap().public()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealpost_core::fuzz::device_secrets(identity(), data));
