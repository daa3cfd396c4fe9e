//! Interop vectors for rooms (PROTOCOL.md 30) in `tests/vectors/v2/room.json`: a code
//! and its SPAKE2 password, a join (SPAKE2 messages, the joiner's confirmation, the
//! host's grant), frames of every content kind, a rekey, and `fail_` frames and rekeys
//! that must be refused. Regenerated deterministically (seeded ChaCha20) and compared
//! byte for byte, then the frames and rekeys are checked from what the file holds
//! (what a WebCrypto implementation can check: AES-256-GCM under the given keys).
//! Regenerate with `SEALPOST_REGENERATE_VECTORS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::Error;
use sealpost_core::v2::room::{
    Content, EVERYONE, EpochKey, FrameBody, FrameHeader, HostPake, JoinerPake, MemberId, RoomCode,
    RosterEntry, open_frame, open_rekey, seal_frame, seal_rekey,
};
use serde_json::{Value, json};
use support::*;

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unh(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn content_json(c: &Content) -> Value {
    match c {
        Content::Hello(s) => json!({"kind": 1, "text": s}),
        Content::Text(s) => json!({"kind": 2, "text": s}),
        Content::Signal(s) => json!({"kind": 3, "text": s}),
        Content::Receipt => json!({"kind": 4}),
    }
}

fn roster_json(roster: &[RosterEntry]) -> Value {
    roster
        .iter()
        .map(|e| json!({"member": e.member, "counter": e.counter}))
        .collect()
}

/// A roster of `(member, counter)` pairs.
fn roster(pairs: &[(MemberId, u64)]) -> Vec<RosterEntry> {
    pairs
        .iter()
        .map(|&(member, counter)| RosterEntry { member, counter })
        .collect()
}

fn generate() -> Value {
    let mut r = rng(2800);
    let code = RoomCode::generate(&mut r, 4821).unwrap();
    let (joiner, msg_a) = JoinerPake::start(&mut r, &code).unwrap();
    let (host, msg_b) = HostPake::respond(&mut r, &code, &msg_a).unwrap();
    let (confirmed, confirm) = joiner.finish(&msg_b).unwrap();
    host.check(&confirm).unwrap();
    let room_key = EpochKey::generate(&mut r, 1);
    let grant = host.grant(&mut r, 2, &room_key).unwrap();
    let granted = confirmed.open_grant(&grant, 2).unwrap();
    assert_eq!(*granted.key.key, *room_key.key);

    let frame = |sender, to, counter, seq, roster: &[RosterEntry], content: Content| {
        let header = FrameHeader {
            epoch: room_key.epoch,
            sender,
            to,
            counter,
            seq,
        };
        let body = FrameBody {
            roster: roster.to_vec(),
            content,
        };
        let f = seal_frame(&room_key, header, &body.roster, &body.content).unwrap();
        json!({"epoch": header.epoch, "sender": sender, "to": to, "counter": counter, "seq": seq,
               "roster": roster_json(&body.roster), "content": content_json(&body.content), "frame": h(&f)})
    };
    let frames = vec![
        frame(
            2,
            EVERYONE,
            1,
            1,
            &roster(&[(1, 6), (2, 0)]),
            Content::Hello("Bob".into()),
        ),
        frame(
            2,
            EVERYONE,
            2,
            2,
            &roster(&[(1, 6), (2, 0), (3, 1)]),
            Content::Text("hello room, ✓".into()),
        ),
        frame(
            1,
            2,
            7,
            1,
            &roster(&[(1, 0), (2, 2), (3, 1)]),
            Content::Text("for you only".into()),
        ),
        frame(
            2,
            1,
            3,
            4_000_000_000,
            &roster(&[
                (1, 7),
                (2, 0),
                (3, 1),
                (4, 1),
                (5, 2),
                (6, 300),
                (7, 1 << 40),
                (8, (1 << 53) - 1),
            ]),
            Content::Signal(r#"{"type":"offer","sdp":"v=0..."}"#.into()),
        ),
        frame(
            3,
            EVERYONE,
            4,
            3,
            &roster(&[(1, 7), (2, 3), (3, 0)]),
            Content::Receipt,
        ),
    ];
    let good = unh(&frames[1]["frame"]);
    let flip = |i: usize| {
        let mut b = good.clone();
        b[i] ^= 1;
        h(&b)
    };
    // A frame of format 3 (no stream number): its version byte.
    let mut version_3 = good.clone();
    version_3[0] = 3;
    // Sealed under the room key by a member that breaks the roster rule (3 before 2).
    let unordered = seal_unordered_roster(&room_key);
    let other_key = EpochKey::generate(&mut r, 1);
    let foreign = seal_frame(
        &other_key,
        FrameHeader {
            epoch: 1,
            sender: 2,
            to: EVERYONE,
            counter: 2,
            seq: 2,
        },
        &roster(&[(1, 6), (2, 0), (3, 1)]),
        &Content::Text("hello room, ✓".into()),
    )
    .unwrap();
    let fail_frames = vec![
        json!({"name": "fail_header_epoch", "frame": flip(4), "error": "DECRYPT_FAILED"}),
        json!({"name": "fail_header_to", "frame": flip(8), "error": "DECRYPT_FAILED"}),
        json!({"name": "fail_header_counter", "frame": flip(16), "error": "DECRYPT_FAILED"}),
        json!({"name": "fail_header_seq", "frame": flip(20), "error": "DECRYPT_FAILED"}),
        json!({"name": "fail_body", "frame": flip(24), "error": "DECRYPT_FAILED"}),
        json!({"name": "fail_roster_unordered", "frame": h(&unordered), "error": "MALFORMED"}),
        json!({"name": "fail_tag", "frame": flip(good.len() - 1), "error": "DECRYPT_FAILED"}),
        json!({"name": "fail_version_3", "frame": h(&version_3), "error": "MALFORMED"}),
        json!({"name": "fail_other_key", "frame": h(&foreign), "error": "DECRYPT_FAILED"}),
    ];
    let next = EpochKey::generate(&mut r, 2);
    let rekey = seal_rekey(&mut r, &granted.pair_key, 2, &next).unwrap();
    let mut bumped = rekey.clone();
    bumped[3] ^= 1;
    json!({
        "note": "PROTOCOL.md 30. SPAKE2 (python-spake2 / magic-wormhole compatible, Ed25519 group, side A = joiner, side B = host) messages come from seeded randomness; the frames and rekeys can be checked with AES-256-GCM alone.",
        "code": {
            "text": code.to_text().as_str(),
            "nameplate": code.nameplate(),
            "password": h(format!("sealpost/v2/room-code\0{}", code.to_text().as_str()).as_bytes()),
            "id_a": "sealpost/v2/room-joiner",
            "id_b": "sealpost/v2/room-host",
        },
        "join": {
            "msg_a": h(&msg_a),
            "msg_b": h(&msg_b),
            "confirm_joiner": h(&confirm),
            "member": 2,
            "grant": h(&grant),
            "epoch": room_key.epoch,
            "room_key": h(room_key.key.as_ref()),
            "pair_key": h(granted.pair_key.as_ref()),
        },
        "frames": frames,
        "fail_frames": fail_frames,
        "rekey": {"member": 2, "epoch": next.epoch, "key": h(next.key.as_ref()), "rekey": h(&rekey)},
        "fail_rekeys": [
            {"name": "fail_other_member", "member": 3, "rekey": h(&rekey), "error": "DECRYPT_FAILED"},
            {"name": "fail_epoch_changed", "member": 2, "rekey": h(&bumped), "error": "DECRYPT_FAILED"},
        ],
    })
}

#[test]
fn room_vectors() {
    check_or_write("room.json", generate());
    let v = read_json("v2/room.json");
    let code = RoomCode::parse(v["code"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        u64::from(code.nameplate()),
        v["code"]["nameplate"].as_u64().unwrap()
    );
    let key: [u8; 32] = unh(&v["join"]["room_key"]).try_into().unwrap();
    let room_key = EpochKey::new(v["join"]["epoch"].as_u64().unwrap() as u32, key);
    for f in v["frames"].as_array().unwrap() {
        let bytes = unh(&f["frame"]);
        let header = FrameHeader::parse(&bytes).unwrap();
        assert_eq!(u64::from(header.sender), f["sender"].as_u64().unwrap());
        assert_eq!(u64::from(header.to), f["to"].as_u64().unwrap());
        assert_eq!(header.counter, f["counter"].as_u64().unwrap());
        assert_eq!(u64::from(header.seq), f["seq"].as_u64().unwrap());
        let body = open_frame(&room_key, header, &bytes).unwrap();
        assert_eq!(content_json(&body.content), f["content"]);
        assert_eq!(roster_json(&body.roster), f["roster"]);
    }
    for f in v["fail_frames"].as_array().unwrap() {
        let bytes = unh(&f["frame"]);
        let err = FrameHeader::parse(&bytes)
            .and_then(|h| open_frame(&room_key, h, &bytes))
            .unwrap_err();
        assert_eq!(err.code(), f["error"].as_str().unwrap(), "{}", f["name"]);
    }
    let pair: [u8; 32] = unh(&v["join"]["pair_key"]).try_into().unwrap();
    let pair = zeroize::Zeroizing::new(pair);
    let rk = &v["rekey"];
    let opened = open_rekey(
        &pair,
        rk["member"].as_u64().unwrap() as u16,
        &unh(&rk["rekey"]),
    )
    .unwrap();
    assert_eq!(h(opened.key.as_ref()), rk["key"].as_str().unwrap());
    assert_eq!(u64::from(opened.epoch), rk["epoch"].as_u64().unwrap());
    for f in v["fail_rekeys"].as_array().unwrap() {
        let err = open_rekey(
            &pair,
            f["member"].as_u64().unwrap() as u16,
            &unh(&f["rekey"]),
        )
        .unwrap_err();
        assert_eq!(err, Error::Decrypt, "{}", f["name"]);
    }
}

/// A frame from member 2 (counter 9, stream number 3) that opens under `key` but whose roster is not
/// ascending, sealed with AES-256-GCM by hand as a member that breaks the rule would.
fn seal_unordered_roster(key: &EpochKey) -> Vec<u8> {
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
    let mut header = vec![sealpost_core::v2::room::FRAME_VERSION];
    header.extend_from_slice(&key.epoch.to_be_bytes());
    header.extend_from_slice(&[0, 2, 0, 0]);
    header.extend_from_slice(&9u64.to_be_bytes());
    header.extend_from_slice(&3u32.to_be_bytes());
    let nonce: [u8; 12] = [&[0, 0][..], &header[5..7], &header[9..17]]
        .concat()
        .try_into()
        .unwrap();
    let aad = [&b"sealpost/v2/room-frame"[..], &header].concat();
    let plain = [&[2u8, 0, 3][..], &[0; 8], &[0, 2], &[0; 8], &[2, b'x']].concat();
    let k: [u8; 32] = *key.key;
    let sealed = Aes256Gcm::new(&k.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .unwrap();
    [header, sealed].concat()
}
