//! WebSocket push (docs/API.md "WebSocket"), as attacks and failures: strangers and
//! other mailboxes' credentials refused alike, protocol errors, disconnects before the
//! acknowledgement, more tabs than allowed, pages larger than memory should hold, and a
//! shutdown with sessions open. Every backend: SQLite always, PostgreSQL when
//! `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_deposit_is_delivered_on_connect_and_live_ones_pushed() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let backlog = [
            c.deposit2_ok(&alice, &laptop).await,
            c.deposit2_ok(&alice, &laptop).await,
        ];
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        for expected in &backlog {
            assert_eq!(&ws.blob().await, expected);
        }
        let live = c.deposit2_ok(&alice, &laptop).await;
        assert_eq!(ws.blob().await, live);
        ws.ack(&[&backlog[0].0, &backlog[1].0, &live.0]).await;
        eventually("acknowledged blobs are deleted", || async {
            c.list2(&alice, &laptop).await.is_empty()
        })
        .await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_blobs_are_delivered_again() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        let blob = c.deposit2_ok(&alice, &laptop).await;
        assert_eq!(ws.blob().await, blob);
        drop(ws); // disconnect before acknowledging

        let token = c.token2(&alice, &laptop).await;
        let (mut ws, ready) = Ws::open2(&c, &alice.mailbox(&laptop), Ws2Auth::Token(&token)).await;
        assert_eq!(ready["type"], "ready");
        assert_eq!(
            ws.blob().await,
            blob,
            "same id again: the client drops duplicates by id"
        );
        ws.ack(&[&blob.0]).await;
        eventually("the ack deletes it", || async {
            c.list2(&alice, &laptop).await.is_empty()
        })
        .await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_of_a_mailbox_gets_every_blob() {
    for backend in backends() {
        let server = Server::start(&backend, &["--max-ws-per-mailbox", "2"]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut tab1 = Ws::device(&c, &alice, &laptop).await;
        let mut tab2 = Ws::device(&c, &alice, &laptop).await;
        let (_, third) =
            Ws::open2(&c, &alice.mailbox(&laptop), Ws2Auth::Signed(&alice, laptop)).await;
        assert_eq!(third["error"], "too_many_connections");
        for _ in 0..3 {
            let b = c.deposit2_ok(&alice, &laptop).await;
            assert_eq!(tab1.blob().await, b);
            assert_eq!(tab2.blob().await, b);
        }
        // Graceful shutdown closes both connections (1012) instead of hanging on them.
        server.stop().await;
        assert!(tab1.next().await.is_none());
        assert!(tab2.next().await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_refuses_strangers_alike() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let (bob, bob_device) = c.account(1).await;
        let mut stranger = Account::new(0);
        let stranger_device = stranger.add_device();
        // bob's key signing for alice's id and device.
        let mut forger = Account::from_user(User::with_id(*alice.id(), 1));
        forger.add_device_with_id(laptop);
        let bob_token = c.token2(&bob, &bob_device).await;
        let cases = [
            (
                "other owner's key",
                alice.mailbox(&laptop),
                Ws2Auth::Signed(&forger, laptop),
            ),
            (
                "other mailbox's token",
                alice.mailbox(&laptop),
                Ws2Auth::Token(&bob_token),
            ),
            (
                "made-up token",
                alice.mailbox(&laptop),
                Ws2Auth::Token("AAAA"),
            ),
            (
                "unknown account",
                stranger.mailbox(&stranger_device),
                Ws2Auth::Signed(&stranger, stranger_device),
            ),
        ];
        for (case, path, auth) in cases {
            let (mut ws, reply) = Ws::open2(&c, &path, auth).await;
            assert_eq!(
                reply,
                json!({"type": "error", "error": "unauthorized"}),
                "{case}"
            );
            assert!(ws.next().await.is_none(), "{case}: closed");
        }
        // A protocol error after log-in ends the session with a reason.
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        ws.send(json!({"type": "ack", "ids": ["not-an-id"]})).await;
        assert_eq!(
            ws.next().await.unwrap(),
            json!({"type": "error", "error": "bad_blob_id"})
        );
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        ws.send(json!({"hello": 1})).await;
        assert_eq!(
            ws.next().await.unwrap(),
            json!({"type": "error", "error": "bad_message"})
        );
        let r = c
            .send(
                Method::GET,
                &format!("{}/ws", alice.mailbox(&laptop)),
                None,
                vec![],
            )
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "websocket_required")
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blobs_are_paged_but_all_pushed() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut sent = vec![];
        for _ in 0..6 {
            let env = envelope2(
                alice.id(),
                &laptop,
                sealpost_core::padding::MAX_ENVELOPE_LEN,
            );
            let r = c.deposit2(&alice, &laptop, env.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "{}",
                String::from_utf8_lossy(&r.bytes)
            );
            sent.push((r.json()["id"].as_str().unwrap().to_string(), env));
        }
        // A listing holds about 4 MiB: the first four 1 MiB blobs.
        assert_eq!(c.list2(&alice, &laptop).await, sent[..4].to_vec());
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        for expected in &sent {
            assert_eq!(&ws.blob().await, expected);
        }
        server.stop().await;
    }
}
