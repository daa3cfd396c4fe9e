//! The relay's black-box suite (docs/API.md), run against every available backend:
//! SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use reqwest::Method;
use sealpost_core::backup::{self, BackupKeys, BackupParams, HEADER_LEN};
use sealpost_core::{UserId, os_rng};
use serde_json::json;
use tower::ServiceExt;

// ------------------------------------------------------------------ in-process router

#[tokio::test]
async fn router_answers_without_a_socket() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let config =
        sealpost_relay::Config::try_parse_from(args(&Backend::Sqlite, dir.path(), &[])).unwrap();
    let store = sealpost_relay::store::open(&config).await.unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let app = sealpost_relay::app(sealpost_relay::AppState::new(store, &config, stopped));

    let r = app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .clone()
        .oneshot(
            Request::get("/v1/users/ABC/bundle")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "placeholder page without a built web app"
    );
    let csp = r.headers().get("content-security-policy").unwrap();
    assert!(csp.to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-cache");
    let permissions = r.headers().get("permissions-policy").unwrap();
    assert!(
        permissions
            .to_str()
            .unwrap()
            .starts_with("camera=(self), microphone=()")
    );
    let r = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = String::from_utf8(
        axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("sealpost_deposits_total 0"), "{text}");
}

// ------------------------------------------------------------------ directory

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_register_lookup_rotate() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let mut alice = User::new(0);
        let first = alice.bundle();
        let path = format!("/v1/users/{}/bundle", alice.hex);

        let r = c.send(Method::GET, &path, None, vec![]).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "unknown_user")
        );
        assert_eq!(
            c.send(Method::PUT, &path, None, first.clone()).await.status,
            StatusCode::CREATED
        );
        let r = c.send(Method::GET, &path, None, vec![]).await;
        assert_eq!((r.status, &r.bytes), (StatusCode::OK, &first));

        // First come: an unsigned second registration is refused, whoever sends it.
        let r = c.send(Method::PUT, &path, None, alice.bundle()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "already_registered")
        );

        // Rotation: newer bundle signed by the registered key.
        let newer = alice.bundle();
        assert_eq!(
            c.signed(&alice, Method::PUT, &path, newer.clone())
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(c.send(Method::GET, &path, None, vec![]).await.bytes, newer);
        // Not newer: 409 stale.
        let r = c.signed(&alice, Method::PUT, &path, newer.clone()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "stale")
        );
        // Signed by another key: 401, bundle unchanged.
        let bob = User::new(1);
        let r = c.signed(&bob, Method::PUT, &path, alice.bundle()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(c.send(Method::GET, &path, None, vec![]).await.bytes, newer);

        // A bundle must name the id it is registered under, and parse.
        let mut carol = User::new(1);
        let other_path = format!("/v1/users/{}/bundle", User::new(1).hex);
        let r = c.send(Method::PUT, &other_path, None, carol.bundle()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_bundle")
        );
        let mut garbled = carol.bundle();
        let last = garbled.len() - 1;
        garbled[last] ^= 1;
        let r = c
            .send(
                Method::PUT,
                &format!("/v1/users/{}/bundle", carol.hex),
                None,
                garbled,
            )
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_bundle")
        );
        server.stop().await;
    }
}

