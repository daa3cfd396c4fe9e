//! A group message no held chain opens waits a day for its chain (PROTOCOL.md 27.7,
//! `CHAIN_WAIT`) counted from its first failure, which is stored: an app restarted every
//! few hours reports it once and gives it up after that day. Before, the day and the
//! report started again with each restart (the counts lived in memory only), so junk a
//! stranger deposited stayed on the relay, tried on every connection, for as long as the
//! app was restarted more often than daily.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use rand_chacha::rand_core::Rng;
use sealpost_engine::Input;
use sealpost_engine::limits::{CHAIN_RESEND_AFTER, CHAIN_WAIT, CLOCK_SKEW, MAX_MESSAGE_AGE};
use support::groups::*;
use support::*;

#[test]
fn junk_waits_one_day_from_its_first_failure_across_restarts_and_is_reported_once() {
    let mut relay = Relay::default();
    let ([_, _, mut bob, _], _) = alice_twice_bob_carol(&mut relay, &["bob"]);
    bob.receive(&mut relay, T0 + 3);
    // A stranger's blob shaped like a group message: version 3, a bucket's length.
    let mut junk = vec![0u8; 512];
    rng(7).fill_bytes(&mut junk);
    junk[0] = 3;
    relay.deposit(bob.user(), bob.id(), junk);
    let t = T0 + 10;
    bob.receive(&mut relay, t);
    assert_eq!(undecryptable(&bob), (1, 0));
    // The app restarts every three hours; each run is handed the blob once.
    let step = 3 * 3600;
    let mut now = t;
    while now + step < t + CHAIN_WAIT {
        now += step;
        bob.restart();
        bob.receive(&mut relay, now);
        bob.run(&mut relay, now + 60, Input::Tick);
        assert_eq!(relay.waiting(bob.user(), bob.id()), 1, "kept for its chain");
    }
    assert_eq!(undecryptable(&bob), (1, 0), "reported once");
    // The day since its first failure is over: the next run gives it up at its tick.
    bob.restart();
    bob.receive(&mut relay, t + CHAIN_WAIT);
    bob.run(&mut relay, t + CHAIN_WAIT + 60, Input::Tick);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    assert_eq!(undecryptable(&bob), (1, 1));
    // Nothing more about it after another restart.
    bob.restart();
    bob.receive(&mut relay, t + CHAIN_WAIT + 120);
    assert_eq!(undecryptable(&bob), (1, 1));
}

#[test]
fn a_waiting_blob_the_relay_deleted_is_given_up_once_it_could_no_longer_open() {
    let mut relay = Relay::default();
    let ([_, _, mut bob, _], _) = alice_twice_bob_carol(&mut relay, &["bob"]);
    let mut junk = vec![0u8; 512];
    rng(8).fill_bytes(&mut junk);
    junk[0] = 3;
    relay.deposit(bob.user(), bob.id(), junk);
    let t = T0 + 10;
    bob.receive(&mut relay, t);
    assert_eq!(undecryptable(&bob), (1, 0));
    // The relay deletes it (its 14 days), so no run is handed it again. Its wait is not
    // over while the relay might still hold it and a chain open it.
    relay
        .mailboxes
        .get_mut(&(bob.user(), bob.id()))
        .unwrap()
        .clear();
    bob.restart();
    bob.receive(&mut relay, t + CHAIN_WAIT + 60);
    assert_eq!(undecryptable(&bob), (1, 0));
    // Once no sender's message first tried then could open any more, it is given up with
    // its notice. Before, its entry stayed stored until newer ones pushed it out.
    let over = t + MAX_MESSAGE_AGE + CLOCK_SKEW + 1;
    bob.restart();
    bob.receive(&mut relay, over);
    assert_eq!(undecryptable(&bob), (1, 1));
    bob.restart();
    bob.receive(&mut relay, over + 60);
    assert_eq!(undecryptable(&bob), (1, 1), "once");
}

#[test]
fn a_waiting_copy_of_a_message_that_was_shown_is_not_given_up_with_a_notice() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    // The relay drops alice's chain to bob and holds her message for bob twice (a
    // deposit it took, answered as failed, and took again).
    drop_chain_to(&mut relay, &bob);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut carol],
        t + 1,
    );
    let mailbox = &relay.mailboxes[&(bob.user(), bob.id())];
    let copy = mailbox.iter().find(|b| b.bytes[0] == 3).unwrap().clone();
    relay.deposit(bob.user(), bob.id(), copy.bytes.clone());
    bob.receive(&mut relay, t + 2);
    assert_eq!(undecryptable(&bob), (2, 0), "both wait for the chain");
    // The chain comes again; the first copy opens and is shown, then bob's app stops
    // before the second copy is handed over (it comes with the next connection).
    let second: Vec<_> = relay.mailboxes[&(bob.user(), bob.id())]
        .iter()
        .filter(|b| b.bytes == copy.bytes)
        .skip(1)
        .cloned()
        .collect();
    assert_eq!(second.len(), 1);
    let mailbox = relay.mailboxes.get_mut(&(bob.user(), bob.id())).unwrap();
    mailbox.retain(|b| b.id != second[0].id);
    let due = t + CHAIN_RESEND_AFTER;
    alice.receive(&mut relay, due);
    bob.receive(&mut relay, due + 1);
    assert_eq!(texts(&bob), ["m1"]);
    bob.restart();
    relay
        .mailboxes
        .get_mut(&(bob.user(), bob.id()))
        .unwrap()
        .push_back(second[0].clone());
    bob.receive(&mut relay, due + 2);
    // The copy no longer opens (REPLAY): it was shown, so it goes without a word. Before,
    // bob was told a message was lost ("gave up") although he had read it.
    assert_eq!(texts(&bob), ["m1"]);
    assert_eq!(undecryptable(&bob), (2, 0));
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0, "acknowledged");
}
