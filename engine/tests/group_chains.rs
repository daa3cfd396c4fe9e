//! A chain the relay took and dropped (PROTOCOL.md 27.5 "Confirming a chain", 27.7): the
//! relay answers `201` to the pairwise deposit of a device's chain and never delivers
//! it. The giving device gives it again until the member device confirms it (a receipt
//! of the chain's id), and the member device keeps the group messages it cannot open yet
//! on the relay until then: it reads them, and everything after, without a rekey. As
//! attacks: the re-sent chain replayed changes nothing, a member added later is given
//! again only the counter it was given (never an earlier one), a removed member is given
//! nothing, and the sender's restart between the drop and the re-send loses nothing;
//! the kept chains' stored part is strict, and a store from before it loads.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::limits::{CHAIN_RESEND_AFTER, CHAIN_WAIT, LAST_CHAIN_RESEND};
use sealpost_engine::{Engine, GroupRequest, Input, Part};
use support::groups::*;
use support::*;
use zeroize::Zeroizing;

#[test]
fn a_dropped_chain_is_given_again_and_opens_the_messages_that_waited_for_it() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    drop_chain_to(&mut relay, &bob);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    say(&mut relay, &mut alice, group, t + 1, "m2");
    // Bob connects again and again: the two messages stay on the relay, each reported
    // once, none given up (without the hold, the third attempt gave them up).
    for i in 0..5 {
        bob.receive(&mut relay, t + 2 + i);
    }
    assert!(texts(&bob).is_empty());
    assert_eq!(relay.waiting(bob.user(), bob.id()), 2);
    assert_eq!(undecryptable(&bob), (2, 0));
    // The others confirmed the chain; alice learns it (and bob's silence).
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut carol],
        t + 10,
    );
    assert_eq!(texts(&carol), ["m1", "m2"]);
    let (to_carol, to_alice2) = (
        carried_count(&relay, &carol),
        carried_count(&relay, &alice2),
    );
    // Before it is due, nothing goes again.
    alice.run(&mut relay, t + CHAIN_RESEND_AFTER - 1, Input::Tick);
    let to_bob = carried_count(&relay, &bob);
    alice.run(&mut relay, t + CHAIN_RESEND_AFTER, Input::Tick);
    assert_eq!(
        carried_count(&relay, &bob),
        to_bob + 1,
        "the chain goes again"
    );
    assert_eq!(
        carried_count(&relay, &carol),
        to_carol,
        "carol confirmed it"
    );
    assert_eq!(carried_count(&relay, &alice2), to_alice2, "so did alice2");
    bob.receive(&mut relay, t + CHAIN_RESEND_AFTER + 1);
    assert_eq!(texts(&bob), ["m1", "m2"], "read without a rekey, in order");
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    assert!(refusals(&bob).is_empty(), "{:?}", bob.notices);
    // Bob's confirmation reaches alice: no more re-sends, ever.
    alice.receive(&mut relay, t + CHAIN_RESEND_AFTER + 2);
    assert_eq!(
        alice.updates.values().copied().collect::<Vec<_>>(),
        [(2, 2), (2, 2)]
    );
    let to_bob = carried_count(&relay, &bob);
    for k in 1..=6 {
        alice.run(&mut relay, t + k * LAST_CHAIN_RESEND, Input::Tick);
    }
    assert_eq!(carried_count(&relay, &bob), to_bob);
    // The chain goes on for bob.
    let later = t + 6 * LAST_CHAIN_RESEND;
    say(&mut relay, &mut alice, group, later, "m3");
    bob.receive(&mut relay, later + 1);
    assert_eq!(texts(&bob), ["m1", "m2", "m3"]);
    // The relay replays everything it ever carried to bob, the re-sent chain too:
    // nothing is shown twice, nothing refused, nothing left on the relay.
    relay.replay_to(&bob);
    for i in 0..3 {
        bob.receive(&mut relay, later + 2 + i);
    }
    assert_eq!(texts(&bob), ["m1", "m2", "m3"]);
    assert!(refusals(&bob).is_empty(), "{:?}", bob.notices);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    assert_eq!(undecryptable(&bob), (2, 0), "the replays are silent");
}