// ------------------------------------------------------------------ key backup

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_needs_the_token_and_limits_guessing() {
    // PBKDF2 runs once for the whole test.
    let mut alice_template = User::new(0);
    let params = BackupParams::generate(&mut os_rng(), backup::MIN_ITERATIONS).unwrap();
    let keys = BackupKeys::derive("correct horse battery", &alice_template.id, &params).unwrap();
    let blob = backup::export(&mut os_rng(), &alice_template.identity, &params, &keys).unwrap();
    let token = keys.auth_token();

    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        // A fresh id per backend run, same keys: re-export is not needed for the relay,
        // which only checks the header's user id, so register the template's id once.
        let alice = &mut alice_template;
        let reg = c.register(alice).await.status;
        assert!(reg == StatusCode::CREATED || reg == StatusCode::CONFLICT);
        let base = format!("/v1/users/{}/backup", alice.hex);

        let r = c
            .send(Method::GET, &format!("{base}/params"), None, vec![])
            .await;
        if reg == StatusCode::CREATED {
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::NOT_FOUND, "no_backup")
            );
        }
        let mut body = token.to_vec();
        body.extend_from_slice(&blob);
        // Unsigned upload: 401. Blob of someone else: 400.
        assert_eq!(
            c.send(Method::PUT, &base, None, body.clone()).await.status,
            StatusCode::UNAUTHORIZED
        );
        let bob = c.new_user(1).await;
        let r = c
            .signed(
                &bob,
                Method::PUT,
                &format!("/v1/users/{}/backup", bob.hex),
                body.clone(),
            )
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_backup")
        );
        assert_eq!(
            c.signed(alice, Method::PUT, &base, body.clone())
                .await
                .status,
            StatusCode::NO_CONTENT
        );

        let r = c
            .send(Method::GET, &format!("{base}/params"), None, vec![])
            .await;
        assert_eq!(
            (r.status, &r.bytes[..]),
            (StatusCode::OK, &blob[..HEADER_LEN])
        );
        let (id, read) = BackupParams::from_blob(&r.bytes).unwrap();
        assert_eq!((id, read), (alice.id, params));

        let fetch = format!("{base}/fetch");
        let r = c.send(Method::POST, &fetch, None, token.to_vec()).await;
        assert_eq!((r.status, &r.bytes), (StatusCode::OK, &blob));
        let r = c.send(Method::POST, &fetch, None, vec![1, 2, 3]).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "bad_token")
        );
        for _ in 0..5 {
            let r = c.send(Method::POST, &fetch, None, vec![7; 32]).await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::FORBIDDEN, "wrong_token")
            );
        }
        // The limit holds even for the right token until the window ends.
        let r = c.send(Method::POST, &fetch, None, token.to_vec()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        );
        assert_eq!(r.headers["retry-after"], "900");
        let dir = server.stop().await;

        // Restarted with a 1-second window, the relay lets the owner in again afterwards.
        let server = Server::start_in(&backend, dir, &["--backup-window-secs", "1"]).await;
        let c = server.client();
        eventually("the attempt window ends", || async {
            c.send(Method::POST, &fetch, None, token.to_vec())
                .await
                .status
                == StatusCode::OK
        })
        .await;
        server.stop().await;
    }
}

// ------------------------------------------------------------------ negative cases

