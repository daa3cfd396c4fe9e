//! Lookups the engine makes for itself (re-sends, receipts, pending payloads, the own
//! list on a tick) go at most once per `RESEND_AFTER` per account, whatever the
//! directory answered: "no such account", a list that does not verify, or one without the
//! bundle a re-send waits for (PROTOCOL.md 18.1 "Lookups"). Before, each such path asked
//! again with every tick or every answer, for ever (a relay that answers so made every
//! device hammer it). Lookups that answer an input (the user's lookup or send, a blob to
//! settle) still go at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Username;
use sealpost_engine::limits::RESEND_AFTER;
use sealpost_engine::{Input, LookupOutcome, MsgId, Notice, SecurityKind};
use support::*;

/// Alice wrote to bob, who never fetched it; alice restarted (her listings are memory
/// only) and the first re-send is due.
fn unanswered(relay: &mut Relay) -> (Device, Device, u64) {
    let (mut alice, bob) = talked(relay);
    alice.send(relay, T0 + 10, "bob", "unanswered");
    alice.restart();
    (alice, bob, T0 + 10 + RESEND_AFTER + 1)
}

/// Ticks `d` every minute for 50 minutes from `from`, the directory answering lookups of
/// `of` with `answer`: the lookups of `of`.
fn ticks(d: &mut Device, relay: &mut Relay, from: u64, of: &str, answer: &Answer) -> usize {
    (0..50)
        .map(|m| d.run_counting(relay, from + 60 * m, Input::Tick, user(of), answer))
        .sum()
}

#[test]
fn re_sends_to_an_account_the_directory_does_not_know_ask_once_an_hour_not_every_tick() {
    let mut relay = Relay::default();
    let (mut alice, _bob, t) = unanswered(&mut relay);
    // Without the fix: 50, one with every tick.
    assert_eq!(ticks(&mut alice, &mut relay, t, "bob", &Answer::Missing), 1);
    let later = t + RESEND_AFTER + 1;
    assert_eq!(
        ticks(&mut alice, &mut relay, later, "bob", &Answer::Missing),
        1
    );
    assert_eq!(alice.engine.outbox_len(), 1, "kept, not lost");
    let told = Notice::Unreachable { user: user("bob") };
    assert_eq!(
        alice.notices.iter().filter(|n| **n == told).count(),
        1,
        "the user sees it, once"
    );
}

