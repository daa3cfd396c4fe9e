//! Deleted blobs are gone from the disk, not only from the answers (issue 13: after
//! acknowledgement and a clean shutdown the envelopes were still in `relay.db-wal`).
//! SQLite: every file of the data directory is searched for the deleted envelopes'
//! bytes after the next checkpoint, on schedule and at shutdown. (PostgreSQL's policy is
//! VACUUM, see docs/API.md.)

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// 64 bytes from the middle of an envelope: random, so found only where it was stored.
fn marker(envelope: &[u8]) -> Vec<u8> {
    envelope[200..264].to_vec()
}

/// The files of `dir` (recursively) that contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_blobs_leave_no_bytes_in_the_data_directory() {
    let server = Server::start(&Backend::Sqlite, &["--checkpoint-interval-secs", "1"]).await;
    let c = server.client();
    let (mut alice, laptop) = c.account(0).await;
    let phone = alice.add_device();
    c.publish_list(&mut alice).await;
    let acked_http = c.deposit2_ok(&alice, &laptop).await;
    let acked_ws = c.deposit2_ok(&alice, &laptop).await;
    let kept = c.deposit2_ok(&alice, &laptop).await;
    let revoked = c.deposit2_ok(&alice, &phone).await;
    let dir = server.data_dir().to_path_buf();
    eventually("the blobs are on disk", || async {
        !files_containing(&dir, &marker(&kept.1)).is_empty()
    })
    .await;

    // Deleted three ways: acknowledged over HTTP, over the WebSocket, and with the
    // device that was revoked.
    let ack = format!("{}/ack", alice.mailbox(&laptop));
    let body = json!({"ids": [acked_http.0]}).to_string().into_bytes();
    let r = c
        .send(
            Method::POST,
            &ack,
            Some(&alice.sign("POST", &ack, &body)),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let mut ws = Ws::device(&c, &alice, &laptop).await;
    ws.blob().await;
    ws.blob().await;
    ws.ack(&[&acked_ws.0]).await;
    alice.remove_device(&phone);
    c.publish_list(&mut alice).await;
    eventually("the acknowledgement is committed", || async {
        c.list2(&alice, &laptop).await == vec![kept.clone()]
    })
    .await;

    for (what, envelope) in [
        ("acknowledged over HTTP", &acked_http.1),
        ("acknowledged over the WebSocket", &acked_ws.1),
        ("of a revoked device", &revoked.1),
    ] {
        eventually(
            &format!("the blob {what} is gone from every file"),
            || async { files_containing(&dir, &marker(envelope)).is_empty() },
        )
        .await;
    }
    assert!(
        !files_containing(&dir, &marker(&kept.1)).is_empty(),
        "the blob still waiting is found where the others were looked for"
    );
    drop(ws);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_leaves_no_deleted_blob_behind() {
    // No scheduled checkpoint during the test: only the one at shutdown.
    let server = Server::start(&Backend::Sqlite, &["--checkpoint-interval-secs", "3600"]).await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    let (id, envelope) = c.deposit2_ok(&alice, &laptop).await;
    let path = format!("{}/blobs/{id}", alice.mailbox(&laptop));
    let r = c.delete_signed(&alice, &path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let dir = server.data_dir().to_path_buf();
    assert!(
        !files_containing(&dir, &marker(&envelope)).is_empty(),
        "before the checkpoint, the deleted blob is still in the write-ahead log"
    );
    let dir = server.stop().await;
    assert_eq!(
        files_containing(dir.path(), &marker(&envelope)),
        Vec::<String>::new()
    );
}
