//! Behaviour of sealing and opening: round trips, tampering, misaddressing, replay,
//! reordering, re-keying and key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::{
    Error, Identity, KeyBundle, MAX_SKIP, MessageKind, REKEY_MESSAGES, RETAIN_AFTER_EXPIRY,
    SessionStore, UserId, seal,
};
use support::*;

struct Party {
    me: Identity,
    store: SessionStore,
    bundle: KeyBundle,
}

fn party(name: &str, seed: u64) -> Party {
    let mut me = identity(name, seed);
    let bundle = me.bundle(&mut rng(seed + 1000), T0).unwrap();
    Party {
        me,
        store: SessionStore::new(),
        bundle,
    }
}

fn send(
    r: &mut impl rand_chacha::rand_core::CryptoRng,
    from: &mut Party,
    to: &KeyBundle,
    text: &str,
) -> Vec<u8> {
    from.store
        .seal(r, &from.me, to, 0, text.as_bytes(), T0)
        .unwrap()
        .envelope
}

fn recv(
    r: &mut impl rand_chacha::rand_core::CryptoRng,
    to: &mut Party,
    env: &[u8],
) -> Result<String, Error> {
    to.store
        .open(r, &to.me, env, T0)
        .map(|o| String::from_utf8(o.content).unwrap())
}

#[test]
fn conversation_round_trip_both_ways() {
    let mut r = rng(1);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    for i in 0..5 {
        let bob_bundle = bob.bundle.clone();
        let env = alice
            .store
            .seal(
                &mut r,
                &alice.me,
                &bob_bundle,
                0,
                format!("a{i}").as_bytes(),
                T0,
            )
            .unwrap();
        assert_eq!(env.new_session, i == 0);
        let opened = bob.store.open(&mut r, &bob.me, &env.envelope, T0).unwrap();
        assert_eq!(opened.content, format!("a{i}").as_bytes());
        assert_eq!(
            opened.kind,
            if i == 0 {
                MessageKind::SessionInit
            } else {
                MessageKind::Session
            }
        );
        assert_eq!(opened.sender_identity, alice.me.identity_key().public());
        assert_eq!(opened.message_id, env.message_id);
        let alice_bundle = alice.bundle.clone();
        let reply = bob
            .store
            .seal(&mut r, &bob.me, &alice_bundle, 1, &[i as u8; 3], T0)
            .unwrap();
        assert!(!reply.new_session, "bob replies inside alice's session");
        let opened = alice
            .store
            .open(&mut r, &alice.me, &reply.envelope, T0)
            .unwrap();
        assert_eq!((opened.content_type, opened.content), (1, vec![i as u8; 3]));
    }
}

#[test]
fn sizes_are_buckets_and_hide_length() {
    let mut r = rng(2);
    let (mut alice, bob) = (party("alice", 1), party("bob", 2));
    send(&mut r, &mut alice, &bob.bundle, "init");
    let lens: Vec<usize> = ["a", "hello there", &"x".repeat(200)]
        .iter()
        .map(|t| send(&mut r, &mut alice, &bob.bundle, t).len())
        .collect();
    assert_eq!(lens, vec![512, 512, 512]);
    let big = send(&mut r, &mut alice, &bob.bundle, &"y".repeat(64 * 1024));
    assert_eq!(big.len(), 128 * 1024);
    let too_big = "z".repeat(1024 * 1024);
    assert_eq!(
        alice
            .store
            .seal(&mut r, &alice.me, &bob.bundle, 0, too_big.as_bytes(), T0)
            .unwrap_err(),
        Error::TooLarge
    );
}

