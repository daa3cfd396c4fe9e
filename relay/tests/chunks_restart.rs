//! Chunks across crashes and processes: a `201` chunk survives `kill -9`, a client
//! resuming after a restart finds what is there with `HEAD`, leftovers of interrupted
//! uploads are swept at start-up, and relay processes on one PostgreSQL database serve
//! each other's chunks. SQLite always, PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is
//! set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::chunks::*;
use common::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_chunk_survives_kill_9_and_the_upload_resumes() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Process::spawn(&backend, dir.path(), &[]).await;
        let c = relay.client();
        let token = c.upload_token().await;
        let file: Vec<Vec<u8>> = (0..4).map(|_| chunk(262_172)).collect();
        // Two of four chunks went up before the relay died.
        for bytes in &file[..2] {
            assert_eq!(c.put_chunk(&token, bytes).await.status, StatusCode::CREATED);
        }
        relay.kill();

        if matches!(backend, Backend::Sqlite) {
            // Leftovers a crash can leave: a half-received chunk, and a file renamed into
            // place whose record never committed.
            let chunks = dir.path().join("chunks");
            std::fs::write(chunks.join("tmp").join("0123456789abcdef"), b"half").unwrap();
            let orphan = chunk(SMALL);
            let at = address(&orphan);
            std::fs::create_dir_all(chunks.join(&at[..2])).unwrap();
            std::fs::write(chunks.join(&at[..2]).join(&at), &orphan).unwrap();
        }

        let relay = Process::spawn(&backend, dir.path(), &[]).await;
        let c = relay.client();
        // The client resumes with the same token: HEAD says what is there.
        let mut sent = 0;
        for bytes in &file {
            if c.head_chunk(&address(bytes)).await.status == StatusCode::NOT_FOUND {
                assert_eq!(c.put_chunk(&token, bytes).await.status, StatusCode::CREATED);
                sent += 1;
            }
        }
        assert_eq!(sent, 2, "only the chunks the relay did not confirm");
        for bytes in &file {
            assert!(c.get_chunk(&address(bytes), None).await.bytes == *bytes);
        }
        if matches!(backend, Backend::Sqlite) {
            let chunks = dir.path().join("chunks");
            assert_eq!(std::fs::read_dir(chunks.join("tmp")).unwrap().count(), 0);
            let on_disk: usize = std::fs::read_dir(&chunks)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| !p.ends_with("tmp"))
                .map(|p| std::fs::read_dir(p).unwrap().count())
                .sum();
            assert_eq!(on_disk, 4, "the orphan was deleted, the four chunks kept");
        }
        relay.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_serve_the_same_chunks() {
    let Some(url) = postgres_url() else {
        skipped(SKIPPED_POSTGRES);
        return;
    };
    let backend = Backend::Postgres(url);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Process::spawn(&backend, dir_a.path(), &[]).await;
    let b = Process::spawn(&backend, dir_b.path(), &[]).await;
    let (ca, cb) = (a.client(), b.client());
    let token = ca.upload_token().await;
    let bytes = chunk(1_048_604);
    assert_eq!(
        ca.put_chunk(&token, &bytes).await.status,
        StatusCode::CREATED
    );
    let at = address(&bytes);
    assert!(
        cb.get_chunk(&at, None).await.bytes == bytes,
        "uploaded on A, served by B"
    );
    let part = cb.get_chunk(&at, Some("bytes=300000-600000")).await;
    assert!(part.bytes == bytes[300_000..=600_000]);
    // The token is shared too: B knows it, and the chunk is already there.
    assert_eq!(cb.put_chunk(&token, &bytes).await.status, StatusCode::OK);
    assert_eq!(
        cb.put_chunk(&token, &chunk(SMALL)).await.status,
        StatusCode::CREATED
    );
}
