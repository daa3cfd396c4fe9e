//! Interop vectors for groups (PROTOCOL.md 27) in `tests/vectors/v2/groups.json`: every
//! operation kind in one scenario with the state after it, `fail_` operations and
//! states, races of operations signed for the same epoch with their winner (27.4), a
//! sender key distribution with messages, and `fail_` distributions and messages. Regenerated
//! deterministically (seeded ChaCha20) and compared byte for byte, then checked from
//! what the file holds. `tests/webcrypto/groups.mjs` opens the messages with WebCrypto.
//! Regenerate with `SEALPOST_REGENERATE_VECTORS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::UserId;
use sealpost_core::v2::group::{
    Change, GroupError, GroupOp, GroupSession, GroupState, Race, SenderKeyDistribution,
};
use sealpost_core::v2::{DeviceId, MAX_MESSAGE_AGE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::groups::*;
use support::*;

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn from(d: &Dev) -> Value {
    json!({"user": d.name, "user_id": d.user.to_hex(), "device_id": d.device.to_hex(),
           "identity_spki": h(d.identity.public().to_spki_der())})
}

#[test]
fn groups() {
    let mut r = rng(100);
    let (alice, bob, carol) = (dev("alice", 0xa1), dev("bob", 0xb1), dev("carol", 0xc1));
    let (mut a, create) = create(&mut r, &alice, "hikers", &[&bob]);
    let mut b =
        GroupSession::join(GroupState::create(&create).unwrap(), bob.user, bob.device).unwrap();
    let state1 = a.state().to_bytes().unwrap();
    let mut ops = vec![
        json!({"name": "create", "actor": "alice", "op": h(create.to_bytes()), "state_after": h(&state1)}),
    ];

    // Alice's chain and three messages to bob, at epoch 1.
    let dist = a.sender_key(&mut r).unwrap();
    let payloads = ["hello hikers", "second", "third, out of order"];
    let messages: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| a.seal(&mut r, p.as_bytes(), T0 + i as u64).unwrap())
        .collect();

    let step = |who: &Dev,
                s: &mut GroupSession,
                change: Change,
                name: &str,
                ops: &mut Vec<Value>,
                r: &mut rand_chacha::ChaCha20Rng| {
        let (op, _) = s.propose(r, &who.identity, change).unwrap();
        ops.push(json!({"name": name, "actor": who.name, "op": h(op.to_bytes()), "state_after": h(&s.state().to_bytes().unwrap())}));
        op
    };
    let before_add = a.state().clone();
    let add = step(
        &alice,
        &mut a,
        Change::Add(vec![member(&carol)]),
        "add",
        &mut ops,
        &mut r,
    );
    b.apply(&add).unwrap();
    let after_add = a.state().clone();
    let rename = step(
        &alice,
        &mut a,
        Change::Rename("climbers".into()),
        "rename",
        &mut ops,
        &mut r,
    );
    b.apply(&rename).unwrap();
    let promote = step(
        &alice,
        &mut a,
        Change::Promote(bob.user),
        "promote",
        &mut ops,
        &mut r,
    );
    b.apply(&promote).unwrap();
    let remove = step(
        &alice,
        &mut a,
        Change::Remove(vec![carol.user]),
        "remove",
        &mut ops,
        &mut r,
    );
    b.apply(&remove).unwrap();
    let after_remove = a.state().to_bytes().unwrap();
    let demote = step(
        &bob,
        &mut b,
        Change::Demote(alice.user),
        "demote",
        &mut ops,
        &mut r,
    );
    a.apply(&demote).unwrap();
    let rekey = step(&bob, &mut b, Change::Rekey, "rekey", &mut ops, &mut r);
    a.apply(&rekey).unwrap();
    step(&alice, &mut a, Change::Leave, "leave", &mut ops, &mut r);

    let sign = |r: &mut rand_chacha::ChaCha20Rng,
                who: &Dev,
                actor: &Dev,
                s: &GroupState,
                epoch: u64,
                change: Change| {
        GroupOp::sign(
            r,
            &who.identity,
            actor.user,
            *s.id(),
            epoch,
            s.head().unwrap(),
            change,
        )
        .unwrap()
    };
    let fail_op = |name: &str, s: &GroupState, op: &[u8], error: GroupError| json!({"name": name, "state": h(&s.to_bytes().unwrap()), "op": h(op), "error": error.code()});
    let non_admin = sign(
        &mut r,
        &carol,
        &carol,
        &after_add,
        2,
        Change::Add(vec![invitee("dave", [0xdd; 32])]),
    );
    let impostor = sign(
        &mut r,
        &carol,
        &alice,
        &after_add,
        2,
        Change::Remove(vec![bob.user]),
    );
    let outsider = sign(&mut r, &carol, &carol, &before_add, 1, Change::Leave);
    let ahead = sign(&mut r, &alice, &alice, &before_add, 2, Change::Rekey);
    let mut flipped = rename.to_bytes().to_vec();
    flipped[2 + 16 + 8 + 32 + 32 + 1 + 1] ^= 1;
    // Names and heads (27.2, 27.3): an admin's validly signed add naming dave "erin"; a
    // rename made on the state before the add (its prior is that state's head); a
    // format-1 operation for a state a format-2 operation made.
    let named = sign(
        &mut r,
        &alice,
        &alice,
        &after_add,
        2,
        Change::Add(vec![invitee("dave", [0xdd; 32])]),
    );
    let forged_name = resign(&mut r, &alice, &replace(named.to_bytes(), b"dave", b"erin"));
    let forked = GroupOp::sign(
        &mut r,
        &alice.identity,
        alice.user,
        *after_add.id(),
        2,
        before_add.head().unwrap(),
        Change::Rename("elsewhere".into()),
    )
    .unwrap();
    let old_format = op_v1(&mut r, &alice, &after_add, &[8]);
    let fail_ops = vec![
        fail_op(
            "fail_op_username_not_its_user_id",
            &after_add,
            &forged_name,
            GroupError::UsernameMismatch,
        ),
        fail_op(
            "fail_op_made_on_another_state",
            &after_add,
            forked.to_bytes(),
            GroupError::Forked,
        ),
        fail_op(
            "fail_op_format_1_after_format_2",
            &after_add,
            &old_format,
            GroupError::OldFormat,
        ),
        fail_op(
            "fail_op_by_non_admin",
            &after_add,
            non_admin.to_bytes(),
            GroupError::NotAdmin,
        ),
        fail_op(
            "fail_op_signed_by_another_key",
            &after_add,
            impostor.to_bytes(),
            GroupError::NotMember,
        ),
        fail_op(
            "fail_op_by_non_member",
            &before_add,
            outsider.to_bytes(),
            GroupError::NotMember,
        ),
        fail_op(
            "fail_op_replayed",
            &after_add,
            add.to_bytes(),
            GroupError::OldEpoch,
        ),
        fail_op(
            "fail_op_epoch_ahead",
            &before_add,
            ahead.to_bytes(),
            GroupError::EpochAhead,
        ),
        fail_op(
            "fail_op_flipped_bit",
            &after_add,
            &flipped,
            GroupError::BadSignature,
        ),
    ];

    let mut non_member = dist.clone();
    non_member.sender = carol.user;
    non_member.sender_device = carol.device;
    let mut epoch_ahead = dist.clone();
    epoch_ahead.epoch = 9;
    let fail_dist = |name: &str,
                     state: &[u8],
                     d: &SenderKeyDistribution,
                     who: &Dev,
                     error: GroupError| {
        json!({"name": name, "state": h(state), "distribution": h(&d.to_bytes()), "from": from(who), "error": error.code()})
    };
    let fail_distributions = vec![
        fail_dist(
            "fail_distribution_non_member",
            &state1,
            &non_member,
            &carol,
            GroupError::NotMember,
        ),
        fail_dist(
            "fail_distribution_old_epoch",
            &after_remove,
            &dist,
            &alice,
            GroupError::OldEpoch,
        ),
        fail_dist(
            "fail_distribution_epoch_ahead",
            &state1,
            &epoch_ahead,
            &alice,
            GroupError::EpochAhead,
        ),
        fail_dist(
            "fail_distribution_wrong_sender",
            &state1,
            &dist,
            &bob,
            GroupError::WrongSender,
        ),
    ];
    let (races, race_fails, mut fail_states) = races(&mut r, &alice, &bob, &carol);
    let after_add_bytes = after_add.to_bytes().unwrap();
    fail_states.push(json!({"name": "fail_state_username_not_its_user_id",
        "state": h(&replace(&after_add_bytes, b"carol", b"mabel")), "error": GroupError::UsernameMismatch.code()}));
    let legacy = legacy(&mut r, &alice, &after_add);
    let mut fail_ops = fail_ops;
    fail_ops.extend(race_fails);
    fail_ops.extend(kind_rule_fails(&alice, &bob, &after_add));
    let generated = json!({
        "note": "Groups (PROTOCOL.md 27). legacy (27.2, 27.4): state is format 2 (a legacy state, its head legacy_head), op a format-1 operation that applies to it and makes state_after (format 3, still legacy); then a format-2 operation whose prior is state_after's head, making then_state_after. ops: apply in order, starting with GroupState::create on the first; each state_after is the encoding after it. fail_ops: apply op to state, expect error. fail_states: parsing state is MALFORMED. races (27.4): every op was signed for the epoch of state and applies to it; in any order of arrival the winner is ops[winner], and state_after is the state it makes. sender_keys: the receiver (bob) at state, takes distribution from 'from', then opens messages in 'open_order' at now = t0 + 10 (each: payload, counter); opening any of them again is REPLAY; flipping any byte fails (DECRYPT_FAILED, or MALFORMED for the version byte); opening at now = t0 + MAX_MESSAGE_AGE + 10 is EXPIRED. fail_distributions: take the distribution from 'from' at 'state', expect error.",
        "t0": T0,
        "ops": ops,
        "fail_ops": fail_ops,
        "fail_states": fail_states,
        "races": races,
        "sender_keys": {
            "receiver": from(&bob),
            "state": h(&state1),
            "from": from(&alice),
            "distribution": h(&dist.to_bytes()),
            "messages": messages.iter().zip(payloads).enumerate().map(|(i, (m, p))| json!({"counter": i, "payload": p, "sent_at": T0 + i as u64, "message": h(m)})).collect::<Vec<_>>(),
            "open_order": [2, 0, 1],
        },
        "fail_distributions": fail_distributions,
        "legacy": legacy,
    });
    check_or_write("groups.json", generated.clone());
    check(&generated);
}

