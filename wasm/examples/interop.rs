//! Native half of the wasm interop test (driven by `wasm/scripts/test.mjs`):
//! opens the envelopes the package sealed (`IN`), checks them, and seals replies with
//! the native core for the package to open (`OUT`).
//!
//! `cargo run -p sealpost-wasm --example interop -- IN OUT`

use std::error::Error;

use sealpost_core::{EncryptionKey, Identity, IdentityKey, SessionStore, Username, os_rng};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error>>;

fn field<'a>(v: &'a Value, k: &str) -> Res<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing {k}").into())
}

fn fixture(keys: &Value, name: &str, now: u64) -> Res<Identity> {
    let users = keys.get("users").and_then(Value::as_array).ok_or("users")?;
    let u = users
        .iter()
        .find(|u| u.get("username").and_then(Value::as_str) == Some(name))
        .ok_or("no such fixture")?;
    let identity = IdentityKey::from_pkcs8_der(&hex::decode(field(u, "identity_pkcs8")?)?)?;
    let encryption = EncryptionKey::from_pkcs8_der(&hex::decode(field(u, "encryption_pkcs8")?)?)?;
    Ok(Identity::from_keys(
        &mut os_rng(),
        Username::parse(name)?.user_id(),
        identity,
        encryption,
        now,
    )?)
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
    let mut rng = os_rng();

    let mut opened = 0;
    let mut stores: Vec<(String, Identity, SessionStore)> = Vec::new();
    for m in from_wasm
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages")?
    {
        let to = field(m, "to")?;
        if !stores.iter().any(|(n, _, _)| n == to) {
            stores.push((
                to.to_string(),
                fixture(&keys, to, now)?,
                SessionStore::new(),
            ));
        }
        let (_, me, store) = stores.iter_mut().find(|(n, _, _)| n == to).ok_or("store")?;
        let o = store.open(&mut rng, me, &hex::decode(field(m, "envelope")?)?, now)?;
        if o.content != field(m, "content")?.as_bytes()
            || o.sender != Username::parse(field(m, "from")?)?.user_id()
        {
            return Err(format!("content or sender mismatch in {m}").into());
        }
        opened += 1;
    }

    let mut alice = fixture(&keys, "alice", now)?;
    let bob = fixture(&keys, "bob", now)?;
    let carol = fixture(&keys, "carol", now)?;
    let alice_bundle = alice.bundle(&mut rng, now)?;
    let mut bob_store = SessionStore::new();
    let mut messages = Vec::new();
    for text in ["from native: session set-up", "from native: ratchet ✓"] {
        let s = bob_store.seal(&mut rng, &bob, &alice_bundle, 0, text.as_bytes(), now)?;
        messages.push(json!({"from": "bob", "to": "alice", "content": text, "envelope": hex::encode(&s.envelope)}));
    }
    for s in sealpost_core::seal(
        &mut rng,
        &carol,
        &[&alice_bundle],
        0,
        b"from native: sealed",
        now,
    )? {
        messages.push(json!({"from": "carol", "to": "alice", "content": "from native: sealed", "envelope": hex::encode(&s.envelope)}));
    }
    std::fs::write(
        output,
        serde_json::to_string_pretty(&json!({"now": now, "opened": opened, "messages": messages}))?,
    )?;
    println!(
        "interop: native core opened {opened} envelopes from the package and sealed {} back",
        messages.len()
    );
    Ok(())
}
