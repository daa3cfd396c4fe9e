//! Sessions that heal themselves (issue 9 item 3), as attacks: a peer whose chain went
//! out of sync, a receiver whose session state was rolled back or forgot a session,
//! replayed reset requests, and a stranger naming someone else's session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::{
    DeviceBundle, DeviceEntry, DeviceId, DeviceKeys, DeviceList, SessionId, SessionStore,
};
use sealpost_engine::codec::Codec;
use sealpost_engine::limits::{MAX_RESENDS, RESEND_AFTER};
use sealpost_engine::payload::Payload;
use sealpost_engine::{Input, Part};
use support::*;

/// Alice and bob have written to each other; returns their one session's id.
fn established(relay: &mut Relay) -> (Device, Device, SessionId) {
    let (alice, bob) = talked(relay);
    let sessions = sessions_of(&alice).sessions();
    assert_eq!(sessions.len(), 1);
    (alice, bob, sessions[0].id)
}

#[test]
fn a_body_that_does_not_open_asks_one_reset_and_every_message_arrives_again_once() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, session) = established(&mut relay);
    desync_send_chain(&mut alice);
    for i in 0..3 {
        alice.send(&mut relay, T0 + 10 + i, "bob", &format!("garbled {i}"));
    }
    let from = relay.log.len();
    bob.receive(&mut relay, T0 + 20);
    assert_eq!(bob.texts(), ["hi"]);
    assert_eq!(gave_up_notices(&bob), 1, "surfaced, never vanishing");
    assert_eq!(
        deposits_to(&relay, from, alice.user(), alice.id()),
        1,
        "one reset request, however many blobs fail"
    );
    assert!(!sessions_of(&bob).sessions().iter().any(|s| s.id == session));
    alice.receive(&mut relay, T0 + 21);
    assert!(
        !sessions_of(&alice)
            .sessions()
            .iter()
            .any(|s| s.id == session),
        "the sender drops the session"
    );
    bob.receive(&mut relay, T0 + 22);
    assert_eq!(bob.texts(), ["hi", "garbled 0", "garbled 1", "garbled 2"]);
    alice.receive(&mut relay, T0 + 23);
    assert_eq!(alice.engine.outbox_len(), 0, "all receipted");
    // The conversation goes on both ways.
    bob.send(&mut relay, T0 + 24, "alice", "and on");
    alice.receive(&mut relay, T0 + 25);
    alice.send(&mut relay, T0 + 26, "bob", "still here");
    bob.receive(&mut relay, T0 + 27);
    assert_eq!(alice.texts(), ["hello", "and on"]);
    assert_eq!(bob.texts().last().unwrap(), "still here");
    alice.receive(&mut relay, T0 + 28);
    assert_eq!(alice.engine.outbox_len(), 0);
    // Days later nothing came twice and nothing is re-sent.
    let from = relay.log.len();
    for h in 1..100 {
        alice.receive(&mut relay, T0 + 27 + h * HOUR);
        bob.receive(&mut relay, T0 + 27 + h * HOUR);
    }
    assert_eq!(bob.texts().len(), 5);
    assert_eq!(deposits_to(&relay, from, bob.user(), bob.id()), 0);
}

#[test]
fn replayed_reset_requests_cause_no_more_re_sends() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, _) = established(&mut relay);
    desync_send_chain(&mut alice);
    alice.send(&mut relay, T0 + 10, "bob", "garbled");
    let from = relay.log.len();
    bob.receive(&mut relay, T0 + 11);
    let requests: Vec<Vec<u8>> = relay.log[from..]
        .iter()
        .filter(|(u, d, _)| *u == alice.user() && *d == alice.id())
        .map(|(_, _, b)| b.bytes.clone())
        .collect();
    assert_eq!(requests.len(), 1);
    alice.receive(&mut relay, T0 + 12);
    bob.receive(&mut relay, T0 + 13);
    assert_eq!(bob.texts(), ["hi", "garbled"]);
    // The relay replays the request, also across a restart of alice, and while the
    // message is still waiting for its receipt.
    alice.send(&mut relay, T0 + 14, "bob", "unreceipted");
    let from = relay.log.len();
    for round in 0..3 {
        if round == 1 {
            alice.restart();
        }
        for _ in 0..10 {
            relay.deposit(alice.user(), alice.id(), requests[0].clone());
        }
        alice.receive(&mut relay, T0 + 15 + round);
    }
    assert_eq!(deposits_to(&relay, from, bob.user(), bob.id()), 0);
    assert_eq!(relay.waiting(alice.user(), alice.id()), 0, "acknowledged");
    bob.receive(&mut relay, T0 + 30);
    assert_eq!(bob.texts(), ["hi", "garbled", "unreceipted"]);
}

