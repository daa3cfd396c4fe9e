//! Late operations (PROTOCOL.md 27.4 "Late operations"), as the relay's attacks: it holds
//! an admin's operation back from a member until another admin's operation for the same
//! epoch and one after it were applied there, which one step back cannot settle any more.
//! Every member that ends on another state than another member reports it
//! (`GROUP_FORKED`), none in silence. A copy of an operation already taken (the relay's
//! replay of the envelope, a re-send in a fresh session, after a restart too) changes
//! nothing and raises no alarm.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::GroupError;
use sealpost_engine::{GroupRequest, LookupOutcome};
use support::groups::*;
use support::*;

/// Alice creates a group with bob and carol and promotes bob (the state is at epoch 2).
fn three(relay: &mut Relay) -> (Device, Device, Device, GroupId) {
    let mut alice = register(relay, "alice", 1);
    let mut bob = register(relay, "bob", 2);
    let mut carol = register(relay, "carol", 3);
    for name in ["bob", "carol"] {
        assert_eq!(alice.lookup(relay, T0, name), LookupOutcome::Found);
    }
    let group = create(relay, &mut alice, &["bob", "carol"]);
    settle(relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 2);
    change(
        relay,
        &mut alice,
        group,
        T0 + 3,
        GroupRequest::Promote(user("bob")),
    );
    settle(relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 4);
    (alice, bob, carol, group)
}

fn epoch(d: &Device, group: GroupId) -> u64 {
    d.engine
        .groups()
        .find(|g| *g.id() == group)
        .unwrap()
        .epoch()
}

#[test]
fn an_operation_the_relay_delays_past_the_next_one_is_reported_by_every_member_it_splits() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = three(&mut relay);
    // Alice renames (her operation for epoch 2); the relay keeps it from carol, and from
    // bob for now.
    let logged = relay.log.len();
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Rename("alice's".into()),
    );
    let held = to(&relay, logged, &carol);
    assert_eq!(held.len(), 1);
    let mailbox = relay
        .mailboxes
        .get_mut(&(carol.user(), carol.id()))
        .unwrap();
    mailbox.retain(|b| b.id != held[0].id);
    // Bob, not having seen it, renames at epoch 2 too, then promotes carol (epoch 3).
    change(
        &mut relay,
        &mut bob,
        group,
        T0 + 6,
        GroupRequest::Rename("bob's".into()),
    );
    change(
        &mut relay,
        &mut bob,
        group,
        T0 + 6,
        GroupRequest::Promote(user("carol")),
    );
    carol.receive(&mut relay, T0 + 7);
    assert_eq!(epoch(&carol, group), 4);
    assert!(refusals(&carol).is_empty());
    // Alice's rename reaches carol now: for epoch 2, which she passed two steps ago.
    relay
        .mailboxes
        .get_mut(&(carol.user(), carol.id()))
        .unwrap()
        .push_back(held[0].clone());
    carol.receive(&mut relay, T0 + 8);
    assert_eq!(refusals(&carol), [GroupError::Forked]);
    // Bob gets it late too; alice keeps hers (senior) and cannot take bob's promote,
    // made on his rename's state: each of them reports it.
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 9);
    assert_eq!(refusals(&bob), [GroupError::Forked]);
    assert_eq!(refusals(&alice), [GroupError::Forked]);
    assert_eq!(refusals(&carol), [GroupError::Forked], "reported once");
    let name = |d: &Device| {
        d.engine
            .groups()
            .find(|g| *g.id() == group)
            .unwrap()
            .name()
            .to_owned()
    };
    assert_eq!(name(&alice), "alice's");
    assert_eq!(name(&carol), "bob's");
    // Restarts keep what was reported: nothing is reported twice.
    for d in [&mut alice, &mut bob, &mut carol] {
        d.restart();
    }
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 10);
    for d in [&alice, &bob, &carol] {
        assert_eq!(refusals(d), [GroupError::Forked]);
    }
}

#[test]
fn a_copy_of_an_applied_operation_is_silent_however_late_and_after_a_restart() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = three(&mut relay);
    // Alice renames and crashes before the relay's answer: after her restart she sends
    // the operation again, in fresh envelopes (PROTOCOL.md 27.7). The relay keeps bob's
    // copy back until two more operations were applied.
    alice.hold_deposit_done = true;
    let logged = relay.log.len();
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Rename("one".into()),
    );
    let first = to(&relay, logged, &bob);
    alice.restart();
    alice.hold_deposit_done = false;
    let logged = relay.log.len();
    alice.receive(&mut relay, T0 + 6);
    let resent = to(&relay, logged, &bob);
    assert_eq!(resent.len(), 1, "sent again after the restart");
    let mailbox = relay.mailboxes.get_mut(&(bob.user(), bob.id())).unwrap();
    mailbox.retain(|b| b.id != resent[0].id);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 7);
    for name in ["two", "three"] {
        change(
            &mut relay,
            &mut alice,
            group,
            T0 + 8,
            GroupRequest::Rename(name.into()),
        );
        settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 9);
    }
    assert_eq!(epoch(&bob, group), 5);
    let events = bob.group_events.len();
    // The relay replays the first envelope (a replay in the pairwise session), and hands
    // over the re-sent copy, after a restart of bob's: both change nothing, silently.
    bob.restart();
    for b in first.iter().chain(&resent) {
        relay.deposit(bob.user(), bob.id(), b.bytes.clone());
    }
    bob.receive(&mut relay, T0 + 10);
    assert!(refusals(&bob).is_empty(), "{:?}", refusals(&bob));
    assert_eq!(bob.group_events.len(), events, "nothing applied twice");
    assert_eq!(epoch(&bob, group), 5);
}

