//! A chain re-send (PROTOCOL.md 27.5 "Confirming a chain") that finds the queue of
//! pairwise group payloads full (`MAX_PENDING`: payloads waiting for device lists) is
//! neither counted nor dropped: it stays due and goes when there is room. Before, it was
//! counted as done and lost, and the member device the relay kept the chain from could
//! not read the sender's messages until the next key epoch, in silence.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::UserId;
use sealpost_core::v2::group::GroupError;
use sealpost_engine::limits::{CHAIN_RESEND_AFTER, RESEND_AFTER};
use sealpost_engine::{GroupRequest, Input, LookupOutcome, Output, Part};
use std::collections::VecDeque;
use support::groups::*;
use support::*;
use zeroize::Zeroizing;

/// `groups::MAX_PENDING`.
const MAX_PENDING: usize = 8192;

#[test]
fn a_chain_re_send_with_no_room_waits_for_room_and_is_not_counted() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    // The relay takes alice's chain to bob and drops it.
    drop_chain_to(&mut relay, &bob);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut carol],
        t + 1,
    );
    bob.receive(&mut relay, t + 2);
    assert!(texts(&bob).is_empty());
    // Alice's queue is full: payloads for dave, whose device list she asked for and has
    // not got (the directory does not answer in this tick).
    let stored = alice.store[&Part::Groups].to_vec();
    let full = with_pending(&stored, user("dave"), MAX_PENDING);
    alice.store.insert(Part::Groups, Zeroizing::new(full));
    alice.restart();
    let to_bob = carried_count(&relay, &bob);
    let due = t + CHAIN_RESEND_AFTER;
    for o in alice.engine.handle(&mut alice.rng, due, Input::Tick) {
        if !matches!(o, Output::FetchDirectory { .. }) {
            alice.apply(&mut relay, o);
        }
    }
    alice.run(&mut relay, due, Input::Tick);
    assert_eq!(carried_count(&relay, &bob), to_bob, "no room: not sent");
    // The queue drained (dave's payloads went): the chain goes at the next tick, due
    // since, not four times later as if it had gone.
    let stored = alice.store[&Part::Groups].to_vec();
    let drained = with_pending(&stored, user("dave"), 0);
    alice.store.insert(Part::Groups, Zeroizing::new(drained));
    alice.restart();
    alice.run(&mut relay, due + 60, Input::Tick);
    assert_eq!(
        carried_count(&relay, &bob),
        to_bob + 1,
        "sent once there is room"
    );
    bob.receive(&mut relay, due + 61);
    assert_eq!(texts(&bob), ["m1"]);
    // Bob confirmed it: nothing goes again.
    alice.receive(&mut relay, due + 62);
    alice.run(&mut relay, due + 100 * CHAIN_RESEND_AFTER, Input::Tick);
    assert_eq!(carried_count(&relay, &bob), to_bob + 1);
}

#[test]
fn a_change_with_no_room_to_send_it_is_refused_not_applied_in_silence() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    let t = T0 + 10;
    let before = state(&alice, group);
    // Alice's queue is full (payloads for dave, whose device list has not come).
    let stored = alice.store[&Part::Groups].to_vec();
    let full = with_pending(&stored, user("dave"), MAX_PENDING - 2);
    alice
        .store
        .insert(Part::Groups, Zeroizing::new(full.clone()));
    alice.restart();
    // A rename would go to three accounts: two places left, so it is refused here and
    // nothing of it is applied or queued (applied and half sent, bob or carol would
    // never learn of it).
    // (Driven by hand: the harness's directory would answer dave's lookups forever.)
    let rename = Input::ChangeGroup {
        group,
        change: GroupRequest::Rename("renamed".into()),
    };
    for o in alice.engine.handle(&mut alice.rng, t, rename) {
        if !matches!(o, Output::FetchDirectory { .. }) {
            alice.apply(&mut relay, o);
        }
    }
    assert_eq!(refusals(&alice), [GroupError::TooLarge]);
    assert_eq!(state(&alice, group), before, "not applied");
    let stored = alice.store[&Part::Groups].to_vec();
    assert_eq!(stored, full, "nothing queued or stored");
    // With room again, the same change goes to every device.
    let drained = with_pending(&stored, user("dave"), 0);
    alice.store.insert(Part::Groups, Zeroizing::new(drained));
    alice.restart();
    change(
        &mut relay,
        &mut alice,
        group,
        t + 1,
        GroupRequest::Rename("renamed".into()),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        t + 2,
    );
    let renamed = state(&alice, group);
    assert_ne!(renamed, before);
    for d in [&alice2, &bob, &carol] {
        assert_eq!(state(d, group), renamed);
    }
}

