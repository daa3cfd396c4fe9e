//! Groups in the engine (PROTOCOL.md 27.7), as attacks: a member added later reads
//! nothing from before, a removed member reads nothing after and what it keeps sending
//! is refused, a forged membership change is refused and reported, the relay drops,
//! replays and reorders group messages and operations, a mailbox refuses the deposit,
//! and two devices of one account act at once. Every group message is one upload.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::group::{Change, GroupError, GroupOp};
use sealpost_core::v2::{DeviceBundle, SessionStore};
use sealpost_engine::codec::Codec;
use sealpost_engine::payload::Payload;
use sealpost_engine::{GroupRequest, LookupOutcome};
use support::groups::*;
use support::*;

/// Alice (two devices), bob and carol; alice knows bob and carol.
fn people(relay: &mut Relay) -> [Device; 4] {
    let mut alice = register(relay, "alice", 1);
    let alice2 = add_device(relay, "alice", 1, 11, T0);
    alice.receive(relay, T0);
    let bob = register(relay, "bob", 2);
    let carol = register(relay, "carol", 3);
    for name in ["bob", "carol"] {
        assert_eq!(alice.lookup(relay, T0, name), LookupOutcome::Found);
    }
    [alice, alice2, bob, carol]
}

#[test]
fn a_group_is_created_and_each_message_is_one_upload_with_delivery_states() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    for d in [&alice2, &bob, &carol] {
        assert_eq!(d.group_events.len(), 1, "every member device joined");
        assert_eq!(d.group_events[0].0, group);
    }
    let uploads = relay.uploads;
    let hello = say(&mut relay, &mut alice, group, T0 + 3, "hello");
    assert_eq!(
        relay.uploads,
        uploads + 1,
        "one upload for every member device"
    );
    assert_eq!(alice.updates.get(&hello), Some(&(0, 2)));
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 4,
    );
    for d in [&alice2, &bob, &carol] {
        assert_eq!(texts(d), ["hello"]);
    }
    assert!(alice2.group_delivered[0].own);
    assert_eq!(
        alice.updates.get(&hello),
        Some(&(2, 2)),
        "delivered to 2 of 2"
    );
    let reply = say(&mut relay, &mut bob, group, T0 + 5, "hi alice");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 6,
    );
    for d in [&alice, &alice2, &carol] {
        assert_eq!(texts(d).last().unwrap(), "hi alice");
        assert_eq!(d.group_delivered.last().unwrap().from, bob.user());
    }
    assert_eq!(bob.updates.get(&reply), Some(&(2, 2)));
    // Each device gave its chain to each other member device once.
    let uploads = relay.uploads;
    let deposits = relay.log.len();
    say(&mut relay, &mut alice, group, T0 + 7, "again");
    assert_eq!(relay.uploads, uploads + 1);
    assert_eq!(
        relay.log.len(),
        deposits + 3,
        "the blob to 3 mailboxes, no new chain"
    );
}

#[test]
fn a_member_added_later_reads_nothing_from_before_and_renames_reach_everyone() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob"]);
    settle(&mut relay, &mut [&mut alice, &mut alice2, &mut bob], T0 + 2);
    say(&mut relay, &mut alice, group, T0 + 3, "before carol");
    let before = relay.log.last().unwrap().2.bytes.clone();
    settle(&mut relay, &mut [&mut alice, &mut alice2, &mut bob], T0 + 4);
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Add(vec![user("carol")]),
    );
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Rename("best friends".into()),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 6,
    );
    say(&mut relay, &mut alice, group, T0 + 7, "welcome carol");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 8,
    );
    assert_eq!(texts(&carol), ["welcome carol"]);
    assert_eq!(texts(&bob), ["before carol", "welcome carol"]);
    // The relay hands carol the message from before she joined: nothing to read.
    relay.deposit(carol.user(), carol.id(), before);
    carol.receive(&mut relay, T0 + 9);
    assert_eq!(texts(&carol), ["welcome carol"]);
    let renamed = |d: &Device| {
        d.group_events
            .iter()
            .any(|(_, _, c, _)| *c == Change::Rename("best friends".into()))
    };
    assert!([&alice2, &bob, &carol].into_iter().all(renamed));
}