/// Operations a device remembers per group (`engine/src/groups/taken.rs`, PROTOCOL.md
/// 27.4 "Late operations").
const REMEMBERED: usize = 64;

#[test]
fn an_operation_the_relay_delays_past_all_a_device_remembers_is_reported_not_dropped() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = three(&mut relay);
    // Alice renames at epoch 2; the relay keeps it from carol.
    let logged = relay.log.len();
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Rename("alice's".into()),
    );
    let held = to(&relay, logged, &carol);
    assert_eq!(held.len(), 1);
    let mailbox = relay
        .mailboxes
        .get_mut(&(carol.user(), carol.id()))
        .unwrap();
    mailbox.retain(|b| b.id != held[0].id);
    // Bob, not having seen it, renames at epoch 2 and then again and again: carol
    // passes more epochs than she remembers operations.
    for i in 0..=REMEMBERED {
        change(
            &mut relay,
            &mut bob,
            group,
            T0 + 6,
            GroupRequest::Rename(format!("bob's {i}")),
        );
    }
    carol.receive(&mut relay, T0 + 7);
    assert_eq!(epoch(&carol, group), 3 + REMEMBERED as u64);
    assert!(refusals(&carol).is_empty());
    // Alice's rename reaches carol now, for an epoch older than every operation she
    // remembers: it may be a copy or one she never saw. Reported, not dropped silently.
    let events = carol.group_events.len();
    relay
        .mailboxes
        .get_mut(&(carol.user(), carol.id()))
        .unwrap()
        .push_back(held[0].clone());
    carol.receive(&mut relay, T0 + 8);
    assert_eq!(refusals(&carol), [GroupError::TooOld]);
    assert_eq!(carol.group_events.len(), events, "not applied");
    assert_eq!(epoch(&carol, group), 3 + REMEMBERED as u64);
    // Reported once: the envelope was taken, a restart does not bring it back.
    carol.restart();
    carol.receive(&mut relay, T0 + 9);
    assert_eq!(refusals(&carol), [GroupError::TooOld]);
}

#[test]
fn a_copy_of_an_applied_operation_older_than_the_last_64_is_still_silent() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = three(&mut relay);
    // Alice renames and crashes before the relay's answer: she sends the operation again
    // after her restart, and the relay keeps bob's second copy back.
    alice.hold_deposit_done = true;
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Rename("one".into()),
    );
    alice.restart();
    alice.hold_deposit_done = false;
    let logged = relay.log.len();
    alice.receive(&mut relay, T0 + 6);
    let resent = to(&relay, logged, &bob);
    assert_eq!(resent.len(), 1, "sent again after the restart");
    let mailbox = relay.mailboxes.get_mut(&(bob.user(), bob.id())).unwrap();
    mailbox.retain(|b| b.id != resent[0].id);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 7);
    // Then more operations than bob remembers with their epochs.
    for i in 0..=REMEMBERED {
        change(
            &mut relay,
            &mut alice,
            group,
            T0 + 8,
            GroupRequest::Rename(format!("{i}")),
        );
    }
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 9);
    assert_eq!(epoch(&bob, group), 4 + REMEMBERED as u64);
    let events = bob.group_events.len();
    // The relay hands the copy over now, after a restart of bob's: he took that
    // operation (its digest is still kept), so it is a copy, silently. Before, it was
    // reported as GROUP_TOO_OLD, a security alarm the relay could raise at will.
    bob.restart();
    relay.deposit(bob.user(), bob.id(), resent[0].bytes.clone());
    bob.receive(&mut relay, T0 + 10);
    assert!(refusals(&bob).is_empty(), "{:?}", refusals(&bob));
    assert_eq!(bob.group_events.len(), events, "nothing applied");
    assert_eq!(epoch(&bob, group), 4 + REMEMBERED as u64);
}

/// What the relay took for `d` since `logged`.
fn to(relay: &Relay, logged: usize, d: &Device) -> Vec<Blob> {
    relay.log[logged..]
        .iter()
        .filter(|(u, dev, _)| (*u, *dev) == (d.user(), d.id()))
        .map(|(_, _, b)| b.clone())
        .collect()
}
