//! Malformed input of every kind returns an error and never panics (proptest): arbitrary
//! bytes, and valid objects with bytes changed, cut or appended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use proptest::prelude::*;
use sealpost_core::{Error, KeyBundle, SessionStore, fuzz};
use support::*;

fn samples() -> Vec<Vec<u8>> {
    let bundles = read_json("bundles.json");
    let envelopes = read_json("envelopes.json");
    let backups = read_json("backups.json");
    let mut out: Vec<Vec<u8>> = bundles["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| hex::decode(b["bundle"].as_str().unwrap()).unwrap())
        .collect();
    out.push(hex::decode(backups["blob"].as_str().unwrap()).unwrap());
    for m in envelopes["messages"].as_array().unwrap() {
        out.push(hex::decode(m["envelope"].as_str().unwrap()).unwrap());
        if let Some(state) = m.get("recipient_state") {
            out.push(hex::decode(state.as_str().unwrap()).unwrap());
        }
    }
    out.push(identity("alice", 1).to_secret_bytes().unwrap().to_vec());
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
    }

    #[test]
    fn edited_objects_never_panic(index in 0usize..64, edits in proptest::collection::vec(edit(), 1..4)) {
        let all = samples();
        let original = &all[index % all.len()];
        let data = apply(original.clone(), &edits);
        fuzz::parsers(&data);
        if data != *original && let Ok(b) = KeyBundle::from_bytes(&data) {
            // Only an edit that re-creates the original encoding can still verify.
            prop_assert_eq!(b.to_bytes(), original.as_slice());
        }
    }

    #[test]
    fn edited_envelopes_are_rejected(index in 0usize..8, edits in proptest::collection::vec(edit(), 1..3)) {
        let file = read_json("envelopes.json");
        let msgs: Vec<_> = file["messages"].as_array().unwrap().iter().filter(|m| m["to"] == "bob" && m["kind"] != "Session").collect();
        let original = hex::decode(msgs[index % msgs.len()]["envelope"].as_str().unwrap()).unwrap();
        let data = apply(original.clone(), &edits);
        let bob = identity("bob", 1);
        let result = SessionStore::new().open(&mut rng(1), &bob, &data, T0);
        if data == original {
            prop_assert!(result.is_ok());
        } else {
            let err = result.unwrap_err();
            prop_assert!(matches!(err, Error::Malformed | Error::Decrypt), "{:?}", err);
        }
    }
}
