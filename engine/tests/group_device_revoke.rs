//! A device that leaves its account's list is rotated out of every group of that
//! account (PROTOCOL.md 27.2 "Devices", 27.7): an admin revoking its own device rekeys
//! at once, an admin that learns another member's shorter list rekeys then (when the
//! relay dropped the member's notice, `group_device_left.rs`, at the latest when the
//! relay refuses the revoked mailbox on a group send), and two admins
//! learning at once make one key epoch step. The revoked device, with everything it
//! kept, cannot open what follows: each test proves it by trying.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::Change;
use sealpost_engine::{GroupRequest, Input, LookupOutcome};
use support::groups::*;
use support::*;

/// Alice, bob (two devices) and carol in a group alice created; everyone settled.
fn bob_twice(relay: &mut Relay) -> ([Device; 4], GroupId) {
    let mut alice = register(relay, "alice", 1);
    let mut bob = register(relay, "bob", 2);
    let mut bob2 = add_device(relay, "bob", 1, 22, T0);
    bob.receive(relay, T0);
    let mut carol = register(relay, "carol", 3);
    for name in ["bob", "carol"] {
        assert_eq!(alice.lookup(relay, T0, name), LookupOutcome::Found);
    }
    let group = create(relay, &mut alice, &["bob", "carol"]);
    settle(
        relay,
        &mut [&mut alice, &mut bob, &mut bob2, &mut carol],
        T0 + 2,
    );
    ([alice, bob, bob2, carol], group)
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

/// `zombie` (a revoked device) is handed `blob`: it must not show `text`.
fn cannot_open(relay: &mut Relay, zombie: &mut Device, blob: &[u8], text: &str, now: u64) {
    relay.deposit(zombie.user(), zombie.id(), blob.to_vec());
    zombie.receive(relay, now);
    assert!(!texts(zombie).contains(&text.to_string()));
}

/// The blob deposited last: a group message just sent (the same blob in every mailbox).
fn last_group_blob(relay: &Relay) -> Vec<u8> {
    relay.log.last().unwrap().2.bytes.clone()
}

#[test]
fn an_admin_revoking_its_own_device_rekeys_and_the_device_reads_nothing_after() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    say(&mut relay, &mut alice, group, T0 + 3, "before");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 4,
    );
    assert_eq!(texts(&bob).last().unwrap(), "before");
    // alice2 as it is before the revocation, kept by an attacker.
    let kept = alice2.store.clone();
    let at = epoch(&alice, group);
    alice.run(
        &mut relay,
        T0 + 5,
        Input::RevokeDevice {
            device: alice2.id(),
        },
    );
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 6);
    assert_eq!(rekeys(&alice), 1, "one rekey follows the revocation");
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 1);
    }
    say(&mut relay, &mut alice, group, T0 + 7, "after alice2");
    let after = last_group_blob(&relay);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 8);
    assert_eq!(texts(&bob).last().unwrap(), "after alice2");
    assert_eq!(texts(&carol).last().unwrap(), "after alice2");
    say(&mut relay, &mut bob, group, T0 + 9, "bob after alice2");
    let bob_after = last_group_blob(&relay);
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 10);
    assert_eq!(texts(&carol).last().unwrap(), "bob after alice2");
    for kept in [None, Some(kept)] {
        if let Some(kept) = kept {
            alice2.store = kept;
            alice2.restart();
        }
        cannot_open(&mut relay, &mut alice2, &after, "after alice2", T0 + 11);
        cannot_open(
            &mut relay,
            &mut alice2,
            &bob_after,
            "bob after alice2",
            T0 + 11,
        );
    }
}

