//! Criterion benchmarks for docs/BENCHMARKS.md: `cargo bench -p sealpost-core`.
//!
//! RSA-4096 (the default) throughout, except key generation, which covers every size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealpost_core::backup::{BackupKeys, BackupParams, MIN_ITERATIONS};
use sealpost_core::{Identity, IdentityKey, KeyBundle, KeySize, SessionStore, Username, os_rng};

const NOW: u64 = 1_767_225_600;
const SIZES: [(usize, &str); 3] = [(64, "64B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

fn person(name: &str) -> (Identity, KeyBundle) {
    let mut rng = os_rng();
    let id = Username::parse(name).unwrap().user_id();
    let mut me = Identity::generate(&mut rng, id, KeySize::Rsa4096, NOW, &mut |_, _| {}).unwrap();
    let bundle = me.bundle(&mut rng, NOW).unwrap();
    (me, bundle)
}

fn clone(store: &SessionStore) -> SessionStore {
    SessionStore::from_secret_bytes(&store.to_secret_bytes().unwrap()).unwrap()
}

fn keygen(c: &mut Criterion) {
    let mut g = c.benchmark_group("keygen");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for size in [KeySize::Rsa2048, KeySize::Rsa3072, KeySize::Rsa4096] {
        g.bench_function(BenchmarkId::from_parameter(size.bits()), |b| {
            b.iter(|| IdentityKey::generate(&mut os_rng(), size).unwrap())
        });
    }
    g.finish();
}

fn messages(c: &mut Criterion) {
    let (alice, _) = person("alice");
    let (bob, bob_bundle) = person("bob");
    let mut rng = os_rng();

    let mut g = c.benchmark_group("first_message");
    g.sample_size(20);
    for (size, label) in SIZES {
        let text = vec![b'x'; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("seal", label), |b| {
            b.iter_batched(
                SessionStore::new,
                |mut store| {
                    store
                        .seal(&mut os_rng(), &alice, &bob_bundle, 1, black_box(&text), NOW)
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        let env = SessionStore::new()
            .seal(&mut rng, &alice, &bob_bundle, 1, &text, NOW)
            .unwrap()
            .envelope;
        g.bench_function(BenchmarkId::new("open", label), |b| {
            b.iter_batched(
                SessionStore::new,
                |mut store| {
                    store
                        .open(&mut os_rng(), &bob, black_box(&env), NOW)
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("session_message");
    for (size, label) in SIZES {
        let text = vec![b'x'; size];
        g.throughput(Throughput::Bytes(size as u64));
        let mut sender = SessionStore::new();
        let mut receiver = SessionStore::new();
        let init = sender
            .seal(&mut rng, &alice, &bob_bundle, 1, b"hi", NOW)
            .unwrap()
            .envelope;
        receiver.open(&mut rng, &bob, &init, NOW).unwrap();
        // Every iteration starts from the same state, so none crosses the re-key limit
        // (which would add an RSA operation) or the receiver's skip window.
        g.bench_function(BenchmarkId::new("seal", label), |b| {
            b.iter_batched(
                || clone(&sender),
                |mut s| {
                    s.seal(&mut os_rng(), &alice, &bob_bundle, 1, black_box(&text), NOW)
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new("open", label), |b| {
            b.iter_batched(
                || {
                    let env = clone(&sender)
                        .seal(&mut os_rng(), &alice, &bob_bundle, 1, &text, NOW)
                        .unwrap()
                        .envelope;
                    (clone(&receiver), env)
                },
                |(mut r, env)| r.open(&mut os_rng(), &bob, &env, NOW).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn backup(c: &mut Criterion) {
    let mut g = c.benchmark_group("backup");
    g.sample_size(10);
    let params = BackupParams::generate(&mut os_rng(), MIN_ITERATIONS).unwrap();
    let id = Username::parse("alice").unwrap().user_id();
    g.bench_function("derive_pbkdf2_600k", |b| {
        b.iter(|| {
            BackupKeys::derive(black_box("correct horse battery staple"), &id, &params).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, keygen, messages, backup);
criterion_main!(benches);
