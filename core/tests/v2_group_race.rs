//! Operations signed for the same epoch (PROTOCOL.md 27.4 "Concurrent operations") as an
//! attacker races them: an admin being removed signs hundreds of operations for the
//! raced epoch (each with a fresh PSS salt, so each hashes differently) and never wins;
//! a demoted admin's concurrent operation loses even when it is the senior one; mutual
//! removals go to the senior admin; forged entrants are refused. Every race is run in
//! several arrival orders, which must all give the same winner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::Rng;
use sealpost_core::v2::group::{Change, GroupError, GroupOp, GroupSession, GroupState, Race};
use sha2::{Digest, Sha256};
use support::groups::*;
use support::*;

struct Cast {
    alice: Dev,
    bob: Dev,
    carol: Dev,
    dave: Dev,
    erin: Dev,
}

fn cast() -> Cast {
    Cast {
        alice: dev("alice", 0xa1),
        bob: dev("bob", 0xb1),
        carol: dev("carol", 0xc1),
        dave: extra_dev("dave", 0xd1, "alice"),
        erin: extra_dev("erin", 0xe1, "bob"),
    }
}

/// Alice creates the group with bob, carol, dave and erin and promotes bob, then carol:
/// admins alice (since 1), bob (since 2), carol (since 3), in that seniority; dave and
/// erin members. The state at epoch 3.
fn three_admins(c: &Cast, r: &mut ChaCha20Rng) -> GroupState {
    let (mut a, _) = create(r, &c.alice, "g", &[&c.bob, &c.carol, &c.dave, &c.erin]);
    a.propose(r, &c.alice.identity, Change::Promote(c.bob.user))
        .unwrap();
    a.propose(r, &c.alice.identity, Change::Promote(c.carol.user))
        .unwrap();
    let s = a.state().clone();
    let since = |d: &Dev| s.member(&d.user).unwrap().admin_since;
    assert_eq!(
        [
            since(&c.alice),
            since(&c.bob),
            since(&c.carol),
            since(&c.dave)
        ],
        [1, 2, 3, 0]
    );
    s
}

fn sign(r: &mut ChaCha20Rng, who: &Dev, s: &GroupState, change: Change) -> GroupOp {
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
}

/// The winner when the operations arrive in this order.
fn settle(s: &GroupState, ops: &[&GroupOp]) -> GroupOp {
    let mut race = Race::new(s.clone(), ops[0].clone()).unwrap();
    for op in &ops[1..] {
        race.enter((*op).clone()).unwrap();
    }
    race.winner().clone()
}

/// The winner, the same in every order of arrival (all of them up to 5 operations,
/// otherwise the given order, its reverse and 30 shuffles).
fn settle_any_order(s: &GroupState, ops: &[&GroupOp], r: &mut ChaCha20Rng) -> GroupOp {
    let want = settle(s, ops);
    let mut orders: Vec<Vec<&GroupOp>> = Vec::new();
    if ops.len() <= 5 {
        permutations(ops.to_vec(), 0, &mut orders);
    } else {
        orders.push(ops.iter().rev().copied().collect());
        for _ in 0..30 {
            let mut o = ops.to_vec();
            for i in (1..o.len()).rev() {
                o.swap(i, (r.next_u64() % (i as u64 + 1)) as usize);
            }
            orders.push(o);
        }
    }
    for o in orders {
        assert_eq!(settle(s, &o), want, "the same winner in every order");
    }
    want
}

fn permutations<'a>(mut v: Vec<&'a GroupOp>, k: usize, out: &mut Vec<Vec<&'a GroupOp>>) {
    if k == v.len() {
        out.push(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permutations(v.clone(), k + 1, out);
        v.swap(k, i);
    }
}

/// Everything `actor` (an admin) might sign to escape or undo its removal by `remover`:
/// add an accomplice, promote one, rename, rekey, remove a member, remove or demote the
/// third admin and, with `strike_back`, the remover itself.
fn escapes(c: &Cast, actor: &Dev, remover: &Dev, strike_back: bool) -> Vec<Change> {
    let fresh = invitee("mallory", [0x33; 32]);
    let mut v = vec![
        Change::Add(vec![fresh]),
        Change::Promote(c.dave.user),
        Change::Rename("mine now".into()),
        Change::Rekey,
        Change::Remove(vec![c.erin.user]),
    ];
    for other in [&c.alice, &c.bob, &c.carol] {
        if other.user != remover.user && other.user != actor.user {
            v.push(Change::Remove(vec![other.user]));
            v.push(Change::Demote(other.user));
        }
    }
    if strike_back {
        v.push(Change::Remove(vec![remover.user]));
        v.push(Change::Demote(remover.user));
    }
    v
}

