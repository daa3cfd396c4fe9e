//! The room's cryptography as the attacker sees it: wrong codes, recorded exchanges,
//! altered, re-addressed and replayed frames, rekeys for someone else.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::error::Error;
use alloc::string::String;
use alloc::vec::Vec;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A full join: returns the joiner's grant and the transcript an eavesdropper records
/// (msgA, msgB, confirmation, grant).
fn join(code_joiner: &RoomCode, code_host: &RoomCode, r: &mut ChaCha20Rng) -> Joined {
    let (joiner, msg_a) = JoinerPake::start(r, code_joiner).unwrap();
    let (host, msg_b) = HostPake::respond(r, code_host, &msg_a).unwrap();
    let (confirmed, confirm) = joiner.finish(&msg_b).unwrap();
    let checked = host.check(&confirm);
    let room_key = EpochKey::generate(r, 3);
    let grant = host.grant(r, 5, &room_key).unwrap();
    let opened = confirmed.open_grant(&grant, 5);
    Joined {
        checked,
        opened,
        room_key,
        recorded: (msg_a, msg_b, confirm, grant),
    }
}

struct Joined {
    checked: crate::Result<()>,
    opened: crate::Result<Grant>,
    room_key: EpochKey,
    recorded: (
        [u8; PAKE_MSG_LEN],
        [u8; PAKE_MSG_LEN],
        [u8; CONFIRM_LEN],
        alloc::vec::Vec<u8>,
    ),
}

#[test]
fn the_right_code_admits_with_the_room_key() {
    let mut r = rng(1);
    let code = RoomCode::generate(&mut r, 4821).unwrap();
    let j = join(&code, &code, &mut r);
    assert_eq!(j.checked, Ok(()));
    let grant = j.opened.unwrap();
    assert_eq!((grant.member, grant.key.epoch), (5, 3));
    assert_eq!(*grant.key.key, *j.room_key.key);
}

#[test]
fn a_wrong_code_fails_confirmation_on_both_sides() {
    let mut r = rng(2);
    let code = RoomCode::generate(&mut r, 4821).unwrap();
    // One character off, and the same secret on another nameplate.
    let mut near = code.to_text();
    let last = if near.ends_with('a') { "b" } else { "a" };
    near.pop();
    near.push_str(last);
    let near = RoomCode::parse(&near).unwrap();
    let elsewhere = RoomCode::parse(&code.to_text().replacen("4821", "4822", 1)).unwrap();
    for wrong in [near, elsewhere] {
        let j = join(&wrong, &code, &mut r);
        assert_eq!(j.checked, Err(Error::WrongCode), "the host refuses");
        // Even a host that granted anyway gives a joiner with another code nothing.
        assert_eq!(j.opened.unwrap_err(), Error::WrongCode);
    }
}

