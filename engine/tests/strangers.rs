//! Issue 9, "caps on sessions and replay memory cannot be used by a stranger to evict
//! genuine state": strangers with accounts of their own (trust on first use pins them)
//! start thousands of sessions or fill hundreds of contact slots. Their sessions are
//! untrusted and their contacts have their own cap, so a genuine new contact still gets
//! through and an engaged contact is never evicted, also across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::{MAX_UNTRUSTED_SESSIONS, SessionStore};
use sealpost_engine::Part;
use sealpost_engine::account_state::MAX_STRANGERS;
use support::strangers::Stranger;
use support::*;

/// Bob's stored session store: (trusted sessions, untrusted sessions, trusted replay
/// memory entries).
fn stored_sessions(bob: &Device) -> (usize, usize, usize) {
    let store = SessionStore::from_secret_bytes(bob.store.get(&Part::Sessions).unwrap()).unwrap();
    let trusted = store.sessions().iter().filter(|s| s.trusted).count();
    (trusted, store.len() - trusted, store.replay_memory_len().0)
}

/// Bob's stored sessions with `peer`: (trusted, untrusted).
fn sessions_with(bob: &Device, peer: &str) -> (usize, usize) {
    let store = SessionStore::from_secret_bytes(bob.store.get(&Part::Sessions).unwrap()).unwrap();
    let all: Vec<_> = store
        .sessions()
        .into_iter()
        .filter(|s| s.peer == user(peer))
        .collect();
    let trusted = all.iter().filter(|s| s.trusted).count();
    (trusted, all.len() - trusted)
}

fn last(d: &Device) -> (String, bool) {
    let m = d.delivered.last().unwrap();
    (String::from_utf8(m.content.clone()).unwrap(), m.request)
}

#[test]
fn thousands_of_stranger_sessions_block_no_new_contact_and_evict_no_engaged_one() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut carol = register(&mut relay, "carol", 3);
    assert_eq!(
        bob.lookup(&mut relay, T0 + 1, "alice"),
        sealpost_engine::LookupOutcome::Found
    );
    alice.send(&mut relay, T0 + 2, "bob", "hi bob");
    bob.receive(&mut relay, T0 + 3);
    assert_eq!(last(&bob), ("hi bob".into(), false), "a looked-up contact");
    // Three strangers start 1200 sessions (each dropped one is remembered).
    let mut delivered = bob.delivered.len();
    for n in 0..3 {
        let (mut s, _) = Stranger::register(&mut relay, &format!("mallory{n}"), 40 + n);
        s.sessions(&mut relay, &bob, 400, T0 + 10);
        bob.receive(&mut relay, T0 + 11);
        assert_eq!(
            bob.delivered.len(),
            delivered + 400,
            "delivered, as requests"
        );
        assert!(bob.delivered[delivered..].iter().all(|m| m.request));
        delivered = bob.delivered.len();
    }
    let (trusted, untrusted, remembered) = stored_sessions(&bob);
    assert_eq!(trusted, 1, "alice's session only");
    assert!(untrusted <= MAX_UNTRUSTED_SESSIONS);
    assert_eq!(
        remembered, 0,
        "strangers' sessions never fill the trusted replay memory"
    );
    // Alice's session still opens; a genuine new contact's first session is accepted.
    alice.send(&mut relay, T0 + 20, "bob", "still here");
    carol.send(&mut relay, T0 + 21, "bob", "hello, we met yesterday");
    bob.receive(&mut relay, T0 + 22);
    let got: Vec<_> = bob.delivered[delivered..]
        .iter()
        .map(|m| (String::from_utf8(m.content.clone()).unwrap(), m.request))
        .collect();
    assert_eq!(
        got,
        [
            ("still here".into(), false),
            ("hello, we met yesterday".into(), true)
        ]
    );
    // Replying makes carol a contact: her sessions are trusted, no more requests.
    assert!(!bob.engine.contact(&user("carol")).unwrap().engaged);
    bob.send(&mut relay, T0 + 23, "carol", "hi carol");
    assert!(bob.engine.contact(&user("carol")).unwrap().engaged);
    assert_eq!(stored_sessions(&bob).0, 2, "carol's session is trusted now");
    carol.receive(&mut relay, T0 + 24);
    carol.send(&mut relay, T0 + 25, "bob", "great");
    bob.receive(&mut relay, T0 + 26);
    assert_eq!(last(&bob), ("great".into(), false));
    assert_eq!(stored_sessions(&bob).2, 0);
}

