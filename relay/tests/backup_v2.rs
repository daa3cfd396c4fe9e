//! Key backups (docs/API.md "Key backup"), as attacks: uploads by anyone but the
//! device list's key, blobs of another id, of protocol v1 or too large; guessing the
//! token. Every backend: SQLite always,
//! PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use sealpost_core::backup::{BackupParams, HEADER_LEN, MIN_ITERATIONS};
use sealpost_core::rand_core::Rng;
use sealpost_core::v2::backup as backup2;
use sealpost_core::{UserId, os_rng};

const PASSWORD: &str = "correct horse battery staple";

fn path(id_hex: &str) -> String {
    format!("/v2/users/{id_hex}/backup")
}

/// `token || blob`, the upload body.
fn body(token: &[u8; 32], blob: &[u8]) -> Vec<u8> {
    [token.as_slice(), blob].concat()
}

fn random_token() -> [u8; 32] {
    let mut t = [0u8; 32];
    os_rng().fill_bytes(&mut t);
    t
}

/// A blob of `len` bytes with a well-formed header of `tag` for `id` and random bytes
/// after it: all the relay looks at is the header.
fn fake_blob(tag: u8, id: &UserId, len: usize) -> Vec<u8> {
    let mut blob = vec![b'K', tag];
    blob.extend_from_slice(id.as_bytes());
    let mut salt = [0u8; 16];
    os_rng().fill_bytes(&mut salt);
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&MIN_ITERATIONS.to_be_bytes());
    assert_eq!(blob.len(), HEADER_LEN);
    let mut rest = vec![0u8; len - HEADER_LEN];
    os_rng().fill_bytes(&mut rest);
    blob.extend_from_slice(&rest);
    blob
}

/// An upload signed by `account`'s identity key.
async fn put_signed(c: &Client, account: &Account, body: Vec<u8>) -> Reply {
    let p = path(account.hex());
    let auth = account.sign("PUT", &p, &body);
    c.send(Method::PUT, &p, Some(&auth), body).await
}

async fn params(c: &Client, id_hex: &str) -> Reply {
    c.send(
        Method::GET,
        &format!("{}/params", path(id_hex)),
        None,
        vec![],
    )
    .await
}

async fn fetch(c: &Client, id_hex: &str, token: &[u8]) -> Reply {
    c.send(
        Method::POST,
        &format!("{}/fetch", path(id_hex)),
        None,
        token.to_vec(),
    )
    .await
}

fn status(r: &Reply) -> (StatusCode, String) {
    (r.status, r.error())
}

