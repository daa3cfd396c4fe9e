//! What a `2xx` promises survives `kill -9` (also in the middle of group commits under
//! load) and restarts, and several relay processes on one PostgreSQL database behave as
//! one relay. SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_keep_everything() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Process::spawn(&backend, dir.path(), &[]).await;
        let c = relay.client();
        let (mut alice, laptop) = c.account(0).await;
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;
        assert_eq!(
            c.put_device_bundle(&mut alice, &laptop).await.status,
            StatusCode::CREATED
        );
        let newer = c.put_device_bundle(&mut alice, &laptop).await;
        assert_eq!(newer.status, StatusCode::OK);
        let list = c
            .send(Method::GET, &alice.list_path(), None, vec![])
            .await
            .bytes;
        let bundle = c
            .send(Method::GET, &alice.bundle_path(&laptop), None, vec![])
            .await
            .bytes;
        let blobs = [
            c.deposit2_ok(&alice, &laptop).await,
            c.deposit2_ok(&alice, &laptop).await,
        ];
        let for_phone = c.deposit2_ok(&alice, &phone).await;
        relay.kill();

        let relay = Process::spawn(&backend, dir.path(), &[]).await;
        let c = relay.client();
        assert_eq!(
            c.send(Method::GET, &alice.list_path(), None, vec![])
                .await
                .bytes,
            list
        );
        assert_eq!(
            c.send(Method::GET, &alice.bundle_path(&laptop), None, vec![])
                .await
                .bytes,
            bundle
        );
        assert_eq!(c.list2(&alice, &laptop).await, blobs.to_vec());
        assert_eq!(c.list2(&alice, &phone).await, vec![for_phone.clone()]);
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        assert_eq!(ws.blob().await, blobs[0]);
        drop(ws);

        // Graceful restart too (in-process, same data directory).
        drop(relay);
        let server = Server::start_in(&backend, dir, &[]).await;
        assert_eq!(server.client().list2(&alice, &laptop).await, blobs.to_vec());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_are_one_relay() {
    let Some(url) = postgres_url() else {
        skipped(SKIPPED_POSTGRES);
        return;
    };
    let backend = Backend::Postgres(url.clone());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Process::spawn(&backend, dir_a.path(), &[]).await;
    let b = Process::spawn(&backend, dir_b.path(), &[]).await;
    let (ca, cb) = (a.client(), b.client());
    let (alice, laptop) = ca.account(0).await;
    let mut on_b = Ws::device(&cb, &alice, &laptop).await;
    let mut on_a = Ws::device(&ca, &alice, &laptop).await;
    for _ in 0..3 {
        let blob = ca.deposit2_ok(&alice, &laptop).await;
        assert_eq!(on_b.blob().await, blob, "deposited on A, pushed by B");
        assert_eq!(on_a.blob().await, blob);
        let blob = cb.deposit2_ok(&alice, &laptop).await;
        assert_eq!(on_a.blob().await, blob, "deposited on B, pushed by A");
        assert_eq!(on_b.blob().await, blob);
    }
    // Replay protection is shared: a nonce used on A is refused on B.
    let path = format!("{}/blobs", alice.mailbox(&laptop));
    let header = alice.sign("GET", &path, b"");
    assert_eq!(
        ca.send(Method::GET, &path, Some(&header), vec![])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        cb.send(Method::GET, &path, Some(&header), vec![])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // So are tokens and acknowledgements.
    let token = ca.token2(&alice, &laptop).await;
    let bearer = format!("Bearer {token}");
    let r = cb.send(Method::GET, &path, Some(&bearer), vec![]).await;
    let blobs = r.json()["blobs"].as_array().unwrap().clone();
    assert_eq!(blobs.len(), 6);
    let ids: Vec<&str> = blobs.iter().map(|b| b["id"].as_str().unwrap()).collect();
    let ack = json!({ "ids": ids }).to_string().into_bytes();
    let ack_path = format!("{}/ack", alice.mailbox(&laptop));
    let r = cb.send(Method::POST, &ack_path, Some(&bearer), ack).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        ca.list2(&alice, &laptop).await.is_empty(),
        "acknowledged through B, gone on A"
    );

    // A relay that loses its LISTEN connection re-reads every subscribed mailbox once it
    // is back, so a deposit announced while it was not listening still arrives.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let terminated = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(terminated.len() >= 2, "both relays were listening");
    let blob = cb.deposit2_ok(&alice, &laptop).await;
    assert_eq!(on_a.blob().await, blob);
    assert_eq!(on_b.blob().await, blob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_deposit() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use common::v2::envelope2;

    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let flags = ["--rate-ip-per-sec", "0", "--rate-mailbox-per-sec", "0"];
        let (alice, laptop) = {
            let relay = Process::spawn(&backend, dir.path(), &flags).await;
            let account = relay.client().account(0).await;
            relay.kill();
            account
        };
        let stored: Arc<Mutex<Vec<String>>> = Arc::default();
        let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
        for _ in 0..3 {
            let relay = Process::spawn(&backend, dir.path(), &flags).await;
            let c = relay.client();
            let url = format!("{}{}", c.base, alice.mailbox(&laptop));
            // Eight depositors and a subscriber acknowledging every other blob, so
            // deposits and acknowledgements share the commits the kill interrupts.
            let mut depositors = Vec::new();
            for _ in 0..8 {
                let (http, url, stored) = (c.http.clone(), url.clone(), Arc::clone(&stored));
                let env = envelope2(alice.id(), &laptop, 512);
                depositors.push(tokio::spawn(async move {
                    while let Ok(r) = http.post(&url).body(env.clone()).send().await {
                        let Ok(body) = r.json::<serde_json::Value>().await else {
                            break;
                        };
                        let id = body["id"].as_str().unwrap().to_string();
                        stored.lock().unwrap().push(id);
                    }
                }));
            }
            let mut ws = Ws::device(&c, &alice, &laptop).await;
            let before = stored.lock().unwrap().len();
            for i in 0.. {
                let (id, _) = ws.blob().await;
                if i % 2 == 0 {
                    ws.ack(&[&id]).await;
                    acked.lock().unwrap().insert(id);
                }
                if stored.lock().unwrap().len() >= before + 300 {
                    break;
                }
            }
            relay.kill();
            for d in depositors {
                d.await.unwrap();
            }
        }
        // Every deposit answered 201 and not acknowledged is still there (an
        // acknowledged one may or may not be).
        let acked = acked.lock().unwrap().clone();
        let expected: HashSet<String> = stored
            .lock()
            .unwrap()
            .iter()
            .filter(|id| !acked.contains(*id))
            .cloned()
            .collect();
        // Only a floor that shows the kills hit a relay under load: how many stay
        // unacknowledged depends on how far the subscriber got (194 of ~900 at load
        // average 18, about half on a quiet machine).
        assert!(expected.len() >= 50, "under load: {}", expected.len());
        let relay = Process::spawn(&backend, dir.path(), &flags).await;
        let mut ws = Ws::device(&relay.client(), &alice, &laptop).await;
        let mut found = HashSet::new();
        while !expected.is_subset(&found) {
            found.insert(ws.blob().await.0);
        }
    }
}