/// Races at one state with three admins (alice since 1, bob since 2, carol since 3) and
/// a member (dave): the attacks of 27.4 and their `fail_` entrants, and states whose
/// seniority is unclear.
fn races(
    r: &mut rand_chacha::ChaCha20Rng,
    alice: &Dev,
    bob: &Dev,
    carol: &Dev,
) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let dave = extra_dev("dave", 0xd1, "alice");
    let (mut a, _) = create(r, alice, "ropes", &[bob, carol, &dave]);
    a.propose(r, &alice.identity, Change::Promote(bob.user))
        .unwrap();
    a.propose(r, &alice.identity, Change::Promote(carol.user))
        .unwrap();
    let s = a.state().clone();
    let mut sign = |who: &Dev, change: Change| {
        GroupOp::sign(
            r,
            &who.identity,
            who.user,
            *s.id(),
            s.epoch(),
            s.head().unwrap(),
            change,
        )
        .unwrap()
    };
    // Alice's operation hashes high (of four signatures, the highest): whatever its hash,
    // bob's lower ones must not win.
    let remove_bob = (0..4)
        .map(|_| sign(alice, Change::Remove(vec![bob.user])))
        .max_by_key(|o| Sha256::digest(o.to_bytes()))
        .unwrap();
    // Bob grinds: 12 operations, some of which hash lower than alice's.
    let escapes = [
        Change::Remove(vec![alice.user]),
        Change::Add(vec![invitee("mallory", [0x33; 32])]),
        Change::Demote(alice.user),
        Change::Promote(dave.user),
    ];
    let mut grinding: Vec<GroupOp> = (0..12)
        .map(|i| sign(bob, escapes[i % escapes.len()].clone()))
        .collect();
    assert!(
        grinding
            .iter()
            .any(|g| Sha256::digest(g.to_bytes()) < Sha256::digest(remove_bob.to_bytes())),
        "a lower hash among the ground ones"
    );
    grinding.insert(5, remove_bob.clone());
    let renames: Vec<GroupOp> = (0..3)
        .map(|i| sign(bob, Change::Rename(format!("bob {i}"))))
        .collect();
    let cases: Vec<(&str, Vec<GroupOp>)> = vec![
        ("race_removed_admin_grinding", grinding),
        (
            "race_mutual_removal",
            vec![
                sign(bob, Change::Remove(vec![alice.user])),
                remove_bob.clone(),
            ],
        ),
        (
            "race_demoted_senior_admin",
            vec![
                sign(alice, Change::Add(vec![invitee("mallory", [0x33; 32])])),
                sign(carol, Change::Demote(alice.user)),
            ],
        ),
        (
            "race_senior_admin_first",
            vec![
                sign(carol, Change::Promote(dave.user)),
                sign(bob, Change::Rename("bob's".into())),
            ],
        ),
        (
            "race_cycle",
            vec![
                remove_bob.clone(),
                sign(bob, Change::Demote(carol.user)),
                sign(carol, Change::Remove(vec![alice.user])),
            ],
        ),
        ("race_one_admin_twice", renames),
        (
            "race_member_leaves",
            vec![
                sign(&dave, Change::Leave),
                sign(carol, Change::Rename("carol's".into())),
            ],
        ),
    ];
    let races = cases
        .into_iter()
        .map(|(name, ops)| {
            let mut race = Race::new(s.clone(), ops[0].clone()).unwrap();
            for op in &ops[1..] {
                race.enter(op.clone()).unwrap();
            }
            let winner = ops.iter().position(|o| o == race.winner()).unwrap();
            let after = s.apply(race.winner()).unwrap();
            json!({"name": name, "state": h(&s.to_bytes().unwrap()),
                   "ops": ops.iter().map(|o| h(o.to_bytes())).collect::<Vec<_>>(),
                   "winner": winner, "state_after": h(&after.to_bytes().unwrap())})
        })
        .collect();
    let fail = |name: &str, op: &GroupOp, error: GroupError| json!({"name": name, "state": h(&s.to_bytes().unwrap()), "op": h(op.to_bytes()), "error": error.code()});
    let race_fails = vec![
        fail(
            "fail_race_op_by_non_admin",
            &sign(&dave, Change::Remove(vec![alice.user])),
            GroupError::NotAdmin,
        ),
        fail(
            "fail_race_op_claiming_another_admin",
            &GroupOp::sign(
                r,
                &bob.identity,
                alice.user,
                *s.id(),
                s.epoch(),
                s.head().unwrap(),
                Change::Remove(vec![bob.user]),
            )
            .unwrap(),
            GroupError::NotMember,
        ),
    ];
    // Each member entry: user id, fingerprint, admin_since (8 bytes), var8(username);
    // the first follows the header and the name.
    let good = s.to_bytes().unwrap();
    let first = 2 + 16 + 8 + 8 + 33 + 1 + s.name().len() + 2;
    let entry = |i: usize| {
        let mut at = first;
        for _ in 0..i {
            at += 72 + 1 + usize::from(good[at + 72]);
        }
        at + 64
    };
    let with = |changes: &[(usize, u64)]| {
        let mut b = good.clone();
        for (i, v) in changes {
            b[entry(*i)..entry(*i) + 8].copy_from_slice(&v.to_be_bytes());
        }
        b
    };
    let admins: Vec<usize> = (0..4)
        .filter(|i| u64::from_be_bytes(good[entry(*i)..entry(*i) + 8].try_into().unwrap()) != 0)
        .collect();
    let fail_state =
        |name: &str, b: Vec<u8>| json!({"name": name, "state": h(&b), "error": "MALFORMED"});
    let mut format1 = good.clone();
    format1[1] = 1;
    let fail_states = vec![
        fail_state(
            "fail_state_two_admins_since_the_same_epoch",
            with(&[(admins[0], 2), (admins[1], 2)]),
        ),
        fail_state(
            "fail_state_admin_since_after_its_epoch",
            with(&[(admins[0], s.epoch() + 1)]),
        ),
        fail_state(
            "fail_state_without_admin",
            with(&admins.iter().map(|i| (*i, 0)).collect::<Vec<_>>()),
        ),
        fail_state("fail_state_format_1", format1),
    ];
    (races, race_fails, fail_states)
}

