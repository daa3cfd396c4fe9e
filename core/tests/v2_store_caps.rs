//! Strangers flooding a device with real (RSA) inits and junk: trusted sessions and
//! the trusted replay memory survive. Higher counts without RSA: src/v2/store_tests.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::{DeviceId, DeviceKeys, MAX_UNTRUSTED_SESSIONS, Opening};
use sealpost_core::{Error, UserId};
use support::v2::*;
use support::*;

const NOW: u64 = T0 + 10;

#[test]
fn flood_of_strangers_and_junk() {
    let (mut a1, mut a2, mut b) = (alice_a(), alice_b(), bob());
    let x = a1.seal(&b.bundle, b"x", NOW);
    b.recv(&x.envelope, NOW).unwrap();
    let y = a2.seal(&b.bundle, b"y", NOW);
    b.recv(&y.envelope, NOW).unwrap();
    // One dropped trusted session in replay memory (from an earlier install of A).
    let mut a1_old = alice_a();
    let dropped = a1_old.seal_rng(
        &b.keys.bundle(&mut rng(1), &b.identity, NOW).unwrap(),
        b"z",
        NOW,
        7,
    );
    b.recv(&dropped.envelope, NOW).unwrap();
    b.store.forget_session(&dropped.session_id);
    assert_eq!(b.store.replay_memory_len(), (1, 0));
    // 320 strangers (one RSA key, many user ids and devices), every init accepted as
    // a message request: more than the untrusted cap and its replay memory.
    let carol = identity_key("carol");
    for n in 0u32..320 {
        let claimed = UserId::from_bytes([n as u8; 32]);
        let device = DeviceId::from_bytes([(n >> 8) as u8; 16]);
        let keys = DeviceKeys::from_key(
            &mut rng(u64::from(n)),
            &carol,
            claimed,
            device,
            device_key("carol"),
            T0,
        )
        .unwrap();
        let mut store = sealpost_core::v2::SessionStore::new();
        let e = store
            .seal(
                &mut rng(5000 + u64::from(n)),
                &carol,
                &keys,
                &b.bundle,
                b"hi",
                NOW,
            )
            .unwrap();
        match b.open(&e.envelope, NOW).unwrap() {
            Opening::Pending(p) => {
                b.store.accept(*p, false, NOW).unwrap();
            }
            Opening::Message(_) => panic!("a stranger's init opened in a session"),
        }
    }
    let sessions = b.store.sessions();
    assert_eq!(
        sessions.iter().filter(|s| !s.trusted).count(),
        MAX_UNTRUSTED_SESSIONS
    );
    assert_eq!(sessions.iter().filter(|s| s.trusted).count(), 2);
    assert_eq!(b.store.replay_memory_len(), (1, 256));
    assert_eq!(b.open(&dropped.envelope, NOW).unwrap_err(), Error::Replay);
    // Junk in bob's mailbox: fails, changes nothing.
    let state = b.state();
    let prefix = &x.envelope[..49];
    for n in 0..256u32 {
        let mut junk = prefix.to_vec();
        junk.extend((0..2048 - 49).map(|i| (i as u32 ^ n.wrapping_mul(2654435761)) as u8));
        assert_eq!(b.open(&junk, NOW).unwrap_err(), Error::Decrypt);
    }
    assert_eq!(b.state(), state);
    // The genuine sessions still work both ways.
    let m = a1.seal(&b.bundle, b"still", NOW);
    assert_eq!(&b.recv(&m.envelope, NOW).unwrap().payload[..], b"still");
    let r = b.seal(&a2.bundle, b"fine", NOW);
    assert_eq!(&a2.recv(&r.envelope, NOW).unwrap().payload[..], b"fine");
}
