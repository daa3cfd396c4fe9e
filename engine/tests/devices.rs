//! Accounts with several devices: every message reaches every device of the recipient
//! and, as a sync copy, every other device of the sender; revoked devices stop getting
//! messages and what only they held goes to the others.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::Input;
use support::*;

#[test]
fn two_devices_each_send_and_receive_at_once() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    let mut b1 = register(&mut relay, "bob", 3);
    let mut b2 = add_device(&mut relay, "bob", 1, 4, T0);
    let t = T0 + 10;
    // Both of alice's devices write before anyone reads: no shared counters.
    a1.send(&mut relay, t, "bob", "from a1");
    a2.send(&mut relay, t, "bob", "from a2");
    b2.send(&mut relay, t, "alice", "from b2");
    for d in [&mut b1, &mut b2, &mut a1, &mut a2] {
        d.receive(&mut relay, t + 1);
    }
    for d in [&mut b1, &mut b2, &mut a1, &mut a2] {
        d.receive(&mut relay, t + 2);
    }
    let mut b1_texts = b1.texts();
    b1_texts.sort();
    assert_eq!(b1_texts, ["from a1", "from a2", "from b2"]);
    let mut b2_texts = b2.texts();
    b2_texts.sort();
    assert_eq!(b2_texts, ["from a1", "from a2"]);
    let mut a1_texts = a1.texts();
    a1_texts.sort();
    assert_eq!(a1_texts, ["from a2", "from b2"]);
    let mut a2_texts = a2.texts();
    a2_texts.sort();
    assert_eq!(a2_texts, ["from a1", "from b2"]);
    // Sync copies are marked as own and belong to the recipient's conversation.
    let copy = a2
        .delivered
        .iter()
        .find(|m| m.content == b"from a1")
        .unwrap();
    assert!(copy.own);
    assert_eq!(copy.conversation, user("bob"));
    // Receipts came back: every message is delivered to both of bob's devices and the
    // outboxes are empty.
    for d in [&a1, &a2, &b2] {
        assert_eq!(d.engine.outbox_len(), 0, "outbox of {:?}", d.id());
        assert!(d.security_events() == 0);
    }
    assert!(a1.updates.values().any(|u| *u == (2, 2)));
}

#[test]
fn a_revoked_device_gets_nothing_more_and_its_messages_go_to_the_others() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut b1 = register(&mut relay, "bob", 3);
    let mut b2 = add_device(&mut relay, "bob", 1, 4, T0);
    let t = T0 + 10;
    a1.send(&mut relay, t, "bob", "hello");
    b1.receive(&mut relay, t);
    b2.receive(&mut relay, t);
    a1.receive(&mut relay, t);
    // b2 is offline when alice writes; then b1 revokes b2 and adds nothing.
    let id = a1.send(&mut relay, t + 5, "bob", "while b2 is away");
    b1.run(&mut relay, t + 6, Input::RevokeDevice { device: b2.id() });
    assert!(b1.notices.is_empty(), "{:?}", b1.notices);
    // alice learns the new list when she next reads the directory (a day later).
    let later = t + sealpost_engine::DIRECTORY_MAX_AGE + 10;
    a1.receive(&mut relay, later);
    a1.send(&mut relay, later, "bob", "after");
    let b2_mail = relay
        .mailboxes
        .get(&(user("bob"), b2.id()))
        .map_or(0, |m| m.len());
    assert_eq!(b2_mail, 1, "only the message sealed before the revocation");
    b1.receive(&mut relay, later + 1);
    a1.receive(&mut relay, later + 2);
    assert_eq!(b1.texts(), ["hello", "while b2 is away", "after"]);
    assert_eq!(a1.updates.get(&id), Some(&(1, 1)));
    assert_eq!(a1.engine.outbox_len(), 0);
}
