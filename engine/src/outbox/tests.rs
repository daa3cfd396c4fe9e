//! Unit tests of the outbox rules.

use super::*;
use crate::codec::Codec;
use sealpost_core::Username;

const NOW: u64 = 1_767_225_600;

fn bob() -> UserId {
    Username::parse("bob").unwrap().user_id()
}

fn alice() -> UserId {
    Username::parse("alice").unwrap().user_id()
}

fn dev(n: u8) -> DeviceId {
    DeviceId::from_bytes([n; 16])
}

fn message(n: u8) -> Message {
    let alice = Username::parse("alice").unwrap();
    Message::new(MsgId([n; 16]), bob(), alice, NOW, 1, alloc::vec![n]).unwrap()
}

/// Message `n` sealed to bob's devices 1 and 2 and alice's own device 9.
fn outbox_with(n: u8) -> Outbox {
    let mut o = Outbox::new();
    let targets = alloc::vec![
        (bob(), dev(1), alloc::vec![1]),
        (bob(), dev(2), alloc::vec![2]),
        (alice(), dev(9), alloc::vec![9]),
    ];
    assert_eq!(
        o.add(message(n), NOW, targets),
        Ok(Delivery {
            delivered: 0,
            total: 2
        })
    );
    o
}

#[test]
fn kept_until_every_target_receipted() {
    let mut o = outbox_with(1);
    let id = MsgId([1; 16]);
    assert_eq!(
        o.receipt(&bob(), &dev(1), &[id]),
        [(
            id,
            Delivery {
                delivered: 1,
                total: 2
            }
        )]
    );
    // A second receipt from the same device changes nothing.
    assert!(o.receipt(&bob(), &dev(1), &[id]).is_empty());
    // A receipt from a device the message was not sealed to counts for nothing.
    assert!(o.receipt(&bob(), &dev(3), &[id]).is_empty());
    assert!(o.receipt(&alice(), &dev(1), &[id]).is_empty());
    o.receipt(&bob(), &dev(2), &[id]);
    assert!(o.contains(&id), "the sync copy is not receipted yet");
    o.receipt(&alice(), &dev(9), &[id]);
    assert!(o.is_empty());
}

#[test]
fn unsent_envelopes_are_kept_until_the_relay_takes_them() {
    let mut o = outbox_with(1);
    let id = MsgId([1; 16]);
    assert_eq!(o.unsent().count(), 3);
    o.deposited(&id, &bob(), &dev(1));
    let left: Vec<_> = o.unsent().map(|(_, u, d, e)| (u, d, e.to_vec())).collect();
    assert_eq!(
        left,
        [
            (bob(), dev(2), alloc::vec![2]),
            (alice(), dev(9), alloc::vec![9])
        ]
    );
}

#[test]
fn a_removed_device_sends_unreceipted_messages_to_the_others() {
    let mut o = outbox_with(1);
    let id = MsgId([1; 16]);
    // Bob revokes device 2 and adds device 3: nobody receipted, so re-send to 3.
    let (resends, changed) = o.devices_changed(&bob(), &[dev(1), dev(3)]);
    assert_eq!(
        changed,
        [(
            id,
            Delivery {
                delivered: 0,
                total: 1
            }
        )]
    );
    assert_eq!(resends.len(), 1);
    assert_eq!(resends[0].devices, [(bob(), dev(3))]);
    o.reseal(&id, alloc::vec![(bob(), dev(3), alloc::vec![3])]);
    assert_eq!(
        o.receipt(&bob(), &dev(3), &[id]),
        [(
            id,
            Delivery {
                delivered: 1,
                total: 2
            }
        )]
    );
}

#[test]
fn a_removed_device_does_not_resend_what_another_device_receipted() {
    let mut o = outbox_with(1);
    let id = MsgId([1; 16]);
    o.receipt(&bob(), &dev(1), &[id]);
    let (resends, _) = o.devices_changed(&bob(), &[dev(1), dev(3)]);
    assert!(resends.is_empty());
    // Own devices leaving never trigger re-sends either.
    let (resends, _) = o.devices_changed(&alice(), &[dev(8)]);
    assert!(resends.is_empty());
    assert!(o.sweep().is_empty());
    assert!(o.is_empty(), "every remaining target receipted");
}

#[test]
fn messages_whose_devices_all_left_are_reported_undelivered() {
    let mut o = outbox_with(1);
    o.receipt(&alice(), &dev(9), &[MsgId([1; 16])]);
    let (resends, _) = o.devices_changed(&bob(), &[dev(1)]);
    assert!(resends.is_empty(), "device 1 still holds it");
    let (resends, _) = o.devices_changed(&bob(), &[dev(4)]);
    assert_eq!(resends[0].devices, [(bob(), dev(4))]);
    // The engine could not seal to device 4 (no bundle): nothing waits any more.
    assert_eq!(o.sweep(), [MsgId([1; 16])]);
}

