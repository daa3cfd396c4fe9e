//! Races for one epoch of a group as an attacker runs them (PROTOCOL.md 27.4 "Concurrent
//! operations"), on the members' engines: an admin being removed signs 200 operations
//! for the same epoch and delivers them around the removal, and never wins (a member
//! its operation removed first is back once the removal arrives); two admins
//! removing each other end with the senior one's removal on every member device,
//! whichever order each device got them in (a member with two devices gets them in
//! both); a demoted admin's concurrent change loses and is not signed again.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Username;
use sealpost_core::v2::group::{Change, GroupError, GroupOp, Invitee};
use sealpost_core::v2::{DeviceBundle, GroupId, SessionStore};
use sealpost_engine::codec::Codec;
use sealpost_engine::payload::Payload;
use sealpost_engine::{GroupRequest, LookupOutcome};
use support::groups::*;
use support::*;

/// Alice, bob, carol (two devices) and dave.
struct People {
    alice: Device,
    bob: Device,
    carol: Device,
    carol2: Device,
    dave: Device,
}

impl People {
    fn get(&mut self, name: &str) -> &mut Device {
        match name {
            "alice" => &mut self.alice,
            "bob" => &mut self.bob,
            "carol" => &mut self.carol,
            "carol2" => &mut self.carol2,
            "dave" => &mut self.dave,
            _ => panic!("{name}"),
        }
    }

    fn all(&mut self) -> [&mut Device; 5] {
        [
            &mut self.alice,
            &mut self.bob,
            &mut self.carol,
            &mut self.carol2,
            &mut self.dave,
        ]
    }
}

/// `senior` creates the group with the three others and promotes `junior`: two admins,
/// `senior` the more senior. Every device is at epoch 2 (the raced operations are
/// signed for it and make epoch 3).
fn group(senior: &str, junior: &str) -> (Relay, People, GroupId) {
    let mut relay = Relay::default();
    let alice = register(&mut relay, "alice", 1);
    let bob = register(&mut relay, "bob", 2);
    let mut carol = register(&mut relay, "carol", 3);
    let carol2 = add_device(&mut relay, "carol", 1, 33, T0);
    carol.receive(&mut relay, T0);
    let dave = register_as(&mut relay, "dave", "bob", 4);
    let mut p = People {
        alice,
        bob,
        carol,
        carol2,
        dave,
    };
    let others: Vec<&str> = ["alice", "bob", "carol", "dave"]
        .into_iter()
        .filter(|n| *n != senior)
        .collect();
    let creator = p.get(senior);
    for name in &others {
        assert_eq!(creator.lookup(&mut relay, T0, name), LookupOutcome::Found);
    }
    let id = create(&mut relay, creator, &others);
    change(
        &mut relay,
        creator,
        id,
        T0 + 1,
        GroupRequest::Promote(user(junior)),
    );
    settle(&mut relay, &mut p.all(), T0 + 2);
    let agreed = state(&p.alice, id);
    for d in p.all() {
        assert_eq!(state(d, id), agreed);
    }
    (relay, p, id)
}

/// Reverses what waits in `d`'s mailbox: it gets the raced operations in the other
/// order.
fn reverse_mailbox(relay: &mut Relay, d: &Device) {
    relay
        .mailboxes
        .get_mut(&(d.user(), d.id()))
        .unwrap()
        .make_contiguous()
        .reverse();
}

