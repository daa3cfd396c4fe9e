//! The group commit under a deposit flood (docs/API.md "Limits and timeouts"): while
//! anonymous depositors keep the writer busy, the owner's own writes (a new device list,
//! a token, acknowledgements) still go through, and every deposit answered `201` is
//! there afterwards, and no write made the group commit wait for its turn to end. Every backend: SQLite always, PostgreSQL when
//! `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_writes_go_through_while_depositors_flood_the_writer() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Process::spawn(
            &backend,
            dir.path(),
            &["--rate-ip-per-sec", "0", "--rate-mailbox-per-sec", "0"],
        )
        .await;
        let c = Arc::new(relay.client());
        let (mut alice, laptop) = c.account(0).await;
        let (bob, phone) = c.account(1).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut flood = Vec::new();
        for _ in 0..8 {
            let (c, stop) = (Arc::clone(&c), Arc::clone(&stop));
            let (path, env) = (bob.mailbox(&phone), envelope2(bob.id(), &phone, 512));
            flood.push(tokio::spawn(async move {
                let mut stored = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let r = c.send(Method::POST, &path, None, env.clone()).await;
                    assert_eq!(r.status, StatusCode::CREATED);
                    stored += 1;
                }
                stored
            }));
        }
        for _ in 0..5 {
            alice.add_device();
            let r = c.publish_list(&mut alice).await;
            assert_eq!(r.status, StatusCode::OK);
            c.token2(&alice, &laptop).await;
            let (id, _) = c.deposit2_ok(&alice, &laptop).await;
            let mut ws = Ws::device(&c, &alice, &laptop).await;
            assert_eq!(ws.blob().await.0, id);
            ws.ack(&[&id]).await;
        }
        stop.store(true, Ordering::Relaxed);
        let mut deposited = 0;
        for f in flood {
            deposited += f.await.unwrap();
        }
        let path = format!("/v2/users/{}/devices/status", bob.hex());
        let r = c
            .send(
                Method::GET,
                &path,
                Some(&bob.sign("GET", &path, b"")),
                vec![],
            )
            .await;
        assert_eq!(
            r.json()["devices"][0]["waiting"],
            serde_json::json!(deposited),
            "every deposit answered 201 is stored"
        );
        eventually("alice's acknowledgements are committed", || async {
            c.list2(&alice, &laptop).await.is_empty()
        })
        .await;
        let log = relay.terminate();
        assert!(
            !log.iter().any(|l| l.contains("kept its turn")),
            "no write held up the group commit: {log:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_flood_is_slowed_down_and_the_session_keeps_working() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        // 300 acknowledgements of 1000 unknown ids each, sent as fast as possible.
        let ids: Vec<String> = (0..1000u32).map(|i| format!("{i:032x}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        for _ in 0..300 {
            ws.ack(&refs).await;
        }
        let blob = c.deposit2_ok(&alice, &laptop).await;
        assert_eq!(ws.blob().await, blob, "still pushing");
        ws.ack(&[&blob.0]).await;
        eventually("the real acknowledgement is committed", || async {
            c.list2(&alice, &laptop).await.is_empty()
        })
        .await;
        server.stop().await;
    }
}
