//! The direct channel's rules with a stand-in for WebRTC: the test plays both pages
//! (offers, answers, the DTLS handshake's certificate, the data channel's messages). The
//! signalling really goes sealed through the in-memory relay; the channel carries the
//! engine's own frames. Covered: it opens only between engaged contacts and only for the
//! sealed certificate; messages and receipts go over it; when it drops, what it had not
//! acknowledged goes through the relay and nothing is delivered twice; a stuck channel
//! falls back by itself; glare; stale signals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;
use sealpost_engine::direct::{CertFingerprint, DirectError, SignalKind};
use sealpost_engine::{Input, Output};
use support::*;

fn take(d: &mut Device) -> Vec<Output> {
    std::mem::take(&mut d.direct)
}

/// The (open, error) states `d` reported.
fn states(outputs: &[Output]) -> Vec<(bool, Option<DirectError>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::DirectState { open, error, .. } => Some((*open, *error)),
            _ => None,
        })
        .collect()
}

fn signals(outputs: &[Output]) -> Vec<SignalKind> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::DirectSignal { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect()
}

/// The frames `d` put on the channel.
fn frames(outputs: &[Output]) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::DirectFrame { frame, .. } => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

/// The input a page gives after making its offer, answer or close for `peer`.
fn local(peer: &Device, kind: SignalKind, fp: CertFingerprint) -> Input {
    Input::DirectLocal {
        user: peer.user(),
        device: peer.id(),
        kind,
        fingerprint: fp,
        sdp: sdp(&fp),
    }
}

/// Alice and bob, engaged contacts of each other (each looked the other up).
fn contacts(relay: &mut Relay) -> (Device, Device) {
    let mut alice = register(relay, "alice", 1);
    let mut bob = register(relay, "bob", 2);
    alice.lookup(relay, T0 + 1, "bob");
    bob.lookup(relay, T0 + 1, "alice");
    (alice, bob)
}

/// Alice offers, bob answers, both connect; each page reports the certificate it saw.
fn open(relay: &mut Relay, a: &mut Device, b: &mut Device, now: u64) {
    a.run(relay, now, Input::ConnectDirect { user: b.user() });
    let out = take(a);
    assert!(matches!(out[..], [Output::DirectStart { device, .. }] if device == b.id()));
    let offer = local(b, SignalKind::Offer, cert(a));
    a.run(relay, now, offer);
    b.receive(relay, now);
    assert_eq!(signals(&take(b)), [SignalKind::Offer]);
    let answer = local(a, SignalKind::Answer, cert(b));
    b.run(relay, now, answer);
    a.receive(relay, now);
    assert_eq!(signals(&take(a)), [SignalKind::Answer]);
    opened(relay, a, b, cert(b), now);
    opened(relay, b, a, cert(a), now);
    assert_eq!(states(&take(a)), [(true, None)]);
    assert_eq!(states(&take(b)), [(true, None)]);
}

fn opened(relay: &mut Relay, d: &mut Device, peer: &Device, seen: CertFingerprint, now: u64) {
    let input = Input::DirectOpened {
        user: peer.user(),
        device: peer.id(),
        fingerprint: seen,
    };
    d.run(relay, now, input);
}

/// Hands `frames` from `from` to `to` over the channel.
fn carry(relay: &mut Relay, from: &Device, to: &mut Device, frames: Vec<Vec<u8>>, now: u64) {
    for frame in frames {
        let input = Input::DirectFrame {
            user: from.user(),
            device: from.id(),
            frame,
        };
        to.run(relay, now, input);
    }
}

/// Carries frames both ways until the channel is quiet.
fn settle(relay: &mut Relay, a: &mut Device, b: &mut Device, now: u64) {
    loop {
        let fa = frames(&take(a));
        let fb = frames(&take(b));
        if fa.is_empty() && fb.is_empty() {
            return;
        }
        carry(relay, a, b, fa, now);
        carry(relay, b, a, fb, now);
    }
}

fn relay_messages(relay: &Relay, from: usize, user: UserId, device: DeviceId) -> usize {
    deposits_to(relay, from, user, device)
}

