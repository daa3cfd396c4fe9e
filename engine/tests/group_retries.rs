//! Exactly-once group sends: the package's `sendToGroup` with an idempotency key repeats
//! the message id on a retry (wasm/src/client/keyed.rs, as `send` does for one-to-one
//! messages, tests/retries.rs). Here the driver crashes at points of the send's batch
//! (see `crash_points`) and retries: the engine answers
//! the retry, seals the message once,
//! and every member device (the sender's other device too) shows it once; the relay
//! holding a second copy of the upload (the deposit made again) is a replay to drop.
#![cfg(feature = "groups")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_engine::action::Output;
use sealpost_engine::{Input, MsgId, Notice};
use support::groups::*;
use support::*;

const ID: MsgId = MsgId([9; 16]);

fn send_once(group: sealpost_core::v2::GroupId) -> Input {
    Input::SendToGroup {
        group,
        msg_id: ID,
        content_type: 1,
        content: b"once".to_vec(),
    }
}

/// The crash points of a group send's batch: before the driver carried out any of its
/// outputs (nothing stored), after the store and the upload but before the pairwise
/// deposits of this device's chain (its first message in the group: the chain is kept
/// as a pending payload until the relay took it, so it goes again after the restart),
/// after it carried out all of them (deposited, the relay's answers lost), and after
/// the whole batch and its deposits' answers.
#[derive(Clone, Copy, Debug)]
enum Crash {
    After(usize),
    AllDone,
}

fn crash_points() -> Vec<Crash> {
    let mut relay = Relay::default();
    let ([mut alice, ..], group) = alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    let outputs = alice
        .engine
        .handle(&mut alice.rng, T0 + 3, send_once(group));
    assert!(
        outputs.iter().any(|o| matches!(o, Output::Persist(_)))
            && outputs
                .iter()
                .any(|o| matches!(o, Output::DepositMany { .. })),
        "the send stores the engine's state and deposits"
    );
    let chain = outputs
        .iter()
        .position(|o| matches!(o, Output::Deposit { .. }))
        .expect("the first message in the group deposits this device's chain");
    assert!(
        outputs[..chain]
            .iter()
            .any(|o| matches!(o, Output::Persist(_))),
        "the state is stored before the chain's deposits"
    );
    vec![
        Crash::After(0),
        Crash::After(chain),
        Crash::After(outputs.len()),
        Crash::AllDone,
    ]
}

#[test]
fn a_group_send_retried_after_a_crash_at_any_point_is_sealed_once_and_shown_once() {
    for crash in crash_points() {
        let mut relay = Relay::default();
        let ([mut alice, mut alice2, mut bob, mut carol], group) =
            alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
        match crash {
            Crash::After(k) => {
                let outputs = alice
                    .engine
                    .handle(&mut alice.rng, T0 + 3, send_once(group));
                for o in outputs.into_iter().take(k) {
                    alice.apply(&mut relay, o);
                }
            }
            Crash::AllDone => alice.run(&mut relay, T0 + 3, send_once(group)),
        }
        alice.restart();
        // The retry, with the same message id: answered at once.
        alice.updates.clear();
        alice.run(&mut relay, T0 + 4, send_once(group));
        assert_eq!(
            alice.updates.get(&ID).map(|u| u.1),
            Some(2),
            "{crash:?}: the retry is answered"
        );
        // A driver retrying once more changes nothing.
        alice.run(&mut relay, T0 + 4, send_once(group));
        settle(
            &mut relay,
            &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
            T0 + 5,
        );
        for d in [&alice2, &bob, &carol] {
            assert_eq!(texts(d), ["once"], "{crash:?}: shown once");
            assert_eq!(d.group_delivered[0].msg_id, ID, "{crash:?}");
        }
        assert_eq!(
            alice.updates.get(&ID),
            Some(&(2, 2)),
            "{crash:?}: delivered to both members"
        );
        // The chain goes on: the next message arrives, nothing counted missing or refused.
        say(&mut relay, &mut alice, group, T0 + 6, "next");
        settle(
            &mut relay,
            &mut [&mut alice, &mut alice2, &mut bob, &mut carol],
            T0 + 7,
        );
        for d in [&alice, &alice2, &bob, &carol] {
            assert!(refusals(d).is_empty(), "{crash:?}: {:?}", refusals(d));
            assert!(
                !d.notices
                    .iter()
                    .any(|n| matches!(n, Notice::SecurityEvent { .. } | Notice::SendFailed { .. })),
                "{crash:?}: {:?}",
                d.notices
            );
        }
        for d in [&alice2, &bob, &carol] {
            assert_eq!(texts(d), ["once", "next"], "{crash:?}");
        }
    }
}

/// The relay could not be reached: the retry is answered, and the next tick uploads the
/// sealed message (the package feeds one on a keyed retry of a sealed message).
#[test]
fn a_group_send_whose_upload_failed_goes_once_on_the_retry() {
    let mut relay = Relay::default();
    let ([mut alice, mut alice2, mut bob, mut carol], group) =
        alice_twice_bob_carol(&mut relay, &["bob", "carol"]);
    alice.offline_deposits = true;
    alice.run(&mut relay, T0 + 3, send_once(group));
    alice.offline_deposits = false;
    alice.run(&mut relay, T0 + 4, send_once(group));
    alice.run(&mut relay, T0 + 4, Input::Tick);
    for d in [&mut alice2, &mut bob, &mut carol] {
        d.receive(&mut relay, T0 + 5);
    }
    for d in [&alice2, &bob, &carol] {
        assert_eq!(texts(d), ["once"]);
    }
}