/// `bytes` with the only occurrence of `from` replaced by `to` (same length).
/// Validly signed operations by the admin `alice` against `s` (alice admin, bob and carol
/// members) that break a rule of 27.4 step 1 or 7 (or the name rule, checked when
/// parsed, 27.3), each with the error it must get. Their
/// own seeded generator, so adding them changed no other vector.
fn kind_rule_fails(alice: &Dev, bob: &Dev, s: &GroupState) -> Vec<Value> {
    let mut r = rng(101);
    let dave = user_id("dave");
    let mut by_alice = |group: sealpost_core::v2::GroupId, change: Change| {
        GroupOp::sign(
            &mut r,
            &alice.identity,
            alice.user,
            group,
            s.epoch(),
            s.head().unwrap(),
            change,
        )
        .unwrap()
    };
    let other_group = sealpost_core::v2::GroupId::from_bytes([0x99; 16]);
    let cases = [
        (
            "fail_op_of_another_group",
            by_alice(other_group, Change::Rekey),
            GroupError::WrongGroup,
        ),
        (
            "fail_op_add_a_member",
            by_alice(*s.id(), Change::Add(vec![member(bob)])),
            GroupError::InvalidOperation,
        ),
        (
            "fail_op_remove_a_non_member",
            by_alice(*s.id(), Change::Remove(vec![dave])),
            GroupError::InvalidOperation,
        ),
        (
            "fail_op_remove_oneself",
            by_alice(*s.id(), Change::Remove(vec![alice.user])),
            GroupError::InvalidOperation,
        ),
        (
            "fail_op_rename_to_a_bidi_control",
            by_alice(*s.id(), Change::Rename("evil\u{202e}txt".into())),
            // Refused when parsed (27.3), before any rule of 27.4 is checked.
            GroupError::Malformed,
        ),
        (
            "fail_op_promote_an_admin",
            by_alice(*s.id(), Change::Promote(alice.user)),
            GroupError::InvalidOperation,
        ),
        (
            "fail_op_promote_a_non_member",
            by_alice(*s.id(), Change::Promote(dave)),
            GroupError::InvalidOperation,
        ),
        (
            "fail_op_demote_a_non_admin",
            by_alice(*s.id(), Change::Demote(bob.user)),
            GroupError::InvalidOperation,
        ),
        (
            "fail_op_demote_the_last_admin",
            by_alice(*s.id(), Change::Demote(alice.user)),
            GroupError::InvalidOperation,
        ),
    ];
    cases
        .iter()
        .map(|(name, op, error)| {
            json!({"name": name, "state": h(&s.to_bytes().unwrap()), "op": h(op.to_bytes()), "error": error.code()})
        })
        .collect()
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at: Vec<usize> = (0..bytes.len() - from.len())
        .filter(|i| &bytes[*i..*i + from.len()] == from)
        .collect();
    assert_eq!(at.len(), 1);
    let mut out = bytes.to_vec();
    out[at[0]..at[0] + to.len()].copy_from_slice(to);
    out
}

