//! Native half of the wasm interop test (driven by `wasm/scripts/test.mjs`): opens the
//! envelopes v2 the package sealed from alice/A to bob (`IN`), checks them, and seals
//! replies from bob to alice/A with the native core for the package to open (`OUT`).
//! The devices are the fixture devices of `tests/vectors/v2` (core/tests/support/v2.rs).
//!
//! `cargo run -p sealpost-wasm --example interop -- IN OUT`

use std::error::Error;

use sealpost_core::v2::{DeviceId, DeviceKeys, Opening, SessionStore};
use sealpost_core::{EncryptionKey, IdentityKey, Username, os_rng};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error>>;

fn field<'a>(v: &'a Value, k: &str) -> Res<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing {k}").into())
}

fn pkcs8(keys: &Value, name: &str, which: &str) -> Res<Vec<u8>> {
    let users = keys.get("users").and_then(Value::as_array).ok_or("users")?;
    let u = users
        .iter()
        .find(|u| u.get("username").and_then(Value::as_str) == Some(name))
        .ok_or("no such fixture")?;
    Ok(hex::decode(field(u, which)?)?)
}

/// `name`'s fixture identity and its device `byte…` with `name`'s encryption key.
fn device(keys: &Value, name: &str, byte: u8, t0: u64) -> Res<(IdentityKey, DeviceKeys)> {
    let identity = IdentityKey::from_pkcs8_der(&pkcs8(keys, name, "identity_pkcs8")?)?;
    let key = EncryptionKey::from_pkcs8_der(&pkcs8(keys, name, "encryption_pkcs8")?)?;
    let device = DeviceKeys::from_key(
        &mut os_rng(),
        &identity,
        Username::parse(name)?.user_id(),
        DeviceId::from_bytes([byte; 16]),
        key,
        t0,
    )?;
    Ok((identity, device))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
        return Err("usage: interop IN OUT".into());
    };
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/keys.json"
    ))?)?;
    let from_wasm: Value = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let now = from_wasm.get("now").and_then(Value::as_u64).ok_or("now")?;
    let t0 = from_wasm.get("t0").and_then(Value::as_u64).ok_or("t0")?;
    let mut rng = os_rng();
    let (alice_identity, mut alice) = device(&keys, "alice", 0xa1, t0)?;
    let (bob_identity, bob) = device(&keys, "bob", 0xb1, t0)?;

    let mut opened = 0;
    let mut bob_store = SessionStore::new();
    for m in from_wasm
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages")?
    {
        let envelope = hex::decode(field(m, "envelope")?)?;
        let message = match bob_store.open(&mut rng, &bob, &envelope, now)? {
            Opening::Message(m) => m,
            Opening::Pending(p) => {
                if *p.sender_identity() != alice_identity.public() {
                    return Err("the init is not signed by alice".into());
                }
                bob_store.accept(*p, true, now)?
            }
        };
        if message.payload.as_slice() != field(m, "payload")?.as_bytes()
            || message.sender != *alice.user_id()
            || message.sender_device != *alice.device_id()
        {
            return Err(format!("payload or sender mismatch in {m}").into());
        }
        opened += 1;
    }

    // Replies in a session of bob's own (the package opens them with a fresh store):
    // the first is a pending init there, the second rides in the same session.
    let alice_bundle = alice.bundle(&mut rng, &alice_identity, now)?;
    let mut reply_store = SessionStore::new();
    let mut messages = Vec::new();
    for payload in ["from native: reply", "from native: again ✓"] {
        let s = reply_store.seal(
            &mut rng,
            &bob_identity,
            &bob,
            &alice_bundle,
            payload.as_bytes(),
            now,
        )?;
        messages.push(json!({"payload": payload, "envelope": hex::encode(&s.envelope)}));
    }
    std::fs::write(
        output,
        serde_json::to_string_pretty(
            &json!({"t0": t0, "now": now, "opened": opened, "messages": messages}),
        )?,
    )?;
    println!(
        "interop: native core opened {opened} envelopes from the package and sealed {} back",
        messages.len()
    );
    Ok(())
}
