//! A driver's idempotent retry of a send (same message id), also after a crash between
//! the engine's seal and the driver's own record of it: the engine answers with the
//! message's delivery state and deposits again what the relay has not taken; it never
//! seals a second copy and never leaves the request unanswered (the package's `send`
//! waited for ever on such a retry).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::{MsgId, Notice};
use support::*;

#[test]
fn a_retry_after_a_crash_between_seal_and_record_is_answered_and_sealed_once() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let id = MsgId([7; 16]);
    // Sealed and stored, but the relay was not reached; then the tab crashed.
    alice.offline_deposits = true;
    alice.send_as(&mut relay, T0 + 1, id, "bob", "once");
    assert_eq!(alice.updates.remove(&id), Some((0, 1)));
    alice.restart();
    alice.offline_deposits = false;
    // The retry (no tick in between): answered, and the stored envelope goes out.
    alice.send_as(&mut relay, T0 + 2, id, "bob", "once");
    assert_eq!(alice.updates.get(&id), Some(&(0, 1)), "answered");
    assert_eq!(deposits_to(&relay, 0, bob.user(), bob.id()), 1);
    // Once more, now that the relay took it: answered, nothing deposited again.
    alice.updates.clear();
    alice.send_as(&mut relay, T0 + 3, id, "bob", "once");
    assert_eq!(alice.updates.get(&id), Some(&(0, 1)));
    assert_eq!(deposits_to(&relay, 0, bob.user(), bob.id()), 1);
    bob.receive(&mut relay, T0 + 4);
    assert_eq!(bob.texts(), ["once"]);
    alice.receive(&mut relay, T0 + 5);
    assert_eq!(alice.updates.get(&id), Some(&(1, 1)));
    assert!(
        !alice
            .notices
            .iter()
            .any(|n| matches!(n, Notice::SendFailed { .. }))
    );
    // The next message follows in the same session: no counter was spent twice.
    alice.send(&mut relay, T0 + 6, "bob", "next");
    bob.receive(
        &mut relay,
        T0 + 7 + 2 * sealpost_engine::limits::MISSING_AFTER,
    );
    assert_eq!(bob.texts(), ["once", "next"]);
    assert!(
        !bob.notices
            .iter()
            .any(|n| matches!(n, Notice::MaybeMissing { .. }))
    );
}