/// A subscriber acknowledges every blob the moment it is pushed, which on SQLite is
/// before the deposit's commit has ended (relay/src/push/hand_off.rs): the
/// acknowledgements are committed after the blobs they delete, so after a `kill -9`
/// none of them comes back and the mailbox's counters are right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_acknowledged_as_soon_as_pushed_stay_gone_after_kill_9() {
    use std::collections::HashSet;

    use common::v2::envelope2;

    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let flags = ["--rate-ip-per-sec", "0", "--rate-mailbox-per-sec", "0"];
        let relay = Process::spawn(&backend, dir.path(), &flags).await;
        let c = relay.client();
        let (alice, laptop) = c.account(0).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        let url = format!("{}{}", c.base, alice.mailbox(&laptop));
        let mut depositors = Vec::new();
        for _ in 0..8 {
            let (http, url) = (c.http.clone(), url.clone());
            let env = envelope2(alice.id(), &laptop, 512);
            depositors.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..25 {
                    let r = http.post(&url).body(env.clone()).send().await.unwrap();
                    assert_eq!(r.status(), StatusCode::CREATED);
                    let body: serde_json::Value = r.json().await.unwrap();
                    ids.push(body["id"].as_str().unwrap().to_string());
                }
                ids
            }));
        }
        let mut acked = HashSet::new();
        while acked.len() < 200 {
            let (id, _) = ws.blob().await;
            ws.ack(&[&id]).await;
            assert!(acked.insert(id), "pushed once");
        }
        let mut stored = HashSet::new();
        for d in depositors {
            stored.extend(d.await.unwrap());
        }
        assert_eq!(stored, acked, "every stored blob pushed, nothing else");
        eventually("the acknowledgements are committed", || async {
            c.list2(&alice, &laptop).await.is_empty()
        })
        .await;
        relay.kill();

        let relay = Process::spawn(&backend, dir.path(), &flags).await;
        let c = relay.client();
        assert!(c.list2(&alice, &laptop).await.is_empty(), "none came back");
        // The counters agree with the rows: the mailbox takes a blob and pushes it
        // (the first after many acknowledged ones, as the next in sequence).
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        let (id, _) = c.deposit2_ok(&alice, &laptop).await;
        assert_eq!(ws.blob().await.0, id);
    }
}
