//! A member that is no admin revokes one of its devices: its own devices tell every
//! member device of its groups (`DeviceLeft`, PROTOCOL.md 17.1, 27.2 "Devices"), each
//! reads the member's list again at once, and an admin rekeys at its next connection,
//! not an hour later. The notice is only a hint: a member that floods them costs a
//! lookup a minute, a stranger's or non-member's asks for nothing, a replayed one does
//! nothing, and one the relay drops leaves the hourly path (`group_device_revoke.rs`).
//! The revoked device, with everything it kept and everything the relay ever carried to
//! it, cannot open what follows: each test proves it by trying.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::UserId;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::Change;
use sealpost_engine::limits::DEVICE_LEFT_INTERVAL;
use sealpost_engine::payload::Payload;
use sealpost_engine::{GroupRequest, Input, LookupOutcome};
use support::groups::*;
use support::strangers::Stranger;
use support::*;

/// Minutes after the group was set up: every copy of a list is older than
/// [`DEVICE_LEFT_INTERVAL`], none older than `RESEND_AFTER`.
const T: u64 = T0 + 300;

/// Alice (the only admin), bob (devices `bob`, then `extra` more) and carol in a group
/// alice created; carol wrote once (she read bob's list); everyone settled.
fn group_with_bob(relay: &mut Relay, extra: usize) -> (Device, Vec<Device>, Device, GroupId) {
    let mut alice = register(relay, "alice", 1);
    let mut bob = vec![register(relay, "bob", 2)];
    for n in 0..extra {
        bob.push(add_device(relay, "bob", n + 1, 20 + n as u64, T0));
    }
    bob[0].receive(relay, T0);
    let mut carol = register(relay, "carol", 3);
    for name in ["bob", "carol"] {
        assert_eq!(alice.lookup(relay, T0, name), LookupOutcome::Found);
    }
    let group = create(relay, &mut alice, &["bob", "carol"]);
    let mut all: Vec<&mut Device> = vec![&mut alice, &mut carol];
    all.extend(bob.iter_mut());
    settle(relay, &mut all, T0 + 2);
    say(relay, all[1], group, T0 + 2, "before");
    settle(relay, &mut all, T0 + 3);
    for b in &bob {
        assert_eq!(texts(b).last().unwrap(), "before");
    }
    (alice, bob, carol, group)
}

fn epoch(d: &Device, group: GroupId) -> u64 {
    d.engine
        .groups()
        .find(|g| *g.id() == group)
        .map(|g| g.epoch())
        .unwrap()
}

fn rekeys(d: &Device) -> usize {
    d.group_events
        .iter()
        .filter(|e| e.2 == Change::Rekey)
        .count()
}

/// How many times `d` asked the directory for `user`.
fn lookups_of(d: &Device, user: UserId) -> usize {
    d.fetched.iter().filter(|u| **u == user).count()
}

/// The blob deposited last: a group message just sent (the same blob in every mailbox).
fn last_group_blob(relay: &Relay) -> Vec<u8> {
    relay.log.last().unwrap().2.bytes.clone()
}

/// `zombie` (a revoked device) as it is, and as it was (`kept`), is handed everything
/// the relay ever carried to it and the group messages `blobs`: it shows none of `said`.
fn reads_nothing_of(
    relay: &mut Relay,
    zombie: &mut Device,
    kept: &std::collections::BTreeMap<sealpost_engine::Part, zeroize::Zeroizing<Vec<u8>>>,
    blobs: &[Vec<u8>],
    said: &[&str],
    now: u64,
) {
    for restore in [false, true] {
        if restore {
            zombie.store = kept.clone();
            zombie.restart();
        }
        relay.replay_to(zombie);
        for blob in blobs {
            relay.deposit(zombie.user(), zombie.id(), blob.clone());
        }
        zombie.receive(relay, now);
        for text in said {
            assert!(!texts(zombie).contains(&text.to_string()), "{text} read");
        }
    }
}