/// Alice and bob remove each other at once; `reversed` members get them in the other
/// order than deposited (carol's two devices always in different orders). The senior
/// admin's removal is kept on every device; the other one is out and reads nothing
/// after.
fn mutual_removal(senior: &str, junior: &str, reversed: &[&str]) {
    let (mut relay, mut p, id) = group(senior, junior);
    for (actor, target) in [(senior, junior), (junior, senior)] {
        change(
            &mut relay,
            p.get(actor),
            id,
            T0 + 3,
            GroupRequest::Remove(vec![user(target)]),
        );
    }
    for name in reversed {
        reverse_mailbox(&mut relay, p.get(name));
    }
    // A restart in between: the race is in the store.
    p.carol2.restart();
    for name in ["carol", "carol2", "dave"] {
        p.get(name).receive(&mut relay, T0 + 4);
    }
    let first = |d: &Device| {
        d.group_events
            .iter()
            .find(|e| e.3 == 3)
            .map(|e| e.1)
            .unwrap()
    };
    assert_ne!(
        first(&p.carol),
        first(&p.carol2),
        "carol's devices applied different ones first"
    );
    settle(&mut relay, &mut p.all(), T0 + 5);
    let agreed = state(p.get(senior), id).unwrap();
    for name in ["carol", "carol2", "dave"] {
        let d = p.get(name);
        assert_eq!(state(d, id).as_ref(), Some(&agreed), "{name}: one state");
        assert_eq!(winner(d, 3), user(senior), "{name}: the senior's removal");
        assert!(refusals(d).is_empty(), "{name}: {:?}", d.notices);
    }
    assert!(
        state(p.get(junior), id).is_none(),
        "the junior knows it is out"
    );
    let g = p.get(senior).engine.groups().next().unwrap().clone();
    assert_eq!(g.epoch(), 3);
    assert!(g.member(&user(junior)).is_none() && g.is_admin(&user(senior)));

    say(&mut relay, p.get(senior), id, T0 + 6, "after the race");
    say(&mut relay, p.get("carol2"), id, T0 + 6, "me too");
    settle(&mut relay, &mut p.all(), T0 + 7);
    for name in ["carol", "dave"] {
        let mut got = texts(p.get(name));
        got.sort();
        assert_eq!(got, ["after the race", "me too"], "{name}");
    }
    assert!(
        texts(p.get(junior)).is_empty(),
        "the removed admin reads nothing"
    );
}

#[test]
fn mutual_removal_converges_on_the_senior_admin_in_both_arrival_orders() {
    // Alice created the group (senior), bob was promoted; then the other way round.
    mutual_removal("alice", "bob", &["carol2"]);
    mutual_removal("alice", "bob", &["carol", "dave"]);
    mutual_removal("bob", "alice", &["carol2"]);
    mutual_removal("bob", "alice", &["carol", "dave"]);
}

