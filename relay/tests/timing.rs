//! Owner-auth refusals take the same time whether the id exists or not (issue 13: a bad
//! signature was refused 33% to 128% slower for an existing id). Interleaved samples of
//! both, compared by their medians, within SimpleX's tolerance of 30%: robust to a busy
//! machine, which slows both alike, and to outliers.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::v2::*;
use common::*;
use reqwest::{Method, StatusCode};
use sealpost_core::os_rng;
use sealpost_core::rand_core::Rng;

/// Largest accepted ratio between the two medians.
const TOLERANCE: f64 = 1.30;

/// Pairs of requests per batch; batches per comparison.
const PAIRS: usize = 150;
const BATCHES: usize = 3;

/// A forged `Authorization`: fresh timestamp and nonce, random signature of `len` bytes
/// (the length of a real signature, so nothing is refused on its length).
fn forged(len: usize) -> String {
    let mut sig = vec![0u8; len];
    os_rng().fill_bytes(&mut sig);
    format!(
        "Sealpost-Sig ts={},nonce={},sig={}",
        now(),
        nonce(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

async fn refusal_time(c: &Client, path: &str, sig_len: usize) -> Duration {
    let auth = forged(sig_len);
    let t = Instant::now();
    let r = c.send(Method::GET, path, Some(&auth), vec![]).await;
    let elapsed = t.elapsed();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_do_not_tell_whether_the_id_exists() {
    let server = Server::start(&Backend::Sqlite, &["--rate-ip-per-sec", "0"]).await;
    let c = server.client();
    // An RSA-4096 identity key, the PWA's default (the shared test keys are 2048-bit):
    // where verifying costs the most, a difference shows the most.
    let key = sealpost_core::IdentityKey::generate(&mut os_rng(), sealpost_core::KeySize::Rsa4096)
        .unwrap();
    let mut alice = Account::from_user(User::with_key(key));
    let laptop = alice.add_device();
    c.publish_list(&mut alice).await;
    let mut stranger = Account::new(0);
    let stranger_device = stranger.add_device();
    let known = format!("{}/blobs", alice.mailbox(&laptop));
    let unknown = format!("{}/blobs", stranger.mailbox(&stranger_device));
    // 512 bytes: a full verification with alice's key; 256: a signature of another size.
    for sig_len in [512, 256] {
        for _ in 0..30 {
            refusal_time(&c, &known, sig_len).await;
            refusal_time(&c, &unknown, sig_len).await;
        }
        let mut ratios = Vec::new();
        for _ in 0..BATCHES {
            let (mut k, mut u) = (Vec::new(), Vec::new());
            for i in 0..PAIRS {
                // Alternate which goes first, so neither always meets a warmer cache.
                if i % 2 == 0 {
                    k.push(refusal_time(&c, &known, sig_len).await);
                    u.push(refusal_time(&c, &unknown, sig_len).await);
                } else {
                    u.push(refusal_time(&c, &unknown, sig_len).await);
                    k.push(refusal_time(&c, &known, sig_len).await);
                }
            }
            let (mk, mu) = (median(k), median(u));
            eprintln!("{sig_len}-byte signatures: median known {mk:?}, unknown {mu:?}");
            ratios.push(mk.as_secs_f64() / mu.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        let ratio = ratios[ratios.len() / 2];
        assert!(
            (1.0 / TOLERANCE..=TOLERANCE).contains(&ratio),
            "{sig_len}-byte signatures: known/unknown median ratio {ratio:.2} (batches {ratios:?})"
        );
    }
    server.stop().await;
}