/// An operation's bytes signed again by `who` (an RSA-2048 signature: the last 258
/// bytes are its var16).
fn resign(r: &mut rand_chacha::ChaCha20Rng, who: &Dev, op: &[u8]) -> Vec<u8> {
    sign_raw(r, who, op[..op.len() - 258].to_vec())
}

/// `signed || var16(RSA-PSS over "sealpost/v2/group-op\0" || signed)` (27.3).
fn sign_raw(r: &mut rand_chacha::ChaCha20Rng, who: &Dev, mut signed: Vec<u8>) -> Vec<u8> {
    let mut input = b"sealpost/v2/group-op\0".to_vec();
    input.extend_from_slice(&signed);
    let signature = who.identity.sign(r, &input).unwrap();
    signed.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    signed.extend_from_slice(&signature);
    signed
}

/// A format-1 operation (`'O',1`: no prior, no usernames) by `who` for `s` with these
/// kind byte and fields.
fn op_v1(r: &mut rand_chacha::ChaCha20Rng, who: &Dev, s: &GroupState, kind: &[u8]) -> Vec<u8> {
    let mut b = vec![b'O', 1];
    b.extend_from_slice(s.id().as_bytes());
    b.extend_from_slice(&s.epoch().to_be_bytes());
    b.extend_from_slice(who.user.as_bytes());
    b.extend_from_slice(kind);
    let spki = who.identity.public().to_spki_der().to_vec();
    b.extend_from_slice(&(spki.len() as u16).to_be_bytes());
    b.extend_from_slice(&spki);
    sign_raw(r, who, b)
}

