//! The deposit socket (`GET /v2/deposits`, docs/API.md "Deposit socket"), as a client
//! and as an attacker: pipelined deposits are each answered once and pushed to their
//! owner; a frame naming another mailbox than its envelope, a blob of no bucket, an
//! unknown device and an address over its request rate get the answers a POST would
//! get and store nothing; malformed frames close the socket and cost the relay nothing
//! else. Every backend: SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is
//! set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::v2::*;
use common::*;
use sealpost_core::v2::DeviceId;
use serde_json::Value;

/// A deposit frame: request number, the mailbox's user and device ids, the blob.
fn frame(req: u32, account: &Account, device: &DeviceId, blob: &[u8]) -> Vec<u8> {
    [
        &req.to_be_bytes()[..],
        account.id().as_bytes(),
        device.as_bytes(),
        blob,
    ]
    .concat()
}

async fn deposit_socket(c: &Client) -> Ws {
    Ws::connect(&format!(
        "{}/v2/deposits",
        c.base.replacen("http://", "ws://", 1)
    ))
    .await
}

/// The answers to `n` deposits, by request number.
async fn answers(ws: &mut Ws, n: usize) -> HashMap<u64, Value> {
    let mut by_req = HashMap::new();
    while by_req.len() < n {
        let a = ws.next().await.expect("the socket closed before answering");
        let req = a["req"].as_u64().unwrap();
        assert!(
            by_req.insert(req, a).is_none(),
            "request {req} answered twice"
        );
    }
    by_req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_deposits_are_each_answered_once_stored_and_pushed() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut owner = Ws::device(&c, &alice, &laptop).await;
        let mut ws = deposit_socket(&c).await;
        // Many more than the relay takes at once per socket, sent without waiting for
        // answers: the rest wait, none is lost, the socket never stalls.
        let blobs: Vec<Vec<u8>> = (0..90)
            .map(|_| envelope2(alice.id(), &laptop, 512))
            .collect();
        for (req, blob) in blobs.iter().enumerate() {
            ws.send_binary(frame(req as u32, &alice, &laptop, blob))
                .await;
        }
        let by_req = answers(&mut ws, blobs.len()).await;
        let mut pushed = HashMap::new();
        for _ in 0..blobs.len() {
            let (id, data) = owner.blob().await;
            pushed.insert(id, data);
        }
        for (req, blob) in blobs.iter().enumerate() {
            let id = by_req[&(req as u64)]["id"].as_str().expect("stored");
            assert_eq!(pushed.get(id), Some(blob), "request {req} pushed as stored");
        }
        assert_eq!(c.list2(&alice, &laptop).await.len(), blobs.len());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deposits_get_a_posts_answer_and_store_nothing() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let (bob, phone) = c.account(1).await;
        let mut ws = deposit_socket(&c).await;
        // Re-addressed: bob's envelope sent to alice's mailbox.
        let bobs = envelope2(bob.id(), &phone, 512);
        ws.send_binary(frame(1, &alice, &laptop, &bobs)).await;
        // No padding bucket.
        let odd = envelope2(alice.id(), &laptop, 500);
        ws.send_binary(frame(2, &alice, &laptop, &odd)).await;
        // A device alice's list does not have.
        let stranger = DeviceId::from_bytes([7; 16]);
        let env = envelope2(alice.id(), &stranger, 512);
        ws.send_binary(frame(3, &alice, &stranger, &env)).await;
        let by_req = answers(&mut ws, 3).await;
        assert_eq!(by_req[&1]["status"], 400);
        assert_eq!(by_req[&1]["error"], "bad_envelope");
        assert_eq!(by_req[&2]["error"], "not_a_bucket");
        assert_eq!(by_req[&3]["status"], 404);
        assert_eq!(by_req[&3]["error"], "unknown_device");
        assert!(c.list2(&alice, &laptop).await.is_empty());
        assert!(c.list2(&bob, &phone).await.is_empty());
        // The socket still works after refusals.
        let ok = envelope2(alice.id(), &laptop, 512);
        ws.send_binary(frame(4, &alice, &laptop, &ok)).await;
        assert!(answers(&mut ws, 1).await[&4]["id"].is_string());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_the_socket_and_nothing_else() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut short = deposit_socket(&c).await;
        short.send_binary(vec![0; 20]).await;
        assert_eq!(short.closed_with().await, "bad_frame");
        let mut text = deposit_socket(&c).await;
        text.send(serde_json::json!({"type": "deposit"})).await;
        assert_eq!(text.closed_with().await, "bad_frame");
        // Larger than a blob may be: the WebSocket layer refuses the frame.
        let mut huge = deposit_socket(&c).await;
        let big = envelope2(alice.id(), &laptop, 2 * 1024 * 1024);
        huge.send_binary(frame(1, &alice, &laptop, &big)).await;
        huge.closed_with().await;
        // Others are served as before.
        c.deposit2_ok(&alice, &laptop).await;
        let mut ws = deposit_socket(&c).await;
        let env = envelope2(alice.id(), &laptop, 512);
        ws.send_binary(frame(9, &alice, &laptop, &env)).await;
        assert!(answers(&mut ws, 1).await[&9]["id"].is_string());
        assert_eq!(c.list2(&alice, &laptop).await.len(), 2);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_frame_counts_against_the_address_rate() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &["--rate-ip-per-sec", "0.01", "--rate-ip-burst", "12"],
        )
        .await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = deposit_socket(&c).await;
        for req in 0..12 {
            let env = envelope2(alice.id(), &laptop, 512);
            ws.send_binary(frame(req, &alice, &laptop, &env)).await;
        }
        let by_req = answers(&mut ws, 12).await;
        let limited: Vec<&Value> = by_req
            .values()
            .filter(|a| a["error"] == "rate_limited")
            .collect();
        assert!(
            !limited.is_empty(),
            "the burst covers setup and only some deposits"
        );
        assert!(
            limited
                .iter()
                .all(|a| a["status"] == 429 && a["retry_after"].is_u64())
        );
        let stored = by_req.values().filter(|a| a["id"].is_string()).count();
        assert_eq!(stored + limited.len(), 12);
        assert!(stored > 0, "deposits within the burst are stored");
        server.stop().await;
    }
}
