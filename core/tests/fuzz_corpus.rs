//! Replays the checked-in cargo-fuzz corpora (`fuzz/corpus/<target>/*`) through the same
//! entry points the fuzz targets use, so every crash a fuzzer once found stays fixed.
//! Add a crashing input by copying it into the target's corpus directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use std::path::PathBuf;

use sealpost_core::fuzz;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn parsers_corpus() {
    for (_, data) in corpus("parsers") {
        fuzz::parsers(&data);
    }
}

#[test]
fn open_envelope_v2_corpus() {
    let bob = support::v2::bob();
    let mut rng = support::rng(1);
    for (_, data) in corpus("open_envelope_v2") {
        let mut store = sealpost_core::v2::SessionStore::new();
        fuzz::open_envelope_v2(&mut rng, &bob.keys, &mut store, &data);
    }
}

#[test]
fn device_keys_corpus() {
    let alice = support::identity_key("alice").public();
    for (_, data) in corpus("device_keys") {
        fuzz::device_secrets(&alice, &data);
    }
}

#[test]
fn decrypt_file_corpus() {
    for (_, data) in corpus("decrypt_file") {
        fuzz::decrypt_file(&data);
    }
}

#[test]
fn open_group_message_corpus() {
    let alice = support::identity_key("alice").public();
    for (_, data) in corpus("open_group_message") {
        fuzz::open_group_message(&alice, &data);
    }
}

/// The corpus holds a message that really opens at the fuzz target's receiver, so the
/// fuzzer starts past the header and body boxes: sealed by the fixture chain's device
/// (its session loaded from bytes with the chain's keys and the signing scalar 1).
/// Regenerated with `SEALPOST_REGENERATE_VECTORS=1`.
#[test]
fn open_group_message_corpus_has_a_real_message() {
    use sealpost_core::v2::group::GroupSession;
    let alice = support::identity_key("alice").public();
    let (state, _) = fuzz::group_fixture(&alice).unwrap();
    let mut own = b"g\x01".to_vec();
    own.extend_from_slice(&[1; 32]);
    own.extend_from_slice(&[1; 16]);
    let state = state.to_bytes().unwrap();
    own.extend_from_slice(&(state.len() as u32).to_be_bytes());
    own.extend_from_slice(&state);
    own.push(1);
    own.extend_from_slice(&[3; 16]);
    own.extend_from_slice(&1u64.to_be_bytes());
    own.extend_from_slice(&[4; 32]);
    own.extend_from_slice(&[5; 32]);
    own.extend_from_slice(&0u64.to_be_bytes());
    let mut scalar = [0u8; 32];
    scalar[31] = 1;
    own.extend_from_slice(&scalar);
    own.extend_from_slice(&[0, 0, 0, 0]);
    let mut sender = GroupSession::from_secret_bytes(&own).unwrap();
    let blob = sender
        .seal(&mut support::rng(9), b"fuzz me", support::T0)
        .unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/open_group_message/message-counter-0");
    if support::regenerate() {
        std::fs::write(&path, &blob).unwrap();
    }
    assert_eq!(std::fs::read(&path).unwrap(), blob);
    let mut receiver = fuzz::group_receiver(&alice).unwrap();
    assert_eq!(
        &receiver.open(&blob, support::T0).unwrap().payload[..],
        b"fuzz me"
    );
}
