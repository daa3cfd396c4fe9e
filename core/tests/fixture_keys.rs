//! Generates `tests/vectors/keys.json` (only with `SEALPOST_REGENERATE_VECTORS=1`) and
//! checks that the checked-in fixture keys load and match their user ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::{EncryptionKey, IdentityKey, KeySize};
use support::*;

#[test]
fn fixture_keys_load() {
    if regenerate() && !vectors_dir().join("keys.json").exists() {
        let mut r = rng(2026);
        let users = ["alice", "bob", "carol"]
            .iter()
            .map(|name| FixtureUser {
                username: name.to_string(),
                user_id: user_id(name).to_hex(),
                identity_pkcs8: hex::encode(
                    &*IdentityKey::generate(&mut r, KeySize::Rsa2048)
                        .unwrap()
                        .to_pkcs8_der()
                        .unwrap(),
                ),
                encryption_pkcs8: hex::encode(
                    &*EncryptionKey::generate(&mut r, KeySize::Rsa2048)
                        .unwrap()
                        .to_pkcs8_der()
                        .unwrap(),
                ),
            })
            .collect();
        let keys = FixtureKeys {
            note: "TEST KEYS ONLY, public on purpose. RSA-2048 from ChaCha20 seed 2026. Never use outside tests.".into(),
            users,
        };
        write_json("keys.json", &serde_json::to_value(&keys).unwrap());
    }
    for user in &fixture_keys().users {
        assert_eq!(user.user_id, user_id(&user.username).to_hex());
        identity_key(&user.username);
        encryption_key(&user.username);
    }
}