/// Flips every bit of `env`, one at a time, and requires a clean rejection that leaves
/// the receiver's state untouched. The flips are spread over threads, each with its own
/// copy of the receiver (a set-up envelope costs one RSA decryption per flip).
fn assert_every_flip_rejected(receiver: &mut Party, env: &[u8]) {
    let state = receiver.store.to_secret_bytes().unwrap();
    let me = receiver.me.to_secret_bytes().unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let positions = env.len() * 8;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (state, me) = (&state, &me);
            scope.spawn(move || {
                let me = Identity::from_secret_bytes(me).unwrap();
                let mut store = SessionStore::from_secret_bytes(state).unwrap();
                let mut r = rng(3 + t as u64);
                for p in (t..positions).step_by(threads) {
                    let (i, bit) = (p / 8, p % 8);
                    let mut bad = env.to_vec();
                    bad[i] ^= 1 << bit;
                    assert!(
                        store.open(&mut r, &me, &bad, T0).is_err(),
                        "flip of bit {bit} at byte {i} accepted"
                    );
                }
                assert_eq!(
                    *store.to_secret_bytes().unwrap(),
                    **state,
                    "failed opens changed state"
                );
            });
        }
    });
    let mut r = rng(3);
    for cut in [0, 1, 33, env.len() / 2, env.len() - 1] {
        // Half an envelope is itself a bucket size: it frames, then fails to open.
        let expected = if sealpost_core::padding::is_bucket(cut) {
            Error::Decrypt
        } else {
            Error::Malformed
        };
        assert_eq!(recv(&mut r, receiver, &env[..cut]).unwrap_err(), expected);
    }
    let mut longer = env.to_vec();
    longer.push(0);
    assert_eq!(
        recv(&mut r, receiver, &longer).unwrap_err(),
        Error::Malformed
    );
    assert!(
        recv(&mut r, receiver, env).is_ok(),
        "the untouched envelope still opens"
    );
}

#[test]
fn every_bit_flip_of_a_session_message_is_rejected() {
    let mut r = rng(4);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let init = send(&mut r, &mut alice, &bob.bundle, "init");
    recv(&mut r, &mut bob, &init).unwrap();
    let env = send(&mut r, &mut alice, &bob.bundle, "ratchet message");
    assert_every_flip_rejected(&mut bob, &env);
}

#[test]
fn every_bit_flip_of_a_session_init_is_rejected() {
    let mut r = rng(5);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let init = send(&mut r, &mut alice, &bob.bundle, "init");
    assert_every_flip_rejected(&mut bob, &init);
}

#[test]
fn wrong_recipient_and_readdressing_are_rejected() {
    let mut r = rng(6);
    let (mut alice, mut bob, mut carol) = (party("alice", 1), party("bob", 2), party("carol", 3));
    let init = send(&mut r, &mut alice, &bob.bundle, "for bob");
    assert_eq!(recv(&mut r, &mut carol, &init).unwrap_err(), Error::Decrypt);
    // Re-address to carol: her mailbox, her id in the prefix.
    let mut readdressed = init.clone();
    readdressed[1..33].copy_from_slice(carol.me.user_id().as_bytes());
    assert_eq!(
        recv(&mut r, &mut carol, &readdressed).unwrap_err(),
        Error::Decrypt
    );
    recv(&mut r, &mut bob, &init).unwrap();
    let msg = send(&mut r, &mut alice, &bob.bundle, "session for bob");
    let mut readdressed = msg.clone();
    readdressed[1..33].copy_from_slice(carol.me.user_id().as_bytes());
    assert_eq!(
        recv(&mut r, &mut carol, &readdressed).unwrap_err(),
        Error::Decrypt
    );
    assert_eq!(recv(&mut r, &mut carol, &msg).unwrap_err(), Error::Decrypt);
    assert_eq!(recv(&mut r, &mut bob, &msg).unwrap(), "session for bob");
}

#[test]
fn replays_are_rejected_and_reordering_within_the_window_works() {
    let mut r = rng(7);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let init = send(&mut r, &mut alice, &bob.bundle, "0");
    let msgs: Vec<Vec<u8>> = (1..=5)
        .map(|i| send(&mut r, &mut alice, &bob.bundle, &i.to_string()))
        .collect();
    recv(&mut r, &mut bob, &init).unwrap();
    assert_eq!(recv(&mut r, &mut bob, &init).unwrap_err(), Error::Replay);
    for i in [4, 1, 0, 3, 2] {
        assert_eq!(
            recv(&mut r, &mut bob, &msgs[i]).unwrap(),
            (i + 1).to_string()
        );
        assert_eq!(recv(&mut r, &mut bob, &msgs[i]).unwrap_err(), Error::Replay);
    }
    // A jump past the skip window is refused and changes nothing.
    let far: Vec<Vec<u8>> = (0..MAX_SKIP + 2)
        .map(|i| send(&mut r, &mut alice, &bob.bundle, &format!("f{i}")))
        .collect();
    assert_eq!(
        recv(&mut r, &mut bob, far.last().unwrap()).unwrap_err(),
        Error::Decrypt
    );
    assert_eq!(recv(&mut r, &mut bob, &far[0]).unwrap(), "f0");
}

