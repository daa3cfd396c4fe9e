//! A group message no held chain opens waits a day for its chain (PROTOCOL.md 27.7,
//! `CHAIN_WAIT`) counted from its first failure, which is stored: an app restarted every
//! few hours reports it once and gives it up after that day. Before, the day and the
//! report started again with each restart (the counts lived in memory only), so junk a
//! stranger deposited stayed on the relay, tried on every connection, for as long as the
//! app was restarted more often than daily.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use rand_chacha::rand_core::Rng;
use sealpost_engine::Input;
use sealpost_engine::limits::CHAIN_WAIT;
use support::groups::*;
use support::*;

#[test]
fn junk_waits_one_day_from_its_first_failure_across_restarts_and_is_reported_once() {
    let mut relay = Relay::default();
    let ([_, _, mut bob, _], _) = alice_twice_bob_carol(&mut relay, &["bob"]);
    bob.receive(&mut relay, T0 + 3);
    // A stranger's blob shaped like a group message: version 3, a bucket's length.
    let mut junk = vec![0u8; 512];
    rng(7).fill_bytes(&mut junk);
    junk[0] = 3;
    relay.deposit(bob.user(), bob.id(), junk);
    let t = T0 + 10;
    bob.receive(&mut relay, t);
    assert_eq!(undecryptable(&bob), (1, 0));
    // The app restarts every three hours; each run is handed the blob once.
    let step = 3 * 3600;
    let mut now = t;
    while now + step < t + CHAIN_WAIT {
        now += step;
        bob.restart();
        bob.receive(&mut relay, now);
        bob.run(&mut relay, now + 60, Input::Tick);
        assert_eq!(relay.waiting(bob.user(), bob.id()), 1, "kept for its chain");
    }
    assert_eq!(undecryptable(&bob), (1, 0), "reported once");
    // The day since its first failure is over: the next run gives it up at its tick.
    bob.restart();
    bob.receive(&mut relay, t + CHAIN_WAIT);
    bob.run(&mut relay, t + CHAIN_WAIT + 60, Input::Tick);
    assert_eq!(relay.waiting(bob.user(), bob.id()), 0);
    assert_eq!(undecryptable(&bob), (1, 1));
    // Nothing more about it after another restart.
    bob.restart();
    bob.receive(&mut relay, t + CHAIN_WAIT + 120);
    assert_eq!(undecryptable(&bob), (1, 1));
}
