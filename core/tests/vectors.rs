//! The vectors shared by every protocol version in `tests/vectors/*.json` (user ids,
//! safety numbers); the protocol v2 ones are `v2_vectors.rs`.
//!
//! Each vector file is produced by a deterministic scenario (fixture keys, seeded
//! ChaCha20). The test regenerates the scenario and requires byte equality with the
//! file, then independently opens what the file holds, so other implementations (the
//! wasm package, a WebCrypto port) can use the files as interop vectors.
//! Regenerate after a deliberate format change with `SEALPOST_REGENERATE_VECTORS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::{Error, SafetyNumber, Username};
use serde_json::{Value, json};
use support::*;

fn check_or_write(name: &str, generated: Value) {
    if regenerate() {
        write_json(name, &generated);
    }
    assert_eq!(
        read_json(name),
        generated,
        "{name} differs from the deterministic scenario"
    );
}

#[test]
fn user_ids() {
    let valid: Vec<Value> = ["alice", "Bob", "carol.smith", "x_y-z", "000"]
        .iter()
        .map(|input| {
            let u = Username::parse(input).unwrap();
            json!({"input": input, "normalized": u.as_str(), "user_id": u.user_id().to_hex()})
        })
        .collect();
    let invalid = [
        "ab",
        "alice smith",
        "ålice",
        "alice@example",
        "",
        "abcdefghijklmnopqrstuvwxyz0123456",
    ];
    for bad in invalid {
        assert_eq!(Username::parse(bad), Err(Error::InvalidUsername), "{bad}");
    }
    check_or_write(
        "user_ids.json",
        json!({
            "algorithm": "user_id = SHA-256(\"sealpost/user/v1\" || ascii_lowercase(username)); username matches [a-z0-9._-]{3,32} after lowercasing",
            "valid": valid,
            "invalid": invalid,
        }),
    );
}

#[test]
fn safety_numbers() {
    let a = identity_key("alice").public();
    let b = identity_key("bob").public();
    let ab = SafetyNumber::new(&user_id("alice"), &a, &user_id("bob"), &b);
    let ba = SafetyNumber::new(&user_id("bob"), &b, &user_id("alice"), &a);
    assert_eq!(ab, ba);
    assert_eq!(ab.digits().len(), 60);
    assert!(ab.matches_qr(&ba.qr_payload()));
    check_or_write(
        "safety.json",
        json!({
            "a": "alice", "b": "bob",
            "digits": ab.digits(),
            "display": ab.display(),
            "qr_payload": hex::encode(ab.qr_payload()),
        }),
    );
}
