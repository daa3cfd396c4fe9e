//! What the relay serves besides the API and what it shows of itself: the router
//! without a socket, the web app beside the API, security headers, metrics, and logs
//! that name nobody.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::v2::*;
use common::*;
use reqwest::Method;
use tower::ServiceExt;

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
            Request::get("/v2/users/ABC/devices")
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
            .starts_with("camera=(self), microphone=(self)")
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
    let api = c.send(Method::GET, "/v2/nope", None, vec![]).await;
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
    let (alice, laptop) = c.account(0).await;
    let (bob, bob_device) = c.account(1).await;
    let (blob_id, _) = c.deposit2_ok(&alice, &laptop).await;
    let token = c.token2(&alice, &laptop).await;
    let mut ws = Ws::device(&c, &alice, &laptop).await;
    ws.blob().await;
    ws.ack(&[&blob_id]).await;
    drop(ws);
    let path = format!("{}/blobs", alice.mailbox(&laptop));
    let forged = bob.sign("GET", &path, b"");
    assert_eq!(
        c.send(Method::GET, &path, Some(&forged), vec![])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let fetch = format!("/v2/users/{}/backup/fetch", alice.hex());
    c.send(Method::POST, &fetch, None, vec![9; 32]).await;
    c.deposit2(&bob, &bob_device, envelope2(alice.id(), &laptop, 512))
        .await;

    let log = relay.terminate().join("\n");
    assert!(
        log.contains("listening on") && log.contains("shutting down"),
        "{log}"
    );
    let (laptop, bob_device) = (laptop.to_hex(), bob_device.to_hex());
    for secret in [
        alice.hex(),
        bob.hex(),
        &laptop,
        &bob_device,
        &blob_id,
        &token,
    ] {
        assert!(!log.contains(secret), "the log names {secret}:\n{log}");
    }
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("127.0.0.1")).collect();
    assert!(
        lines.iter().all(|l| l.contains("listening on")),
        "only the listen address: {lines:?}"
    );
}