#[test]
fn messages_and_receipts_go_over_the_open_channel_and_nothing_through_the_relay() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    open(&mut relay, &mut alice, &mut bob, T0 + 2);
    let mark = relay.log.len();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(alice.send(&mut relay, T0 + 3, "bob", &format!("m{i}")));
        settle(&mut relay, &mut alice, &mut bob, T0 + 3);
    }
    assert_eq!(relay.log.len(), mark, "nothing went through the relay");
    let want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    assert_eq!(bob.texts(), want);
    for id in ids {
        assert_eq!(
            alice.updates.get(&id),
            Some(&(1, 1)),
            "receipted over the channel"
        );
    }
    assert_eq!(alice.engine.outbox_len(), 0);
}

#[test]
fn a_dropped_channel_falls_back_to_the_relay_and_nothing_is_lost_or_delivered_twice() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    open(&mut relay, &mut alice, &mut bob, T0 + 2);
    for i in 0..10 {
        alice.send(&mut relay, T0 + 3, "bob", &format!("m{i}"));
    }
    // The channel carries the first four; the next three reach bob but their
    // acknowledgements are lost with the channel; the last three are lost with it.
    let sent = frames(&take(&mut alice));
    assert_eq!(sent.len(), 10);
    carry(&mut relay, &alice, &mut bob, sent[..4].to_vec(), T0 + 3);
    let acks = frames(&take(&mut bob));
    carry(&mut relay, &bob, &mut alice, acks, T0 + 3);
    carry(&mut relay, &alice, &mut bob, sent[4..7].to_vec(), T0 + 3);
    take(&mut bob);
    take(&mut alice);
    let mark = relay.log.len();
    alice.run(
        &mut relay,
        T0 + 4,
        Input::DirectClosed {
            user: bob.user(),
            device: bob.id(),
        },
    );
    assert_eq!(states(&take(&mut alice)), [(false, None)]);
    assert_eq!(
        relay_messages(&relay, mark, bob.user(), bob.id()),
        6,
        "the six unacknowledged envelopes went through the relay"
    );
    bob.run(
        &mut relay,
        T0 + 4,
        Input::DirectClosed {
            user: alice.user(),
            device: alice.id(),
        },
    );
    bob.receive(&mut relay, T0 + 5);
    let want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    assert_eq!(bob.texts(), want, "each once, in order");
    assert_eq!(
        relay.waiting(bob.user(), bob.id()),
        0,
        "the replays were acknowledged"
    );
    alice.receive(&mut relay, T0 + 6);
    assert_eq!(alice.engine.outbox_len(), 0, "every message receipted");
    // Later messages go through the relay, without a word to the app.
    alice.send(&mut relay, T0 + 7, "bob", "after");
    assert!(frames(&take(&mut alice)).is_empty());
    bob.receive(&mut relay, T0 + 8);
    assert_eq!(bob.texts().last().unwrap(), "after");
}

#[test]
fn a_channel_that_stops_acknowledging_falls_back_on_the_second_tick() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    open(&mut relay, &mut alice, &mut bob, T0 + 2);
    alice.send(&mut relay, T0 + 3, "bob", "stuck");
    assert_eq!(frames(&take(&mut alice)).len(), 1);
    let mark = relay.log.len();
    alice.run(&mut relay, T0 + 60, Input::Tick);
    assert_eq!(relay.log.len(), mark, "one tick is not enough");
    alice.run(&mut relay, T0 + 120, Input::Tick);
    assert_eq!(relay_messages(&relay, mark, bob.user(), bob.id()), 1);
    bob.receive(&mut relay, T0 + 121);
    assert_eq!(bob.texts(), ["stuck"]);
}

#[test]
fn a_signal_whose_sdp_names_another_certificate_is_refused_and_never_answered() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    alice.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: bob.user() },
    );
    take(&mut alice);
    // The SDP's a=fingerprint is swapped after the page made it: it no longer names the
    // certificate sealed with it.
    let offer = Input::DirectLocal {
        user: bob.user(),
        device: bob.id(),
        kind: SignalKind::Offer,
        fingerprint: cert(&alice),
        sdp: sdp(&[0xee; 32]),
    };
    alice.run(&mut relay, T0 + 2, offer);
    bob.receive(&mut relay, T0 + 3);
    let out = take(&mut bob);
    assert!(signals(&out).is_empty(), "never handed to WebRTC");
    assert_eq!(
        states(&out),
        [(false, Some(DirectError::FingerprintMismatch))]
    );
}

