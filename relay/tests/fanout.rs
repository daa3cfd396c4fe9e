//! The multi-recipient deposit (docs/API.md "Multi-recipient deposit"), as attacks by
//! an anonymous depositor: oversize and malformed recipient lists, a mailbox named
//! twice, unknown and full mailboxes among good ones, a flood, and what a `201`
//! promises (pushed to every recipient's WebSocket; stored in every mailbox at once,
//! through `kill -9`). Every backend: SQLite always, PostgreSQL when
//! `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use sealpost_core::UserId;
use sealpost_core::os_rng;
use sealpost_core::rand_core::Rng;
use sealpost_core::v2::DeviceId;
use serde_json::{Value, json};

/// A bucket-sized group message (version 3): `0x03 || random`.
fn group_blob(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    os_rng().fill_bytes(&mut b);
    b[0] = 3;
    b
}

/// The request body: `u16(n) || n × (user_id || device_id) || blob`.
fn body(to: &[(UserId, DeviceId)], blob: &[u8]) -> Vec<u8> {
    let mut b = u16::try_from(to.len()).unwrap().to_be_bytes().to_vec();
    for (user, device) in to {
        b.extend_from_slice(user.as_bytes());
        b.extend_from_slice(device.as_bytes());
    }
    b.extend_from_slice(blob);
    b
}

/// `n` mailboxes nobody registered.
fn strangers(n: usize) -> Vec<(UserId, DeviceId)> {
    (0..n)
        .map(|_| {
            let mut id = [0u8; 32];
            os_rng().fill_bytes(&mut id);
            (UserId::from_bytes(id), DeviceId::generate(&mut os_rng()))
        })
        .collect()
}

async fn deposit_many(c: &Client, body: Vec<u8>) -> Reply {
    c.send(Method::POST, "/v2/mailboxes", None, body).await
}

