//! The writer thread's early hand-off (`push/hand_off.rs`), driven at the moments an
//! attacker or a crash could pick: a push is out while its commit waits, an
//! acknowledgement of it arrives before that commit ends, and the commit fails after
//! the push.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use axum::body::Bytes;
use rusqlite::{Connection, params};
use sealpost_core::UserId;
use tokio::sync::oneshot;

use super::{Job, Writer, open};
use crate::push::{HandOff, Hub, Subscription, Wake, blob_frame};
use crate::store::{BlobId, Deposit, Mailbox, Quota, SqliteStore};

const QUOTA: Quota = Quota {
    max_blobs: 100,
    max_bytes: 1 << 20,
};

/// A database with the relay's schema and one registered mailbox, a subscriber of it,
/// and the writer's connection (for the test to hook) to it.
async fn setup() -> (
    tempfile::TempDir,
    Connection,
    Mailbox,
    Arc<Hub>,
    Subscription,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    drop(SqliteStore::open(&path).await.unwrap());
    let mailbox = Mailbox::new(UserId::from_bytes([1; 32]), [2; 16]);
    let conn = open(&path).unwrap();
    conn.execute(
        "INSERT INTO devices (id, user_id, device_id) VALUES (?1, ?2, ?3)",
        params![
            mailbox.key(),
            mailbox.user.as_bytes().as_slice(),
            mailbox.device.as_slice()
        ],
    )
    .unwrap();
    let hub = Arc::new(Hub::default());
    let sub = hub.subscribe(mailbox, 4).unwrap();
    (dir, conn, mailbox, hub, sub)
}

async fn deposit(
    writer: &Writer,
    hub: &Arc<Hub>,
    mailbox: Mailbox,
    id: BlobId,
) -> oneshot::Receiver<crate::store::Result<Vec<Deposit>>> {
    let data = Bytes::from_static(b"an envelope");
    let (reply, outcome) = oneshot::channel();
    let frame = Some(blob_frame(&id, 0, &data));
    writer
        .submit(Job::Deposit {
            to: vec![(mailbox, id)],
            received_at: 0,
            data,
            quota: QUOTA,
            hand_off: HandOff::new(Arc::clone(hub), frame),
            reply,
        })
        .await
        .unwrap();
    outcome
}

/// Rows of `blobs` and the mailbox's counted blobs, read on a connection of its own.
fn counted(dir: &tempfile::TempDir) -> (i64, i64) {
    let conn = Connection::open(dir.path().join("relay.db")).unwrap();
    let rows = conn
        .query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get(0))
        .unwrap();
    let count = conn
        .query_row("SELECT blob_count FROM devices", [], |r| r.get(0))
        .unwrap();
    (rows, count)
}

#[tokio::test]
async fn an_acknowledgement_that_overtakes_the_commit_is_applied_after_it() {
    let (dir, conn, mailbox, hub, mut sub) = setup().await;
    // The first commit waits until the test lets it go.
    let (go, gate) = std_mpsc::channel::<()>();
    let mut gate = Some(gate);
    conn.commit_hook(Some(move || {
        if let Some(gate) = gate.take() {
            let _ = gate.recv();
        }
        false
    }));
    let writer = Writer::spawn(conn).unwrap();
    let id: BlobId = [9; 16];
    let stored = deposit(&writer, &hub, mailbox, id).await;

    // Pushed while its commit is held: the push does not wait for the disk.
    let Wake::Message(pushed) = sub.next().await else {
        panic!("expected the blob");
    };
    assert_eq!(pushed.seq, 1);
    // The recipient acknowledges at once; the commit has not ended yet.
    let (reply, acked) = oneshot::channel();
    writer
        .submit(Job::Ack {
            mailbox,
            ids: vec![id],
            reply,
        })
        .await
        .unwrap();
    go.send(()).unwrap();

    assert_eq!(stored.await.unwrap().unwrap(), vec![Deposit::Stored(1)]);
    // The delete found the committed blob: no delete lost, no blob left to come back.
    assert_eq!(acked.await.unwrap().unwrap(), 1);
    assert_eq!(counted(&dir), (0, 0));
}

#[tokio::test]
async fn a_commit_that_fails_after_the_push_ends_the_subscribers_sessions() {
    let (dir, conn, mailbox, hub, mut sub) = setup().await;
    // The first commit waits until the test saw the push, then fails (as a full disk or
    // an I/O error would); the rest succeed. (Without the wait the reset could overtake
    // the test's read of the push: it did whenever the test ran alone.)
    let (go, gate) = std_mpsc::channel::<()>();
    let mut gate = Some(gate);
    conn.commit_hook(Some(move || match gate.take() {
        Some(gate) => {
            let _ = gate.recv();
            true
        }
        None => false,
    }));
    let writer = Writer::spawn(conn).unwrap();

    let lost = deposit(&writer, &hub, mailbox, [1; 16]).await;
    assert!(matches!(sub.next().await, Wake::Message(p) if p.seq == 1));
    go.send(()).unwrap();
    // The depositor gets no 201: it deposits again, and the recipient drops the copy.
    assert!(lost.await.unwrap().is_err());
    assert_eq!(counted(&dir), (0, 0));
    // The session that sent the forgotten blob must start over: the next blob takes
    // the same sequence number, which it would skip as already sent.
    assert!(matches!(sub.next().await, Wake::Reset));

    let kept = deposit(&writer, &hub, mailbox, [2; 16]).await;
    assert_eq!(kept.await.unwrap().unwrap(), vec![Deposit::Stored(1)]);
    assert_eq!(counted(&dir), (1, 1));
    // A new session reads the store and is handed the next blobs.
    let mut again = hub.subscribe(mailbox, 4).unwrap();
    let next = deposit(&writer, &hub, mailbox, [3; 16]).await;
    assert!(matches!(again.next().await, Wake::Message(p) if p.seq == 2));
    assert_eq!(next.await.unwrap().unwrap(), vec![Deposit::Stored(2)]);
}