#[test]
fn reset_re_seals_what_the_device_did_not_receipt_in_order() {
    let mut o = outbox_with(1);
    let mut two = outbox_with(2);
    o.entries.append(&mut two.entries);
    o.receipt(&bob(), &dev(1), &[MsgId([1; 16])]);
    let resends = o.reset(&bob(), &dev(1));
    assert_eq!(resends.len(), 1);
    assert_eq!(resends[0].message.msg_id(), MsgId([2; 16]));
    let resends = o.reset(&bob(), &dev(2));
    let ids: Vec<_> = resends.iter().map(|r| r.message.msg_id()).collect();
    assert_eq!(ids, [MsgId([1; 16]), MsgId([2; 16])]);
}

#[test]
fn old_messages_expire() {
    let mut o = outbox_with(1);
    assert!(o.expire(NOW + MAX_MESSAGE_AGE).is_empty());
    assert_eq!(o.expire(NOW + MAX_MESSAGE_AGE + 1).len(), 1);
    assert!(o.is_empty());
}

#[test]
fn bounded_and_duplicate_free() {
    let mut o = outbox_with(1);
    assert_eq!(
        o.add(message(1), NOW, alloc::vec![(bob(), dev(1), alloc::vec![])]),
        Err(Error::Malformed)
    );
    let twice = alloc::vec![
        (bob(), dev(1), alloc::vec![]),
        (bob(), dev(1), alloc::vec![])
    ];
    assert_eq!(o.add(message(2), NOW, twice), Err(Error::Malformed));
    for i in 0..(MAX_OUTBOX - 1) {
        let mut id = [0xee; 16];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let m = Message::new(
            MsgId(id),
            bob(),
            Username::parse("alice").unwrap(),
            NOW,
            1,
            Vec::new(),
        )
        .unwrap();
        o.add(m, NOW, alloc::vec![(bob(), dev(1), alloc::vec![])])
            .unwrap();
    }
    assert!(o.is_full());
    assert_eq!(
        o.add(message(3), NOW, alloc::vec![(bob(), dev(1), alloc::vec![])]),
        Err(Error::TooLarge)
    );
}

#[test]
fn encoding_round_trips_and_is_strict() {
    let mut o = outbox_with(1);
    o.deposited(&MsgId([1; 16]), &bob(), &dev(1));
    o.receipt(&bob(), &dev(2), &[MsgId([1; 16])]);
    let bytes = o.to_bytes();
    assert_eq!(Outbox::from_bytes(&bytes), Ok(o));
    for len in 0..bytes.len() {
        assert!(Outbox::from_bytes(&bytes[..len]).is_err());
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x41;
        if let Ok(other) = Outbox::from_bytes(&flipped) {
            assert_eq!(other.to_bytes(), flipped);
        }
    }
}

/// Message 1 to bob's devices 1 and 2 (and alice's 9), all taken by the relay.
fn deposited_outbox() -> Outbox {
    let mut o = outbox_with(1);
    let id = MsgId([1; 16]);
    for (u, d) in [(bob(), dev(1)), (bob(), dev(2)), (alice(), dev(9))] {
        o.deposited(&id, &u, &d);
    }
    o
}

#[test]
fn re_sends_follow_the_schedule_and_stop_after_four() {
    use crate::limits::{MAX_RESENDS, RESEND_AFTER};
    let mut o = deposited_outbox();
    let id = MsgId([1; 16]);
    o.receipt(&bob(), &dev(2), &[id]);
    assert!(o.due(NOW + RESEND_AFTER - 1).is_empty());
    assert_eq!(o.next_due(), Some(NOW + RESEND_AFTER));
    let mut t = NOW + RESEND_AFTER;
    for n in 0..MAX_RESENDS {
        let due = o.due(t);
        assert_eq!(due.len(), 1, "re-send {n}");
        assert_eq!(due[0].devices, [(bob(), dev(1)), (alice(), dev(9))]);
        let sealed = due[0]
            .devices
            .iter()
            .map(|(u, d)| (*u, *d, alloc::vec![7]))
            .collect();
        o.reseal_at(&id, sealed, t);
        // Not due again while the new envelope waits for the relay, nor before 4x.
        assert!(o.due(t + 100 * RESEND_AFTER).is_empty());
        o.deposited(&id, &bob(), &dev(1));
        o.deposited(&id, &alice(), &dev(9));
        let wait = RESEND_AFTER << (2 * (u32::from(n) + 1));
        assert!(o.due(t + wait - 1).is_empty() || n + 1 == MAX_RESENDS);
        t += wait;
    }
    assert!(o.due(t + 1_000_000).is_empty(), "at most four re-sends");
    assert!(
        o.reset(&bob(), &dev(1)).is_empty(),
        "reset requests share the budget"
    );
    assert_eq!(o.next_due(), None);
}

#[test]
fn reset_requests_count_towards_the_budget() {
    use crate::limits::MAX_RESENDS;
    let mut o = deposited_outbox();
    let id = MsgId([1; 16]);
    for n in 0..MAX_RESENDS {
        assert_eq!(o.reset(&bob(), &dev(1)).len(), 1, "request {n}");
        o.reseal_at(
            &id,
            alloc::vec![(bob(), dev(1), alloc::vec![8])],
            NOW + u64::from(n),
        );
    }
    assert!(o.reset(&bob(), &dev(1)).is_empty());
    // The other device's budget is its own.
    assert_eq!(o.reset(&bob(), &dev(2)).len(), 1);
}

