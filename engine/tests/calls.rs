//! Voice calls' rules (PROTOCOL.md 18.10) with a stand-in for the pages' WebRTC: the
//! test makes the offers and answers and reports the certificate each connection
//! presented; the signalling really goes sealed through the in-memory relay. Covered:
//! ring, accept, connect, hang-up from either side with a duration; decline; busy; the
//! ring timeout (no answer / missed) and a ring that arrives late; glare; two devices of
//! the callee where the first to accept wins and the other stops; and the attacker's
//! cases: a replayed ring or accept, a stranger's call, a signal for a call from a device
//! not in it, a re-addressed envelope, a swapped fingerprint in either SDP and a
//! connection presenting another certificate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::UserId;
use sealpost_engine::call::{CallAction, CallEnd, CallState, MediaStep, RING_TIMEOUT};
use sealpost_engine::direct::{CallId, CertFingerprint};
use sealpost_engine::{Input, Output};
use support::*;

/// What the app saw of calls on `d` since the last look: (call, state).
fn states(d: &mut Device) -> Vec<(CallId, CallState)> {
    let out = std::mem::take(&mut d.direct);
    d.direct = out
        .iter()
        .filter(|o| matches!(o, Output::CallMedia { .. }))
        .cloned()
        .collect();
    out.into_iter()
        .filter_map(|o| match o {
            Output::CallState { call, state, .. } => Some((call, state)),
            _ => None,
        })
        .collect()
}

/// The media steps the page was asked for since the last look.
fn steps(d: &mut Device) -> Vec<MediaStep> {
    let out = std::mem::take(&mut d.direct);
    d.direct = out
        .iter()
        .filter(|o| matches!(o, Output::CallState { .. }))
        .cloned()
        .collect();
    out.into_iter()
        .filter_map(|o| match o {
            Output::CallMedia { step, .. } => Some(step),
            _ => None,
        })
        .collect()
}

fn ended(reason: CallEnd, duration: u64) -> CallState {
    CallState::Ended { reason, duration }
}

fn act(relay: &mut Relay, d: &mut Device, now: u64, call: CallId, action: CallAction) {
    d.run(relay, now, Input::Call { call, action });
}

/// The page's offer or answer, honest.
fn local(relay: &mut Relay, d: &mut Device, now: u64, call: CallId) {
    let fp = cert(d);
    tampered(relay, d, now, call, fp);
}

/// The page's offer or answer with `in_sdp` in the SDP's fingerprint line.
fn tampered(relay: &mut Relay, d: &mut Device, now: u64, call: CallId, in_sdp: CertFingerprint) {
    let action = CallAction::Local {
        fingerprint: cert(d),
        sdp: sdp(&in_sdp),
    };
    act(relay, d, now, call, action);
}

fn start(relay: &mut Relay, d: &mut Device, now: u64, call: CallId, to: UserId) {
    d.run(relay, now, Input::CallStart { call, user: to });
}

fn contacts(relay: &mut Relay) -> (Device, Device) {
    let mut alice = register(relay, "alice", 1);
    let mut bob = register(relay, "bob", 2);
    alice.lookup(relay, T0 + 1, "bob");
    bob.lookup(relay, T0 + 1, "alice");
    (alice, bob)
}

const CALL: CallId = [0xca; 16];

/// Alice calls bob, bob accepts and offers, alice takes the offer (at `T0 + 4`).
fn accepted(relay: &mut Relay) -> (Device, Device) {
    let (mut alice, mut bob) = contacts(relay);
    start(relay, &mut alice, T0 + 2, CALL, bob.user());
    bob.receive(relay, T0 + 3);
    act(relay, &mut bob, T0 + 3, CALL, CallAction::Accept);
    local(relay, &mut bob, T0 + 3, CALL);
    alice.receive(relay, T0 + 4);
    (alice, bob)
}

