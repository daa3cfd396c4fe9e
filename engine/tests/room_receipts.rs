//! Per-frame receipts (PROTOCOL.md 30.4 "Receipts") through the simulated relay: a
//! relay that starts dropping one member's frames to another after they once got
//! through, or drops the receipts coming back, is reported to the sender; an honest
//! room, with bursts, joins and rotations, reports nothing; receipts never answer
//! receipts.
#![cfg(feature = "rooms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod room_net;

use room_net::*;
use sealpost_engine::room::{
    Content, EVERYONE, HOST, MemberId, RECEIPT_INTERVAL_MS, RoomEvent, UNDELIVERED_GRACE_MS,
};

/// A host and two guests who said hello and settled (their receipts went out).
fn three() -> (Net, MemberId, MemberId) {
    let mut net = Net::new(41);
    let code = net.code.clone();
    let b = net.join(&code);
    let c = net.join(&code);
    net.wait(2 * UNDELIVERED_GRACE_MS);
    assert_quiet(&net, &[HOST, b, c]);
    for m in [HOST, b, c] {
        assert!(
            net.delivery_events(m).is_empty(),
            "member {m}: {:?}",
            net.events.get(&m)
        );
    }
    (net, b, c)
}

fn texts_from(net: &Net, who: MemberId, from: MemberId) -> Vec<String> {
    net.texts(who)
        .into_iter()
        .filter(|(f, _)| *f == from)
        .map(|(_, t)| t)
        .collect()
}

#[test]
fn a_relay_that_starts_dropping_one_members_frames_to_another_is_reported_to_the_sender() {
    let (mut net, b, c) = three();
    net.say(HOST, EVERYONE, "one");
    net.wait(500);
    assert_eq!(texts_from(&net, b, HOST), ["one"]);
    // From now on the relay drops the host's frames to b only; c still gets them, and b
    // still sends (its receipts reach the host: they acknowledge "one" and no more).
    net.dropped.push((HOST, b));
    net.say(HOST, EVERYONE, "two");
    net.say(HOST, b, "three, for b");
    net.wait(UNDELIVERED_GRACE_MS - 100);
    assert!(net.delivery_events(HOST).is_empty(), "not before the grace");
    net.say(b, EVERYONE, "b talks on");
    net.wait(200);
    assert_eq!(net.delivery_events(HOST), [(b, true)]);
    assert_eq!(net.rooms[&HOST].undelivered(), [b]);
    assert_eq!(texts_from(&net, b, HOST), ["one"]);
    assert_eq!(texts_from(&net, c, HOST), ["one", "two"]);
    // Said once while it lasts; c, which gets everything, is not reported. b is told
    // of the host: the host's acknowledgements of b's text cannot reach b either.
    net.wait(5 * UNDELIVERED_GRACE_MS);
    assert_eq!(net.delivery_events(HOST), [(b, true)]);
    assert_eq!(net.delivery_events(b), [(HOST, true)]);
    assert!(net.delivery_events(c).is_empty());
    // The relay forwards again: b acknowledges the next frame, the host is told.
    net.dropped.clear();
    net.say(HOST, EVERYONE, "four");
    net.wait(RECEIPT_INTERVAL_MS + 200);
    assert_eq!(net.delivery_events(HOST), [(b, true), (b, false)]);
    assert_eq!(net.delivery_events(b), [(HOST, true), (HOST, false)]);
    assert!(net.rooms[&HOST].undelivered().is_empty());
    assert_eq!(texts_from(&net, b, HOST), ["one", "four"]);
}

#[test]
fn a_relay_that_drops_a_readers_receipts_is_reported_too_without_saying_which_way() {
    let (mut net, b, c) = three();
    // b only reads; the relay drops everything b sends to the host (its receipts).
    net.dropped.push((b, HOST));
    net.say(HOST, EVERYONE, "are you there?");
    net.wait(UNDELIVERED_GRACE_MS + 200);
    // b got the text and acknowledged it, but the host cannot know: it is told, as it
    // would be had the text been dropped on its way.
    assert_eq!(texts_from(&net, b, HOST), ["are you there?"]);
    assert_eq!(net.delivery_events(HOST), [(b, true)]);
    assert!(net.delivery_events(c).is_empty());
    // b's receipts reach c, which sent b nothing lately: nothing to report there.
    assert!(net.delivery_events(b).is_empty());
}

