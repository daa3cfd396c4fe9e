//! What a copy of the relay's SQLite database tells an attacker who took it (docs/API.md
//! "What the relay stores and for how long"): no order of deposits across mailboxes,
//! and only coarse times.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_database_orders_nothing_across_mailboxes_and_has_only_coarse_times() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    let (bob, phone) = c.account(1).await;
    for _ in 0..3 {
        c.deposit2_ok(&alice, &laptop).await;
        c.deposit2_ok(&bob, &phone).await;
    }
    // A signed request (a nonce row) that issues a token (a token row).
    c.token2(&alice, &laptop).await;
    let dir = server.stop().await;

    let db = rusqlite::Connection::open(dir.path().join("relay.db")).unwrap();
    let mut seqs: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
    let mut rows = db
        .prepare("SELECT mailbox, seq FROM blobs ORDER BY mailbox, seq")
        .unwrap();
    for row in rows
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (mailbox, seq) = row.unwrap();
        seqs.entry(mailbox).or_default().push(seq);
    }
    assert_eq!(seqs.len(), 2);
    for s in seqs.values() {
        assert_eq!(
            s[1..],
            [s[0] + 1, s[0] + 2],
            "each mailbox counts on its own"
        );
        assert!(
            s[0] > 1000,
            "from a random start, so no count of past deposits"
        );
    }
    let starts: Vec<i64> = seqs.values().map(|s| s[0]).collect();
    assert_ne!(starts[0], starts[1], "mailboxes start apart");
    assert!(
        db.prepare("SELECT rowid FROM blobs").is_err(),
        "no hidden rowid records the insertion order"
    );
    for (table, column) in [
        ("blobs", "received_at"),
        ("nonces", "expires_at"),
        ("tokens", "expires_at"),
        ("devices", "last_seen"),
    ] {
        let mut q = db
            .prepare(&format!(
                "SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
            ))
            .unwrap();
        let times: Vec<i64> = q
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!times.is_empty(), "{table}.{column} has rows");
        for t in times {
            assert_eq!(
                t % 300,
                0,
                "{table}.{column} = {t} is not rounded to 5 minutes"
            );
        }
    }
}