#[test]
fn a_removed_admin_grinding_200_operations_never_wins() {
    let c = cast();
    let mut r = rng(40);
    let s = three_admins(&c, &mut r);
    // Alice (the senior) removes bob; bob signs 200 operations for the same epoch,
    // striking back at alice among them.
    let remove = sign(&mut r, &c.alice, &s, Change::Remove(vec![c.bob.user]));
    let changes = escapes(&c, &c.bob, &c.alice, true);
    let ground: Vec<GroupOp> = (0..200)
        .map(|i| sign(&mut r, &c.bob, &s, changes[i % changes.len()].clone()))
        .collect();
    // Under the old rule (the lower SHA-256 wins) some of them would have won.
    let lower = ground
        .iter()
        .filter(|g| Sha256::digest(g.to_bytes()) < Sha256::digest(remove.to_bytes()))
        .count();
    assert!(lower > 0, "grinding finds a lower hash");
    let mut all: Vec<&GroupOp> = ground.iter().collect();
    all.insert(117, &remove);
    assert_eq!(settle_any_order(&s, &all, &mut r), remove);
    let mut race = Race::new(s.clone(), ground[0].clone()).unwrap();
    for g in &ground[1..] {
        race.enter(g.clone()).unwrap();
    }
    race.enter(remove.clone()).unwrap();
    assert_eq!(race.ops().len(), 2, "one operation kept per admin");
    assert_eq!(*race.winner(), remove);

    // Carol (the junior) removes bob (senior to her): bob's 200 operations that do not
    // strike carol back lose too, those taking power from alice included.
    let remove = sign(&mut r, &c.carol, &s, Change::Remove(vec![c.bob.user]));
    let changes = escapes(&c, &c.bob, &c.carol, false);
    let ground: Vec<GroupOp> = (0..200)
        .map(|i| sign(&mut r, &c.bob, &s, changes[i % changes.len()].clone()))
        .collect();
    let mut all: Vec<&GroupOp> = ground.iter().collect();
    all.push(&remove);
    assert_eq!(settle_any_order(&s, &all, &mut r), remove);
}

#[test]
fn mutual_removals_and_demotions_go_to_the_senior_admin() {
    let c = cast();
    let mut r = rng(41);
    let s = three_admins(&c, &mut r);
    for (x, y) in [(&c.alice, &c.bob), (&c.bob, &c.carol), (&c.alice, &c.carol)] {
        // x is senior to y.
        for (cx, cy) in [
            (Change::Remove(vec![y.user]), Change::Remove(vec![x.user])),
            (Change::Demote(y.user), Change::Remove(vec![x.user])),
            (Change::Remove(vec![y.user]), Change::Demote(x.user)),
            (Change::Demote(y.user), Change::Demote(x.user)),
        ] {
            let ox = sign(&mut r, x, &s, cx);
            // The junior grinds its counter-strike: 20 versions.
            let oy: Vec<GroupOp> = (0..20).map(|_| sign(&mut r, y, &s, cy.clone())).collect();
            let mut all: Vec<&GroupOp> = oy.iter().collect();
            all.insert(7, &ox);
            assert_eq!(settle_any_order(&s, &all, &mut r), ox);
            assert_eq!(settle_any_order(&s, &[&ox, &oy[0]], &mut r), ox);
        }
    }
}

#[test]
fn a_demoted_admins_concurrent_operation_loses_even_when_senior() {
    let c = cast();
    let mut r = rng(42);
    let s = three_admins(&c, &mut r);
    // Carol, the most junior admin, demotes alice, the creator; whatever alice signs
    // at the same time without striking carol loses.
    let demote = sign(&mut r, &c.carol, &s, Change::Demote(c.alice.user));
    for change in escapes(&c, &c.alice, &c.carol, false) {
        let mine = sign(&mut r, &c.alice, &s, change);
        assert_eq!(settle_any_order(&s, &[&mine, &demote], &mut r), demote);
    }
    // A demotion overrules even an operation that would overrule a third admin.
    let strike_bob = sign(&mut r, &c.alice, &s, Change::Remove(vec![c.bob.user]));
    let renamed = sign(&mut r, &c.bob, &s, Change::Rename("bob's".into()));
    assert_eq!(
        settle_any_order(&s, &[&strike_bob, &demote, &renamed], &mut r),
        demote
    );
    // Alice demoting herself while another admin acts is no strike on anyone else.
    let step_down = sign(&mut r, &c.alice, &s, Change::Demote(c.alice.user));
    let rename = sign(&mut r, &c.bob, &s, Change::Rename("x".into()));
    assert_eq!(
        settle_any_order(&s, &[&step_down, &rename], &mut r),
        step_down
    );
}

