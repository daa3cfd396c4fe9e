//! Black-box fixtures: relays on port 0 (in-process or the real binary), users with
//! keys generated once per test binary, signed requests and a WebSocket client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use sealpost_core::rand_core::Rng;
use sealpost_core::{EncryptionKey, IdentityKey, KeySize, UserId, auth, os_rng};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod chunks;
pub mod room;
pub mod v2;

/// Hang protection only: nothing is asserted about how long anything takes.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn now() -> u64 {
    sealpost_relay::now().try_into().unwrap()
}

/// Which store a relay under test uses.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// What the suite says when PostgreSQL is not configured.
pub const SKIPPED_POSTGRES: &str = "SKIPPED PostgreSQL: SEALPOST_TEST_DATABASE_URL is not set; the relay suite ran on \
    SQLite only (set it to postgres://... to run every test against PostgreSQL too)";

/// SQLite always; PostgreSQL when `SEALPOST_TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    match std::env::var("SEALPOST_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => all.push(Backend::Postgres(url)),
        _ => skipped(SKIPPED_POSTGRES),
    }
    all
}

/// Says once per test binary, past the harness's output capture (which only takes the
/// print macros), that the PostgreSQL part did not run.
pub fn skipped(what: &str) {
    use std::io::Write;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "{what}");
    });
}

/// The same backend in a fresh PostgreSQL schema, for a relay whose purge must not
/// touch the other tests' data (all relays on one database share one time-to-live).
pub async fn isolated(backend: &Backend) -> Backend {
    match backend {
        Backend::Sqlite => Backend::Sqlite,
        Backend::Postgres(url) => {
            let schema = format!("test_{}", nonce().to_lowercase().replace(['-', '_'], ""));
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&pool)
                .await
                .unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            Backend::Postgres(format!("{url}{sep}options[search_path]={schema}"))
        }
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var("SEALPOST_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

// ---------------------------------------------------------------- users

/// Two RSA-2048 key sets (identity + encryption key), generated once per binary.
fn keys() -> &'static [(Vec<u8>, Vec<u8>); 2] {
    static KEYS: OnceLock<[(Vec<u8>, Vec<u8>); 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = os_rng();
        let mut one = || {
            let id = IdentityKey::generate(&mut rng, KeySize::Rsa2048).unwrap();
            let enc = EncryptionKey::generate(&mut rng, KeySize::Rsa2048).unwrap();
            (
                id.to_pkcs8_der().unwrap().to_vec(),
                enc.to_pkcs8_der().unwrap().to_vec(),
            )
        };
        [one(), one()]
    })
}

/// The encryption key of key set `key` (RSA generation is slow; tests reuse these).
pub fn encryption_key(key: usize) -> EncryptionKey {
    EncryptionKey::from_pkcs8_der(&keys()[key].1).unwrap()
}

/// An account id with the identity key of key set `key`.
pub struct User {
    pub key: IdentityKey,
    pub id: UserId,
    pub hex: String,
}

impl User {
    /// A fresh random id.
    pub fn new(key: usize) -> Self {
        let mut raw = [0u8; 32];
        os_rng().fill_bytes(&mut raw);
        Self::with_id(UserId::from_bytes(raw), key)
    }

    /// A fresh random id with its own identity key (slow to make: RSA).
    pub fn with_key(key: IdentityKey) -> Self {
        let mut user = Self::new(0);
        user.key = key;
        user
    }

    /// A user claiming `id` with key set `key` (a forger, when it is not the id's key).
    pub fn with_id(id: UserId, key: usize) -> Self {
        Self {
            key: IdentityKey::from_pkcs8_der(&keys()[key].0).unwrap(),
            id,
            hex: id.to_hex(),
        }
    }

    /// `Authorization` value for a request signed at `ts` with `nonce`.
    pub fn sig_header(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        ts: u64,
        nonce: &str,
    ) -> String {
        let msg = auth::request_signing_input(method, path, body, ts, nonce);
        let sig = self.key.sign(&mut os_rng(), &msg).unwrap();
        format!("Sealpost-Sig ts={ts},nonce={nonce},sig={}", B64.encode(sig))
    }

    /// A fresh signed header for this request.
    pub fn sign(&self, method: &str, path: &str, body: &[u8]) -> String {
        self.sig_header(method, path, body, now(), &nonce())
    }
}

pub fn nonce() -> String {
    let mut n = [0u8; 18];
    os_rng().fill_bytes(&mut n);
    B64.encode(n)
}

// ---------------------------------------------------------------- servers

