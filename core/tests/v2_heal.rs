//! Attributed open failures and fresh sessions (what the engine heals sessions with),
//! as attacks: a relay that alters bodies, replays, or forges; a stranger's init. The
//! coarse error never changes; the session is named only when the sender is
//! authenticated, and nothing is stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Error;
use sealpost_core::v2::MAX_SKIP;
use sealpost_core::v2::{OpenFailure, Opening, PREFIX_LEN, SessionId, SessionStore};
use support::v2::*;
use support::*;

const NOW: u64 = T0 + 10;
/// The first byte of a kind-3 message's body box (prefix and header box before it).
const BODY_AT: usize = PREFIX_LEN + 116;

fn open_attributed(d: &mut Dev, envelope: &[u8], now: u64) -> Result<Opening, OpenFailure> {
    d.store.open_attributed(&mut rng(9), &d.keys, envelope, now)
}

/// Alice/A and bob with one confirmed session (alice initiated, bob answered).
fn established() -> (Dev, Dev, SessionId) {
    let (mut a, mut b) = (alice_a(), bob());
    let m0 = a.seal(&b.bundle, b"hi", NOW);
    b.recv(&m0.envelope, NOW).unwrap();
    let r = b.seal(&a.bundle, b"hello", NOW);
    a.recv(&r.envelope, NOW).unwrap();
    (a, b, m0.session_id)
}

/// The sender's stored state with its send chain key altered (one session): a chain
/// out of sync, so its next message's header opens at the receiver and its body not.
fn desync_send_chain(store: &SessionStore) -> SessionStore {
    let mut b = store.to_secret_bytes().unwrap().to_vec();
    assert_eq!(&b[2..6], &1u32.to_be_bytes(), "one session");
    let mut at = 2 + 4 + 16 + 32 + 16;
    let spki = usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
    at += 2 + spki + 4 * 8 + 1;
    let init = usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
    at += 2 + init;
    b[at] ^= 1;
    SessionStore::from_secret_bytes(&b).unwrap()
}

#[test]
fn a_relay_altering_a_body_fails_the_header_and_names_nothing() {
    let (mut a, mut b, _) = established();
    let m = a.seal(&b.bundle, b"short message", NOW);
    let mut altered = m.envelope.clone();
    altered[BODY_AT + 20] ^= 1;
    let f = open_attributed(&mut b, &altered, NOW).unwrap_err();
    assert_eq!((f.error, f.session), (Error::Decrypt, None));
    assert_eq!(
        &b.recv(&m.envelope, NOW).unwrap().payload[..],
        b"short message"
    );
}

#[test]
fn a_body_that_does_not_open_in_a_held_session_names_it_and_changes_nothing() {
    let (mut a, mut b, session) = established();
    a.store = desync_send_chain(&a.store);
    let m = a.seal(&b.bundle, b"short message", NOW);
    assert!(!m.with_init);
    let state = b.state();
    assert_eq!(
        b.open(&m.envelope, NOW).unwrap_err(),
        Error::Decrypt,
        "open stays coarse"
    );
    let f = open_attributed(&mut b, &m.envelope, NOW).unwrap_err();
    assert_eq!(f.error, Error::Decrypt);
    let s = f
        .session
        .clone()
        .expect("the header opened under bob's session");
    assert_eq!(
        (s.peer, s.peer_device, s.session_id, s.held),
        (*a.keys.user_id(), *a.keys.device_id(), session, true)
    );
    assert_eq!(s.peer_identity, a.identity.public());
    assert_eq!(
        f.to_string(),
        Error::Decrypt.to_string(),
        "no detail in the text"
    );
    assert_eq!(b.state(), state, "a failed open changes nothing");
}

#[test]
fn a_counter_beyond_max_skip_is_attributed() {
    let (mut a, mut b, session) = established();
    let sent: Vec<_> = (0..MAX_SKIP + 2)
        .map(|_| a.seal(&b.bundle, b"x", NOW))
        .collect();
    let far = sent.last().unwrap();
    let f = open_attributed(&mut b, &far.envelope, NOW).unwrap_err();
    assert_eq!(f.error, Error::Decrypt);
    assert_eq!(f.session.map(|s| s.session_id), Some(session));
}

