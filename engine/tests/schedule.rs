//! Issue 9's "done means": alice on two devices and bob on two devices go online and
//! offline (and restart) in a seeded random order, 200 messages each way. Every message
//! appears exactly once on every device of the recipient and of the sender, in order
//! per sending device, and none is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use std::collections::BTreeMap;

use rand_chacha::rand_core::Rng;
use sealpost_core::v2::DeviceId;
use support::*;

const PER_SIDE: usize = 200;

#[test]
fn two_devices_each_random_schedule_every_message_once_everywhere_in_order() {
    let mut relay = Relay::default();
    let mut devices = vec![
        register(&mut relay, "alice", 1),
        register(&mut relay, "bob", 2),
    ];
    devices.push(add_device(&mut relay, "alice", 1, 3, T0));
    devices.push(add_device(&mut relay, "bob", 1, 4, T0));
    let peer = ["bob", "alice", "bob", "alice"];
    let mut online = [true; 4];
    let mut sent: Vec<Vec<String>> = vec![Vec::new(); 4];
    let mut script = rng(2026);
    let mut now = T0 + 1;
    let (mut alice_sent, mut bob_sent) = (0, 0);
    while alice_sent < PER_SIDE || bob_sent < PER_SIDE {
        now += 1 + script.next_u64() % 90;
        let i = (script.next_u64() % 4) as usize;
        match script.next_u64() % 10 {
            0 => online[i] = !online[i],
            1 if online[i] => devices[i].restart(),
            _ if online[i] => {
                let alice_side = i.is_multiple_of(2);
                let count = if alice_side {
                    &mut alice_sent
                } else {
                    &mut bob_sent
                };
                if *count < PER_SIDE && script.next_u64().is_multiple_of(2) {
                    *count += 1;
                    let text = format!("{i}:{}", sent[i].len());
                    devices[i].send(&mut relay, now, peer[i], &text);
                    sent[i].push(text);
                } else {
                    devices[i].receive(&mut relay, now);
                }
            }
            _ => {}
        }
    }
    // Everyone comes online until nothing moves any more.
    for round in 0..6 {
        for d in devices.iter_mut() {
            d.receive(&mut relay, now + round);
        }
    }
    let ids: Vec<DeviceId> = devices.iter().map(|d| d.id()).collect();
    for (j, d) in devices.iter().enumerate() {
        let mut by_sender: BTreeMap<DeviceId, Vec<String>> = BTreeMap::new();
        for m in &d.delivered {
            by_sender
                .entry(m.from_device)
                .or_default()
                .push(String::from_utf8(m.content.clone()).unwrap());
        }
        for (i, texts) in sent.iter().enumerate() {
            if i == j {
                assert!(
                    !by_sender.contains_key(&ids[i]),
                    "no copy to the sending device"
                );
                continue;
            }
            let got = by_sender.get(&ids[i]).cloned().unwrap_or_default();
            assert_eq!(
                &got, texts,
                "device {j} from device {i}: each once, in order"
            );
        }
        assert_eq!(d.security_events(), 0, "device {j}: {:?}", d.notices);
        assert_eq!(d.engine.outbox_len(), 0, "device {j}: everything receipted");
    }
}
