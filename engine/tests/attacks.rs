//! Issue 9's "Why", as attacks through a misbehaving relay or a stranger: each one now
//! heals, is refused, or is surfaced, and the next genuine message gets through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::codec::Codec as _;
use sealpost_engine::limits::MISSING_AFTER;
use sealpost_engine::seen::{SEEN_BUCKETS, SeenSet};
use sealpost_engine::{Notice, Part, SecurityKind};
use support::*;
use zeroize::Zeroizing;

#[test]
fn first_message_of_a_session_dropped_heals_is_surfaced_and_re_sent() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    relay.drop_next = 1;
    alice.send(&mut relay, T0 + 1, "bob", "lost by the relay");
    alice.send(&mut relay, T0 + 2, "bob", "second");
    bob.receive(&mut relay, T0 + 3);
    // The session set itself up from the second message (its init block repeats).
    assert_eq!(bob.texts(), ["second"]);
    assert_eq!(maybe_missing(&bob), 0, "not before an hour");
    alice.receive(&mut relay, T0 + 4);
    assert_eq!(
        alice.engine.outbox_len(),
        1,
        "the lost one waits for a receipt"
    );
    // An hour later the gap is surfaced once, and bob asks alice to re-send.
    let later = T0 + 3 + MISSING_AFTER;
    bob.receive(&mut relay, later);
    assert_eq!(maybe_missing(&bob), 1);
    alice.receive(&mut relay, later + 1);
    bob.receive(&mut relay, later + 2);
    assert_eq!(bob.texts(), ["second", "lost by the relay"]);
    alice.receive(&mut relay, later + 3);
    assert_eq!(alice.engine.outbox_len(), 0);
    // The conversation goes on, and the gap is never reported twice.
    bob.send(&mut relay, later + 4, "alice", "got both");
    alice.receive(&mut relay, later + 5);
    assert_eq!(alice.texts(), ["got both"]);
    bob.receive(&mut relay, later + 10 * MISSING_AFTER);
    assert_eq!(maybe_missing(&bob), 1);
}

#[test]
fn replays_of_acknowledged_messages_are_never_delivered_twice_even_after_a_restart() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    for i in 0..3 {
        alice.send(&mut relay, T0 + i, "bob", &format!("m{i}"));
    }
    bob.receive(&mut relay, T0 + 5);
    assert_eq!(bob.texts(), ["m0", "m1", "m2"]);
    relay.replay_to(&bob);
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(bob.texts().len(), 3);
    bob.restart();
    relay.replay_to(&bob);
    bob.receive(&mut relay, T0 + 7);
    assert_eq!(bob.texts().len(), 3);
    assert_eq!(
        relay
            .mailboxes
            .get(&(bob.user(), bob.id()))
            .map_or(0, |m| m.len()),
        0,
        "all acknowledged"
    );
    // Alice's re-sends after a reset carry the same ids: still once.
    alice.send(&mut relay, T0 + 8, "bob", "next");
    bob.receive(&mut relay, T0 + 9);
    assert_eq!(bob.texts(), ["m0", "m1", "m2", "next"]);
}

#[test]
fn replays_are_refused_after_a_restart_from_the_seen_set_stored_as_records() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(alice.send(&mut relay, T0 + i, "bob", &format!("m{i}")));
    }
    bob.receive(&mut relay, T0 + 50);
    assert_eq!(bob.texts().len(), 40);
    let whole = bob.engine.save(Part::Seen).unwrap();
    // A driver that stores the records: the single part empty, each record on its own,
    // the changed ones as the engine says (all of them hold a message here or not).
    let changed = bob.engine.take_seen_changes();
    assert_ne!(changed, 0);
    assert_eq!(bob.engine.take_seen_changes(), 0, "taken once");
    let records: Vec<_> = (0..SEEN_BUCKETS)
        .map(|b| bob.engine.save_seen_bucket(b))
        .collect();
    let sizes: Vec<usize> = records.iter().map(|r| r.len()).collect();
    assert!(
        sizes.iter().all(|n| *n < whole.len() / 2),
        "each record a small part of the whole: {sizes:?} of {}",
        whole.len()
    );
    bob.store
        .insert(Part::Seen, Zeroizing::new(SeenSet::new().to_bytes()));
    bob.restart();
    for (b, bytes) in records.iter().enumerate() {
        bob.engine.restore_seen_bucket(b as u8, bytes).unwrap();
    }
    assert_eq!(bob.engine.save(Part::Seen).unwrap(), whole, "the same set");
    assert_eq!(bob.engine.take_seen_changes(), 0, "nothing to write again");
    relay.replay_to(&bob);
    bob.receive(&mut relay, T0 + 60);
    assert_eq!(bob.texts().len(), 40, "no replay delivered");
    // A new envelope (fresh counter) carrying a delivered id: refused by the seen-set alone.
    alice.send_as(&mut relay, T0 + 61, ids[7], "bob", "m7 again");
    alice.send(&mut relay, T0 + 62, "bob", "next");
    bob.receive(&mut relay, T0 + 63);
    let texts = bob.texts();
    assert_eq!(texts.len(), 41);
    assert_eq!(texts.last().map(String::as_str), Some("next"));
    // A record under another bucket's name does not load.
    let full = (0..SEEN_BUCKETS)
        .find(|b| records[*b as usize].len() > 6)
        .unwrap();
    let other = (full + 1) % SEEN_BUCKETS;
    let error = bob
        .engine
        .restore_seen_bucket(other, &records[full as usize])
        .unwrap_err();
    assert_eq!(error.part, Part::Seen);
}