#[test]
fn an_honest_room_with_bursts_joins_and_rotations_reports_nothing() {
    let mut net = Net::new(42);
    let code = net.code.clone();
    let b = net.join(&code);
    // Bursts right after a join, before anyone waited.
    for i in 0..20 {
        net.say(HOST, EVERYONE, &format!("h{i}"));
        net.say(b, EVERYONE, &format!("b{i}"));
    }
    net.wait(300);
    let c = net.join(&code);
    for i in 0..10 {
        net.say(c, EVERYONE, &format!("c{i}"));
        net.say(b, c, &format!("to c {i}"));
    }
    net.wait(700);
    // A member joins and leaves (two rotations) while texts flow; c only reads.
    let d = net.join(&code);
    net.say(HOST, EVERYONE, "welcome d");
    net.say(d, EVERYONE, "hi all");
    net.wait(300);
    net.leave(d);
    for i in 0..30 {
        net.say(HOST, EVERYONE, &format!("after {i}"));
        net.say(b, HOST, &format!("private {i}"));
        net.wait(150);
    }
    net.wait(4 * UNDELIVERED_GRACE_MS);
    for m in [HOST, b, c] {
        assert!(
            net.delivery_events(m).is_empty(),
            "member {m}: {:?}",
            net.delivery_events(m)
        );
        assert!(net.rooms[&m].undelivered().is_empty());
        // Nor a frame missing (PROTOCOL.md 30.4 "Gaps"), across the rotations.
        assert!(
            !net.events[&m]
                .iter()
                .any(|e| matches!(e, RoomEvent::Missing { .. })),
            "member {m}"
        );
    }
    assert_eq!(texts_from(&net, c, HOST).len(), 31);
    assert!(net.refusals(HOST).is_empty() && net.refusals(b).is_empty());
}

#[test]
fn receipts_never_answer_receipts_and_a_flood_yields_one_per_interval() {
    let (mut net, b, c) = three();
    // Settled: nothing more is sent however long the room is quiet.
    let before = net.log.len();
    net.wait(20 * RECEIPT_INTERVAL_MS);
    assert_eq!(net.log.len(), before, "a quiet room stays quiet");
    // 100 texts from the host at once: b and c (who only read) each send a receipt on
    // the first (they were quiet) and one more an interval later, not one per text.
    let (from_b, from_c) = (net.frames_delivered(b, HOST), net.frames_delivered(c, HOST));
    for i in 0..100 {
        net.say(HOST, EVERYONE, &format!("flood {i}"));
    }
    net.wait(10 * RECEIPT_INTERVAL_MS);
    assert_eq!(net.frames_delivered(b, HOST) - from_b, 2);
    assert_eq!(net.frames_delivered(c, HOST) - from_c, 2);
    net.say(HOST, EVERYONE, "one more");
    net.wait(10 * RECEIPT_INTERVAL_MS);
    assert_eq!(net.frames_delivered(b, HOST) - from_b, 3);
    assert!(net.delivery_events(HOST).is_empty());
}

#[test]
fn a_receipt_flood_by_a_member_changes_nothing_beyond_the_rules() {
    let (mut net, b, c) = three();
    net.say(HOST, EVERYONE, "before");
    net.wait(RECEIPT_INTERVAL_MS * 2);
    let sent_by =
        |net: &Net, m: MemberId| net.frames_delivered(m, if m == HOST { b } else { HOST });
    let (host_sent, b_sent) = (sent_by(&net, HOST), sent_by(&net, b));
    // c floods everyone with receipts (its engine seals what it is asked to).
    for _ in 0..200 {
        let out = net
            .rooms
            .get_mut(&c)
            .unwrap()
            .send(EVERYONE, &Content::Receipt)
            .unwrap();
        net.relay(c, out);
    }
    net.wait(3 * UNDELIVERED_GRACE_MS);
    // Nobody answered, nobody was told anything.
    assert_eq!(sent_by(&net, HOST), host_sent);
    assert_eq!(sent_by(&net, b), b_sent);
    for m in [HOST, b] {
        assert!(net.delivery_events(m).is_empty());
        assert!(net.refusals(m).is_empty());
    }
    // The relay replays one of them: refused by the counter rule (30.4 step 6).
    let (from, frame) = net.last_frame_to(HOST);
    assert_eq!(from, c);
    let out = net.feed(HOST, Wire::Frame(c, frame));
    assert_eq!(
        refused(&out),
        Some(sealpost_engine::room::Refusal::Replayed)
    );
}
