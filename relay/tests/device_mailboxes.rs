//! Per-device mailboxes (docs/API.md "Device mailboxes"), as attacks: a revoked
//! device's mailbox, one device's credentials on another's mailbox, envelopes for the
//! wrong device, one device filling its quota. Every backend: SQLite always,
//! PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_lists_acknowledges_and_deletes_with_signature_or_token() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;

        // Offline deposit, delivered on connect; live deposits pushed; per device.
        let first = c.deposit2_ok(&alice, &laptop).await;
        let mut ws = Ws::device(&c, &alice, &laptop).await;
        assert_eq!(ws.blob().await, first);
        let live = c.deposit2_ok(&alice, &laptop).await;
        assert_eq!(ws.blob().await, live);
        let for_phone = c.deposit2_ok(&alice, &phone).await;
        ws.ack(&[&first.0]).await;
        eventually("the WebSocket acknowledgement deletes the blob", || async {
            c.list2(&alice, &laptop).await == vec![live.clone()]
        })
        .await;
        assert_eq!(c.list2(&alice, &phone).await, vec![for_phone.clone()]);

        // Token, ack and delete on the phone's mailbox.
        let token = c.token2(&alice, &phone).await;
        let bearer = format!("Bearer {token}");
        let r = c.list2_with(&alice, &phone, &bearer).await;
        assert_eq!(r.json()["blobs"][0]["id"], for_phone.0.as_str());
        let ack = json!({"ids": [for_phone.0]}).to_string().into_bytes();
        let r = c
            .send(
                Method::POST,
                &format!("{}/ack", alice.mailbox(&phone)),
                Some(&bearer),
                ack,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(c.list2(&alice, &phone).await.is_empty());
        let blob_path = format!("{}/blobs/{}", alice.mailbox(&laptop), live.0);
        let r = c.delete_signed(&alice, &blob_path).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(c.list2(&alice, &laptop).await.is_empty());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_must_name_the_mailboxs_device() {
    for backend in backends() {
        let server = Server::start(&backend, &["--max-blob-bytes", "65536"]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;
        let mut stranger = Account::new(0);
        let unlisted = stranger.add_device();
        let mut version_1 = envelope2(alice.id(), &laptop, 512);
        version_1[0] = 1;
        let cases = [
            (
                "an envelope for the phone in the laptop's mailbox",
                envelope2(alice.id(), &phone, 512),
                StatusCode::BAD_REQUEST,
                "bad_envelope",
            ),
            (
                "a version 1 envelope",
                version_1,
                StatusCode::BAD_REQUEST,
                "bad_envelope",
            ),
            (
                "an envelope for another account",
                envelope2(stranger.id(), &laptop, 512),
                StatusCode::BAD_REQUEST,
                "bad_envelope",
            ),
            (
                "not a bucket",
                envelope2(alice.id(), &laptop, 600),
                StatusCode::BAD_REQUEST,
                "not_a_bucket",
            ),
            (
                "too large",
                envelope2(alice.id(), &laptop, 131_072),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
        ];
        for (case, body, status, code) in cases {
            let r = c.deposit2(&alice, &laptop, body).await;
            assert_eq!((r.status, r.error().as_str()), (status, code), "{case}");
        }
        // A device that is not in the list, of a listed account and of none.
        let mut not_listed = Account::from_user(User::with_id(alice.user.id, 0));
        let extra = not_listed.add_device();
        let r = c.deposit2_fresh(&alice, &extra).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_device")
        );
        let r = c
            .deposit2(
                &stranger,
                &unlisted,
                envelope2(stranger.id(), &unlisted, 512),
            )
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_device")
        );
        assert!(
            c.list2(&alice, &laptop).await.is_empty(),
            "nothing was stored"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_has_its_own_quota() {
    for backend in backends() {
        let server = Server::start(&backend, &["--mailbox-max-blobs", "2"]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;
        let kept = [
            c.deposit2_ok(&alice, &laptop).await,
            c.deposit2_ok(&alice, &laptop).await,
        ];
        let r = c.deposit2_fresh(&alice, &laptop).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::INSUFFICIENT_STORAGE, "mailbox_full")
        );
        // The full laptop does not stop the phone.
        c.deposit2_ok(&alice, &phone).await;
        c.deposit2_ok(&alice, &phone).await;
        assert_eq!(c.list2(&alice, &laptop).await, kept.to_vec());
        // Acknowledging frees the laptop's quota.
        let path = format!("{}/blobs/{}", alice.mailbox(&laptop), kept[0].0);
        c.delete_signed(&alice, &path).await;
        c.deposit2_ok(&alice, &laptop).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_devices_credentials_do_not_open_another_devices_mailbox() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let phone = alice.add_device();
        c.publish_list(&mut alice).await;
        c.deposit2_ok(&alice, &phone).await;
        let bob = {
            let mut bob = Account::new(1);
            bob.add_device();
            c.publish_list(&mut bob).await;
            bob
        };

        let laptop_list = format!("{}/blobs", alice.mailbox(&laptop));
        let phone_list = format!("{}/blobs", alice.mailbox(&phone));
        let laptop_token = c.token2(&alice, &laptop).await;
        let cases = [
            (
                "the laptop's signed request replayed on the phone's path",
                phone_list.clone(),
                alice.sign("GET", &laptop_list, b""),
            ),
            (
                "the laptop's token on the phone's mailbox",
                phone_list.clone(),
                format!("Bearer {laptop_token}"),
            ),
            (
                "another account's key",
                phone_list.clone(),
                bob.sign("GET", &phone_list, b""),
            ),
        ];
        for (case, path, auth) in cases {
            let r = c.send(Method::GET, &path, Some(&auth), vec![]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}");
        }
        // WebSocket: the laptop's answer on the phone's mailbox, the laptop's token.
        let (mut ws, reply) =
            Ws::open2(&c, &alice.mailbox(&phone), Ws2Auth::Signed(&alice, laptop)).await;
        assert_eq!(reply, json!({"type": "error", "error": "unauthorized"}));
        assert!(ws.next().await.is_none());
        let (_, reply) = Ws::open2(&c, &alice.mailbox(&phone), Ws2Auth::Token(&laptop_token)).await;
        assert_eq!(reply, json!({"type": "error", "error": "unauthorized"}));
        // An answer without the device id signed (as protocol v1 had it).
        let (mut ws, _) = {
            let url = format!(
                "{}{}/ws",
                c.base.replacen("http://", "ws://", 1),
                alice.mailbox(&phone)
            );
            let mut ws = Ws::connect(&url).await;
            let challenge = ws.next().await.unwrap();
            let raw = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                challenge["challenge"].as_str().unwrap(),
            )
            .unwrap();
            let msg = sealpost_core::auth::challenge_signing_input(alice.id(), &raw);
            let sig = alice
                .user
                .key
                .sign(&mut sealpost_core::os_rng(), &msg)
                .unwrap();
            let sig =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig);
            ws.send(json!({"type": "auth", "signature": sig})).await;
            (ws, ())
        };
        assert_eq!(
            ws.next().await.unwrap(),
            json!({"type": "error", "error": "unauthorized"})
        );
        // The phone's own credentials work.
        let mut ws = Ws::device(&c, &alice, &phone).await;
        ws.blob().await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_device_deletes_its_mailbox_and_ends_its_sessions() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        let stolen = alice.add_device();
        c.publish_list(&mut alice).await;
        c.put_device_bundle(&mut alice, &stolen).await;
        let kept = c.deposit2_ok(&alice, &laptop).await;
        c.deposit2_ok(&alice, &stolen).await;
        let token = c.token2(&alice, &stolen).await;
        let mut session = Ws::device(&c, &alice, &stolen).await;
        session.blob().await;

        alice.remove_device(&stolen);
        let r = c.publish_list(&mut alice).await;
        assert_eq!(r.json()["revoked"], json!([stolen.to_hex()]));

        assert_eq!(
            session.next().await,
            Some(json!({"type": "error", "error": "revoked"})),
            "the open session is told and closed"
        );
        assert!(session.next().await.is_none());
        let r = c.deposit2_fresh(&alice, &stolen).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_device"),
            "a deposit to a revoked device"
        );
        let r = c
            .list2_with(&alice, &stolen, &format!("Bearer {token}"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "its token");
        let path = format!("{}/blobs", alice.mailbox(&stolen));
        let r = c
            .list2_with(&alice, &stolen, &alice.sign("GET", &path, b""))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "even the account's key");
        let (_, reply) =
            Ws::open2(&c, &alice.mailbox(&stolen), Ws2Auth::Signed(&alice, stolen)).await;
        assert_eq!(reply, json!({"type": "error", "error": "unauthorized"}));
        let r = c
            .send(Method::GET, &alice.bundle_path(&stolen), None, vec![])
            .await;
        assert_eq!(r.error(), "unknown_device", "its bundle is gone");
        let r = c.put_device_bundle(&mut alice, &stolen).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_device")
        );
        assert_eq!(
            c.list2(&alice, &laptop).await,
            vec![kept],
            "others keep theirs"
        );

        // Listed again (by a later list), it starts empty: the blobs were deleted,
        // not only hidden, and the old token stays dead.
        alice.readd_device(&stolen);
        c.publish_list(&mut alice).await;
        assert!(c.list2(&alice, &stolen).await.is_empty());
        let r = c
            .list2_with(&alice, &stolen, &format!("Bearer {token}"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_device_blobs_are_purged() {
    for backend in backends() {
        let backend = isolated(&backend).await;
        let server = Server::start(
            &backend,
            &[
                "--blob-ttl-secs",
                "1",
                "--purge-interval-secs",
                "1",
                "--mailbox-max-blobs",
                "1",
            ],
        )
        .await;
        let c = server.client();
        let mut alice = Account::new(0);
        let laptop = alice.add_device();
        c.publish_list(&mut alice).await;
        c.deposit2_ok(&alice, &laptop).await;
        eventually("the purge deletes the expired blob", || async {
            c.list2(&alice, &laptop).await.is_empty()
        })
        .await;
        // The device's counters were released with it.
        c.deposit2_ok(&alice, &laptop).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_process_closes_sessions_on_another() {
    let Some(url) = postgres_url() else {
        skipped(SKIPPED_POSTGRES);
        return;
    };
    let backend = Backend::Postgres(url);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Process::spawn(&backend, dir_a.path(), &[]).await;
    let b = Process::spawn(&backend, dir_b.path(), &[]).await;
    let (ca, cb) = (a.client(), b.client());
    let mut alice = Account::new(0);
    let laptop = alice.add_device();
    let stolen = alice.add_device();
    ca.publish_list(&mut alice).await;
    let mut on_b = Ws::device(&cb, &alice, &stolen).await;
    let blob = ca.deposit2_ok(&alice, &stolen).await;
    assert_eq!(on_b.blob().await, blob, "deposited on A, pushed by B");
    alice.remove_device(&stolen);
    ca.publish_list(&mut alice).await;
    assert_eq!(
        on_b.next().await,
        Some(json!({"type": "error", "error": "revoked"}))
    );
    let _ = laptop;
}