#[test]
fn a_message_signed_by_another_key_than_the_pin_is_dropped_and_reported() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    alice.send(&mut relay, T0 + 1, "bob", "hi, alice here");
    bob.receive(&mut relay, T0 + 2);
    // Carol's key, alice's name: bob has alice pinned.
    let mut fake = forger(&mut relay, "alice", "carol", 9);
    fake.send(&mut relay, T0 + 3, "bob", "send me your password");
    bob.receive(&mut relay, T0 + 4);
    assert_eq!(bob.texts(), ["hi, alice here"]);
    assert!(bob.notices.contains(&Notice::SecurityEvent {
        kind: SecurityKind::IdentityMismatch,
        user: user("alice"),
    }));
    assert_eq!(
        relay
            .mailboxes
            .get(&(bob.user(), bob.id()))
            .map_or(0, |m| m.len()),
        0,
        "acknowledged"
    );
    alice.send(&mut relay, T0 + 5, "bob", "still me");
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(bob.texts(), ["hi, alice here", "still me"]);
}

#[test]
fn a_forger_at_first_contact_is_checked_against_the_directory() {
    let mut relay = Relay::default();
    let _alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut fake = forger(&mut relay, "alice", "carol", 9);
    fake.send(&mut relay, T0 + 3, "bob", "hi, I am alice");
    bob.receive(&mut relay, T0 + 4);
    assert!(bob.texts().is_empty());
    assert_eq!(bob.security_events(), 1);
}

#[test]
fn forged_inits_from_strangers_cannot_evict_a_genuine_session() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    alice.send(&mut relay, T0 + 1, "bob", "one");
    bob.receive(&mut relay, T0 + 2);
    bob.send(&mut relay, T0 + 3, "alice", "reply");
    alice.receive(&mut relay, T0 + 4);
    for n in 0..12 {
        let mut fake = forger(&mut relay, "alice", "carol", 100 + n);
        fake.send(&mut relay, T0 + 5, "bob", "evict");
    }
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(bob.security_events(), 12);
    // Alice's confirmed session still opens her next message.
    alice.send(&mut relay, T0 + 7, "bob", "two");
    bob.receive(&mut relay, T0 + 8);
    assert_eq!(bob.texts(), ["one", "two"]);
}

#[test]
fn junk_is_surfaced_and_acknowledged_after_three_attempts() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    alice.send(&mut relay, T0 + 1, "bob", "real");
    // The same envelope re-addressed to another mailbox is not ours: never opens.
    let envelope = relay.log[0].2.bytes.clone();
    let mut other = envelope.clone();
    other[1] ^= 1;
    relay.deposit(bob.user(), bob.id(), other);
    for i in 0..3 {
        bob.receive(&mut relay, T0 + 2 + i);
    }
    assert_eq!(bob.texts(), ["real"]);
    let failures: Vec<_> = bob
        .notices
        .iter()
        .filter_map(|n| match n {
            Notice::CouldNotDecrypt { gave_up, .. } => Some(*gave_up),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [false, false, true]);
    assert_eq!(
        relay
            .mailboxes
            .get(&(bob.user(), bob.id()))
            .map_or(0, |m| m.len()),
        0
    );
}