#[test]
fn stolen_state_does_not_open_earlier_messages() {
    let mut r = rng(8);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let init = send(&mut r, &mut alice, &bob.bundle, "0");
    let early = send(&mut r, &mut alice, &bob.bundle, "early");
    recv(&mut r, &mut bob, &init).unwrap();
    recv(&mut r, &mut bob, &early).unwrap();
    let stolen = SessionStore::from_secret_bytes(&bob.store.to_secret_bytes().unwrap()).unwrap();
    let mut thief = Party {
        me: identity("bob", 2),
        store: stolen,
        bundle: bob.bundle.clone(),
    };
    assert!(recv(&mut r, &mut thief, &early).is_err());
    let later = send(&mut r, &mut alice, &bob.bundle, "later");
    assert_eq!(
        recv(&mut r, &mut thief, &later).unwrap(),
        "later",
        "state is meant to open future messages"
    );
}

#[test]
fn sessions_rekey_after_the_message_limit() {
    let mut r = rng(9);
    let (mut alice, bob) = (party("alice", 1), party("bob", 2));
    let mut new_sessions = 0;
    for _ in 0..=REKEY_MESSAGES + 1 {
        let s = alice
            .store
            .seal(&mut r, &alice.me, &bob.bundle, 0, b"x", T0)
            .unwrap();
        new_sessions += usize::from(s.new_session);
    }
    assert_eq!(new_sessions, 2);
}

#[test]
fn rotation_rekeys_and_expired_keys_are_deleted() {
    let mut r = rng(10);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let old_init = send(&mut r, &mut alice, &bob.bundle, "under the first key");
    recv(&mut r, &mut bob, &old_init).unwrap();
    let later = T0 + 3600;
    bob.me.rotate_encryption_key(&mut r, later).unwrap();
    let new_bundle = bob.me.bundle(&mut r, later).unwrap();
    assert!(new_bundle.issued_at() > bob.bundle.issued_at());
    bob.bundle.check_update(&new_bundle).unwrap();
    assert_eq!(
        new_bundle.check_update(&bob.bundle).unwrap_err(),
        Error::Stale
    );
    let s = alice
        .store
        .seal(&mut r, &alice.me, &new_bundle, 0, b"after rotation", later)
        .unwrap();
    assert!(
        s.new_session,
        "a rotated recipient key starts a new session"
    );
    assert_eq!(
        bob.store
            .open(&mut r, &bob.me, &s.envelope, later)
            .unwrap()
            .content,
        b"after rotation"
    );

    // An envelope wrapped to the first key, opened after it expired and was pruned.
    let mut fresh_alice = SessionStore::new();
    let stale = fresh_alice
        .seal(&mut r, &alice.me, &bob.bundle, 0, b"late", T0)
        .unwrap()
        .envelope;
    let far_future = T0 + sealpost_core::ENCRYPTION_KEY_LIFETIME + RETAIN_AFTER_EXPIRY + 1;
    bob.me.prune(far_future);
    assert_eq!(
        bob.store
            .open(&mut r, &bob.me, &stale, far_future)
            .unwrap_err(),
        Error::Decrypt
    );
}

#[test]
fn changed_identity_key_starts_a_new_session_and_is_visible() {
    let mut r = rng(11);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let e = send(&mut r, &mut alice, &bob.bundle, "hi");
    recv(&mut r, &mut bob, &e).unwrap();
    // A bundle with another identity key for the contact (here Carol's whole bundle):
    // a new identity key never reuses an old session.
    let mut impostor = identity("carol", 3);
    let impostor_id: UserId = *impostor.user_id();
    assert_ne!(impostor_id, *bob.me.user_id());
    let fake = impostor.bundle(&mut r, T0).unwrap();
    let s = alice
        .store
        .seal(&mut r, &alice.me, &fake, 0, b"x", T0)
        .unwrap();
    assert!(s.new_session);
    assert_eq!(s.recipient, impostor_id);
}