#[test]
fn a_recorded_join_gives_no_offline_test_even_of_the_right_code() {
    // The eavesdropper (or the relay) recorded a successful join and now tries codes
    // offline. Replaying the joiner's side with any code, the right one included, gives
    // a confirmation that does not match the recorded one, and no grant opens: SPAKE2's
    // key needs the joiner's or the host's secret scalar, so the right guess looks like
    // every wrong one.
    let mut r = rng(3);
    let code = RoomCode::generate(&mut r, 77).unwrap();
    let j = join(&code, &code, &mut r);
    let (msg_a, msg_b, confirm, grant) = j.recorded;
    assert!(j.checked.is_ok());
    let wrong = RoomCode::generate(&mut r, 77).unwrap();
    for guess in [&code, &wrong] {
        let (attacker, _) = JoinerPake::start(&mut r, guess).unwrap();
        let (confirmed, guessed_confirm) = attacker.finish(&msg_b).unwrap();
        assert_ne!(guessed_confirm, confirm);
        assert!(confirmed.open_grant(&grant, 5).is_err());
    }
    // Nothing of the code is in the clear.
    let secret = &code.to_text()[3..];
    for bytes in [&msg_a[..], &msg_b[..], &confirm[..], &grant[..]] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[test]
fn altered_pake_messages_fail_without_a_panic() {
    let mut r = rng(4);
    let code = RoomCode::generate(&mut r, 9).unwrap();
    let (joiner, msg_a) = JoinerPake::start(&mut r, &code).unwrap();
    assert_eq!(
        HostPake::respond(&mut r, &code, &msg_a[..32]).unwrap_err(),
        Error::Malformed
    );
    // A reflected message (the joiner's own, side A) is refused by side A.
    assert!(joiner.finish(&msg_a).is_err());
    let mut flipped = msg_a;
    flipped[5] ^= 1;
    // Either not a point, or a point that gives another key: never an admission.
    if let Ok((host, _)) = HostPake::respond(&mut r, &code, &flipped) {
        let (joiner, _) = JoinerPake::start(&mut r, &code).unwrap();
        let (_, msg_b) = HostPake::respond(&mut r, &code, &flipped).unwrap();
        let (_, confirm) = joiner.finish(&msg_b).unwrap();
        assert_eq!(host.check(&confirm), Err(Error::WrongCode));
    }
}

#[test]
fn grants_are_bound_to_the_member_and_untouchable() {
    let mut r = rng(5);
    let code = RoomCode::generate(&mut r, 12).unwrap();
    let (joiner, msg_a) = JoinerPake::start(&mut r, &code).unwrap();
    let (host, msg_b) = HostPake::respond(&mut r, &code, &msg_a).unwrap();
    let (confirmed, confirm) = joiner.finish(&msg_b).unwrap();
    host.check(&confirm).unwrap();
    let key = EpochKey::generate(&mut r, 0);
    let grant = host.grant(&mut r, 4, &key).unwrap();
    let mut bad = grant.clone();
    bad[40] ^= 1;
    assert!(
        JoinerPake::start(&mut r, &code).is_ok(),
        "a fresh attempt is always possible"
    );
    // The same grant for another member id (a relay renumbering the joiner) fails.
    let (joiner2, msg_a2) = JoinerPake::start(&mut r, &code).unwrap();
    let (host2, msg_b2) = HostPake::respond(&mut r, &code, &msg_a2).unwrap();
    let (confirmed2, _) = joiner2.finish(&msg_b2).unwrap();
    let grant2 = host2.grant(&mut r, 4, &key).unwrap();
    assert_eq!(
        confirmed2.open_grant(&grant2, 6).unwrap_err(),
        Error::Decrypt
    );
    assert_eq!(confirmed.open_grant(&bad, 4).unwrap_err(), Error::Decrypt);
}

/// A header whose stream number is 2 (any number from 1 seals).
fn header(epoch: u32, sender: MemberId, to: MemberId, counter: u64) -> FrameHeader {
    FrameHeader {
        epoch,
        sender,
        to,
        counter,
        seq: 2,
    }
}

/// Roster entries for `ids`, each with a counter of its own (10 × the id).
fn entries(ids: &[MemberId]) -> Vec<RosterEntry> {
    ids.iter()
        .map(|&member| RosterEntry {
            member,
            counter: u64::from(member) * 10,
        })
        .collect()
}

fn body(roster: &[MemberId], content: Content) -> FrameBody {
    FrameBody {
        roster: entries(roster),
        content,
    }
}

#[test]
fn frames_refuse_alteration_readdressing_and_other_keys() {
    let mut r = rng(6);
    let key = EpochKey::generate(&mut r, 2);
    let h = header(2, 3, EVERYONE, 7);
    let text = body(&[1, 3, 5], Content::Text("hello room".into()));
    let frame = seal_frame(&key, h, &text.roster, &text.content).unwrap();
    assert_eq!(FrameHeader::parse(&frame).unwrap(), h);
    assert_eq!(open_frame(&key, h, &frame).unwrap(), text);
    // Every byte flipped (header or body) fails.
    for i in 0..frame.len() {
        let mut bad = frame.clone();
        bad[i] ^= 0x40;
        let opened = FrameHeader::parse(&bad).and_then(|h| open_frame(&key, h, &bad));
        assert!(opened.is_err(), "byte {i}");
    }
    // Re-addressed to member 4 (the header rewritten), attributed to another sender, or
    // renumbered (to fill a gap, or to open one).
    for forged in [
        header(2, 3, 4, 7),
        header(2, 4, EVERYONE, 7),
        header(2, 3, EVERYONE, 8),
        FrameHeader { seq: 1, ..h },
        FrameHeader { seq: 3, ..h },
    ] {
        let mut bad = frame.clone();
        bad[..FRAME_HEADER_LEN].copy_from_slice(
            &seal_frame(&key, forged, &text.roster, &text.content).unwrap()[..FRAME_HEADER_LEN],
        );
        assert_eq!(open_frame(&key, forged, &bad).unwrap_err(), Error::Decrypt);
    }
    // Another epoch's key (a member who left holds the old one).
    let old = EpochKey::generate(&mut r, 2);
    assert_eq!(open_frame(&old, h, &frame).unwrap_err(), Error::Decrypt);
    // Limits and counters.
    assert_eq!(
        seal_frame(
            &key,
            h,
            &entries(&[3]),
            &Content::Text("x".repeat(MAX_TEXT_LEN + 1))
        )
        .unwrap_err(),
        Error::TooLarge
    );
    let me = entries(&[3]);
    assert!(seal_frame(&key, header(2, 3, 0, 0), &me, &text.content).is_err());
    let unnumbered = FrameHeader { seq: 0, ..h };
    assert!(seal_frame(&key, unnumbered, &me, &text.content).is_err());
    assert!(seal_frame(&key, header(1, 3, 0, 1), &me, &text.content).is_err());
}

#[test]
fn a_roster_is_bounded_ascending_and_names_no_one_twice() {
    let mut r = rng(8);
    let key = EpochKey::generate(&mut r, 1);
    let h = header(1, 2, EVERYONE, 1);
    let hi = || Content::Hello(String::new());
    let all: Vec<MemberId> = (1..=MAX_MEMBERS as MemberId).collect();
    let all = entries(&all);
    let longest = seal_frame(&key, h, &all, &Content::Signal("s".repeat(MAX_SIGNAL_LEN)));
    assert_eq!(longest.unwrap().len(), MAX_FRAME_LEN);
    let alone = seal_frame(&key, h, &[], &hi()).unwrap();
    assert_eq!(open_frame(&key, h, &alone).unwrap(), body(&[], hi()));
    let nine: Vec<MemberId> = (1..=MAX_MEMBERS as MemberId + 1).collect();
    for bad in [&nine[..], &[2, 1], &[2, 2], &[0, 2]] {
        let sealed = seal_frame(&key, h, &entries(bad), &hi());
        assert_eq!(sealed.unwrap_err(), Error::Malformed, "{bad:?}");
    }
    // Sealed by a member that does not follow the rule (the plaintext written by hand):
    // refused when opened.
    let z = [0u8; 8];
    let unordered = [&[2u8, 0, 2][..], &z, &[0, 1], &z, &[1]].concat();
    let member_zero = [&[1u8, 0, 0][..], &z, &[1]].concat();
    let old_width = [1u8, 0, 2, 1];
    let receipt_with_body = [&[1u8, 0, 2][..], &z, &[4, b'x']].concat();
    let unknown_kind = [&[1u8, 0, 2][..], &z, &[5]].concat();
    for plain in [
        &unordered[..],
        &member_zero,
        &old_width,
        &receipt_with_body,
        &unknown_kind,
        &[9, 0, 1],
        &[1, 0],
        &[],
    ] {
        let frame = super::frame::seal_plain(&key, h, plain).unwrap();
        assert_eq!(
            open_frame(&key, h, &frame).unwrap_err(),
            Error::Malformed,
            "{plain:?}"
        );
    }
}

#[test]
fn a_receipt_is_a_roster_with_an_empty_body() {
    let mut r = rng(9);
    let key = EpochKey::generate(&mut r, 1);
    let h = header(1, 2, EVERYONE, 4);
    let roster = [
        RosterEntry {
            member: 1,
            counter: 7,
        },
        RosterEntry {
            member: 2,
            counter: 0,
        },
    ];
    let frame = seal_frame(&key, h, &roster, &Content::Receipt).unwrap();
    assert_eq!(
        frame.len(),
        FRAME_HEADER_LEN + 1 + 2 * ROSTER_ENTRY_LEN + 1 + 16
    );
    let opened = open_frame(&key, h, &frame).unwrap();
    assert_eq!(opened.roster, roster);
    assert_eq!(opened.content, Content::Receipt);
}

#[test]
fn rekeys_open_only_for_their_member() {
    let mut r = rng(7);
    let pair: crate::primitives::Key = crate::primitives::random_key(&mut r);
    let other: crate::primitives::Key = crate::primitives::random_key(&mut r);
    let next = EpochKey::generate(&mut r, 9);
    let rekey = seal_rekey(&mut r, &pair, 3, &next).unwrap();
    let opened = open_rekey(&pair, 3, &rekey).unwrap();
    assert_eq!((opened.epoch, *opened.key), (9, *next.key));
    assert_eq!(open_rekey(&pair, 4, &rekey).unwrap_err(), Error::Decrypt);
    assert_eq!(open_rekey(&other, 3, &rekey).unwrap_err(), Error::Decrypt);
    let mut bumped = rekey.clone();
    bumped[3] ^= 1;
    assert_eq!(open_rekey(&pair, 3, &bumped).unwrap_err(), Error::Decrypt);
}