/// Alice calls bob, bob accepts, both pages negotiate and connect at `now`.
fn connect(relay: &mut Relay, alice: &mut Device, bob: &mut Device, now: u64) {
    start(relay, alice, now, CALL, bob.user());
    assert_eq!(
        states(alice),
        [(
            CALL,
            CallState::Ringing {
                until: now + RING_TIMEOUT
            }
        )]
    );
    bob.receive(relay, now);
    assert_eq!(
        states(bob),
        [(
            CALL,
            CallState::Ringing {
                until: now + RING_TIMEOUT
            }
        )]
    );
    act(relay, bob, now, CALL, CallAction::Accept);
    assert_eq!(states(bob), [(CALL, CallState::Connecting)]);
    assert_eq!(steps(bob), [MediaStep::Offer]);
    local(relay, bob, now, CALL);
    alice.receive(relay, now);
    assert_eq!(states(alice), [(CALL, CallState::Connecting)]);
    assert_eq!(steps(alice), [MediaStep::Answer(sdp(&cert(bob)))]);
    local(relay, alice, now, CALL);
    bob.receive(relay, now);
    assert_eq!(steps(bob), [MediaStep::Remote(sdp(&cert(alice)))]);
    let seen = cert(bob);
    act(
        relay,
        alice,
        now,
        CALL,
        CallAction::Opened { fingerprint: seen },
    );
    let seen = cert(alice);
    act(
        relay,
        bob,
        now,
        CALL,
        CallAction::Opened { fingerprint: seen },
    );
    assert_eq!(states(alice), [(CALL, CallState::Connected)]);
    assert_eq!(states(bob), [(CALL, CallState::Connected)]);
}

#[test]
fn a_call_connects_and_either_side_hangs_up_with_its_duration() {
    for caller_hangs_up in [true, false] {
        let mut relay = Relay::default();
        let (mut alice, mut bob) = contacts(&mut relay);
        connect(&mut relay, &mut alice, &mut bob, T0 + 10);
        let (by, other) = if caller_hangs_up {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        act(&mut relay, by, T0 + 75, CALL, CallAction::HangUp);
        assert_eq!(states(by), [(CALL, ended(CallEnd::HungUp, 65))]);
        other.receive(&mut relay, T0 + 76);
        assert_eq!(states(other), [(CALL, ended(CallEnd::HungUp, 66))]);
        // A second hang-up or a late signal for the ended call does nothing.
        act(&mut relay, by, T0 + 77, CALL, CallAction::HangUp);
        assert!(states(by).is_empty());
    }
}

#[test]
fn a_declined_call_ends_on_both_sides_and_a_new_one_can_start() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    states(&mut alice);
    bob.receive(&mut relay, T0 + 3);
    states(&mut bob);
    act(&mut relay, &mut bob, T0 + 4, CALL, CallAction::Decline);
    assert_eq!(states(&mut bob), [(CALL, ended(CallEnd::Declined, 0))]);
    alice.receive(&mut relay, T0 + 5);
    assert_eq!(states(&mut alice), [(CALL, ended(CallEnd::Declined, 0))]);
    assert!(steps(&mut alice).is_empty(), "no media was ever asked for");
    let next = [1; 16];
    start(&mut relay, &mut alice, T0 + 6, next, bob.user());
    assert_eq!(
        states(&mut alice),
        [(
            next,
            CallState::Ringing {
                until: T0 + 6 + RING_TIMEOUT
            }
        )]
    );
}

#[test]
fn an_unanswered_call_times_out_as_no_answer_and_missed() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    states(&mut alice);
    bob.receive(&mut relay, T0 + 3);
    states(&mut bob);
    // The page's timer fires early: nothing yet.
    act(&mut relay, &mut alice, T0 + 30, CALL, CallAction::Timer);
    assert!(states(&mut alice).is_empty());
    let due = T0 + 2 + RING_TIMEOUT;
    act(&mut relay, &mut alice, due, CALL, CallAction::Timer);
    assert_eq!(states(&mut alice), [(CALL, ended(CallEnd::NoAnswer, 0))]);
    // Bob's own timer and alice's hang-up: missed, once.
    act(&mut relay, &mut bob, due, CALL, CallAction::Timer);
    assert_eq!(states(&mut bob), [(CALL, ended(CallEnd::Missed, 0))]);
    bob.receive(&mut relay, due + 1);
    assert!(states(&mut bob).is_empty());
}

