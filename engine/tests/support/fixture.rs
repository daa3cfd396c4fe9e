//! The fixture keys: the RSA-2048 test keys of `tests/vectors/keys.json` (public on
//! purpose).

use std::sync::OnceLock;

use sealpost_core::{EncryptionKey, IdentityKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct FixtureUser {
    username: String,
    identity_pkcs8: String,
    encryption_pkcs8: String,
}

#[derive(Deserialize)]
struct FixtureKeys {
    users: Vec<FixtureUser>,
}

fn fixture(name: &str) -> &'static FixtureUser {
    static KEYS: OnceLock<FixtureKeys> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/keys.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    });
    keys.users.iter().find(|u| u.username == name).unwrap()
}

/// The fixture identity key of `name`.
pub fn identity_key(name: &str) -> IdentityKey {
    IdentityKey::from_pkcs8_der(&hex::decode(&fixture(name).identity_pkcs8).unwrap()).unwrap()
}

/// A fixture encryption key (three exist; devices of tests share them, which only
/// matters for security, not for the protocol's behaviour).
pub fn encryption_key(n: usize) -> EncryptionKey {
    let name = ["alice", "bob", "carol"][n % 3];
    EncryptionKey::from_pkcs8_der(&hex::decode(&fixture(name).encryption_pkcs8).unwrap()).unwrap()
}
