//! What the relay keeps of a real attachment (docs/API.md "What the relay stores"): a
//! file encrypted by the core comes back and decrypts byte for byte, and afterwards
//! neither the data directory (database, write-ahead log, chunk files) nor the log
//! holds its name, media type or exact size; times are coarse; nothing orders chunks.
//! SQLite (data directory and log), and PostgreSQL's `chunks` table when
//! `SEALPOST_TEST_DATABASE_URL` is set.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use reqwest::StatusCode;
use sealpost_core::os_rng;
use sealpost_core::rand_core::Rng;
use sealpost_core::v2::attachment::{Decryptor, Encryptor, FileInfo, Manifest};

const NAME: &str = "holiday-in-alesund-7f3k.jpg";
const MEDIA_TYPE: &str = "image/x-sealpost-test";
/// 13 chunks of 4 KiB on the relay.
const SIZE: usize = 50_001;

/// Encrypts `file` and uploads each chunk; returns the manifest.
async fn send(c: &Client, token: &str, file: &[u8]) -> Manifest {
    let mut rng = os_rng();
    let mut enc = Encryptor::new(&mut rng, file.len() as u64).unwrap();
    let mut rest = file;
    loop {
        let taken = enc.write(rest).unwrap();
        rest = &rest[taken..];
        match enc.next_chunk(&mut rng).unwrap() {
            Some(chunk) => {
                let r = c.put_chunk(token, chunk.bytes()).await;
                assert_eq!(r.status, StatusCode::CREATED);
            }
            None if rest.is_empty() => break,
            None => {}
        }
    }
    enc.finish(FileInfo::new(NAME, MEDIA_TYPE).unwrap())
        .unwrap()
}

/// Fetches and decrypts the file `manifest` describes.
async fn fetch(c: &Client, manifest: &Manifest) -> Vec<u8> {
    let mut dec = Decryptor::new(manifest);
    let mut out = Vec::new();
    while let Some(at) = dec.next_address() {
        let bytes = c.get_chunk(&hex::encode(at), None).await.bytes;
        out.extend_from_slice(dec.open_chunk(&bytes).unwrap());
    }
    dec.finish().unwrap();
    out
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_keeps_no_name_type_or_size_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Process::spawn(&Backend::Sqlite, dir.path(), &[]).await;
    let c = relay.client();
    let token = c.upload_token().await;
    let mut file = vec![0u8; SIZE];
    os_rng().fill_bytes(&mut file);
    let manifest = send(&c, &token, &file).await;
    assert_eq!(manifest.chunk_addresses().len(), 13);
    assert!(fetch(&c, &manifest).await == file, "the file came back");
    let log = relay.terminate().join("\n");

    let addresses: Vec<String> = manifest.chunk_addresses().iter().map(hex::encode).collect();
    for secret in [NAME, MEDIA_TYPE, &token, &addresses[0], &SIZE.to_string()] {
        assert!(!log.contains(secret), "the log names {secret}");
    }
    let size = SIZE as u64;
    let needles: [(&str, Vec<u8>); 5] = [
        ("name", NAME.as_bytes().to_vec()),
        ("media type", MEDIA_TYPE.as_bytes().to_vec()),
        ("size in decimal", SIZE.to_string().into_bytes()),
        ("size as u64 BE", size.to_be_bytes().to_vec()),
        ("size as u64 LE", size.to_le_bytes().to_vec()),
    ];
    let all = files(dir.path());
    assert!(all.len() > 13, "the database and the 13 chunk files");
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        for (what, needle) in &needles {
            assert!(
                !contains(&bytes, needle),
                "{} holds the {what}",
                path.display()
            );
        }
    }

    let db = rusqlite::Connection::open(dir.path().join("relay.db")).unwrap();
    let mut q = db
        .prepare("SELECT address, len, expires_at FROM chunks")
        .unwrap();
    let rows: Vec<(Vec<u8>, i64, i64)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 13);
    for (address, len, expires_at) in rows {
        assert!(addresses.contains(&hex::encode(address)));
        assert_eq!(len, 4124, "only the chunk length");
        assert_eq!(expires_at % 300, 0, "coarse expiry");
    }
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('chunks')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(columns, ["address", "len", "expires_at"]);
    for table in ["chunks", "upload_tokens", "chunk_tombstones"] {
        assert!(
            db.prepare(&format!("SELECT rowid FROM {table}")).is_err(),
            "{table}: no hidden rowid records the upload order"
        );
    }
    let token_expiry: i64 = db
        .query_row("SELECT expires_at FROM upload_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(token_expiry % 300, 0);
    for at in &addresses {
        let path = dir.path().join("chunks").join(&at[..2]).join(at);
        let meta = std::fs::metadata(&path).unwrap();
        let mtime = meta
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(mtime % 300, 0, "the file's time is coarse");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_the_same_and_nothing_more() {
    let Some(url) = postgres_url() else {
        skipped(SKIPPED_POSTGRES);
        return;
    };
    let backend = isolated(&Backend::Postgres(url)).await;
    let server = Server::start(&backend, &[]).await;
    let c = server.client();
    let token = c.upload_token().await;
    let mut file = vec![0u8; SIZE];
    os_rng().fill_bytes(&mut file);
    let manifest = send(&c, &token, &file).await;
    assert!(fetch(&c, &manifest).await == file);
    server.stop().await;

    let Backend::Postgres(url) = backend else {
        unreachable!()
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_name = 'chunks' AND table_schema = current_schema() ORDER BY ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(columns, ["address", "len", "expires_at", "data"]);
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT len, expires_at FROM chunks")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 13);
    assert!(rows.iter().all(|(len, at)| *len == 4124 && at % 300 == 0));
    let (name, media): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM chunks WHERE position($1::bytea IN data) > 0),
                (SELECT COUNT(*) FROM chunks WHERE position($2::bytea IN data) > 0)",
    )
    .bind(NAME.as_bytes())
    .bind(MEDIA_TYPE.as_bytes())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((name, media), (0, 0), "the chunks are ciphertext");
}
