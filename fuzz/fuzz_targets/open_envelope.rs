#![no_main]
use std::sync::LazyLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::{Identity, KeySize, SessionStore, Username};

/// Bob from `tests/vectors/envelopes.json` would need the fixture loader; a seeded
/// RSA-2048 identity is just as good a target and keeps this crate dependency-free.
static BOB: LazyLock<Identity> = LazyLock::new(|| {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let id = Username::parse("bob").map(|u| u.user_id()).unwrap_or(sealpost_core::UserId::from_bytes([0; 32]));
    Identity::generate(&mut rng, id, KeySize::Rsa2048, 1_767_225_600, &mut |_, _| {}).unwrap_or_else(|_| std::process::abort())
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    sealpost_core::fuzz::open_envelope(&mut rng, &BOB, &mut SessionStore::new(), data);
});