#[test]
fn a_forged_sender_shows_the_forgers_key() {
    // Carol signs with her own keys but claims Alice's user id: the opened message names
    // Alice as sender and Carol's identity key, which the app compares with the key it
    // has for Alice (and so rejects).
    let mut r = rng(12);
    let mut bob = party("bob", 2);
    let carol = identity("carol", 3);
    let carol_keys = |k: &sealpost_core::Identity| k.to_secret_bytes().unwrap();
    let forger = {
        // Rebuild Carol's keys under Alice's id through the public secret format.
        let mut bytes = carol_keys(&carol).to_vec();
        bytes[2..34].copy_from_slice(user_id("alice").as_bytes());
        Identity::from_secret_bytes(&bytes)
    };
    // The encryption-key signatures bind the user id, so the forgery cannot even load...
    assert!(forger.is_err());
    // ...but a forger can sign fresh ones: from_keys over Carol's private keys.
    let forger = identity_with_id("carol", "alice", 3);
    let env = seal(&mut r, &forger, &[&bob.bundle], 0, b"from 'alice'", T0)
        .unwrap()
        .remove(0)
        .envelope;
    let opened = bob.store.open(&mut r, &bob.me, &env, T0).unwrap();
    assert_eq!(opened.sender, user_id("alice"));
    assert_eq!(opened.sender_identity, carol.identity_key().public());
    assert_ne!(
        opened.sender_identity,
        identity("alice", 1).identity_key().public()
    );
}