/// The `refused` list of a `201` as (index, code).
fn refused(r: &Reply) -> Vec<(u64, String)> {
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.bytes)
    );
    r.json()["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Three accounts, two devices each, lists published: the members of a group.
async fn group(c: &Client) -> Vec<(Account, Vec<DeviceId>)> {
    let mut members = Vec::new();
    for key in 0..3 {
        let mut account = Account::new(key % 2);
        let devices = vec![account.add_device(), account.add_device()];
        c.publish_list(&mut account).await;
        members.push((account, devices));
    }
    members
}

fn mailboxes(members: &[(Account, Vec<DeviceId>)]) -> Vec<(UserId, DeviceId)> {
    members
        .iter()
        .flat_map(|(a, ds)| ds.iter().map(|d| (*a.id(), *d)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upload_reaches_every_recipient_and_is_pushed_to_each_websocket() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let members = group(&c).await;
        let mut sockets = Vec::new();
        for (account, devices) in &members {
            for d in devices {
                sockets.push(Ws::device(&c, account, d).await);
            }
        }
        let blob = group_blob(512);
        let r = deposit_many(&c, body(&mailboxes(&members), &blob)).await;
        assert!(refused(&r).is_empty());
        let id = r.json()["id"].as_str().unwrap().to_string();
        for ws in &mut sockets {
            assert_eq!(ws.blob().await, (id.clone(), blob.clone()));
        }
        for (account, devices) in &members {
            for d in devices {
                assert_eq!(c.list2(account, d).await, vec![(id.clone(), blob.clone())]);
            }
        }
        // A group message may also go to one mailbox alone.
        let (alice, laptop) = (&members[0].0, members[0].1[0]);
        let single = c.deposit2(alice, &laptop, group_blob(512)).await;
        assert_eq!(single.status, StatusCode::CREATED);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversize_and_duplicate_lists_store_nothing_anywhere() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let members = group(&c).await;
        let to = mailboxes(&members);
        let blob = group_blob(512);
        let mut duplicate = to.clone();
        duplicate.push(to[3]);
        let mut short = body(&to, &[]);
        short.truncate(2 + 48 * to.len() - 1);
        let mut v2_envelope = envelope2(members[0].0.id(), &members[0].1[0], 512);
        v2_envelope[0] = 2;
        let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
            (
                "an empty body",
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_recipients",
            ),
            (
                "no recipient",
                body(&[], &blob),
                StatusCode::BAD_REQUEST,
                "bad_recipients",
            ),
            (
                "a list cut short",
                short,
                StatusCode::BAD_REQUEST,
                "bad_recipients",
            ),
            (
                "8001 recipients",
                body(&[to.clone(), strangers(7995)].concat(), &blob),
                StatusCode::BAD_REQUEST,
                "too_many_recipients",
            ),
            (
                "a mailbox named twice",
                body(&duplicate, &blob),
                StatusCode::BAD_REQUEST,
                "duplicate_recipient",
            ),
            (
                "a v2 envelope (bound to one mailbox)",
                body(&to, &v2_envelope),
                StatusCode::BAD_REQUEST,
                "bad_envelope",
            ),
            (
                "not a bucket",
                body(&to, &group_blob(513)),
                StatusCode::BAD_REQUEST,
                "not_a_bucket",
            ),
            (
                "over the blob limit",
                body(&to, &group_blob(2 * 1024 * 1024)),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
        ];
        for (what, b, status, code) in cases {
            let r = deposit_many(&c, b).await;
            assert_eq!((r.status, r.error().as_str()), (status, code), "{what}");
        }
        // 8000 recipients of a 16 KiB blob would store 125 MiB: over the per-request
        // total, refused before anything is written.
        let r = deposit_many(
            &c,
            body(
                &[to.clone(), strangers(7994)].concat(),
                &group_blob(16 * 1024),
            ),
        )
        .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
        );
        for (account, devices) in &members {
            for d in devices {
                assert!(c.list2(account, d).await.is_empty(), "nothing stored");
            }
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_revoked_and_full_mailboxes_are_refused_one_by_one() {
    for backend in backends() {
        let server = Server::start(&backend, &["--mailbox-max-blobs", "2"]).await;
        let c = server.client();
        let mut members = group(&c).await;
        // Bob's phone is revoked; carol's laptop is full; a stranger was never listed.
        let phone = members[1].1[1];
        members[1].0.remove_device(&phone);
        c.publish_list(&mut members[1].0).await;
        let (carol, carol_laptop) = (&members[2].0, members[2].1[0]);
        c.deposit2_ok(carol, &carol_laptop).await;
        c.deposit2_ok(carol, &carol_laptop).await;
        let mut to = mailboxes(&members);
        to.extend(strangers(1));
        let blob = group_blob(1024);
        let r = deposit_many(&c, body(&to, &blob)).await;
        let want = vec![
            (3, "unknown_device".to_string()),
            (4, "mailbox_full".to_string()),
            (6, "unknown_device".to_string()),
        ];
        assert_eq!(refused(&r), want);
        let id = r.json()["id"].as_str().unwrap().to_string();
        for (i, (account, devices)) in members.iter().enumerate() {
            for (j, d) in devices.iter().enumerate() {
                if (i, j) == (1, 1) {
                    continue; // revoked: its mailbox is gone
                }
                let listed = c.list2(account, d).await;
                if (i, j) == (2, 0) {
                    assert!(listed.iter().all(|(b, _)| *b != id));
                } else {
                    assert_eq!(listed, vec![(id.clone(), blob.clone())]);
                }
            }
        }
        // The others fill up one at a time; each refusal is its own.
        let r = deposit_many(&c, body(&to, &blob)).await;
        assert_eq!(refused(&r), want);
        let r = deposit_many(&c, body(&to, &blob)).await;
        assert_eq!(refused(&r).len(), to.len(), "every mailbox full or unknown");
        assert!(refused(&r).iter().all(|(_, e)| e != "rate_limited"));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_limited_per_mailbox_and_per_address() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &[
                "--rate-mailbox-per-sec",
                "0.001",
                "--rate-mailbox-burst",
                "3",
                "--rate-ip-per-sec",
                "0.001",
                "--rate-ip-burst",
                "20",
            ],
        )
        .await;
        let c = client_from(&server, "127.0.0.2");
        let members = group(&c).await;
        let to = mailboxes(&members);
        // The flood fills alice's laptop's deposit rate through single deposits too:
        // a fan-out gets no more out of a mailbox than deposits do.
        let (alice, laptop) = (&members[0].0, members[0].1[0]);
        assert_eq!(
            c.deposit2_fresh(alice, &laptop).await.status,
            StatusCode::CREATED
        );
        let blob = group_blob(512);
        for _ in 0..2 {
            assert!(refused(&deposit_many(&c, body(&to, &blob)).await).is_empty());
        }
        let r = deposit_many(&c, body(&to, &blob)).await;
        assert_eq!(refused(&r), vec![(0, "rate_limited".to_string())]);
        let r = deposit_many(&c, body(&to, &blob)).await;
        assert_eq!(refused(&r).len(), to.len());
        assert_eq!(c.list2(alice, &laptop).await.len(), 3);
        // 1000 recipients cost 20 requests of the address's rate: more than the 11
        // it has left. Nothing is stored, and another address is not affected.
        let r = deposit_many(&c, body(&strangers(1000), &blob)).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        let other = client_from(&server, "127.0.0.3");
        let r = deposit_many(&other, body(&strangers(1000), &blob)).await;
        assert_eq!(refused(&r).len(), 1000);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_201_survives_kill_9_in_every_mailbox_and_no_deposit_is_half_stored() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let flags = ["--rate-ip-per-sec", "0", "--rate-mailbox-per-sec", "0"];
        let members = {
            let relay = Process::spawn(&backend, dir.path(), &flags).await;
            let members = group(&relay.client()).await;
            relay.kill();
            members
        };
        let to = mailboxes(&members);
        let stored: Arc<Mutex<HashSet<String>>> = Arc::default();
        let relay = Process::spawn(&backend, dir.path(), &flags).await;
        let c = relay.client();
        let mut depositors = Vec::new();
        for _ in 0..4 {
            let url = format!("{}/v2/mailboxes", c.base);
            let (http, stored, b) = (
                c.http.clone(),
                Arc::clone(&stored),
                body(&to, &group_blob(512)),
            );
            depositors.push(tokio::spawn(async move {
                while let Ok(r) = http.post(&url).body(b.clone()).send().await {
                    let Ok(reply) = r.json::<Value>().await else {
                        break;
                    };
                    assert_eq!(reply["refused"], json!([]));
                    stored
                        .lock()
                        .unwrap()
                        .insert(reply["id"].as_str().unwrap().to_string());
                }
            }));
        }
        let mut ws = Ws::device(&c, &members[0].0, &members[0].1[0]).await;
        for _ in 0..100 {
            ws.blob().await;
        }
        relay.kill();
        for d in depositors {
            d.await.unwrap();
        }
        let acknowledged = stored.lock().unwrap().clone();
        assert!(
            acknowledged.len() >= 10,
            "under load: {}",
            acknowledged.len()
        );
        let relay = Process::spawn(&backend, dir.path(), &flags).await;
        let c = relay.client();
        let mut first: Option<HashSet<String>> = None;
        for (account, devices) in &members {
            for d in devices {
                // Every 201 is there; whatever the kill cut short is nowhere.
                let listed = waiting(&c, account, d).await;
                assert!(acknowledged.is_subset(&listed));
                match &first {
                    None => first = Some(listed),
                    Some(f) => assert_eq!(&listed, f, "the same deposits in every mailbox"),
                }
            }
        }
    }
}

/// The ids of every blob waiting in a mailbox, listed and acknowledged page by page
/// (a listing holds at most 100).
async fn waiting(c: &Client, account: &Account, device: &DeviceId) -> HashSet<String> {
    let mut ids = HashSet::new();
    loop {
        let page = c.list2(account, device).await;
        if page.is_empty() {
            return ids;
        }
        let fresh: Vec<String> = page.into_iter().map(|(id, _)| id).collect();
        let path = format!("{}/ack", account.mailbox(device));
        let ack = json!({ "ids": fresh }).to_string().into_bytes();
        let r = c
            .send(
                Method::POST,
                &path,
                Some(&account.sign("POST", &path, &ack)),
                ack,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        ids.extend(fresh);
    }
}