#[test]
fn the_re_sends_back_off_and_end_and_a_message_whose_chain_never_comes_is_given_up() {
    let mut relay = Relay::default();
    let ([mut alice, _, mut bob, _], group) = alice_twice_bob_carol(&mut relay, &["bob"]);
    // Every copy of the chain to bob is dropped.
    relay
        .drop_envelopes
        .insert((bob.user(), bob.id()), usize::MAX);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "lost");
    let mut sent = Vec::new();
    let mut last = carried_count(&relay, &bob);
    for now in (t..t + 3 * LAST_CHAIN_RESEND).step_by(300) {
        alice.run(&mut relay, now, Input::Tick);
        let n = carried_count(&relay, &bob);
        if n != last {
            sent.push(now - t);
            last = n;
        }
    }
    assert_eq!(
        sent,
        [600, 3000, 12_600, 51_000],
        "four re-sends, each 4x later"
    );
    // Bob held the message for the whole schedule, then gave it up, once reported so.
    bob.receive(&mut relay, t + 1);
    bob.receive(&mut relay, t + 2);
    bob.receive(&mut relay, t + LAST_CHAIN_RESEND);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 1);
    bob.receive(&mut relay, t + 1 + CHAIN_WAIT);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    assert_eq!(undecryptable(&bob), (1, 1));
}

#[test]
fn a_member_added_later_is_given_again_the_counter_it_was_given_and_never_an_earlier_one() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob"]);
    say(&mut relay, &mut alice, group, T0 + 3, "before 1");
    say(&mut relay, &mut alice, group, T0 + 4, "before 2");
    settle(&mut relay, &mut [&mut alice, &mut alice2, &mut bob], T0 + 5);
    let before: Vec<Vec<u8>> = relay
        .carried_to(&bob)
        .into_iter()
        .filter(|b| b[0] == 3)
        .collect();
    assert_eq!(before.len(), 2);
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 6,
        GroupRequest::Add(vec![user("carol")]),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 7,
    );
    // Carol's first chain from alice (at counter 2) is dropped.
    drop_chain_to(&mut relay, &carol);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "after 1");
    say(&mut relay, &mut alice, group, t + 1, "after 2");
    carol.receive(&mut relay, t + 2);
    assert!(texts(&carol).is_empty());
    alice.run(&mut relay, t + CHAIN_RESEND_AFTER, Input::Tick);
    carol.receive(&mut relay, t + CHAIN_RESEND_AFTER + 1);
    // Counter 2, as first given: "after 1" opens (a later counter would lose it) ...
    assert_eq!(texts(&carol), ["after 1", "after 2"]);
    // ... and the messages from before do not (an earlier counter would keep their keys
    // as skipped ones): the relay hands them over, they are refused as replays.
    for bytes in before {
        relay.deposit(carol.user(), carol.id(), bytes);
    }
    carol.receive(&mut relay, t + CHAIN_RESEND_AFTER + 2);
    assert_eq!(texts(&carol), ["after 1", "after 2"]);
    assert_eq!(relay.waiting(carol.user(), carol.id()), 0);
}

#[test]
fn a_member_removed_before_the_re_send_is_given_nothing() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    drop_chain_to(&mut relay, &carol);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    change(
        &mut relay,
        &mut alice,
        group,
        t + 1,
        GroupRequest::Remove(vec![user("carol")]),
    );
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        t + 2,
    );
    let to_carol = carried_count(&relay, &carol);
    for k in 1..=8 {
        alice.run(&mut relay, t + k * CHAIN_RESEND_AFTER * 16, Input::Tick);
    }
    assert_eq!(
        carried_count(&relay, &carol),
        to_carol,
        "no chain for carol"
    );
    // Nor does the next message's chain go to her.
    say(
        &mut relay,
        &mut alice,
        group,
        t + LAST_CHAIN_RESEND * 2,
        "m2",
    );
    assert_eq!(carried_count(&relay, &carol), to_carol);
    bob.receive(&mut relay, t + LAST_CHAIN_RESEND * 2 + 1);
    assert_eq!(texts(&bob), ["m1", "m2"]);
}

#[test]
fn two_devices_of_one_account_both_missing_a_chain_read_after_the_senders_restart() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    // Bob writes; the relay drops his chain to both of alice's devices.
    drop_chain_to(&mut relay, &alice);
    drop_chain_to(&mut relay, &alice2);
    let t = T0 + 10;
    say(&mut relay, &mut bob, group, t, "from bob");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut carol],
        t + 1,
    );
    assert!(texts(&alice).is_empty() && texts(&alice2).is_empty());
    assert_eq!(texts(&carol), ["from bob"]);
    // Bob restarts between the drop and the re-send: what he gave is stored.
    bob.receive(&mut relay, t + 2);
    bob.restart();
    bob.run(&mut relay, t + CHAIN_RESEND_AFTER, Input::Tick);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        t + CHAIN_RESEND_AFTER + 1,
    );
    assert_eq!(texts(&alice), ["from bob"]);
    assert_eq!(texts(&alice2), ["from bob"]);
    assert_eq!(texts(&carol), ["from bob"], "once");
    for d in [&alice, &alice2] {
        assert_eq!(relay.waiting(d.user(), d.id()), 0);
        assert!(refusals(d).is_empty(), "{:?}", d.notices);
    }
    // Both confirmed: bob gives nothing again.
    let sent = (
        carried_count(&relay, &alice),
        carried_count(&relay, &alice2),
    );
    bob.run(&mut relay, t + LAST_CHAIN_RESEND * 2, Input::Tick);
    assert_eq!(
        (
            carried_count(&relay, &alice),
            carried_count(&relay, &alice2)
        ),
        sent
    );
}

