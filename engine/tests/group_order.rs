//! One member device's group messages are shown in the order it sealed them, whatever
//! order the relay hands them over in (PROTOCOL.md 27.6 "Order shown"): each carries its
//! chain's epoch and counter in the signed header, which the engine gives as `seq`, and
//! the app shows one device's messages by `(sent_at, seq)` as for 1:1 messages (18.2).
//! Before, a group message's `seq` was 0 and four messages of one second showed in the
//! relay's order.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::GroupRequest;
use sealpost_engine::action::group_seq;
use support::groups::*;
use support::*;

/// What the app shows: `d`'s group messages ordered by `(from_device, sent_at, seq)`, a
/// stable sort, so messages that tie keep their arrival order.
fn shown(d: &Device) -> Vec<String> {
    let mut list = d.group_delivered.clone();
    list.sort_by_key(|m| (m.from_device, m.sent_at, m.seq));
    list.iter()
        .map(|m| String::from_utf8(m.content.clone()).unwrap())
        .collect()
}

/// The relay hands `d`'s waiting blobs over last first.
fn reverse_mailbox(relay: &mut Relay, d: &Device) {
    if let Some(mailbox) = relay.mailboxes.get_mut(&(d.user(), d.id())) {
        mailbox.make_contiguous().reverse();
    }
}

#[test]
fn the_relay_reversing_one_seconds_group_messages_does_not_reorder_them() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    let t = T0 + 10;
    let sent = ["one", "two", "three", "four"];
    for text in sent {
        say(&mut relay, &mut alice, group, t, text);
    }
    // Bob and carol, and alice's other device (two devices of one account).
    for d in [&bob, &carol, &alice2] {
        reverse_mailbox(&mut relay, d);
    }
    for d in [&mut bob, &mut carol, &mut alice2] {
        d.receive(&mut relay, t + 1);
        let mut arrived = texts(d);
        arrived.reverse();
        assert_eq!(arrived, sent, "the relay did reverse them");
        assert_eq!(shown(d), sent, "shown in send order on {:?}", d.id());
        assert!(d.group_delivered.iter().all(|m| m.sent_at == t));
        assert!(refusals(d).is_empty());
    }
    // A replay of them all changes nothing.
    relay.replay_to(&bob);
    bob.receive(&mut relay, t + 2);
    assert_eq!(texts(&bob).len(), 4);
}

/// A rekey starts a new chain, counting from 0 again: its messages of the same second
/// still come after the old chain's (the chain's epoch orders first). Old-chain messages
/// the relay holds back past the rekey are refused (`GROUP_OLD_EPOCH`, 27.5), not shown.
#[test]
fn a_new_chain_after_a_rekey_in_the_same_second_comes_after_the_old_one() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "old chain 1");
    say(&mut relay, &mut alice, group, t, "old chain 2");
    change(&mut relay, &mut alice, group, t, GroupRequest::Rekey);
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        t,
    );
    say(&mut relay, &mut alice, group, t, "new chain 1");
    for d in [&mut bob, &mut alice2] {
        d.receive(&mut relay, t + 1);
        assert_eq!(shown(d), ["old chain 1", "old chain 2", "new chain 1"]);
    }
}

#[test]
fn the_order_key_is_epoch_then_counter_and_stays_exact_in_javascript() {
    assert!(group_seq(1, 0) < group_seq(1, 1));
    assert!(group_seq(1, 1_000_000) < group_seq(2, 0));
    assert_eq!(group_seq(1, 0), (1 << 32) + 1);
    let top = group_seq((1 << 21) - 1, u64::from(u32::MAX) - 1);
    assert!(top < 1 << 53);
    assert_eq!(group_seq(1 << 21, 0), 0, "past 2^21 epochs: not ordered");
    assert_eq!(group_seq(1, u64::from(u32::MAX)), 0);
}