#[test]
fn a_member_revoking_its_device_is_rekeyed_at_the_admins_next_connection() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = group_with_bob(&mut relay, 1);
    let mut bob2 = bob.pop().unwrap();
    let mut bob = bob.pop().unwrap();
    let kept = bob2.store.clone();
    let carried = carried_count(&relay, &bob2);
    let at = epoch(&alice, group);
    // Bob is no admin: his revocation changes no group, but tells its members.
    bob.run(&mut relay, T, Input::RevokeDevice { device: bob2.id() });
    assert_eq!(rekeys(&bob), 0);
    assert_eq!(epoch(&bob, group), at);
    // Alice connects a second later, sends nothing: she reads bob's list and rekeys.
    let before = lookups_of(&alice, bob.user());
    alice.receive(&mut relay, T + 1);
    assert_eq!(lookups_of(&alice, bob.user()), before + 1);
    assert_eq!(rekeys(&alice), 1, "one rekey follows the notice");
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 2);
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 1);
    }
    assert_eq!(rekeys(&alice), 1);
    // Both the admin and a member that is no admin write in the new key epoch: neither
    // gives its new chain to bob2 (carol read bob's list on his notice too).
    say(&mut relay, &mut alice, group, T + 3, "alice after bob2");
    let from_alice = last_group_blob(&relay);
    say(&mut relay, &mut carol, group, T + 4, "carol after bob2");
    let from_carol = last_group_blob(&relay);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 5);
    assert!(texts(&bob).contains(&"alice after bob2".to_string()));
    assert_eq!(texts(&bob).last().unwrap(), "carol after bob2");
    assert_eq!(texts(&carol).last().unwrap(), "alice after bob2");
    // Nothing was sealed to bob2 since: no operation, and no chain (a chain is its key,
    // whatever state the device holds), by the admin or by carol.
    assert_eq!(carried_count(&relay, &bob2), carried);
    reads_nothing_of(
        &mut relay,
        &mut bob2,
        &kept,
        &[from_alice, from_carol],
        &["alice after bob2", "carol after bob2"],
        T + 6,
    );
}

#[test]
fn a_member_flooding_notices_costs_one_lookup_a_minute_and_no_rekey() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let (mut mallory, mut mallory_device) = Stranger::register(&mut relay, "mallory", 9);
    for name in ["bob", "mallory"] {
        assert_eq!(alice.lookup(&mut relay, T0, name), LookupOutcome::Found);
    }
    let group = create(&mut relay, &mut alice, &["bob", "mallory"]);
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut mallory_device],
        T0 + 2,
    );
    let at = epoch(&alice, group);
    let notices = alice.notices.len();
    let of = mallory.user();
    let asked = |alice: &Device| lookups_of(alice, of);
    let start = asked(&alice);
    // A member's 50 notices at once: one lookup now.
    for _ in 0..50 {
        mallory.seal(&mut relay, &alice, &Payload::DeviceLeft, T);
    }
    alice.receive(&mut relay, T);
    assert_eq!(asked(&alice), start + 1);
    // The ones that came within the minute wait for it to pass: one more lookup then,
    // and none with the ticks after it.
    for s in [10, 30, DEVICE_LEFT_INTERVAL - 1] {
        alice.run(&mut relay, T + s, Input::Tick);
    }
    assert_eq!(asked(&alice), start + 1, "none within the minute");
    for s in [DEVICE_LEFT_INTERVAL, DEVICE_LEFT_INTERVAL + 60, 600] {
        alice.run(&mut relay, T + s, Input::Tick);
    }
    assert_eq!(asked(&alice), start + 2, "one more once the minute passed");
    // Another flood later: again one lookup now and one deferred, never more.
    let later = T + 1200;
    for _ in 0..20 {
        mallory.seal(&mut relay, &alice, &Payload::DeviceLeft, later);
    }
    alice.receive(&mut relay, later);
    for s in 1..=5 {
        alice.run(&mut relay, later + 30 * s, Input::Tick);
    }
    assert_eq!(asked(&alice), start + 4);
    // Mallory's list never lost a device: nothing rekeyed, nothing reported.
    assert_eq!(rekeys(&alice), 0);
    assert_eq!(epoch(&alice, group), at);
    assert_eq!(
        alice.notices.len(),
        notices,
        "{:?}",
        &alice.notices[notices..]
    );
}

