//! Gaps against a member that numbers its frames as it likes (PROTOCOL.md 30.4 "Gaps"):
//! frames sealed here under the room key as a dishonest member's client would, which the
//! relay-level tests (`tests/room_gaps.rs`) cannot make.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use alloc::vec::Vec;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::v2::room::{
    Content, EVERYONE, EpochKey, FrameHeader, MemberId, RosterEntry, seal_frame,
};

use super::member::Membership;
use super::{MAX_OPEN_GAPS, Output, REORDER_GRACE_MS, Refusal, RoomEvent, RoomIn};

const ME: MemberId = 1;
const PEER: MemberId = 2;

/// Member 1 with member 2 shown, and the room key to seal member 2's frames.
fn room() -> (Membership, EpochKey) {
    let key = EpochKey::new(0, [7; 32]);
    let mut m = Membership::new(ME, key.clone());
    m.add_peer(PEER, true);
    (m, key)
}

/// A text of member 2 to everyone (`to` EVERYONE) or to member 1, numbered `seq`; its
/// counter grows with every frame sealed here.
struct Peer {
    key: EpochKey,
    counter: u64,
}

impl Peer {
    fn frame(&mut self, to: MemberId, seq: u32) -> Vec<u8> {
        self.counter += 1;
        let header = FrameHeader {
            epoch: self.key.epoch,
            sender: PEER,
            to,
            counter: self.counter,
            seq,
        };
        let roster = [RosterEntry {
            member: PEER,
            counter: 0,
        }];
        seal_frame(&self.key, header, &roster, &Content::Text("x".into())).unwrap()
    }
}

fn handle(m: &mut Membership, data: &[u8]) -> Vec<Output> {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    m.handle(&mut rng, RoomIn::Frame { from: PEER, data })
}

fn missing(out: &[Output]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(RoomEvent::Missing { from: PEER, count }) => Some(*count),
            _ => None,
        })
        .collect()
}

fn refusal(out: &[Output]) -> Option<Refusal> {
    out.iter().find_map(|o| match o {
        Output::Event(RoomEvent::Refused { reason, .. }) => Some(*reason),
        _ => None,
    })
}

#[test]
fn late_frames_fill_a_gap_number_by_number_and_only_once() {
    let (mut m, key) = room();
    let mut peer = Peer { key, counter: 0 };
    let frames: Vec<Vec<u8>> = (1..=5).map(|seq| peer.frame(EVERYONE, seq)).collect();
    // 1, then 5 (2 to 4 missing), then 3 (splits the gap), 2 and 4: nothing missing.
    for i in [0, 4, 2, 1, 3] {
        let out = handle(&mut m, &frames[i]);
        assert_eq!(refusal(&out), None, "frame {}", i + 1);
        assert!(missing(&out).is_empty());
    }
    assert!(missing(&m.tick(10 * REORDER_GRACE_MS)).is_empty());
    // Each again: replayed.
    for f in &frames {
        assert_eq!(refusal(&handle(&mut m, f)), Some(Refusal::Replayed));
    }
    // The private stream is another: its 1 is not the one to everyone.
    assert_eq!(refusal(&handle(&mut m, &peer.frame(ME, 1))), None);
}

#[test]
fn a_number_far_ahead_is_one_gap_counted_not_stored_per_number() {
    let (mut m, key) = room();
    let mut peer = Peer { key, counter: 0 };
    handle(&mut m, &peer.frame(EVERYONE, 1));
    let out = handle(&mut m, &peer.frame(EVERYONE, u32::MAX));
    assert_eq!(refusal(&out), None);
    assert!(missing(&m.tick(REORDER_GRACE_MS - 1)).is_empty());
    assert_eq!(
        missing(&m.tick(REORDER_GRACE_MS)),
        [u64::from(u32::MAX) - 2],
        "2 ..= 2^32 - 2"
    );
    // The stream is at its end: nothing above it is left, and nothing below is open.
    for seq in [2, u32::MAX - 1, u32::MAX] {
        let out = handle(&mut m, &peer.frame(EVERYONE, seq));
        assert_eq!(refusal(&out), Some(Refusal::Replayed), "{seq}");
    }
}

#[test]
fn a_flood_of_skipped_numbers_keeps_the_open_gaps_bounded() {
    let (mut m, key) = room();
    let mut peer = Peer { key, counter: 0 };
    handle(&mut m, &peer.frame(ME, 1));
    // 3, 5, 7, ...: each frame opens a gap of one. Up to the bound they wait for their
    // grace; past it, each new gap makes the oldest be reported at once.
    let mut reported = Vec::new();
    for i in 1..=(MAX_OPEN_GAPS as u32 + 40) {
        let out = handle(&mut m, &peer.frame(ME, 1 + 2 * i));
        assert_eq!(refusal(&out), None);
        reported.extend(missing(&out));
    }
    assert_eq!(reported, [1; 40]);
    // The oldest reported cannot be filled any more; the newest still can.
    assert_eq!(
        refusal(&handle(&mut m, &peer.frame(ME, 2))),
        Some(Refusal::Replayed)
    );
    let newest_gap = 2 * (MAX_OPEN_GAPS as u32 + 40);
    assert_eq!(refusal(&handle(&mut m, &peer.frame(ME, newest_gap))), None);
    // The rest is said once the grace ran out, in one event.
    assert_eq!(
        missing(&m.tick(REORDER_GRACE_MS)),
        [MAX_OPEN_GAPS as u64 - 1]
    );
    assert!(missing(&m.tick(10 * REORDER_GRACE_MS)).is_empty());
}
