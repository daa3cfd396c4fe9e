//! v2 link channels (docs/API.md "Link channels"), as attacks: overwriting a slot,
//! oversize bodies, filling the relay, reading after expiry, flooding from one
//! address, and the log. Every backend: SQLite always, PostgreSQL when
//! `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use sealpost_core::os_rng;
use sealpost_core::rand_core::Rng;

fn channel() -> String {
    let mut c = [0u8; 16];
    os_rng().fill_bytes(&mut c);
    hex::encode(c)
}

/// `Authorization` carrying the deletion proof `proof`.
fn proof_auth(proof: &[u8; 32]) -> String {
    format!(
        "Link {}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, proof)
    )
}

fn slot(channel: &str, slot: &str) -> String {
    format!("/v2/links/{channel}/{slot}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_slots_are_write_once() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let ch = channel();
        let hello = slot(&ch, "hello");
        let grant = slot(&ch, "grant");

        let r = c.send(Method::GET, &hello, None, vec![]).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::NOT_FOUND, "no_link")
        );
        assert_eq!(
            c.send(Method::PUT, &hello, None, b"hello 1".to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
        // The attacker who learned the channel cannot replace the hello.
        let r = c.send(Method::PUT, &hello, None, b"evil".to_vec()).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::CONFLICT, "slot_taken")
        );
        let r = c.send(Method::GET, &hello, None, vec![]).await;
        assert_eq!((r.status, &r.bytes[..]), (StatusCode::OK, &b"hello 1"[..]));

        assert_eq!(
            c.send(Method::PUT, &grant, None, b"grant 1".to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
        let r = c.send(Method::PUT, &grant, None, b"evil".to_vec()).await;
        assert_eq!(r.error(), "slot_taken");
        let r = c.send(Method::GET, &grant, None, vec![]).await;
        assert_eq!(&r.bytes[..], b"grant 1");

        // Either side deletes the channel once done, with the code's deletion proof
        // (these slots were written without one: see the next test for the proof).
        let r = c
            .send(Method::DELETE, &format!("/v2/links/{ch}"), None, vec![])
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::BAD_REQUEST, "bad_proof")
        );
        let (ch, proof) = (channel(), proof_auth(&[5; 32]));
        let (hello, grant) = (slot(&ch, "hello"), slot(&ch, "grant"));
        let link = format!("/v2/links/{ch}");
        for s in [&hello, &grant] {
            let r = c.send(Method::PUT, s, Some(&proof), b"x".to_vec()).await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        let r = c.send(Method::DELETE, &link, Some(&proof), vec![]).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        for s in [&hello, &grant] {
            assert_eq!(
                c.send(Method::GET, s, None, vec![]).await.error(),
                "no_link"
            );
        }
        let r = c.send(Method::DELETE, &link, Some(&proof), vec![]).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "idempotent");

        // Other channels are untouched by all this.
        let other = channel();
        assert_eq!(
            c.send(Method::GET, &slot(&other, "hello"), None, vec![])
                .await
                .error(),
            "no_link"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_bodies_and_names_are_checked() {
    let server = Server::start(&Backend::Sqlite, &["--max-link-bytes", "2000000"]).await;
    let c = server.client();
    let ch = channel();
    let cases = [
        (
            "hello over 8 KiB",
            slot(&ch, "hello"),
            vec![1; 8193],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "grant over 1 MiB",
            slot(&ch, "grant"),
            vec![1; 1024 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "empty",
            slot(&ch, "hello"),
            vec![],
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            "unknown slot",
            slot(&ch, "other"),
            vec![1],
            StatusCode::BAD_REQUEST,
            "bad_slot",
        ),
        (
            "uppercase channel",
            slot(&ch.to_uppercase(), "hello"),
            vec![1],
            StatusCode::BAD_REQUEST,
            "bad_channel",
        ),
        (
            "short channel",
            slot("abcd", "hello"),
            vec![1],
            StatusCode::BAD_REQUEST,
            "bad_channel",
        ),
    ];
    for (case, path, body, status, code) in cases {
        let r = c.send(Method::PUT, &path, None, body).await;
        assert_eq!((r.status, r.error().as_str()), (status, code), "{case}");
    }
    // Nothing of the refused writes was stored; the largest allowed sizes are.
    assert_eq!(
        c.send(Method::GET, &slot(&ch, "hello"), None, vec![])
            .await
            .error(),
        "no_link"
    );
    let big = vec![7; 1024 * 1024];
    assert_eq!(
        c.send(Method::PUT, &slot(&ch, "grant"), None, big.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        c.send(Method::PUT, &slot(&ch, "hello"), None, vec![1; 8192])
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        c.send(Method::GET, &slot(&ch, "grant"), None, vec![])
            .await
            .bytes,
        big
    );
    let r = c
        .send(
            Method::GET,
            &format!("{}?wait=x", slot(&ch, "grant")),
            None,
            vec![],
        )
        .await;
    assert_eq!(r.error(), "bad_wait");
    let r = c
        .send(
            Method::GET,
            &format!("{}?other=1", slot(&ch, "grant")),
            None,
            vec![],
        )
        .await;
    assert_eq!(r.error(), "bad_query");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_cannot_fill_the_relay() {
    for backend in backends() {
        // Its own schema: the cap counts every live channel in the database.
        let backend = isolated(&backend).await;
        let server = Server::start(&backend, &["--max-link-bytes", "20000"]).await;
        let c = server.client();
        for _ in 0..2 {
            let r = c
                .send(Method::PUT, &slot(&channel(), "hello"), None, vec![1; 8192])
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        let r = c
            .send(Method::PUT, &slot(&channel(), "hello"), None, vec![1; 8192])
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::INSUFFICIENT_STORAGE, "links_full")
        );
        assert!(r.headers.contains_key("retry-after"));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_read_gets_the_slot_when_it_is_written() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let ch = channel();
        let grant = slot(&ch, "grant");
        let waiting = {
            let c = Client::new(&c.base);
            let path = format!("{grant}?wait=15");
            tokio::spawn(async move {
                let started = Instant::now();
                let r = c.send(Method::GET, &path, None, vec![]).await;
                (r.status, r.bytes, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            c.send(Method::PUT, &grant, None, b"the grant".to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
        let (status, bytes, took) = waiting.await.unwrap();
        assert_eq!((status, &bytes[..]), (StatusCode::OK, &b"the grant"[..]));
        assert!(
            took < Duration::from_secs(10),
            "woken by the write: {took:?}"
        );

        // Nothing comes: 404 after the wait.
        let started = Instant::now();
        let r = c
            .send(
                Method::GET,
                &format!("{}?wait=1", slot(&ch, "hello")),
                None,
                vec![],
            )
            .await;
        assert_eq!(r.error(), "no_link");
        assert!(started.elapsed() >= Duration::from_millis(900));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_expire() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &["--link-ttl-secs", "1", "--purge-interval-secs", "1"],
        )
        .await;
        let c = server.client();
        let ch = channel();
        let hello = slot(&ch, "hello");
        assert_eq!(
            c.send(Method::PUT, &hello, None, b"old".to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(
            c.send(Method::GET, &hello, None, vec![]).await.error(),
            "no_link",
            "read after expiry"
        );
        // A grant after expiry does not revive the channel's old hello.
        assert_eq!(
            c.send(Method::PUT, &slot(&ch, "grant"), None, b"late".to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
        assert_eq!(
            c.send(Method::GET, &hello, None, vec![]).await.error(),
            "no_link"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_writes_are_rate_limited_per_address() {
    let server = Server::start(
        &Backend::Sqlite,
        &["--rate-link-per-sec", "0.001", "--rate-link-burst", "2"],
    )
    .await;
    let c = server.client();
    for _ in 0..2 {
        let r = c
            .send(Method::PUT, &slot(&channel(), "hello"), None, vec![1])
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let ch = channel();
    let r = c
        .send(Method::PUT, &slot(&ch, "hello"), None, vec![1])
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(
        c.send(Method::GET, &slot(&ch, "hello"), None, vec![])
            .await
            .error(),
        "no_link",
        "reads are not counted, the refused write stored nothing"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_name_no_link_channel() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Process::spawn(&Backend::Sqlite, dir.path(), &[]).await;
    let c = relay.client();
    let ch = channel();
    c.send(Method::PUT, &slot(&ch, "hello"), None, b"hi".to_vec())
        .await;
    c.send(Method::PUT, &slot(&ch, "hello"), None, b"hi".to_vec())
        .await;
    c.send(Method::GET, &slot(&ch, "grant"), None, vec![]).await;
    c.send(
        Method::DELETE,
        &format!("/v2/links/{ch}"),
        Some(&proof_auth(&[5; 32])),
        vec![],
    )
    .await;
    let metrics = c.send(Method::GET, "/metrics", None, vec![]).await;
    let text = String::from_utf8(metrics.bytes).unwrap();
    assert!(text.contains("sealpost_links_written_total 1"), "{text}");
    assert!(text.contains("sealpost_links_refused_total 1"), "{text}");
    let log = relay.terminate().join("\n");
    assert!(!log.contains(&ch), "the log names the channel:\n{log}");
    assert!(!log.contains("hello"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_devices_delete_a_channel_before_it_expires() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        // The two devices derive the proof from the linking code; the attacker knows
        // only the channel id (it may have seen it, or be guessing).
        let code = sealpost_core::v2::LinkCode::generate(&mut os_rng());
        let ch = hex::encode(code.channel());
        let proof = proof_auth(&code.delete_proof());
        for s in ["hello", "grant"] {
            let r = c
                .send(
                    Method::PUT,
                    &slot(&ch, s),
                    Some(&proof),
                    s.as_bytes().to_vec(),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{s}");
        }
        let path = format!("/v2/links/{ch}");
        let attempts = [
            ("no proof", None, StatusCode::BAD_REQUEST),
            (
                "malformed proof",
                Some("Link AAAA".to_string()),
                StatusCode::BAD_REQUEST,
            ),
            (
                "another scheme",
                Some("Bearer x".to_string()),
                StatusCode::BAD_REQUEST,
            ),
            (
                "another code's proof",
                Some(proof_auth(&[9; 32])),
                StatusCode::NO_CONTENT,
            ),
        ];
        for (case, auth, status) in attempts {
            let r = c.send(Method::DELETE, &path, auth.as_deref(), vec![]).await;
            assert_eq!(r.status, status, "{case}");
            for s in ["hello", "grant"] {
                let r = c.send(Method::GET, &slot(&ch, s), None, vec![]).await;
                assert_eq!(r.bytes, s.as_bytes(), "{case}: the {s} is still there");
            }
        }
        // A malformed proof on a write is refused before anything is stored.
        let other = channel();
        let r = c
            .send(
                Method::PUT,
                &slot(&other, "hello"),
                Some("Link !!"),
                b"x".to_vec(),
            )
            .await;
        assert_eq!(r.error(), "bad_proof");
        // The devices' own proof deletes both slots.
        let r = c.send(Method::DELETE, &path, Some(&proof), vec![]).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        for s in ["hello", "grant"] {
            let r = c.send(Method::GET, &slot(&ch, s), None, vec![]).await;
            assert_eq!(r.error(), "no_link");
        }
        server.stop().await;
    }
}
