//! Shared test fixtures: RSA-2048 keys checked into `tests/vectors/keys.json` so that
//! tests not about key generation never generate keys, and a seeded ChaCha20 RNG so that
//! every vector is reproducible.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report
#![allow(dead_code)]

pub mod files;
pub mod groups;
pub mod v2;

use std::path::PathBuf;
use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::{EncryptionKey, IdentityKey, UserId, Username};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// 2026-01-01T00:00:00Z: the clock of every vector.
pub const T0: u64 = 1_767_225_600;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

pub fn regenerate() -> bool {
    std::env::var_os("SEALPOST_REGENERATE_VECTORS").is_some()
}

#[derive(Serialize, Deserialize, Clone)]
pub struct FixtureUser {
    pub username: String,
    pub user_id: String,
    pub identity_pkcs8: String,
    pub encryption_pkcs8: String,
}

#[derive(Serialize, Deserialize)]
pub struct FixtureKeys {
    pub note: String,
    pub users: Vec<FixtureUser>,
}

pub fn fixture_keys() -> &'static FixtureKeys {
    static KEYS: OnceLock<FixtureKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let text = std::fs::read_to_string(vectors_dir().join("keys.json"))
            .expect("tests/vectors/keys.json");
        serde_json::from_str(&text).expect("keys.json parses")
    })
}

pub fn user_id(name: &str) -> UserId {
    Username::parse(name).unwrap().user_id()
}

pub fn write_json(name: &str, value: &serde_json::Value) {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    std::fs::write(vectors_dir().join(name), text).unwrap();
}

pub fn read_json(name: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(vectors_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn fixture_user(name: &str) -> &'static FixtureUser {
    fixture_keys()
        .users
        .iter()
        .find(|u| u.username == name)
        .expect("fixture user")
}

/// The fixture identity key of `name` (alice, bob, carol).
pub fn identity_key(name: &str) -> IdentityKey {
    IdentityKey::from_pkcs8_der(&hex::decode(&fixture_user(name).identity_pkcs8).unwrap()).unwrap()
}

/// The fixture encryption key of `name`. v2 tests may also use an identity fixture key
/// as a device's encryption key (they are plain RSA keys) when they need more keys.
pub fn encryption_key(name: &str) -> EncryptionKey {
    EncryptionKey::from_pkcs8_der(&hex::decode(&fixture_user(name).encryption_pkcs8).unwrap())
        .unwrap()
}

/// An extra RSA-2048 key from the fixtures for use as a device encryption key: the
/// identity keys' PKCS#8 read as encryption keys (`"alice-id"` etc.), or the encryption
/// keys (`"alice"`).
pub fn device_key(which: &str) -> EncryptionKey {
    match which.strip_suffix("-id") {
        Some(name) => {
            EncryptionKey::from_pkcs8_der(&hex::decode(&fixture_user(name).identity_pkcs8).unwrap())
                .unwrap()
        }
        None => encryption_key(which),
    }
}

/// Writes `generated` to `tests/vectors/<name>` when regenerating, then requires the file
/// to equal it.
pub fn check_or_write(name: &str, generated: Value) {
    let path = format!("v2/{name}");
    if regenerate() {
        std::fs::create_dir_all(vectors_dir().join("v2")).unwrap();
        write_json(&path, &generated);
    }
    assert_eq!(
        read_json(&path),
        generated,
        "{path} differs from the deterministic scenario"
    );
}

/// The hex field `key` of `v`, decoded.
pub fn hex_of(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("{key}"))).unwrap()
}
