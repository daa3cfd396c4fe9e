//! Two admins change a group at the same epoch (PROTOCOL.md 27.4 "Concurrent
//! operations"): members receive the two changes in both orders and every device ends
//! with the same state, which holds both changes (the senior admin's first, the other
//! signed again on top); a member removed reads nothing after; a member's forged
//! operation for that epoch is refused and reported like any other. The attacks on the
//! rule are in `group_race_attacks.rs`.
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

/// One race with the relay's randomness `seed`: alice removes dave while bob (an admin
/// too) renames; carol gets alice's change first, erin bob's. Returns the winner.
fn race(seed: u64) -> sealpost_core::UserId {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut carol = register(&mut relay, "carol", 3);
    let mut dave = register_as(&mut relay, "dave", "alice", 4);
    let mut erin = register_as(&mut relay, "erin", "bob", 5);
    alice.rng = rng(seed);
    bob.rng = rng(seed + 1000);
    for name in ["bob", "carol", "dave", "erin"] {
        assert_eq!(alice.lookup(&mut relay, T0, name), LookupOutcome::Found);
    }
    let group = create(&mut relay, &mut alice, &["bob", "carol", "dave", "erin"]);
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 1,
        GroupRequest::Promote(user("bob")),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol, &mut dave, &mut erin],
        T0 + 2,
    );
    assert_eq!(state(&erin, group), state(&alice, group));

    // At once: neither has seen the other's change.
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 3,
        GroupRequest::Remove(vec![user("dave")]),
    );
    change(
        &mut relay,
        &mut bob,
        group,
        T0 + 3,
        GroupRequest::Rename("bob's".into()),
    );
    // Alice's and bob's devices restart from storage: each still knows its last step
    // (and that it signed it).
    alice.restart();
    bob.restart();
    // Erin gets bob's change first, carol alice's (deposit order).
    relay
        .mailboxes
        .get_mut(&(erin.user(), erin.id()))
        .unwrap()
        .make_contiguous()
        .reverse();
    for d in [&mut carol, &mut erin] {
        d.receive(&mut relay, T0 + 4);
    }
    let first = |d: &Device| d.group_events.iter().find(|e| e.3 == 3).map(|e| e.1);
    assert_eq!(
        first(&carol),
        Some(user("alice")),
        "carol applied alice's first"
    );
    assert_eq!(first(&erin), Some(user("bob")), "erin applied bob's first");
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol, &mut dave, &mut erin],
        T0 + 5,
    );
    let agreed = state(&alice, group).unwrap();
    for d in [&bob, &carol, &erin] {
        assert_eq!(
            state(d, group).as_ref(),
            Some(&agreed),
            "one state everywhere"
        );
    }
    let w = winner(&carol, 3);
    for d in [&alice, &bob, &erin] {
        assert_eq!(winner(d, 3), w, "the same winner everywhere");
    }
    // Both changes hold: the loser's was signed again at the next epoch.
    let g = alice.engine.groups().next().unwrap();
    assert_eq!((g.name(), g.epoch()), ("bob's", 4));
    assert!(g.member(&user("dave")).is_none());
    assert!(state(&dave, group).is_none(), "dave knows he is out");
    for d in [&alice, &bob, &carol, &erin] {
        assert!(refusals(d).is_empty(), "{:?}", d.notices);
    }

    // Messages flow in the agreed state; dave reads nothing.
    say(&mut relay, &mut alice, group, T0 + 6, "after the race");
    say(&mut relay, &mut erin, group, T0 + 6, "erin too");
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol, &mut dave, &mut erin],
        T0 + 7,
    );
    for d in [&bob, &carol] {
        let mut got = texts(d);
        got.sort();
        assert_eq!(got, ["after the race", "erin too"]);
    }
    assert!(texts(&dave).is_empty());

    // Carol (not an admin) signs her own operation for the epoch of erin's last step
    // (where a concurrent one is still settled) and sends it to erin in a genuine
    // pairwise session: refused and reported, nothing changes.
    let keys = fresh_device("carol", 1, 99).keys;
    add_device(&mut relay, "carol", 1, 99, T0 + 8);
    let identity = identity_key("carol");
    let mut r = rng(7);
    let forged = GroupOp::sign(
        &mut r,
        &identity,
        user("carol"),
        group,
        3,
        [0; 32],
        Change::Rename("carol's".into()),
    )
    .unwrap();
    let payload = Payload::GroupOp {
        state: None,
        op: forged.to_bytes().to_vec(),
    }
    .to_bytes();
    let bundle =
        DeviceBundle::from_bytes(relay.bundles.get(&(erin.user(), erin.id())).unwrap()).unwrap();
    let sealed = SessionStore::new()
        .seal(&mut r, &identity, &keys, &bundle, &payload, T0 + 9)
        .unwrap();
    relay.deposit(erin.user(), erin.id(), sealed.envelope);
    erin.receive(&mut relay, T0 + 9);
    assert_eq!(refusals(&erin), [GroupError::NotAdmin]);
    assert_eq!(state(&erin, group).unwrap(), agreed);
    w
}

#[test]
fn two_admins_change_the_group_at_once_and_every_member_converges() {
    // Neither change takes power from the other admin: the senior one's (alice created
    // the group) is kept whatever the operations hash to, and bob's rename follows it.
    for seed in 0..3 {
        assert_eq!(race(seed), user("alice"));
    }
}
