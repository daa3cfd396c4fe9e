#![no_main]
// Bob's v2 device (fixture keys) opening arbitrary bytes with an empty session store.
use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::v2::{DeviceId, DeviceKeys, SessionStore};
use sealpost_core::{EncryptionKey, IdentityKey, KeySize, Username};

fn bob() -> &'static DeviceKeys {
    static BOB: OnceLock<DeviceKeys> = OnceLock::new();
    BOB.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let identity = IdentityKey::generate(&mut rng, KeySize::Rsa2048).unwrap();
        let key = EncryptionKey::generate(&mut rng, KeySize::Rsa2048).unwrap();
        let user = Username::parse("bob").unwrap().user_id();
        DeviceKeys::from_key(&mut rng, &identity, user, DeviceId::from_bytes([0xb1; 16]), key, 1_767_225_600)
            .unwrap()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    sealpost_core::fuzz::open_envelope_v2(&mut rng, bob(), &mut SessionStore::new(), data);
});
