//! Operations and chains that arrive ahead of this device's state are held until the one
//! they depend on comes (PROTOCOL.md 27.7), at most `MAX_HELD` (256). A relay that keeps
//! one operation back while the admin makes more fills that: the oldest held one is then
//! dropped, and reported, never in silence (its sender's envelope was taken, so nothing
//! sends it again: the device stays behind, and the user must know).
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::group::GroupError;
use sealpost_engine::{GroupRequest, LookupOutcome};
use support::groups::*;
use support::*;

/// `groups::MAX_HELD`.
const MAX_HELD: usize = 256;

#[test]
fn a_held_operation_dropped_for_room_is_reported() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut carol = register(&mut relay, "carol", 3);
    assert_eq!(alice.lookup(&mut relay, T0, "carol"), LookupOutcome::Found);
    let group = create(&mut relay, &mut alice, &["carol"]);
    settle(&mut relay, &mut [&mut alice, &mut carol], T0 + 2);
    // Alice renames; the relay keeps that operation from carol, then hands her the
    // renames after it: each waits for the one kept back.
    let logged = relay.log.len();
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 3,
        GroupRequest::Rename("kept back".into()),
    );
    let kept: Vec<_> = relay.log[logged..]
        .iter()
        .filter(|(u, d, _)| (*u, *d) == (carol.user(), carol.id()))
        .map(|(_, _, b)| b.id.clone())
        .collect();
    assert_eq!(kept.len(), 1);
    let mailbox = relay
        .mailboxes
        .get_mut(&(carol.user(), carol.id()))
        .unwrap();
    mailbox.retain(|b| b.id != kept[0]);
    for i in 0..MAX_HELD {
        change(
            &mut relay,
            &mut alice,
            group,
            T0 + 4,
            GroupRequest::Rename(format!("{i}")),
        );
    }
    carol.receive(&mut relay, T0 + 5);
    assert!(refusals(&carol).is_empty(), "{:?}", refusals(&carol));
    // One more: no room, the oldest held goes, with a notice. Before, it went silently.
    change(
        &mut relay,
        &mut alice,
        group,
        T0 + 6,
        GroupRequest::Rename("one too many".into()),
    );
    carol.receive(&mut relay, T0 + 7);
    assert_eq!(refusals(&carol), [GroupError::TooLarge]);
}
