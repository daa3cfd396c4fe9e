//! Chains given before the engine kept them (commit a5d396b, PROTOCOL.md 27.7): a store
//! written then has no kept chains, though its device gave its chain to every member
//! device, and none confirmed it (no device did then). On loading such a store, each of
//! those devices is taken as not having confirmed it, and the chain goes again at once,
//! at its position now (the one first given is gone): a device the relay kept it from
//! reads what follows, the message it could not read is given up with a notice (not in
//! silence), and the devices that held it take the copy and confirm it. Before, such a
//! chain was never given again: the device it was kept from read nothing of its sender
//! until the next key epoch.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::limits::LAST_CHAIN_RESEND;
use sealpost_engine::{Input, Part};
use support::groups::*;
use support::*;
use zeroize::Zeroizing;

#[test]
fn chains_given_before_they_were_kept_are_given_again_after_the_upgrade() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    // Before the upgrade: the relay took alice's chain to bob and dropped it.
    drop_chain_to(&mut relay, &bob);
    let t = T0 + 10;
    say(&mut relay, &mut alice, group, t, "m1");
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut carol],
        t + 1,
    );
    bob.receive(&mut relay, t + 2);
    assert!(texts(&bob).is_empty());
    assert_eq!(undecryptable(&bob), (1, 0));
    // Alice's store as the engine wrote it then: without the kept chains and the parts
    // after them.
    let stored = alice.store[&Part::Groups].to_vec();
    let before = kept_chains_at(&stored, group, &bob);
    let old = stored[..before].to_vec();
    alice.store.insert(Part::Groups, Zeroizing::new(old));
    alice.restart();
    let ids = [&alice2, &bob, &carol].map(|d| (d.user(), d.id()));
    let counts =
        |relay: &Relay| ids.map(|(u, d)| relay.log.iter().filter(|l| (l.0, l.1) == (u, d)).count());
    let was = counts(&relay);
    alice.run(&mut relay, t + 3, Input::Tick);
    // Given again to every device it went to (alice2 also gets her account's state).
    let now = counts(&relay);
    assert_eq!(now[1..], [was[1] + 1, was[2] + 1]);
    assert!(now[0] > was[0]);
    // Bob reads what follows; m1, sealed before the chain's position now, never opens
    // for him: given up with a notice.
    say(&mut relay, &mut alice, group, t + 4, "m2");
    bob.receive(&mut relay, t + 5);
    assert_eq!(texts(&bob), ["m2"]);
    assert_eq!(undecryptable(&bob), (1, 1));
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    // The others held it: a copy, taken silently, and confirmed.
    settle(
        &mut relay,
        &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
        t + 6,
    );
    for d in [&alice2, &bob, &carol] {
        assert!(refusals(d).is_empty(), "{:?}", d.notices);
    }
    assert_eq!(texts(&carol), ["m1", "m2"]);
    assert_eq!(texts(&alice2), ["m1", "m2"]);
    // Bob and carol confirmed it: nothing goes to them again, after a restart too (alice2
    // gets her account's own traffic on that tick, so she is not counted here).
    alice.restart();
    let was = counts(&relay);
    alice.run(&mut relay, t + 2 * LAST_CHAIN_RESEND, Input::Tick);
    assert_eq!(counts(&relay)[1..], was[1..]);
    // The relay replays the chain given again to bob: nothing changes.
    relay.replay_to(&bob);
    bob.receive(&mut relay, t + 2 * LAST_CHAIN_RESEND + 1);
    assert_eq!(texts(&bob), ["m2"]);
    assert!(refusals(&bob).is_empty());
}
