//! Content encodings round-trip and refuse every second encoding; the amendment rules
//! hold against a forging peer, a reordering relay and two devices of one account.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use sealpost_core::{Error, UserId};

use super::rules::{self, AMEND_WINDOW_SECS, Refusal, Sender, Stored, Verdict};
use super::*;

fn id(b: u8) -> MsgId {
    MsgId([b; 16])
}

fn user(b: u8) -> UserId {
    UserId::from_bytes([b; 32])
}

fn all() -> Vec<Content> {
    vec![
        Content::Post(Post::plain(Body::Text("hi".into()))),
        Content::Post(Post::plain(Body::File(vec![1, 2, 3]))),
        Content::Bytes(vec![0, 255]),
        Content::Post(Post {
            reply_to: Some(id(1)),
            expires_in: None,
            body: Body::Text("re".into()),
        }),
        Content::Post(Post {
            reply_to: None,
            expires_in: Some(3600),
            body: Body::File(vec![9]),
        }),
        Content::Post(Post {
            reply_to: Some(id(2)),
            expires_in: Some(MIN_EXPIRY_SECS),
            body: Body::Text(String::new()),
        }),
        Content::Edit {
            target: id(3),
            text: "fixed".into(),
        },
        Content::Delete { target: id(4) },
        Content::Reaction {
            target: id(5),
            emoji: "👍🏽".into(),
        },
        Content::Reaction {
            target: id(5),
            emoji: String::new(),
        },
        Content::Read {
            targets: vec![id(6), id(7)],
        },
        Content::Typing { active: true },
        Content::Timer {
            expires_in: Some(MAX_EXPIRY_SECS),
        },
        Content::Timer { expires_in: None },
    ]
}

#[test]
fn every_content_round_trips() {
    for c in all() {
        let (ty, bytes) = c.encode().unwrap();
        assert_eq!(Content::parse(ty, &bytes).unwrap(), c, "type {ty}");
    }
}

#[test]
fn second_encodings_and_bad_fields_are_malformed() {
    let bad: &[(u8, &[u8])] = &[
        (TYPE_TEXT, &[0xff]),
        // A post without flags is a second encoding of types 0 and 2.
        (TYPE_POST, &[0, 0, 0, 0, 0, 0]),
        (TYPE_POST, &[4, 0, 0, 0, 0, 0]),
        // Expiry below the minimum, above the maximum.
        (TYPE_POST, &[2, 0, 0, 0, 4, 0, 0, 0, 0, 0]),
        (TYPE_POST, &[2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]),
        // Body type other than text or file.
        (TYPE_POST, &[2, 0, 0, 0, 60, 1, 0, 0, 0, 0]),
        // Trailing byte.
        (TYPE_POST, &[2, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0]),
        (TYPE_EDIT, &[1; 16]),
        (TYPE_DELETE, &[1; 15]),
        (TYPE_DELETE, &[1; 17]),
        (TYPE_TYPING, &[2]),
        (TYPE_TIMER, &[0, 0, 0, 1]),
        (TYPE_READ, &[0, 0]),
        (TYPE_READ, &[0, 2, 1, 1]),
        (10, &[]),
        (255, &[]),
    ];
    for (ty, bytes) in bad {
        assert_eq!(
            Content::parse(*ty, bytes),
            Err(Error::Malformed),
            "{ty} {bytes:?}"
        );
    }
    // An empty edit text.
    let mut edit = vec![1; 16];
    edit.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(Content::parse(TYPE_EDIT, &edit), Err(Error::Malformed));
    // A reaction that would reorder the text around it, or carries a control character.
    for emoji in ["\u{202E}", "a\u{0007}"] {
        let mut r = vec![1; 16];
        r.push(u8::try_from(emoji.len()).unwrap());
        r.extend_from_slice(emoji.as_bytes());
        assert_eq!(Content::parse(TYPE_REACTION, &r), Err(Error::Malformed));
    }
}

