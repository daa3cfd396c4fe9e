//! Interop vectors for protocol v2 in `tests/vectors/v2/*.json` (same pattern as
//! `vectors.rs`): each file comes from a deterministic scenario (fixture keys, seeded
//! ChaCha20); the test regenerates it and requires byte equality, then opens what the
//! file holds independently. Regenerate with `SEALPOST_REGENERATE_VECTORS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Error;
use sealpost_core::backup::{BackupParams, MIN_ITERATIONS};
use sealpost_core::v2::backup;
use sealpost_core::v2::{
    DeviceBundle, DeviceKeys, DeviceList, LinkCode, LinkGrant, LinkHello, Opening, SessionStore,
};
use sealpost_core::{IdentityKey, Username};
use serde_json::{Value, json};
use support::v2::*;
use support::*;
use zeroize::Zeroizing;

const NOW: u64 = T0 + 10;

#[test]
fn devices() {
    let (a, a2, b) = (alice_a(), alice_b(), bob());
    let alice_list = list_of(&[&a, &a2]);
    let bob_list = list_of(&[&b]);
    let bundles: Vec<Value> = [&a, &a2, &b]
        .iter()
        .map(|d| {
            json!({
                "device": d.name,
                "user_id": d.keys.user_id().to_hex(),
                "device_id": d.keys.device_id().to_hex(),
                "issued_at": d.bundle.issued_at(),
                "encryption_spki": hex::encode(d.bundle.current_encryption_key(NOW).unwrap().to_spki_der()),
                "bundle": hex::encode(d.bundle.to_bytes()),
            })
        })
        .collect();
    let generated = json!({
        "t0": T0,
        "note": "Device lists (format L 2) and device bundles (format B 2), RSA-2048 fixture keys from ../keys.json. alice/B's encryption key is carol's identity PKCS#8 from keys.json read as an encryption key (test keys only). Parse and verify every signature; every bundle's device must be in its user's list.",
        "lists": [
            {"user": "alice", "list": hex::encode(alice_list.to_bytes())},
            {"user": "bob", "list": hex::encode(bob_list.to_bytes())},
        ],
        "bundles": bundles,
    });
    check_or_write("devices.json", generated.clone());
    let lists: Vec<DeviceList> = generated["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| DeviceList::from_bytes(&hex_of(l, "list")).unwrap())
        .collect();
    for b in generated["bundles"].as_array().unwrap() {
        let bundle = DeviceBundle::from_bytes(&hex_of(b, "bundle")).unwrap();
        assert!(lists.iter().any(|l| l.check_bundle(&bundle).is_ok()));
    }
}

#[test]
fn envelopes() {
    let (mut a, mut b) = (alice_a(), bob());
    let mut msgs = Vec::new();
    let mut push = |from: &str,
                    to: &str,
                    text: &str,
                    e: &sealpost_core::v2::SealedEnvelope,
                    state: Option<Vec<u8>>| {
        let mut m = json!({
            "from": from, "to": to, "payload": text,
            "kind": if e.with_init { 2 } else { 3 },
            "session": e.session_id.to_hex(), "counter": e.counter,
            "envelope": hex::encode(&e.envelope),
        });
        if let Some(s) = state {
            m["recipient_state"] = json!(hex::encode(s));
        }
        msgs.push(m);
    };
    // alice/A -> bob: counters 0 and 1 carry the init block; bob receives 1 first.
    let m0 = a.seal(&b.bundle, b"hello bob", NOW);
    let m1 = a.seal(&b.bundle, b"are you there?", NOW);
    push("alice/A", "bob", "are you there?", &m1, None);
    push("alice/A", "bob", "hello bob", &m0, None);
    b.recv(&m1.envelope, NOW).unwrap();
    b.recv(&m0.envelope, NOW).unwrap();
    // bob -> alice/A (kind 3); alice's state before it is in the file.
    let alice_state = a.state();
    let r = b.seal(&a.bundle, b"hi alice", NOW);
    push("bob", "alice/A", "hi alice", &r, Some(alice_state));
    a.recv(&r.envelope, NOW).unwrap();
    // Confirmed: kind 3 from alice/A.
    let m2 = a.seal(&b.bundle, b"short now", NOW);
    push("alice/A", "bob", "short now", &m2, None);
    let generated = json!({
        "t0": T0,
        "now": NOW,
        "note": "Open in file order with one fresh v2 session store per recipient device (devices.json; private keys: alice/A = alice's encryption key, bob = bob's encryption key in ../keys.json) and the clock 'now'. Where a message has recipient_state, first replace that recipient's store by its decoding (format S 2). A pending init is accepted (the signer is the sender's identity in devices.json). Every payload must match; opening any envelope again must fail with REPLAY.",
        "messages": msgs,
    });
    check_or_write("envelopes.json", generated.clone());
    // Independent check from the file.
    let mut devs = [("alice/A", alice_a()), ("bob", bob())];
    let mut opened = Vec::new();
    for m in generated["messages"].as_array().unwrap() {
        let to = m["to"].as_str().unwrap();
        let dev = &mut devs.iter_mut().find(|(n, _)| *n == to).unwrap().1;
        if m.get("recipient_state").is_some() {
            dev.store = SessionStore::from_secret_bytes(&hex_of(m, "recipient_state")).unwrap();
        }
        let env = hex_of(m, "envelope");
        let msg = match dev.open(&env, NOW).unwrap() {
            Opening::Message(x) => x,
            Opening::Pending(p) => {
                assert_eq!(m["kind"], 2);
                dev.store.accept(*p, true, NOW).unwrap()
            }
        };
        assert_eq!(
            msg.payload.to_vec(),
            m["payload"].as_str().unwrap().as_bytes()
        );
        assert_eq!(msg.counter, m["counter"].as_u64().unwrap());
        opened.push((to, env));
    }
    for (to, env) in opened {
        let dev = &mut devs.iter_mut().find(|(n, _)| *n == to).unwrap().1;
        assert_eq!(dev.open(&env, NOW).unwrap_err(), Error::Replay);
    }
}

#[test]
fn link() {
    let code = LinkCode::generate(&mut rng(40));
    let new_device = DeviceKeys::from_key(
        &mut rng(41),
        &identity_key("alice"),
        user_id("alice"),
        sealpost_core::v2::DeviceId::from_bytes([0xa3; 16]),
        device_key("bob-id"),
        T0,
    )
    .unwrap();
    let hello = LinkHello {
        device_id: *new_device.device_id(),
        name: "Firefox on Linux".into(),
        encryption_key: device_key("bob-id").public(),
    };
    let sealed_hello = hello.seal(&mut rng(42), &code).unwrap();
    let grant = LinkGrant {
        username: Username::parse("alice").unwrap(),
        identity: identity_key("alice"),
        account_state: Zeroizing::new(b"account state".to_vec()),
        history: Zeroizing::new(Vec::new()),
    };
    let sealed_grant = grant.seal(&mut rng(43), &code, &sealed_hello).unwrap();
    let generated = json!({
        "note": "code is 20 base32 characters; channel = SHA-256(\"sealpost/v2/link-channel\\0\" || code)[0..16]; link_key = HKDF-SHA256(code, empty salt, \"sealpost/v2/link-key\", 32); delete_proof = SHA-256(\"sealpost/v2/link-delete\\0\" || code), sent as Authorization: Link base64url(delete_proof). Open hello, then grant with SHA-256(hello) in its associated data. The grant holds alice's identity PKCS#8 from ../keys.json.",
        "code": code.as_str(),
        "channel": hex::encode(code.channel()),
        "delete_proof": hex::encode(code.delete_proof()),
        "hello": hex::encode(&sealed_hello),
        "hello_device_id": hello.device_id.to_hex(),
        "hello_name": hello.name,
        "grant": hex::encode(&sealed_grant),
        "grant_username": "alice",
        "grant_account_state": hex::encode(b"account state"),
    });
    check_or_write("link.json", generated.clone());
    let code = LinkCode::parse(generated["code"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(code.channel()), generated["channel"]);
    assert_eq!(hex::encode(code.delete_proof()), generated["delete_proof"]);
    let h = hex_of(&generated, "hello");
    assert_eq!(LinkHello::open(&code, &h).unwrap(), hello);
    let g = LinkGrant::open(&code, &h, &hex_of(&generated, "grant")).unwrap();
    assert_eq!(g.identity.public(), identity_key("alice").public());
}

#[test]
fn backups() {
    let alice = user_id("alice");
    let password = "cafe\u{301} au lait";
    let params = BackupParams::generate(&mut rng(50), MIN_ITERATIONS).unwrap();
    let keys = backup::derive_keys(password, &alice, &params).unwrap();
    let blob = backup::export(
        &mut rng(51),
        &alice,
        &identity_key("alice"),
        b"account state",
        &params,
        &keys,
    )
    .unwrap();
    let generated = json!({
        "note": "Backup v2 (format K 2): the password is NFC-normalised before PBKDF2 (here given in NFD: 'e' + U+0301). Content: var16(identity pkcs8) || var32(account state); the identity is alice's from ../keys.json.",
        "user": "alice",
        "password_nfd": password,
        "password_nfc": "caf\u{e9} au lait",
        "salt": hex::encode(params.salt),
        "iterations": params.iterations,
        "auth_token": hex::encode(keys.auth_token()),
        "account_state": hex::encode(b"account state"),
        "blob": hex::encode(&blob),
    });
    check_or_write("backups.json", generated.clone());
    let blob = hex_of(&generated, "blob");
    let (uid, p) = backup::params_from_blob(&blob).unwrap();
    let k = backup::derive_keys(generated["password_nfc"].as_str().unwrap(), &uid, &p).unwrap();
    assert_eq!(hex::encode(k.auth_token()), generated["auth_token"]);
    let content = backup::import(&blob, &k).unwrap();
    let _: &IdentityKey = &content.identity;
    assert_eq!(content.identity.public(), identity_key("alice").public());
}