#[test]
fn a_strangers_or_non_members_notice_asks_for_nothing() {
    let mut relay = Relay::default();
    let (mut alice, bob, mut carol, group) = group_with_bob(&mut relay, 0);
    let _ = bob;
    // Dave is alice's contact but in none of her groups; eve is nobody's contact.
    let (mut dave, _dave_device) = Stranger::register(&mut relay, "dave", 7);
    assert_eq!(alice.lookup(&mut relay, T0, "dave"), LookupOutcome::Found);
    let (mut eve, _eve_device) = Stranger::register(&mut relay, "eve", 8);
    // Eve's first message has alice look her up once (a first contact, 18.1).
    eve.sessions(&mut relay, &alice, 1, T);
    alice.receive(&mut relay, T);
    let (dave_asked, eve_asked) = (
        lookups_of(&alice, dave.user()),
        lookups_of(&alice, eve.user()),
    );
    let notices = alice.notices.len();
    let at = epoch(&alice, group);
    for _ in 0..5 {
        dave.seal(&mut relay, &alice, &Payload::DeviceLeft, T + 100);
        eve.seal(&mut relay, &alice, &Payload::DeviceLeft, T + 100);
    }
    alice.receive(&mut relay, T + 100);
    for m in 1..=3 {
        alice.run(&mut relay, T + 100 + 60 * m, Input::Tick);
    }
    assert_eq!(lookups_of(&alice, dave.user()), dave_asked);
    assert_eq!(lookups_of(&alice, eve.user()), eve_asked);
    // Ignored, not reported: a notice asks for nothing, and a member just removed sends
    // one in good faith. Taken from the relay all the same.
    assert_eq!(
        alice.notices.len(),
        notices,
        "{:?}",
        &alice.notices[notices..]
    );
    assert_eq!(relay.waiting(alice.user(), alice.id()), 0);
    assert_eq!(rekeys(&alice), 0);
    assert_eq!(epoch(&alice, group), at);
    // Carol (no admin) is told nothing by them either: her groups go on as they were.
    carol.receive(&mut relay, T + 400);
    assert_eq!(epoch(&carol, group), at);
}

#[test]
fn a_replayed_notice_does_nothing_new() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = group_with_bob(&mut relay, 1);
    let bob2 = bob.pop().unwrap();
    let mut bob = bob.pop().unwrap();
    bob.run(&mut relay, T, Input::RevokeDevice { device: bob2.id() });
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 1);
    let at = epoch(&alice, group);
    assert_eq!(rekeys(&alice), 1);
    let asked = lookups_of(&alice, bob.user());
    // Long after the interval, the relay hands alice everything it ever carried to her
    // again, bob's notice included: refused as a replay (16.3), no lookup.
    relay.replay_to(&alice);
    alice.receive(&mut relay, T + 10 * DEVICE_LEFT_INTERVAL);
    alice.run(&mut relay, T + 12 * DEVICE_LEFT_INTERVAL, Input::Tick);
    assert_eq!(lookups_of(&alice, bob.user()), asked);
    assert_eq!(rekeys(&alice), 1);
    assert_eq!(epoch(&alice, group), at);
    assert_eq!(relay.waiting(alice.user(), alice.id()), 0);
}

#[test]
fn an_admin_offline_when_the_notice_comes_rekeys_when_it_is_back() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = group_with_bob(&mut relay, 1);
    let mut bob2 = bob.pop().unwrap();
    let mut bob = bob.pop().unwrap();
    let kept = bob2.store.clone();
    let carried = carried_count(&relay, &bob2);
    let at = epoch(&alice, group);
    bob.run(&mut relay, T, Input::RevokeDevice { device: bob2.id() });
    // Alice is away (her app closed): the others go on without her.
    settle(&mut relay, &mut [&mut bob, &mut carol], T + 1);
    assert_eq!(epoch(&carol, group), at);
    // She comes back half an hour later, from what she stored, and sends nothing.
    alice.restart();
    alice.receive(&mut relay, T + 1800);
    assert_eq!(rekeys(&alice), 1);
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol],
        T + 1801,
    );
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 1);
    }
    say(&mut relay, &mut alice, group, T + 1802, "back, after bob2");
    let blob = last_group_blob(&relay);
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol],
        T + 1803,
    );
    assert_eq!(texts(&bob).last().unwrap(), "back, after bob2");
    assert_eq!(carried_count(&relay, &bob2), carried);
    reads_nothing_of(
        &mut relay,
        &mut bob2,
        &kept,
        &[blob],
        &["back, after bob2"],
        T + 1804,
    );
}