fn refused(status: StatusCode, code: &str) -> (StatusCode, String) {
    (status, code.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_logs_in_with_its_password() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, _) = c.account(0).await;
        let identity = &alice.user.key;

        assert_eq!(
            status(&params(&c, alice.hex()).await),
            refused(StatusCode::NOT_FOUND, "no_backup")
        );
        assert_eq!(
            status(&fetch(&c, alice.hex(), &[0; 32]).await),
            refused(StatusCode::NOT_FOUND, "no_backup")
        );

        // What the client does: derive, export, upload.
        let params1 = BackupParams::generate(&mut os_rng(), MIN_ITERATIONS).unwrap();
        let keys1 = backup2::derive_keys(PASSWORD, alice.id(), &params1).unwrap();
        let blob1 = backup2::export(
            &mut os_rng(),
            alice.id(),
            identity,
            b"account state 1",
            &params1,
            &keys1,
        )
        .unwrap();
        let r = put_signed(&c, &alice, body(&keys1.auth_token(), &blob1)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());

        // A new device: the public header first, then the blob for the token.
        let r = params(&c, alice.hex()).await;
        assert_eq!(
            (r.status, &r.bytes[..]),
            (StatusCode::OK, &blob1[..HEADER_LEN])
        );
        assert_eq!(
            r.headers["content-type"], "application/octet-stream",
            "served as bytes"
        );
        let (id, read) = backup2::params_from_blob(&r.bytes).unwrap();
        assert_eq!((id, read), (*alice.id(), params1));
        let keys = backup2::derive_keys(PASSWORD, &id, &read).unwrap();
        let r = fetch(&c, alice.hex(), &keys.auth_token()).await;
        assert_eq!((r.status, &r.bytes), (StatusCode::OK, &blob1));
        let content = backup2::import(&r.bytes, &keys).unwrap();
        assert_eq!(
            content.identity.to_pkcs8_der().unwrap().to_vec(),
            identity.to_pkcs8_der().unwrap().to_vec()
        );
        assert_eq!(&content.account_state[..], b"account state 1");

        // Replace (new password, so new salt and token): the old token no longer
        // opens anything, the new one gets the new blob.
        let params2 = BackupParams::generate(&mut os_rng(), MIN_ITERATIONS).unwrap();
        let keys2 = backup2::derive_keys("another password!", alice.id(), &params2).unwrap();
        let blob2 = backup2::export(
            &mut os_rng(),
            alice.id(),
            identity,
            b"account state 2",
            &params2,
            &keys2,
        )
        .unwrap();
        let r = put_signed(&c, &alice, body(&keys2.auth_token(), &blob2)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(params(&c, alice.hex()).await.bytes, blob2[..HEADER_LEN]);
        assert_eq!(
            status(&fetch(&c, alice.hex(), &keys1.auth_token()).await),
            refused(StatusCode::FORBIDDEN, "wrong_token")
        );
        let r = fetch(&c, alice.hex(), &keys2.auth_token()).await;
        assert_eq!((r.status, &r.bytes), (StatusCode::OK, &blob2));
        let content = backup2::import(&r.bytes, &keys2).unwrap();
        assert_eq!(&content.account_state[..], b"account state 2");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_device_lists_key_uploads_and_only_its_own_v2_blob() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, device) = c.account(0).await;
        let (bob, _) = c.account(1).await;
        let p = path(alice.hex());
        let token = random_token();
        let good = body(&token, &fake_blob(2, alice.id(), 1000));

        // Unsigned; signed by another key for alice's id; signed by bob for bob's path
        // but sent to alice's; a token of alice's own device mailbox; a replayed
        // signature (same nonce); an id with no device list.
        let r = c.send(Method::PUT, &p, None, good.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "unsigned");
        let mallory = User::with_id(*alice.id(), 1);
        let r = c
            .send(
                Method::PUT,
                &p,
                Some(&mallory.sign("PUT", &p, &good)),
                good.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "signed by another key");
        let bobs = bob.sign("PUT", &path(bob.hex()), &good);
        let r = c.send(Method::PUT, &p, Some(&bobs), good.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "bob's signature");
        let bearer = format!("Bearer {}", c.token2(&alice, &device).await);
        let r = c.send(Method::PUT, &p, Some(&bearer), good.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a mailbox token");
        let stranger = Account::new(0); // no device list
        let sp = path(stranger.hex());
        let sb = body(&token, &fake_blob(2, stranger.id(), 1000));
        let r = c
            .send(Method::PUT, &sp, Some(&stranger.sign("PUT", &sp, &sb)), sb)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no device list");
        assert_eq!(
            status(&params(&c, alice.hex()).await),
            refused(StatusCode::NOT_FOUND, "no_backup"),
            "nothing stored"
        );

        let signed = alice.sign("PUT", &p, &good);
        let r = c.send(Method::PUT, &p, Some(&signed), good.clone()).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = c.send(Method::PUT, &p, Some(&signed), good.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "replayed signature");

        // Signed by alice, but not her v2 blob: bob's id in the header, a v1 blob (tag
        // K 1), another tag, a bare header, no blob at all, a header too short.
        let invalid = [
            ("bob's id", body(&token, &fake_blob(2, bob.id(), 1000))),
            ("tag K 1", body(&token, &fake_blob(1, alice.id(), 1000))),
            ("tag K 3", body(&token, &fake_blob(3, alice.id(), 1000))),
            (
                "header only",
                body(&token, &fake_blob(2, alice.id(), HEADER_LEN)),
            ),
            ("token only", token.to_vec()),
            ("short token", token[..20].to_vec()),
            (
                "short header",
                body(&token, &fake_blob(2, alice.id(), 1000)[..HEADER_LEN - 1]),
            ),
        ];
        for (case, b) in invalid {
            let r = put_signed(&c, &alice, b).await;
            assert_eq!(
                status(&r),
                refused(StatusCode::BAD_REQUEST, "invalid_backup"),
                "{case}"
            );
        }
        // Iterations out of range: the core's header check.
        let mut weak = fake_blob(2, alice.id(), 1000);
        weak[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&1u32.to_be_bytes());
        let r = put_signed(&c, &alice, body(&token, &weak)).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::BAD_REQUEST, "invalid_backup")
        );

        // What was stored is still alice's first upload.
        let r = fetch(&c, alice.hex(), &token).await;
        assert_eq!((r.status, &r.bytes[..]), (StatusCode::OK, &good[32..]));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_blobs_up_to_the_configured_size_are_stored() {
    for backend in backends() {
        // The default: 256 KiB, four times the body limit of the other small routes.
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, _) = c.account(0).await;
        let token = random_token();
        let max = 256 * 1024;
        let blob = fake_blob(2, alice.id(), max);
        let r = put_signed(&c, &alice, body(&token, &blob)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
        let r = fetch(&c, alice.hex(), &token).await;
        assert_eq!((r.status, r.bytes.len()), (StatusCode::OK, max));
        assert_eq!(r.bytes, blob);
        let r = put_signed(&c, &alice, body(&token, &fake_blob(2, alice.id(), max + 1))).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large")
        );
        let r = put_signed(&c, &alice, body(&token, &fake_blob(2, alice.id(), 2 * max))).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large")
        );
        // Unsigned and too large: the size answers first, without reading further.
        let r = c
            .send(
                Method::PUT,
                &path(alice.hex()),
                None,
                body(&token, &fake_blob(2, alice.id(), 2 * max)),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(fetch(&c, alice.hex(), &token).await.bytes, blob, "kept");
        server.stop().await;

        // A smaller configured limit, to the byte.
        let server = Server::start(&backend, &["--max-backup-v2-bytes", "4096"]).await;
        let c = server.client();
        let (alice, _) = c.account(0).await;
        let r = put_signed(&c, &alice, body(&token, &fake_blob(2, alice.id(), 4096))).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = put_signed(&c, &alice, body(&token, &fake_blob(2, alice.id(), 4097))).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::PAYLOAD_TOO_LARGE, "too_large")
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_v2_tokens_are_counted_and_limited() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let (alice, _) = c.account(0).await;
        let token = random_token();
        let blob = fake_blob(2, alice.id(), 500);
        assert_eq!(
            put_signed(&c, &alice, body(&token, &blob)).await.status,
            StatusCode::NO_CONTENT
        );
        for bad in [vec![], vec![1, 2, 3], vec![7; 31], vec![7; 33]] {
            assert_eq!(
                status(&fetch(&c, alice.hex(), &bad).await),
                refused(StatusCode::BAD_REQUEST, "bad_token"),
                "not counted: a malformed token is no guess"
            );
        }
        for _ in 0..5 {
            assert_eq!(
                status(&fetch(&c, alice.hex(), &[7; 32]).await),
                refused(StatusCode::FORBIDDEN, "wrong_token")
            );
        }
        // The limit holds even for the right token until the window ends.
        let r = fetch(&c, alice.hex(), &token).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        );
        // One address: the next guess is allowed a window / max (900 / 5 s) later.
        assert_eq!(r.headers["retry-after"], "180");
        // Another account is not affected.
        let (bob, _) = c.account(1).await;
        let bob_token = random_token();
        let bob_blob = fake_blob(2, bob.id(), 500);
        put_signed(&c, &bob, body(&bob_token, &bob_blob)).await;
        assert_eq!(fetch(&c, bob.hex(), &bob_token).await.bytes, bob_blob);
        // Public header stays readable: it is not a guess.
        assert_eq!(params(&c, alice.hex()).await.status, StatusCode::OK);
        let dir = server.stop().await;

        // With a 6-second window the owner gets in again afterwards, and a success
        // clears the id's count (here the per-id cap is the one that bites). The window
        // is long enough (at least 4 s after its coarse start) for the three requests
        // below to fall in one window on a loaded machine; 1 s was not.
        let server = Server::start_in(
            &backend,
            dir,
            &[
                "--backup-window-secs",
                "6",
                "--backup-max-attempts-per-id",
                "2",
                "--backup-max-attempts",
                "100",
            ],
        )
        .await;
        let c = server.client();
        eventually("the attempt window ends", || async {
            fetch(&c, alice.hex(), &token).await.status == StatusCode::OK
        })
        .await;
        for _ in 0..2 {
            assert_eq!(
                fetch(&c, alice.hex(), &[8; 32]).await.status,
                StatusCode::FORBIDDEN
            );
        }
        assert_eq!(
            fetch(&c, alice.hex(), &token).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_guesser_cannot_lock_the_owner_out_and_many_stay_bounded() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &[
                "--backup-max-attempts",
                "2",
                "--backup-max-attempts-per-id",
                "4",
            ],
        )
        .await;
        let c = server.client();
        let (alice, _) = c.account(0).await;
        let token = random_token();
        let blob = fake_blob(2, alice.id(), 500);
        assert_eq!(
            put_signed(&c, &alice, body(&token, &blob)).await.status,
            StatusCode::NO_CONTENT
        );
        let [guesser, second, owner, third] =
            ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"].map(|a| client_from(&server, a));
        // One address: its share, then 429 even for the right token from it...
        for _ in 0..2 {
            assert_eq!(
                fetch(&guesser, alice.hex(), &[7; 32]).await.status,
                StatusCode::FORBIDDEN
            );
        }
        let r = fetch(&guesser, alice.hex(), &token).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        );
        // ... while the owner, elsewhere, restores (which clears the id's count), as
        // often as it logs in on a new device: right tokens use up no share.
        for _ in 0..5 {
            let r = fetch(&owner, alice.hex(), &token).await;
            assert_eq!((r.status, &r.bytes), (StatusCode::OK, &blob));
        }
        // Refused guesses are not counted for the id: the guesser keeps trying in vain.
        for _ in 0..5 {
            fetch(&guesser, alice.hex(), &[7; 32]).await;
        }
        // Many addresses together: at most the per-id cap, then nobody, for the window.
        for guesser in [&second, &third] {
            for _ in 0..2 {
                assert_eq!(
                    fetch(guesser, alice.hex(), &[8; 32]).await.status,
                    StatusCode::FORBIDDEN
                );
            }
        }
        let r = fetch(&owner, alice.hex(), &token).await;
        assert_eq!(
            status(&r),
            refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        );
        assert_eq!(r.headers["retry-after"], "900");
        server.stop().await;
    }
}
