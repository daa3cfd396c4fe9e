//! Group states stored in format 1 (before commit bc62016; PROTOCOL.md 27.2 "Format 1"):
//! a device's own stored state is upgraded (admins ranked by user id get `admin_since`
//! 1, 2, …), a state from another device in format 1 is refused, and a format-1 state
//! no history can make is refused too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use sealpost_core::Username;
use sealpost_core::v2::group::{GroupError, GroupState};

/// A format-1 state: `(user, admin flag)` in any order (sorted here).
fn v1(epoch: u64, key_epoch: u64, members: &[(&str, u8)]) -> Vec<u8> {
    let mut m: Vec<([u8; 32], u8)> = members
        .iter()
        .map(|(n, f)| (*Username::parse(n).unwrap().user_id().as_bytes(), *f))
        .collect();
    m.sort();
    let mut out = vec![b'G', 1];
    out.extend_from_slice(&[7; 16]);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&key_epoch.to_be_bytes());
    out.push(7);
    out.extend_from_slice(b"friends");
    out.extend_from_slice(&(m.len() as u16).to_be_bytes());
    for (user, flag) in m {
        out.extend_from_slice(&user);
        out.extend_from_slice(&[9; 32]);
        out.push(flag);
    }
    out
}

fn id(name: &str) -> sealpost_core::UserId {
    Username::parse(name).unwrap().user_id()
}

#[test]
fn a_stored_format_1_state_is_upgraded_with_admins_ranked_by_user_id() {
    let bytes = v1(5, 2, &[("alice", 1), ("bob", 0), ("carol", 1), ("dave", 1)]);
    assert!(GroupState::is_format_1(&bytes));
    let s = GroupState::from_stored_bytes(&bytes).unwrap();
    assert_eq!((s.epoch(), s.key_epoch(), s.name()), (5, 2, "friends"));
    let mut admins = [id("alice"), id("carol"), id("dave")];
    admins.sort();
    for (rank, user) in admins.iter().enumerate() {
        assert_eq!(s.member(user).unwrap().admin_since, rank as u64 + 1);
    }
    assert_eq!(s.member(&id("bob")).unwrap().admin_since, 0);
    // Written back in format 2, which both parsers read as the same state.
    let v2 = s.to_bytes().unwrap();
    assert!(!GroupState::is_format_1(&v2));
    assert_eq!(GroupState::from_bytes(&v2).unwrap(), s);
    assert_eq!(GroupState::from_stored_bytes(&v2).unwrap(), s);
    // The same input upgrades to the same bytes (every member holds that input).
    assert_eq!(
        GroupState::from_stored_bytes(&bytes)
            .unwrap()
            .to_bytes()
            .unwrap(),
        v2
    );
    // As many admins as the epoch is the most any history makes: still read.
    let full = v1(2, 1, &[("alice", 1), ("bob", 1)]);
    assert!(GroupState::from_stored_bytes(&full).is_ok());
}

#[test]
fn fail_format_1_from_another_device_is_malformed() {
    let bytes = v1(5, 2, &[("alice", 1), ("bob", 0)]);
    assert_eq!(GroupState::from_bytes(&bytes), Err(GroupError::Malformed));
}

#[test]
fn fail_format_1_states_no_history_makes_or_with_bad_bytes_are_malformed() {
    let bad = [
        // More admins than operations: create makes one, every later operation one more.
        v1(2, 1, &[("alice", 1), ("bob", 1), ("carol", 1)]),
        // No admin.
        v1(3, 1, &[("alice", 0), ("bob", 0)]),
        // An admin flag other than 0 or 1.
        v1(3, 1, &[("alice", 1), ("bob", 2)]),
        // key_epoch above epoch, or 0.
        v1(3, 4, &[("alice", 1)]),
        v1(3, 0, &[("alice", 1)]),
    ];
    for bytes in bad {
        assert_eq!(
            GroupState::from_stored_bytes(&bytes),
            Err(GroupError::Malformed)
        );
    }
    let good = v1(3, 1, &[("alice", 1), ("bob", 0)]);
    for n in 0..good.len() {
        assert_eq!(
            GroupState::from_stored_bytes(&good[..n]),
            Err(GroupError::Malformed),
            "truncated to {n}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(
        GroupState::from_stored_bytes(&longer),
        Err(GroupError::Malformed)
    );
    // Unsorted members.
    let mut swapped = v1(3, 1, &[("alice", 1), ("bob", 0)]);
    let at = 2 + 16 + 16 + 8 + 2;
    let (a, b) = swapped[at..].split_at_mut(65);
    a.swap_with_slice(b);
    assert_eq!(
        GroupState::from_stored_bytes(&swapped),
        Err(GroupError::Malformed)
    );
}
