//! The storage baseline: the relay's SQLite store alone (same file settings, same
//! group commit, same statements), driven like the relay drives it under load but
//! without HTTP or WebSockets: `concurrency` tasks deposit one blob after the other,
//! and every deposit is acknowledged by a task of its own as soon as it is stored
//! (as a subscriber would), so deposits and acknowledgements share commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use sealpost_core::UserId;
use sealpost_relay::push::{HandOff, Hub};
use sealpost_relay::store::{Deposit, Mailbox, Quota, SqliteStore, Store};

/// No subscribers: the storage baseline pushes nothing.
fn nowhere() -> HandOff {
    HandOff::new(Arc::new(Hub::default()), None)
}

/// The store's time for one group message of `size` bytes to `members` mailboxes,
/// medians of 11 rounds: one multi-recipient deposit (one commit), and one deposit per
/// mailbox one after the other (as a client sending it 1:1 would, each answered before
/// the next). Only the store: HTTP adds one request each way.
pub async fn fanout(members: usize, size: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .unwrap();
    let boxes = register(&store, members).await;
    let quota = Quota {
        max_blobs: 1_000_000,
        max_bytes: i64::MAX,
    };
    let data = Bytes::from(vec![3u8; size]);
    let (mut many, mut each) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let id: [u8; 16] = sealpost_relay::random_bytes();
        let to: Vec<(Mailbox, [u8; 16])> = boxes.iter().map(|m| (*m, id)).collect();
        let t0 = Instant::now();
        let stored = store
            .deposit_many(&to, 0, data.clone(), quota, nowhere())
            .await
            .unwrap();
        many.push(t0.elapsed());
        assert!(stored.iter().all(|d| matches!(d, Deposit::Stored(_))));
        let t0 = Instant::now();
        for m in &boxes {
            let id: [u8; 16] = sealpost_relay::random_bytes();
            store
                .deposit(m, &id, 0, data.clone(), quota, nowhere())
                .await
                .unwrap();
        }
        each.push(t0.elapsed());
    }
    many.sort();
    each.sort();
    (many[5], each[5])
}

/// Deposits `n` blobs of `size` bytes round-robin into `mailboxes` mailboxes; returns
/// the time until the last deposit was committed (its acknowledgement may follow).
pub async fn run(n: usize, size: usize, mailboxes: usize, concurrency: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("relay.db"))
            .await
            .unwrap(),
    );
    let boxes = register(store.as_ref(), mailboxes).await;
    let boxes = Arc::new(boxes);
    let quota = Quota {
        max_blobs: 1_000_000,
        max_bytes: i64::MAX,
    };
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, boxes, next) = (store.clone(), boxes.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let data = Bytes::from(vec![2u8; size]);
            let mut acks = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let mailbox = boxes[i % boxes.len()];
                let id: [u8; 16] = sealpost_relay::random_bytes();
                let stored = store
                    .deposit(&mailbox, &id, 0, data.clone(), quota, nowhere())
                    .await
                    .unwrap();
                assert!(matches!(stored, Deposit::Stored(_)));
                let store = store.clone();
                acks.push(tokio::spawn(async move {
                    assert_eq!(store.ack(&mailbox, &[id]).await.unwrap(), 1);
                }));
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for t in tasks {
        acks.extend(t.await.unwrap());
    }
    let elapsed = t0.elapsed();
    for a in acks {
        a.await.unwrap();
    }
    elapsed
}

/// `n` accounts of one device each, registered in `store`: their mailboxes.
async fn register(store: &dyn Store, n: usize) -> Vec<Mailbox> {
    let mut boxes = Vec::with_capacity(n);
    for _ in 0..n {
        let user = UserId::from_bytes(sealpost_relay::random_bytes());
        let device: [u8; 16] = sealpost_relay::random_bytes();
        assert!(
            store
                .register_device_list(&user, b"list", 1, &[device])
                .await
                .unwrap()
        );
        boxes.push(Mailbox::new(user, device));
    }
    boxes
}
