//! Receipts against a member that lies with its counters (PROTOCOL.md 30.4 "Receipts"):
//! frames sealed here under the room key as a dishonest member's client would, which the
//! relay-level tests (`tests/room_receipts.rs`) cannot make.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use alloc::vec::Vec;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::v2::room::{
    Content, EVERYONE, EpochKey, FrameHeader, MemberId, RosterEntry, seal_frame,
};

use super::member::Membership;
use super::{Output, Refusal, RoomEvent, RoomIn, RoomOut, UNDELIVERED_GRACE_MS};

const ME: MemberId = 1;
const PEER: MemberId = 2;

/// Member 1 with member 2 shown, after member 2's first frame (counter 1, answered
/// with member 1's hello, its counter 1), and the room key to seal member 2's frames.
fn room() -> (Membership, EpochKey) {
    let key = EpochKey::new(0, [7; 32]);
    let mut m = Membership::new(ME, key.clone());
    m.add_peer(PEER, true);
    let out = handle(&mut m, &from_peer(&key, 1, 0, Content::Hello("two".into())));
    assert!(matches!(
        out.last(),
        Some(Output::Send(RoomOut::Frame { .. }))
    ));
    (m, key)
}

/// A frame of member 2 to everyone (counter and stream number `counter`: it sends
/// nothing else) whose roster acknowledges `acked` of member 1.
fn from_peer(key: &EpochKey, counter: u64, acked: u64, content: Content) -> Vec<u8> {
    let header = FrameHeader {
        epoch: key.epoch,
        sender: PEER,
        to: EVERYONE,
        counter,
        seq: u32::try_from(counter).unwrap(),
    };
    let roster = [
        RosterEntry {
            member: ME,
            counter: acked,
        },
        RosterEntry {
            member: PEER,
            counter: 0,
        },
    ];
    seal_frame(key, header, &roster, &content).unwrap()
}

fn handle(m: &mut Membership, data: &[u8]) -> Vec<Output> {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    m.handle(&mut rng, RoomIn::Frame { from: PEER, data })
}

fn say(m: &mut Membership, text: &str) {
    let sent = m.seal(EVERYONE, &Content::Text(text.into())).unwrap();
    assert!(matches!(sent, RoomOut::Frame { .. }));
}

fn delivery(out: &[Output]) -> Vec<(MemberId, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(RoomEvent::Undelivered { to }) => Some((*to, true)),
            Output::Event(RoomEvent::Delivered { to }) => Some((*to, false)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_counter_lower_than_one_acknowledged_before_changes_nothing() {
    let (mut m, key) = room();
    // Counters 2, 3, 4.
    for t in ["1", "2", "3"] {
        say(&mut m, t);
    }
    // Member 2 acknowledges 4, then (lying) 2: 4 stands.
    handle(&mut m, &from_peer(&key, 2, 4, Content::Receipt));
    handle(&mut m, &from_peer(&key, 3, 2, Content::Receipt));
    assert!(delivery(&m.tick(2 * UNDELIVERED_GRACE_MS)).is_empty());
    // A text (counter 5) it does not acknowledge is reported once the grace passed...
    say(&mut m, "4");
    let later = 3 * UNDELIVERED_GRACE_MS;
    assert!(delivery(&m.tick(later - 1)).is_empty());
    assert_eq!(delivery(&m.tick(later)), [(PEER, true)]);
    assert!(delivery(&m.tick(later + 1)).is_empty(), "said once");
    // ...a lower counter does not clear it, an acknowledgement of 5 does.
    assert!(delivery(&handle(&mut m, &from_peer(&key, 4, 3, Content::Receipt))).is_empty());
    assert_eq!(m.undelivered(), [PEER]);
    let out = handle(&mut m, &from_peer(&key, 5, 5, Content::Text("hi".into())));
    assert_eq!(delivery(&out), [(PEER, false)]);
    assert!(m.undelivered().is_empty());
}

#[test]
fn replayed_receipts_are_refused_and_receipts_are_never_answered() {
    let (mut m, key) = room();
    say(&mut m, "1");
    let receipt = from_peer(&key, 2, 2, Content::Receipt);
    assert!(handle(&mut m, &receipt).is_empty());
    let again = handle(&mut m, &receipt);
    assert!(matches!(
        again[..],
        [Output::Event(RoomEvent::Refused {
            reason: Refusal::Replayed,
            ..
        })]
    ));
    // A flood of receipts: accepted in order, never answered, even long after.
    for c in 3..100 {
        let out = handle(&mut m, &from_peer(&key, c, 2, Content::Receipt));
        assert!(out.is_empty(), "receipt {c}: {out:?}");
    }
    assert!(m.tick(60_000).iter().all(|o| !matches!(o, Output::Send(_))));
}

#[test]
fn a_frame_of_an_earlier_format_is_refused_as_such() {
    let (mut m, key) = room();
    for (version, reason) in [
        (3, Refusal::OldVersion),
        (2, Refusal::OldVersion),
        (1, Refusal::OldVersion),
        (9, Refusal::Malformed),
    ] {
        let mut old = from_peer(&key, 1, 0, Content::Text("old app".into()));
        old[0] = version;
        let out = handle(&mut m, &old);
        assert!(
            matches!(out[..], [Output::Event(RoomEvent::Refused { reason: r, .. })] if r == reason),
            "version {version}: {out:?}"
        );
    }
}
