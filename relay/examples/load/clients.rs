//! The load generator's clients: WebSocket subscribers that acknowledge every blob as
//! it arrives, and concurrent HTTP depositors. The same code drives the relay and the
//! baselines; only the URLs and the relay's authentication differ.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures_util::{SinkExt, StreamExt};
use sealpost_core::rand_core::Rng;
use sealpost_core::v2::{DeviceEntry, DeviceId, DeviceList};
use sealpost_core::{IdentityKey, KeySize, UserId, auth, os_rng};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where envelopes carry the deposit's index (after the v2 prefix).
const INDEX_AT: usize = 49;

/// One mailbox of the target: its deposit URL path and how to subscribe to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Path deposits go to.
    pub deposit_path: String,
    /// The v2 envelope prefix (`2 || user || device`).
    pub prefix: Vec<u8>,
    /// Path of the WebSocket.
    pub ws_path: String,
    /// For the relay: the account whose identity key answers the challenge.
    pub owner: Option<(UserId, DeviceId)>,
}

/// One RSA-2048 identity for every account: key generation is not what we measure.
pub fn identity() -> IdentityKey {
    IdentityKey::generate(&mut os_rng(), KeySize::Rsa2048).unwrap()
}

/// Registers `n` accounts of one device each on the relay at `base`.
pub async fn relay_targets(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    key: &IdentityKey,
) -> Vec<Target> {
    let mut rng = os_rng();
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        let mut raw = [0u8; 32];
        rng.fill_bytes(&mut raw);
        let user = UserId::from_bytes(raw);
        let device = DeviceId::generate(&mut rng);
        let entry = DeviceEntry {
            id: device,
            added_at: super::now(),
            name: "load".into(),
        };
        let list = DeviceList::sign(&mut rng, user, key, 1, vec![entry]).unwrap();
        let r = http
            .put(format!("{base}/v2/users/{}/devices", user.to_hex()))
            .body(list.to_bytes().to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        let mailbox = format!("/v2/mailboxes/{}/{}", user.to_hex(), device.to_hex());
        targets.push(Target {
            deposit_path: mailbox.clone(),
            prefix: [&[2u8][..], user.as_bytes(), device.as_bytes()].concat(),
            ws_path: format!("{mailbox}/ws"),
            owner: Some((user, device)),
        });
    }
    targets
}

/// `n` subscribers of the push baseline.
pub fn push_targets(n: usize) -> Vec<Target> {
    (0..n)
        .map(|i| Target {
            deposit_path: format!("/push/{i}"),
            prefix: vec![2; INDEX_AT],
            ws_path: format!("/push/{i}/ws"),
            owner: None,
        })
        .collect()
}

/// Deposits into the do-nothing handler.
pub fn null_targets(n: usize) -> Vec<Target> {
    (0..n)
        .map(|i| Target {
            deposit_path: format!("/null/{i}"),
            prefix: vec![2; INDEX_AT],
            ws_path: String::new(),
            owner: None,
        })
        .collect()
}

/// Opens the target's WebSocket and waits for `ready` (answering the relay's
/// challenge with a signature, or with `token` when given).
pub async fn connect(base: &str, t: &Target, key: &IdentityKey, token: Option<&str>) -> Socket {
    let url = format!("{}{}", base.replacen("http", "ws", 1), t.ws_path);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    if let Some((user, device)) = t.owner {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("no challenge")
        };
        let challenge: Value = serde_json::from_str(&text).unwrap();
        let auth = match token {
            Some(token) => json!({"type": "auth", "token": token}),
            None => {
                let c = B64
                    .decode(challenge["challenge"].as_str().unwrap())
                    .unwrap();
                let msg = auth::challenge_signing_input(
                    &user,
                    &[device.as_bytes().as_slice(), &c].concat(),
                );
                let sig = key.sign(&mut os_rng(), &msg).unwrap();
                json!({"type": "auth", "signature": B64.encode(sig)})
            }
        };
        ws.send(Message::Text(auth.to_string().into()))
            .await
            .unwrap();
    }
    let Some(Ok(Message::Text(text))) = ws.next().await else {
        panic!("no ready")
    };
    assert!(text.contains("ready"), "{text}");
    ws
}

/// What the subscribers saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Deposit-to-push latencies.
    pub latencies: Mutex<Vec<Duration>>,
    /// Blobs received.
    pub received: AtomicUsize,
}

/// When each deposit was sent.
pub type Started = Arc<Vec<std::sync::Mutex<Option<Instant>>>>;

/// Reads blobs from `ws` until it closes, acknowledging each one.
pub fn subscribe(mut ws: Socket, started: Started, seen: Arc<Seen>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            let at = Instant::now();
            let m: Value = serde_json::from_str(&t).unwrap();
            let data = B64.decode(m["data"].as_str().unwrap()).unwrap();
            let index = u64::from_be_bytes(data[INDEX_AT..INDEX_AT + 8].try_into().unwrap());
            let t0 = started[usize::try_from(index).unwrap()]
                .lock()
                .unwrap()
                .take();
            if let Some(t0) = t0 {
                seen.latencies.lock().await.push(at.duration_since(t0));
            }
            seen.received.fetch_add(1, Ordering::Relaxed);
            let ack = json!({"type": "ack", "ids": [m["id"]]}).to_string();
            if ws.send(Message::Text(ack.into())).await.is_err() {
                break;
            }
        }
    })
}

/// `concurrency` clients deposit `n` envelopes of `size` bytes round-robin over
/// `targets`; returns when every deposit was answered `201`.
pub async fn deposit_all(
    http: &reqwest::Client,
    base: &str,
    targets: &Arc<Vec<Target>>,
    n: usize,
    size: usize,
    concurrency: usize,
    started: &Started,
) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut depositors = Vec::new();
    for _ in 0..concurrency {
        let (next, targets, started, http) =
            (next.clone(), targets.clone(), started.clone(), http.clone());
        let base = base.to_string();
        depositors.push(tokio::spawn(async move {
            let mut env = vec![0u8; size];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let to = &targets[i % targets.len()];
                env[..to.prefix.len()].copy_from_slice(&to.prefix);
                env[INDEX_AT..INDEX_AT + 8].copy_from_slice(&(i as u64).to_be_bytes());
                *started[i].lock().unwrap() = Some(Instant::now());
                let r = http
                    .post(format!("{base}{}", to.deposit_path))
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
    t0.elapsed()
}

/// A fresh table of start times for `n` deposits.
pub fn started(n: usize) -> Started {
    Arc::new((0..n).map(|_| std::sync::Mutex::new(None)).collect())
}

/// The `p` quantile of sorted `l`.
pub fn quantile(l: &[Duration], p: f64) -> Duration {
    l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// A bearer token for the target's mailbox (a signed `POST .../token`).
pub async fn token(http: &reqwest::Client, base: &str, t: &Target, key: &IdentityKey) -> String {
    let path = format!("{}/token", t.deposit_path);
    let ts = super::now();
    let mut raw = [0u8; 16];
    os_rng().fill_bytes(&mut raw);
    let nonce = hex::encode(raw);
    let msg = auth::request_signing_input("POST", &path, b"", ts, &nonce);
    let sig = B64.encode(key.sign(&mut os_rng(), &msg).unwrap());
    let r = http
        .post(format!("{base}{path}"))
        .header(
            "authorization",
            format!("Sealpost-Sig ts={ts},nonce={nonce},sig={sig}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}
