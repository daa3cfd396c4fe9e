//! A contact who logs in on a new device gets what was written while every old device
//! was away (issue 9: "log out, let a contact write within a minute, log in on a fresh
//! browser: that message never appears, and it stays 'On relay' for ever"). A message
//! that no device of its recipient has receipted is also sealed to devices that join
//! the recipient's list later (PROTOCOL.md 18.4), while it is younger than
//! `MAX_MESSAGE_AGE`; the sender learns the new list within the first re-send interval.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::DIRECTORY_MAX_AGE;
use sealpost_engine::limits::{MAX_MESSAGE_AGE, RESEND_AFTER};
use support::*;

/// Alice's password login on a fresh browser (device `n`): it joins her list with the
/// backup's account state (what a1 holds).
fn new_browser(relay: &mut Relay, a1: &Device, n: usize, now: u64) -> Device {
    join(relay, "alice", n, 7, now, a1.engine.account_state().clone())
}

#[test]
fn a_message_written_while_logged_out_reaches_the_new_browser_once_and_the_old_one_later() {
    let mut relay = Relay::default();
    let (mut a1, mut bob) = talked(&mut relay);
    // Alice logs out on a1 (it stays in her list, offline); bob writes within a minute.
    let t = T0 + 60;
    let id = bob.send(&mut relay, t, "alice", "while you were out");
    assert_eq!(bob.updates.get(&id), Some(&(0, 1)));
    // She logs in with her password on a fresh browser: a2 joins her list with the
    // backup's account state.
    let from = relay.log.len();
    let mut a2 = new_browser(&mut relay, &a1, 1, t + 30);
    a2.receive(&mut relay, t + 40);
    assert!(a2.texts().is_empty());
    // Before the first re-send interval bob does not look again.
    let fetches = bob.fetches;
    bob.receive(&mut relay, t + RESEND_AFTER - 60);
    assert_eq!(bob.fetches, fetches);
    assert_eq!(deposits_to(&relay, from, a2.user(), a2.id()), 0);
    // At +1 h bob's re-send refreshes alice's listing: a2 is sealed to.
    bob.receive(&mut relay, t + RESEND_AFTER);
    assert_eq!(deposits_to(&relay, from, a2.user(), a2.id()), 1);
    assert_eq!(bob.updates.get(&id), Some(&(0, 2)));
    a2.receive(&mut relay, t + HOUR + 1);
    assert_eq!(a2.texts(), ["while you were out"]);
    assert!(!a2.delivered[0].request, "bob is a contact of the account");
    bob.receive(&mut relay, t + HOUR + 2);
    assert_eq!(bob.updates.get(&id), Some(&(1, 2)), "delivered");
    // a1 comes back: it gets the message too (sealed to it, and re-sent at +1 h).
    a1.receive(&mut relay, t + 2 * HOUR);
    assert_eq!(a1.texts(), ["hello", "while you were out"]);
    bob.receive(&mut relay, t + 2 * HOUR + 1);
    assert_eq!(bob.updates.get(&id), Some(&(2, 2)));
    assert_eq!(bob.engine.outbox_len(), 0);
    // Days later no device shows it twice, and nothing is sent any more.
    let from = relay.log.len();
    for h in 3..100 {
        for d in [&mut a1, &mut a2, &mut bob] {
            d.receive(&mut relay, t + h * HOUR);
        }
    }
    assert_eq!(a1.texts(), ["hello", "while you were out"]);
    assert_eq!(a2.texts(), ["while you were out"]);
    assert_eq!(deposits_to(&relay, from, a2.user(), a2.id()), 0);
    assert_eq!(deposits_to(&relay, from, a1.user(), a1.id()), 0);
    for d in [&a1, &a2, &bob] {
        assert_eq!(d.security_events(), 0);
    }
}

#[test]
fn the_next_message_after_a_stale_listing_brings_the_old_one_to_the_new_device() {
    let mut relay = Relay::default();
    let (mut a1, mut bob) = talked(&mut relay);
    let t = T0 + 60;
    let old = bob.send(&mut relay, t, "alice", "first");
    let mut a2 = new_browser(&mut relay, &a1, 1, t + 30);
    // Bob's app was closed (no ticks); a day later he writes again: the send refreshes
    // the stale listing, which brings the first message to a2 as well.
    let later = t + DIRECTORY_MAX_AGE + 10;
    let new = bob.send(&mut relay, later, "alice", "second");
    a2.receive(&mut relay, later + 1);
    assert_eq!(a2.texts(), ["first", "second"]);
    bob.receive(&mut relay, later + 2);
    assert_eq!(bob.updates.get(&old), Some(&(1, 2)));
    assert_eq!(bob.updates.get(&new), Some(&(1, 2)));
    a1.receive(&mut relay, later + 3);
    assert_eq!(a1.texts(), ["hello", "first", "second"]);
    bob.receive(&mut relay, later + 4);
    assert_eq!(bob.engine.outbox_len(), 0);
    a2.receive(&mut relay, later + 5 * HOUR);
    assert_eq!(a2.texts().len(), 2, "nothing twice");
}

#[test]
fn a_message_some_device_receipted_is_not_sealed_to_a_device_added_later() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let a1b = add_device(&mut relay, "alice", 1, 5, T0);
    let mut bob = register(&mut relay, "bob", 2);
    let t = T0 + 60;
    // a1b is away; a1 reads and receipts.
    let id = bob.send(&mut relay, t, "alice", "read on a1");
    a1.receive(&mut relay, t + 1);
    bob.receive(&mut relay, t + 2);
    assert_eq!(bob.updates.get(&id), Some(&(1, 2)));
    assert_eq!(bob.engine.outbox_len(), 1, "a1b has not receipted");
    let from = relay.log.len();
    let mut a2 = new_browser(&mut relay, &a1, 2, t + 30);
    let fetches = bob.fetches;
    bob.receive(&mut relay, t + RESEND_AFTER + 1);
    assert!(bob.fetches > fetches, "the listing was refreshed");
    assert_eq!(
        deposits_to(&relay, from, a1b.user(), a1b.id()),
        1,
        "a1b's re-send"
    );
    assert_eq!(deposits_to(&relay, from, a2.user(), a2.id()), 0);
    assert_eq!(bob.updates.get(&id), Some(&(1, 2)));
    a2.receive(&mut relay, t + HOUR + 10);
    assert!(a2.texts().is_empty());
}

#[test]
fn nothing_is_sealed_to_a_device_added_after_max_message_age() {
    let mut relay = Relay::default();
    let (a1, mut bob) = talked(&mut relay);
    let t = T0 + 60;
    bob.send(&mut relay, t, "alice", "too old");
    // Alice logs in on a new device only after the message has expired; bob's app was
    // closed all along, so his outbox still holds it when his next send refreshes the
    // listing.
    let late = t + MAX_MESSAGE_AGE + 10;
    let mut a2 = new_browser(&mut relay, &a1, 1, late);
    let from = relay.log.len();
    bob.send(&mut relay, late, "alice", "new");
    assert_eq!(
        deposits_to(&relay, from, a2.user(), a2.id()),
        1,
        "only the new one"
    );
    a2.receive(&mut relay, late + 1);
    assert_eq!(a2.texts(), ["new"]);
}