#[test]
fn a_member_revoking_its_device_is_rekeyed_by_the_admin_once_a_send_finds_it_gone_if_the_notice_is_lost()
 {
    let mut relay = Relay::default();
    let ([mut alice, mut bob, mut bob2, mut carol], group) = bob_twice(&mut relay);
    say(&mut relay, &mut carol, group, T0 + 3, "before");
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut bob2, &mut carol],
        T0 + 4,
    );
    assert_eq!(texts(&bob2).last().unwrap(), "before");
    let kept = bob2.store.clone();
    let at = epoch(&alice, group);
    // Bob is no admin: his revocation changes no group by itself. The relay drops the
    // notice it makes bob send to the members (`group_device_left.rs`): the admins
    // learn of it the slower way.
    for d in [&alice, &carol] {
        relay.drop_envelopes.insert((d.user(), d.id()), 1);
    }
    bob.run(
        &mut relay,
        T0 + 5,
        Input::RevokeDevice { device: bob2.id() },
    );
    settle(&mut relay, &mut [&mut alice, &mut bob, &mut carol], T0 + 6);
    alice.receive(&mut relay, T0 + 600);
    assert_eq!(rekeys(&alice), 0, "the notice was lost");
    // The relay deleted bob2's mailbox: deposits to it are refused (`unknown_device`).
    relay.full.insert((bob.user(), bob2.id()));
    // Alice's next send to the group, an hour on (her copy of bob's list is older than
    // RESEND_AFTER), finds it refused: she reads bob's list again and rekeys.
    let later = T0 + 3600 + 10;
    say(&mut relay, &mut alice, group, later, "still with bob2");
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol],
        later + 1,
    );
    assert_eq!(rekeys(&alice), 1, "one rekey follows the shorter list");
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 1);
    }
    // The relay keeps refusing bob2's deleted mailbox: alice's waiting message no longer
    // waits for it, so her ticks deposit nothing more (before: again every minute).
    let uploads = relay.uploads;
    for minute in 1..=3 {
        alice.run(&mut relay, later + 1 + 60 * minute, Input::Tick);
    }
    assert_eq!(
        relay.uploads, uploads,
        "no deposit again to a revoked device"
    );
    let later = later + 200;
    say(&mut relay, &mut alice, group, later + 2, "after bob2");
    let after = last_group_blob(&relay);
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol],
        later + 3,
    );
    assert_eq!(texts(&bob).last().unwrap(), "after bob2");
    for kept in [None, Some(kept)] {
        if let Some(kept) = kept {
            bob2.store = kept;
            bob2.restart();
        }
        cannot_open(&mut relay, &mut bob2, &after, "after bob2", later + 4);
    }
}

#[test]
fn two_admins_learning_of_a_revoked_device_at_once_make_one_key_epoch_step() {
    let mut relay = Relay::default();
    let ([mut alice, mut bob, mut bob2, mut carol], group) = bob_twice(&mut relay);
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 3,
        GroupRequest::Promote(user("carol")),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut bob2, &mut carol],
        T0 + 4,
    );
    // Carol writes: she reads bob's list (with bob2) and gives bob2 her chain.
    say(&mut relay, &mut carol, group, T0 + 4, "carol, admin");
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut bob2, &mut carol],
        T0 + 4,
    );
    assert_eq!(texts(&bob2).last().unwrap(), "carol, admin");
    let at = epoch(&carol, group);
    assert_eq!(epoch(&alice, group), at);
    bob.run(
        &mut relay,
        T0 + 5,
        Input::RevokeDevice { device: bob2.id() },
    );
    relay.full.insert((bob.user(), bob2.id()));
    // Both admins send, find bob2's mailbox gone and read bob's list, before either
    // hears of the other's rekey.
    let later = T0 + 3600 + 10;
    for admin in [&mut alice, &mut carol] {
        say(&mut relay, admin, group, later, "still with bob2");
        assert_eq!(rekeys(admin), 1);
        assert_eq!(epoch(admin, group), at + 1);
    }
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol],
        later + 1,
    );
    let state_of_alice = state(&alice, group);
    for d in [&alice, &bob, &carol] {
        assert_eq!(epoch(d, group), at + 1, "exactly one key epoch step");
        assert_eq!(state(d, group), state_of_alice);
    }
    say(&mut relay, &mut carol, group, later + 2, "after bob2");
    settle(
        &mut relay,
        &mut [&mut alice, &mut bob, &mut carol],
        later + 3,
    );
    assert_eq!(texts(&alice).last().unwrap(), "after bob2");
    assert_eq!(texts(&bob).last().unwrap(), "after bob2");
}
