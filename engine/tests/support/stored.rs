//! Stores written by an older engine (`tests/fixtures/group_store_v*.txt`): every stored
//! part of five devices (alice with two, bob, carol, dave), the relay's directory and the
//! blobs waiting in mailboxes, one item a line (`group`, `list`, `bundle`, `mail`, `part`).

use std::collections::BTreeMap;

use sealpost_core::UserId;
use sealpost_core::v2::group::GroupState;
use sealpost_core::v2::{DeviceId, GroupId};
use sealpost_engine::{Engine, GroupRequest, Part, Unreadable};
use zeroize::Zeroizing;

use super::groups::{change, refusals, say, settle, state, texts};
use super::{Blob, Device, Relay, T0, device, user};

pub type Store = BTreeMap<Part, Zeroizing<Vec<u8>>>;

/// The devices of a fixture, in this order.
pub const NAMES: [&str; 5] = ["alice", "alice2", "bob", "carol", "dave"];

pub struct Fixture {
    pub group: GroupId,
    pub relay: Relay,
    pub stores: BTreeMap<String, Store>,
}

/// Reads a fixture file's text.
pub fn fixture(text: &str) -> Fixture {
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

fn user_id(hex: &str) -> UserId {
    UserId::from_bytes(hex::decode(hex).unwrap().try_into().unwrap())
}

fn device_id(hex: &str) -> DeviceId {
    DeviceId::from_bytes(hex::decode(hex).unwrap().try_into().unwrap())
}

pub fn restore(store: &Store) -> Result<Engine, Unreadable> {
    Engine::restore(|part| store.get(&part).cloned())
}

/// The five devices, restored from the fixture (new seeds: the old ones would draw the
/// message ids already used).
pub fn devices(f: &mut Fixture) -> Vec<Device> {
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

pub fn settle_all(relay: &mut Relay, ds: &mut [Device], now: u64) {
    let mut refs: Vec<&mut Device> = ds.iter_mut().collect();
    settle(relay, &mut refs, now);
}

pub fn group_state(d: &Device, group: GroupId) -> GroupState {
    GroupState::from_bytes(&state(d, group).unwrap()).unwrap()
}

/// Nothing but the groups part changed: every other part encodes to the stored bytes,
/// but the outbox, written in its format 4 once loaded (numbered messages, PROTOCOL.md
/// 17.2), and loaded again to the same outbox.
pub fn other_parts_unchanged(f: &Fixture, ds: &[Device]) {
    for (name, d) in NAMES.iter().zip(ds) {
        for (part, bytes) in &f.stores[*name] {
            let saved = d.engine.save(*part).unwrap();
            if *part == Part::Outbox {
                assert_eq!(saved[..2], *b"O\x04", "{name}");
                let mut store = f.stores[*name].clone();
                store.insert(Part::Outbox, saved.clone());
                let again = restore(&store).unwrap().save(Part::Outbox).unwrap();
                assert_eq!(again, saved, "{name}");
            } else if *part != Part::Groups {
                assert_eq!(saved, *bytes, "{name} {part:?}");
            }
        }
    }
}

/// The fixture's group goes on after the load: dave (offline at epoch 2) takes the rename
/// that waited for him and ends where the others are (epoch 3), carol and dave write and
/// everyone reads, bob promotes carol (admin since 4), alice removes dave (who reads
/// nothing after), a one-to-one message goes through, and a restart reads the groups
/// back as saved.
pub fn carry_on(f: &mut Fixture, ds: &mut [Device]) {
    let group = f.group;
    // Dave takes the rename that waited for him, and ends where the others are.
    settle_all(&mut f.relay, ds, T0 + 20);
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
    settle_all(&mut f.relay, ds, T0 + 22);
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
    settle_all(&mut f.relay, ds, T0 + 24);
    let s = group_state(&ds[0], group);
    assert_eq!(
        (s.epoch(), s.member(&user("carol")).unwrap().admin_since),
        (4, 4)
    );
    // Dave's rename was a format-1 operation on a legacy state (27.3 "Format 1"); bob's
    // promote is format 2: the state has a head now, its old members still no username.
    assert!(!s.is_legacy());
    assert!(s.member(&user("carol")).unwrap().username.is_none());
    change(
        &mut f.relay,
        &mut ds[0],
        group,
        T0 + 25,
        GroupRequest::Remove(vec![user("dave")]),
    );
    settle_all(&mut f.relay, ds, T0 + 26);
    say(&mut f.relay, &mut ds[1], group, T0 + 27, "without dave");
    settle_all(&mut f.relay, ds, T0 + 28);
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
    settle_all(&mut f.relay, ds, T0 + 30);
    assert_eq!(ds[3].texts(), ["direct after the upgrade"]);
    // Saved in the current format now, and a restart reads it back.
    for d in ds.iter_mut() {
        let before = state(d, group);
        d.restart();
        assert_eq!(state(d, group), before);
    }
}
