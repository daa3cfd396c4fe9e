//! Receipts survive a restart: a receipt whose deposit did not reach the relay is owed
//! durably (`Part::Receipts`), so the sender learns of the delivery when the receiver
//! comes back, not at its hourly re-send (the PWA showed "on relay" for an hour after a
//! reload).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::codec::Codec;
use sealpost_engine::limits::RESEND_AFTER;
use sealpost_engine::receipts::OwedReceipts;
use sealpost_engine::{Input, Part};
use support::*;

fn owed(d: &Device) -> usize {
    OwedReceipts::from_bytes(d.store.get(&Part::Receipts).unwrap())
        .unwrap()
        .len()
}

#[test]
fn a_receipt_whose_deposit_failed_is_sent_after_a_restart() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let id = alice.send(&mut relay, T0 + 1, "bob", "hi");
    // Bob opens it (the blob is acknowledged) but the relay cannot be reached for his
    // receipt; then the tab is reloaded.
    bob.offline_deposits = true;
    bob.receive(&mut relay, T0 + 2);
    assert_eq!(bob.texts(), ["hi"]);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0, "acknowledged");
    assert_eq!(owed(&bob), 1, "owed durably");
    bob.restart();
    bob.offline_deposits = false;
    bob.receive(&mut relay, T0 + 60);
    assert_eq!(owed(&bob), 0, "paid once the relay took it");
    // Well before alice's first re-send (due at T0 + 1 + RESEND_AFTER).
    alice.receive(&mut relay, T0 + 61);
    assert_eq!(alice.updates.get(&id), Some(&(1, 1)));
    assert_eq!(alice.engine.outbox_len(), 0);
    // Nothing is delivered twice, and nothing more is owed or sent.
    let deposits = relay.log.len();
    bob.restart();
    bob.receive(&mut relay, T0 + 120);
    assert_eq!(relay.log.len(), deposits);
    assert_eq!(bob.texts(), ["hi"]);
}

#[test]
fn a_receipt_the_relay_took_is_not_owed_and_a_duplicate_is_receipted_again() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let id = alice.send(&mut relay, T0 + 1, "bob", "hi");
    // The relay drops bob's receipt after taking it: nothing is owed, and alice's
    // re-send (a duplicate for bob) is receipted again.
    bob.receive(&mut relay, T0 + 2);
    assert_eq!(owed(&bob), 0);
    relay
        .mailboxes
        .get_mut(&(alice.user(), alice.id()))
        .unwrap()
        .clear();
    alice.receive(&mut relay, T0 + 2 + RESEND_AFTER);
    bob.receive(&mut relay, T0 + 3 + RESEND_AFTER);
    alice.receive(&mut relay, T0 + 4 + RESEND_AFTER);
    assert_eq!(alice.updates.get(&id), Some(&(1, 1)));
    assert_eq!(bob.texts(), ["hi"]);
    assert_eq!(owed(&bob), 0);
}

#[test]
fn a_receipt_owed_to_a_device_that_left_its_account_is_dropped_without_a_fetch_loop() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 3, T0 + 1);
    let mut bob = register(&mut relay, "bob", 2);
    bob.lookup(&mut relay, T0 + 1, "alice");
    a2.send(&mut relay, T0 + 2, "bob", "hi");
    bob.receive(&mut relay, T0 + 3);
    a2.receive(&mut relay, T0 + 4);
    // Bob restarts (bundles are memory only); a2 writes once more in its session and is
    // then revoked, before bob reads: his receipt is owed to a device that left.
    bob.restart();
    a2.send(&mut relay, T0 + 5, "bob", "last words");
    a1.run(&mut relay, T0 + 6, Input::RevokeDevice { device: a2.id() });
    bob.receive(&mut relay, T0 + 7);
    assert_eq!(bob.texts(), ["hi", "last words"]);
    assert_eq!(owed(&bob), 0, "nobody to send it to: dropped");
    // No directory read per input afterwards (before, each one asked again: the test
    // harness never returned).
    let fetches = bob.fetches;
    for i in 0..5 {
        bob.receive(&mut relay, T0 + 8 + i);
    }
    assert_eq!(bob.fetches, fetches);
}
