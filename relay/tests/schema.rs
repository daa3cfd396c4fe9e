//! A database the relay did not create in its current form is refused at start-up, with
//! a message saying what to do, and left as it was; its own database reopens; a schema 2
//! database (envelopes in a `WITHOUT ROWID` table) is converted, its blobs kept.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::v2::*;
use common::*;
use reqwest::StatusCode;
use sealpost_relay::store::SqliteStore;

#[tokio::test]
async fn an_older_sqlite_database_is_refused_untouched_and_its_own_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    // An older relay's database: the tables exist, but no version is recorded.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch("CREATE TABLE blobs (id BLOB PRIMARY KEY, body BLOB); INSERT INTO blobs VALUES (x'01', x'02');")
        .unwrap();
    drop(old);
    let Err(refused) = SqliteStore::open(&path).await else {
        panic!("an older database was opened");
    };
    let message = refused.to_string();
    assert!(
        message.contains("another version of the relay"),
        "{message}"
    );
    assert!(message.contains("move the data directory"), "{message}");
    // Its data and schema are as they were (opening only switched the journal to WAL).
    let old = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = old
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["blobs"], "no table created or dropped");
    let body: Vec<u8> = old
        .query_row("SELECT body FROM blobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(body, [2]);
    let version: i64 = old
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0, "no version recorded");

    // A fresh database gets the schema and its version, and opens again.
    let fresh = dir.path().join("fresh.db");
    drop(SqliteStore::open(&fresh).await.unwrap());
    drop(SqliteStore::open(&fresh).await.unwrap());
}

/// Turns a database of this relay back into schema 2 as the relay before schema 3 created
/// it (51088ae): `blobs` a `WITHOUT ROWID` table keyed by (mailbox, seq), version 2.
fn downgrade_to_schema_2(path: &std::path::Path) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "BEGIN;
         CREATE TABLE blobs_2 (
             mailbox BLOB NOT NULL,
             seq INTEGER NOT NULL,
             id BLOB NOT NULL,
             received_at INTEGER NOT NULL,
             size INTEGER NOT NULL,
             data BLOB NOT NULL,
             PRIMARY KEY (mailbox, seq)
         ) WITHOUT ROWID;
         INSERT INTO blobs_2 SELECT mailbox, seq, id, received_at, size, data FROM blobs;
         DROP TABLE blobs;
         ALTER TABLE blobs_2 RENAME TO blobs;
         CREATE UNIQUE INDEX blobs_id ON blobs (mailbox, id);
         CREATE INDEX blobs_received ON blobs (received_at);
         PRAGMA user_version = 2;
         COMMIT;
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
}

/// 64 random bytes from the middle of a 1 KiB envelope (past schema 2's in-page part,
/// so in what was its overflow page).
fn marker(envelope: &[u8]) -> Vec<u8> {
    envelope[900..964].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_2_database_is_converted_and_its_blobs_are_delivered_acked_and_deleted() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    let (bob, phone) = c.account(1).await;
    let mut deposited = Vec::new();
    for (account, device) in [(&alice, &laptop), (&bob, &phone)] {
        for _ in 0..3 {
            let envelope = envelope2(account.id(), device, 1024);
            let r = c.deposit2(account, device, envelope.clone()).await;
            assert_eq!(r.status, StatusCode::CREATED);
            deposited.push((r.json()["id"].as_str().unwrap().to_string(), envelope));
        }
    }
    let dir = server.stop().await;
    let path = dir.path().join("relay.db");
    downgrade_to_schema_2(&path);

    // Started on it, the relay converts it; a deleted blob's bytes must then be gone
    // after the next checkpoint, as for any other.
    let server =
        Server::start_in(&Backend::Sqlite, dir, &["--checkpoint-interval-secs", "1"]).await;
    let c = server.client();
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let (alices, bobs) = deposited.split_at(3);
    assert_eq!(c.list2(&alice, &laptop).await, alices, "in their order");
    assert_eq!(c.list2(&bob, &phone).await, bobs);

    // Delivered over the WebSocket; one acknowledged there, one deleted over HTTP.
    let mut ws = Ws::device(&c, &alice, &laptop).await;
    for expected in alices {
        assert_eq!(&ws.blob().await, expected);
    }
    ws.ack(&[&alices[0].0]).await;
    let r = c
        .delete_signed(
            &alice,
            &format!("{}/blobs/{}", alice.mailbox(&laptop), alices[1].0),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    eventually("the acknowledgement is committed", || async {
        c.list2(&alice, &laptop).await == alices[2..]
    })
    .await;
    // New deposits go on after the converted ones.
    let (id, envelope) = c.deposit2_ok(&alice, &laptop).await;
    assert_eq!(
        c.list2(&alice, &laptop).await,
        [alices[2].clone(), (id, envelope)]
    );

    let data = server.data_dir().to_path_buf();
    for (id, envelope) in &alices[..2] {
        eventually(
            &format!("the deleted blob {id} is gone from every file"),
            || async { files_containing(&data, &marker(envelope)).is_empty() },
        )
        .await;
    }
    for (id, envelope) in alices[2..].iter().chain(bobs) {
        assert!(
            !files_containing(&data, &marker(envelope)).is_empty(),
            "{id}: a blob still waiting is found where the others were looked for"
        );
    }
    drop(ws);
    let dir = server.stop().await;
    // The old table is gone with its pages (secure_delete zeroed them).
    let db = rusqlite::Connection::open(dir.path().join("relay.db")).unwrap();
    let tables: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'blobs_2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}
