//! v2 sessions between devices: set-up from any message, loss, reordering, replay,
//! the time window, confirmation, rekeying and the store encoding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::{MAX_MESSAGE_AGE, Opening, SessionStore};
use sealpost_core::v2::{REKEY_AGE, REKEY_MESSAGES};
use sealpost_core::{CLOCK_SKEW, Error};
use support::v2::*;
use support::*;

const NOW: u64 = T0 + 10;

#[test]
fn conversation_confirms_and_switches_to_kind_3() {
    let (mut a, mut b) = (alice_a(), bob());
    let m0 = a.seal(&b.bundle, b"hi", NOW);
    assert!(m0.new_session && m0.with_init);
    assert_eq!(m0.envelope.len(), 2048);
    let m1 = a.seal(&b.bundle, b"again", NOW);
    assert!(!m1.new_session && m1.with_init, "kind 2 until confirmed");
    assert_eq!(m1.session_id, m0.session_id);
    let Opening::Pending(p) = b.open(&m0.envelope, NOW).unwrap() else {
        panic!("first message must be a pending init")
    };
    assert_eq!(p.sender(), a.keys.user_id());
    assert_eq!(p.sender_device(), a.keys.device_id());
    assert_eq!(p.sender_identity(), &a.identity.public());
    assert!(b.store.is_empty(), "a pending init creates no state");
    let opened = b.store.accept(*p, true, NOW).unwrap();
    assert_eq!(&opened.payload[..], b"hi");
    assert!(opened.new_session && opened.trusted && opened.skipped.is_empty());
    // The second kind-2 message opens in the session now.
    let o1 = expect_message(b.open(&m1.envelope, NOW).unwrap());
    assert_eq!((&o1.payload[..], o1.counter), (&b"again"[..], 1));
    // Bob answers in the same session (kind 3); alice's session is confirmed.
    let r = b.seal(&a.bundle, b"hello", NOW);
    assert!(!r.new_session && !r.with_init);
    assert_eq!(r.session_id, m0.session_id);
    assert_eq!(r.envelope.len(), 512);
    assert_eq!(a.store.is_confirmed(&m0.session_id), Some(false));
    let o = expect_message(a.open(&r.envelope, NOW).unwrap());
    assert_eq!(&o.payload[..], b"hello");
    assert_eq!(o.sender_identity, b.identity.public());
    assert_eq!(a.store.is_confirmed(&m0.session_id), Some(true));
    let m2 = a.seal(&b.bundle, b"now short", NOW);
    assert!(!m2.with_init);
    assert_eq!(m2.envelope.len(), 512);
    assert_eq!(
        &b.recv(&m2.envelope, NOW).unwrap().payload[..],
        b"now short"
    );
}

#[test]
fn first_message_lost_second_sets_up_and_reports_the_gap() {
    let (mut a, mut b) = (alice_a(), bob());
    let m0 = a.seal(&b.bundle, b"zero", NOW);
    let m1 = a.seal(&b.bundle, b"one", NOW);
    let m2 = a.seal(&b.bundle, b"two", NOW);
    let o2 = b.recv(&m2.envelope, NOW).unwrap();
    assert!(o2.new_session);
    assert_eq!((o2.counter, o2.skipped.clone()), (2, vec![0, 1]));
    assert_eq!(b.store.missing(&m0.session_id), Some(vec![0, 1]));
    // The late ones still open (in the session, not as new inits), then replays fail.
    let o0 = b.recv(&m0.envelope, NOW).unwrap();
    assert!(!o0.new_session && o0.skipped.is_empty());
    assert_eq!(&o0.payload[..], b"zero");
    assert_eq!(b.store.missing(&m0.session_id), Some(vec![1]));
    assert_eq!(&b.recv(&m1.envelope, NOW).unwrap().payload[..], b"one");
    assert_eq!(b.store.missing(&m0.session_id), Some(vec![]));
    for m in [&m0, &m1, &m2] {
        assert_eq!(b.open(&m.envelope, NOW).unwrap_err(), Error::Replay);
    }
}

#[test]
fn reordering_and_replay_of_every_message() {
    let (mut a, mut b) = (alice_a(), bob());
    let sent: Vec<_> = (0..6)
        .map(|i| a.seal(&b.bundle, format!("m{i}").as_bytes(), NOW))
        .collect();
    for i in [3, 0, 5, 1, 4, 2] {
        let o = b.recv(&sent[i].envelope, NOW).unwrap();
        assert_eq!(o.payload.to_vec(), format!("m{i}").into_bytes());
        assert_eq!(o.counter, i as u64);
    }
    let state = b.state();
    for m in &sent {
        assert_eq!(b.open(&m.envelope, NOW).unwrap_err(), Error::Replay);
    }
    assert_eq!(b.state(), state, "failed opens change nothing");
    // Bob's replies, replayed to alice.
    let replies: Vec<_> = (0..3).map(|_| b.seal(&a.bundle, b"r", NOW)).collect();
    for r in replies.iter().rev() {
        a.recv(&r.envelope, NOW).unwrap();
    }
    for r in &replies {
        assert_eq!(a.open(&r.envelope, NOW).unwrap_err(), Error::Replay);
    }
}

