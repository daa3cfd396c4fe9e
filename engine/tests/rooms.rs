//! Rooms (PROTOCOL.md 30) through a relay simulated here: three members talk, a
//! wrong code is refused, and the attacker (the relay, an eavesdropper, a member who
//! left) replays, forges, re-addresses and re-attributes frames and rekeys.
#![cfg(feature = "rooms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod room_net;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use room_net::*;
use sealpost_engine::room::{
    Content, EVERYONE, HOST, MAX_PENDING_JOINS, MAX_PREVIOUS_EPOCH_FRAMES, MemberId, Output,
    Refusal, Room, RoomCode, RoomEvent, RoomIn, RoomOut,
};

#[test]
fn three_members_join_with_the_code_and_talk() {
    let mut net = Net::new(1);
    let code = net.code.clone();
    let b = net.join(&code);
    let c = net.join(&code);
    assert_eq!((b, c), (2, 3));
    // Each member announces itself (a hello, empty here) to whoever it has not shown
    // itself to: a guest shows only members whose own frames opened.
    for m in [HOST, b, c] {
        assert_eq!(net.rooms[&m].members(), vec![1, 2, 3], "member {m}");
        assert_eq!(net.rooms[&m].epoch(), Some(2), "a new key per join");
    }
    assert!(matches!(
        net.events[&b].first(),
        Some(RoomEvent::Admitted { me: 2, .. })
    ));
    net.say(HOST, EVERYONE, "welcome");
    net.say(b, EVERYONE, "hi from b");
    net.say(c, b, "psst, b");
    assert_eq!(
        net.texts(b),
        vec![(1, "welcome".into()), (3, "psst, b".into())]
    );
    assert_eq!(
        net.texts(c),
        vec![(1, "welcome".into()), (2, "hi from b".into())]
    );
    assert_eq!(net.texts(HOST), vec![(2, "hi from b".into())]);
    for m in [HOST, b, c] {
        assert!(
            net.refusals(m).is_empty(),
            "member {m}: {:?}",
            net.refusals(m)
        );
    }
    // Voice signalling and names travel the same way.
    let out = net
        .rooms
        .get_mut(&b)
        .unwrap()
        .send(c, &Content::Signal("{\"sdp\":\"...\"}".into()))
        .unwrap();
    net.relay(b, out);
    assert!(
        net.events[&c]
            .iter()
            .any(|e| matches!(e, RoomEvent::Signal { from: 2, data } if data.contains("sdp")))
    );
}

#[test]
fn a_wrong_code_is_refused_and_counted() {
    let mut net = Net::new(2);
    let wrong = RoomCode::parse("4821-00000000").unwrap();
    let x = net.join(&wrong);
    assert_eq!(
        net.refused_joins, 1,
        "the host refused: the relay counts it"
    );
    assert!(!net.rooms.contains_key(&x));
    assert!(net.events[&HOST].contains(&RoomEvent::JoinRefused { member: x }));
    assert_eq!(net.rooms[&HOST].members(), vec![HOST]);
    assert_eq!(
        net.rooms[&HOST].epoch(),
        Some(0),
        "no key moved for a refused join"
    );
    // The right code still works afterwards.
    let code = net.code.clone();
    let b = net.join(&code);
    assert_eq!(net.rooms[&b].members(), vec![1, b]);
}

#[test]
fn a_host_with_another_code_admits_nobody() {
    // A fake host (the relay itself, say) that does not know the code.
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (mut fake, _) = Room::create(&mut rng, 4821).unwrap();
    let real = RoomCode::generate(&mut rng, 4821).unwrap();
    let (mut joiner, RoomOut::Pake { data: msg_a, .. }) = Room::join(&mut rng, &real).unwrap()
    else {
        panic!()
    };
    let out = fake.handle(
        &mut rng,
        RoomIn::Pake {
            from: 2,
            data: &msg_a,
        },
    );
    let [Output::Send(RoomOut::Pake { data: msg_b, .. })] = &out[..] else {
        panic!("{out:?}")
    };
    let out = joiner.handle(
        &mut rng,
        RoomIn::Pake {
            from: HOST,
            data: msg_b,
        },
    );
    let [Output::Send(RoomOut::Pake { data: confirm, .. })] = &out[..] else {
        panic!("{out:?}")
    };
    let out = fake.handle(
        &mut rng,
        RoomIn::Pake {
            from: 2,
            data: confirm,
        },
    );
    assert!(out.contains(&Output::Send(RoomOut::Refuse { to: 2 })));
    assert_eq!(joiner.me(), None);
}