#[test]
fn a_caller_that_gives_up_leaves_a_missed_call_and_a_late_ring_is_missed_without_ringing() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    bob.receive(&mut relay, T0 + 3);
    states(&mut bob);
    states(&mut alice);
    act(&mut relay, &mut alice, T0 + 9, CALL, CallAction::HangUp);
    assert_eq!(states(&mut alice), [(CALL, ended(CallEnd::HungUp, 0))]);
    bob.receive(&mut relay, T0 + 10);
    assert_eq!(states(&mut bob), [(CALL, ended(CallEnd::Missed, 0))]);
    // Bob was offline during a second call: when he connects, it is a missed call.
    let late = [2; 16];
    start(&mut relay, &mut alice, T0 + 20, late, bob.user());
    act(
        &mut relay,
        &mut alice,
        T0 + 20 + RING_TIMEOUT,
        late,
        CallAction::Timer,
    );
    bob.receive(&mut relay, T0 + 600);
    assert_eq!(states(&mut bob), [(late, ended(CallEnd::Missed, 0))]);
}

#[test]
fn a_call_to_a_device_in_another_call_is_busy_and_missed_there() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    let mut carol = register(&mut relay, "carol", 3);
    carol.lookup(&mut relay, T0 + 1, "bob");
    bob.lookup(&mut relay, T0 + 1, "carol");
    connect(&mut relay, &mut alice, &mut bob, T0 + 2);
    let second = [3; 16];
    start(&mut relay, &mut carol, T0 + 5, second, bob.user());
    states(&mut carol);
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(states(&mut bob), [(second, ended(CallEnd::Missed, 0))]);
    carol.receive(&mut relay, T0 + 7);
    assert_eq!(states(&mut carol), [(second, ended(CallEnd::Busy, 0))]);
    // The call in progress goes on; starting another one here is refused.
    start(&mut relay, &mut bob, T0 + 8, [4; 16], carol.user());
    assert_eq!(states(&mut bob), [([4; 16], ended(CallEnd::InCall, 0))]);
    act(&mut relay, &mut alice, T0 + 9, CALL, CallAction::HangUp);
    bob.receive(&mut relay, T0 + 9);
    assert_eq!(states(&mut bob), [(CALL, ended(CallEnd::HungUp, 7))]);
}

#[test]
fn when_both_call_at_once_one_call_connects() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    let (ca, cb) = ([0xa0; 16], [0xb0; 16]);
    start(&mut relay, &mut alice, T0 + 2, ca, bob.user());
    start(&mut relay, &mut bob, T0 + 2, cb, alice.user());
    states(&mut alice);
    states(&mut bob);
    alice.receive(&mut relay, T0 + 3);
    bob.receive(&mut relay, T0 + 3);
    // The device with the larger (user, device) gives way and takes the other's call.
    let alice_keeps = (alice.user(), alice.id()) < (bob.user(), bob.id());
    let (keeper, yielder, kept, merged) = if alice_keeps {
        (&mut alice, &mut bob, ca, cb)
    } else {
        (&mut bob, &mut alice, cb, ca)
    };
    assert!(states(keeper).is_empty(), "the other ring is ignored");
    assert_eq!(
        states(yielder),
        [
            (merged, ended(CallEnd::Merged, 0)),
            (kept, CallState::Connecting)
        ]
    );
    assert_eq!(steps(yielder), [MediaStep::Offer]);
    local(&mut relay, yielder, T0 + 3, kept);
    keeper.receive(&mut relay, T0 + 4);
    assert_eq!(states(keeper), [(kept, CallState::Connecting)]);
    assert!(matches!(steps(keeper)[..], [MediaStep::Answer(_)]));
    local(&mut relay, keeper, T0 + 4, kept);
    yielder.receive(&mut relay, T0 + 5);
    assert!(matches!(steps(yielder)[..], [MediaStep::Remote(_)]));
    let (fk, fy) = (cert(keeper), cert(yielder));
    act(
        &mut relay,
        keeper,
        T0 + 5,
        kept,
        CallAction::Opened { fingerprint: fy },
    );
    act(
        &mut relay,
        yielder,
        T0 + 5,
        kept,
        CallAction::Opened { fingerprint: fk },
    );
    assert_eq!(states(keeper), [(kept, CallState::Connected)]);
    assert_eq!(states(yielder), [(kept, CallState::Connected)]);
}