/// (case, method, path, authorization, body)
type Case = (&'static str, Method, String, Option<String>, Vec<u8>);
/// (case, method, path, authorization, body, expected status, expected error code)
type Refusal = (
    &'static str,
    Method,
    String,
    Option<String>,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clean_and_uniform() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &["--mailbox-max-blobs", "2", "--max-blob-bytes", "65536"],
        )
        .await;
        let c = server.client();
        let alice = c.new_user(0).await;
        let bob = c.new_user(1).await;
        let stranger = User::new(0); // never registered
        let list = |u: &User| format!("/v1/mailboxes/{}/blobs", u.hex);
        let ack = |u: &User| format!("/v1/mailboxes/{}/ack", u.hex);
        let ack_body = json!({"ids": []}).to_string().into_bytes();
        let now = now();

        // (case, method, path, authorization, body)
        let replayed = alice.sig_header("GET", &list(&alice), b"", now, "replayed-nonce-0001");
        assert_eq!(
            c.send(Method::GET, &list(&alice), Some(&replayed), vec![])
                .await
                .status,
            StatusCode::OK
        );
        let bob_token = c.token(&bob).await;
        let unauthorized: Vec<Case> = vec![
            (
                "missing authorization",
                Method::GET,
                list(&alice),
                None,
                vec![],
            ),
            (
                "unknown scheme",
                Method::GET,
                list(&alice),
                Some("Basic YTpi".into()),
                vec![],
            ),
            (
                "garbled header",
                Method::GET,
                list(&alice),
                Some("Sealpost-Sig ts=1,sig".into()),
                vec![],
            ),
            (
                "bad signature",
                Method::GET,
                list(&alice),
                Some(format!("Sealpost-Sig ts={now},nonce={},sig=AAAA", nonce())),
                vec![],
            ),
            (
                "stale timestamp",
                Method::GET,
                list(&alice),
                Some(alice.sig_header("GET", &list(&alice), b"", now - 1000, &nonce())),
                vec![],
            ),
            (
                "future timestamp",
                Method::GET,
                list(&alice),
                Some(alice.sig_header("GET", &list(&alice), b"", now + 1000, &nonce())),
                vec![],
            ),
            (
                "replayed nonce",
                Method::GET,
                list(&alice),
                Some(replayed.clone()),
                vec![],
            ),
            (
                "body changed after signing",
                Method::POST,
                ack(&alice),
                Some(alice.sign("POST", &ack(&alice), &ack_body)),
                json!({"ids": ["00000000000000000000000000000000"]})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "signed for another path",
                Method::GET,
                list(&alice),
                Some(alice.sign("GET", &format!("{}?x=1", list(&alice)), b"")),
                vec![],
            ),
            (
                "signed for another method",
                Method::GET,
                list(&alice),
                Some(alice.sign("DELETE", &list(&alice), b"")),
                vec![],
            ),
            (
                "other owner's key",
                Method::GET,
                list(&alice),
                Some(bob.sign("GET", &list(&alice), b"")),
                vec![],
            ),
            (
                "unknown mailbox, valid signature",
                Method::GET,
                list(&stranger),
                Some(stranger.sign("GET", &list(&stranger), b"")),
                vec![],
            ),
            (
                "other mailbox's token",
                Method::GET,
                list(&alice),
                Some(format!("Bearer {bob_token}")),
                vec![],
            ),
            (
                "made-up token",
                Method::GET,
                list(&alice),
                Some(format!("Bearer {}", "A".repeat(43))),
                vec![],
            ),
            (
                "token where a signature is required",
                Method::POST,
                format!("/v1/mailboxes/{}/token", bob.hex),
                Some(format!("Bearer {bob_token}")),
                vec![],
            ),
        ];
        let mut bodies = HashSet::new();
        for (case, method, path, auth, body) in unauthorized {
            let r = c.send(method, &path, auth.as_deref(), body).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{case}: {}",
                String::from_utf8_lossy(&r.bytes)
            );
            bodies.insert(r.bytes);
        }
        assert_eq!(
            bodies.len(),
            1,
            "every 401 is byte-for-byte the same: {bodies:?}"
        );

        let deposit = |u: &UserId| format!("/v1/mailboxes/{}", u.to_hex());
        let mut wrong_version = envelope(&alice.id, 512);
        wrong_version[0] = 2;
        let signed_garbage = alice.sign("POST", &ack(&alice), b"{not json");
        let other: Vec<Refusal> = vec![
            (
                "short id",
                Method::GET,
                "/v1/users/abcd/bundle".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "uppercase id",
                Method::POST,
                deposit(&alice.id)
                    .to_uppercase()
                    .replace("/V1/MAILBOXES/", "/v1/mailboxes/"),
                None,
                envelope(&alice.id, 512),
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "non-hex id",
                Method::POST,
                format!("/v1/mailboxes/{}", "g".repeat(64)),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            // Owner-only routes check the id before any credential.
            (
                "short id, owner route",
                Method::GET,
                "/v1/mailboxes/abcd/blobs".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "short id, owner route with a body",
                Method::POST,
                "/v1/mailboxes/abcd/ack".into(),
                None,
                br#"{"ids":[]}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "short id, owner route with a blob id",
                Method::DELETE,
                format!("/v1/mailboxes/abcd/blobs/{}", "0".repeat(32)),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "oversize blob",
                Method::POST,
                deposit(&alice.id),
                None,
                envelope(&alice.id, 131072),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
            (
                "not a bucket size",
                Method::POST,
                deposit(&alice.id),
                None,
                envelope(&alice.id, 600),
                StatusCode::BAD_REQUEST,
                "not_a_bucket",
            ),
            (
                "envelope for another mailbox",
                Method::POST,
                deposit(&alice.id),
                None,
                envelope(&bob.id, 512),
                StatusCode::BAD_REQUEST,
                "bad_envelope",
            ),
            (
                "wrong envelope version",
                Method::POST,
                deposit(&alice.id),
                None,
                wrong_version,
                StatusCode::BAD_REQUEST,
                "bad_envelope",
            ),
            (
                "unknown mailbox",
                Method::POST,
                deposit(&stranger.id),
                None,
                envelope(&stranger.id, 512),
                StatusCode::NOT_FOUND,
                "unknown_mailbox",
            ),
            (
                "malformed JSON",
                Method::POST,
                ack(&alice),
                Some(signed_garbage),
                b"{not json".to_vec(),
                StatusCode::BAD_REQUEST,
                "bad_json",
            ),
            (
                "malformed blob id",
                Method::DELETE,
                format!("{}/xyz", list(&alice)),
                Some(alice.sign("DELETE", &format!("{}/xyz", list(&alice)), b"")),
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_blob_id",
            ),
            (
                "bundle body too large",
                Method::PUT,
                format!("/v1/users/{}/bundle", stranger.hex),
                None,
                vec![0; 100_000],
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
            (
                "unknown endpoint",
                Method::GET,
                "/v1/nothing/here".into(),
                None,
                vec![],
                StatusCode::NOT_FOUND,
                "not_found",
            ),
        ];
        for (case, method, path, auth, body, status, code) in other {
            let r = c.send(method, &path, auth.as_deref(), body).await;
            assert_eq!((r.status, r.error().as_str()), (status, code), "{case}");
            assert!(
                r.json()["message"].is_string(),
                "{case}: every refusal explains itself"
            );
        }

        // Quota: the third blob is refused, nothing stored is lost, and space frees up
        // on acknowledgement.
        let (first, _) = c.deposit_ok(&alice.id).await;
        c.deposit_ok(&alice.id).await;
        let r = c.deposit(&alice.id, envelope(&alice.id, 512)).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::INSUFFICIENT_STORAGE, "mailbox_full")
        );
        assert_eq!(c.list(&alice).await.len(), 2);
        let path = format!("{}/{first}", list(&alice));
        assert_eq!(
            c.signed(&alice, Method::DELETE, &path, vec![]).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            c.signed(&alice, Method::DELETE, &path, vec![]).await.status,
            StatusCode::NO_CONTENT
        );
        c.deposit_ok(&alice.id).await;
        assert_eq!(c.list(&alice).await.len(), 2);

        // The relay is still healthy and counted the refusals.
        let m = c.send(Method::GET, "/metrics", None, vec![]).await;
        let text = String::from_utf8(m.bytes).unwrap();
        assert!(!text.contains(&alice.hex), "metrics name no user");
        assert!(text.contains("sealpost_auth_failures_total"));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_refuse_with_429() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &[
                "--rate-mailbox-per-sec",
                "0.001",
                "--rate-mailbox-burst",
                "2",
            ],
        )
        .await;
        let c = server.client();
        let alice = c.new_user(0).await;
        c.deposit_ok(&alice.id).await;
        c.deposit_ok(&alice.id).await;
        let r = c.deposit(&alice.id, envelope(&alice.id, 512)).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(c.list(&alice).await.len(), 2, "refusal lost nothing");
        server.stop().await;

        let server = Server::start(
            &backend,
            &["--rate-ip-per-sec", "0.001", "--rate-ip-burst", "3"],
        )
        .await;
        let c = server.client();
        let path = format!("/v1/users/{}/bundle", User::new(0).hex);
        let statuses: Vec<StatusCode> = {
            let mut v = vec![];
            for _ in 0..5 {
                v.push(c.send(Method::GET, &path, None, vec![]).await.status);
            }
            v
        };
        assert!(
            statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
            "{statuses:?}"
        );
        // Health checks stay reachable for monitoring.
        assert_eq!(
            c.send(Method::GET, "/healthz", None, vec![]).await.status,
            StatusCode::OK
        );
        server.stop().await;
    }
}