#[test]
fn the_host_answers_a_bounded_number_of_joins_at_once() {
    let mut net = Net::new(4);
    let code = net.code.clone();
    let mut rng = ChaCha20Rng::seed_from_u64(44);
    let host = net.rooms.get_mut(&HOST).unwrap();
    let mut answered = 0;
    for id in 10..10 + MAX_PENDING_JOINS as MemberId + 3 {
        let (_, RoomOut::Pake { data, .. }) = Room::join(&mut rng, &code).unwrap() else {
            panic!()
        };
        let out = host.handle(
            &mut rng,
            RoomIn::Pake {
                from: id,
                data: &data,
            },
        );
        if matches!(out.first(), Some(Output::Send(RoomOut::Pake { .. }))) {
            answered += 1;
        } else {
            assert!(out.contains(&Output::Send(RoomOut::Refuse { to: id })));
        }
    }
    assert_eq!(answered, MAX_PENDING_JOINS);
    // A joiner that walks away frees its place.
    host.handle(&mut rng, RoomIn::Left { member: 10 });
    let (_, RoomOut::Pake { data, .. }) = Room::join(&mut rng, &code).unwrap() else {
        panic!()
    };
    let out = host.handle(
        &mut rng,
        RoomIn::Pake {
            from: 30,
            data: &data,
        },
    );
    assert!(matches!(
        out.first(),
        Some(Output::Send(RoomOut::Pake { .. }))
    ));
}

#[test]
fn replayed_forged_readdressed_and_misattributed_frames_are_refused() {
    let mut net = Net::new(5);
    let code = net.code.clone();
    let b = net.join(&code);
    let c = net.join(&code);
    net.say(b, c, "for c only");
    let (from, frame) = net.last_frame_to(c);
    assert_eq!(from, b);

    // Replayed to c.
    let out = net.feed(c, Wire::Frame(b, frame.clone()));
    assert_eq!(refused(&out), Some(Refusal::Replayed));
    // Re-addressed: the relay hands b's frame for c to the host.
    let out = net.feed(HOST, Wire::Frame(b, frame.clone()));
    assert_eq!(refused(&out), Some(Refusal::Misaddressed));
    // Re-attributed: stamped as the host's.
    let out = net.feed(c, Wire::Frame(HOST, frame.clone()));
    assert_eq!(refused(&out), Some(Refusal::Forged));
    // From someone who is not in the room.
    let out = net.feed(c, Wire::Frame(9, frame.clone()));
    assert_eq!(refused(&out), Some(Refusal::UnknownSender));
    // Altered anywhere.
    for i in [0, 3, 8, 12, 20, frame.len() - 1] {
        let mut bad = frame.clone();
        bad[i] ^= 0x10;
        let out = net.feed(c, Wire::Frame(b, bad));
        assert!(refused(&out).is_some(), "byte {i}");
    }
    // Junk of every length.
    for len in [0, 1, 17, 33] {
        let out = net.feed(c, Wire::Frame(b, vec![1; len]));
        assert_eq!(refused(&out), Some(Refusal::Malformed), "len {len}");
    }
    // A rekey from a non-host, and a rekey stamped as the host's but made by b.
    let out = net.feed(c, Wire::Rekey(b, vec![0; 64]));
    assert_eq!(refused(&out), Some(Refusal::Unexpected));
    let out = net.feed(c, Wire::Rekey(HOST, vec![0; 64]));
    assert_eq!(refused(&out), Some(Refusal::Forged));
    // After all that, c still takes b's next frame.
    net.say(b, EVERYONE, "still here");
    assert_eq!(net.texts(c).last().unwrap(), &(b, "still here".into()));
    // Frames reordered by the relay: the older one fills its gap (tests/room_gaps.rs),
    // and is refused when it comes again, not shown twice.
    let first = net
        .rooms
        .get_mut(&b)
        .unwrap()
        .send(c, &Content::Text("1".into()))
        .unwrap();
    let second = net
        .rooms
        .get_mut(&b)
        .unwrap()
        .send(c, &Content::Text("2".into()))
        .unwrap();
    let (RoomOut::Frame { data: f1, .. }, RoomOut::Frame { data: f2, .. }) = (first, second) else {
        panic!()
    };
    net.feed(c, Wire::Frame(b, f2));
    let out = net.feed(c, Wire::Frame(b, f1.clone()));
    assert_eq!(refused(&out), None);
    let out = net.feed(c, Wire::Frame(b, f1));
    assert_eq!(refused(&out), Some(Refusal::Replayed));
}