#[test]
fn hundreds_of_stranger_contacts_never_evict_an_engaged_one_even_across_a_restore() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let mut carol = register(&mut relay, "carol", 3);
    // Alice wrote first (a request); bob answered: engaged.
    alice.send(&mut relay, T0 + 1, "bob", "hi bob");
    bob.receive(&mut relay, T0 + 2);
    assert_eq!(last(&bob), ("hi bob".into(), true));
    bob.send(&mut relay, T0 + 3, "alice", "hi alice");
    alice.receive(&mut relay, T0 + 4);
    let strangers = MAX_STRANGERS + 20;
    for n in 0..strangers {
        let (mut s, _) = Stranger::register(&mut relay, &format!("spammer{n}"), 1000 + n as u64);
        s.sessions(&mut relay, &bob, 1, T0 + 10 + n as u64);
    }
    bob.receive(&mut relay, T0 + 400);
    let contacts = bob.engine.contacts();
    let stranger_contacts = contacts.iter().filter(|c| !c.engaged).count();
    assert_eq!(
        stranger_contacts, MAX_STRANGERS,
        "the oldest strangers were evicted"
    );
    assert!(bob.engine.contact(&user("alice")).unwrap().engaged);
    assert_eq!(
        bob.delivered.len(),
        1 + strangers,
        "every request was delivered"
    );
    // A genuine first contact still gets a slot (and an evicted stranger's place).
    carol.send(&mut relay, T0 + 500, "bob", "hello from carol");
    bob.receive(&mut relay, T0 + 501);
    assert_eq!(last(&bob), ("hello from carol".into(), true));
    assert!(bob.engine.contact(&user("carol")).is_some());
    // Across a restart: alice is still engaged, her messages are no requests.
    bob.restart();
    assert!(bob.engine.contact(&user("alice")).unwrap().engaged);
    assert_eq!(
        bob.engine.contacts().iter().filter(|c| !c.engaged).count(),
        MAX_STRANGERS
    );
    alice.send(&mut relay, T0 + 600, "bob", "after your restart");
    bob.receive(&mut relay, T0 + 601);
    assert_eq!(last(&bob), ("after your restart".into(), false));
    let (trusted, _, remembered) = stored_sessions(&bob);
    assert!(trusted >= 1);
    assert_eq!(remembered, 0);
}

#[test]
fn a_stranger_cannot_make_this_device_start_trusted_sessions() {
    let mut relay = Relay::default();
    let mut bob = register(&mut relay, "bob", 2);
    let (_, mut mallory) = Stranger::register(&mut relay, "mallory", 7);
    mallory.send(&mut relay, T0 + 1, "bob", "hi");
    bob.receive(&mut relay, T0 + 2);
    mallory.receive(&mut relay, T0 + 3);
    assert_eq!(last(&bob), ("hi".into(), true));
    // Bodies that do not open in a held session would make bob ask a contact for a
    // reset, in a session bob starts (trusted): a stranger gets none.
    desync_send_chain(&mut mallory);
    for i in 0..3 {
        mallory.send(&mut relay, T0 + 10 + i, "bob", &format!("garbled {i}"));
    }
    let from = relay.log.len();
    for t in 0..3 {
        bob.receive(&mut relay, T0 + 20 + t);
    }
    assert!(
        relay.log[from..]
            .iter()
            .all(|(u, _, _)| *u != mallory.user())
    );
    assert_eq!(stored_sessions(&bob).0, 0, "no trusted session with anyone");
    assert_eq!(
        relay.waiting(bob.user(), bob.id()),
        0,
        "surfaced and acknowledged"
    );
    // The stranger's own timed re-sends (a new session) still get through, as requests.
    mallory.receive(&mut relay, T0 + 2 * 3600);
    bob.receive(&mut relay, T0 + 2 * 3600 + 1);
    let texts = bob.texts();
    assert_eq!(texts, ["hi", "garbled 0", "garbled 1", "garbled 2"]);
    assert!(bob.delivered.iter().all(|m| m.request));
    assert_eq!(stored_sessions(&bob).0, 0);
}

#[test]
fn engaging_on_one_device_or_marking_promotes_the_stranger_everywhere() {
    let mut relay = Relay::default();
    let mut carol = register(&mut relay, "carol", 3);
    let (_, mut dave) = Stranger::register(&mut relay, "dave", 4);
    let mut b1 = register(&mut relay, "bob", 1);
    let mut b2 = add_device(&mut relay, "bob", 1, 2, T0);
    carol.send(&mut relay, T0 + 1, "bob", "hello");
    dave.send(&mut relay, T0 + 1, "bob", "hello too");
    b1.receive(&mut relay, T0 + 2);
    b2.receive(&mut relay, T0 + 2);
    for b in [&b1, &b2] {
        assert!(b.delivered.iter().all(|m| m.request));
        assert_eq!(sessions_with(b, "carol"), (0, 1), "untrusted: a stranger");
        assert_eq!(sessions_with(b, "dave"), (0, 1));
    }
    // b2 looks carol up; its account sync engages her on b1, whose sessions with her
    // become trusted.
    assert_eq!(
        b2.lookup(&mut relay, T0 + 3, "carol"),
        sealpost_engine::LookupOutcome::Found
    );
    b1.receive(&mut relay, T0 + 4);
    assert!(b1.engine.contact(&user("carol")).unwrap().engaged);
    assert!(!b1.engine.contact(&user("dave")).unwrap().engaged);
    assert_eq!(sessions_with(&b1, "carol"), (1, 0));
    assert_eq!(sessions_with(&b1, "dave"), (0, 1));
    carol.send(&mut relay, T0 + 5, "bob", "so, contacts now");
    b1.receive(&mut relay, T0 + 6);
    assert_eq!(last(&b1), ("so, contacts now".into(), false));
    // Marking dave (the user compared safety numbers) engages him too.
    b1.run(
        &mut relay,
        T0 + 7,
        sealpost_engine::Input::SetVerified {
            user: user("dave"),
            verified: true,
        },
    );
    assert!(b1.engine.contact(&user("dave")).unwrap().engaged);
    assert_eq!(sessions_with(&b1, "dave"), (1, 0));
    b2.receive(&mut relay, T0 + 8);
    assert!(b2.engine.contact(&user("dave")).unwrap().engaged);
    assert!(b2.engine.contact(&user("dave")).unwrap().verified);
}
