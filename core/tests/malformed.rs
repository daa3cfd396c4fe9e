//! Malformed input of every kind returns an error and never panics (proptest): arbitrary
//! bytes, and valid protocol v2 objects with bytes changed, cut or appended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use proptest::prelude::*;
use sealpost_core::v2::{DeviceBundle, DeviceList, Opening};
use sealpost_core::{Error, fuzz};
use support::*;

fn hex_of(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap()).unwrap()
}

/// Every object in the v2 vectors, plus a device's secret keys.
fn samples() -> Vec<Vec<u8>> {
    let devices = read_json("v2/devices.json");
    let envelopes = read_json("v2/envelopes.json");
    let mut out: Vec<Vec<u8>> = Vec::new();
    for b in devices["bundles"].as_array().unwrap() {
        out.push(hex_of(b, "bundle"));
    }
    for l in devices["lists"].as_array().unwrap() {
        out.push(hex_of(l, "list"));
    }
    out.push(hex_of(&read_json("v2/backups.json"), "blob"));
    for m in envelopes["messages"].as_array().unwrap() {
        out.push(hex_of(m, "envelope"));
        if m.get("recipient_state").is_some() {
            out.push(hex_of(m, "recipient_state"));
        }
    }
    out.push(v2::alice_a().keys.to_secret_bytes().unwrap().to_vec());
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        match e {
            Edit::Set(i, v) if !data.is_empty() => {
                let n = data.len();
                data[i % n] = *v;
            }
            Edit::Truncate(n) => data.truncate(*n % (data.len() + 1)),
            Edit::Append(extra) => data.extend_from_slice(extra),
            Edit::Set(..) => {}
        }
    }
    data
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Edit::Set(i, v)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Edit::Append),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz::parsers(&data);
        fuzz::device_secrets(&identity_key("alice").public(), &data);
    }

    #[test]
    fn edited_objects_never_panic(index in 0usize..64, edits in proptest::collection::vec(edit(), 1..4)) {
        let all = samples();
        let original = &all[index % all.len()];
        let data = apply(original.clone(), &edits);
        fuzz::parsers(&data);
        fuzz::device_secrets(&identity_key("alice").public(), &data);
        // Only an edit that re-creates the original encoding can still verify.
        if data != *original && let Ok(b) = DeviceBundle::from_bytes(&data) {
            prop_assert_eq!(b.to_bytes(), original.as_slice());
        }
        if data != *original && let Ok(l) = DeviceList::from_bytes(&data) {
            prop_assert_eq!(l.to_bytes(), original.as_slice());
        }
    }

    #[test]
    fn edited_envelopes_are_rejected(index in 0usize..8, edits in proptest::collection::vec(edit(), 1..3)) {
        let file = read_json("v2/envelopes.json");
        // The inits to bob: each opens with a fresh store.
        let msgs: Vec<_> = file["messages"].as_array().unwrap().iter().filter(|m| m["to"] == "bob" && m["kind"] == 2).collect();
        let original = hex_of(msgs[index % msgs.len()], "envelope");
        let data = apply(original.clone(), &edits);
        let now = file["now"].as_u64().unwrap();
        let result = v2::bob().open(&data, now);
        if data == original {
            prop_assert!(matches!(result, Ok(Opening::Pending(_))));
        } else {
            let err = result.unwrap_err();
            prop_assert!(matches!(err, Error::Malformed | Error::Decrypt), "{:?}", err);
        }
    }
}
