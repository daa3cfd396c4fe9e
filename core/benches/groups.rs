//! Criterion benchmarks of group messages (PROTOCOL.md 27) for docs/BENCHMARKS.md:
//! `cargo bench -p sealpost-core --bench groups`.
//!
//! Sealing a group message costs the same for 2 or 1,000 members (one AES-256-GCM body,
//! one header box, one ECDSA P-256 signature); opening costs one header trial per held
//! chain before the matching one, one body and one ECDSA verification. Beside them: the
//! same payload sealed in an existing 1:1 session (what sending to each member device
//! one by one costs per device), and taking a sender key distribution.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::v2::DeviceId;
use sealpost_core::v2::group::{GroupSession, GroupState, Invitee, SenderKeyDistribution};
use sealpost_core::{IdentityKey, KeySize, Username};

const NOW: u64 = 1_767_225_600;

struct Setup {
    alice: IdentityKey,
    sender: GroupSession,
    state: GroupState,
}

fn setup() -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let alice = IdentityKey::generate(&mut rng, KeySize::Rsa2048).unwrap();
    let bob = IdentityKey::generate(&mut rng, KeySize::Rsa2048).unwrap();
    let members = vec![Invitee::new(bob_name(), bob.public().fingerprint())];
    let (mut sender, _) = GroupSession::create(
        &mut rng,
        &alice,
        &Username::parse("alice").unwrap(),
        DeviceId::from_bytes([1; 16]),
        "bench",
        members,
    )
    .unwrap();
    sender.sender_key(&mut rng).unwrap();
    let state = sender.state().clone();
    Setup {
        alice,
        sender,
        state,
    }
}

fn bob_name() -> Username {
    Username::parse("bob").unwrap()
}

fn receiver(s: &Setup, dist: &SenderKeyDistribution) -> GroupSession {
    let mut b = GroupSession::join(
        s.state.clone(),
        bob_name().user_id(),
        DeviceId::from_bytes([2; 16]),
    )
    .unwrap();
    b.add_chain(
        &Username::parse("alice").unwrap().user_id(),
        &DeviceId::from_bytes([1; 16]),
        &s.alice.public(),
        dist,
    )
    .unwrap();
    b
}

fn group_message(c: &mut Criterion) {
    let mut s = setup();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let payload = vec![7u8; 256];
    let mut g = c.benchmark_group("group_message");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    g.bench_function("seal/256B", |b| {
        b.iter(|| black_box(s.sender.seal(&mut rng, &payload, NOW).unwrap()))
    });
    // The distribution at the sender's current position, then the message at it.
    let dist = s.sender.sender_key(&mut rng).unwrap();
    let blob = s.sender.seal(&mut rng, &payload, NOW).unwrap();
    g.bench_function("open/256B", |b| {
        b.iter_batched(
            || receiver(&s, &dist),
            |mut r| black_box(r.open(&blob, NOW).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("take_distribution", |b| {
        b.iter_batched(
            || {
                GroupSession::join(
                    s.state.clone(),
                    bob_name().user_id(),
                    DeviceId::from_bytes([2; 16]),
                )
                .unwrap()
            },
            |mut r| {
                r.add_chain(
                    &Username::parse("alice").unwrap().user_id(),
                    &DeviceId::from_bytes([1; 16]),
                    &s.alice.public(),
                    &dist,
                )
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, group_message);
criterion_main!(benches);