/// The format-2 encoding of `s` (27.2 "Format 2"): no head, no usernames.
fn state_v2(s: &GroupState) -> Vec<u8> {
    let mut b = vec![b'G', 2];
    b.extend_from_slice(s.id().as_bytes());
    b.extend_from_slice(&s.epoch().to_be_bytes());
    b.extend_from_slice(&s.key_epoch().to_be_bytes());
    b.push(s.name().len() as u8);
    b.extend_from_slice(s.name().as_bytes());
    b.extend_from_slice(&(s.members().len() as u16).to_be_bytes());
    for (user, m) in s.members() {
        b.extend_from_slice(user.as_bytes());
        b.extend_from_slice(&m.fingerprint);
        b.extend_from_slice(&m.admin_since.to_be_bytes());
    }
    b
}

/// A state of a device that has not updated (format 2), a format-1 rename of it, then a
/// format-2 operation on the legacy state that makes.
fn legacy(r: &mut rand_chacha::ChaCha20Rng, alice: &Dev, s: &GroupState) -> Value {
    let old = state_v2(s);
    let legacy = GroupState::from_bytes(&old).unwrap();
    assert!(legacy.is_legacy());
    let mut kind = vec![5, 3];
    kind.extend_from_slice(b"old");
    let op = op_v1(r, alice, s, &kind);
    let after = legacy.apply(&GroupOp::from_bytes(&op).unwrap()).unwrap();
    let then = GroupOp::sign(
        r,
        &alice.identity,
        alice.user,
        *s.id(),
        after.epoch(),
        after.head().unwrap(),
        Change::Promote(
            s.members()
                .keys()
                .find(|u| **u != alice.user)
                .copied()
                .unwrap(),
        ),
    )
    .unwrap();
    let then_after = after.apply(&then).unwrap();
    json!({"state": h(&old), "legacy_head": h(&legacy.head().unwrap()), "op": h(&op),
           "state_after": h(&after.to_bytes().unwrap()), "then": h(then.to_bytes()),
           "then_state_after": h(&then_after.to_bytes().unwrap())})
}