/// The kept chains are the stored groups' second trailing part (PROTOCOL.md 27.7): a
/// store cut right before it is one written before it existed, and loads; cut anywhere
/// inside it, or with a byte more, the restore fails naming the part.
#[test]
fn the_kept_chains_are_a_trailing_part_a_store_from_before_loads() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    drop_chain_to(&mut relay, &bob);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut carol],
        t + 1,
    );
    let stored = alice.store.get(&Part::Groups).unwrap().to_vec();
    // u16(1) || group_id || u16(1) || user || device || chain || u64 || u8 || var32(228).
    let part = 2 + 16 + 2 + 32 + 16 + 16 + 8 + 1 + 4 + 228;
    // Found by its head (a third trailing part, the operations taken, follows it).
    let before = kept_chains_at(&stored, group, &bob);
    assert!(
        before + part < stored.len(),
        "the operations taken follow it"
    );
    let restore = |groups: Vec<u8>| {
        let mut store = alice.store.clone();
        store.insert(Part::Groups, Zeroizing::new(groups));
        Engine::restore(|p| store.get(&p).cloned())
    };
    // Cut right after it is a store from before the operations taken (they load empty),
    // before the last eight bytes (no message waits: u16(0); no operation forgotten in
    // the one group: u16(1) || u16(0); no blob shown while others waited: u16(0)) one from
    // before the waiting messages' part (group_chain_wait.rs), and before the last six
    // one from before the forgotten operations' and shown blobs' parts (group_late.rs).
    let loads = [before + part, stored.len() - 8, stored.len() - 6];
    for cut in (before + 1..stored.len()).filter(|c| !loads.contains(c)) {
        assert_eq!(
            restore(stored[..cut].to_vec()).err().unwrap().part,
            Part::Groups
        );
    }
    let mut longer = stored.clone();
    longer.push(0);
    assert_eq!(restore(longer).err().unwrap().part, Part::Groups);
    // From before: it loads (and gives again what it gave then, group_upgrade.rs).
    for cut in loads {
        assert!(restore(stored[..cut].to_vec()).is_ok());
    }
    assert!(restore(stored[..before].to_vec()).is_ok());
}

/// An anonymous depositor's junk group blobs, handed over first on a connection, do not
/// keep a real message that waits for its chain out of the ones tried again when that
/// chain comes on the same connection (27.7): the oldest waiting blob makes room.
#[test]
fn junk_waiting_first_does_not_crowd_out_a_message_whose_chain_comes_later() {
    let mut relay = Relay::default();
    let ([mut alice, _, mut bob, _], group) = alice_twice_bob_carol(&mut relay, &["bob"]);
    bob.receive(&mut relay, T0 + 3);
    drop_chain_to(&mut relay, &bob);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    let message = relay.mailboxes[&(bob.user(), bob.id())]
        .iter()
        .find(|b| b.bytes[0] == 3)
        .cloned()
        .unwrap();
    // As many junk blobs as are kept waiting: the shape of a group message, opened by
    // no chain.
    for i in 0..sealpost_engine::MAX_PARKED {
        let mut bytes = message.bytes.clone();
        for b in bytes.iter_mut().skip(1) {
            *b ^= 0x5a ^ i as u8;
        }
        let blob_id = format!("junk{i}");
        bob.run(&mut relay, t + 1, Input::BlobReceived { blob_id, bytes });
    }
    bob.run(
        &mut relay,
        t + 1,
        Input::BlobReceived {
            blob_id: message.id,
            bytes: message.bytes,
        },
    );
    assert!(texts(&bob).is_empty());
    // The chain goes again; only it is handed over (the connection stays up).
    alice.run(&mut relay, t + CHAIN_RESEND_AFTER, Input::Tick);
    let chain = relay.mailboxes[&(bob.user(), bob.id())]
        .iter()
        .rfind(|b| b.bytes[0] == 2)
        .cloned()
        .unwrap();
    bob.run(
        &mut relay,
        t + CHAIN_RESEND_AFTER + 1,
        Input::BlobReceived {
            blob_id: chain.id,
            bytes: chain.bytes,
        },
    );
    assert_eq!(texts(&bob), ["m1"]);
}
