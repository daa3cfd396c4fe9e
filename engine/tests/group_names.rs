//! Member names (PROTOCOL.md 27.2, 27.3): every member holds every member's username, a
//! member who is not a contact too, and no one can give a member a name not its own: an
//! admin's validly signed add naming a user id with another username, sent in a genuine
//! pairwise session, is refused (`GROUP_USERNAME_MISMATCH`) and reported; nothing changes.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Username;
use sealpost_core::v2::group::{Change, GroupError, GroupOp, GroupState, Invitee};
use sealpost_core::v2::{DeviceBundle, GroupId, SessionStore};
use sealpost_engine::LookupOutcome;
use sealpost_engine::codec::Codec;
use sealpost_engine::payload::Payload;
use support::groups::*;
use support::*;

fn group_of(d: &Device, group: GroupId) -> GroupState {
    d.engine
        .groups()
        .find(|g| *g.id() == group)
        .unwrap()
        .clone()
}

fn name_in(s: &GroupState, who: &str) -> Option<String> {
    s.member(&user(who))
        .and_then(|m| m.username.as_ref().map(|u| u.as_str().to_owned()))
}

#[test]
fn every_member_knows_every_members_name_and_a_forged_name_is_refused() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut carol = register(&mut relay, "carol", 3);
    let mut dave = register_as(&mut relay, "dave", "bob", 4);
    for name in ["bob", "carol", "dave"] {
        assert_eq!(alice.lookup(&mut relay, T0, name), LookupOutcome::Found);
    }
    let group = create(&mut relay, &mut alice, &["bob", "carol"]);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 2);
    // Bob never looked carol up: she is no contact of his, yet he has her name.
    assert!(
        bob.engine
            .contact(&user("carol"))
            .is_none_or(|c| c.username.is_none())
    );
    for d in [&alice, &bob, &carol] {
        let s = group_of(d, group);
        for who in ["alice", "bob", "carol"] {
            assert_eq!(name_in(&s, who).as_deref(), Some(who));
        }
    }
    // An add by alice reaches dave with the state before it: he learns every name too.
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 3,
        sealpost_engine::GroupRequest::Add(vec![user("dave")]),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol, &mut dave],
        T0 + 4,
    );
    for d in [&bob, &carol, &dave] {
        let s = group_of(d, group);
        assert_eq!(s, group_of(&alice, group));
        assert_eq!(name_in(&s, "carol").as_deref(), Some("carol"));
        assert_eq!(name_in(&s, "dave").as_deref(), Some("dave"));
    }

    // Alice (the admin, her genuine key) names a new member "erin" under user id of
    // "mabel": signed, sealed in a genuine pairwise session from a new device of hers.
    let before = group_of(&bob, group);
    let keys = fresh_device("alice", 1, 98).keys;
    add_device(&mut relay, "alice", 1, 98, T0 + 5);
    let identity = identity_key("alice");
    let mut r = rng(9);
    let genuine = GroupOp::sign(
        &mut r,
        &identity,
        user("alice"),
        group,
        before.epoch(),
        before.head().unwrap(),
        Change::Add(vec![Invitee::new(
            Username::parse("mabel").unwrap(),
            [0x44; 32],
        )]),
    )
    .unwrap();
    let mut bytes = genuine.to_bytes().to_vec();
    let at = bytes.windows(5).position(|w| w == b"mabel").unwrap();
    bytes[at..at + 5].copy_from_slice(b"erin.");
    // Signed again over the changed bytes (RSA-2048: the signature's var16 is 258 bytes).
    bytes.truncate(bytes.len() - 258);
    let mut input = b"sealpost/v2/group-op\0".to_vec();
    input.extend_from_slice(&bytes);
    let signature = identity.sign(&mut r, &input).unwrap();
    bytes.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&signature);
    assert_eq!(
        GroupOp::from_bytes(&bytes).unwrap_err(),
        GroupError::UsernameMismatch
    );
    let payload = Payload::GroupOp {
        state: None,
        op: bytes,
    }
    .to_bytes();
    let bundle =
        DeviceBundle::from_bytes(relay.bundles.get(&(bob.user(), bob.id())).unwrap()).unwrap();
    let sealed = SessionStore::new()
        .seal(&mut r, &identity, &keys, &bundle, &payload, T0 + 6)
        .unwrap();
    relay.deposit(bob.user(), bob.id(), sealed.envelope);
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(refusals(&bob), [GroupError::UsernameMismatch]);
    assert_eq!(group_of(&bob, group), before, "nothing changed");
    // The group goes on for bob.
    say(&mut relay, &mut alice, group, T0 + 7, "still named");
    settle(&mut relay, &mut [&mut alice, &mut bob], T0 + 8);
    assert_eq!(texts(&bob), ["still named"]);
}
