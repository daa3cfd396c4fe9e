//! `GET /v2/mailboxes/{id}/{device}/turn` (docs/API.md "TURN credentials"): only the
//! mailbox's owner gets servers (signature or its token; another mailbox's token, no
//! credentials or a stranger's signature get 401); the TURN username is
//! `<expiry>:<opaque>` expiring `--turn-ttl-secs` from now, the credential coturn's
//! `base64(HMAC-SHA1(secret, username))`, fresh for each request; without a secret no
//! TURN server is offered; and the secret appears in no log line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const SECRET: &str = "north-wind-7f3c2a9e-secret";
const TURN: &str = "turn:127.0.0.1:3478?transport=udp";
const STUN: &str = "stun:127.0.0.1:3478";

fn flags() -> Vec<&'static str> {
    vec![
        "--stun-url",
        STUN,
        "--turn-url",
        TURN,
        "--turn-secret",
        SECRET,
        "--turn-ttl-secs",
        "600",
    ]
}

fn hmac(username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn get(c: &Client, path: &str, auth: Option<&str>) -> Reply {
    c.send(Method::GET, path, auth, vec![]).await
}

#[tokio::test]
async fn only_the_owner_gets_short_lived_credentials_coturn_accepts() {
    let relay = Server::start(&Backend::Sqlite, &flags()).await;
    let c = relay.client();
    let (alice, phone) = c.account(0).await;
    let (bob, laptop) = c.account(1).await;
    let path = format!("{}/turn", alice.mailbox(&phone));

    assert_eq!(get(&c, &path, None).await.status, StatusCode::UNAUTHORIZED);
    let bobs = bob.sign("GET", &path, b"");
    assert_eq!(
        get(&c, &path, Some(&bobs)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let bob_token = c.token2(&bob, &laptop).await;
    let r = get(&c, &path, Some(&format!("Bearer {bob_token}"))).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "another mailbox's token"
    );

    let before = now();
    let r = get(&c, &path, Some(&alice.sign("GET", &path, b""))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.bytes)
    );
    let v = r.json();
    assert_eq!(v["ttl"], 600);
    let servers = v["iceServers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0]["urls"], serde_json::json!([STUN]));
    assert!(servers[0].get("credential").is_none());
    let turn = &servers[1];
    assert_eq!(turn["urls"], serde_json::json!([TURN]));
    let username = turn["username"].as_str().unwrap();
    let (expiry, opaque) = username.split_once(':').unwrap();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (before + 600..=now() + 600).contains(&expiry),
        "expires in --turn-ttl-secs"
    );
    assert!(
        !opaque.is_empty() && !opaque.contains(alice.hex()),
        "no account id"
    );
    assert_eq!(turn["credential"].as_str().unwrap(), hmac(username));

    // Its token works too, and each request gets a username of its own.
    let token = c.token2(&alice, &phone).await;
    let again = get(&c, &path, Some(&format!("Bearer {token}"))).await;
    assert_eq!(again.status, StatusCode::OK);
    let other = again.json()["iceServers"][1]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(other, username);
    assert!(!String::from_utf8_lossy(&again.bytes).contains(SECRET));
}

#[tokio::test]
async fn without_a_secret_no_turn_server_is_offered() {
    let relay = Server::start(&Backend::Sqlite, &["--turn-url", TURN]).await;
    let c = relay.client();
    let (alice, phone) = c.account(0).await;
    let path = format!("{}/turn", alice.mailbox(&phone));
    let r = get(&c, &path, Some(&alice.sign("GET", &path, b""))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["iceServers"], Value::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_and_the_credentials_are_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = flags();
    extra.extend(["--log", "debug"]);
    let relay = Process::spawn(&Backend::Sqlite, dir.path(), &extra).await;
    let c = relay.client();
    let (alice, phone) = c.account(0).await;
    let path = format!("{}/turn", alice.mailbox(&phone));
    let r = get(&c, &path, Some(&alice.sign("GET", &path, b""))).await;
    assert_eq!(r.status, StatusCode::OK);
    let turn = r.json()["iceServers"][1].clone();
    let log = relay.terminate().join("\n");
    assert!(log.contains("listening on"), "the log was read");
    for secret in [
        SECRET,
        turn["username"].as_str().unwrap(),
        turn["credential"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "the log names {secret}");
    }
}