#[test]
fn a_directory_that_answers_junk_is_asked_once_an_hour_and_each_answer_is_reported() {
    let mut relay = Relay::default();
    let (mut alice, _bob, t) = unanswered(&mut relay);
    let junk = Answer::Listing(vec![7; 100], Vec::new());
    // Without the fix: 50 lookups and 50 events.
    assert_eq!(ticks(&mut alice, &mut relay, t, "bob", &junk), 1);
    let bad = |d: &Device| {
        d.notices
            .iter()
            .filter(|n| {
                matches!(
                    n,
                    Notice::SecurityEvent {
                        kind: SecurityKind::BadDirectory,
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(bad(&alice), 1, "the user sees the bad answer");
    assert_eq!(alice.engine.outbox_len(), 1, "kept, not lost");
}

#[test]
fn a_listing_without_the_bundle_a_re_send_waits_for_is_asked_once_an_hour() {
    let mut relay = Relay::default();
    let (mut alice, bob, t) = unanswered(&mut relay);
    let list = relay.lists[&bob.user()].clone();
    let bare = Answer::Listing(list, Vec::new());
    // Without the fix: 50, one with every tick (the re-send asks for the
    // bundle the listing of a minute ago did not bring).
    assert_eq!(ticks(&mut alice, &mut relay, t, "bob", &bare), 1);
    // The bundle is served again: the re-send goes with the next lookup, within the hour.
    let later = t + RESEND_AFTER + 1;
    let full = Answer::Listing(
        relay.lists[&bob.user()].clone(),
        vec![relay.bundles[&(bob.user(), bob.id())].clone()],
    );
    let before = relay.waiting(bob.user(), bob.id());
    assert_eq!(ticks(&mut alice, &mut relay, later, "bob", &full), 1);
    assert!(relay.waiting(bob.user(), bob.id()) > before, "re-sent");
}

#[test]
fn an_own_account_the_directory_does_not_know_is_asked_once_an_hour_not_every_tick() {
    let mut relay = Relay::default();
    let (mut alice, _bob) = talked(&mut relay);
    alice.restart();
    let t = T0 + 100;
    // Without the fix: 50, one with every tick.
    assert_eq!(
        ticks(&mut alice, &mut relay, t, "alice", &Answer::Missing),
        1
    );
}

#[test]
fn the_users_own_lookup_and_send_ask_at_once_after_no_such_account() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let t = T0 + 10;
    assert_eq!(
        alice.lookup(&mut relay, t, "dave"),
        LookupOutcome::NoSuchUser
    );
    let asked = alice.fetches;
    // A minute later dave has registered: the user's lookup is not held back.
    let _dave = register_as(&mut relay, "dave", "bob", 2);
    assert_eq!(
        alice.lookup(&mut relay, t + 60, "dave"),
        LookupOutcome::Found
    );
    assert_eq!(alice.fetches, asked + 1);
    // Nor is a send to an account that has not registered.
    assert_eq!(
        alice.lookup(&mut relay, t + 70, "erin"),
        LookupOutcome::NoSuchUser
    );
    let msg_id = MsgId::random(&mut alice.rng);
    let send = Input::SendRequested {
        msg_id,
        to: Username::parse("erin").unwrap(),
        content_type: 1,
        content: b"hi".to_vec(),
    };
    let asked = alice.run_counting(&mut relay, t + 80, send, user("erin"), &Answer::Missing);
    assert_eq!(asked, 1);
    assert!(alice.notices.contains(&Notice::SendFailed {
        msg_id,
        error: sealpost_engine::SendError::NoSuchUser,
    }));
}

#[test]
fn a_first_message_from_an_account_unknown_a_minute_ago_is_asked_about_at_once() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let t = T0 + 10;
    assert_eq!(
        alice.lookup(&mut relay, t, "erin"),
        LookupOutcome::NoSuchUser
    );
    // Erin registers and writes first: her blob is parked and erin looked up again at
    // once (the answer settles the blob), not an hour later.
    let mut erin = register_as(&mut relay, "erin", "bob", 2);
    erin.send(&mut relay, t + 30, "alice", "hello alice");
    alice.receive(&mut relay, t + 60);
    assert_eq!(alice.texts(), ["hello alice"]);
}

#[cfg(feature = "groups")]
#[test]
fn a_group_message_goes_to_the_members_the_directory_knows_and_the_user_sees_the_others() {
    use support::groups::*;
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    // Carol's account is gone from the directory (deleted, or a relay that says so), and
    // bob restarted (listings are memory only). Before, bob's message waited for carol's
    // listing for ever, in silence: nobody got it.
    relay.lists.remove(&carol.user());
    bob.restart();
    say(&mut relay, &mut bob, group, T0 + 100, "m1");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob],
        T0 + 101,
    );
    assert_eq!(texts(&alice), ["m1"]);
    assert_eq!(texts(&alice2), ["m1"]);
    let unreachable = |d: &Device| {
        d.notices
            .iter()
            .filter(|n| **n == Notice::Unreachable { user: carol.user() })
            .count()
    };
    assert_eq!(unreachable(&bob), 1, "bob sees whom the group cannot reach");
    // The next message goes at once, and carol is not asked for again within the hour.
    let say_counting = |bob: &mut Device, relay: &mut Relay, t: u64, text: &str| {
        let input = Input::SendToGroup {
            group,
            msg_id: MsgId::random(&mut bob.rng),
            content_type: 1,
            content: text.as_bytes().to_vec(),
        };
        bob.run_counting(relay, t, input, carol.user(), &Answer::Missing)
    };
    assert_eq!(say_counting(&mut bob, &mut relay, T0 + 200, "m2"), 0);
    assert_eq!(
        ticks(&mut bob, &mut relay, T0 + 260, "carol", &Answer::Missing),
        0
    );
    // After the hour, a message asks once more (and does not wait for the answer); the
    // user is not told twice.
    let later = T0 + 100 + RESEND_AFTER + 1;
    assert_eq!(say_counting(&mut bob, &mut relay, later, "m3"), 1);
    assert_eq!(unreachable(&bob), 1);
    settle(&mut relay, &mut [&mut alice, &mut alice2], later + 1);
    assert_eq!(texts(&alice), ["m1", "m2", "m3"]);
}
