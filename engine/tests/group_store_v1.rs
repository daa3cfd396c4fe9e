//! A store written before group state format 2 (commit bc62016) still loads, upgraded
//! (PROTOCOL.md 27.2 "Format 1"): the fixture `fixtures/group_store_v1.txt` holds every
//! stored part of five devices (alice with two, bob, carol, dave), the relay's directory
//! and one waiting blob, as the engine at bc62016^ wrote them. The group there: created by
//! alice with bob, carol and dave, bob promoted (epoch 2), renamed by bob (epoch 3) while
//! dave was offline (his store is at epoch 2, the rename waits in his mailbox); group
//! messages and a one-to-one message were exchanged. The fixture was made by a throwaway
//! test at bc62016^ (run with the `support` of that commit): register alice (seed 1, a
//! second device seed 11), bob (2), carol (3), dave (4, bob's fixture keys), create,
//! `say`, promote, `say`, `send`, rename, settle, then print each part in hex.
//!
//! Also the attacker's and the disk's side: a truncated or garbage groups part fails the
//! restore with the part named, and a failed restore changes no stored byte.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Error;
use sealpost_engine::{Part, Unreadable};
use support::groups::*;
use support::stored::*;
use support::*;
use zeroize::Zeroizing;

#[test]
fn a_store_with_format_1_groups_loads_and_the_group_goes_on() {
    let mut f = fixture(include_str!("fixtures/group_store_v1.txt"));
    let group = f.group;
    let mut ds = devices(&mut f);
    other_parts_unchanged(&f, &ds);
    for name in ["bob", "carol", "dave"] {
        assert!(ds[0].engine.contact(&user(name)).is_some_and(|c| c.engaged));
    }
    // Upgraded: admins alice and bob ranked by user id (27.2 "Format 1"), the same bytes
    // on every device at epoch 3; dave, at epoch 2, holds the same admins.
    let (alice, bob) = (user("alice"), user("bob"));
    let first = if alice < bob { alice } else { bob };
    let second = if alice < bob { bob } else { alice };
    let s = group_state(&ds[0], group);
    assert_eq!((s.epoch(), s.name()), (3, "old friends"));
    assert_eq!(s.members().len(), 4);
    assert_eq!(s.member(&first).unwrap().admin_since, 1);
    assert_eq!(s.member(&second).unwrap().admin_since, 2);
    assert_eq!(s.member(&user("carol")).unwrap().admin_since, 0);
    for d in &ds[1..4] {
        assert_eq!(state(d, group), state(&ds[0], group));
    }
    assert_eq!(group_state(&ds[4], group).epoch(), 2);

    carry_on(&mut f, &mut ds);
}

#[test]
fn fail_a_truncated_or_garbage_groups_part_fails_the_restore_with_its_name_and_changes_nothing() {
    let f = fixture(include_str!("fixtures/group_store_v1.txt"));
    let good = f.stores["alice"].clone();
    let groups = good[&Part::Groups].clone();
    let mut bad: Vec<Vec<u8>> = [1, 2, 10, 100, groups.len() / 2, groups.len() - 1]
        .iter()
        .map(|n| groups[..*n].to_vec())
        .collect();
    let mut garbage = groups.to_vec();
    for (i, b) in garbage.iter_mut().enumerate().skip(8) {
        *b = b.wrapping_mul(31).wrapping_add(i as u8);
    }
    bad.push(garbage);
    bad.push(vec![0xff; 64]);
    let mut longer = groups.to_vec();
    longer.push(0);
    bad.push(longer);
    for bytes in bad {
        let mut store = good.clone();
        store.insert(Part::Groups, Zeroizing::new(bytes.clone()));
        let kept = store.clone();
        let err = restore(&store).err().unwrap();
        assert_eq!(
            err,
            Unreadable {
                part: Part::Groups,
                error: Error::Malformed
            },
            "{} bytes",
            bytes.len()
        );
        assert_eq!(store, kept, "a failed restore changes no stored byte");
    }
    // The untouched store still loads.
    assert!(restore(&good).is_ok());
}

#[test]
fn fail_a_format_1_state_with_a_bad_admin_flag_or_too_many_admins_is_refused() {
    let f = fixture(include_str!("fixtures/group_store_v1.txt"));
    let good = f.stores["carol"].clone();
    let groups = good[&Part::Groups].to_vec();
    // The session's state: the first 'G',1 tag in the part.
    let at = groups.windows(2).position(|w| w == [b'G', 1]).unwrap();
    let epoch_at = at + 2 + 16;
    let mut flag = groups.clone();
    // The last member's admin flag is the state's last byte; the state's length is in
    // the session's var32 before it.
    let len_at = at - 4;
    let len = u32::from_be_bytes(groups[len_at..at].try_into().unwrap()) as usize;
    flag[at + len - 1] = 2;
    let mut early = groups.clone();
    // Epoch 1 with two admins: no history makes that.
    early[epoch_at..epoch_at + 8].copy_from_slice(&1u64.to_be_bytes());
    early[epoch_at + 8..epoch_at + 16].copy_from_slice(&1u64.to_be_bytes());
    for bytes in [flag, early] {
        let mut store = good.clone();
        store.insert(Part::Groups, Zeroizing::new(bytes));
        assert_eq!(restore(&store).err().unwrap().part, Part::Groups);
    }
}