#[test]
fn a_rolled_back_session_state_heals_by_timed_re_sends_in_one_new_session() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let before = bob.store.get(&Part::Sessions).unwrap().clone();
    alice.send(&mut relay, T0 + 1, "bob", "before");
    bob.receive(&mut relay, T0 + 2);
    bob.send(&mut relay, T0 + 3, "alice", "reply");
    alice.receive(&mut relay, T0 + 4);
    bob.receive(&mut relay, T0 + 5);
    // Bob's sessions roll back to before the session existed; seen-set and the rest
    // stay. Alice's next messages (kind 3) open under no session: bob cannot know whom
    // to ask.
    bob.store.insert(Part::Sessions, before);
    bob.restart();
    let sent_at = T0 + 10;
    alice.send(&mut relay, sent_at, "bob", "after the rollback");
    alice.send(&mut relay, sent_at + 1, "bob", "and another");
    for i in 0..3 {
        bob.receive(&mut relay, sent_at + 2 + i);
    }
    assert_eq!(bob.texts(), ["before"]);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0, "given up, surfaced");
    assert!(gave_up_notices(&bob) >= 2);
    // Bob stays offline. Alice ticks every ten minutes: nothing before the hour, then
    // both messages in one new session, again after 4 more hours.
    let from = relay.log.len();
    let tick = |alice: &mut Device, relay: &mut Relay, t: u64| alice.run(relay, t, Input::Tick);
    tick(&mut alice, &mut relay, sent_at + RESEND_AFTER - 60);
    assert_eq!(deposits_to(&relay, from, bob.user(), bob.id()), 0);
    tick(&mut alice, &mut relay, sent_at + RESEND_AFTER + 1);
    assert_eq!(deposits_to(&relay, from, bob.user(), bob.id()), 2);
    let with_bob = sessions_of(&alice).sessions();
    assert_eq!(with_bob.len(), 2, "one new session for both re-sends");
    for t in (sent_at + RESEND_AFTER..sent_at + 6 * HOUR).step_by(600) {
        tick(&mut alice, &mut relay, t);
    }
    assert_eq!(deposits_to(&relay, from, bob.user(), bob.id()), 4);
    bob.receive(&mut relay, sent_at + 6 * HOUR);
    assert_eq!(bob.texts(), ["before", "after the rollback", "and another"]);
    alice.receive(&mut relay, sent_at + 6 * HOUR + 1);
    assert_eq!(alice.engine.outbox_len(), 0);
    // The conversation goes on; nothing more is re-sent, nothing shown twice.
    bob.send(&mut relay, sent_at + 6 * HOUR + 2, "alice", "back");
    alice.receive(&mut relay, sent_at + 6 * HOUR + 3);
    assert_eq!(alice.texts(), ["reply", "back"]);
    let from = relay.log.len();
    for h in 7..120 {
        tick(&mut alice, &mut relay, sent_at + h * HOUR);
    }
    bob.receive(&mut relay, sent_at + 120 * HOUR);
    assert_eq!(deposits_to(&relay, from, bob.user(), bob.id()), 0);
    assert_eq!(bob.texts().len(), 3);
}

#[test]
fn a_device_offline_for_days_gets_at_most_four_re_sends_per_message() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let from = relay.log.len();
    for i in 0..5 {
        alice.send(&mut relay, T0 + 1 + i, "bob", &format!("m{i}"));
    }
    for t in (T0 + 10..T0 + 10 * 24 * HOUR).step_by(600) {
        alice.run(&mut relay, t, Input::Tick);
    }
    let per_message = 1 + usize::from(MAX_RESENDS);
    assert_eq!(
        deposits_to(&relay, from, bob.user(), bob.id()),
        5 * per_message
    );
    // Bob comes back: each once.
    bob.receive(&mut relay, T0 + 10 * 24 * HOUR);
    assert_eq!(bob.texts(), ["m0", "m1", "m2", "m3", "m4"]);
    alice.receive(&mut relay, T0 + 10 * 24 * HOUR + 1);
    assert_eq!(alice.engine.outbox_len(), 0);
}

