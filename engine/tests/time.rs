//! Time and a misbehaving network: key rotation on ticks, outbox expiry, accounts the
//! directory does not have, reordered delivery, slow deposit confirmations, and floods
//! of junk from strangers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::DeviceBundle;
use sealpost_engine::limits::{MAX_MESSAGE_AGE, MAX_OPEN_ATTEMPTS, MISSING_AFTER};
use sealpost_engine::{Notice, SecurityKind, SendError};
use support::*;

#[test]
fn a_tick_rotates_the_device_key_and_new_sessions_use_the_new_one() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    bob.send(&mut relay, T0 + 1, "alice", "early");
    alice.receive(&mut relay, T0 + 2);
    let before = relay
        .bundles
        .get(&(alice.user(), alice.id()))
        .unwrap()
        .clone();
    // Nothing to rotate yet.
    alice.receive(&mut relay, T0 + 3600);
    assert_eq!(
        relay.bundles.get(&(alice.user(), alice.id())),
        Some(&before)
    );
    // 23 days in, the 30-day key expires within a week: a new key, a new bundle.
    let t = T0 + 23 * 24 * 3600 + 60;
    alice.receive(&mut relay, t);
    let after =
        DeviceBundle::from_bytes(relay.bundles.get(&(alice.user(), alice.id())).unwrap()).unwrap();
    let old = DeviceBundle::from_bytes(&before).unwrap();
    assert!(after.issued_at() > old.issued_at());
    assert_ne!(
        after.current_encryption_key(t).unwrap(),
        old.current_encryption_key(T0).unwrap()
    );
    // The rotated keys are stored: a restart does not rotate again.
    alice.restart();
    alice.receive(&mut relay, t + 60);
    assert_eq!(
        relay
            .bundles
            .get(&(alice.user(), alice.id()))
            .map(|b| DeviceBundle::from_bytes(b).unwrap().issued_at()),
        Some(after.issued_at())
    );
    // A first contact seals to the new key, and the old session still works.
    let mut carol = register(&mut relay, "carol", 3);
    carol.send(&mut relay, t + 120, "alice", "to the new key");
    bob.send(&mut relay, t + 120, "alice", "old session");
    alice.receive(&mut relay, t + 121);
    let mut texts = alice.texts();
    texts.sort();
    assert_eq!(texts, ["early", "old session", "to the new key"]);
    assert_eq!(alice.security_events(), 0);
}

#[test]
fn an_unreceipted_message_expires_from_the_outbox_with_a_notice() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let _bob = register(&mut relay, "bob", 2);
    let id = alice.send(&mut relay, T0 + 1, "bob", "bob never comes online");
    assert_eq!(alice.engine.outbox_len(), 1);
    alice.receive(&mut relay, T0 + MAX_MESSAGE_AGE);
    assert_eq!(
        alice.engine.outbox_len(),
        1,
        "not before it is too old to open"
    );
    alice.receive(&mut relay, T0 + 2 + MAX_MESSAGE_AGE);
    assert_eq!(alice.engine.outbox_len(), 0);
    assert!(alice.notices.contains(&Notice::NotDelivered { msg_id: id }));
    // It stays expired across a restart.
    alice.restart();
    assert_eq!(alice.engine.outbox_len(), 0);
}

#[test]
fn an_account_the_directory_does_not_have_fails_sends_and_drops_forged_senders() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    alice.send(&mut relay, T0 + 1, "nobody", "hello?");
    assert!(alice.notices.iter().any(|n| matches!(
        n,
        Notice::SendFailed {
            error: SendError::NoSuchUser,
            ..
        }
    )));
    assert_eq!(alice.engine.outbox_len(), 0);
    assert!(alice.engine.contacts().is_empty());
    // A stranger claims a name nobody registered: parked, then dropped and reported.
    let mut mallory = forger(&mut relay, "mallory", "carol", 7);
    mallory.send(&mut relay, T0 + 2, "alice", "trust me");
    alice.receive(&mut relay, T0 + 3);
    assert!(alice.texts().is_empty());
    assert!(alice.notices.contains(&Notice::SecurityEvent {
        kind: SecurityKind::IdentityMismatch,
        user: user("mallory"),
    }));
    assert_eq!(relay.waiting(alice.user(), alice.id()), 0, "acknowledged");
    assert!(alice.engine.contacts().is_empty());
}