#[test]
fn a_member_who_left_cannot_read_what_follows() {
    let mut net = Net::new(6);
    let code = net.code.clone();
    let b = net.join(&code);
    let c = net.join(&code);
    let epoch_before = net.rooms[&HOST].epoch().unwrap();
    // c leaves, but keeps its keys and a relay that still copies it everything.
    let mut gone = net.leave(c);
    for m in [HOST, b] {
        assert_eq!(net.rooms[&m].members(), vec![1, 2]);
        assert_eq!(net.rooms[&m].epoch(), Some(epoch_before + 1));
    }
    net.say(b, EVERYONE, "c is gone");
    assert_eq!(net.texts(HOST).last().unwrap(), &(b, "c is gone".into()));
    let (_, frame) = net.last_frame_to(HOST);
    let out = gone.handle(
        &mut net.rng,
        RoomIn::Frame {
            from: b,
            data: &frame,
        },
    );
    assert_eq!(refused(&out), Some(Refusal::StaleEpoch));
    // Nor can it push a key of its own on b.
    let rekeys: Vec<Vec<u8>> = net
        .log
        .iter()
        .filter_map(|(_, w)| match w {
            Wire::Rekey(_, d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    for r in rekeys {
        let out = net.feed(b, Wire::Rekey(HOST, r));
        assert!(refused(&out).is_some());
    }
    // Sending its own frames under the old key: refused as stale by those who moved on.
    let out = gone
        .send(EVERYONE, &Content::Text("still me".into()))
        .unwrap();
    let RoomOut::Frame { data, .. } = out else {
        panic!()
    };
    let out = net.feed(b, Wire::Frame(c, data));
    assert_eq!(refused(&out), Some(Refusal::UnknownSender));
}

#[test]
fn frames_in_flight_across_a_rekey_are_not_lost() {
    let mut net = Net::new(7);
    let code = net.code.clone();
    let b = net.join(&code);
    // b seals under epoch 1, then the host rotates (c joins) before it arrives.
    let seal = |net: &mut Net, text: &str| {
        let out = net
            .rooms
            .get_mut(&b)
            .unwrap()
            .send(EVERYONE, &Content::Text(text.into()));
        let Ok(RoomOut::Frame { data, .. }) = out else {
            panic!()
        };
        data
    };
    let data = seal(&mut net, "in flight");
    let late = seal(&mut net, "very late");
    let c = net.join(&code);
    let out = net.feed(HOST, Wire::Frame(b, data.clone()));
    assert!(out.contains(&Output::Event(RoomEvent::Text {
        from: b,
        private: false,
        text: "in flight".into()
    })));
    // c joined after it was sealed: it cannot read it (no key from before its join).
    let out = net.feed(c, Wire::Frame(b, data));
    assert_eq!(refused(&out), Some(Refusal::StaleEpoch));
    // Once b speaks under the new key, its old key is refused from it.
    net.say(b, EVERYONE, "new key");
    assert_eq!(net.texts(HOST).last().unwrap(), &(b, "new key".into()));
    let out = net.feed(HOST, Wire::Frame(b, late));
    assert_eq!(refused(&out), Some(Refusal::StaleEpoch));
}

#[test]
fn when_the_host_leaves_the_room_is_over() {
    let mut net = Net::new(8);
    let code = net.code.clone();
    let b = net.join(&code);
    net.leave(HOST);
    assert!(net.rooms[&b].is_over());
    assert!(net.events[&b].contains(&RoomEvent::MemberLeft { member: HOST }));
    assert!(
        net.rooms
            .get_mut(&b)
            .unwrap()
            .send(EVERYONE, &Content::Text("x".into()))
            .is_err()
    );
}

#[test]
fn a_member_the_relay_invents_is_never_shown() {
    let mut net = Net::new(9);
    let code = net.code.clone();
    let b = net.join(&code);
    // The relay says member 9 joined, and hands a newcomer a list with 9 in it.
    assert!(
        net.feed(b, Wire::Joined(9)).is_empty(),
        "no event for the relay's word"
    );
    net.invented = vec![9];
    let c = net.join(&code);
    // Real members are shown once their own frames (their announcements) open, each
    // right before its hello; 9 never is.
    for m in [HOST, b, c] {
        assert_eq!(net.rooms[&m].members(), vec![1, 2, 3], "member {m}");
    }
    let shown_before_hello = |who: MemberId, other: MemberId| {
        let e = &net.events[&who];
        let joined = e
            .iter()
            .position(|e| *e == RoomEvent::MemberJoined { member: other });
        let hello = e
            .iter()
            .position(|e| matches!(e, RoomEvent::Hello { from, .. } if *from == other));
        joined.is_some() && joined.map(|j| j + 1) == hello
    };
    assert!(shown_before_hello(b, c) && shown_before_hello(c, b));
    // 9 "speaks": the relay cannot seal under the room key, so nothing of it opens.
    net.say(HOST, EVERYONE, "for the members");
    let (_, frame) = net.last_frame_to(b);
    for (who, data) in [(b, frame.clone()), (c, frame), (b, vec![1; 60])] {
        let out = net.feed(who, Wire::Frame(9, data));
        assert!(refused(&out).is_some());
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::Event(RoomEvent::MemberJoined { .. })))
        );
    }
    for m in [b, c] {
        assert_eq!(net.rooms[&m].members(), vec![1, 2, 3], "member {m}");
        // Nor can a guest be made to send to it.
        let sent = net
            .rooms
            .get_mut(&m)
            .unwrap()
            .send(9, &Content::Text("x".into()));
        assert!(sent.is_err());
    }
    // The relay says 9 left: nothing to tell, as nothing was shown.
    let out = net.feed(b, Wire::Left(9));
    assert!(out.is_empty());
}

