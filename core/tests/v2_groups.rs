//! Groups (PROTOCOL.md 27) as their members and their attackers see them: operations
//! checked against the state by every member, sender keys over the pairwise sessions,
//! one blob per message; a non-admin, a forger, a removed member, a later member, the
//! relay (replays, flips bits) and a member replaying old operations are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Username;
use sealpost_core::v2::group::{
    Change, GroupError, GroupOp, GroupSession, GroupState, Invitee, MAX_MEMBERS,
    SenderKeyDistribution,
};
use support::groups::*;
use support::*;

/// Gives `to` the chain of `from` as the pairwise session from `from` would.
fn give(from: &Dev, dist: &SenderKeyDistribution, to: &mut GroupSession) -> Result<(), GroupError> {
    let wire = SenderKeyDistribution::from_bytes(&dist.to_bytes()).unwrap();
    to.add_chain(&from.user, &from.device, &from.identity.public(), &wire)
}

fn wire(op: &GroupOp) -> GroupOp {
    GroupOp::from_bytes(op.to_bytes()).unwrap()
}

#[test]
fn create_talk_add_remove_leave() {
    let mut r = rng(1);
    let (alice, bob, carol) = (dev("alice", 0xa1), dev("bob", 0xb1), dev("carol", 0xc1));
    let (mut a, create) = create(&mut r, &alice, "hikers", &[&bob]);
    let mut b = GroupSession::join(
        GroupState::create(&wire(&create)).unwrap(),
        bob.user,
        bob.device,
    )
    .unwrap();
    assert_eq!(b.state(), a.state());
    assert_eq!(a.state().epoch(), 1);
    assert!(a.state().is_admin(&alice.user) && !a.state().is_admin(&bob.user));

    let da = a.sender_key(&mut r).unwrap();
    let db = b.sender_key(&mut r).unwrap();
    give(&alice, &da, &mut b).unwrap();
    give(&bob, &db, &mut a).unwrap();
    // Giving the same chain twice (a re-send) changes nothing.
    give(&alice, &da, &mut b).unwrap();

    let m0 = a.seal(&mut r, b"hello", T0).unwrap();
    let m1 = a.seal(&mut r, b"second", T0).unwrap();
    assert_eq!(m0.len(), 512, "padded to the smallest bucket");
    assert_eq!(m0[0], 3, "only the version byte is in clear");
    // Out of order: counter 1 first, then 0 from its skipped key; then each is a replay.
    let got = b.open(&m1, T0).unwrap();
    assert_eq!((got.counter, got.skipped.clone()), (1, vec![0]));
    assert_eq!(got.sender, alice.user);
    assert_eq!(&got.payload[..], b"second");
    assert_eq!(&b.open(&m0, T0).unwrap().payload[..], b"hello");
    assert_eq!(b.open(&m0, T0).unwrap_err(), GroupError::Replay);
    assert_eq!(b.open(&m1, T0).unwrap_err(), GroupError::Replay);
    let reply = b.seal(&mut r, b"hi alice", T0).unwrap();
    assert_eq!(&a.open(&reply, T0).unwrap().payload[..], b"hi alice");

    // Alice adds carol. Carol gets the state before the add and the add, checks it, and
    // receives the chains at their current positions: she cannot read earlier messages.
    let before = a.state().to_bytes().unwrap();
    let (add, applied) = a
        .propose(&mut r, &alice.identity, Change::Add(vec![member(&carol)]))
        .unwrap();
    assert!(!applied.rekeyed, "adding keeps the chains");
    b.apply(&wire(&add)).unwrap();
    let state = GroupState::from_bytes(&before)
        .unwrap()
        .apply(&wire(&add))
        .unwrap();
    let mut c = GroupSession::join(state, carol.user, carol.device).unwrap();
    assert_eq!(c.state(), a.state());
    give(&alice, &a.sender_key(&mut r).unwrap(), &mut c).unwrap();
    give(&bob, &b.sender_key(&mut r).unwrap(), &mut c).unwrap();
    let dc = c.sender_key(&mut r).unwrap();
    give(&carol, &dc, &mut a).unwrap();
    give(&carol, &dc, &mut b).unwrap();
    assert_eq!(
        c.open(&m1, T0).unwrap_err(),
        GroupError::Replay,
        "history is not readable"
    );
    let m2 = a.seal(&mut r, b"welcome carol", T0).unwrap();
    assert_eq!(&c.open(&m2, T0).unwrap().payload[..], b"welcome carol");
    assert_eq!(&b.open(&m2, T0).unwrap().payload[..], b"welcome carol");

    // A message of carol's that reaches alice only after the rekey below.
    let old_epoch = c.seal(&mut r, b"late", T0).unwrap();

    // Alice removes bob: every chain is retired, bob is out.
    let (remove, applied) = a
        .propose(&mut r, &alice.identity, Change::Remove(vec![bob.user]))
        .unwrap();
    assert!(applied.rekeyed && !applied.removed);
    assert!(c.apply(&wire(&remove)).unwrap().rekeyed);
    assert!(b.apply(&wire(&remove)).unwrap().removed);
    assert_eq!(
        a.seal(&mut r, b"x", T0).unwrap_err(),
        GroupError::NoSenderKey
    );
    assert_eq!(b.sender_key(&mut r).unwrap_err(), GroupError::NotMember);
    let da = a.sender_key(&mut r).unwrap();
    let dc = c.sender_key(&mut r).unwrap();
    assert_eq!(da.epoch, 3);
    give(&alice, &da, &mut c).unwrap();
    give(&carol, &dc, &mut a).unwrap();
    assert_eq!(give(&bob, &db, &mut c).unwrap_err(), GroupError::NotMember);
    let m3 = a.seal(&mut r, b"after bob", T0).unwrap();
    assert_eq!(&c.open(&m3, T0).unwrap().payload[..], b"after bob");
    assert!(
        b.open(&m3, T0).is_err(),
        "the removed member cannot read what follows"
    );
    assert_eq!(c.open(&reply, T0).unwrap_err(), GroupError::NotMember);
    // Bob's chain is retired with him: his messages are refused as a non-member's,
    // carol's old-epoch message as old.
    assert_eq!(a.open(&old_epoch, T0).unwrap_err(), GroupError::OldEpoch);

    // Carol (not an admin) leaves: allowed; rekeys.
    let (leave, applied) = c.propose(&mut r, &carol.identity, Change::Leave).unwrap();
    assert!(applied.removed);
    assert!(a.apply(&wire(&leave)).unwrap().rekeyed);
    assert_eq!(a.state().members().len(), 1);
}