#[test]
fn changes_that_take_no_power_go_to_the_senior_admin() {
    let c = cast();
    let mut r = rng(43);
    let s = three_admins(&c, &mut r);
    let a = sign(&mut r, &c.alice, &s, Change::Rename("a".into()));
    let b = sign(&mut r, &c.bob, &s, Change::Remove(vec![c.dave.user]));
    let cc = sign(&mut r, &c.carol, &s, Change::Promote(c.erin.user));
    assert_eq!(settle_any_order(&s, &[&a, &b, &cc], &mut r), a);
    assert_eq!(settle_any_order(&s, &[&b, &cc], &mut r), b);
}

#[test]
fn a_cycle_of_strikes_settles_by_the_walk() {
    let c = cast();
    let mut r = rng(44);
    let s = three_admins(&c, &mut r);
    // Alice strikes bob, bob strikes carol, carol strikes alice: alice walks first and
    // overrules bob, so bob's strike on carol does not count; carol overrules alice.
    let a = sign(&mut r, &c.alice, &s, Change::Remove(vec![c.bob.user]));
    let b = sign(&mut r, &c.bob, &s, Change::Demote(c.carol.user));
    let cc = sign(&mut r, &c.carol, &s, Change::Remove(vec![c.alice.user]));
    assert_eq!(settle_any_order(&s, &[&a, &b, &cc], &mut r), cc);
    // Without alice's, bob overrules carol.
    assert_eq!(settle_any_order(&s, &[&b, &cc], &mut r), b);
}

#[test]
fn one_actors_own_operations_settle_by_the_lower_hash() {
    let c = cast();
    let mut r = rng(45);
    let s = three_admins(&c, &mut r);
    // Bob's two devices at once (or bob equivocating): one of his, the same everywhere.
    let ops: Vec<GroupOp> = (0..6)
        .map(|i| sign(&mut r, &c.bob, &s, Change::Rename(format!("name {i}"))))
        .collect();
    let lowest = ops
        .iter()
        .min_by_key(|o| Sha256::digest(o.to_bytes()))
        .unwrap();
    let all: Vec<&GroupOp> = ops.iter().collect();
    assert_eq!(settle_any_order(&s, &all, &mut r), *lowest);
}

#[test]
fn members_leaving_come_after_every_admin() {
    let c = cast();
    let mut r = rng(46);
    let s = three_admins(&c, &mut r);
    let dave_leaves = sign(&mut r, &c.dave, &s, Change::Leave);
    let erin_leaves = sign(&mut r, &c.erin, &s, Change::Leave);
    let rename = sign(&mut r, &c.carol, &s, Change::Rename("c".into()));
    let remove_dave = sign(&mut r, &c.bob, &s, Change::Remove(vec![c.dave.user]));
    assert_eq!(
        settle_any_order(&s, &[&dave_leaves, &erin_leaves, &rename], &mut r),
        rename
    );
    assert_eq!(
        settle_any_order(&s, &[&dave_leaves, &remove_dave], &mut r),
        remove_dave
    );
    let first = if c.dave.user < c.erin.user {
        &dave_leaves
    } else {
        &erin_leaves
    };
    assert_eq!(
        settle_any_order(&s, &[&dave_leaves, &erin_leaves], &mut r),
        *first
    );
    let mut race = Race::new(s.clone(), dave_leaves.clone()).unwrap();
    race.enter(erin_leaves.clone()).unwrap();
    assert_eq!(race.ops().len(), 1, "one non-admin's leave kept");
}

#[test]
fn random_races_settle_the_same_in_every_order() {
    let c = cast();
    let mut r = rng(47);
    let s = three_admins(&c, &mut r);
    let actors = [&c.alice, &c.bob, &c.carol, &c.dave, &c.erin];
    let users = [
        c.alice.user,
        c.bob.user,
        c.carol.user,
        c.dave.user,
        c.erin.user,
    ];
    for _ in 0..25 {
        let mut ops = Vec::new();
        for _ in 0..5 {
            let who = actors[(r.next_u64() % 5) as usize];
            let target = users[(r.next_u64() % 5) as usize];
            let change = if !s.is_admin(&who.user) {
                Change::Leave
            } else {
                match r.next_u64() % 4 {
                    0 => Change::Rename(format!("r{}", r.next_u64() % 100)),
                    1 => Change::Demote(target),
                    _ => Change::Remove(vec![target]),
                }
            };
            let op = sign(&mut r, who, &s, change);
            if s.apply(&op).is_ok() {
                ops.push(op);
            }
        }
        if ops.is_empty() {
            continue;
        }
        let all: Vec<&GroupOp> = ops.iter().collect();
        settle_any_order(&s, &all, &mut r);
    }
}

