//! Frames the relay drops or holds back while later ones get through (PROTOCOL.md 30.4
//! "Gaps"), through the simulated relay: the receiver is told how many did not arrive,
//! and nobody else; a frame held back less than the grace is taken, one held longer is
//! refused; replays are refused and are no gap; rotations make none.
#![cfg(feature = "rooms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod room_net;

use room_net::*;
use sealpost_engine::room::{
    Content, EVERYONE, HOST, MemberId, REORDER_GRACE_MS, Refusal, RoomOut, UNDELIVERED_GRACE_MS,
};

/// A host and two guests who said hello and settled.
fn three() -> (Net, MemberId, MemberId) {
    let mut net = Net::new(51);
    let code = net.code.clone();
    let b = net.join(&code);
    let c = net.join(&code);
    net.wait(2 * UNDELIVERED_GRACE_MS);
    assert_quiet(&net, &[HOST, b, c]);
    assert_no_missing(&net, &[HOST, b, c]);
    (net, b, c)
}

/// Nobody among `members` was told of a missing frame.
fn assert_no_missing(net: &Net, members: &[MemberId]) {
    for &who in members {
        for &from in members {
            assert!(
                net.missing(who, from).is_empty(),
                "member {who} about {from}: {:?}",
                net.events.get(&who)
            );
        }
    }
}

/// The last frame of `from` the relay delivered to `to`.
fn last_from(net: &Net, from: MemberId, to: MemberId) -> Vec<u8> {
    net.log
        .iter()
        .rev()
        .find_map(|(t, w)| match w {
            Wire::Frame(f, d) if *t == to && *f == from => Some(d.clone()),
            _ => None,
        })
        .unwrap()
}

fn texts_from(net: &Net, who: MemberId, from: MemberId) -> Vec<String> {
    net.texts(who)
        .into_iter()
        .filter(|(f, _)| *f == from)
        .map(|(_, t)| t)
        .collect()
}

#[test]
fn one_frame_the_relay_drops_is_reported_once_to_its_receiver_and_nobody_else() {
    let (mut net, b, c) = three();
    net.say(HOST, EVERYONE, "one");
    net.drop_next.push((HOST, b));
    net.say(HOST, EVERYONE, "two");
    net.say(HOST, EVERYONE, "three");
    assert_eq!(texts_from(&net, b, HOST), ["one", "three"]);
    assert_eq!(texts_from(&net, c, HOST), ["one", "two", "three"]);
    // Not before the grace, then once.
    net.wait(REORDER_GRACE_MS - 100);
    assert!(net.missing(b, HOST).is_empty());
    net.wait(200);
    assert_eq!(net.missing(b, HOST), [1]);
    net.wait(5 * UNDELIVERED_GRACE_MS);
    assert_eq!(net.missing(b, HOST), [1]);
    assert!(net.refusals(b).is_empty());
    // Nobody else: c got everything, the host and b miss nothing of the others.
    for (who, from) in [(c, HOST), (c, b), (HOST, b), (HOST, c), (b, c)] {
        assert!(net.missing(who, from).is_empty(), "{who} about {from}");
    }
    // The same in a private stream: a text for b alone, dropped between two.
    net.say(HOST, b, "p1");
    net.drop_next.push((HOST, b));
    net.say(HOST, b, "p2");
    net.say(HOST, b, "p3");
    net.wait(REORDER_GRACE_MS + 100);
    assert_eq!(net.missing(b, HOST), [1, 1]);
    assert!(net.missing(c, HOST).is_empty());
}

#[test]
fn a_frame_held_back_within_the_grace_is_taken_and_nothing_is_reported() {
    let (mut net, b, c) = three();
    net.say(c, EVERYONE, "first");
    net.hold_next.push((c, b));
    net.say(c, EVERYONE, "second");
    net.say(c, EVERYONE, "third");
    net.wait(REORDER_GRACE_MS / 2);
    net.release();
    // b shows it as it comes: after the third.
    assert_eq!(texts_from(&net, b, c), ["first", "third", "second"]);
    net.wait(5 * UNDELIVERED_GRACE_MS);
    assert_no_missing(&net, &[HOST, b, c]);
    assert!(net.refusals(b).is_empty());
    assert!(net.delivery_events(c).is_empty());
}

#[test]
fn a_frame_held_back_past_the_grace_is_reported_then_refused_when_it_comes() {
    let (mut net, b, c) = three();
    net.hold_next.push((c, b));
    net.say(c, b, "late");
    net.say(c, b, "on time");
    net.wait(REORDER_GRACE_MS + 100);
    assert_eq!(net.missing(b, c), [1]);
    net.release();
    assert_eq!(net.refusals(b), [Refusal::Replayed]);
    assert_eq!(texts_from(&net, b, c), ["on time"]);
    net.wait(5 * UNDELIVERED_GRACE_MS);
    assert_eq!(net.missing(b, c), [1], "said once");
}