/// A relay running in this process on port 0.
pub struct Server {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

pub fn args(backend: &Backend, dir: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["sealpost-relay", "--listen", "127.0.0.1:0", "--data-dir"]
        .map(String::from)
        .to_vec();
    a.push(dir.display().to_string());
    if let Backend::Postgres(url) = backend {
        a.push("--database-url".into());
        a.push(url.clone());
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

impl Server {
    pub async fn start(backend: &Backend, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(backend, dir, extra).await
    }

    pub async fn start_in(backend: &Backend, dir: tempfile::TempDir, extra: &[&str]) -> Self {
        use clap::Parser;
        let config =
            sealpost_relay::Config::try_parse_from(args(backend, dir.path(), extra)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            sealpost_relay::run(&config, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let s = Self {
            base,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        };
        s.client().wait_healthy().await;
        s
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// The data directory (the SQLite database's files).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Graceful shutdown; returns the data directory for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(PATIENCE, t).await.unwrap().unwrap();
        }
        let Server { _dir, .. } = self;
        _dir
    }
}

/// The real `sealpost-relay` binary, killed with SIGKILL on drop.
pub struct Process {
    pub base: String,
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    pub async fn spawn(backend: &Backend, dir: &std::path::Path, extra: &[&str]) -> Self {
        let args = args(backend, dir, extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
            .args(&args[1..])
            .env("SEALPOST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
                if !sent && let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        });
        let base = tokio::task::spawn_blocking(move || rx.recv_timeout(PATIENCE).unwrap())
            .await
            .unwrap();
        Self {
            base,
            child,
            log,
            reader: Some(reader),
        }
    }

    /// SIGTERM; waits for a clean exit and returns everything the relay logged.
    pub fn terminate(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0: {status}");
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.log.lock().unwrap().clone()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- other addresses

/// A TCP connection to the relay from the loopback address `local` (127.0.0.x): to the
/// relay, each local address is another client.
pub async fn connect_from(server: &Server, local: &str) -> tokio::net::TcpStream {
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// An HTTP client whose connections come from `local`.
pub fn client_from(server: &Server, local: &str) -> Client {
    Client {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .local_address(local.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap(),
    }
}

// ---------------------------------------------------------------- HTTP client

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// Status, JSON (or Null) and raw bytes of a response.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_string()
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn wait_healthy(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("relay at {} never became healthy", self.base);
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .body(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = tokio::time::timeout(PATIENCE, req.send())
            .await
            .unwrap()
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        Reply {
            status,
            headers,
            bytes: r.bytes().await.unwrap().to_vec(),
        }
    }

    /// A request signed by `user`.
    pub async fn signed(&self, user: &User, method: Method, path: &str, body: Vec<u8>) -> Reply {
        let auth = user.sign(method.as_str(), path, &body);
        self.send(method, path, Some(&auth), body).await
    }
}

// ---------------------------------------------------------------- WebSocket client

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Opens the WebSocket at `url` (nothing sent yet).
    pub async fn connect(url: &str) -> Self {
        let (stream, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .unwrap()
            .unwrap();
        Self { stream }
    }

    /// Opens the WebSocket at `url` with `X-Forwarded-For: forwarded` (for a relay
    /// that trusts 127.0.0.1 as its proxy).
    pub async fn connect_from(url: &str, forwarded: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        let (stream, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(req))
            .await
            .unwrap()
            .unwrap();
        Self { stream }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// Sends one JSON message; an error once the relay has closed the connection.
    pub async fn try_send(
        &mut self,
        v: Value,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.stream.send(Message::Text(v.to_string().into())).await
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, frame: Vec<u8>) {
        self.stream
            .send(Message::Binary(frame.into()))
            .await
            .unwrap();
    }

    /// The close frame's reason once the relay closes the connection (skipping any
    /// other message).
    pub async fn closed_with(&mut self) -> String {
        loop {
            match tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("the relay did not close the connection")
            {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| f.reason.to_string()).unwrap_or_default();
                }
                None | Some(Err(_)) => return String::new(),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next JSON message, or `None` when the connection closes.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            match tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("no message from the relay")
            {
                Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next pushed blob as (id, data).
    pub async fn blob(&mut self) -> (String, Vec<u8>) {
        let m = self
            .next()
            .await
            .expect("connection closed while waiting for a blob");
        assert_eq!(m["type"], "blob", "{m}");
        (
            m["id"].as_str().unwrap().to_string(),
            B64.decode(m["data"].as_str().unwrap()).unwrap(),
        )
    }

    pub async fn ack(&mut self, ids: &[&str]) {
        self.send(json!({"type": "ack", "ids": ids})).await;
    }
}

/// Polls until `f` holds (for effects that are asynchronous by design, e.g. a WebSocket
/// acknowledgement or the periodic purge); panics after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}