// ------------------------------------------------------------------ mailbox over HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_lists_and_acknowledges_with_signature_or_token() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let alice = c.new_user(0).await;
        let mut sent = vec![];
        for _ in 0..3 {
            sent.push(c.deposit_ok(&alice.id).await);
        }
        let listed = c.list(&alice).await;
        assert_eq!(listed, sent, "oldest first, bytes intact");

        let token = c.token(&alice).await;
        let bearer = format!("Bearer {token}");
        let path = format!("/v1/mailboxes/{}/blobs", alice.hex);
        let r = c.send(Method::GET, &path, Some(&bearer), vec![]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["blobs"].as_array().unwrap().len(), 3);
        let body =
            json!({"ids": [sent[0].0, sent[1].0, "0123456789abcdef0123456789abcdef"]}).to_string();
        let r = c
            .send(
                Method::POST,
                &format!("/v1/mailboxes/{}/ack", alice.hex),
                Some(&bearer),
                body.into(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(c.list(&alice).await, vec![sent[2].clone()]);
        server.stop().await;
    }
}

// ------------------------------------------------------------------ push

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_deposit_is_delivered_on_connect_and_live_ones_pushed() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let alice = c.new_user(0).await;
        let backlog = [c.deposit_ok(&alice.id).await, c.deposit_ok(&alice.id).await];

        let mut ws = Ws::owner(&c, &alice).await;
        for expected in &backlog {
            assert_eq!(&ws.blob().await, expected);
        }
        let live = c.deposit_ok(&alice.id).await;
        assert_eq!(ws.blob().await, live);
        ws.ack(&[&backlog[0].0, &backlog[1].0, &live.0]).await;
        eventually("acknowledged blobs are deleted", || async {
            c.list(&alice).await.is_empty()
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
        let alice = c.new_user(0).await;
        let mut ws = Ws::owner(&c, &alice).await;
        let blob = c.deposit_ok(&alice.id).await;
        assert_eq!(ws.blob().await, blob);
        drop(ws); // disconnect before acknowledging

        let token = c.token(&alice).await;
        let (mut ws, ready) = Ws::open(&c, &alice.hex, WsAuth::Token(&token)).await;
        assert_eq!(ready["type"], "ready");
        assert_eq!(
            ws.blob().await,
            blob,
            "same id again: the client drops duplicates by id"
        );
        ws.ack(&[&blob.0]).await;
        eventually("the ack deletes it", || async {
            c.list(&alice).await.is_empty()
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
        let alice = c.new_user(0).await;
        let mut tab1 = Ws::owner(&c, &alice).await;
        let mut tab2 = Ws::owner(&c, &alice).await;
        let (_, third) = Ws::open(&c, &alice.hex, WsAuth::Signature(&alice)).await;
        assert_eq!(third["error"], "too_many_connections");
        for _ in 0..3 {
            let b = c.deposit_ok(&alice.id).await;
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
        let alice = c.new_user(0).await;
        let bob = c.new_user(1).await;
        let stranger = User::new(0);
        let bob_token = c.token(&bob).await;
        let cases = [
            (
                "other owner's key",
                alice.hex.clone(),
                WsAuth::WrongKey(&bob),
            ),
            (
                "other mailbox's token",
                alice.hex.clone(),
                WsAuth::Token(&bob_token),
            ),
            ("made-up token", alice.hex.clone(), WsAuth::Token("AAAA")),
            (
                "unknown mailbox",
                stranger.hex.clone(),
                WsAuth::Signature(&stranger),
            ),
        ];
        for (case, id, auth) in cases {
            let (mut ws, reply) = Ws::open(&c, &id, auth).await;
            assert_eq!(
                reply,
                json!({"type": "error", "error": "unauthorized"}),
                "{case}"
            );
            assert!(ws.next().await.is_none(), "{case}: closed");
        }
        // A protocol error after log-in ends the session with a reason.
        let mut ws = Ws::owner(&c, &alice).await;
        ws.send(json!({"type": "ack", "ids": ["not-an-id"]})).await;
        assert_eq!(
            ws.next().await.unwrap(),
            json!({"type": "error", "error": "bad_blob_id"})
        );
        let mut ws = Ws::owner(&c, &alice).await;
        ws.send(json!({"hello": 1})).await;
        assert_eq!(
            ws.next().await.unwrap(),
            json!({"type": "error", "error": "bad_message"})
        );
        let r = c
            .send(
                Method::GET,
                &format!("/v1/mailboxes/{}/ws", alice.hex),
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

// ------------------------------------------------------------------ time-to-live

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_blobs_are_purged() {
    for backend in backends() {
        // Its own schema: this relay purges everything older than a second.
        let backend = isolated(&backend).await;
        let server = Server::start(
            &backend,
            &["--blob-ttl-secs", "1", "--purge-interval-secs", "1"],
        )
        .await;
        let c = server.client();
        let alice = c.new_user(0).await;
        c.deposit_ok(&alice.id).await;
        eventually("the purge deletes the expired blob", || async {
            c.list(&alice).await.is_empty()
        })
        .await;
        // Quota counters were released with it: the mailbox accepts blobs again.
        c.deposit_ok(&alice.id).await;
        server.stop().await;
    }
}

// ------------------------------------------------------------------ durability

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_keep_everything() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Process::spawn(&backend, dir.path(), &[]).await;
        let c = relay.client();
        let mut alice = c.new_user(0).await;
        let bundle_path = format!("/v1/users/{}/bundle", alice.hex);
        let newer = alice.bundle();
        assert_eq!(
            c.signed(&alice, Method::PUT, &bundle_path, newer.clone())
                .await
                .status,
            StatusCode::OK
        );
        let blobs = [c.deposit_ok(&alice.id).await, c.deposit_ok(&alice.id).await];
        relay.kill();

        let relay = Process::spawn(&backend, dir.path(), &[]).await;
        let c = relay.client();
        assert_eq!(
            c.send(Method::GET, &bundle_path, None, vec![]).await.bytes,
            newer
        );
        assert_eq!(c.list(&alice).await, blobs.to_vec());
        let mut ws = Ws::owner(&c, &alice).await;
        assert_eq!(ws.blob().await, blobs[0]);
        drop(ws);

        // Graceful restart too (in-process, same data directory).
        drop(relay);
        let server = Server::start_in(&backend, dir, &[]).await;
        assert_eq!(server.client().list(&alice).await, blobs.to_vec());
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
    let alice = ca.new_user(0).await;
    let mut on_b = Ws::owner(&cb, &alice).await;
    let mut on_a = Ws::owner(&ca, &alice).await;
    for _ in 0..3 {
        let blob = ca.deposit_ok(&alice.id).await;
        assert_eq!(on_b.blob().await, blob, "deposited on A, pushed by B");
        assert_eq!(on_a.blob().await, blob);
        let blob = cb.deposit_ok(&alice.id).await;
        assert_eq!(on_a.blob().await, blob, "deposited on B, pushed by A");
        assert_eq!(on_b.blob().await, blob);
    }
    // Replay protection is shared: a nonce used on A is refused on B.
    let path = format!("/v1/mailboxes/{}/blobs", alice.hex);
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
    let token = ca.token(&alice).await;
    let r = cb
        .send(Method::GET, &path, Some(&format!("Bearer {token}")), vec![])
        .await;
    let blobs = r.json()["blobs"].as_array().unwrap().clone();
    assert_eq!(blobs.len(), 6);
    let ids: Vec<&str> = blobs.iter().map(|b| b["id"].as_str().unwrap()).collect();
    let ack = json!({ "ids": ids }).to_string().into_bytes();
    let ack_path = format!("/v1/mailboxes/{}/ack", alice.hex);
    let r = cb
        .send(
            Method::POST,
            &ack_path,
            Some(&format!("Bearer {token}")),
            ack,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        ca.list(&alice).await.is_empty(),
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
    let blob = cb.deposit_ok(&alice.id).await;
    assert_eq!(on_a.blob().await, blob);
    assert_eq!(on_b.blob().await, blob);
}

// ------------------------------------------------------------------ connections

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_free_their_slot() {
    use tokio::io::AsyncReadExt;
    let server = Server::start(
        &Backend::Sqlite,
        &["--max-connections", "1", "--idle-timeout-secs", "1"],
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_string();
    // Takes the only connection slot and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // This request waits in the accept queue until the silent one is closed.
    let c = Client::new(&server.base);
    let pending =
        tokio::spawn(async move { c.send(Method::GET, "/healthz", None, vec![]).await.status });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, silent.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the relay closed the silent connection"
    );
    assert_eq!(
        tokio::time::timeout(PATIENCE, pending)
            .await
            .unwrap()
            .unwrap(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_breaks_the_relay() {
    use sealpost_core::rand_core::Rng;
    let server = Server::start(&Backend::Sqlite, &["--rate-ip-per-sec", "0"]).await;
    let c = server.client();
    let alice = c.new_user(0).await;
    let before = c.deposit_ok(&alice.id).await;
    let mut rng = os_rng();
    let h = &alice.hex;
    let paths = [
        (Method::PUT, format!("/v1/users/{h}/bundle")),
        (Method::PUT, format!("/v1/users/{h}/backup")),
        (Method::POST, format!("/v1/users/{h}/backup/fetch")),
        (Method::POST, format!("/v1/mailboxes/{h}")),
        (Method::POST, format!("/v1/mailboxes/{h}/token")),
        (Method::POST, format!("/v1/mailboxes/{h}/ack")),
        (
            Method::DELETE,
            format!("/v1/mailboxes/{h}/blobs/{}", before.0),
        ),
    ];
    for round in 0..150 {
        let (method, path) = &paths[round % paths.len()];
        let len = [0, 1, 31, 32, 33, 512, 513, 1024, 4096][rng.next_u32() as usize % 9];
        let mut body = vec![0u8; len];
        rng.fill_bytes(&mut body);
        if len > 33 && round % 2 == 0 {
            body[0] = 1; // looks like an envelope for alice
            body[1..33].copy_from_slice(alice.id.as_bytes());
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
    // Still healthy, and the blob stored before is intact.
    assert_eq!(
        c.send(Method::GET, "/healthz", None, vec![]).await.status,
        StatusCode::OK
    );
    assert!(c.list(&alice).await.contains(&before));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blobs_are_paged_but_all_pushed() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let alice = c.new_user(0).await;
        let mut sent = vec![];
        for _ in 0..6 {
            let env = envelope(&alice.id, sealpost_core::padding::MAX_ENVELOPE_LEN);
            let r = c.deposit(&alice.id, env.clone()).await;
            assert_eq!(r.status, StatusCode::CREATED);
            sent.push((r.json()["id"].as_str().unwrap().to_string(), env));
        }
        // A listing holds about 4 MiB: the first four 1 MiB blobs.
        assert_eq!(c.list(&alice).await, sent[..4].to_vec());
        let mut ws = Ws::owner(&c, &alice).await;
        for expected in &sent {
            assert_eq!(&ws.blob().await, expected);
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_web_app_beside_the_api() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .unwrap();
    std::fs::write(www.path().join("app.js"), "console.log(1)").unwrap();
    let dir = www.path().display().to_string();
    let server = Server::start(&Backend::Sqlite, &["--static-dir", &dir]).await;
    let c = server.client();
    let index = c.send(Method::GET, "/", None, vec![]).await;
    assert_eq!(
        (index.status, &index.bytes[..]),
        (StatusCode::OK, &b"<!doctype html><title>app</title>"[..])
    );
    let js = c.send(Method::GET, "/app.js", None, vec![]).await;
    assert_eq!(
        (js.status, &js.bytes[..]),
        (StatusCode::OK, &b"console.log(1)"[..])
    );
    // Client-side routes get the app; unknown API paths get a JSON 404.
    assert_eq!(
        c.send(Method::GET, "/chat/alice", None, vec![]).await.bytes,
        index.bytes
    );
    let api = c.send(Method::GET, "/v1/nope", None, vec![]).await;
    assert_eq!(
        (api.status, api.error().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(
        c.send(Method::GET, "/healthz", None, vec![]).await.status,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_name_no_user_blob_or_token() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Process::spawn(&Backend::Sqlite, dir.path(), &[]).await;
    let c = relay.client();
    let alice = c.new_user(0).await;
    let bob = c.new_user(1).await;
    let (blob_id, _) = c.deposit_ok(&alice.id).await;
    let token = c.token(&alice).await;
    let mut ws = Ws::owner(&c, &alice).await;
    ws.blob().await;
    ws.ack(&[&blob_id]).await;
    drop(ws);
    let path = format!("/v1/mailboxes/{}/blobs", alice.hex);
    let forged = bob.sign("GET", &path, b"");
    assert_eq!(
        c.send(Method::GET, &path, Some(&forged), vec![])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let fetch = format!("/v1/users/{}/backup/fetch", alice.hex);
    c.send(Method::POST, &fetch, None, vec![9; 32]).await;
    c.deposit(&bob.id, envelope(&alice.id, 512)).await;

    let log = relay.terminate().join("\n");
    assert!(
        log.contains("listening on") && log.contains("shutting down"),
        "{log}"
    );
    for secret in [&alice.hex, &bob.hex, &blob_id, &token] {
        assert!(
            !log.contains(secret.as_str()),
            "the log names {secret}:\n{log}"
        );
    }
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("127.0.0.1")).collect();
    assert!(
        lines.iter().all(|l| l.contains("listening on")),
        "only the listen address: {lines:?}"
    );
}