#[test]
fn two_devices_of_the_member_telling_at_once_make_one_rekey() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = group_with_bob(&mut relay, 2);
    let mut bob3 = bob.pop().unwrap();
    let mut bob2 = bob.pop().unwrap();
    let mut bob = bob.pop().unwrap();
    let kept = bob2.store.clone();
    let carried = carried_count(&relay, &bob2);
    let at = epoch(&alice, group);
    let asked = lookups_of(&alice, bob.user());
    bob.run(&mut relay, T, Input::RevokeDevice { device: bob2.id() });
    // Bob3 is told by bob, reads the account's list, and tells the members too.
    let told = relay.log.len();
    bob3.receive(&mut relay, T + 1);
    assert!(
        relay.log[told..]
            .iter()
            .any(|(u, d, _)| *u == alice.user() && *d == alice.id()),
        "bob3 tells alice too"
    );
    // Alice takes both notices on one connection: one lookup, one rekey; the second
    // notice's lookup waits for the minute and finds the list she already has.
    alice.receive(&mut relay, T + 2);
    assert_eq!(lookups_of(&alice, bob.user()), asked + 1);
    assert_eq!(rekeys(&alice), 1);
    for m in 1..=3 {
        alice.run(&mut relay, T + 2 + 60 * m, Input::Tick);
    }
    assert_eq!(lookups_of(&alice, bob.user()), asked + 2);
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut bob3, &mut carol],
        T + 300,
    );
    assert_eq!(rekeys(&alice), 1, "one rekey for one revoked device");
    for d in [&alice, &bob, &bob3, &carol] {
        assert_eq!(epoch(d, group), at + 1);
    }
    // Bob3 writes in the new key epoch: its chain does not go to bob2 either.
    say(&mut relay, &mut bob3, group, T + 301, "bob3 after bob2");
    let blob = last_group_blob(&relay);
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut bob3, &mut carol],
        T + 302,
    );
    assert_eq!(texts(&alice).last().unwrap(), "bob3 after bob2");
    assert_eq!(texts(&bob).last().unwrap(), "bob3 after bob2");
    assert_eq!(carried_count(&relay, &bob2), carried);
    reads_nothing_of(
        &mut relay,
        &mut bob2,
        &kept,
        &[blob],
        &["bob3 after bob2"],
        T + 303,
    );
}

#[test]
fn a_co_admin_told_of_an_admins_own_revocation_makes_one_key_epoch_step_with_it() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 3,
        GroupRequest::Promote(user("carol")),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 4,
    );
    say(&mut relay, &mut carol, group, T0 + 4, "carol, admin");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 5,
    );
    assert_eq!(texts(&alice2).last().unwrap(), "carol, admin");
    let kept = alice2.store.clone();
    let carried = carried_count(&relay, &alice2);
    let at = epoch(&alice, group);
    alice.run(
        &mut relay,
        T,
        Input::RevokeDevice {
            device: alice2.id(),
        },
    );
    assert_eq!(rekeys(&alice), 1, "alice rekeys at once, as before");
    assert_eq!(epoch(&alice, group), at + 1);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 1);
    // Carol gets alice's notice before her rekey (it is queued first): she reads alice's
    // list and rekeys too, for the same epoch; the race keeps one (27.4). Had the relay
    // handed her the rekey first, she could not tell that it came after alice2 left
    // and would rotate once more (27.2 "Devices": harmless, one more round of chains).
    let state_of_alice = state(&alice, group);
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 1, "one key epoch step");
        assert_eq!(state(d, group), state_of_alice);
    }
    say(&mut relay, &mut carol, group, T + 2, "carol after alice2");
    let blob = last_group_blob(&relay);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 3);
    assert_eq!(texts(&alice).last().unwrap(), "carol after alice2");
    assert_eq!(texts(&bob).last().unwrap(), "carol after alice2");
    assert_eq!(carried_count(&relay, &alice2), carried);
    reads_nothing_of(
        &mut relay,
        &mut alice2,
        &kept,
        &[blob],
        &["carol after alice2"],
        T + 4,
    );
}

#[test]
fn a_second_revocation_within_the_minute_is_not_lost() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut carol, group) = group_with_bob(&mut relay, 2);
    let mut bob3 = bob.pop().unwrap();
    let bob2 = bob.pop().unwrap();
    let mut bob = bob.pop().unwrap();
    let kept = bob3.store.clone();
    let at = epoch(&alice, group);
    bob.run(&mut relay, T, Input::RevokeDevice { device: bob2.id() });
    alice.receive(&mut relay, T + 1);
    assert_eq!(rekeys(&alice), 1);
    // Ten seconds on, bob revokes bob3 too: alice read his list nine seconds ago, so
    // this notice's lookup waits for the minute, and is not dropped.
    bob.run(
        &mut relay,
        T + 10,
        Input::RevokeDevice { device: bob3.id() },
    );
    alice.receive(&mut relay, T + 11);
    assert_eq!(rekeys(&alice), 1, "within the minute: no lookup yet");
    alice.run(&mut relay, T + 1 + DEVICE_LEFT_INTERVAL, Input::Tick);
    assert_eq!(
        rekeys(&alice),
        2,
        "the tick after the minute reads the list"
    );
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 100);
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 2);
    }
    say(&mut relay, &mut carol, group, T + 101, "after bob3");
    let blob = last_group_blob(&relay);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T + 102);
    assert_eq!(texts(&bob).last().unwrap(), "after bob3");
    reads_nothing_of(
        &mut relay,
        &mut bob3,
        &kept,
        &[blob],
        &["after bob3"],
        T + 103,
    );
}