#[test]
fn replay_after_the_session_was_dropped() {
    let (mut a, mut b) = (alice_a(), bob());
    let m0 = a.seal(&b.bundle, b"x", NOW);
    let m1 = a.seal(&b.bundle, b"y", NOW);
    b.recv(&m0.envelope, NOW).unwrap();
    b.store.forget_session(&m0.session_id);
    assert!(b.store.is_empty());
    assert!(b.store.remembers(&m0.session_id));
    // Both would set the session up again from their init block: refused.
    assert_eq!(b.open(&m0.envelope, NOW).unwrap_err(), Error::Replay);
    assert_eq!(b.open(&m1.envelope, NOW).unwrap_err(), Error::Replay);
    // The memory survives encoding and outlives pruning until the init expires...
    let mut back = SessionStore::from_secret_bytes(&b.state()).unwrap();
    let late = NOW + MAX_MESSAGE_AGE - 20;
    back.prune(late);
    assert!(back.remembers(&m0.session_id));
    b.store = back;
    assert_eq!(b.open(&m1.envelope, late).unwrap_err(), Error::Replay);
    // ...after which the init is outside the time window anyway.
    let after = NOW + MAX_MESSAGE_AGE + 1;
    b.store.prune(after);
    assert!(!b.store.remembers(&m0.session_id));
    assert_eq!(b.open(&m1.envelope, after).unwrap_err(), Error::Expired);
}

#[test]
fn time_window() {
    let (mut a, mut b) = (alice_a(), bob());
    let future = a.seal(&b.bundle, b"from the future", NOW + CLOCK_SKEW + 1);
    assert_eq!(b.open(&future.envelope, NOW).unwrap_err(), Error::Expired);
    assert!(b.store.is_empty());
    let mut a = alice_a();
    let old = a.seal(&b.bundle, b"old", NOW);
    assert_eq!(
        b.open(&old.envelope, NOW + MAX_MESSAGE_AGE + 1)
            .unwrap_err(),
        Error::Expired
    );
    // Exactly at the edges: accepted.
    b.recv(&old.envelope, NOW + MAX_MESSAGE_AGE).unwrap();
    let edge = a.seal(&b.bundle, b"edge", NOW + CLOCK_SKEW);
    b.recv(&edge.envelope, NOW).unwrap();
    // A message in an existing session with an old sent_at.
    let stale = a.seal(&b.bundle, b"stale", NOW);
    assert_eq!(
        b.open(&stale.envelope, NOW + MAX_MESSAGE_AGE + 1)
            .unwrap_err(),
        Error::Expired
    );
    // A pending init is re-checked on accept (the engine may have waited).
    let mut b2 = bob();
    let m = alice_a().seal(&b2.bundle, b"wait", NOW);
    let Opening::Pending(p) = b2.open(&m.envelope, NOW).unwrap() else {
        panic!()
    };
    assert_eq!(
        b2.store
            .accept(*p, true, NOW + MAX_MESSAGE_AGE + 1)
            .unwrap_err(),
        Error::Expired
    );
    assert!(b2.store.is_empty());
}

#[test]
fn init_at_is_checked_not_only_sent_at() {
    // A session started long ago and never confirmed: its later messages carry the
    // old init block; once init_at leaves the window they no longer set it up.
    let (mut a, mut b) = (alice_a(), bob());
    a.seal(&b.bundle, b"first", NOW);
    let later = NOW + REKEY_AGE - 1;
    let m = a.seal(&b.bundle, b"later", later);
    assert!(m.with_init && !m.new_session);
    let too_late = NOW + MAX_MESSAGE_AGE + 1;
    assert!(m.envelope.len() > 512 && later >= too_late - MAX_MESSAGE_AGE);
    assert_eq!(b.open(&m.envelope, too_late).unwrap_err(), Error::Expired);
    b.recv(&m.envelope, later).unwrap();
}