#[test]
fn a_connection_presenting_another_certificate_is_refused() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    alice.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: bob.user() },
    );
    take(&mut alice);
    alice.run(
        &mut relay,
        T0 + 2,
        local(&bob, SignalKind::Offer, cert(&alice)),
    );
    bob.receive(&mut relay, T0 + 2);
    take(&mut bob);
    bob.run(
        &mut relay,
        T0 + 2,
        local(&alice, SignalKind::Answer, cert(&bob)),
    );
    alice.receive(&mut relay, T0 + 2);
    take(&mut alice);
    // A man in the middle terminated the DTLS handshake with its own certificate.
    opened(&mut relay, &mut alice, &bob, [0x11; 32], T0 + 3);
    assert_eq!(
        states(&take(&mut alice)),
        [(false, Some(DirectError::FingerprintMismatch))]
    );
    let mark = relay.log.len();
    alice.send(&mut relay, T0 + 4, "bob", "not to the middle");
    assert!(frames(&take(&mut alice)).is_empty());
    assert_eq!(relay_messages(&relay, mark, bob.user(), bob.id()), 1);
}

#[test]
fn strangers_and_own_account_get_no_channel_and_their_offers_are_ignored() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut mallory = register(&mut relay, "carol", 3);
    // Alice never looked mallory up: not a contact.
    alice.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect {
            user: mallory.user(),
        },
    );
    assert_eq!(
        states(&take(&mut alice)),
        [(false, Some(DirectError::NotAllowed))]
    );
    alice.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: alice.user() },
    );
    assert_eq!(
        states(&take(&mut alice)),
        [(false, Some(DirectError::NotAllowed))]
    );
    // Mallory looked alice up and offers: alice, to whom mallory is a stranger, ignores it.
    mallory.lookup(&mut relay, T0 + 2, "alice");
    mallory.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: alice.user() },
    );
    take(&mut mallory);
    mallory.run(
        &mut relay,
        T0 + 2,
        local(&alice, SignalKind::Offer, cert(&mallory)),
    );
    alice.receive(&mut relay, T0 + 3);
    assert!(take(&mut alice).is_empty());
    // Frames on a channel that is not open are ignored too.
    carry(
        &mut relay,
        &mallory,
        &mut alice,
        vec![vec![2, 0, 0, 0, 0, 0, 0, 0, 0]],
        T0 + 3,
    );
    assert!(take(&mut alice).is_empty());
}

/// Plays both pages until neither has anything to do: offers for starts, answers for
/// offers, then both report the certificate they see.
fn negotiate(relay: &mut Relay, a: &mut Device, b: &mut Device, now: u64) -> Vec<SignalKind> {
    let mut seen = Vec::new();
    let (ia, ib) = ((a.user(), a.id()), (b.user(), b.id()));
    for _ in 0..4 {
        play(relay, a, ib, now, &mut seen);
        play(relay, b, ia, now, &mut seen);
    }
    assert!(seen.contains(&SignalKind::Close), "{seen:?}");
    seen.retain(|k| *k != SignalKind::Close);
    opened(relay, a, b, cert(b), now);
    opened(relay, b, a, cert(a), now);
    seen
}

/// One page's turn: what came through the relay, then offers for starts and answers for
/// offers (`seen` gets each signal made, and a `Close` marker for each answer taken).
fn play(
    relay: &mut Relay,
    d: &mut Device,
    peer: (UserId, DeviceId),
    now: u64,
    seen: &mut Vec<SignalKind>,
) {
    d.receive(relay, now);
    for o in take(d) {
        let kind = match o {
            Output::DirectStart { .. } => SignalKind::Offer,
            Output::DirectSignal {
                kind: SignalKind::Offer,
                ..
            } => SignalKind::Answer,
            Output::DirectSignal { .. } => {
                seen.push(SignalKind::Close);
                continue;
            }
            _ => continue,
        };
        seen.push(kind);
        let fp = cert(d);
        let input = Input::DirectLocal {
            user: peer.0,
            device: peer.1,
            kind,
            fingerprint: fp,
            sdp: sdp(&fp),
        };
        d.run(relay, now, input);
    }
}