#[test]
fn frames_under_the_previous_key_are_bounded() {
    let mut net = Net::new(10);
    let code = net.code.clone();
    let b = net.join(&code);
    // b seals more than the bound under epoch 1; the host rotates (c joins) before any
    // arrives. A sender that never moves on (or a member who left, forging as b with
    // the relay's help) gets only MAX_PREVIOUS_EPOCH_FRAMES frames under the old key.
    let bound = usize::from(MAX_PREVIOUS_EPOCH_FRAMES);
    let frames: Vec<Vec<u8>> = (0..bound + 2)
        .map(|i| {
            let out = net
                .rooms
                .get_mut(&b)
                .unwrap()
                .send(EVERYONE, &Content::Text(format!("old {i}")));
            let Ok(RoomOut::Frame { data, .. }) = out else {
                panic!()
            };
            data
        })
        .collect();
    net.join(&code);
    let mut accepted = 0;
    for (i, f) in frames.into_iter().enumerate() {
        let out = net.feed(HOST, Wire::Frame(b, f));
        match refused(&out) {
            None => accepted += 1,
            Some(r) => assert_eq!((i, r), (i, Refusal::StaleEpoch)),
        }
    }
    assert_eq!(accepted, bound);
}

#[test]
fn a_member_the_relay_hides_from_one_member_is_reported_through_the_others() {
    let mut net = Net::new(12);
    let code = net.code.clone();
    let (a, b) = (net.join(&code), net.join(&code));
    net.say(HOST, EVERYONE, "welcome");
    net.say(b, EVERYONE, "hi");
    // An honest relay: nobody is reported once the joins' round trips are over (what a
    // newcomer is told in between, the package holds back for 3 s).
    assert_quiet(&net, &[HOST, a, b]);
    net.events.clear();
    // The relay drops every frame of the next member, c, to a (and only to a).
    net.dropped.push((4, a));
    let c = net.join(&code);
    assert_eq!(c, 4);
    assert_eq!(net.rooms[&a].members(), vec![1, 2, 3]);
    assert_eq!(net.rooms[&b].members(), vec![1, 2, 3, 4]);
    // b's next frame lists c: a learns that c is in the room and does not reach it.
    net.say(b, EVERYONE, "c is here");
    assert_eq!(unreached_events(&net, a), vec![(c, b)]);
    assert_eq!(net.rooms[&a].unreached(), vec![(c, b)]);
    // Said once while it lasts; the host's frames list c too.
    net.say(HOST, EVERYONE, "still here");
    assert_eq!(unreached_events(&net, a), vec![(c, b)]);
    assert_eq!(net.rooms[&a].unreached(), vec![(c, HOST)]);
    // c's own frames are what the relay drops: nothing of it reaches a.
    net.say(c, EVERYONE, "can anyone hear me");
    assert!(!net.texts(a).iter().any(|(from, _)| *from == c));
    // Nor does c hear from a, which announces itself only to members it sees: c is told
    // of a the same way. The host and b miss no one.
    assert_eq!(net.rooms[&c].members(), vec![1, 3, 4]);
    assert_eq!(net.rooms[&c].unreached(), vec![(a, HOST)]);
    for m in [HOST, b] {
        assert!(net.rooms[&m].unreached().is_empty(), "member {m}");
    }
    // The relay lets c through again: c is shown and no longer reported, and the other
    // way round once a speaks.
    net.dropped.clear();
    net.say(c, EVERYONE, "now?");
    assert_eq!(net.rooms[&a].members(), vec![1, 2, 3, 4]);
    assert!(net.rooms[&a].unreached().is_empty());
    assert!(net.rooms[&c].unreached().is_empty());
}