#[test]
fn kind_2_messages_in_a_session_the_receiver_forgot_ask_a_reset() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    // A contact bob looked up (strangers get no reset requests: PROTOCOL.md 18.1).
    bob.lookup(&mut relay, T0, "alice");
    alice.send(&mut relay, T0 + 1, "bob", "first");
    bob.receive(&mut relay, T0 + 2);
    // Bob's device forgot the session (as an eviction does); bob has not answered, so
    // alice keeps sending kind 2 in it, which bob's replay memory refuses.
    let mut store = sessions_of(&bob);
    let session = store.sessions()[0].id;
    store.forget_session(&session);
    bob.store
        .insert(Part::Sessions, store.to_secret_bytes().unwrap());
    bob.restart();
    alice.send(&mut relay, T0 + 3, "bob", "second");
    let from = relay.log.len();
    bob.receive(&mut relay, T0 + 4);
    assert_eq!(deposits_to(&relay, from, alice.user(), alice.id()), 1);
    assert_eq!(gave_up_notices(&bob), 1);
    alice.receive(&mut relay, T0 + 5);
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(bob.texts(), ["first", "second"]);
    alice.receive(&mut relay, T0 + 7);
    assert_eq!(alice.engine.outbox_len(), 0);
}

#[test]
fn a_stranger_cannot_reset_someone_elses_session() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, session) = established(&mut relay);
    // Carol, a registered stranger with her own keys, asks alice to reset the session
    // alice has with bob (she learnt its id somehow).
    let carol = user("carol");
    let identity = identity_key("carol");
    let mut r = rng(33);
    let device = DeviceId::generate(&mut r);
    let mut keys =
        DeviceKeys::from_key(&mut r, &identity, carol, device, encryption_key(2), T0).unwrap();
    let entry = DeviceEntry {
        id: device,
        added_at: T0,
        name: "carol".into(),
    };
    let list = DeviceList::sign(&mut r, carol, &identity, T0, vec![entry]).unwrap();
    let bundle = keys.bundle(&mut r, &identity, T0).unwrap();
    relay.lists.insert(carol, list.to_bytes().to_vec());
    relay
        .bundles
        .insert((carol, device), bundle.to_bytes().to_vec());
    let to_alice =
        DeviceBundle::from_bytes(relay.bundles.get(&(alice.user(), alice.id())).unwrap()).unwrap();
    let payload = Payload::ResetRequest(*session.as_bytes()).to_bytes();
    let mut store = SessionStore::new();
    let sealed = store
        .seal(&mut r, &identity, &keys, &to_alice, &payload, T0 + 10)
        .unwrap();
    alice.send(&mut relay, T0 + 9, "bob", "unreceipted for now");
    let from = relay.log.len();
    relay.deposit(alice.user(), alice.id(), sealed.envelope);
    for i in 0..3 {
        alice.receive(&mut relay, T0 + 11 + i);
    }
    assert_eq!(
        relay.waiting(alice.user(), alice.id()),
        0,
        "opened, acknowledged"
    );
    assert!(
        sessions_of(&alice)
            .sessions()
            .iter()
            .any(|s| s.id == session),
        "alice keeps her session with bob"
    );
    assert_eq!(
        deposits_to(&relay, from, bob.user(), bob.id()),
        0,
        "no re-send"
    );
    assert_eq!(
        deposits_to(&relay, from, carol, device),
        0,
        "nothing for carol"
    );
    // Bob reads alice's next message in the very same session.
    alice.send(&mut relay, T0 + 20, "bob", "same session");
    bob.receive(&mut relay, T0 + 21);
    assert_eq!(bob.texts(), ["hi", "unreceipted for now", "same session"]);
    assert_eq!(sessions_of(&bob).sessions().len(), 1);
}