#[test]
fn when_both_offer_at_once_one_answers_and_the_channel_opens() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    alice.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: bob.user() },
    );
    bob.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: alice.user() },
    );
    let seen = negotiate(&mut relay, &mut alice, &mut bob, T0 + 3);
    let answers = seen.iter().filter(|k| **k == SignalKind::Answer).count();
    assert_eq!(answers, 1, "{seen:?}");
    assert_eq!(states(&take(&mut alice)), [(true, None)]);
    assert_eq!(states(&take(&mut bob)), [(true, None)]);
}

#[test]
fn an_offer_dropped_while_its_sender_was_a_stranger_is_sent_again_on_glare() {
    for first in ["alice", "bob"] {
        let mut relay = Relay::default();
        let mut alice = register(&mut relay, "alice", 1);
        let mut bob = register(&mut relay, "bob", 2);
        let (x, y) = if first == "alice" {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        // x looked y up and offers; y drops it (x is a stranger to y), then engages x
        // and offers in turn.
        let name = y.engine.username().as_str().to_owned();
        x.lookup(&mut relay, T0 + 1, &name);
        x.run(&mut relay, T0 + 2, Input::ConnectDirect { user: y.user() });
        take(x);
        let offer = local(y, SignalKind::Offer, cert(x));
        x.run(&mut relay, T0 + 2, offer);
        y.receive(&mut relay, T0 + 3);
        assert!(take(y).is_empty(), "a stranger's offer is dropped");
        let name = x.engine.username().as_str().to_owned();
        y.lookup(&mut relay, T0 + 4, &name);
        y.run(&mut relay, T0 + 4, Input::ConnectDirect { user: x.user() });
        negotiate(&mut relay, x, y, T0 + 5);
        assert_eq!(states(&take(x)), [(true, None)], "{first} offered first");
        assert_eq!(states(&take(y)), [(true, None)], "{first} offered first");
    }
}

#[test]
fn a_stale_offer_is_ignored_and_an_unanswered_one_expires() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    alice.run(
        &mut relay,
        T0 + 2,
        Input::ConnectDirect { user: bob.user() },
    );
    take(&mut alice);
    alice.run(
        &mut relay,
        T0 + 2,
        local(&bob, SignalKind::Offer, cert(&alice)),
    );
    // Bob comes online two minutes later: alice's offer is no news of her being online.
    bob.receive(&mut relay, T0 + 130);
    assert!(take(&mut bob).is_empty());
    alice.run(&mut relay, T0 + 130, Input::Tick);
    assert_eq!(states(&take(&mut alice)), [(false, None)]);
    // A new request offers again.
    alice.run(
        &mut relay,
        T0 + 131,
        Input::ConnectDirect { user: bob.user() },
    );
    assert!(matches!(take(&mut alice)[..], [Output::DirectStart { .. }]));
}

#[test]
fn a_close_signal_ends_the_channel_on_both_sides() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = contacts(&mut relay);
    open(&mut relay, &mut alice, &mut bob, T0 + 2);
    let close = Input::DirectLocal {
        user: alice.user(),
        device: alice.id(),
        kind: SignalKind::Close,
        fingerprint: [0; 32],
        sdp: Vec::new(),
    };
    bob.run(&mut relay, T0 + 3, close);
    assert_eq!(states(&take(&mut bob)), [(false, None)]);
    alice.receive(&mut relay, T0 + 4);
    let out = take(&mut alice);
    assert_eq!(signals(&out), [SignalKind::Close]);
    assert_eq!(states(&out), [(false, None)]);
    let mark = relay.log.len();
    alice.send(&mut relay, T0 + 5, "bob", "relay again");
    assert_eq!(relay_messages(&relay, mark, bob.user(), bob.id()), 1);
}