fn two_members() -> (
    Dev,
    Dev,
    GroupSession,
    GroupSession,
    rand_chacha::ChaCha20Rng,
) {
    let mut r = rng(2);
    let (alice, bob) = (dev("alice", 0xa1), dev("bob", 0xb1));
    let (a, create) = create(&mut r, &alice, "g", &[&bob]);
    let b = GroupSession::join(GroupState::create(&create).unwrap(), bob.user, bob.device).unwrap();
    (alice, bob, a, b, r)
}

#[test]
fn operations_are_checked_against_the_state() {
    let (alice, bob, mut a, mut b, mut r) = two_members();
    let carol = dev("carol", 0xc1);
    let s = a.state().clone();
    let sign = |r: &mut rand_chacha::ChaCha20Rng, who: &Dev, epoch, change| {
        GroupOp::sign(
            r,
            &who.identity,
            who.user,
            *s.id(),
            epoch,
            s.head().unwrap(),
            change,
        )
        .unwrap()
    };
    // A member who is not an admin cannot add, remove, rename, promote or rekey.
    for change in [
        Change::Add(vec![member(&carol)]),
        Change::Remove(vec![alice.user]),
        Change::Rename("mine".into()),
        Change::Promote(bob.user),
        Change::Rekey,
    ] {
        assert_eq!(
            s.apply(&sign(&mut r, &bob, 1, change)).unwrap_err(),
            GroupError::NotAdmin
        );
    }
    // Someone signing as alice with another key, or a non-member.
    let forged = GroupOp::sign(
        &mut r,
        &carol.identity,
        alice.user,
        *s.id(),
        1,
        s.head().unwrap(),
        Change::Rekey,
    )
    .unwrap();
    assert_eq!(s.apply(&forged).unwrap_err(), GroupError::NotMember);
    assert_eq!(
        s.apply(&sign(&mut r, &carol, 1, Change::Leave))
            .unwrap_err(),
        GroupError::NotMember
    );
    // A flipped bit in a signed operation.
    let good = sign(&mut r, &alice, 1, Change::Rename("new".into()));
    let mut bytes = good.to_bytes().to_vec();
    bytes[2 + 16 + 8 + 32 + 32 + 1 + 1] ^= 1; // the name's first byte

    match GroupOp::from_bytes(&bytes) {
        Ok(op) => assert_eq!(s.apply(&op).unwrap_err(), GroupError::BadSignature),
        Err(e) => assert_eq!(e, GroupError::Malformed),
    }
    // Epochs: an operation applies to exactly one state.
    assert_eq!(
        s.apply(&sign(&mut r, &alice, 0, Change::Rekey))
            .unwrap_err(),
        GroupError::OldEpoch
    );
    assert_eq!(
        s.apply(&sign(&mut r, &alice, 2, Change::Rekey))
            .unwrap_err(),
        GroupError::EpochAhead
    );
    let other = GroupOp::sign(
        &mut r,
        &alice.identity,
        alice.user,
        sealpost_core::v2::GroupId::from_bytes([9; 16]),
        1,
        s.head().unwrap(),
        Change::Rekey,
    )
    .unwrap();
    assert_eq!(s.apply(&other).unwrap_err(), GroupError::WrongGroup);
    // Applied once, an operation is old: a replay by the relay or a member is refused.
    let rename = sign(&mut r, &alice, 1, Change::Rename("new".into()));
    b.apply(&rename).unwrap();
    assert_eq!(b.state().name(), "new");
    assert_eq!(b.apply(&rename).unwrap_err(), GroupError::OldEpoch);
    // Rules of the state.
    let s2 = b.state().clone();
    let sign2 = |r: &mut rand_chacha::ChaCha20Rng, who: &Dev, change| {
        GroupOp::sign(
            r,
            &who.identity,
            who.user,
            *s2.id(),
            2,
            s2.head().unwrap(),
            change,
        )
        .unwrap()
    };
    for change in [
        Change::Add(vec![member(&bob)]),
        Change::Remove(vec![carol.user]),
        Change::Remove(vec![alice.user]),
        Change::Promote(alice.user),
        Change::Demote(alice.user),
        Change::Demote(bob.user),
        Change::Rename("bad\u{202E}name".into()),
    ] {
        assert_eq!(
            s2.apply(&sign2(&mut r, &alice, change.clone()))
                .unwrap_err(),
            GroupError::InvalidOperation,
            "{change:?}"
        );
    }
    // Promote, then the first admin may leave; the group keeps an admin either way.
    let promoted = s2
        .apply(&sign2(&mut r, &alice, Change::Promote(bob.user)))
        .unwrap();
    assert!(promoted.is_admin(&bob.user));
    let left = s2.apply(&sign2(&mut r, &alice, Change::Leave)).unwrap();
    assert!(
        left.is_admin(&bob.user),
        "the last admin leaving hands over"
    );
    a.apply(&rename).unwrap();
    assert_eq!(a.state(), b.state());
}

