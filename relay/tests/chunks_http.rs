//! Chunk uploads at the HTTP level: a slow uplink gets `--chunk-upload-timeout-secs`
//! rather than the general request timeout (and no more), `Expect: 100-continue` lets a
//! client skip the body of a chunk the relay has, and a refusal of a large chunk reaches
//! a client that is still sending instead of a reset connection. The timeouts do not
//! depend on the backend: SQLite only.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::chunks::*;
use common::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a chunk upload's headers and `bytes` in two halves with `pause` between them,
/// and returns the answer's status line.
async fn trickle(server: &Server, token: &str, bytes: &[u8], pause: Duration) -> String {
    let mut tcp = connect_from(server, "127.0.0.1").await;
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: relay\r\nAuthorization: Upload {token}\r\nContent-Length: {}\r\n\r\n",
        chunk_path(&address(bytes)),
        bytes.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (first, second) = bytes.split_at(bytes.len() / 2);
    tcp.write_all(first).await.unwrap();
    tokio::time::sleep(pause).await;
    // The relay may have answered and closed already.
    let _ = tcp.write_all(second).await;
    status_line(&mut tcp).await
}

async fn status_line(tcp: &mut tokio::net::TcpStream) -> String {
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(PATIENCE, tcp.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).to_string();
    text.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_chunk_upload_gets_its_own_timeout() {
    let server = Server::start(
        &Backend::Sqlite,
        &[
            "--request-timeout-secs",
            "1",
            "--chunk-upload-timeout-secs",
            "3",
            "--max-file-bytes",
            "3000",
        ],
    )
    .await;
    let c = server.client();
    let token = c.upload_token().await;
    let slow = chunk(SMALL);
    let answer = trickle(&server, &token, &slow, Duration::from_millis(1500)).await;
    assert!(
        answer.contains("201"),
        "slower than the request timeout: {answer}"
    );
    assert!(c.get_chunk(&address(&slow), None).await.bytes == slow);
    let too_slow = chunk(SMALL);
    let answer = trickle(&server, &token, &too_slow, Duration::from_millis(3500)).await;
    assert!(
        answer.contains("408"),
        "slower than the chunk timeout: {answer}"
    );
    assert_eq!(
        c.head_chunk(&address(&too_slow)).await.status,
        StatusCode::NOT_FOUND
    );
    // Its quota came back (given back as the request is dropped): two more fit.
    let next = chunk(SMALL);
    eventually("the timed-out upload's quota comes back", || async {
        c.put_chunk(&token, &next).await.status == StatusCode::CREATED
    })
    .await;
    assert_eq!(
        c.put_chunk(&token, &chunk(SMALL)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        c.put_chunk(&token, &chunk(SMALL)).await.status,
        StatusCode::FORBIDDEN
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_skips_the_body_of_a_chunk_that_is_there() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let c = server.client();
    let token = c.upload_token().await;
    let bytes = chunk(4_194_332);
    assert_eq!(
        c.put_chunk(&token, &bytes).await.status,
        StatusCode::CREATED
    );
    let mut tcp = connect_from(&server, "127.0.0.1").await;
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: relay\r\nAuthorization: Upload {token}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        chunk_path(&address(&bytes)),
        bytes.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // No body sent: the answer comes anyway, and it is final (not `100 Continue`).
    assert!(status_line(&mut tcp).await.contains("200 OK"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// On loopback the kernel's socket buffers may take in a whole 4 MiB body the relay never
// reads, so this guards that the answer arrives, not the draining as such.
async fn a_refusal_reaches_a_client_still_sending_a_large_chunk() {
    let server = Server::start(&Backend::Sqlite, &["--max-file-bytes", "1000"]).await;
    let c = server.client();
    let token = c.upload_token().await;
    for auth in [
        format!("Upload {}", "A".repeat(43)),
        format!("Upload {token}"),
    ] {
        // Unknown token, then over the quota: refused before the body is read.
        let r = c
            .http
            .put(format!(
                "{}{}",
                c.base,
                chunk_path(&address(&chunk(4_194_332)))
            ))
            .header("authorization", auth)
            .body(chunk(4_194_332))
            .send()
            .await
            .expect("an answer, not a reset connection");
        assert!(
            r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN,
            "{}",
            r.status()
        );
    }
    server.stop().await;
}
