//! Load benchmark (not a test): deposits per second and deposit-to-push latency with N
//! WebSocket subscribers, against a relay started in this process on port 0.
//!
//! ```text
//! cargo run --release -p sealpost-relay --example load -- --subscribers 100 --deposits 5000
//! cargo run --release -p sealpost-relay --example load -- --database-url postgres://...
//! ```
//! Depositors and subscribers run in this process too, so on a small machine they share
//! the CPU with the relay: the numbers are a floor, not a ceiling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use sealpost_core::rand_core::Rng;
use sealpost_core::v2::{DeviceEntry, DeviceId, DeviceList};
use sealpost_core::{IdentityKey, KeySize, UserId, auth, os_rng};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
struct Args {
    /// WebSocket subscribers (one mailbox each).
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Blobs to deposit in total, round-robin over the mailboxes.
    #[arg(long, default_value_t = 5000)]
    deposits: usize,
    /// Concurrent depositing HTTP clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Envelope size (a padding bucket).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// PostgreSQL instead of SQLite in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
}

fn now() -> u64 {
    sealpost_relay::now().try_into().unwrap()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let mut relay_args: Vec<String> = [
        "sealpost-relay",
        "--rate-ip-per-sec",
        "0",
        "--rate-mailbox-per-sec",
        "0",
        "--mailbox-max-blobs",
        "1000000",
        "--max-concurrent-requests",
        "4096",
        "--log",
        "warn",
    ]
    .map(String::from)
    .to_vec();
    relay_args.extend(["--data-dir".to_string(), dir.path().display().to_string()]);
    let backend = match &args.database_url {
        Some(url) => {
            relay_args.extend(["--database-url".to_string(), url.clone()]);
            "PostgreSQL"
        }
        None => "SQLite",
    };
    let config = sealpost_relay::Config::try_parse_from(relay_args).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        sealpost_relay::run(&config, listener, std::future::pending())
            .await
            .unwrap()
    });
    let http = reqwest::Client::new();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One RSA-2048 identity key for every subscriber: key generation is not what we
    // measure.
    let mut rng = os_rng();
    let identity = IdentityKey::generate(&mut rng, KeySize::Rsa2048).unwrap();

    let n = args.deposits;
    let started: Arc<Vec<Mutex<Option<Instant>>>> =
        Arc::new((0..n).map(|_| Mutex::new(None)).collect());
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let received = Arc::new(AtomicUsize::new(0));
    let mut ids = Vec::new();
    let mut subscribers = Vec::new();
    for _ in 0..args.subscribers {
        let mut raw = [0u8; 32];
        rng.fill_bytes(&mut raw);
        let id = UserId::from_bytes(raw);
        // One device per account, its list signed by the shared identity key.
        let device = DeviceId::generate(&mut rng);
        let entry = DeviceEntry {
            id: device,
            added_at: now(),
            name: "load".into(),
        };
        let list = DeviceList::sign(&mut rng, id, &identity, now(), vec![entry]).unwrap();
        let r = http
            .put(format!("{base}/v2/users/{}/devices", id.to_hex()))
            .body(list.to_bytes().to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let url = format!(
            "{}/v2/mailboxes/{}/{}/ws",
            base.replacen("http", "ws", 1),
            id.to_hex(),
            device.to_hex()
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("no challenge")
        };
        let challenge: Value = serde_json::from_str(&t).unwrap();
        let c = B64
            .decode(challenge["challenge"].as_str().unwrap())
            .unwrap();
        let signed = [device.as_bytes().as_slice(), &c].concat();
        let sig = identity
            .sign(&mut rng, &auth::challenge_signing_input(&id, &signed))
            .unwrap();
        ws.send(Message::Text(
            json!({"type": "auth", "signature": B64.encode(sig)})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("no ready")
        };
        assert!(t.contains("ready"), "{t}");
        let (started, latencies, received) = (started.clone(), latencies.clone(), received.clone());
        subscribers.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                let at = Instant::now();
                let m: Value = serde_json::from_str(&t).unwrap();
                let data = B64.decode(m["data"].as_str().unwrap()).unwrap();
                let index =
                    usize::try_from(u64::from_be_bytes(data[49..57].try_into().unwrap())).unwrap();
                if let Some(t0) = *started[index].lock().await {
                    latencies.lock().await.push(at.duration_since(t0));
                }
                received.fetch_add(1, Ordering::Relaxed);
                let ack = json!({"type": "ack", "ids": [m["id"]]}).to_string();
                if ws.send(Message::Text(ack.into())).await.is_err() {
                    break;
                }
            }
        }));
        ids.push((id, device));
    }
    println!(
        "{backend}: {} subscribers, {n} deposits of {} B, {} concurrent depositors",
        args.subscribers, args.size, args.concurrency
    );

    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids);
    let t0 = Instant::now();
    let mut depositors = Vec::new();
    for _ in 0..args.concurrency {
        let (next, ids, started, http, base) = (
            next.clone(),
            ids.clone(),
            started.clone(),
            http.clone(),
            base.clone(),
        );
        let size = args.size;
        depositors.push(tokio::spawn(async move {
            let mut env = vec![0u8; size];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (to, device) = &ids[i % ids.len()];
                env[0] = 2;
                env[1..33].copy_from_slice(to.as_bytes());
                env[33..49].copy_from_slice(device.as_bytes());
                env[49..57].copy_from_slice(&(i as u64).to_be_bytes());
                *started[i].lock().await = Some(Instant::now());
                let r = http
                    .post(format!(
                        "{base}/v2/mailboxes/{}/{}",
                        to.to_hex(),
                        device.to_hex()
                    ))
                    .body(env.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for d in depositors {
        d.await.unwrap();
    }
    let deposit_time = t0.elapsed();
    while received.load(Ordering::Relaxed) < n
        && t0.elapsed() < deposit_time + Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut l = latencies.lock().await.clone();
    l.sort();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "deposits/s: {:.0}  (all {n} stored in {:.2} s)",
        n as f64 / deposit_time.as_secs_f64(),
        deposit_time.as_secs_f64()
    );
    println!(
        "deposit-to-push latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms  ({} of {n} pushed)",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        l.len()
    );
}
