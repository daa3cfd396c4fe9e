//! Group helpers for the engine tests: settle a set of devices, create a group, send to
//! it, change it, and read what a device got.

use sealpost_core::UserId;
use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::{Change, GroupError};
use sealpost_engine::{GroupRequest, Input, LookupOutcome, MsgId, Notice};

use super::{Device, Relay, T0, add_device, register, user};

/// Alice (two devices), bob and carol in a group alice created with `members`;
/// everyone settled.
pub fn alice_twice_bob_carol(relay: &mut Relay, members: &[&str]) -> ([Device; 4], GroupId) {
    let mut alice = register(relay, "alice", 1);
    let mut alice2 = add_device(relay, "alice", 1, 11, T0);
    alice.receive(relay, T0);
    let mut bob = register(relay, "bob", 2);
    let mut carol = register(relay, "carol", 3);
    for name in ["bob", "carol"] {
        assert_eq!(alice.lookup(relay, T0, name), LookupOutcome::Found);
    }
    let group = create(relay, &mut alice, members);
    settle(
        relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        T0 + 2,
    );
    ([alice, alice2, bob, carol], group)
}

/// Every device connects until nothing more arrives.
pub fn settle(relay: &mut Relay, devices: &mut [&mut Device], now: u64) {
    for _ in 0..6 {
        for d in devices.iter_mut() {
            d.receive(relay, now);
        }
    }
}

pub fn create(relay: &mut Relay, alice: &mut Device, members: &[&str]) -> GroupId {
    alice.run(
        relay,
        T0 + 1,
        Input::CreateGroup {
            name: "friends".into(),
            members: members.iter().map(|m| user(m)).collect(),
        },
    );
    let (group, actor, change, epoch) = alice.group_events.last().cloned().unwrap();
    assert_eq!((actor, epoch), (alice.user(), 1));
    assert!(matches!(change, Change::Create { .. }));
    group
}

pub fn say(relay: &mut Relay, d: &mut Device, group: GroupId, now: u64, text: &str) -> MsgId {
    let msg_id = MsgId::random(&mut d.rng);
    d.run(
        relay,
        now,
        Input::SendToGroup {
            group,
            msg_id,
            content_type: 1,
            content: text.as_bytes().to_vec(),
        },
    );
    msg_id
}

pub fn change(relay: &mut Relay, d: &mut Device, group: GroupId, now: u64, change: GroupRequest) {
    d.run(relay, now, Input::ChangeGroup { group, change });
}

pub fn texts(d: &Device) -> Vec<String> {
    d.group_delivered
        .iter()
        .map(|m| String::from_utf8(m.content.clone()).unwrap())
        .collect()
}

pub fn refusals(d: &Device) -> Vec<GroupError> {
    d.notices
        .iter()
        .filter_map(|n| match n {
            Notice::GroupRefused { error, .. } => Some(*error),
            _ => None,
        })
        .collect()
}

/// The state `d` holds of `group` (its encoding), if it is in it.
pub fn state(d: &Device, group: GroupId) -> Option<Vec<u8>> {
    d.engine
        .groups()
        .find(|g| *g.id() == group)
        .map(|g| g.to_bytes().unwrap())
}

/// Who won epoch `epoch` on `d` (the state epoch the raced operations make): the actor
/// of the last change reported for it.
pub fn winner(d: &Device, epoch: u64) -> UserId {
    d.group_events
        .iter()
        .rev()
        .find(|e| e.3 == epoch)
        .map(|e| e.1)
        .unwrap()
}

/// The next chain deposited to `d` is taken by the relay and dropped.
pub fn drop_chain_to(relay: &mut Relay, d: &Device) {
    relay.drop_envelopes.insert((d.user(), d.id()), 1);
}

/// How many deposits `d`'s mailbox ever took.
pub fn carried_count(relay: &Relay, d: &Device) -> usize {
    relay.carried_to(d).len()
}

/// `CouldNotDecrypt` notices: (not given up, given up).
pub fn undecryptable(d: &Device) -> (usize, usize) {
    let gave_up = |want: bool| {
        d.notices
            .iter()
            .filter(|n| matches!(n, Notice::CouldNotDecrypt { gave_up, .. } if *gave_up == want))
            .count()
    };
    (gave_up(false), gave_up(true))
}

/// Where the chains `alice` kept for `bob`'s device in `group` start in her stored
/// groups (PROTOCOL.md 27.7: the second trailing part, found by its head when it holds
/// that one device): a store cut there is one written before that part existed.
pub fn kept_chains_at(stored: &[u8], group: GroupId, bob: &Device) -> usize {
    let head: Vec<u8> = [
        &[0, 1][..],
        group.as_bytes(),
        &[0, 1],
        bob.user().as_bytes(),
    ]
    .concat();
    stored
        .windows(head.len())
        .rposition(|w| w == head)
        .expect("the kept chains' part")
}

/// `stored` (a device's `Part::Groups`) with `n` pending pairwise payloads for every
/// device of `to` in place of those it held (PROTOCOL.md 27.7; the layout of
/// `Groups::to_secret_bytes`: sessions, held payloads, then the pending ones).
pub fn with_pending(stored: &[u8], to: UserId, n: usize) -> Vec<u8> {
    with_pending_at(stored, to, None, n)
}

/// [`with_pending`], the payloads addressed to `device` of `to` when given.
pub fn with_pending_at(stored: &[u8], to: UserId, device: Option<[u8; 16]>, n: usize) -> Vec<u8> {
    let u16_at = |i: usize| usize::from(u16::from_be_bytes([stored[i], stored[i + 1]]));
    let u32_at = |i: usize| u32::from_be_bytes(stored[i..i + 4].try_into().unwrap()) as usize;
    let mut at = 2;
    for _ in 0..u16_at(0) {
        at += 4 + u32_at(at);
        at += 2 + u16_at(at) * 48;
    }
    let held = u16_at(at);
    at += 2;
    for _ in 0..held {
        at += 48;
        at += 2 + u16_at(at);
        at += 4 + u32_at(at);
    }
    let mut end = at + 2;
    for _ in 0..u16_at(at) {
        end += 32;
        end += 1 + if stored[end] == 1 { 16 } else { 0 };
        end += 4 + u32_at(end);
    }
    let mut out = stored[..at].to_vec();
    out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
    for _ in 0..n {
        out.extend_from_slice(to.as_bytes());
        match device {
            Some(d) => {
                out.push(1);
                out.extend_from_slice(&d);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(&[0xff; 3]);
    }
    out.extend_from_slice(&stored[end..]);
    out
}
