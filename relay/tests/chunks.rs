//! Attachment chunks from outside (docs/API.md "Attachments (chunks)"): what a client
//! uploads comes back byte for byte, whole or by range; malformed, percent-encoded and
//! mismatched addresses, bad lengths and bad tokens store nothing; concurrent uploads of
//! one chunk store it once; expired chunks say so and leave no bytes behind. SQLite
//! always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::chunks::*;
use common::*;
use reqwest::{Method, StatusCode};

/// The seven chunk lengths (docs/PROTOCOL.md 26.2).
const LENGTHS: [usize; 7] = [1052, 4124, 16412, 65564, 262172, 1048604, 4194332];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_of_every_length_come_back_byte_for_byte() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let limits = c.send(Method::GET, "/v2/limits", None, vec![]).await;
        assert_eq!(limits.status, StatusCode::OK);
        assert_eq!(limits.json()["max_file_bytes"], 100 * 1024 * 1024);
        assert_eq!(limits.json()["upload_quota_bytes"], 25 * 4194332);
        assert_eq!(limits.json()["chunk_ttl_secs"], 14 * 24 * 3600);
        let upload = c.new_upload().await;
        assert_eq!(upload.status, StatusCode::CREATED);
        assert_eq!(upload.json()["quota_bytes"], 25 * 4194332);
        assert_eq!(upload.json()["expires_at"].as_i64().unwrap() % 300, 0);
        let token = upload.json()["token"].as_str().unwrap().to_string();
        assert_eq!(token.len(), 43, "base64url of 32 bytes");
        for len in LENGTHS {
            let bytes = chunk(len);
            let at = address(&bytes);
            assert_eq!(c.head_chunk(&at).await.status, StatusCode::NOT_FOUND);
            let r = c.put_chunk(&token, &bytes).await;
            assert_eq!(r.status, StatusCode::CREATED, "{len}: {:?}", r.json());
            let head = c.head_chunk(&at).await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(head.headers["content-length"], len.to_string().as_str());
            assert!(head.bytes.is_empty());
            let got = c.get_chunk(&at, None).await;
            assert_eq!(got.status, StatusCode::OK);
            assert_eq!(got.headers["content-type"], "application/octet-stream");
            assert_eq!(got.headers["accept-ranges"], "bytes");
            assert!(got.bytes == bytes, "{len}: other bytes came back");
            // Uploading it again (a client resuming) stores nothing new.
            assert_eq!(c.put_chunk(&token, &bytes).await.status, StatusCode::OK);
        }
        let missing = c.get_chunk(&address(b"never uploaded"), None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.error(), "unknown_chunk");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_lengths_and_tokens_store_nothing() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let token = c.upload_token().await;
        let bytes = chunk(SMALL);
        let at = address(&bytes);
        let percent: String = at[..2].bytes().map(|b| format!("%{b:02x}")).collect();
        for bad in [
            at.to_uppercase(),
            at[..62].to_string(),
            format!("{at}00"),
            format!("{}zz", &at[..62]),
            format!("{percent}{}", &at[2..]),
            format!("{at}%20"),
        ] {
            let r = c.put_chunk_at(&token, &bad, &bytes).await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::BAD_REQUEST, "bad_address"),
                "PUT {bad}"
            );
            let r = c.get_chunk(&bad, None).await;
            assert_eq!(r.error(), "bad_address", "GET {bad}");
        }
        // Lengths that are not chunk lengths, also one byte off.
        for len in [0, 1, 1024, 1051, 1053, 4096, 4194331] {
            let body = chunk(len);
            let r = c.put_chunk(&token, &body).await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::BAD_REQUEST, "bad_chunk_len"),
                "{len}"
            );
            assert_eq!(
                c.head_chunk(&address(&body)).await.status,
                StatusCode::NOT_FOUND
            );
        }
        // Longer than any chunk: refused unread, so the relay may close the connection
        // while the body is still coming.
        let long = chunk(4194333);
        let r = c
            .http
            .put(format!("{}{}", c.base, chunk_path(&address(&long))))
            .header("authorization", format!("Upload {token}"))
            .body(long.clone())
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        }
        // On a connection of its own: the pool may hand back the one the relay is
        // closing (a cold CI run failed here with a broken pipe).
        assert_eq!(
            Client::new(&c.base)
                .head_chunk(&address(&long))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // Bytes that do not hash to the address: another chunk's address.
        let other = chunk(SMALL);
        let r = c.put_chunk_at(&token, &address(&other), &bytes).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "address_mismatch")
        );
        assert_eq!(
            c.head_chunk(&address(&other)).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(c.head_chunk(&at).await.status, StatusCode::NOT_FOUND);
        // Tokens: none, another scheme, malformed, unknown.
        let path = chunk_path(&at);
        for auth in [
            None,
            Some(format!("Bearer {token}")),
            Some("Upload".to_string()),
            Some("Upload !!!".to_string()),
            Some(format!("Upload {}", &token[..40])),
            // Well-formed, never issued.
            Some(format!("Upload {}", "A".repeat(43))),
        ] {
            let r = c
                .send(Method::PUT, &path, auth.as_deref(), bytes.clone())
                .await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::UNAUTHORIZED, "bad_upload_token"),
                "{auth:?}"
            );
        }
        assert_eq!(c.head_chunk(&at).await.status, StatusCode::NOT_FOUND);
        // After all that the chunk still goes up with the real token.
        assert_eq!(
            c.put_chunk(&token, &bytes).await.status,
            StatusCode::CREATED
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_are_served_and_bad_ones_refused() {
    for backend in backends() {
        let server = Server::start(&backend, &[]).await;
        let c = server.client();
        let token = c.upload_token().await;
        let bytes = chunk(LENGTHS[5]);
        let at = address(&bytes);
        assert_eq!(
            c.put_chunk(&token, &bytes).await.status,
            StatusCode::CREATED
        );
        let len = bytes.len();
        for (range, first, last) in [
            ("bytes=0-0", 0, 0),
            ("bytes=100-299999", 100, 299_999),
            ("bytes=1000000-", 1_000_000, len - 1),
            ("bytes=-28", len - 28, len - 1),
            ("bytes=5-99999999", 5, len - 1),
        ] {
            let r = c.get_chunk(&at, Some(range)).await;
            assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{range}");
            assert_eq!(
                r.headers["content-range"],
                format!("bytes {first}-{last}/{len}").as_str()
            );
            assert!(r.bytes == bytes[first..=last], "{range}: other bytes");
        }
        for range in [
            format!("bytes={len}-"),
            "bytes=10-5".to_string(),
            "bytes=0-1,5-6".to_string(),
            "items=0-5".to_string(),
            "bytes=x-".to_string(),
        ] {
            let r = c.get_chunk(&at, Some(&range)).await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::RANGE_NOT_SATISFIABLE, "bad_range"),
                "{range}"
            );
            assert_eq!(
                r.headers["content-range"],
                format!("bytes */{len}").as_str()
            );
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_store_each_chunk_once() {
    for backend in backends() {
        // A token's quota is three 1 KiB chunks.
        let server = Server::start(&backend, &["--max-file-bytes", "3000"]).await;
        let c = server.client();
        let token = c.upload_token().await;
        let bytes = chunk(SMALL);
        let same = (0..8).map(|_| c.put_chunk(&token, &bytes));
        let statuses: Vec<StatusCode> = futures_util::future::join_all(same)
            .await
            .iter()
            .map(|r| r.status)
            .collect();
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::CREATED || *s == StatusCode::OK),
            "{statuses:?}"
        );
        assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
        assert!(c.get_chunk(&address(&bytes), None).await.bytes == bytes);
        // However many answered 201, the token paid for one chunk: two more fit.
        for _ in 0..2 {
            assert_eq!(
                c.put_chunk(&token, &chunk(SMALL)).await.status,
                StatusCode::CREATED
            );
        }
        assert_eq!(
            c.put_chunk(&token, &chunk(SMALL)).await.error(),
            "quota_exceeded"
        );

        // Different chunks at once, each with its own token, all stored.
        let chunks: Vec<Vec<u8>> = (0..12).map(|_| chunk(SMALL)).collect();
        let mut tokens = Vec::new();
        for _ in &chunks {
            tokens.push(c.upload_token().await);
        }
        let puts = chunks.iter().zip(&tokens).map(|(b, t)| c.put_chunk(t, b));
        for r in futures_util::future::join_all(puts).await {
            assert_eq!(r.status, StatusCode::CREATED);
        }
        for b in &chunks {
            assert!(c.get_chunk(&address(b), None).await.bytes == *b);
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_chunks_say_so_and_leave_no_bytes() {
    for backend in backends() {
        let backend = isolated(&backend).await;
        let server = Server::start(
            &backend,
            &["--chunk-ttl-secs", "1", "--purge-interval-secs", "1"],
        )
        .await;
        let c = server.client();
        let token = c.upload_token().await;
        let bytes = chunk(LENGTHS[1]);
        let at = address(&bytes);
        assert_eq!(
            c.put_chunk(&token, &bytes).await.status,
            StatusCode::CREATED
        );
        eventually("the chunk expires", || async {
            c.get_chunk(&at, None).await.status == StatusCode::GONE
        })
        .await;
        let r = c.get_chunk(&at, None).await;
        assert_eq!(r.error(), "chunk_expired");
        assert_eq!(c.head_chunk(&at).await.status, StatusCode::GONE);
        if matches!(backend, Backend::Sqlite) {
            let file = server.data_dir().join("chunks").join(&at[..2]).join(&at);
            eventually("the purge deletes the chunk's file", || async {
                !file.exists()
            })
            .await;
        }
        // Whoever still has the bytes may upload them again.
        assert_eq!(
            c.put_chunk(&token, &bytes).await.status,
            StatusCode::CREATED
        );
        server.stop().await;
    }
}