#[test]
fn two_devices_ring_the_first_to_accept_wins_and_the_others_stop() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut bob2 = add_device(&mut relay, "bob", 1, 21, T0);
    let mut bob3 = add_device(&mut relay, "bob", 2, 22, T0);
    alice.lookup(&mut relay, T0 + 2, "bob");
    for d in [&mut bob, &mut bob2, &mut bob3] {
        d.lookup(&mut relay, T0 + 2, "alice");
    }
    start(&mut relay, &mut alice, T0 + 3, CALL, bob.user());
    states(&mut alice);
    for d in [&mut bob, &mut bob2, &mut bob3] {
        d.receive(&mut relay, T0 + 4);
        assert!(matches!(states(d)[..], [(CALL, CallState::Ringing { .. })]));
    }
    // bob2 and bob accept at about the same time; bob2's reaches alice first.
    act(&mut relay, &mut bob2, T0 + 5, CALL, CallAction::Accept);
    local(&mut relay, &mut bob2, T0 + 5, CALL);
    act(&mut relay, &mut bob, T0 + 5, CALL, CallAction::Accept);
    local(&mut relay, &mut bob, T0 + 5, CALL);
    alice.receive(&mut relay, T0 + 6);
    assert_eq!(states(&mut alice), [(CALL, CallState::Connecting)]);
    assert_eq!(steps(&mut alice), [MediaStep::Answer(sdp(&cert(&bob2)))]);
    local(&mut relay, &mut alice, T0 + 6, CALL);
    // The losing accept and the device still ringing stop.
    bob.receive(&mut relay, T0 + 7);
    assert_eq!(
        states(&mut bob),
        [
            (CALL, CallState::Connecting),
            (CALL, ended(CallEnd::Elsewhere, 0))
        ]
    );
    bob3.receive(&mut relay, T0 + 7);
    assert_eq!(states(&mut bob3), [(CALL, ended(CallEnd::Elsewhere, 0))]);
    bob2.receive(&mut relay, T0 + 7);
    assert!(matches!(
        steps(&mut bob2)[..],
        [MediaStep::Offer, MediaStep::Remote(_)]
    ));
    let (fa, fb) = (cert(&alice), cert(&bob2));
    act(
        &mut relay,
        &mut alice,
        T0 + 8,
        CALL,
        CallAction::Opened { fingerprint: fb },
    );
    act(
        &mut relay,
        &mut bob2,
        T0 + 8,
        CALL,
        CallAction::Opened { fingerprint: fa },
    );
    assert_eq!(states(&mut alice), [(CALL, CallState::Connected)]);
    assert_eq!(
        states(&mut bob2),
        [(CALL, CallState::Connecting), (CALL, CallState::Connected)]
    );
    // Bob's losing device's page made an offer alice never answers: nothing else.
    assert!(states(&mut bob).is_empty());
}

#[test]
fn a_decline_on_one_device_stops_the_others() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut bob2 = add_device(&mut relay, "bob", 1, 21, T0);
    alice.lookup(&mut relay, T0 + 2, "bob");
    bob.lookup(&mut relay, T0 + 2, "alice");
    bob2.lookup(&mut relay, T0 + 2, "alice");
    start(&mut relay, &mut alice, T0 + 3, CALL, bob.user());
    bob.receive(&mut relay, T0 + 4);
    bob2.receive(&mut relay, T0 + 4);
    states(&mut bob2);
    act(&mut relay, &mut bob, T0 + 5, CALL, CallAction::Decline);
    alice.receive(&mut relay, T0 + 6);
    assert_eq!(
        states(&mut alice).last(),
        Some(&(CALL, ended(CallEnd::Declined, 0)))
    );
    bob2.receive(&mut relay, T0 + 7);
    assert_eq!(states(&mut bob2), [(CALL, ended(CallEnd::Elsewhere, 0))]);
}