#[test]
fn two_devices_of_one_account_have_their_own_sessions() {
    let (mut a1, mut a2, mut b) = (alice_a(), alice_b(), bob());
    let x = a1.seal(&b.bundle, b"from A", NOW);
    let y = a2.seal(&b.bundle, b"from B", NOW);
    assert_ne!(x.session_id, y.session_id);
    assert_eq!((x.counter, y.counter), (0, 0));
    let ox = b.recv(&x.envelope, NOW).unwrap();
    let oy = b.recv(&y.envelope, NOW).unwrap();
    assert_eq!(
        (ox.sender, oy.sender),
        (*a1.keys.user_id(), *a2.keys.user_id())
    );
    assert_ne!(ox.sender_device, oy.sender_device);
    assert_eq!(b.store.len(), 2);
    // Bob answers each device in its own session; neither can open the other's copy.
    let to1 = b.seal(&a1.bundle, b"to A", NOW);
    let to2 = b.seal(&a2.bundle, b"to B", NOW);
    assert_eq!(a2.open(&to1.envelope, NOW).unwrap_err(), Error::Decrypt);
    assert_eq!(a1.open(&to2.envelope, NOW).unwrap_err(), Error::Decrypt);
    assert_eq!(&a1.recv(&to1.envelope, NOW).unwrap().payload[..], b"to A");
    assert_eq!(&a2.recv(&to2.envelope, NOW).unwrap().payload[..], b"to B");
    // Sync copy between alice's own devices.
    let sync = a1.seal(&a2.bundle, b"sync", NOW);
    let o = a2.recv(&sync.envelope, NOW).unwrap();
    assert_eq!(o.sender, *a1.keys.user_id());
    assert_eq!(o.sender_identity, a2.identity.public());
    // Sealing to oneself is refused.
    let own = a1.bundle.clone();
    let err = a1
        .store
        .seal(&mut rng(1), &a1.identity, &a1.keys, &own, b"me", NOW)
        .unwrap_err();
    assert_eq!(err, Error::Malformed);
}

#[test]
fn rekey_rules_per_device_pair() {
    let (mut a, mut b) = (alice_a(), bob());
    let first = a.seal(&b.bundle, b"0", NOW);
    // 7 days.
    let week = a.seal(&b.bundle, b"w", NOW + REKEY_AGE);
    assert!(week.new_session);
    // A newer bundle of the peer device.
    let newer = b.keys.bundle(&mut rng(3), &b.identity, NOW + 100).unwrap();
    let after_bundle = a.seal(&newer, b"n", NOW + REKEY_AGE + 1);
    assert!(after_bundle.new_session);
    assert!(a.store.len() <= 2, "two sessions per device pair");
    assert_eq!(a.store.session(&first.session_id), None);
    // 500 messages.
    let mut a = alice_a();
    let s = a.seal(&b.bundle, b"0", NOW);
    for _ in 1..REKEY_MESSAGES {
        assert_eq!(a.seal(&b.bundle, b".", NOW).session_id, s.session_id);
    }
    assert!(a.seal(&b.bundle, b".", NOW).new_session);
}

#[test]
fn store_encoding_round_trips_mid_conversation() {
    let (mut a, mut b) = (alice_a(), bob());
    let m0 = a.seal(&b.bundle, b"0", NOW);
    let m1 = a.seal(&b.bundle, b"1", NOW);
    let m2 = a.seal(&b.bundle, b"2", NOW);
    b.recv(&m2.envelope, NOW).unwrap();
    for d in [&mut a, &mut b] {
        let bytes = d.state();
        d.store = SessionStore::from_secret_bytes(&bytes).unwrap();
        assert_eq!(d.state(), bytes);
    }
    assert_eq!(a.store.is_confirmed(&m0.session_id), Some(false));
    let m3 = a.seal(&b.bundle, b"3", NOW);
    assert!(m3.with_init, "still unconfirmed after reload");
    b.recv(&m1.envelope, NOW).unwrap();
    b.recv(&m3.envelope, NOW).unwrap();
    assert_eq!(b.store.missing(&m0.session_id), Some(vec![0]));
    let bytes = b.state();
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        SessionStore::from_secret_bytes(&long).unwrap_err(),
        Error::Malformed
    );
    for len in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
        assert!(SessionStore::from_secret_bytes(&bytes[..len]).is_err());
    }
    let debug = format!("{:?}", b.store);
    assert!(debug.contains("sessions: 1"), "{debug}");
}

#[test]
fn forget_device_and_peer() {
    let (mut a1, mut a2, mut b) = (alice_a(), alice_b(), bob());
    let x = a1.seal(&b.bundle, b"x", NOW);
    let y = a2.seal(&b.bundle, b"y", NOW);
    b.recv(&x.envelope, NOW).unwrap();
    b.recv(&y.envelope, NOW).unwrap();
    b.store
        .forget_device(a1.keys.user_id(), a1.keys.device_id());
    assert_eq!(b.store.len(), 1);
    assert!(b.store.remembers(&x.session_id));
    b.store.forget_peer(a1.keys.user_id());
    assert!(b.store.is_empty());
    assert_eq!(b.open(&y.envelope, NOW).unwrap_err(), Error::Replay);
}
