//! Refusals (docs/API.md "Errors"), as attacks: every way an owner request can be
//! wrong gets the same `401`; malformed paths, envelopes and bodies get their own
//! stable code and a message; quotas and rate limits refuse without losing what was
//! stored. Every backend: SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL`
//! is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

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
        let (alice, laptop) = c.account(0).await;
        let (bob, bob_device) = c.account(1).await;
        // Never published a list.
        let mut stranger = Account::new(0);
        let stranger_device = stranger.add_device();
        let list = format!("{}/blobs", alice.mailbox(&laptop));
        let ack = format!("{}/ack", alice.mailbox(&laptop));
        let stranger_list = format!("{}/blobs", stranger.mailbox(&stranger_device));
        let ack_body = json!({"ids": []}).to_string().into_bytes();
        let now = now();

        let replayed = alice
            .user
            .sig_header("GET", &list, b"", now, "replayed-nonce-0001");
        assert_eq!(
            c.send(Method::GET, &list, Some(&replayed), vec![])
                .await
                .status,
            StatusCode::OK
        );
        let bob_token = c.token2(&bob, &bob_device).await;
        let unauthorized: Vec<Case> = vec![
            (
                "missing authorization",
                Method::GET,
                list.clone(),
                None,
                vec![],
            ),
            (
                "unknown scheme",
                Method::GET,
                list.clone(),
                Some("Basic YTpi".into()),
                vec![],
            ),
            (
                "garbled header",
                Method::GET,
                list.clone(),
                Some("Sealpost-Sig ts=1,sig".into()),
                vec![],
            ),
            (
                "bad signature",
                Method::GET,
                list.clone(),
                Some(format!("Sealpost-Sig ts={now},nonce={},sig=AAAA", nonce())),
                vec![],
            ),
            (
                "stale timestamp",
                Method::GET,
                list.clone(),
                Some(
                    alice
                        .user
                        .sig_header("GET", &list, b"", now - 1000, &nonce()),
                ),
                vec![],
            ),
            (
                "future timestamp",
                Method::GET,
                list.clone(),
                Some(
                    alice
                        .user
                        .sig_header("GET", &list, b"", now + 1000, &nonce()),
                ),
                vec![],
            ),
            (
                "replayed nonce",
                Method::GET,
                list.clone(),
                Some(replayed.clone()),
                vec![],
            ),
            (
                "body changed after signing",
                Method::POST,
                ack.clone(),
                Some(alice.sign("POST", &ack, &ack_body)),
                json!({"ids": ["00000000000000000000000000000000"]})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "signed for another path",
                Method::GET,
                list.clone(),
                Some(alice.sign("GET", &format!("{list}?x=1"), b"")),
                vec![],
            ),
            (
                "signed for another method",
                Method::GET,
                list.clone(),
                Some(alice.sign("DELETE", &list, b"")),
                vec![],
            ),
            (
                "other owner's key",
                Method::GET,
                list.clone(),
                Some(bob.sign("GET", &list, b"")),
                vec![],
            ),
            (
                "unknown account, valid signature",
                Method::GET,
                stranger_list.clone(),
                Some(stranger.sign("GET", &stranger_list, b"")),
                vec![],
            ),
            (
                "other mailbox's token",
                Method::GET,
                list.clone(),
                Some(format!("Bearer {bob_token}")),
                vec![],
            ),
            (
                "made-up token",
                Method::GET,
                list.clone(),
                Some(format!("Bearer {}", "A".repeat(43))),
                vec![],
            ),
            (
                "token where a signature is required",
                Method::POST,
                format!("{}/token", bob.mailbox(&bob_device)),
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

        let deposit = alice.mailbox(&laptop);
        let d = laptop.to_hex();
        let signed_garbage = alice.sign("POST", &ack, b"{not json");
        let bad_blob_path = format!("{list}/xyz");
        let other: Vec<Refusal> = vec![
            (
                "short id",
                Method::GET,
                "/v2/users/abcd/devices".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "uppercase id",
                Method::POST,
                format!("/v2/mailboxes/{}/{d}", alice.hex().to_uppercase()),
                None,
                envelope2(alice.id(), &laptop, 512),
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "non-hex id",
                Method::POST,
                format!("/v2/mailboxes/{}/{d}", "g".repeat(64)),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            // Owner-only routes check the id before any credential.
            (
                "short id, owner route",
                Method::GET,
                format!("/v2/mailboxes/abcd/{d}/blobs"),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "short id, owner route with a body",
                Method::POST,
                format!("/v2/mailboxes/abcd/{d}/ack"),
                None,
                br#"{"ids":[]}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "short id, owner route with a blob id",
                Method::DELETE,
                format!("/v2/mailboxes/abcd/{d}/blobs/{}", "0".repeat(32)),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_id",
            ),
            (
                "oversize blob",
                Method::POST,
                deposit.clone(),
                None,
                envelope2(alice.id(), &laptop, 131_072),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
            (
                "malformed JSON",
                Method::POST,
                ack.clone(),
                Some(signed_garbage),
                b"{not json".to_vec(),
                StatusCode::BAD_REQUEST,
                "bad_json",
            ),
            (
                "malformed blob id",
                Method::DELETE,
                bad_blob_path.clone(),
                Some(alice.sign("DELETE", &bad_blob_path, b"")),
                vec![],
                StatusCode::BAD_REQUEST,
                "bad_blob_id",
            ),
            (
                "device list body too large",
                Method::PUT,
                stranger.list_path(),
                None,
                vec![0; 100_000],
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
            ),
            (
                "unknown endpoint",
                Method::GET,
                "/v2/nothing/here".into(),
                None,
                vec![],
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                "protocol v1",
                Method::GET,
                format!("/v1/mailboxes/{}/blobs", alice.hex()),
                None,
                vec![],
                StatusCode::GONE,
                "gone",
            ),
        ];
        // Percent-encoded parameters: the plain value would be valid, this spelling is not.
        let encode = |s: &str| s.bytes().map(|b| format!("%{b:02x}")).collect::<String>();
        let mut one_encoded = alice.hex().to_string();
        one_encoded.replace_range(0..1, &encode(&alice.hex()[..1]));
        let blob = format!("{list}/{}", encode(&"0".repeat(32)));
        let encoded_list = format!("/v2/mailboxes/{}/{d}/blobs", encode(alice.hex()));
        let other: Vec<Refusal> = other
            .into_iter()
            .chain([
                (
                    "percent-encoded id, signed as sent",
                    Method::GET,
                    encoded_list.clone(),
                    Some(alice.sign("GET", &encoded_list, b"")),
                    vec![],
                    StatusCode::BAD_REQUEST,
                    "bad_id",
                ),
                (
                    "one percent-encoded digit of the id",
                    Method::POST,
                    format!("/v2/mailboxes/{one_encoded}/{d}"),
                    None,
                    envelope2(alice.id(), &laptop, 512),
                    StatusCode::BAD_REQUEST,
                    "bad_id",
                ),
                (
                    "percent-encoded id of the directory",
                    Method::GET,
                    format!("/v2/users/{}/devices", encode(alice.hex())),
                    None,
                    vec![],
                    StatusCode::BAD_REQUEST,
                    "bad_id",
                ),
                (
                    "percent-encoded device",
                    Method::POST,
                    format!("/v2/mailboxes/{}/{}", alice.hex(), encode(&d)),
                    None,
                    envelope2(alice.id(), &laptop, 512),
                    StatusCode::BAD_REQUEST,
                    "bad_device",
                ),
                (
                    "percent-encoded blob id",
                    Method::DELETE,
                    blob.clone(),
                    Some(alice.sign("DELETE", &blob, b"")),
                    vec![],
                    StatusCode::BAD_REQUEST,
                    "bad_blob_id",
                ),
                (
                    "percent-encoded link channel",
                    Method::GET,
                    format!("/v2/links/{}/hello", encode(&"a".repeat(32))),
                    None,
                    vec![],
                    StatusCode::BAD_REQUEST,
                    "bad_channel",
                ),
                (
                    "percent-encoded link slot",
                    Method::GET,
                    format!("/v2/links/{}/{}", "a".repeat(32), encode("hello")),
                    None,
                    vec![],
                    StatusCode::BAD_REQUEST,
                    "bad_slot",
                ),
            ])
            .collect();
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
        let (first, _) = c.deposit2_ok(&alice, &laptop).await;
        c.deposit2_ok(&alice, &laptop).await;
        let r = c.deposit2_fresh(&alice, &laptop).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::INSUFFICIENT_STORAGE, "mailbox_full")
        );
        assert_eq!(c.list2(&alice, &laptop).await.len(), 2);
        let path = format!("{list}/{first}");
        for _ in 0..2 {
            let r = c.delete_signed(&alice, &path).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "idempotent");
        }
        c.deposit2_ok(&alice, &laptop).await;
        assert_eq!(c.list2(&alice, &laptop).await.len(), 2);

        // The relay is still healthy and counted the refusals.
        let m = c.send(Method::GET, "/metrics", None, vec![]).await;
        let text = String::from_utf8(m.bytes).unwrap();
        assert!(!text.contains(alice.hex()), "metrics name no user");
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
        let (alice, laptop) = c.account(0).await;
        c.deposit2_ok(&alice, &laptop).await;
        c.deposit2_ok(&alice, &laptop).await;
        let r = c.deposit2_fresh(&alice, &laptop).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(
            c.list2(&alice, &laptop).await.len(),
            2,
            "refusal lost nothing"
        );
        server.stop().await;

        let server = Server::start(
            &backend,
            &["--rate-ip-per-sec", "0.001", "--rate-ip-burst", "3"],
        )
        .await;
        let c = server.client();
        let path = Account::new(0).list_path();
        let mut statuses = vec![];
        for _ in 0..5 {
            statuses.push(c.send(Method::GET, &path, None, vec![]).await.status);
        }
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