#[test]
fn replays_expiry_junk_and_other_mailboxes_name_no_session() {
    let (mut a, mut b, _) = established();
    let m = a.seal(&b.bundle, b"once", NOW);
    b.recv(&m.envelope, NOW).unwrap();
    // A replay in a held session: the common, benign case; nothing to ask for.
    let f = open_attributed(&mut b, &m.envelope, NOW).unwrap_err();
    assert_eq!((f.error, f.session), (Error::Replay, None));
    // Outside the time window.
    let late = a.seal(&b.bundle, b"late", NOW);
    let f = open_attributed(&mut b, &late.envelope, NOW + 30 * 24 * 3600).unwrap_err();
    assert_eq!((f.error, f.session), (Error::Expired, None));
    // Junk with the right prefix, and a genuine envelope re-addressed.
    let mut junk = vec![0x5a; 512];
    junk[..PREFIX_LEN].copy_from_slice(&late.envelope[..PREFIX_LEN]);
    let f = open_attributed(&mut b, &junk, NOW).unwrap_err();
    assert_eq!((f.error, f.session), (Error::Decrypt, None));
    let mut other = late.envelope.clone();
    other[1] ^= 1;
    let f = open_attributed(&mut b, &other, NOW).unwrap_err();
    assert_eq!((f.error, f.session), (Error::Decrypt, None));
}

#[test]
fn kind_2_in_a_forgotten_session_is_a_replay_that_names_the_signer() {
    let (mut a, mut b) = (alice_a(), bob());
    let m0 = a.seal(&b.bundle, b"zero", NOW);
    let m1 = a.seal(&b.bundle, b"one", NOW);
    b.recv(&m0.envelope, NOW).unwrap();
    b.store.forget_session(&m0.session_id);
    assert!(b.store.remembers(&m0.session_id));
    let state = b.state();
    assert_eq!(b.open(&m1.envelope, NOW).unwrap_err(), Error::Replay);
    let f = open_attributed(&mut b, &m1.envelope, NOW).unwrap_err();
    assert_eq!(f.error, Error::Replay);
    let s = f.session.expect("the init is verified");
    assert!(!s.held);
    assert_eq!(s.session_id, m0.session_id);
    assert_eq!(s.peer_identity, a.identity.public(), "signed by alice");
    assert_eq!(b.state(), state);
}

#[test]
fn a_strangers_init_is_attributed_to_the_strangers_key_not_the_claimed_name() {
    // Carol's key claiming alice's name: the engine compares `peer_identity` with its
    // pin for alice before it would ever act, so this asks nothing of alice.
    let (mut mallory, mut b) = (mallory_as("alice", 0xa1), bob());
    let m0 = mallory.seal(&b.bundle, b"zero", NOW);
    let m1 = mallory.seal(&b.bundle, b"one", NOW);
    b.recv(&m0.envelope, NOW).unwrap();
    b.store.forget_session(&m0.session_id);
    let s = open_attributed(&mut b, &m1.envelope, NOW)
        .unwrap_err()
        .session
        .unwrap();
    assert_eq!(s.peer, user_id("alice"));
    assert_ne!(s.peer_identity, alice_a().identity.public());
    assert_eq!(s.peer_identity, mallory.identity.public());
}

#[test]
fn seal_fresh_seals_what_a_receiver_without_sessions_can_open() {
    let (mut a, mut b, session) = established();
    let fresh = a
        .store
        .seal_fresh(
            &mut rng(5),
            &a.identity,
            &a.keys,
            &b.bundle,
            b"again",
            NOW + 1,
        )
        .unwrap();
    assert!(fresh.new_session && fresh.with_init);
    assert_ne!(fresh.session_id, session);
    let next = a.seal(&b.bundle, b"next", NOW + 1);
    assert_eq!(
        next.session_id, fresh.session_id,
        "the newest session is used"
    );
    // Unanswered, it carries its init block: the next re-send needs no new session.
    let again = a
        .store
        .seal_fresh(
            &mut rng(7),
            &a.identity,
            &a.keys,
            &b.bundle,
            b"more",
            NOW + 1,
        )
        .unwrap();
    assert!(!again.new_session && again.with_init);
    assert_eq!(again.session_id, fresh.session_id);
    // Bob, who may have lost every session, sets it up from either message.
    let mut lost = bob();
    assert!(matches!(
        lost.open(&next.envelope, NOW + 2),
        Ok(Opening::Pending(_))
    ));
    let o = b.recv(&fresh.envelope, NOW + 2).unwrap();
    assert!(o.new_session);
    assert_eq!(
        &b.recv(&next.envelope, NOW + 2).unwrap().payload[..],
        b"next"
    );
    // Sealing to oneself stays refused.
    let own = a.bundle.clone();
    assert_eq!(
        a.store
            .seal_fresh(&mut rng(6), &a.identity, &a.keys, &own, b"x", NOW)
            .unwrap_err(),
        Error::Malformed
    );
}
