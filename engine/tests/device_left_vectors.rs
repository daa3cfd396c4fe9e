//! `tests/vectors/v2/device_left.json` (PROTOCOL.md 17.7, 18.1 "Lookups" (c), 25): the
//! `DeviceLeft` payload, payloads of type 9 that are `MALFORMED`, and when a receiving
//! device asks the directory for the sender's list, as this engine does it (a group member
//! sending notices and a device ticking, timed in seconds after the notices start).
//! Built here and required to match the file byte for byte (`SEALPOST_WRITE_VECTORS=1`
//! rewrites it); `tests/webcrypto/groups.mjs` checks it from the document alone.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Error;
use sealpost_engine::codec::Codec;
use sealpost_engine::limits::DEVICE_LEFT_INTERVAL;
use sealpost_engine::payload::Payload;
use sealpost_engine::{Input, LookupOutcome};
use serde_json::{Value, json};
use support::groups::*;
use support::strangers::Stranger;
use support::*;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/v2/device_left.json"
);

/// The timeline's events: `(at, event)`, `at` in seconds after `T`; `notice` from the
/// member, `stranger_notice` from an account in none of the receiver's groups.
const EVENTS: &[(u64, &str)] = &[
    (0, "notice"),
    (10, "notice"),
    (20, "notice"),
    (30, "tick"),
    (59, "tick"),
    (60, "tick"),
    (61, "tick"),
    (90, "notice"),
    (119, "tick"),
    (120, "tick"),
    (500, "notice"),
    (500, "stranger_notice"),
    (600, "tick"),
];

/// The member's listing was last read this long before the first event.
const LISTED_BEFORE: u64 = 300;

fn timeline() -> Vec<Value> {
    let t = T0 + LISTED_BEFORE;
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let (mut mallory, mut mallory_device) = Stranger::register(&mut relay, "mallory", 9);
    let (mut eve, _) = Stranger::register(&mut relay, "eve", 8);
    assert_eq!(
        alice.lookup(&mut relay, T0, "mallory"),
        LookupOutcome::Found
    );
    create(&mut relay, &mut alice, &["mallory"]);
    settle(&mut relay, &mut [&mut alice, &mut mallory_device], T0);
    // Eve's first envelope has alice look her up (a first contact, 18.1), not counted.
    eve.sessions(&mut relay, &alice, 1, T0);
    alice.receive(&mut relay, T0);
    let asked = |d: &Device| d.fetched.len();
    EVENTS
        .iter()
        .map(|&(at, event)| {
            let before = asked(&alice);
            match event {
                "notice" => {
                    mallory.seal(&mut relay, &alice, &Payload::DeviceLeft, t + at);
                    alice.receive(&mut relay, t + at);
                }
                "stranger_notice" => {
                    eve.seal(&mut relay, &alice, &Payload::DeviceLeft, t + at);
                    alice.receive(&mut relay, t + at);
                }
                _ => alice.run(&mut relay, t + at, Input::Tick),
            }
            // At most one lookup, and only ever of the member.
            let asks = match alice.fetched[before..] {
                [] => false,
                [u] if u == mallory.user() => true,
                ref other => panic!("{event} at {at}: {} lookups", other.len()),
            };
            json!({"at": at, "event": event, "asks": asks})
        })
        .collect()
}

fn build() -> Value {
    let fail = |name: &str, payload: &[u8]| {
        assert_eq!(Payload::from_bytes(payload), Err(Error::Malformed));
        json!({"name": name, "payload": hex::encode(payload), "error": "MALFORMED"})
    };
    json!({
        "note": "PROTOCOL.md 17.7. payload: the DeviceLeft payload (type 9, no fields). \
                 fail_payloads: each is MALFORMED. timeline: a receiving device in a group \
                 with the member, whose listing of the member it last read listed_before \
                 seconds before the first event; each event at 'at' seconds: 'notice' (a \
                 DeviceLeft from the member), 'stranger_notice' (one from an account in none \
                 of the device's groups) or 'tick'; 'asks': whether the device asks the \
                 directory for the sender's listing then (the answer comes at once).",
        "payload": hex::encode(Payload::DeviceLeft.to_bytes()),
        "fail_payloads": [
            fail("a trailing byte", &[9, 0]),
            fail("a trailing list version", &[9, 0, 0, 0, 0, 0, 0, 0, 2]),
        ],
        "interval": DEVICE_LEFT_INTERVAL,
        "listed_before": LISTED_BEFORE,
        "timeline": timeline(),
    })
}

#[test]
fn the_device_left_vectors_match_and_read_back() {
    let want = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    if std::env::var_os("SEALPOST_WRITE_VECTORS").is_some() {
        std::fs::write(PATH, &want).unwrap();
    }
    let file = std::fs::read_to_string(PATH).unwrap();
    assert_eq!(file, want, "tests/vectors/v2/device_left.json is stale");
    let v: Value = serde_json::from_str(&file).unwrap();
    let bytes = |x: &Value| hex::decode(x.as_str().unwrap()).unwrap();
    assert_eq!(
        Payload::from_bytes(&bytes(&v["payload"])),
        Ok(Payload::DeviceLeft)
    );
    for f in v["fail_payloads"].as_array().unwrap() {
        let err = Payload::from_bytes(&bytes(&f["payload"])).unwrap_err();
        assert_eq!(err.code(), f["error"].as_str().unwrap(), "{}", f["name"]);
    }
}