#[test]
fn a_removed_member_reads_nothing_after_and_what_it_keeps_sending_is_refused() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    say(&mut relay, &mut carol, group, T0 + 2, "too early");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    say(&mut relay, &mut carol, group, T0 + 3, "carol here");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 4,
    );
    assert_eq!(texts(&bob).last().unwrap(), "carol here");
    // Carol's device as it is before the removal, kept by an attacker.
    let zombie_store = carol.store.clone();
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 5,
        GroupRequest::Remove(vec![user("carol")]),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 6,
    );
    assert!(
        carol
            .group_events
            .iter()
            .any(|(_, _, c, _)| *c == Change::Remove(vec![user("carol")])),
        "carol knows she is out"
    );
    say(&mut relay, &mut alice, group, T0 + 7, "after carol");
    let after = relay.log.last().unwrap().2.bytes.clone();
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 8,
    );
    assert_eq!(texts(&bob).last().unwrap(), "after carol");
    // Carol is handed the new message: she cannot read it, even with her old chains.
    relay.deposit(carol.user(), carol.id(), after.clone());
    carol.receive(&mut relay, T0 + 9);
    assert!(!texts(&carol).contains(&"after carol".to_string()));
    carol.store = zombie_store;
    carol.restart();
    relay.deposit(carol.user(), carol.id(), after);
    carol.receive(&mut relay, T0 + 9);
    assert!(!texts(&carol).contains(&"after carol".to_string()));
    // ...and what she keeps sending with her old chain is refused and reported.
    let bob_texts = texts(&bob).len();
    say(&mut relay, &mut carol, group, T0 + 10, "still here");
    settle(&mut relay, &mut [&mut alice, &mut bob], T0 + 11);
    assert_eq!(texts(&bob).len(), bob_texts, "never shown");
    assert!(refusals(&bob).contains(&GroupError::NotMember));
    assert!(refusals(&alice).contains(&GroupError::NotMember));
}

#[test]
fn a_forged_membership_change_is_refused_and_reported() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    // Carol (a member, not an admin) cannot remove bob on her own device...
    change(
        &mut relay,
        &mut carol,
        group,
        T0 + 3,
        GroupRequest::Remove(vec![user("bob")]),
    );
    assert_eq!(refusals(&carol), [GroupError::NotAdmin]);
    // ...so she signs the operation herself and sends it to bob from a new device of
    // her account, in a genuine pairwise session.
    let keys = fresh_device("carol", 1, 99).keys;
    add_device(&mut relay, "carol", 1, 99, T0 + 3);
    let identity = identity_key("carol");
    let mut rng = rng(5);
    let forged = GroupOp::sign(
        &mut rng,
        &identity,
        user("carol"),
        group,
        1,
        [0; 32],
        Change::Remove(vec![user("bob")]),
    )
    .unwrap();
    let payload = Payload::GroupOp {
        state: None,
        op: forged.to_bytes().to_vec(),
    }
    .to_bytes();
    let bundle =
        DeviceBundle::from_bytes(relay.bundles.get(&(bob.user(), bob.id())).unwrap()).unwrap();
    let sealed = SessionStore::new()
        .seal(&mut rng, &identity, &keys, &bundle, &payload, T0 + 4)
        .unwrap();
    relay.deposit(bob.user(), bob.id(), sealed.envelope);
    bob.receive(&mut relay, T0 + 4);
    assert_eq!(refusals(&bob), [GroupError::NotAdmin]);
    assert_eq!(bob.group_events.len(), 1, "nothing changed");
    // Bob is still in and still reads alice.
    say(&mut relay, &mut alice, group, T0 + 5, "still with bob");
    settle(&mut relay, &mut [&mut alice, &mut bob], T0 + 6);
    assert_eq!(texts(&bob), ["still with bob"]);
}