#[test]
fn encoding_refuses_what_the_parser_would() {
    let too_long = Content::Reaction {
        target: id(1),
        emoji: "x".repeat(MAX_REACTION_LEN + 1),
    };
    assert_eq!(too_long.encode(), Err(Error::TooLarge));
    let empty_edit = Content::Edit {
        target: id(1),
        text: String::new(),
    };
    assert_eq!(empty_edit.encode(), Err(Error::Malformed));
    let read_none = Content::Read { targets: vec![] };
    assert_eq!(read_none.encode(), Err(Error::TooLarge));
    let short = Content::Timer {
        expires_in: Some(1),
    };
    assert_eq!(short.encode(), Err(Error::Malformed));
}

const ALICE: u8 = 1;
const BOB: u8 = 2;
const MALLORY: u8 = 3;

/// A text of alice's in her conversation with bob, as stored on any device of either.
fn alices_text(conversation: u8) -> Stored {
    Stored {
        author: user(ALICE),
        conversation: user(conversation),
        sent_at: 1_000,
        is_text: true,
        deleted: false,
    }
}

fn from(author: u8, conversation: u8, sent_at: u64) -> Sender {
    Sender {
        author: user(author),
        conversation: user(conversation),
        sent_at,
    }
}

fn edit() -> Content {
    Content::Edit {
        target: id(1),
        text: "new".into(),
    }
}

#[test]
fn only_the_author_edits_or_deletes() {
    // On bob's device, alice's text is in the conversation "alice".
    let stored = alices_text(ALICE);
    assert_eq!(
        rules::amend(&edit(), &from(ALICE, ALICE, 1_010), Some(&stored)),
        Verdict::Apply
    );
    let delete = Content::Delete { target: id(1) };
    assert_eq!(
        rules::amend(&delete, &from(ALICE, ALICE, 1_010), Some(&stored)),
        Verdict::Apply
    );
    // Bob's own other device (a sync copy: author bob, conversation alice) may not.
    for c in [edit(), delete] {
        assert_eq!(
            rules::amend(&c, &from(BOB, ALICE, 1_010), Some(&stored)),
            Verdict::Refuse(Refusal::NotAuthor)
        );
    }
}

#[test]
fn a_stranger_cannot_reach_into_another_conversation() {
    // Mallory learned the id of alice's message (say, a forwarded screenshot) and sends
    // bob an edit, a deletion and a reaction naming it: they arrive in the conversation
    // "mallory", not "alice".
    let stored = alices_text(ALICE);
    for c in [
        edit(),
        Content::Delete { target: id(1) },
        Content::Reaction {
            target: id(1),
            emoji: "x".into(),
        },
    ] {
        assert_eq!(
            rules::amend(&c, &from(MALLORY, MALLORY, 1_010), Some(&stored)),
            Verdict::Refuse(Refusal::OtherConversation)
        );
    }
    assert!(!rules::read_applies(&from(MALLORY, MALLORY, 0), &stored));
}

#[test]
fn reactions_come_from_either_party_and_stop_at_deletion() {
    let stored = alices_text(ALICE);
    let like = Content::Reaction {
        target: id(1),
        emoji: "❤".into(),
    };
    assert_eq!(
        rules::amend(&like, &from(BOB, ALICE, 5_000_000), Some(&stored)),
        Verdict::Apply
    );
    let deleted = Stored {
        deleted: true,
        ..stored.clone()
    };
    assert_eq!(
        rules::amend(&like, &from(BOB, ALICE, 1_001), Some(&deleted)),
        Verdict::Refuse(Refusal::Deleted)
    );
    assert_eq!(
        rules::amend(&edit(), &from(ALICE, ALICE, 1_001), Some(&deleted)),
        Verdict::Refuse(Refusal::Deleted)
    );
}

