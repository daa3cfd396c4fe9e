//! The attacker against a room's guess budget and its TURN credentials (docs/API.md
//! "Rooms"): a stranger who knows the nameplate and fails again and again locks out only
//! its own address, never the room's members; guesses from many addresses slow the room
//! down (`room_busy`) without locking it; and TURN credentials go to admitted members of
//! a room with someone in it, short-lived and coturn's, never to a joiner that has not
//! proved the code.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::room::*;
use common::*;
use hmac::{Hmac, Mac};
use sealpost_engine::room::RoomCode;
use serde_json::{Value, json};

const PROXY: [&str; 2] = ["--trusted-proxies", "127.0.0.1"];
const STRANGER: &str = "203.0.113.7";

fn wrong(code: &RoomCode) -> RoomCode {
    RoomCode::parse(&format!("{}-00000000", code.nameplate())).unwrap()
}

/// A join with a wrong code from `addr`, run to its refusal.
async fn fail_from(server: &Server, host: &mut Member, code: &RoomCode, addr: &str) {
    let mut guesser = Member::join_from(server, &wrong(code), Some(addr)).await;
    assert_eq!(guesser.closed_with, None, "the attempt may start");
    admit(host, &mut guesser).await;
    assert_eq!(guesser.closed_with.as_deref(), Some("wrong_code"));
    host.step().await; // "left": the relay counted the failed join
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_fails_locks_out_only_itself() {
    let flags = [&PROXY[..], &["--room-max-failed-joins", "2"]].concat();
    let server = Server::start(&Backend::Sqlite, &flags).await;
    let (mut host, code) = Member::create(&server).await;
    for _ in 0..2 {
        fail_from(&server, &mut host, &code, STRANGER).await;
    }
    // The stranger is out, even with the right code...
    let again = Member::join_from(&server, &code, Some(STRANGER)).await;
    assert_eq!(again.closed_with.as_deref(), Some("room_locked"));
    // ...and the room's members are not: a friend with the code gets in.
    let mut friend = Member::join_from(&server, &code, Some("198.51.100.1")).await;
    admit(&mut host, &mut friend).await;
    assert_eq!(friend.room.me(), Some(4));
    assert_eq!(friend.closed_with, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_many_addresses_slow_the_room_down_and_never_lock_it() {
    let flags = [
        &PROXY[..],
        &[
            "--room-failed-join-burst",
            "2",
            "--room-failed-joins-per-hour",
            "0",
        ],
    ]
    .concat();
    let server = Server::start(&Backend::Sqlite, &flags).await;
    let (mut host, code) = Member::create(&server).await;
    fail_from(&server, &mut host, &code, "203.0.113.1").await;
    fail_from(&server, &mut host, &code, "203.0.113.2").await;
    // The room took its guesses: every address waits, with the right code too, and
    // the answer says "later", not "never".
    for addr in ["203.0.113.3", "198.51.100.1"] {
        let m = Member::join_from(&server, &code, Some(addr)).await;
        assert_eq!(m.closed_with.as_deref(), Some("room_busy"), "{addr}");
    }
    // The room itself is untouched: the host still talks in it.
    host.say("still here").await;
    assert!(host.room.members() == vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_room_takes_joins_again_as_its_budget_refills() {
    // One failure per second: the budget is back after a short wait (the test waits for
    // the answer to change; it asserts nothing about how long that takes).
    let flags = [
        &PROXY[..],
        &[
            "--room-failed-join-burst",
            "1",
            "--room-failed-joins-per-hour",
            "3600",
        ],
    ]
    .concat();
    let server = Server::start(&Backend::Sqlite, &flags).await;
    let (mut host, code) = Member::create(&server).await;
    fail_from(&server, &mut host, &code, "203.0.113.1").await;
    let mut friend = loop {
        let m = Member::join_from(&server, &code, Some("198.51.100.1")).await;
        match m.closed_with.as_deref() {
            None => break m,
            Some("room_busy") => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            other => panic!("{other:?}"),
        }
    };
    admit(&mut host, &mut friend).await;
    assert_eq!(friend.room.me(), Some(3));
}

const SECRET: &str = "room-turn-secret-3b9d";

fn turn_flags() -> Vec<&'static str> {
    vec![
        "--stun-url",
        "stun:127.0.0.1:3478",
        "--turn-url",
        "turn:127.0.0.1:3478?transport=udp",
        "--turn-secret",
        SECRET,
        "--turn-ttl-secs",
        "600",
    ]
}

/// Asks for TURN credentials on `m`'s room socket; the reply (or the error it got).
async fn ask_turn(m: &mut Member) -> Value {
    m.ws.send(json!({"type": "turn"})).await;
    loop {
        let msg = m.ws.next().await.expect("socket closed");
        if msg["type"] == "turn" || msg["type"] == "error" {
            return msg;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_members_get_short_lived_turn_credentials_and_strangers_do_not() {
    let server = Server::start(&Backend::Sqlite, &turn_flags()).await;
    let (mut host, code) = Member::create(&server).await;
    // A host alone has proved nothing to anyone: STUN only.
    let alone = ask_turn(&mut host).await;
    let servers = alone["iceServers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{alone}");
    assert!(servers[0].get("credential").is_none());

    // A joiner that has not proved the code is refused (and closed).
    let mut stranger = Member::join(&server, &wrong(&code)).await;
    let refused = ask_turn(&mut stranger).await;
    assert_eq!(refused["error"], "not_allowed");
    host.step().await; // the stranger's SPAKE2 message
    host.step().await; // the stranger "left"

    // An admitted guest, and the host of a room with a guest, get TURN.
    let mut guest = Member::join(&server, &code).await;
    admit(&mut host, &mut guest).await;
    assert!(guest.room.me().is_some());
    let now = now();
    for m in [&mut guest, &mut host] {
        let r = ask_turn(m).await;
        assert_eq!(r["ttl"], 600);
        let turn = r["iceServers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s.get("credential").is_some())
            .unwrap_or_else(|| panic!("no TURN in {r}"));
        let username = turn["username"].as_str().unwrap();
        let expiry: u64 = username.split(':').next().unwrap().parse().unwrap();
        assert!(
            (now + 600..=now + 660).contains(&expiry),
            "expires ttl from now: {expiry} vs {now}"
        );
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(username.as_bytes());
        assert_eq!(
            turn["credential"].as_str().unwrap(),
            STANDARD.encode(mac.finalize().into_bytes()),
            "coturn's use-auth-secret credential"
        );
    }

    // A member may ask a few times, not without end.
    let mut last = Value::Null;
    for _ in 0..10 {
        last = ask_turn(&mut guest).await;
        if last["type"] == "error" {
            break;
        }
    }
    assert_eq!(last["error"], "not_allowed");
}