#[test]
fn a_removed_admin_grinding_200_operations_never_wins() {
    let (mut relay, mut p, id) = group("alice", "bob");
    let before = p.alice.engine.groups().next().unwrap().clone();
    let head = before.head().unwrap();
    // Bob's ground operations, all for the epoch alice removes him at, sealed in
    // genuine pairwise sessions from a device of his account.
    let keys = fresh_device("bob", 1, 99).keys;
    add_device(&mut relay, "bob", 1, 99, T0 + 3);
    let identity = identity_key("bob");
    let mut r = rng(7);
    let escapes = [
        Change::Remove(vec![user("alice")]),
        Change::Demote(user("alice")),
        Change::Add(vec![Invitee::new(
            Username::parse("mallory").unwrap(),
            [0x33; 32],
        )]),
        Change::Promote(user("dave")),
        Change::Rename("bob's now".into()),
        Change::Remove(vec![user("carol")]),
    ];
    let ground: Vec<GroupOp> = (0..200)
        .map(|i| {
            let change = escapes[i % escapes.len()].clone();
            GroupOp::sign(
                &mut r,
                &identity,
                user("bob"),
                id,
                before.epoch(),
                head,
                change,
            )
            .unwrap()
        })
        .collect();
    let remove_dave = GroupOp::sign(
        &mut r,
        &identity,
        user("bob"),
        id,
        before.epoch(),
        head,
        Change::Remove(vec![user("dave")]),
    )
    .unwrap();
    let mut store = SessionStore::new();
    let mut deliver = |relay: &mut Relay, ops: &[GroupOp], to: &Device| {
        let bundle =
            DeviceBundle::from_bytes(relay.bundles.get(&(to.user(), to.id())).unwrap()).unwrap();
        for op in ops {
            let payload = Payload::GroupOp {
                state: None,
                op: op.to_bytes().to_vec(),
            }
            .to_bytes();
            let sealed = store
                .seal(&mut r, &identity, &keys, &bundle, &payload, T0 + 3)
                .unwrap();
            relay.deposit(to.user(), to.id(), sealed.envelope);
        }
    };
    // Half before alice's removal, half after, in every member's mailbox; dave first
    // gets one that removes him, and applies it: out of the group until the race is
    // settled.
    deliver(&mut relay, &[remove_dave], &p.dave);
    for name in ["alice", "carol", "carol2", "dave"] {
        deliver(&mut relay, &ground[..100], p.get(name));
    }
    change(
        &mut relay,
        &mut p.alice,
        id,
        T0 + 3,
        GroupRequest::Remove(vec![user("bob")]),
    );
    for name in ["alice", "carol", "carol2", "dave"] {
        deliver(&mut relay, &ground[100..], p.get(name));
    }
    reverse_mailbox(&mut relay, &p.carol2);
    settle(&mut relay, &mut p.all(), T0 + 4);
    let agreed = state(&p.alice, id).unwrap();
    for name in ["carol", "carol2", "dave"] {
        let d = p.get(name);
        assert_eq!(state(d, id).as_ref(), Some(&agreed), "{name}: one state");
        assert_eq!(winner(d, before.epoch() + 1), user("alice"), "{name}");
        assert!(refusals(d).is_empty(), "{name}: {:?}", d.notices);
    }
    assert!(
        p.dave
            .group_events
            .iter()
            .any(|e| e.1 == user("bob") && e.2 == Change::Remove(vec![user("dave")])),
        "dave was out for a while"
    );
    let g = p.alice.engine.groups().next().unwrap().clone();
    assert_eq!(g.epoch(), before.epoch() + 1, "nothing of bob's on top");
    assert_eq!(g.name(), before.name());
    for u in ["bob", "mallory"] {
        assert!(g.member(&user(u)).is_none());
    }
    assert!(g.is_admin(&user("alice")) && !g.is_admin(&user("dave")));
    assert!(state(&p.bob, id).is_none());
}

#[test]
fn a_demoted_admins_concurrent_change_loses_and_is_not_signed_again() {
    // Alice created the group (the senior admin); bob, the junior, demotes her while she
    // renames it.
    let (mut relay, mut p, id) = group("alice", "bob");
    change(
        &mut relay,
        &mut p.bob,
        id,
        T0 + 3,
        GroupRequest::Demote(user("alice")),
    );
    change(
        &mut relay,
        &mut p.alice,
        id,
        T0 + 3,
        GroupRequest::Rename("alice's".into()),
    );
    reverse_mailbox(&mut relay, &p.carol);
    p.alice.restart();
    settle(&mut relay, &mut p.all(), T0 + 4);
    let agreed = state(&p.bob, id).unwrap();
    for name in ["alice", "carol", "carol2", "dave"] {
        let d = p.get(name);
        assert_eq!(state(d, id).as_ref(), Some(&agreed), "{name}: one state");
        assert_eq!(winner(d, 3), user("bob"), "{name}");
    }
    let g = p.bob.engine.groups().next().unwrap().clone();
    assert_eq!(
        (g.epoch(), g.name()),
        (3, "friends"),
        "the rename lost for good"
    );
    assert!(!g.is_admin(&user("alice")) && g.member(&user("alice")).is_some());
    // Alice's device tried to sign its rename again and was refused: she is told.
    assert_eq!(refusals(&p.alice), [GroupError::NotAdmin]);
    for name in ["bob", "carol", "carol2", "dave"] {
        assert!(refusals(p.get(name)).is_empty(), "{name}");
    }
}