#[test]
fn edits_are_for_text_within_the_window() {
    let file = Stored {
        is_text: false,
        ..alices_text(ALICE)
    };
    assert_eq!(
        rules::amend(&edit(), &from(ALICE, ALICE, 1_001), Some(&file)),
        Verdict::Refuse(Refusal::NotText)
    );
    let late = from(ALICE, ALICE, 1_000 + AMEND_WINDOW_SECS + 1);
    assert_eq!(
        rules::amend(&edit(), &late, Some(&alices_text(ALICE))),
        Verdict::Refuse(Refusal::TooLate)
    );
    let in_time = from(ALICE, ALICE, 1_000 + AMEND_WINDOW_SECS);
    assert_eq!(
        rules::amend(&edit(), &in_time, Some(&alices_text(ALICE))),
        Verdict::Apply
    );
    // Deletion of a file is fine.
    assert_eq!(
        rules::amend(
            &Content::Delete { target: id(1) },
            &from(ALICE, ALICE, 1_001),
            Some(&file)
        ),
        Verdict::Apply
    );
}

#[test]
fn an_amendment_before_its_target_is_held_not_lost() {
    // The relay delivers the edit first: hold it, then decide when the text arrives.
    assert_eq!(
        rules::amend(&edit(), &from(ALICE, ALICE, 1_010), None),
        Verdict::Hold
    );
    assert_eq!(
        rules::amend(
            &edit(),
            &from(ALICE, ALICE, 1_010),
            Some(&alices_text(ALICE))
        ),
        Verdict::Apply
    );
    let post = Content::Post(Post::plain(Body::Text("x".into())));
    assert_eq!(
        rules::amend(&post, &from(ALICE, ALICE, 1), None),
        Verdict::Refuse(Refusal::NotAnAmendment)
    );
}

#[test]
fn two_devices_editing_at_once_converge_in_any_order() {
    // Alice's phone and laptop edit the same text in the same second; bob's devices get
    // the edits in opposite orders and end with the same text.
    let phone = (1_010, id(0x20));
    let laptop = (1_010, id(0x10));
    let apply = |order: [(u64, MsgId); 2]| {
        let mut applied = (1_000, id(1));
        for e in order {
            if rules::newer(e, applied) {
                applied = e;
            }
        }
        applied
    };
    assert_eq!(apply([phone, laptop]), apply([laptop, phone]));
    // A replayed edit changes nothing.
    assert!(!rules::newer(phone, phone));
}

#[test]
fn read_receipts_mark_only_the_other_partys_messages() {
    let alices = alices_text(BOB); // on alice's device, in the conversation "bob"
    // Bob read it: applies. Alice's own other device says "I read": not her own message.
    assert!(rules::read_applies(&from(BOB, BOB, 0), &alices));
    assert!(!rules::read_applies(&from(ALICE, BOB, 0), &alices));
}

#[test]
fn disappearing_time_cannot_be_stretched_by_a_clock_ahead() {
    assert_eq!(rules::expires_at(1_000, 1_005, 60), 1_060);
    // The sender's clock is an hour ahead: counted from this device's receipt.
    assert_eq!(rules::expires_at(4_600, 1_005, 60), 1_065);
    assert_eq!(
        rules::expires_at(u64::MAX, u64::MAX, MAX_EXPIRY_SECS),
        u64::MAX
    );
}

#[test]
fn stale_typing_is_ignored() {
    assert!(rules::typing_fresh(100, 110));
    assert!(!rules::typing_fresh(100, 116));
    assert!(rules::typing_fresh(200, 100));
}

#[test]
fn every_truncation_and_bit_flip_parses_canonically_or_fails() {
    // What parses must re-encode to the same bytes (one encoding per value); nothing
    // panics. Deterministic stand-in for a fuzzer over every type's encodings.
    for c in all() {
        let (ty, bytes) = c.encode().unwrap();
        let mut cases: Vec<(u8, Vec<u8>)> = (0..bytes.len())
            .map(|n| (ty, bytes[..n].to_vec()))
            .collect();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                cases.push((ty, b));
            }
        }
        for other in 0..=u8::MAX {
            cases.push((other, bytes.clone()));
        }
        for (ty, b) in cases {
            if let Ok(parsed) = Content::parse(ty, &b) {
                assert_eq!(parsed.encode().unwrap(), (ty, b), "not canonical");
            }
        }
    }
}
