//! One device's messages are shown in the order it sent them, whatever order the relay
//! hands them over in: each carries the sending device's number (`seq`, PROTOCOL.md
//! 17.2) inside the sealed payload, and the app shows one device's messages by
//! `(sent_at, seq)`. `sent_at` alone has whole seconds; before `seq`, two messages of one
//! second that reached the relay out of order (a failed deposit retried after a newer
//! one, a deposit socket that fell back to POST) were shown in the relay's order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::MsgId;
use support::*;

/// What the app shows: `d`'s messages (all from one writing device here) ordered by
/// `(sent_at, seq)`, a stable sort, so messages that tie keep their arrival order.
fn shown(d: &Device) -> Vec<String> {
    let mut list = d.delivered.clone();
    list.sort_by_key(|m| (m.from_device, m.sent_at, m.seq));
    list.iter()
        .map(|m| String::from_utf8(m.content.clone()).unwrap())
        .collect()
}

/// The relay hands `d`'s waiting blobs over last first.
fn reverse_mailbox(relay: &mut Relay, d: &Device) {
    let mailbox = relay.mailboxes.get_mut(&(d.user(), d.id())).unwrap();
    mailbox.make_contiguous().reverse();
}

#[test]
fn the_relay_reversing_one_seconds_messages_does_not_reorder_them() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    let mut b1 = register(&mut relay, "bob", 3);
    let mut b2 = add_device(&mut relay, "bob", 1, 4, T0);
    let t = T0 + 10;
    let sent = ["one", "two", "three", "four"];
    for text in sent {
        a1.send(&mut relay, t, "bob", text);
    }
    for d in [&b1, &b2, &a2] {
        reverse_mailbox(&mut relay, d);
    }
    for d in [&mut b1, &mut b2, &mut a2] {
        d.receive(&mut relay, t + 1);
        let mut arrived = d.texts();
        arrived.reverse();
        assert_eq!(arrived, sent, "the relay did reverse them");
        assert_eq!(shown(d), sent, "shown in send order on {:?}", d.id());
        assert!(d.delivered.iter().all(|m| m.sent_at == t));
        assert_eq!(d.security_events(), 0);
    }
}

#[test]
fn a_failed_deposit_retried_after_newer_messages_is_shown_before_them() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    let mut b1 = register(&mut relay, "bob", 3);
    let mut b2 = add_device(&mut relay, "bob", 1, 4, T0);
    let t = T0 + 10;
    // The first deposit fails; the next message of the same second goes at once.
    let first = MsgId([1; 16]);
    a1.offline_deposits = true;
    a1.send_as(&mut relay, t, first, "bob", "first");
    a1.offline_deposits = false;
    a1.send(&mut relay, t, "bob", "second");
    // The tab restarts, the driver retries the first with its key, then writes again:
    // the numbering goes on from the stored outbox.
    a1.restart();
    a1.send_as(&mut relay, t, first, "bob", "first");
    a1.send(&mut relay, t, "bob", "third");
    for d in [&mut b1, &mut b2, &mut a2] {
        d.receive(&mut relay, t + 1);
        assert_eq!(d.texts(), ["second", "first", "third"], "the relay's order");
        assert_eq!(shown(d), ["first", "second", "third"], "on {:?}", d.id());
    }
}
