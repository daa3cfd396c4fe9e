//! Connections, as attacks from outside: silent, slow and many connections from one
//! address must not keep the relay from answering others.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long an honest client may wait for an answer while the relay is attacked. The
/// relay answers in milliseconds; the margin is for slow, shared test machines.
const ANSWERED_WITHIN: Duration = Duration::from_secs(5);

/// Everything the relay sends until it closes the connection; an error (a reset) fails.
async fn read_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the relay never closed the connection")
        .expect("the connection was reset instead of answered");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_free_their_slot() {
    use tokio::io::AsyncReadExt;
    let server = Server::start(
        &Backend::Sqlite,
        &[
            "--max-connections",
            "1",
            "--idle-timeout-secs",
            "1",
            "--header-timeout-secs",
            "1",
        ],
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
async fn slowloris_and_a_flood_from_one_address_leave_others_answered() {
    let server = Server::start(
        &Backend::Sqlite,
        &[
            "--header-timeout-secs",
            "1",
            "--max-connections",
            "64",
            "--max-connections-per-address",
            "16",
            "--rate-ip-per-sec",
            "0",
        ],
    )
    .await;
    let honest = client_from(&server, "127.0.0.2");
    let (alice, _) = honest.account(0).await;
    // 100 connections from one address, each sending a header line every 300 ms and
    // never the end of the headers: more than the global cap, far more than its share.
    let mut attackers = Vec::new();
    for _ in 0..100 {
        let stream = connect_from(&server, "127.0.0.1").await;
        attackers.push(tokio::spawn(async move {
            let (mut read, mut write) = stream.into_split();
            let trickle = tokio::spawn(async move {
                let _ = write
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .await;
                loop {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if write.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return;
                    }
                }
            });
            let mut sink = Vec::new();
            // Ends when the relay closes the connection (a reset counts too).
            let closed = tokio::time::timeout(PATIENCE, read.read_to_end(&mut sink)).await;
            trickle.abort();
            closed.is_ok() && !String::from_utf8_lossy(&sink).contains("200 OK")
        }));
    }
    // Meanwhile another address is answered, again and again.
    for _ in 0..10 {
        for path in ["/healthz".to_string(), alice.list_path()] {
            let r = tokio::time::timeout(
                ANSWERED_WITHIN,
                honest.send(Method::GET, &path, None, vec![]),
            )
            .await
            .expect("an honest client was not answered during the attack");
            assert_eq!(r.status, StatusCode::OK, "{path}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for a in attackers {
        assert!(
            a.await.unwrap(),
            "every slow connection is closed without an answer"
        );
    }
    let metrics = honest.send(Method::GET, "/metrics", None, vec![]).await;
    let text = String::from_utf8(metrics.bytes).unwrap();
    assert!(
        !text.contains("sealpost_connections_refused_total 0\n"),
        "connections over the address's share were refused: {text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_408_and_the_connection_ends() {
    let server = Server::start(&Backend::Sqlite, &["--request-timeout-secs", "1"]).await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    let stream = connect_from(&server, "127.0.0.1").await;
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 512\r\n\r\n",
        alice.mailbox(&laptop)
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..512 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(&[2]).await.is_err() {
                return;
            }
        }
    });
    let answer = read_until_closed(&mut read).await;
    trickle.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(c.list2(&alice, &laptop).await.is_empty(), "nothing stored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unexpected_bodies_are_answered_not_reset() {
    let server = Server::start(&Backend::Sqlite, &[]).await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    let list = format!("{}/blobs", alice.mailbox(&laptop));
    let auth = alice.sign("GET", &list, b"");
    let cases = [
        // A GET whose body nobody reads: answered as without it.
        ("GET", list.clone(), Some(auth), 47 * 1024, "HTTP/1.1 200"),
        ("GET", list.clone(), None, 47 * 1024, "HTTP/1.1 401"),
        // Refused before the body is read (401) or as too large (413).
        ("GET", list.clone(), None, 1536 * 1024, "HTTP/1.1 401"),
        (
            "POST",
            format!("{}/ack", alice.mailbox(&laptop)),
            None,
            1536 * 1024,
            "HTTP/1.1 413",
        ),
        (
            "POST",
            "/v2/mailboxes/abc/def".into(),
            None,
            300 * 1024,
            "HTTP/1.1 400",
        ),
    ];
    for (method, path, auth, len, expected) in cases {
        let stream = connect_from(&server, "127.0.0.1").await;
        let (mut read, mut write) = stream.into_split();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Length: {len}\r\n\r\n"
        );
        let send = tokio::spawn(async move {
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(&vec![7u8; len]).await;
        });
        let answer = read_until_closed(&mut read).await;
        assert!(
            answer.starts_with(expected),
            "{method} {path} with {len} bytes: {answer}"
        );
        send.abort();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_per_address_are_capped() {
    let server = Server::start(&Backend::Sqlite, &["--max-ws-per-address", "2"]).await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    let first = Ws::device(&c, &alice, &laptop).await;
    let _second = Ws::device(&c, &alice, &laptop).await;
    let url = format!(
        "{}{}/ws",
        c.base.replacen("http://", "ws://", 1),
        alice.mailbox(&laptop)
    );
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("a third WebSocket from one address: {other:?}"),
    }
    // Another address is not affected.
    let stream = connect_from(&server, "127.0.0.2").await;
    let (_other, _) = tokio_tungstenite::client_async(url.as_str(), stream)
        .await
        .unwrap();
    // A closed connection gives its slot back.
    drop(first);
    eventually("the closed WebSocket's slot is free again", || async {
        tokio_tungstenite::connect_async(url.as_str()).await.is_ok()
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let server = Server::start(
        &Backend::Sqlite,
        &[
            "--trusted-proxies",
            "127.0.0.1",
            "--rate-ip-per-sec",
            "0.001",
            "--rate-ip-burst",
            "2",
        ],
    )
    .await;
    let path = Account::new(0).list_path();
    let from = |c: &Client, forwarded: &'static str| {
        let req = c
            .http
            .get(format!("{}{path}", c.base))
            .header("x-forwarded-for", forwarded);
        async move { req.send().await.unwrap().status() }
    };
    // The trusted proxy: each forwarded client has its own budget.
    let proxy = client_from(&server, "127.0.0.1");
    for _ in 0..2 {
        assert_eq!(from(&proxy, "203.0.113.1").await, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        from(&proxy, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(from(&proxy, "203.0.113.2").await, StatusCode::NOT_FOUND);
    // Anyone else: the header is ignored, a new claimed address buys nothing.
    let other = client_from(&server, "127.0.0.2");
    for _ in 0..2 {
        assert_eq!(from(&other, "203.0.113.3").await, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        from(&other, "203.0.113.4").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_takes_no_pushes_is_closed() {
    let server = Server::start(
        &Backend::Sqlite,
        &["--idle-timeout-secs", "1", "--max-ws-per-address", "1"],
    )
    .await;
    let c = server.client();
    let (alice, laptop) = c.account(0).await;
    // Logged in, then never reads again.
    let stuck = Ws::device(&c, &alice, &laptop).await;
    // About 10.7 MB of pushes (base64), far more than the socket buffers hold.
    for _ in 0..8 {
        let env = envelope2(
            alice.id(),
            &laptop,
            sealpost_core::padding::MAX_ENVELOPE_LEN,
        );
        assert_eq!(
            c.deposit2(&alice, &laptop, env).await.status,
            StatusCode::CREATED
        );
    }
    // The relay gives up on it, and its address's only WebSocket slot is free again.
    let url = format!(
        "{}{}/ws",
        c.base.replacen("http://", "ws://", 1),
        alice.mailbox(&laptop)
    );
    eventually("the stuck WebSocket is closed", || async {
        tokio_tungstenite::connect_async(url.as_str()).await.is_ok()
    })
    .await;
    drop(stuck);
    server.stop().await;
}
