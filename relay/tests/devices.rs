//! The v2 device directory (docs/API.md "Devices"), as attacks: forged and replayed
//! device lists, bundles for devices that are not listed or signed by another key.
//! Every backend: SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use sealpost_core::v2::DeviceId;
use sealpost_core::{UserId, os_rng};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_list_is_first_come_then_only_newer_lists_of_its_key() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        alice.add_device();
        alice.add_device();
        let path = alice.list_path();

        let r = c.send(Method::GET, &path, None, vec![]).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_user")
        );
        let first = alice.next_list();
        let r = c.put_list(&alice, first.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        assert_eq!(c.send(Method::GET, &path, None, vec![]).await.bytes, first);

        // Forged: a list for alice's id signed by another identity key, with a larger
        // version. Refused, the stored list stays.
        let mut mallory = Account::from_user(User::with_id(alice.user.id, 1));
        mallory.add_device();
        let forged = mallory.next_list();
        let r = c.put_list(&mallory, forged).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "identity_mismatch")
        );
        assert_eq!(c.send(Method::GET, &path, None, vec![]).await.bytes, first);

        // Replays: the same list again, and an older one after an update.
        let r = c.put_list(&alice, first.clone()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "stale")
        );
        let newer = c.publish_list(&mut alice).await;
        assert_eq!(newer.status, StatusCode::OK);
        let r = c.put_list(&alice, first.clone()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "stale")
        );
        let equal_version = alice.list_at(alice.version);
        assert_eq!(
            c.put_list(&alice, equal_version).await.error(),
            "stale",
            "an equal version is stale too"
        );

        // A list must name the id of its path, and parse and verify.
        let mut bob = Account::new(0);
        bob.add_device();
        let r = c
            .send(
                Method::PUT,
                &format!("/v2/users/{}/devices", User::new(0).hex),
                None,
                bob.next_list(),
            )
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_device_list")
        );
        let mut garbled = bob.next_list();
        let last = garbled.len() - 1;
        garbled[last] ^= 1;
        let r = c.put_list(&bob, garbled).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_device_list")
        );
        let r = c.put_list(&bob, vec![0x4c, 2, 0]).await;
        assert_eq!(r.error(), "invalid_device_list");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_bundles_need_a_listed_device_and_the_lists_key() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;
        let path = alice.bundle_path(&laptop);

        let r = c.send(Method::GET, &path, None, vec![]).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "no_bundle")
        );
        let r = c.put_device_bundle(&mut alice, &laptop).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        let stored = c.send(Method::GET, &path, None, vec![]).await;
        assert_eq!(stored.status, StatusCode::OK);
        let r = c.put_device_bundle(&mut alice, &laptop).await;
        assert_eq!(r.status, StatusCode::OK, "a newer bundle replaces it");
        let newest = c.send(Method::GET, &path, None, vec![]).await.bytes;
        assert_ne!(newest, stored.bytes);

        // Replay of the older bundle, correctly signed request: stale.
        let auth = alice.sign("PUT", &path, &stored.bytes);
        let r = c
            .send(Method::PUT, &path, Some(&auth), stored.bytes.clone())
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "stale")
        );

        // A bundle for a device that is not in the list.
        let mut with_stranger = Account::from_user(User::with_id(alice.user.id, 0));
        let stranger = with_stranger.add_device();
        let bundle = with_stranger.bundle(&stranger);
        let stranger_path = alice.bundle_path(&stranger);
        let auth = alice.sign("PUT", &stranger_path, &bundle);
        let r = c
            .send(Method::PUT, &stranger_path, Some(&auth), bundle)
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_device")
        );

        // A bundle signed by another identity key, uploaded with a valid request.
        // The forger's keys, the phone's id.
        let mut forger = Account::from_user(User::with_id(alice.user.id, 1));
        forger.add_device_with_id(phone);
        let forged = forger.bundle(&phone);
        let phone_path = alice.bundle_path(&phone);
        let auth = alice.sign("PUT", &phone_path, &forged);
        let r = c
            .send(Method::PUT, &phone_path, Some(&auth), forged.clone())
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "identity_mismatch")
        );

        // Requests not signed by the list's key, or not signed at all.
        let bundle = alice.bundle(&phone);
        let r = c.send(Method::PUT, &phone_path, None, bundle.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let auth = forger.sign("PUT", &phone_path, &bundle);
        let r = c
            .send(Method::PUT, &phone_path, Some(&auth), bundle.clone())
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // A token is not enough either (signatures only).
        let token = c.token2(&alice, &phone).await;
        let r = c
            .send(
                Method::PUT,
                &phone_path,
                Some(&format!("Bearer {token}")),
                bundle.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // The laptop's bundle on the phone's path.
        let laptop_bundle = alice.bundle(&laptop);
        let auth = alice.sign("PUT", &phone_path, &laptop_bundle);
        let r = c
            .send(Method::PUT, &phone_path, Some(&auth), laptop_bundle)
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_bundle")
        );
        // Properly: accepted.
        let auth = alice.sign("PUT", &phone_path, &bundle);
        let r = c
            .send(Method::PUT, &phone_path, Some(&auth), bundle.clone())
            .await;
        assert_eq!(r.status, StatusCode::CREATED);

        // One request for everything a sender needs.
        let r = c
            .send(
                Method::GET,
                &format!("/v2/users/{}/bundles", alice.hex()),
                None,
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let all = r.json();
        assert_eq!(
            B64.decode(all["list"].as_str().unwrap()).unwrap(),
            c.send(Method::GET, &alice.list_path(), None, vec![])
                .await
                .bytes
        );
        let mut served: Vec<(String, Vec<u8>)> = all["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["device"].as_str().unwrap().to_string(),
                    B64.decode(b["bundle"].as_str().unwrap()).unwrap(),
                )
            })
            .collect();
        served.sort();
        let mut expected = vec![(laptop.to_hex(), newest), (phone.to_hex(), bundle)];
        expected.sort();
        assert_eq!(served, expected);
        let r = c
            .send(
                Method::GET,
                &format!("/v2/users/{}/bundles", User::new(0).hex),
                None,
                vec![],
            )
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_user")
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_status_is_for_the_owner_only() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;
        c.put_device_bundle(&mut alice, &laptop).await;
        c.deposit2_ok(&alice, &phone).await;
        c.deposit2_ok(&alice, &phone).await;
        // The laptop reads its mailbox: it was seen.
        c.list2(&alice, &laptop).await;

        let path = format!("/v2/users/{}/devices/status", alice.hex());
        let r = c.send(Method::GET, &path, None, vec![]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let bob = Account::new(1);
        let r = c
            .send(
                Method::GET,
                &path,
                Some(&bob.sign("GET", &path, b"")),
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = c
            .send(
                Method::GET,
                &path,
                Some(&alice.sign("GET", &path, b"")),
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let devices = r.json()["devices"].as_array().unwrap().clone();
        assert_eq!(devices.len(), 2);
        let get = |d: &DeviceId| {
            devices
                .iter()
                .find(|e| e["id"] == d.to_hex())
                .unwrap()
                .clone()
        };
        let (l, p) = (get(&laptop), get(&phone));
        let seen = l["last_seen"].as_i64().unwrap();
        let now = i64::try_from(now()).unwrap();
        assert_eq!(seen % 300, 0, "rounded to 5 minutes");
        assert!(now - 300 < seen && seen <= now);
        assert_eq!(
            (l["has_bundle"].as_bool(), l["waiting"].as_i64()),
            (Some(true), Some(0))
        );
        assert!(p["last_seen"].is_null(), "the phone never read its mailbox");
        assert_eq!(
            (p["has_bundle"].as_bool(), p["waiting"].as_i64()),
            (Some(false), Some(2))
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_v2_paths_are_refused_first() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let c = server.client();
    let id = UserId::from_bytes([7; 32]).to_hex();
    let device = DeviceId::generate(&mut os_rng()).to_hex();
    let cases = [
        (Method::GET, "/v2/users/abc/devices".to_string(), "bad_id"),
        (Method::PUT, "/v2/users/abc/devices".to_string(), "bad_id"),
        (
            Method::GET,
            format!("/v2/users/{id}/devices/{}/bundle", device.to_uppercase()),
            "bad_device",
        ),
        (
            Method::PUT,
            format!("/v2/users/{id}/devices/xyz/bundle"),
            "bad_device",
        ),
        (
            Method::POST,
            format!("/v2/mailboxes/{id}/xyz"),
            "bad_device",
        ),
        (
            Method::GET,
            format!("/v2/mailboxes/{id}/xyz/blobs"),
            "bad_device",
        ),
        (
            Method::GET,
            format!("/v2/mailboxes/{}/{device}/blobs", "A".repeat(64)),
            "bad_id",
        ),
        (
            Method::GET,
            format!("/v2/mailboxes/{id}/xyz/ws"),
            "bad_device",
        ),
        (Method::GET, "/v2/nothing".to_string(), "not_found"),
    ];
    for (method, path, code) in cases {
        let r = c.send(method.clone(), &path, None, vec![]).await;
        assert_eq!(r.error(), code, "{method} {path}: {}", r.status);
        assert!(r.status.is_client_error());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_breaks_the_v2_routes() {
    use sealpost_core::rand_core::Rng;
    let server = Server::start(
        &Backend::Sqlite,
        &["--rate-ip-per-sec", "0", "--rate-link-per-sec", "0"],
    )
    .await;
    let c = server.client();
    let mut alice = Account::new(0);
    let laptop = alice.add_device();
    c.publish_list(&mut alice).await;
    let before = c.deposit2_ok(&alice, &laptop).await;
    let list = c
        .send(Method::GET, &alice.list_path(), None, vec![])
        .await
        .bytes;
    let mut rng = os_rng();
    let h = alice.hex().to_string();
    let d = laptop.to_hex();
    let channel = "0123456789abcdef0123456789abcdef";
    let paths = [
        (Method::PUT, format!("/v2/users/{h}/devices")),
        (Method::PUT, format!("/v2/users/{h}/devices/{d}/bundle")),
        (Method::GET, format!("/v2/users/{h}/devices/status")),
        (Method::POST, format!("/v2/mailboxes/{h}/{d}")),
        (Method::POST, format!("/v2/mailboxes/{h}/{d}/token")),
        (Method::POST, format!("/v2/mailboxes/{h}/{d}/ack")),
        (Method::GET, format!("/v2/mailboxes/{h}/{d}/blobs")),
        (Method::PUT, format!("/v2/users/{h}/backup")),
        (Method::POST, format!("/v2/users/{h}/backup/fetch")),
        (Method::PUT, format!("/v2/links/{channel}/hello")),
        (Method::PUT, format!("/v2/links/{channel}/grant")),
    ];
    for round in 0..220 {
        let (method, path) = &paths[round % paths.len()];
        let len = [0, 1, 31, 49, 50, 512, 513, 1024, 4096][rng.next_u32() as usize % 9];
        let mut body = vec![0u8; len];
        rng.fill_bytes(&mut body);
        if len > 49 && round % 2 == 0 {
            // Looks like an envelope for the laptop, or like a device list.
            body[0] = 2;
            body[1..33].copy_from_slice(alice.id().as_bytes());
            body[33..49].copy_from_slice(laptop.as_bytes());
        }
        if round % 5 == 0 && len > 0 {
            // A real list with bytes flipped.
            body = list.clone();
            let i = rng.next_u32() as usize % body.len();
            body[i] ^= 1 << (rng.next_u32() % 8);
        }
        let auth = match round % 3 {
            0 => None,
            1 => Some(format!(
                "Sealpost-Sig ts={},nonce={},sig={}",
                now(),
                nonce(),
                nonce()
            )),
            _ => Some(format!("Bearer {}", nonce())),
        };
        let r = c.send(method.clone(), path, auth.as_deref(), body).await;
        assert!(r.status.as_u16() < 500, "{method} {path}: {}", r.status);
    }
    assert_eq!(
        c.send(Method::GET, &alice.list_path(), None, vec![])
            .await
            .bytes,
        list,
        "the list is intact"
    );
    assert!(c.list2(&alice, &laptop).await.contains(&before));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_future_version_cannot_freeze_the_device_list() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        alice.add_device();
        // Registration and update alike: more than a day ahead is refused...
        for list in [
            alice.list_at(now() + 2 * 86_400),
            alice.list_at(u64::MAX / 2),
        ] {
            let r = c.put_list(&alice, list).await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::BAD_REQUEST, "invalid_device_list")
            );
        }
        c.publish_list(&mut alice).await;
        let r = c.put_list(&alice, alice.list_at(now() + 3 * 86_400)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // ... an hour ahead (a fast clock) is fine, and later lists still go on top.
        let ahead = now() + 3600;
        assert_eq!(
            c.put_list(&alice, alice.list_at(ahead)).await.status,
            StatusCode::OK
        );
        alice.version = ahead;
        alice.add_device();
        assert_eq!(c.publish_list(&mut alice).await.status, StatusCode::OK);
        server.stop().await;
    }
}