fn identity_of(v: &Value) -> sealpost_core::IdentityPublicKey {
    sealpost_core::IdentityPublicKey::from_spki_der(&hex_of(v, "identity_spki")).unwrap()
}

fn ids(v: &Value) -> (UserId, DeviceId) {
    (
        UserId::from_hex(v["user_id"].as_str().unwrap()).unwrap(),
        DeviceId::from_hex(v["device_id"].as_str().unwrap()).unwrap(),
    )
}

/// Everything the file claims, from the file alone.
fn check(v: &Value) {
    let ops = v["ops"].as_array().unwrap();
    let mut state =
        GroupState::create(&GroupOp::from_bytes(&hex_of(&ops[0], "op")).unwrap()).unwrap();
    assert_eq!(state.to_bytes().unwrap(), hex_of(&ops[0], "state_after"));
    for o in &ops[1..] {
        state = state
            .apply(&GroupOp::from_bytes(&hex_of(o, "op")).unwrap())
            .unwrap();
        assert_eq!(
            state.to_bytes().unwrap(),
            hex_of(o, "state_after"),
            "{}",
            o["name"]
        );
    }
    for f in v["fail_ops"].as_array().unwrap() {
        let s = GroupState::from_bytes(&hex_of(f, "state")).unwrap();
        let err = GroupOp::from_bytes(&hex_of(f, "op"))
            .and_then(|op| s.apply(&op))
            .unwrap_err();
        assert_eq!(err.code(), f["error"], "{}", f["name"]);
    }
    let l = &v["legacy"];
    let legacy = GroupState::from_bytes(&hex_of(l, "state")).unwrap();
    assert_eq!(legacy.head().unwrap().to_vec(), hex_of(l, "legacy_head"));
    let after = legacy
        .apply(&GroupOp::from_bytes(&hex_of(l, "op")).unwrap())
        .unwrap();
    assert_eq!(after.to_bytes().unwrap(), hex_of(l, "state_after"));
    let then = after
        .apply(&GroupOp::from_bytes(&hex_of(l, "then")).unwrap())
        .unwrap();
    assert_eq!(then.to_bytes().unwrap(), hex_of(l, "then_state_after"));
    for f in v["fail_states"].as_array().unwrap() {
        let err = GroupState::from_bytes(&hex_of(f, "state")).unwrap_err();
        assert_eq!(err.code(), f["error"], "{}", f["name"]);
    }
    for race in v["races"].as_array().unwrap() {
        let s = GroupState::from_bytes(&hex_of(race, "state")).unwrap();
        let ops: Vec<GroupOp> = race["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| GroupOp::from_bytes(&hex::decode(o.as_str().unwrap()).unwrap()).unwrap())
            .collect();
        let want = &ops[race["winner"].as_u64().unwrap() as usize];
        // In the order given, reversed, and rotated.
        for k in 0..ops.len() {
            for reversed in [false, true] {
                let mut order = ops.clone();
                order.rotate_left(k);
                if reversed {
                    order.reverse();
                }
                let mut r = Race::new(s.clone(), order[0].clone()).unwrap();
                for op in &order[1..] {
                    r.enter(op.clone()).unwrap();
                }
                assert_eq!(r.winner(), want, "{}", race["name"]);
            }
        }
        assert_eq!(
            s.apply(want).unwrap().to_bytes().unwrap(),
            hex_of(race, "state_after"),
            "{}",
            race["name"]
        );
    }
    let sk = &v["sender_keys"];
    let (me, my_device) = ids(&sk["receiver"]);
    let session = || {
        GroupSession::join(
            GroupState::from_bytes(&hex_of(sk, "state")).unwrap(),
            me,
            my_device,
        )
        .unwrap()
    };
    let (user, device) = ids(&sk["from"]);
    let dist = SenderKeyDistribution::from_bytes(&hex_of(sk, "distribution")).unwrap();
    let mut b = session();
    b.add_chain(&user, &device, &identity_of(&sk["from"]), &dist)
        .unwrap();
    let now = T0 + 10;
    let messages = sk["messages"].as_array().unwrap();
    for i in sk["open_order"].as_array().unwrap() {
        let m = &messages[i.as_u64().unwrap() as usize];
        let blob = hex_of(m, "message");
        let got = b.open(&blob, now).unwrap();
        assert_eq!(&got.payload[..], m["payload"].as_str().unwrap().as_bytes());
        assert_eq!(json!(got.counter), m["counter"]);
        assert_eq!((got.sender, got.sender_device), (user, device));
        assert_eq!(b.open(&blob, now).unwrap_err(), GroupError::Replay);
    }
    let mut fresh = session();
    fresh
        .add_chain(&user, &device, &identity_of(&sk["from"]), &dist)
        .unwrap();
    let blob = hex_of(&messages[0], "message");
    assert_eq!(
        fresh.open(&blob, T0 + MAX_MESSAGE_AGE + 10).unwrap_err(),
        GroupError::Expired
    );
    for at in [0, 1, 60, 88, 89, 150, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[at] ^= 1;
        let want = if at == 0 {
            GroupError::Malformed
        } else {
            GroupError::Decrypt
        };
        assert_eq!(fresh.open(&bad, now).unwrap_err(), want, "byte {at}");
    }
    for f in v["fail_distributions"].as_array().unwrap() {
        let (me, my_device) = ids(&sk["receiver"]);
        let mut s = GroupSession::join(
            GroupState::from_bytes(&hex_of(f, "state")).unwrap(),
            me,
            my_device,
        )
        .unwrap();
        let (fu, fd) = ids(&f["from"]);
        let d = SenderKeyDistribution::from_bytes(&hex_of(f, "distribution")).unwrap();
        let err = s
            .add_chain(&fu, &fd, &identity_of(&f["from"]), &d)
            .unwrap_err();
        assert_eq!(err.code(), f["error"], "{}", f["name"]);
    }
}