#[test]
fn reordered_delivery_and_slow_deposit_confirmations_heal() {
    let mut relay = Relay::default();
    relay.reorder = Some(rng(77));
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    // The relay confirms alice's deposits late (after she restarted once).
    alice.hold_deposit_done = true;
    let sent: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    for (i, text) in sent.iter().enumerate() {
        alice.send(&mut relay, T0 + i as u64, "bob", text);
    }
    bob.receive(&mut relay, T0 + 20);
    let mut got = bob.texts();
    got.sort();
    let mut want = sent.clone();
    want.sort();
    assert_eq!(got, want, "every message once, whatever the order");
    assert_ne!(bob.texts(), sent, "the relay did reorder");
    // The late confirmations arrive; receipts empty the outbox.
    alice.confirm_deposits(&mut relay, T0 + 21);
    alice.hold_deposit_done = false;
    alice.receive(&mut relay, T0 + 22);
    assert_eq!(alice.engine.outbox_len(), 0);
    // No gap stays open: nothing is reported missing an hour later.
    bob.receive(&mut relay, T0 + 20 + 2 * MISSING_AFTER);
    assert_eq!(maybe_missing(&bob), 0);
    // Reordered replies, and a restart with unconfirmed deposits, heal too.
    alice.hold_deposit_done = true;
    for i in 0..5 {
        bob.send(&mut relay, T0 + 30 + i, "alice", &format!("r{i}"));
    }
    alice.receive(&mut relay, T0 + 40);
    alice.restart();
    alice.receive(&mut relay, T0 + 41);
    bob.receive(&mut relay, T0 + 42);
    assert_eq!(alice.texts().len(), 5);
    assert_eq!(bob.engine.outbox_len(), 0);
    assert_eq!(bob.texts().len(), 12, "nothing twice");
}

#[test]
fn a_flood_of_junk_from_strangers_costs_bounded_work_and_evicts_nothing() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    alice.send(&mut relay, T0 + 1, "bob", "before");
    bob.receive(&mut relay, T0 + 2);
    bob.send(&mut relay, T0 + 3, "alice", "reply");
    alice.receive(&mut relay, T0 + 4);
    let contacts = bob.engine.account_state().clone();
    let genuine = relay.waiting(bob.user(), bob.id());
    // 60 random blobs, 20 inits under names nobody registered, 10 under alice's name
    // with another key.
    relay.flood(bob.user(), bob.id(), 60, 5);
    for n in 0..20 {
        let mut fake = forger(&mut relay, &format!("stranger{n}"), "carol", 200 + n);
        fake.send(&mut relay, T0 + 5, "bob", "spam");
    }
    for n in 0..10 {
        let mut fake = forger(&mut relay, "alice", "carol", 300 + n);
        fake.send(&mut relay, T0 + 5, "bob", "evict");
    }
    let junk = relay.waiting(bob.user(), bob.id());
    assert_eq!(junk, genuine + 90);
    let (handled, fetches) = (bob.handled, bob.fetches);
    for i in 0..u64::from(MAX_OPEN_ATTEMPTS) {
        bob.receive(&mut relay, T0 + 6 + i);
    }
    // Every blob is settled within the attempts, none is delivered, nothing waits.
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    assert_eq!(bob.texts(), ["before"]);
    // Work: at most the attempts per blob, one directory fetch per claimed name
    // (plus the ticks' own reads).
    let inputs = bob.handled - handled;
    assert!(
        inputs <= junk * usize::from(MAX_OPEN_ATTEMPTS) + 20 + 2 * 3 + 3,
        "{inputs} inputs"
    );
    assert!(
        bob.fetches - fetches <= 20 + 3,
        "{} fetches",
        bob.fetches - fetches
    );
    // Nothing genuine was evicted or changed: contacts, and alice's session.
    assert_eq!(bob.engine.account_state(), &contacts);
    alice.send(&mut relay, T0 + 20, "bob", "after");
    bob.receive(&mut relay, T0 + 21);
    assert_eq!(bob.texts(), ["before", "after"]);
    assert_eq!(maybe_missing(&bob), 0);
    bob.send(&mut relay, T0 + 22, "alice", "still here");
    alice.receive(&mut relay, T0 + 23);
    assert_eq!(alice.texts(), ["reply", "still here"]);
}