#[test]
fn replays_are_refused_and_are_no_gap() {
    let (mut net, b, _c) = three();
    net.say(HOST, EVERYONE, "one");
    let one = last_from(&net, HOST, b);
    net.say(HOST, EVERYONE, "two");
    let two = last_from(&net, HOST, b);
    for frame in [&one, &two, &one] {
        let out = net.feed(b, Wire::Frame(HOST, frame.clone()));
        assert_eq!(refused(&out), Some(Refusal::Replayed));
    }
    // A frame that filled a gap, replayed: refused too, and the gap stays closed.
    net.hold_next.push((HOST, b));
    net.say(HOST, EVERYONE, "three");
    net.say(HOST, EVERYONE, "four");
    let Some((_, Wire::Frame(_, three))) = net.held.first().cloned() else {
        panic!()
    };
    net.release();
    let out = net.feed(b, Wire::Frame(HOST, three));
    assert_eq!(refused(&out), Some(Refusal::Replayed));
    net.wait(5 * UNDELIVERED_GRACE_MS);
    assert!(net.missing(b, HOST).is_empty());
    assert_eq!(texts_from(&net, b, HOST), ["one", "two", "four", "three"]);
}

/// The last frame of a burst has no later frame in its stream to show it missing: the
/// sender is told by the receipts (`Undelivered` after 3 s), the receiver by the
/// sender's next frame in that stream.
#[test]
fn the_last_frame_of_a_burst_dropped_is_told_by_receipts_then_by_the_next_frame() {
    let (mut net, b, c) = three();
    net.say(HOST, EVERYONE, "a");
    net.say(HOST, EVERYONE, "b");
    net.drop_next.push((HOST, b));
    net.say(HOST, EVERYONE, "c");
    net.wait(UNDELIVERED_GRACE_MS + 500);
    assert!(net.missing(b, HOST).is_empty(), "b cannot know yet");
    assert_eq!(net.delivery_events(HOST), [(b, true)]);
    // The host's next frame to everyone shows b the gap.
    net.say(HOST, EVERYONE, "d");
    net.wait(REORDER_GRACE_MS + 100);
    assert_eq!(net.missing(b, HOST), [1]);
    assert!(net.missing(c, HOST).is_empty());
    // b acknowledges "d", which covers "c" for the host: it is told delivered again.
    net.wait(UNDELIVERED_GRACE_MS);
    assert_eq!(net.delivery_events(HOST), [(b, true), (b, false)]);
}

/// What `who` seals to everyone, not relayed (the test relays it, late or never).
fn seal(net: &mut Net, who: MemberId, text: &str) -> Vec<u8> {
    let out = net
        .rooms
        .get_mut(&who)
        .unwrap()
        .send(EVERYONE, &Content::Text(text.into()));
    let Ok(RoomOut::Frame { data, .. }) = out else {
        panic!()
    };
    data
}

#[test]
fn rotations_make_no_gap() {
    let (mut net, b, c) = three();
    let code = net.code.clone();
    // b seals a text under the current key; the host rotates (d joins) before it
    // arrives: it counts in the previous epoch's stream, and the new epoch's streams
    // start at 1.
    let in_flight = seal(&mut net, b, "sealed before the join");
    let d = net.join(&code);
    for m in [HOST, c] {
        assert!(refused(&net.feed(m, Wire::Frame(b, in_flight.clone()))).is_none());
    }
    // Under the new key, texts from everyone, to everyone and to one; a leave (another
    // rotation), and more.
    net.say(b, EVERYONE, "new key");
    net.say(d, EVERYONE, "hello from d");
    net.say(HOST, d, "welcome");
    net.say(c, b, "for b");
    net.wait(300);
    net.leave(c);
    net.say(b, EVERYONE, "after c left");
    net.say(d, b, "for b");
    net.say(HOST, EVERYONE, "still here");
    net.wait(5 * UNDELIVERED_GRACE_MS);
    assert_no_missing(&net, &[HOST, b, c, d]);
    for m in [HOST, b, d] {
        assert!(
            net.refusals(m).is_empty(),
            "member {m}: {:?}",
            net.refusals(m)
        );
    }
}

#[test]
fn a_gap_open_at_a_rotation_is_still_reported_and_one_open_when_its_sender_leaves_at_once() {
    let (mut net, b, c) = three();
    let code = net.code.clone();
    // Three texts of b under the current key; the relay delivers the first and the third
    // to the host only after two rotations began, and drops the second.
    let first = seal(&mut net, b, "1");
    let _dropped = seal(&mut net, b, "2");
    let third = seal(&mut net, b, "3");
    net.join(&code);
    for f in [first, third] {
        assert!(refused(&net.feed(HOST, Wire::Frame(b, f))).is_none());
    }
    net.join(&code);
    net.wait(REORDER_GRACE_MS + 100);
    assert_eq!(net.missing(HOST, b), [1]);
    // c's frame to b dropped between two; c leaves before the grace: said at once.
    net.say(c, b, "x");
    net.drop_next.push((c, b));
    net.say(c, b, "y");
    net.say(c, b, "z");
    assert!(net.missing(b, c).is_empty());
    net.leave(c);
    assert_eq!(net.missing(b, c), [1]);
}
