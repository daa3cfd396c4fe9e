//! The shared test vectors in `tests/vectors/*.json`.
//!
//! Each vector file is produced by a deterministic scenario (fixture keys, seeded
//! ChaCha20). The test regenerates the scenario and requires byte equality with the
//! file, then independently opens what the file holds, so other implementations (the
//! wasm package, a WebCrypto port) can use the files as interop vectors.
//! Regenerate after a deliberate format change with `SEALPOST_REGENERATE_VECTORS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::backup::{self, BackupKeys, BackupParams};
use sealpost_core::{Error, KeyBundle, MessageKind, SafetyNumber, SessionStore, Username, seal};
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

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("{key}"))).unwrap()
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
fn bundles() {
    let mut out = Vec::new();
    for (name, seed) in [("alice", 10), ("bob", 11)] {
        let mut me = identity(name, seed);
        let bundle = me.bundle(&mut rng(seed + 100), T0).unwrap();
        let parsed = KeyBundle::from_bytes(bundle.to_bytes()).unwrap();
        assert_eq!(parsed, bundle);
        assert_eq!(parsed.user_id(), &user_id(name));
        out.push(json!({
            "user": name,
            "user_id": user_id(name).to_hex(),
            "issued_at": T0,
            "identity_spki": hex::encode(bundle.identity().to_spki_der()),
            "encryption_spki": hex::encode(bundle.current_encryption_key(T0).unwrap().to_spki_der()),
            "bundle": hex::encode(bundle.to_bytes()),
        }));
    }
    check_or_write("bundles.json", json!({"t0": T0, "bundles": out}));

    // The file's bundles verify on their own; any bit flip breaks them.
    for b in read_json("bundles.json")["bundles"].as_array().unwrap() {
        let bytes = hex_field(b, "bundle");
        let bundle = KeyBundle::from_bytes(&bytes).unwrap();
        assert_eq!(
            bundle.identity().to_spki_der(),
            hex_field(b, "identity_spki")
        );
        for i in (0..bytes.len()).step_by(97) {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(KeyBundle::from_bytes(&bad).is_err(), "flip at {i}");
        }
    }
}

/// The conversation every implementation must be able to replay.
fn conversation() -> Value {
    let alice = identity("alice", 20);
    let mut bob = identity("bob", 21);
    let mut carol = identity("carol", 22);
    let mut r = rng(23);
    let bob_bundle = bob.bundle(&mut r, T0).unwrap();
    let carol_bundle = carol.bundle(&mut r, T0).unwrap();
    let mut alice_store = SessionStore::new();
    let mut bob_store = SessionStore::new();

    let mut msgs = Vec::new();
    let entry =
        |from: &str, to: &str, text: &str, sealed: &sealpost_core::SealedMessage, kind: &str| {
            json!({
                "from": from, "to": to, "kind": kind, "content_type": 0, "content": text,
                "message_id": hex::encode(sealed.message_id),
                "envelope": hex::encode(&sealed.envelope),
            })
        };
    let m0 = alice_store
        .seal(
            &mut r,
            &alice,
            &bob_bundle,
            0,
            b"Hello Bob, this starts a session.",
            T0,
        )
        .unwrap();
    msgs.push(entry(
        "alice",
        "bob",
        "Hello Bob, this starts a session.",
        &m0,
        "SessionInit",
    ));
    let m1 = alice_store
        .seal(
            &mut r,
            &alice,
            &bob_bundle,
            0,
            b"Second message: symmetric ratchet.",
            T0 + 1,
        )
        .unwrap();
    msgs.push(entry(
        "alice",
        "bob",
        "Second message: symmetric ratchet.",
        &m1,
        "Session",
    ));
    // Alice's session state, which she needs to open Bob's reply (the file's opener
    // starts from it, exercising the state serialization format too).
    let alice_state = hex::encode(&*alice_store.to_secret_bytes().unwrap());
    // Bob must have opened the init before he can reply in the session.
    bob_store.open(&mut r, &bob, &m0.envelope, T0 + 2).unwrap();
    let alice_bundle = identity("alice", 20).bundle(&mut rng(24), T0).unwrap();
    let m2 = bob_store
        .seal(
            &mut r,
            &bob,
            &alice_bundle,
            0,
            "Hi Alice! 👋".as_bytes(),
            T0 + 3,
        )
        .unwrap();
    msgs.push(entry("bob", "alice", "Hi Alice! 👋", &m2, "Session"));
    msgs.last_mut().unwrap()["recipient_state"] = json!(alice_state);
    let m3 = alice_store
        .seal(&mut r, &alice, &bob_bundle, 0, b"third", T0 + 4)
        .unwrap();
    let m4 = alice_store
        .seal(
            &mut r,
            &alice,
            &bob_bundle,
            0,
            b"fourth, delivered before third",
            T0 + 5,
        )
        .unwrap();
    msgs.push(entry(
        "alice",
        "bob",
        "fourth, delivered before third",
        &m4,
        "Session",
    ));
    msgs.push(entry("alice", "bob", "third", &m3, "Session"));
    let group = seal(
        &mut r,
        &alice,
        &[&bob_bundle, &carol_bundle],
        0,
        b"To Bob and Carol.",
        T0 + 6,
    )
    .unwrap();
    for sealed in &group {
        let name = if sealed.recipient == user_id("bob") {
            "bob"
        } else {
            "carol"
        };
        msgs.push(entry("alice", name, "To Bob and Carol.", sealed, "Sealed"));
    }
    json!({
        "t0": T0,
        "note": "Open in file order with one fresh SessionStore per recipient (fixture identities with their encryption keys signed at t0), replacing it by SessionStore::from_secret_bytes(recipient_state) where a message carries one; the clock may be t0 + 10.",
        "messages": msgs,
    })
}