#[test]
fn dropped_replayed_and_reordered_operations_and_messages_change_nothing_twice() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    relay.reorder = Some(rng(42));
    let group = create(&mut relay, &mut alice, &["bob"]);
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 1,
        GroupRequest::Rename("one".into()),
    );
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 1,
        GroupRequest::Rename("two".into()),
    );
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 1,
        GroupRequest::Add(vec![user("carol")]),
    );
    say(&mut relay, &mut alice, group, T0 + 1, "m1");
    say(&mut relay, &mut alice, group, T0 + 1, "m2");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    // Whatever the order, every operation applied once, in epoch order.
    let epochs: Vec<u64> = bob.group_events.iter().map(|e| e.3).collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
    let mut got = texts(&bob);
    got.sort();
    assert_eq!(got, ["m1", "m2"]);
    // The relay replays everything it ever carried to bob: nothing new, no refusal.
    relay.reorder = None;
    relay.replay_to(&bob);
    settle(&mut relay, &mut [&mut bob], T0 + 3);
    assert_eq!(bob.group_events.len(), 4);
    assert_eq!(texts(&bob).len(), 2);
    assert!(refusals(&bob).is_empty(), "{:?}", bob.notices);
    // A dropped group message: the mailbox that lost it does not get it back by
    // itself (it is the relay's to keep), but nothing else suffers.
    relay.drop_next = 1;
    say(&mut relay, &mut alice, group, T0 + 4, "m3");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 5,
    );
    let seen = [&alice2, &bob, &carol]
        .iter()
        .filter(|d| texts(d).contains(&"m3".to_string()))
        .count();
    assert_eq!(seen, 2);
}

#[test]
fn a_full_mailbox_gets_the_group_message_on_a_later_tick() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    relay.full.insert((carol.user(), carol.id()));
    say(&mut relay, &mut alice, group, T0 + 3, "later for carol");
    settle(&mut relay, &mut [&mut bob, &mut carol], T0 + 4);
    assert_eq!(texts(&bob), ["later for carol"]);
    assert!(texts(&carol).is_empty());
    relay.full.clear();
    // The outbox survives a restart too.
    alice.restart();
    settle(&mut relay, &mut [&mut alice, &mut carol], T0 + 5);
    assert_eq!(texts(&carol), ["later for carol"]);
}

#[test]
fn two_devices_of_one_account_write_at_once_and_both_are_read() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    say(&mut relay, &mut alice, group, T0 + 3, "from the laptop");
    say(&mut relay, &mut alice2, group, T0 + 3, "from the phone");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 4,
    );
    for d in [&bob, &carol] {
        let mut got = texts(d);
        got.sort();
        assert_eq!(got, ["from the laptop", "from the phone"]);
        let devices: std::collections::BTreeSet<_> =
            d.group_delivered.iter().map(|m| m.from_device).collect();
        assert_eq!(devices.len(), 2, "each device its own chain");
    }
    assert_eq!(texts(&alice), ["from the phone"]);
    assert_eq!(texts(&alice2), ["from the laptop"]);
}

#[test]
fn a_message_handed_over_before_its_chain_is_read_once_the_chain_arrives() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    say(&mut relay, &mut alice, group, T0 + 3, "first");
    // The relay hands bob the group message first, then alice's chain.
    let mailbox = relay.mailboxes.get_mut(&(bob.user(), bob.id())).unwrap();
    let message = mailbox.pop_back().unwrap();
    mailbox.push_front(message);
    bob.receive(&mut relay, T0 + 4);
    assert_eq!(texts(&bob), ["first"], "read in the same connection");
    assert_eq!(
        relay.waiting(bob.user(), bob.id()),
        0,
        "everything acknowledged"
    );
}

#[test]
fn a_member_who_leaves_tells_members_it_never_wrote_to() {
    let mut relay = Relay::default();
    let [mut alice, mut alice2, mut bob, mut carol] = people(&mut relay);
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    // Carol and bob never exchanged anything: once out, carol is no longer in a group
    // with bob, and he is not her contact; her leave still reaches him.
    change(&mut relay, &mut carol, group, T0 + 3, GroupRequest::Leave);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 4,
    );
    for d in [&alice, &alice2, &bob] {
        let (_, actor, change, epoch) = d.group_events.last().cloned().unwrap();
        assert_eq!((actor, change, epoch), (user("carol"), Change::Leave, 2));
    }
}