#[test]
fn a_member_cannot_claim_another_device_or_epoch() {
    let (alice, bob, mut a, mut b, mut r) = two_members();
    let carol = dev("carol", 0xc1);
    let da = a.sender_key(&mut r).unwrap();
    // Carried by bob's session but naming alice: refused.
    assert_eq!(
        b.add_chain(&bob.user, &bob.device, &bob.identity.public(), &da)
            .unwrap_err(),
        GroupError::WrongSender
    );
    // Alice's id with carol's identity key: not the member alice.
    assert_eq!(
        b.add_chain(&alice.user, &alice.device, &carol.identity.public(), &da)
            .unwrap_err(),
        GroupError::NotMember
    );
    // A non-member's chain.
    let mut dc = da.clone();
    dc.sender = carol.user;
    dc.sender_device = carol.device;
    assert_eq!(
        give(&carol, &dc, &mut b).unwrap_err(),
        GroupError::NotMember
    );
    // An epoch ahead of the receiver's state is held; another group refused.
    let mut ahead = da.clone();
    ahead.epoch = 5;
    assert_eq!(
        give(&alice, &ahead, &mut b).unwrap_err(),
        GroupError::EpochAhead
    );
    let mut other = da.clone();
    other.group_id = sealpost_core::v2::GroupId::from_bytes([7; 16]);
    assert_eq!(
        give(&alice, &other, &mut b).unwrap_err(),
        GroupError::WrongGroup
    );
    give(&alice, &da, &mut b).unwrap();
    // A second chain of the same device in the same epoch.
    let mut second = da.clone();
    second.chain_id = sealpost_core::v2::ChainId::from_bytes([1; 16]);
    assert_eq!(
        give(&alice, &second, &mut b).unwrap_err(),
        GroupError::WrongSender
    );
    // After a rekey the old chain is refused.
    let (rekey, _) = a.propose(&mut r, &alice.identity, Change::Rekey).unwrap();
    b.apply(&rekey).unwrap();
    assert_eq!(give(&alice, &da, &mut b).unwrap_err(), GroupError::OldEpoch);
}

