//! A store written with group state format 2 and operations in format 1 (the formats of
//! d5f0b0c, before member usernames and the prior state's head) still loads: the fixture
//! `fixtures/group_store_v2.txt` holds every stored part of five devices (alice with two,
//! bob, carol, dave), the relay's directory and one waiting blob, as the engine at d5f0b0c
//! wrote them. The scenario is the one of `group_store_v1.rs`: created by alice with bob,
//! carol and dave, bob promoted (epoch 2), renamed by bob (epoch 3) while dave was offline
//! (his store is at epoch 2, the rename waits in his mailbox); group messages and a
//! one-to-one message were exchanged. Made by a throwaway test at d5f0b0c: register alice
//! (seed 1, a second device seed 11), bob (2), carol (3), dave (4, bob's fixture keys),
//! alice looks up the three, create, `say`, promote, `say`, `send`, rename, settle without
//! dave, then print each part in hex.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use support::groups::*;
use support::stored::*;
use support::*;

#[test]
fn a_store_with_format_2_groups_loads_and_the_group_goes_on() {
    let mut f = fixture(include_str!("fixtures/group_store_v2.txt"));
    let group = f.group;
    let mut ds = devices(&mut f);
    other_parts_unchanged(&f, &ds);
    let s = group_state(&ds[0], group);
    assert_eq!((s.epoch(), s.name()), (3, "old friends"));
    assert_eq!(s.members().len(), 4);
    assert_eq!(s.member(&user("alice")).unwrap().admin_since, 1);
    assert_eq!(s.member(&user("bob")).unwrap().admin_since, 2);
    for d in &ds[1..4] {
        assert_eq!(state(d, group), state(&ds[0], group));
    }
    assert_eq!(group_state(&ds[4], group).epoch(), 2);
    // Read as legacy states (PROTOCOL.md 27.2 "Format 2"): no head, no usernames.
    assert!(s.is_legacy());
    assert!(s.members().values().all(|m| m.username.is_none()));
    carry_on(&mut f, &mut ds);
}
