//! Rooms (docs/API.md "Rooms") through the real relay with the real PAKE and frames:
//! three members talk, a wrong code is refused, a guesser is cut off (failed joins per
//! address, joins per address; room_guesses.rs has the stranger who tries to lock the
//! room for others), members who break the rules are closed, and after
//! everyone leaves nothing of the room remains, in memory or in the database.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::room::*;
use common::*;
use reqwest::{Method, StatusCode};
use sealpost_core::os_rng;
use sealpost_engine::room::{RoomCode, RoomEvent};
use serde_json::{Value, json};

async fn metric(server: &Server, name: &str) -> u64 {
    let r = server
        .client()
        .send(Method::GET, "/metrics", None, vec![])
        .await;
    let text = String::from_utf8(r.bytes).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

/// Rows of every table of the SQLite database, as text, to compare before and after.
fn database_rows(server: &Server) -> Vec<(String, i64)> {
    let db = rusqlite::Connection::open_with_flags(
        server.data_dir().join("relay.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let n = db
                .query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_talk_and_nothing_of_the_room_remains() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let db_before = database_rows(&server);
    let (mut host, code) = Member::create(&server).await;
    let mut b = Member::join(&server, &code).await;
    admit(&mut host, &mut b).await;
    assert_eq!(b.room.members(), vec![1, 2]);
    let mut c = Member::join(&server, &code).await;
    admit(&mut host, &mut c).await;
    b.until(|e| {
        e.iter()
            .any(|e| matches!(e, RoomEvent::Rekeyed { epoch: 2 }))
    })
    .await;
    assert_eq!(metric(&server, "sealpost_rooms_open").await, 1);
    assert_eq!(metric(&server, "sealpost_room_members").await, 3);

    host.say("welcome, both").await;
    b.say("hello from b").await;
    c.say("and from c").await;
    b.until(|e| heard(e, "welcome, both") && heard(e, "and from c"))
        .await;
    c.until(|e| heard(e, "welcome, both") && heard(e, "hello from b"))
        .await;
    // Each guest shows the other once a frame of its own opened (the relay's "joined"
    // alone proves nothing).
    assert!(b.events.contains(&RoomEvent::MemberJoined { member: 3 }));
    assert!(c.events.contains(&RoomEvent::MemberJoined { member: 2 }));
    assert_eq!(b.room.members(), vec![1, 2, 3]);
    host.until(|e| heard(e, "hello from b") && heard(e, "and from c"))
        .await;
    for m in [&host, &b, &c] {
        assert!(
            !m.events
                .iter()
                .any(|e| matches!(e, RoomEvent::Refused { .. })),
            "{:?}",
            m.events
        );
    }

    // c leaves: the others hear it and the host moves the key on.
    c.ws.send(json!({"type": "leave"})).await;
    // The relay closes c's socket (after what was already on its way to c).
    while c.ws.next().await.is_some() {}
    host.until(|e| {
        e.iter()
            .any(|e| matches!(e, RoomEvent::MemberLeft { member: 3 }))
    })
    .await;
    b.until(|e| {
        e.iter()
            .any(|e| matches!(e, RoomEvent::MemberLeft { member: 3 }))
    })
    .await;
    b.until(|e| {
        e.iter()
            .any(|e| matches!(e, RoomEvent::Rekeyed { epoch: 3 }))
    })
    .await;
    b.say("after c").await;
    host.until(|e| heard(e, "after c")).await;

    // The host leaves: b is told the room is closed, and the room is gone.
    drop(host);
    while b.step().await {}
    assert_eq!(b.closed_with.as_deref(), Some("room_closed"));
    for _ in 0..100 {
        if metric(&server, "sealpost_rooms_open").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&server, "sealpost_rooms_open").await, 0);
    assert_eq!(metric(&server, "sealpost_room_members").await, 0);
    assert_eq!(
        database_rows(&server),
        db_before,
        "rooms never touch the database"
    );
    // The nameplate is free: a join finds no room.
    let late = Member::join(&server, &code).await;
    assert_eq!(late.closed_with.as_deref(), Some("no_room"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_are_refused_and_the_guessing_address_is_locked_out() {
    let server = Server::start(&Backend::Sqlite, &["--room-max-failed-joins", "3"]).await;
    let (mut host, code) = Member::create(&server).await;
    let wrong = RoomCode::parse(&format!("{}-00000000", code.nameplate())).unwrap();
    for _ in 0..2 {
        let mut guesser = Member::join(&server, &wrong).await;
        admit(&mut host, &mut guesser).await;
        assert_eq!(guesser.closed_with.as_deref(), Some("wrong_code"));
        assert!(guesser.room.me().is_none());
        assert!(
            host.events
                .iter()
                .any(|e| matches!(e, RoomEvent::JoinRefused { .. }))
        );
        host.step().await; // "left": the relay counted the failed join
    }
    // An abandoned attempt (it sent SPAKE2 and walked away) counts too.
    let mut quitter = Member::join(&server, &wrong).await;
    host.step().await;
    drop(quitter.ws);
    quitter.closed_with = None;
    host.step().await; // "left"
    // Three failed from this address: it is refused even with the right code now
    // (other addresses are not: room_guesses.rs).
    let right = Member::join(&server, &code).await;
    assert_eq!(right.closed_with.as_deref(), Some("room_locked"));
    assert_eq!(host.room.members(), vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guess_flood_from_one_address_is_cut_off() {
    let server = Server::start(
        &Backend::Sqlite,
        &["--rate-room-burst", "3", "--rate-room-per-sec", "0.001"],
    )
    .await;
    let (_host, code) = Member::create(&server).await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let guess = RoomCode::generate(&mut os_rng(), code.nameplate()).unwrap();
        let m = Member::join(&server, &guess).await;
        outcomes.push(m.closed_with.clone());
    }
    assert_eq!(outcomes[..2], [None, None]);
    assert_eq!(
        outcomes[2..],
        [Some("rate_limited".into()), Some("rate_limited".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_who_break_the_rules_are_closed() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let (mut host, code) = Member::create(&server).await;
    let mut b = Member::join(&server, &code).await;
    // A joiner may not send frames before it is admitted.
    b.ws.send(json!({"type": "frame", "data": "AAAA"})).await;
    assert_eq!(b.ws.next().await.unwrap()["error"], "not_allowed");
    host.step().await; // the PAKE message that came first
    host.step().await; // "left"
    let mut b = Member::join(&server, &code).await;
    admit(&mut host, &mut b).await;
    // A guest may not admit, refuse or rekey.
    for msg in [
        json!({"type": "admit", "to": 9, "data": "AAAA"}),
        json!({"type": "rekey", "to": 1, "data": "AAAA"}),
        json!({"type": "refuse", "to": 1}),
        json!({"type": "pake", "to": 1, "data": "AAAA"}),
    ] {
        let mut g = Member::join(&server, &code).await;
        admit(&mut host, &mut g).await;
        g.ws.send(msg.clone()).await;
        let mut last = Value::Null;
        while let Some(m) = g.ws.next().await {
            last = m;
        }
        assert_eq!(last["error"], "not_allowed", "{msg}");
        host.until(|e| {
            e.iter()
                .filter(|e| matches!(e, RoomEvent::MemberLeft { .. }))
                .count()
                >= 1
        })
        .await;
        host.events.clear();
    }
    // Junk and binary messages.
    for junk in [
        json!({"type": "frame", "data": "not base64!"}),
        json!({"type": "nope"}),
    ] {
        let mut g = Member::join(&server, &code).await;
        g.ws.send(junk).await;
        assert_eq!(g.ws.next().await.unwrap()["error"], "bad_message");
    }
    // No such room, and a path that is not a nameplate.
    let r = server
        .client()
        .send(Method::GET, "/v2/rooms/0123/ws", None, vec![])
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (StatusCode::BAD_REQUEST, "bad_nameplate")
    );
    let ghost = RoomCode::parse("999999-00000000").unwrap();
    if ghost.nameplate() != code.nameplate() {
        let g = Member::join(&server, &ghost).await;
        assert_eq!(g.closed_with.as_deref(), Some("no_room"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_room_is_closed_and_forgotten() {
    let server = Server::start(
        &Backend::Sqlite,
        &["--room-idle-secs", "1", "--purge-interval-secs", "1"],
    )
    .await;
    let (mut host, code) = Member::create(&server).await;
    let mut b = Member::join(&server, &code).await;
    admit(&mut host, &mut b).await;
    // Nobody says anything: both are closed with room_idle, and the nameplate is free.
    while b.step().await {}
    assert_eq!(b.closed_with.as_deref(), Some("room_idle"));
    while host.step().await {}
    assert_eq!(host.closed_with.as_deref(), Some("room_idle"));
    assert_eq!(metric(&server, "sealpost_rooms_open").await, 0);
    let late = Member::join(&server, &code).await;
    assert_eq!(late.closed_with.as_deref(), Some("no_room"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_flooding_the_host_is_closed_and_the_room_stays_open() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let (_host, code) = Member::create(&server).await;
    let mut j = Member::join(&server, &code).await;
    // A joiner sends the host two PAKE messages (its SPAKE2 message and its key
    // confirmation); more would fill the host's queue, and a host dropped for a full
    // queue ends the room.
    for _ in 0..5 {
        if j.ws
            .try_send(json!({"type": "pake", "to": 1, "data": "AAAA"}))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut last = Value::Null;
    while let Some(m) = j.ws.next().await {
        last = m;
    }
    assert_eq!(
        last["error"], "not_allowed",
        "a joiner sends two PAKE messages"
    );
    let b = Member::join(&server, &code).await;
    assert_eq!(b.closed_with, None, "the room is still open");
}