#[test]
fn a_replayed_ring_or_accept_does_nothing() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    let mark = relay.log.len();
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    let ring = relay.log[mark].2.bytes.clone();
    bob.receive(&mut relay, T0 + 3);
    states(&mut bob);
    act(&mut relay, &mut bob, T0 + 4, CALL, CallAction::Decline);
    states(&mut bob);
    // The relay hands the ring over again (a new blob id, the same bytes): no ring.
    relay.deposit(bob.user(), bob.id(), ring.clone());
    bob.receive(&mut relay, T0 + 5);
    assert!(states(&mut bob).is_empty());
    // An accept replayed into a later call of the same pair does nothing either.
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    bob.receive(&mut relay, T0 + 3);
    act(&mut relay, &mut bob, T0 + 3, CALL, CallAction::Accept);
    let mark = relay.log.len();
    local(&mut relay, &mut bob, T0 + 3, CALL);
    let accept = relay.log[mark].2.bytes.clone();
    alice.receive(&mut relay, T0 + 4);
    act(&mut relay, &mut alice, T0 + 5, CALL, CallAction::HangUp);
    let next = [9; 16];
    start(&mut relay, &mut alice, T0 + 6, next, bob.user());
    states(&mut alice);
    steps(&mut alice);
    relay.deposit(alice.user(), alice.id(), accept);
    alice.receive(&mut relay, T0 + 7);
    assert!(states(&mut alice).is_empty());
    assert!(steps(&mut alice).is_empty());
}

#[test]
fn a_strangers_call_never_rings_and_calls_to_strangers_or_oneself_are_refused() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut mallory = register(&mut relay, "carol", 3);
    // Mallory looked alice up, but alice never engaged mallory: no ring, no missed call.
    mallory.lookup(&mut relay, T0 + 1, "alice");
    start(&mut relay, &mut mallory, T0 + 2, [5; 16], alice.user());
    assert!(matches!(
        states(&mut mallory)[..],
        [(_, CallState::Ringing { .. })]
    ));
    alice.receive(&mut relay, T0 + 3);
    assert!(states(&mut alice).is_empty());
    start(&mut relay, &mut alice, T0 + 3, [6; 16], mallory.user());
    assert_eq!(
        states(&mut alice),
        [([6; 16], ended(CallEnd::NotAllowed, 0))]
    );
    let me = alice.user();
    start(&mut relay, &mut alice, T0 + 3, [7; 16], me);
    assert_eq!(
        states(&mut alice),
        [([7; 16], ended(CallEnd::NotAllowed, 0))]
    );
}

#[test]
fn a_third_party_that_knows_the_call_id_cannot_end_or_join_it() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    let mut carol = register(&mut relay, "carol", 3);
    carol.lookup(&mut relay, T0 + 1, "bob");
    bob.lookup(&mut relay, T0 + 1, "carol");
    connect(&mut relay, &mut alice, &mut bob, T0 + 4);
    // Carol, an engaged contact of bob, learnt the call id (say the relay told her): a
    // ring with that id, an accept-like hang-up from her page, none touch the call.
    start(&mut relay, &mut carol, T0 + 5, CALL, bob.user());
    act(&mut relay, &mut carol, T0 + 5, CALL, CallAction::HangUp);
    bob.receive(&mut relay, T0 + 6);
    assert!(states(&mut bob).is_empty(), "the call goes on");
    act(&mut relay, &mut alice, T0 + 7, CALL, CallAction::HangUp);
    bob.receive(&mut relay, T0 + 8);
    assert_eq!(states(&mut bob), [(CALL, ended(CallEnd::HungUp, 4))]);
}

#[test]
fn a_ring_re_addressed_to_another_device_does_not_open_there() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    let mut bob2 = add_device(&mut relay, "bob", 1, 21, T0 + 1);
    bob2.lookup(&mut relay, T0 + 2, "alice");
    // Alice knows only bob's first device.
    let mark = relay.log.len();
    start(&mut relay, &mut alice, T0 + 3, CALL, bob.user());
    let to_bob = relay.log[mark].2.bytes.clone();
    assert_eq!(relay.log.len(), mark + 1);
    relay.deposit(bob2.user(), bob2.id(), to_bob);
    bob2.receive(&mut relay, T0 + 4);
    assert!(states(&mut bob2).is_empty());
    bob.receive(&mut relay, T0 + 4);
    assert!(matches!(
        states(&mut bob)[..],
        [(CALL, CallState::Ringing { .. })]
    ));
}

