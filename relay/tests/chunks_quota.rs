//! Attachment uploads as an abuser tries them (docs/API.md "Attachments (chunks)"): a
//! token holds one file's worth of chunks and no more, a refused or repeated upload
//! costs nothing, one address cannot collect tokens without limit, and the relay's disk
//! has a ceiling. SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::chunks::*;
use common::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_holds_one_file_and_failures_cost_nothing() {
    for backend in backends() {
        // A file of at most 3000 bytes: three 1 KiB chunks, 3156 bytes of quota.
        let server = Server::start(&backend, &["--max-file-bytes", "3000"]).await;
        let c = server.client();
        let upload = c.new_upload().await;
        assert_eq!(upload.json()["quota_bytes"], 3 * SMALL);
        let token = upload.json()["token"].as_str().unwrap().to_string();
        // A 4 KiB chunk is over the whole quota.
        let big = c.put_chunk(&token, &chunk(4124)).await;
        assert_eq!(
            (big.status, big.error().as_str()),
            (StatusCode::FORBIDDEN, "quota_exceeded")
        );
        // A refused upload gives its quota back: five mismatched bodies cost nothing.
        for _ in 0..5 {
            let r = c
                .put_chunk_at(&token, &address(&chunk(SMALL)), &chunk(SMALL))
                .await;
            assert_eq!(r.error(), "address_mismatch");
        }
        let first = chunk(SMALL);
        assert_eq!(
            c.put_chunk(&token, &first).await.status,
            StatusCode::CREATED
        );
        // Uploading a stored chunk again, any number of times, is free.
        for _ in 0..5 {
            assert_eq!(c.put_chunk(&token, &first).await.status, StatusCode::OK);
        }
        for _ in 0..2 {
            assert_eq!(
                c.put_chunk(&token, &chunk(SMALL)).await.status,
                StatusCode::CREATED
            );
        }
        let over = c.put_chunk(&token, &chunk(SMALL)).await;
        assert_eq!(
            (over.status, over.error().as_str()),
            (StatusCode::FORBIDDEN, "quota_exceeded")
        );
        // With the quota used up, a chunk that is there is still answered `200`, so a
        // resuming client is not stuck; a new token uploads the rest.
        assert_eq!(c.put_chunk(&token, &first).await.status, StatusCode::OK);
        let fresh = c.upload_token().await;
        assert_eq!(
            c.put_chunk(&fresh, &chunk(SMALL)).await.status,
            StatusCode::CREATED
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_collect_tokens_without_limit() {
    for backend in backends() {
        let server = Server::start(
            &backend,
            &["--rate-upload-burst", "3", "--rate-upload-per-sec", "0.001"],
        )
        .await;
        let flooder = client_from(&server, "127.0.0.2");
        for _ in 0..3 {
            assert_eq!(flooder.new_upload().await.status, StatusCode::CREATED);
        }
        for _ in 0..20 {
            let r = flooder.new_upload().await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            );
            assert_eq!(r.headers["retry-after"], "1");
        }
        // Someone else is not affected.
        let other = client_from(&server, "127.0.0.3");
        assert_eq!(other.new_upload().await.status, StatusCode::CREATED);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chunk_store_has_a_ceiling() {
    for backend in backends() {
        // Room for two 1 KiB chunks; chunk_usage is per database, hence its own schema.
        let backend = isolated(&backend).await;
        let server = Server::start(&backend, &["--max-chunk-store-bytes", "2200"]).await;
        let c = server.client();
        let token = c.upload_token().await;
        let kept = [chunk(SMALL), chunk(SMALL)];
        for bytes in &kept {
            assert_eq!(c.put_chunk(&token, bytes).await.status, StatusCode::CREATED);
        }
        let full = c.put_chunk(&token, &chunk(SMALL)).await;
        assert_eq!(
            (full.status, full.error().as_str()),
            (StatusCode::INSUFFICIENT_STORAGE, "chunks_full")
        );
        assert_eq!(full.headers["retry-after"], "60");
        // What is stored stays readable and re-uploadable.
        assert_eq!(c.put_chunk(&token, &kept[0]).await.status, StatusCode::OK);
        assert!(c.get_chunk(&address(&kept[1]), None).await.bytes == kept[1]);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_chunks_free_their_room() {
    for backend in backends() {
        let backend = isolated(&backend).await;
        let server = Server::start(
            &backend,
            &[
                "--max-chunk-store-bytes",
                "1100",
                "--chunk-ttl-secs",
                "1",
                "--purge-interval-secs",
                "1",
            ],
        )
        .await;
        let c = server.client();
        let token = c.upload_token().await;
        assert_eq!(
            c.put_chunk(&token, &chunk(SMALL)).await.status,
            StatusCode::CREATED
        );
        // Once the purge deleted it, its room is free again (the count went down).
        let next = chunk(SMALL);
        eventually("the purge frees the expired chunk's room", || async {
            c.put_chunk(&token, &next).await.status == StatusCode::CREATED
        })
        .await;
        server.stop().await;
    }
}