#[test]
fn a_member_the_relay_says_left_is_reported_again_by_the_next_frame_of_anyone_who_sees_it() {
    let mut net = Net::new(13);
    let code = net.code.clone();
    let (a, b, c) = (net.join(&code), net.join(&code), net.join(&code));
    assert_eq!(net.rooms[&a].members(), vec![1, 2, 3, 4]);
    assert_quiet(&net, &[HOST, a, b, c]);
    net.events.clear();
    // The relay tells a alone that c left (and drops c's frames to a from now on).
    let out = net.feed(a, Wire::Left(c));
    assert!(out.contains(&Output::Event(RoomEvent::MemberLeft { member: c })));
    net.dropped.push((c, a));
    assert_eq!(net.rooms[&a].members(), vec![1, 2, 3]);
    net.say(b, EVERYONE, "c is still here");
    assert_eq!(unreached_events(&net, a), vec![(c, b)]);
    // A member who truly leaves is not reported: every roster drops it, and the host's
    // rotation empties them until their senders speak again under the new key.
    net.dropped.clear();
    net.leave(c);
    net.say(b, EVERYONE, "c left");
    net.say(HOST, EVERYONE, "bye c");
    // Nor is anyone told it is unheard after the rotation, a who stayed silent included.
    assert_quiet(&net, &[HOST, a, b]);
    assert_eq!(unreached_events(&net, a), vec![(c, b)]);
    assert!(unreached_events(&net, b).is_empty() && unreached_events(&net, HOST).is_empty());
}

/// The `by` of every `Unheard` event `who` was told.
fn unheard_events(net: &Net, who: MemberId) -> Vec<MemberId> {
    net.events
        .get(&who)
        .into_iter()
        .flatten()
        .filter_map(|e| match e {
            RoomEvent::Unheard { by } => Some(*by),
            _ => None,
        })
        .collect()
}

#[test]
fn a_member_the_relay_cuts_off_from_everyone_is_told_its_frames_go_nowhere() {
    let mut net = Net::new(14);
    let code = net.code.clone();
    let (a, b) = (net.join(&code), net.join(&code));
    net.events.clear();
    // The relay drops every frame of the next member, c, to everyone: the others have
    // nothing to notice, c never reached them.
    let c = 4;
    for m in [HOST, a, b] {
        net.dropped.push((c, m));
    }
    assert_eq!(net.join(&code), c);
    net.say(a, EVERYONE, "anyone new?");
    net.say(b, EVERYONE, "not that I see");
    net.say(HOST, EVERYONE, "nobody");
    net.say(c, EVERYONE, "hello? can anyone hear me");
    for m in [HOST, a, b] {
        assert!(
            !net.texts(m).iter().any(|(from, _)| *from == c),
            "member {m}"
        );
        assert!(net.rooms[&m].unreached().is_empty(), "member {m}");
    }
    // But c shows them all, and every one of their frames leaves c out: c is told, once
    // for each, that what it sends does not reach them.
    assert_eq!(net.rooms[&c].members(), vec![1, 2, 3, 4]);
    assert_eq!(net.rooms[&c].unheard(), vec![HOST, a, b]);
    let mut told = unheard_events(&net, c);
    told.sort_unstable();
    assert_eq!(told, vec![HOST, a, b]);
    net.say(a, EVERYONE, "still nobody");
    assert_eq!(unheard_events(&net, c).len(), 3, "said once while it lasts");
    // The relay lets c through: each answers c's next frame with one that lists it.
    net.dropped.clear();
    net.say(c, EVERYONE, "now?");
    assert!(net.texts(a).contains(&(c, "now?".into())));
    assert_quiet(&net, &[HOST, a, b, c]);
}