#[test]
fn multi_recipient_envelopes_share_one_body() {
    let mut r = rng(13);
    let (alice, mut bob, mut carol) = (party("alice", 1), party("bob", 2), party("carol", 3));
    let out = seal(
        &mut r,
        &alice.me,
        &[&bob.bundle, &carol.bundle],
        0,
        b"group hello",
        T0,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    let everyone = vec![*bob.me.user_id(), *carol.me.user_id()];
    for (sealed, p) in out.iter().zip([&mut bob, &mut carol]) {
        assert_eq!(&sealed.recipient, p.me.user_id());
        let opened = p.store.open(&mut r, &p.me, &sealed.envelope, T0).unwrap();
        assert_eq!(opened.message_id, sealed.message_id);
        assert_eq!(opened.recipients, everyone);
        assert_eq!(opened.content, b"group hello");
    }
    // Bob cannot pass his copy to Carol as if it were hers.
    assert!(
        carol
            .store
            .open(&mut r, &carol.me, &out[0].envelope, T0)
            .is_err()
    );
    let none: [&KeyBundle; 0] = [];
    assert_eq!(
        seal(&mut r, &alice.me, &none, 0, b"x", T0).unwrap_err(),
        Error::TooLarge
    );
    assert_eq!(
        seal(&mut r, &alice.me, &[&bob.bundle], 0, &[0xff, 0xfe], T0).unwrap_err(),
        Error::Malformed
    );
}

#[test]
fn state_survives_serialization() {
    let mut r = rng(14);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let e = send(&mut r, &mut alice, &bob.bundle, "one");
    recv(&mut r, &mut bob, &e).unwrap();
    let skipped = send(&mut r, &mut alice, &bob.bundle, "skipped");
    let e = send(&mut r, &mut alice, &bob.bundle, "three");
    recv(&mut r, &mut bob, &e).unwrap();
    alice.store = SessionStore::from_secret_bytes(&alice.store.to_secret_bytes().unwrap()).unwrap();
    bob.store = SessionStore::from_secret_bytes(&bob.store.to_secret_bytes().unwrap()).unwrap();
    bob.me = Identity::from_secret_bytes(&bob.me.to_secret_bytes().unwrap()).unwrap();
    assert_eq!(recv(&mut r, &mut bob, &skipped).unwrap(), "skipped");
    let env = send(&mut r, &mut alice, &bob.bundle, "four");
    assert_eq!(recv(&mut r, &mut bob, &env).unwrap(), "four");
}

#[test]
fn invalid_text_is_refused_before_the_chain_moves() {
    let mut r = rng(15);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let e = send(&mut r, &mut alice, &bob.bundle, "init");
    recv(&mut r, &mut bob, &e).unwrap();
    let bad = alice
        .store
        .seal(&mut r, &alice.me, &bob.bundle, 0, &[0xc3, 0x28], T0);
    assert_eq!(bad.unwrap_err(), Error::Malformed);
    let e = send(&mut r, &mut alice, &bob.bundle, "still in step");
    assert_eq!(recv(&mut r, &mut bob, &e).unwrap(), "still in step");
}

#[test]
fn a_sender_with_a_slow_clock_can_write_to_a_new_key() {
    let mut r = rng(16);
    let (alice, mut bob) = (party("alice", 1), party("bob", 2));
    let later = T0 + 86_400;
    bob.me.rotate_encryption_key(&mut r, later).unwrap();
    let bundle = bob.me.bundle(&mut r, later).unwrap();
    let lagging = later - 600;
    let newest = bundle
        .encryption_keys()
        .iter()
        .max_by_key(|k| k.not_before())
        .unwrap();
    assert_eq!(
        bundle.current_encryption_key(lagging).unwrap(),
        newest.key()
    );
    let mut store = SessionStore::new();
    let sealed = store
        .seal(&mut r, &alice.me, &bundle, 0, b"hi", lagging)
        .unwrap();
    assert_eq!(
        bob.store
            .open(&mut r, &bob.me, &sealed.envelope, later)
            .unwrap()
            .content,
        b"hi"
    );
}

#[test]
fn many_rotations_still_reload() {
    let mut r = rng(17);
    let mut bob = identity("bob", 2);
    for day in 1..=12 {
        bob.rotate_encryption_key(&mut r, T0 + day * 3600).unwrap();
    }
    let restored = Identity::from_secret_bytes(&bob.to_secret_bytes().unwrap()).unwrap();
    assert_eq!(
        restored.identity_key().public(),
        bob.identity_key().public()
    );
    assert!(bob.bundle(&mut r, T0 + 13 * 3600).is_ok());
}

#[test]
fn a_session_can_be_forgotten_after_a_failed_key_check() {
    let mut r = rng(18);
    let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
    let init = alice
        .store
        .seal(&mut r, &alice.me, &bob.bundle, 0, b"x", T0)
        .unwrap();
    let opened = bob.store.open(&mut r, &bob.me, &init.envelope, T0).unwrap();
    bob.store.forget_session(&opened.session_id);
    assert!(bob.store.is_empty());
    assert_eq!(
        recv(&mut r, &mut bob, &init.envelope).unwrap_err(),
        Error::Replay
    );
    let next = send(&mut r, &mut alice, &bob.bundle, "y");
    assert_eq!(recv(&mut r, &mut bob, &next).unwrap_err(), Error::Decrypt);
}

#[test]
fn a_newer_peer_bundle_retires_sessions_in_both_roles() {
    // Bob logs in on a fresh device (no session state) and re-publishes his bundle:
    // Alice's next message must start a session that the new device can open, whether
    // Alice or Bob started the old one.
    for alice_started in [true, false] {
        let mut r = rng(19);
        let (mut alice, mut bob) = (party("alice", 1), party("bob", 2));
        if alice_started {
            let e = send(&mut r, &mut alice, &bob.bundle, "hi");
            recv(&mut r, &mut bob, &e).unwrap();
        } else {
            let alice_bundle = alice.bundle.clone();
            let e = send(&mut r, &mut bob, &alice_bundle, "hi");
            recv(&mut r, &mut alice, &e).unwrap();
        }
        let e = send(&mut r, &mut alice, &bob.bundle, "same session");
        assert!(recv(&mut r, &mut bob, &e).is_ok());

        let mut new_device = Party {
            me: Identity::from_secret_bytes(&bob.me.to_secret_bytes().unwrap()).unwrap(),
            store: SessionStore::new(),
            bundle: bob.bundle.clone(),
        };
        new_device.bundle = new_device.me.bundle(&mut r, T0 + 60).unwrap();
        assert!(new_device.bundle.issued_at() > bob.bundle.issued_at());
        let s = alice
            .store
            .seal(
                &mut r,
                &alice.me,
                &new_device.bundle,
                0,
                b"to the new device",
                T0 + 61,
            )
            .unwrap();
        assert!(s.new_session, "alice_started = {alice_started}");
        let opened = new_device
            .store
            .open(&mut r, &new_device.me, &s.envelope, T0 + 61)
            .unwrap();
        assert_eq!(opened.content, b"to the new device");
    }
}
