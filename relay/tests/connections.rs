//! Connections, as attacks from outside: silent, slow and many connections from one
//! address must not keep the relay from answering others.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};

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
