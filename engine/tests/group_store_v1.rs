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

use std::collections::BTreeMap;

use sealpost_core::Error;
use sealpost_core::v2::group::GroupState;
use sealpost_core::v2::{DeviceId, GroupId};
use sealpost_engine::{Engine, GroupRequest, Part, Unreadable};
use support::groups::*;
use support::*;
use zeroize::Zeroizing;

type Store = BTreeMap<Part, Zeroizing<Vec<u8>>>;

const NAMES: [&str; 5] = ["alice", "alice2", "bob", "carol", "dave"];

struct Fixture {
    group: GroupId,
    relay: Relay,
    stores: BTreeMap<String, Store>,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/group_store_v1.txt");
    let mut relay = Relay::default();
    let mut stores: BTreeMap<String, Store> = BTreeMap::new();
    let mut group = None;
    let h = |s: &str| hex::decode(s).unwrap();
    for (i, line) in text.lines().filter(|l| !l.starts_with('#')).enumerate() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "group" => group = Some(GroupId::from_bytes(h(f[1]).try_into().unwrap())),
            "list" => {
                relay.lists.insert(user_id(f[1]), h(f[2]));
            }
            "bundle" => {
                relay
                    .bundles
                    .insert((user_id(f[1]), device_id(f[2])), h(f[3]));
            }
            "mail" => relay
                .mailboxes
                .entry((user_id(f[1]), device_id(f[2])))
                .or_default()
                .push_back(Blob {
                    id: format!("fixture{i}"),
                    bytes: h(f[3]),
                }),
            "part" => {
                let part = *Part::ALL.iter().find(|p| format!("{p:?}") == f[2]).unwrap();
                stores
                    .entry(f[1].to_string())
                    .or_default()
                    .insert(part, Zeroizing::new(h(f[3])));
            }
            other => panic!("unknown line {other}"),
        }
    }
    Fixture {
        group: group.unwrap(),
        relay,
        stores,
    }
}

fn user_id(hex: &str) -> sealpost_core::UserId {
    sealpost_core::UserId::from_bytes(hex::decode(hex).unwrap().try_into().unwrap())
}

fn device_id(hex: &str) -> DeviceId {
    DeviceId::from_bytes(hex::decode(hex).unwrap().try_into().unwrap())
}

fn restore(store: &Store) -> Result<Engine, Unreadable> {
    Engine::restore(|part| store.get(&part).cloned())
}

/// The five devices, restored from the fixture (new seeds: the old ones would draw the
/// message ids already used).
fn devices(f: &mut Fixture) -> Vec<Device> {
    NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let store = f.stores[*name].clone();
            let engine = restore(&store).unwrap();
            let mut d = device(engine, Vec::new(), &mut f.relay, 100 + i as u64);
            d.store = store;
            d
        })
        .collect()
}

fn settle_all(relay: &mut Relay, ds: &mut [Device], now: u64) {
    let mut refs: Vec<&mut Device> = ds.iter_mut().collect();
    settle(relay, &mut refs, now);
}

fn group_state(d: &Device, group: GroupId) -> GroupState {
    GroupState::from_bytes(&state(d, group).unwrap()).unwrap()
}

#[test]
fn a_store_with_format_1_groups_loads_and_the_group_goes_on() {
    let mut f = fixture();
    let group = f.group;
    let mut ds = devices(&mut f);
    // Nothing else in the store changed: every other part encodes to the stored bytes.
    for (name, d) in NAMES.iter().zip(&ds) {
        for (part, bytes) in &f.stores[*name] {
            if *part != Part::Groups {
                assert_eq!(d.engine.save(*part).unwrap(), *bytes, "{name} {part:?}");
            }
        }
    }
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

    // Dave takes the rename that waited for him, and ends where the others are.
    settle_all(&mut f.relay, &mut ds, T0 + 20);
    assert_eq!(state(&ds[4], group), state(&ds[0], group));
    // Messages both ways, from the upgraded devices.
    say(
        &mut f.relay,
        &mut ds[3],
        group,
        T0 + 21,
        "carol after the upgrade",
    );
    say(
        &mut f.relay,
        &mut ds[4],
        group,
        T0 + 21,
        "dave after the upgrade",
    );
    settle_all(&mut f.relay, &mut ds, T0 + 22);
    for (i, d) in ds.iter().enumerate() {
        let t = texts(d);
        if i != 3 {
            assert!(t.contains(&"carol after the upgrade".to_string()), "{i}");
        }
        if i != 4 {
            assert!(t.contains(&"dave after the upgrade".to_string()), "{i}");
        }
    }
    // A further operation applies everywhere: bob (an upgraded admin) promotes carol,
    // who becomes junior to both (admin_since 4); then alice removes dave.
    change(
        &mut f.relay,
        &mut ds[2],
        group,
        T0 + 23,
        GroupRequest::Promote(user("carol")),
    );
    settle_all(&mut f.relay, &mut ds, T0 + 24);
    let s = group_state(&ds[0], group);
    assert_eq!(
        (s.epoch(), s.member(&user("carol")).unwrap().admin_since),
        (4, 4)
    );
    change(
        &mut f.relay,
        &mut ds[0],
        group,
        T0 + 25,
        GroupRequest::Remove(vec![user("dave")]),
    );
    settle_all(&mut f.relay, &mut ds, T0 + 26);
    say(&mut f.relay, &mut ds[1], group, T0 + 27, "without dave");
    settle_all(&mut f.relay, &mut ds, T0 + 28);
    for d in &ds[..4] {
        assert_eq!(group_state(d, group).epoch(), 5);
        assert_eq!(state(d, group), state(&ds[0], group));
    }
    for d in [&ds[0], &ds[2], &ds[3]] {
        assert_eq!(texts(d).last().unwrap(), "without dave");
    }
    assert!(!texts(&ds[4]).contains(&"without dave".to_string()));
    assert!(refusals(&ds[0]).is_empty() && refusals(&ds[3]).is_empty());

    // One-to-one sessions and contacts came through: alice writes to carol again.
    ds[0].send(&mut f.relay, T0 + 29, "carol", "direct after the upgrade");
    settle_all(&mut f.relay, &mut ds, T0 + 30);
    assert_eq!(ds[3].texts(), ["direct after the upgrade"]);
    // Saved in format 2 now, and a restart reads it back.
    for d in ds.iter_mut() {
        let before = state(d, group);
        d.restart();
        assert_eq!(state(d, group), before);
    }
}

#[test]
fn fail_a_truncated_or_garbage_groups_part_fails_the_restore_with_its_name_and_changes_nothing() {
    let f = fixture();
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
    let f = fixture();
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