#[test]
fn the_relay_cannot_alter_replay_or_age_messages() {
    let (alice, _bob, mut a, mut b, mut r) = two_members();
    give(&alice, &a.sender_key(&mut r).unwrap(), &mut b).unwrap();
    let blob = a.seal(&mut r, b"payload", T0).unwrap();
    for at in [0, 1, 50, 88, 89, 100, 200, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[at] ^= 1;
        let err = b.open(&bad, T0).unwrap_err();
        assert!(
            matches!(err, GroupError::Decrypt | GroupError::Malformed),
            "byte {at}: {err:?}"
        );
    }
    assert_eq!(b.open(&blob[..511], T0).unwrap_err(), GroupError::Malformed);
    assert_eq!(
        b.open(&blob, T0 + sealpost_core::v2::MAX_MESSAGE_AGE + 1)
            .unwrap_err(),
        GroupError::Expired
    );
    b.open(&blob, T0).unwrap();
    assert_eq!(b.open(&blob, T0).unwrap_err(), GroupError::Replay);
    // A jump of more than 256 counters is refused like in sessions.
    for _ in 0..300 {
        a.seal(&mut r, b"", T0).unwrap();
    }
    let far = a.seal(&mut r, b"far", T0).unwrap();
    assert_eq!(b.open(&far, T0).unwrap_err(), GroupError::Decrypt);
}

#[test]
fn a_thousand_members_fit() {
    let mut r = rng(3);
    let alice = dev("alice", 0xa1);
    let fp = alice.identity.public().fingerprint();
    // The longest usernames: the largest create and state.
    let members: Vec<Invitee> = (1..MAX_MEMBERS as u32)
        .map(|i| invitee(&format!("member-{i:025}"), fp))
        .collect();
    let creator = Username::parse("alice").unwrap();
    let (g, create) = GroupSession::create(
        &mut r,
        &alice.identity,
        &creator,
        alice.device,
        "big",
        members.clone(),
    )
    .unwrap();
    assert_eq!(g.state().members().len(), MAX_MEMBERS);
    let parsed = GroupOp::from_bytes(create.to_bytes()).unwrap();
    assert_eq!(GroupState::create(&parsed).unwrap(), *g.state());
    assert_eq!(
        GroupState::from_bytes(&g.state().to_bytes().unwrap()).unwrap(),
        *g.state()
    );
    let mut one_more = members;
    one_more.push(invitee("one-more", fp));
    assert_eq!(
        GroupSession::create(
            &mut r,
            &alice.identity,
            &creator,
            alice.device,
            "big",
            one_more
        )
        .unwrap_err(),
        GroupError::TooLarge
    );
}

#[test]
fn a_session_survives_storage() {
    let (alice, _bob, mut a, mut b, mut r) = two_members();
    give(&alice, &a.sender_key(&mut r).unwrap(), &mut b).unwrap();
    let m0 = a.seal(&mut r, b"zero", T0).unwrap();
    let m1 = a.seal(&mut r, b"one", T0).unwrap();
    let m2 = a.seal(&mut r, b"two", T0).unwrap();
    b.open(&m1, T0).unwrap();
    // Both sides stored and loaded: the skipped key, the position, the own chain and
    // its signing key come back; used counters stay used.
    let mut a = GroupSession::from_secret_bytes(&a.to_secret_bytes().unwrap()).unwrap();
    let stored = b.to_secret_bytes().unwrap();
    let mut b = GroupSession::from_secret_bytes(&stored).unwrap();
    assert_eq!(b.to_secret_bytes().unwrap(), stored, "one encoding");
    assert_eq!(b.open(&m1, T0).unwrap_err(), GroupError::Replay);
    assert_eq!(&b.open(&m0, T0).unwrap().payload[..], b"zero");
    assert_eq!(&b.open(&m2, T0).unwrap().payload[..], b"two");
    let m3 = a.seal(&mut r, b"three", T0).unwrap();
    assert_eq!(&b.open(&m3, T0).unwrap().payload[..], b"three");
    // Stored bytes are parsed strictly.
    for cut in [0, 1, 2, 50, stored.len() - 1] {
        assert_eq!(
            GroupSession::from_secret_bytes(&stored[..cut]).unwrap_err(),
            GroupError::Malformed
        );
    }
    let mut trailing = stored.to_vec();
    trailing.push(0);
    assert_eq!(
        GroupSession::from_secret_bytes(&trailing).unwrap_err(),
        GroupError::Malformed
    );
}
