//! Criterion benchmarks for docs/BENCHMARKS.md: `cargo bench -p sealpost-core`.
//!
//! Protocol v2 (device to device), RSA-4096 (the default) throughout, except key
//! generation, which covers every size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealpost_core::backup::{BackupParams, MIN_ITERATIONS};
use sealpost_core::v2::{DeviceBundle, DeviceKeys, Opening, SessionStore, backup};
use sealpost_core::{IdentityKey, KeySize, Username, os_rng};

const NOW: u64 = 1_767_225_600;
const SIZES: [(usize, &str); 3] = [(64, "64B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

/// One device of a fresh account: identity key, device keys, its bundle.
struct Device {
    identity: IdentityKey,
    keys: DeviceKeys,
    bundle: DeviceBundle,
}

fn device(name: &str) -> Device {
    let mut rng = os_rng();
    let user = Username::parse(name).unwrap().user_id();
    let identity = IdentityKey::generate(&mut rng, KeySize::Rsa4096).unwrap();
    let mut keys = DeviceKeys::generate(&mut rng, &identity, user, KeySize::Rsa4096, NOW).unwrap();
    let bundle = keys.bundle(&mut rng, &identity, NOW).unwrap();
    Device {
        identity,
        keys,
        bundle,
    }
}

fn clone(store: &SessionStore) -> SessionStore {
    SessionStore::from_secret_bytes(&store.to_secret_bytes().unwrap()).unwrap()
}

impl Device {
    fn seal(&self, store: &mut SessionStore, to: &Device, payload: &[u8]) -> Vec<u8> {
        store
            .seal(
                &mut os_rng(),
                &self.identity,
                &self.keys,
                &to.bundle,
                payload,
                NOW,
            )
            .unwrap()
            .envelope
    }

    /// Opens, accepting a new session's init (what the engine does after its pin check).
    fn open(&self, store: &mut SessionStore, envelope: &[u8]) -> usize {
        match store
            .open(&mut os_rng(), &self.keys, envelope, NOW)
            .unwrap()
        {
            Opening::Message(m) => m.payload.len(),
            Opening::Pending(p) => store.accept(*p, true, NOW).unwrap().payload.len(),
        }
    }
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
    let alice = device("alice");
    let bob = device("bob");

    // The first message of a session: RSA-PSS signature and OAEP wrap to seal, OAEP
    // unwrap and verification (and `accept`) to open.
    let mut g = c.benchmark_group("first_message");
    g.sample_size(20);
    for (size, label) in SIZES {
        let text = vec![b'x'; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("seal", label), |b| {
            b.iter_batched(
                SessionStore::new,
                |mut store| alice.seal(&mut store, &bob, black_box(&text)),
                BatchSize::SmallInput,
            )
        });
        let env = alice.seal(&mut SessionStore::new(), &bob, &text);
        g.bench_function(BenchmarkId::new("open", label), |b| {
            b.iter_batched(
                SessionStore::new,
                |mut store| bob.open(&mut store, black_box(&env)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // A message in a confirmed session (the peer answered): symmetric ratchet only.
    let mut g = c.benchmark_group("session_message");
    for (size, label) in SIZES {
        let text = vec![b'x'; size];
        g.throughput(Throughput::Bytes(size as u64));
        let mut sender = SessionStore::new();
        let mut receiver = SessionStore::new();
        bob.open(&mut receiver, &alice.seal(&mut sender, &bob, b"hi"));
        alice.open(&mut sender, &bob.seal(&mut receiver, &alice, b"hi"));
        // Every iteration starts from the same state, so none crosses the re-key limit
        // (which would add RSA operations) or the receiver's skip window.
        g.bench_function(BenchmarkId::new("seal", label), |b| {
            b.iter_batched(
                || clone(&sender),
                |mut s| alice.seal(&mut s, &bob, black_box(&text)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new("open", label), |b| {
            b.iter_batched(
                || {
                    (
                        clone(&receiver),
                        alice.seal(&mut clone(&sender), &bob, &text),
                    )
                },
                |(mut r, env)| bob.open(&mut r, &env),
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
            backup::derive_keys(black_box("correct horse battery staple"), &id, &params).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, keygen, messages, backup);
criterion_main!(benches);