#[test]
fn a_swapped_fingerprint_in_the_accept_fails_the_call_on_both_sides_before_any_media() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    states(&mut alice);
    bob.receive(&mut relay, T0 + 3);
    act(&mut relay, &mut bob, T0 + 3, CALL, CallAction::Accept);
    states(&mut bob);
    steps(&mut bob);
    // Bob's SDP names another certificate than the one sealed with it.
    tampered(&mut relay, &mut bob, T0 + 3, CALL, [0xee; 32]);
    alice.receive(&mut relay, T0 + 4);
    assert!(steps(&mut alice).is_empty(), "never handed to WebRTC");
    assert_eq!(
        states(&mut alice),
        [(CALL, ended(CallEnd::FingerprintMismatch, 0))]
    );
    bob.receive(&mut relay, T0 + 5);
    assert_eq!(
        states(&mut bob),
        [(CALL, ended(CallEnd::FingerprintMismatch, 0))]
    );
}

#[test]
fn a_swapped_fingerprint_in_the_answer_fails_the_call_on_both_sides() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = accepted(&mut relay);
    states(&mut alice);
    tampered(&mut relay, &mut alice, T0 + 4, CALL, [0xee; 32]);
    states(&mut bob);
    steps(&mut bob);
    bob.receive(&mut relay, T0 + 5);
    assert!(steps(&mut bob).is_empty(), "never handed to WebRTC");
    assert_eq!(
        states(&mut bob),
        [(CALL, ended(CallEnd::FingerprintMismatch, 0))]
    );
    alice.receive(&mut relay, T0 + 6);
    assert_eq!(
        states(&mut alice),
        [(CALL, ended(CallEnd::FingerprintMismatch, 0))]
    );
}

#[test]
fn a_connection_presenting_another_certificate_never_counts_as_connected() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = accepted(&mut relay);
    local(&mut relay, &mut alice, T0 + 4, CALL);
    states(&mut alice);
    states(&mut bob);
    // A man in the middle terminated DTLS with its own certificate on alice's side.
    act(
        &mut relay,
        &mut alice,
        T0 + 5,
        CALL,
        CallAction::Opened {
            fingerprint: [0x11; 32],
        },
    );
    assert_eq!(
        states(&mut alice),
        [(CALL, ended(CallEnd::FingerprintMismatch, 0))]
    );
    bob.receive(&mut relay, T0 + 6);
    assert_eq!(
        states(&mut bob),
        [(CALL, ended(CallEnd::FingerprintMismatch, 0))]
    );
}

#[test]
fn a_callee_that_fails_after_accepting_ends_the_call_and_so_does_a_connection_never_made() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    start(&mut relay, &mut alice, T0 + 2, CALL, bob.user());
    bob.receive(&mut relay, T0 + 3);
    act(&mut relay, &mut bob, T0 + 3, CALL, CallAction::Accept);
    states(&mut alice);
    states(&mut bob);
    // Bob's page could not get the microphone.
    act(&mut relay, &mut bob, T0 + 4, CALL, CallAction::Failed);
    assert_eq!(states(&mut bob), [(CALL, ended(CallEnd::Failed, 0))]);
    alice.receive(&mut relay, T0 + 5);
    assert_eq!(states(&mut alice), [(CALL, ended(CallEnd::HungUp, 0))]);
    // The next call is accepted and negotiated but never connects.
    let next = [8; 16];
    start(&mut relay, &mut alice, T0 + 10, next, bob.user());
    bob.receive(&mut relay, T0 + 11);
    act(&mut relay, &mut bob, T0 + 11, next, CallAction::Accept);
    local(&mut relay, &mut bob, T0 + 11, next);
    alice.receive(&mut relay, T0 + 12);
    local(&mut relay, &mut alice, T0 + 12, next);
    states(&mut alice);
    states(&mut bob);
    alice.run(&mut relay, T0 + 12 + 61, Input::Tick);
    assert_eq!(states(&mut alice), [(next, ended(CallEnd::Failed, 0))]);
    bob.receive(&mut relay, T0 + 12 + 62);
    assert_eq!(states(&mut bob).len(), 1);
}