#[test]
fn forged_or_invalid_entrants_are_refused_and_change_nothing() {
    let c = cast();
    let mut r = rng(48);
    let s = three_admins(&c, &mut r);
    let remove = sign(&mut r, &c.alice, &s, Change::Remove(vec![c.bob.user]));
    let mut race = Race::new(s.clone(), remove.clone()).unwrap();
    let non_admin = sign(&mut r, &c.dave, &s, Change::Remove(vec![c.alice.user]));
    let impostor = GroupOp::sign(
        &mut r,
        &c.bob.identity,
        c.alice.user,
        *s.id(),
        s.epoch(),
        s.head().unwrap(),
        Change::Remove(vec![c.carol.user]),
    )
    .unwrap();
    let genuine = sign(&mut r, &c.bob, &s, Change::Remove(vec![c.alice.user]));
    let mut flipped = genuine.to_bytes().to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let flipped = GroupOp::from_bytes(&flipped).unwrap();
    let older = GroupOp::sign(
        &mut r,
        &c.bob.identity,
        c.bob.user,
        *s.id(),
        s.epoch() - 1,
        [0; 32],
        Change::Rekey,
    )
    .unwrap();
    let ahead = GroupOp::sign(
        &mut r,
        &c.bob.identity,
        c.bob.user,
        *s.id(),
        s.epoch() + 1,
        [0; 32],
        Change::Rekey,
    )
    .unwrap();
    for (op, error) in [
        (non_admin, GroupError::NotAdmin),
        (impostor, GroupError::NotMember),
        (flipped, GroupError::BadSignature),
        (older, GroupError::OldEpoch),
        (ahead, GroupError::EpochAhead),
    ] {
        assert_eq!(race.enter(op).unwrap_err(), error);
        assert_eq!((race.ops().len(), race.winner()), (1, &remove));
    }
    assert_eq!(race.enter(remove.clone()), Ok(false), "a copy");
}

#[test]
fn the_state_records_admin_seniority() {
    let c = cast();
    let mut r = rng(49);
    let (mut a, _) = create(&mut r, &c.alice, "g", &[&c.bob, &c.carol]);
    let since = |s: &GroupSession, d: &Dev| s.state().member(&d.user).unwrap().admin_since;
    assert_eq!((since(&a, &c.alice), since(&a, &c.bob)), (1, 0));
    a.propose(&mut r, &c.alice.identity, Change::Promote(c.bob.user))
        .unwrap();
    assert_eq!(since(&a, &c.bob), 2, "an admin since the state of epoch 2");
    a.propose(&mut r, &c.alice.identity, Change::Demote(c.bob.user))
        .unwrap();
    a.propose(&mut r, &c.alice.identity, Change::Promote(c.bob.user))
        .unwrap();
    assert_eq!(since(&a, &c.bob), 4, "promoted again: junior again");
    a.propose(&mut r, &c.alice.identity, Change::Demote(c.bob.user))
        .unwrap();
    // The last admin leaves: the member with the smallest user id is admin from then.
    a.propose(&mut r, &c.alice.identity, Change::Leave).unwrap();
    let s = a.state();
    let heir = *s.members().keys().next().unwrap();
    assert_eq!(s.member(&heir).unwrap().admin_since, s.epoch());
    assert_eq!(GroupState::from_bytes(&s.to_bytes().unwrap()).unwrap(), *s);
}

#[test]
fn a_state_with_unclear_seniority_is_malformed() {
    let c = cast();
    let mut r = rng(50);
    let (mut a, _) = create(&mut r, &c.alice, "g", &[&c.bob]);
    a.propose(&mut r, &c.alice.identity, Change::Promote(c.bob.user))
        .unwrap();
    let good = a.state().to_bytes().unwrap();
    assert!(GroupState::from_bytes(&good).is_ok());
    // Members are sorted by user id; each entry is user id, fingerprint, the 8-byte
    // admin_since and var8(username).
    let header = 2 + 16 + 8 + 8 + 33 + 1 + 1 + 2;
    let since_at = |i: usize| {
        let mut at = header;
        for _ in 0..i {
            at += 72 + 1 + usize::from(good[at + 72]);
        }
        at + 64
    };
    let set = |bytes: &mut Vec<u8>, i: usize, v: u64| {
        bytes[since_at(i)..since_at(i) + 8].copy_from_slice(&v.to_be_bytes())
    };
    let mut same = good.clone();
    set(&mut same, 0, 1);
    set(&mut same, 1, 1);
    let mut future = good.clone();
    set(&mut future, 0, 3);
    let mut none = good.clone();
    set(&mut none, 0, 0);
    set(&mut none, 1, 0);
    let mut format1 = good.clone();
    format1[1] = 1;
    for bad in [same, future, none, format1] {
        assert_eq!(GroupState::from_bytes(&bad), Err(GroupError::Malformed));
    }
}
