//! The in-memory hand-off of deposits to their WebSocket subscribers (docs/API.md
//! "WebSocket"): hand-offs that overtake each other, a subscriber that stops reading
//! while blobs pour in, and deposits that went to the store only. Whatever the
//! interleaving, every blob is pushed exactly once and in the mailbox's order. Every
//! backend: SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::v2::*;
use common::*;
use sealpost_core::v2::DeviceId;

/// Deposits `n` envelopes of `len` bytes at once (concurrent requests).
async fn deposit_at_once(
    c: &Client,
    alice: &Account,
    device: &DeviceId,
    n: usize,
    len: usize,
) -> HashSet<String> {
    let requests = (0..n).map(|_| c.deposit2(alice, device, envelope2(alice.id(), device, len)));
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, reqwest::StatusCode::CREATED);
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Reads `n` blobs; asserts none repeats and they come in the mailbox's order.
async fn pushed_once_in_order(
    c: &Client,
    alice: &Account,
    device: &DeviceId,
    ws: &mut Ws,
    deposited: &HashSet<String>,
) {
    let mut pushed = Vec::new();
    for _ in 0..deposited.len() {
        pushed.push(ws.blob().await.0);
    }
    let unique: HashSet<String> = pushed.iter().cloned().collect();
    assert_eq!(unique.len(), pushed.len(), "a blob was pushed twice");
    assert_eq!(&unique, deposited, "every deposit pushed");
    let listed: Vec<String> = c
        .list2(alice, device)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    // The listing is one page (at most 4 MiB): the order of its blobs.
    assert_eq!(
        pushed[..listed.len()],
        listed[..],
        "pushed in the mailbox's order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deposits_are_pushed_once_each_in_mailbox_order() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        // Committed in one batch or a few; their hand-offs race to the session.
        let deposited = deposit_at_once(&c, &alice, &laptop, 60, 512).await;
        pushed_once_in_order(&c, &alice, &laptop, &mut ws, &deposited).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_still_gets_everything_once() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        // 80 blobs of 64 KiB (5 MiB) while the client reads nothing: more than the
        // socket buffers hold, so the session blocks and its hand-off queue overflows.
        let deposited = deposit_at_once(&c, &alice, &laptop, 80, 64 * 1024).await;
        pushed_once_in_order(&c, &alice, &laptop, &mut ws, &deposited).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_too_large_to_hand_over_are_read_from_the_store() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        let mut deposited = HashSet::new();
        // Small, large (not handed over), small: the session reads the large one from
        // the store and keeps the order.
        for len in [512, 128 * 1024, 512] {
            deposited.insert(c.deposit2_ok(&alice, &laptop).await.0);
            let r = c
                .deposit2(&alice, &laptop, envelope2(alice.id(), &laptop, len))
                .await;
            deposited.insert(r.json()["id"].as_str().unwrap().to_string());
        }
        pushed_once_in_order(&c, &alice, &laptop, &mut ws, &deposited).await;
        server.stop().await;
    }
}