#[test]
fn envelopes() {
    check_or_write("envelopes.json", conversation());

    let file = read_json("envelopes.json");
    let mut people: Vec<(String, sealpost_core::Identity, SessionStore)> =
        ["alice", "bob", "carol"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.to_string(),
                    identity(n, 30 + i as u64),
                    SessionStore::new(),
                )
            })
            .collect();
    let mut r = rng(31);
    for m in file["messages"].as_array().unwrap() {
        let to = m["to"].as_str().unwrap();
        let (_, me, store) = people.iter_mut().find(|(n, _, _)| n == to).unwrap();
        if m.get("recipient_state").is_some() {
            *store = SessionStore::from_secret_bytes(&hex_field(m, "recipient_state")).unwrap();
        }
        let envelope = hex_field(m, "envelope");
        let opened = store.open(&mut r, me, &envelope, T0 + 10).unwrap();
        assert_eq!(opened.content, m["content"].as_str().unwrap().as_bytes());
        assert_eq!(opened.sender, user_id(m["from"].as_str().unwrap()));
        let kind = match opened.kind {
            MessageKind::Sealed => "Sealed",
            MessageKind::SessionInit => "SessionInit",
            MessageKind::Session => "Session",
            _ => unreachable!(),
        };
        assert_eq!(kind, m["kind"].as_str().unwrap());
        assert_eq!(
            hex::encode(opened.message_id),
            m["message_id"].as_str().unwrap()
        );
        // Every envelope opens exactly once.
        assert_eq!(
            store.open(&mut r, me, &envelope, T0 + 10).unwrap_err(),
            Error::Replay
        );
    }
}

#[test]
fn backups() {
    let alice = identity("alice", 40);
    let mut r = rng(41);
    let password = "correct horse battery staple";
    let params = BackupParams::generate(&mut r, backup::MIN_ITERATIONS).unwrap();
    let keys = BackupKeys::derive(password, alice.user_id(), &params).unwrap();
    let blob = backup::export(&mut r, &alice, &params, &keys).unwrap();
    check_or_write(
        "backups.json",
        json!({
            "user": "alice",
            "password": password,
            "salt": hex::encode(params.salt),
            "iterations": params.iterations,
            "auth_token": hex::encode(keys.auth_token()),
            "blob": hex::encode(&blob),
        }),
    );

    let file = read_json("backups.json");
    let blob = hex_field(&file, "blob");
    let (owner, params) = BackupParams::from_blob(&blob).unwrap();
    assert_eq!(owner, user_id("alice"));
    let keys = BackupKeys::derive(file["password"].as_str().unwrap(), &owner, &params).unwrap();
    assert_eq!(
        hex::encode(keys.auth_token()),
        file["auth_token"].as_str().unwrap()
    );
    let restored = backup::import(&blob, &keys).unwrap();
    assert_eq!(
        restored.identity_key().public(),
        alice.identity_key().public()
    );
    let wrong = BackupKeys::derive("incorrect horse battery", &owner, &params).unwrap();
    assert_eq!(
        backup::import(&blob, &wrong).unwrap_err(),
        Error::WrongPassword
    );
}

#[test]
fn safety_numbers() {
    let a = identity("alice", 50).identity_key().public();
    let b = identity("bob", 51).identity_key().public();
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