/// Runs `input` on `d`, answering every lookup of `missing` at once with "no such account"
/// and leaving the others unanswered; the lookups of `missing` asked for. Stops (and
/// fails) after 1,000 inputs: a loop of lookups.
fn lookups_of_missing(
    d: &mut Device,
    relay: &mut Relay,
    now: u64,
    input: Input,
    missing: UserId,
) -> usize {
    let mut asked = 0;
    let mut queue = VecDeque::from([input]);
    let mut handled = 0;
    while let Some(input) = queue.pop_front() {
        handled += 1;
        assert!(handled < 1000, "a loop of directory lookups: {asked} asked");
        for o in d.engine.handle(&mut d.rng, now, input) {
            match o {
                Output::FetchDirectory { user } if user == missing => {
                    asked += 1;
                    queue.push_back(Input::DirectoryMissing { user });
                }
                Output::FetchDirectory { .. } => {}
                o => d.apply(relay, o),
            }
        }
    }
    asked
}

#[test]
fn an_account_the_directory_does_not_know_is_asked_for_once_an_hour_not_after_every_answer() {
    let mut relay = Relay::default();
    let ([mut alice, ..], _group) = alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    // Alice holds a group payload for dave, whom the directory does not know (an
    // account deleted since, or a relay that says so). Before, every answer about dave
    // was an input, after which the payload asked for dave again: without end.
    let stored = alice.store[&Part::Groups].to_vec();
    let one = with_pending(&stored, user("dave"), 1);
    alice.store.insert(Part::Groups, Zeroizing::new(one));
    alice.restart();
    let t = T0 + 100;
    assert_eq!(
        lookups_of_missing(&mut alice, &mut relay, t, Input::Tick, user("dave")),
        1
    );
    // Within the hour, inputs ask nothing more; after it, once again.
    assert_eq!(
        lookups_of_missing(&mut alice, &mut relay, t + 60, Input::Tick, user("dave")),
        0
    );
    let later = t + RESEND_AFTER + 1;
    assert_eq!(
        lookups_of_missing(&mut alice, &mut relay, later, Input::Tick, user("dave")),
        1
    );
    // The same for a payload to one of dave's devices (a chain it was given).
    let stored = alice.store[&Part::Groups].to_vec();
    let one = with_pending_at(&stored, user("dave"), Some([7; 16]), 1);
    alice.store.insert(Part::Groups, Zeroizing::new(one));
    alice.restart();
    let t = later + 10;
    assert_eq!(
        lookups_of_missing(&mut alice, &mut relay, t, Input::Tick, user("dave")),
        1
    );
    assert_eq!(
        lookups_of_missing(&mut alice, &mut relay, t + 60, Input::Tick, user("dave")),
        0
    );
}

#[test]
fn a_payload_sealed_with_the_queue_nearly_full_is_kept_until_the_relay_takes_it() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut alice2 = add_device(&mut relay, "alice", 1, 11, T0);
    alice.receive(&mut relay, T0);
    let mut bob = register(&mut relay, "bob", 2);
    let mut bob2 = add_device(&mut relay, "bob", 1, 12, T0);
    bob.receive(&mut relay, T0);
    let mut carol = register(&mut relay, "carol", 3);
    for name in ["bob", "carol"] {
        assert_eq!(alice.lookup(&mut relay, T0, name), LookupOutcome::Found);
    }
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    let all = |relay: &mut Relay, ds: &mut [&mut Device], now| settle(relay, ds, now);
    all(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut bob2, &mut carol],
        T0 + 2,
    );
    // Alice's queue has room for the rename's three accounts and no more (payloads for
    // dave, whose device list has not come); bob has two devices, so it is sealed as
    // four pairwise payloads.
    let stored = alice.store[&Part::Groups].to_vec();
    let full = with_pending(&stored, user("dave"), MAX_PENDING - 3);
    alice.store.insert(Part::Groups, Zeroizing::new(full));
    alice.restart();
    // The relay cannot be reached, and the tab dies before it can: every payload must
    // still be stored, to be sealed again on the next start. Before, the last one sealed
    // found the queue full and was no longer kept: carol never learned of the rename.
    alice.offline_deposits = true;
    let t = T0 + 10;
    let rename = Input::ChangeGroup {
        group,
        change: GroupRequest::Rename("renamed".into()),
    };
    for o in alice.engine.handle(&mut alice.rng, t, rename) {
        if !matches!(o, Output::FetchDirectory { .. }) {
            alice.apply(&mut relay, o);
        }
    }
    alice.restart();
    alice.offline_deposits = false;
    alice.run(&mut relay, t + 1, Input::Tick);
    all(
        &mut relay,
        &mut [&mut alice2, &mut bob, &mut bob2, &mut carol],
        t + 2,
    );
    let renamed = state(&alice, group);
    for d in [&alice2, &bob, &bob2, &carol] {
        assert!(state(d, group) == renamed, "{:?} has the rename", d.id());
    }
}
