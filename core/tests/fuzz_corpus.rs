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