#[test]
fn nothing_is_re_sent_once_the_message_is_too_old() {
    let o = deposited_outbox();
    assert!(o.due(NOW + crate::limits::MAX_MESSAGE_AGE).is_empty());
}

/// `o` (messages without `seq`) in a stored format from before: 3, or 2 (without the
/// re-send fields of each target).
fn legacy(o: &Outbox, version: u8) -> Vec<u8> {
    let mut out = alloc::vec![b'O', version];
    out.extend_from_slice(&(o.entries.len() as u16).to_be_bytes());
    for e in &o.entries {
        assert_eq!(e.message.seq(), 0);
        e.message.encode(&mut out);
        out.extend_from_slice(&e.created_at.to_be_bytes());
        out.push(e.targets.len() as u8);
        for t in &e.targets {
            t.user.encode(&mut out);
            t.device.encode(&mut out);
            match &t.state {
                TargetState::Unsent(env) => {
                    out.push(0);
                    crate::codec::put_var32(&mut out, env);
                }
                TargetState::Sent => out.push(1),
                TargetState::Receipted => out.push(2),
            }
            if version == 3 {
                out.push(t.resends);
                out.extend_from_slice(&t.sealed_at.to_be_bytes());
            }
        }
    }
    out
}

#[test]
fn the_previous_encodings_are_read_with_a_fresh_schedule() {
    let mut o = deposited_outbox();
    o.reseal_at(
        &MsgId([1; 16]),
        alloc::vec![(bob(), dev(1), alloc::vec![5])],
        NOW + 9,
    );
    let v4 = o.to_bytes();
    assert_eq!(&v4[..2], b"O\x04");
    assert_eq!(Outbox::from_bytes(&legacy(&o, 3)), Ok(o.clone()));
    let old = Outbox::from_bytes(&legacy(&o, 2)).unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old.entries[0].targets[0].resends, 0);
    assert_eq!(old.entries[0].targets[0].sealed_at, NOW);
    assert_eq!(old.next_seq(), 1);
    // An impossible re-send count is refused.
    let mut bad = v4.clone();
    let at = bad.len() - 9;
    bad[at] = crate::limits::MAX_RESENDS + 1;
    assert!(Outbox::from_bytes(&bad).is_err());
}

#[test]
fn messages_are_numbered_on_across_receipts_and_restarts() {
    let mut o = Outbox::new();
    assert_eq!(o.next_seq(), 1);
    let to_bob = |n: u8| alloc::vec![(bob(), dev(1), alloc::vec![n])];
    o.add(message(1).with_seq(o.next_seq()), NOW, to_bob(1))
        .unwrap();
    o.add(message(2).with_seq(o.next_seq()), NOW, to_bob(2))
        .unwrap();
    assert_eq!(o.next_seq(), 3);
    // Both receipted: they leave, their numbers stay used.
    o.receipt(&bob(), &dev(1), &[MsgId([1; 16]), MsgId([2; 16])]);
    assert!(o.is_empty());
    let stored = Outbox::from_bytes(&o.to_bytes()).unwrap();
    assert_eq!(stored.next_seq(), 3);
    // A stored message numbered after the stored last number is refused.
    let mut o = Outbox::new();
    o.add(message(1).with_seq(1), NOW, to_bob(1)).unwrap();
    let mut bytes = o.to_bytes();
    bytes[2..10].copy_from_slice(&0u64.to_be_bytes());
    assert_eq!(Outbox::from_bytes(&bytes), Err(Error::Malformed));
}

#[test]
fn a_device_that_joins_gets_what_no_recipient_device_receipted() {
    let mut o = outbox_with(1);
    let id = MsgId([1; 16]);
    let joined = [dev(1), dev(2), dev(3)];
    // Only bob's new device 3; not alice's own new device 8.
    let r = o.devices_added(&bob(), &joined, NOW + 10);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].devices, [(bob(), dev(3))]);
    assert!(o.devices_added(&alice(), &[dev(8), dev(9)], NOW).is_empty());
    o.reseal_at(&id, alloc::vec![(bob(), dev(3), alloc::vec![3])], NOW + 10);
    assert_eq!(o.delivery(&id).map(|d| d.total), Some(3));
    assert!(
        o.devices_added(&bob(), &joined, NOW + 10).is_empty(),
        "once"
    );
    // Too old, or receipted by some device of bob: nothing for device 4.
    let more = [dev(1), dev(2), dev(3), dev(4)];
    assert!(
        o.devices_added(&bob(), &more, NOW + MAX_MESSAGE_AGE)
            .is_empty()
    );
    o.receipt(&bob(), &dev(2), &[id]);
    assert!(o.devices_added(&bob(), &more, NOW + 20).is_empty());
}
