//! Load benchmark (not a test): the relay's deposits per second and deposit-to-push
//! latency side by side with this machine's baselines, in one run, each as a ratio;
//! and the memory of idle WebSockets. docs/BENCHMARKS.md has the figures.
//!
//! ```text
//! cargo run --release -p sealpost-relay --example load            # everything
//! cargo run --release -p sealpost-relay --example load -- --only relay --subscribers 100
//! cargo run --release -p sealpost-relay --example load -- --database-url postgres://...
//! ```
//! Every server (the relay and the baselines) runs as a child process (this program
//! with `--serve`), so its CPU time and memory are its own; the load generator shares
//! the machine with it, so the figures are a floor, not a ceiling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod clients;
mod servers;
mod storage;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use servers::Serve;

use crate::clients::{Seen, Target};

#[derive(Debug, Parser)]
struct Args {
    /// Internal: run this server and print its address.
    #[arg(long, hide = true)]
    serve: Option<Serve>,
    /// Internal: the relay's flags (with `--serve relay`).
    #[arg(long, hide = true, allow_hyphen_values = true, num_args = 0..)]
    relay_args: Vec<String>,
    /// Measure only this (default: everything, baselines first).
    #[arg(long)]
    only: Option<Only>,
    /// WebSocket subscribers (one mailbox each), one relay measurement per value.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    subscribers: Vec<usize>,
    /// Blobs to deposit per measurement, round-robin over the mailboxes.
    #[arg(long, default_value_t = 10000)]
    deposits: usize,
    /// Concurrent depositing HTTP clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Envelope size (a padding bucket).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Idle WebSockets whose memory is measured.
    #[arg(long, default_value_t = 10000)]
    idle: usize,
    /// PostgreSQL for the relay instead of SQLite in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Null,
    Push,
    Storage,
    Relay,
    Idle,
    /// The store's time for one group message: one multi-recipient deposit against one
    /// deposit per member (not in the default run).
    Fanout,
}

fn now() -> u64 {
    sealpost_relay::now().try_into().unwrap()
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(mode) = args.serve {
        runtime.block_on(servers::serve(mode, &args.relay_args));
        return;
    }
    runtime.block_on(measure(args));
}

/// A server child process; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(mode: Serve, relay_args: &[String]) -> Self {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("--serve")
            .arg(mode.to_possible_value().unwrap().get_name())
            .stdout(Stdio::piped());
        if mode == Serve::Relay {
            cmd.arg("--relay-args").args(relay_args);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self {
            child,
            base: format!("http://{}", line.trim()),
        }
    }

    /// User + system CPU seconds so far, from `/proc` (Linux; 0 elsewhere).
    fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the ")".
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Resident memory in bytes, from `/proc` (Linux; 0 elsewhere).
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one-minute load average, reported beside every figure (the machine is shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// One measured row.
struct Row {
    what: String,
    per_sec: f64,
    p50: Option<Duration>,
    p99: Option<Duration>,
    cpu: Option<f64>,
    load: String,
}

fn relay_args(args: &Args, dir: &std::path::Path) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--rate-ip-per-sec",
        "0",
        "--rate-mailbox-per-sec",
        "0",
        "--mailbox-max-blobs",
        "1000000",
        "--max-concurrent-requests",
        "4096",
        // Every client of the load generator comes from 127.0.0.1.
        "--max-connections-per-address",
        "100000",
        "--max-ws-per-address",
        "100000",
        "--log",
        "warn",
        "--data-dir",
    ]
    .map(String::from)
    .to_vec();
    flags.push(dir.display().to_string());
    if let Some(url) = &args.database_url {
        flags.extend(["--database-url".to_string(), url.clone()]);
    }
    flags
}

async fn measure(args: Args) {
    let http = reqwest::Client::new();
    let key = clients::identity();
    let wants = |o: Only| args.only.is_none_or(|only| only == o);
    let mut rows: Vec<Row> = Vec::new();
    println!(
        "{} deposits of {} B per measurement, {} concurrent depositors",
        args.deposits, args.size, args.concurrency
    );
    if wants(Only::Null) {
        let server = Server::start(Serve::Null, &[]);
        let targets = Arc::new(clients::null_targets(args.concurrency));
        rows.push(
            throughput(
                "do-nothing axum POST handler",
                &args,
                &http,
                &server,
                targets,
                &key,
            )
            .await,
        );
    }
    if wants(Only::Push) {
        for &n in &args.subscribers {
            let server = Server::start(Serve::Push, &[]);
            let targets = Arc::new(clients::push_targets(n));
            let what = format!(
                "push alone (axum + in-memory push + JSON/base64 + WS ack), {n} subscribers"
            );
            rows.push(throughput(&what, &args, &http, &server, targets, &key).await);
        }
    }
    if args.only == Some(Only::Fanout) {
        println!("| members | one multi-recipient deposit ms | one deposit per member ms |");
        println!("|---|---|---|");
        for members in [10, 100, 1000] {
            let (many, each) = storage::fanout(members, args.size).await;
            println!(
                "| {members} | {:.2} | {:.2} |",
                many.as_secs_f64() * 1000.0,
                each.as_secs_f64() * 1000.0
            );
        }
        return;
    }
    if wants(Only::Storage) {
        let load = load_average();
        let elapsed = storage::run(args.deposits, args.size, 100, args.concurrency).await;
        rows.push(Row {
            what: "SQLite alone (the relay's store: deposits + acks, group commit, no HTTP)".into(),
            per_sec: args.deposits as f64 / elapsed.as_secs_f64(),
            p50: None,
            p99: None,
            cpu: None,
            load,
        });
    }
    if wants(Only::Relay) {
        let backend = if args.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        for &n in &args.subscribers {
            let dir = tempfile::tempdir().unwrap();
            let server = Server::start(Serve::Relay, &relay_args(&args, dir.path()));
            wait_healthy(&http, &server.base).await;
            let targets = Arc::new(clients::relay_targets(&http, &server.base, n, &key).await);
            let what = format!("relay with push on {backend}, {n} subscribers");
            rows.push(throughput(&what, &args, &http, &server, targets, &key).await);
        }
    }
    print_rows(&rows);
    if wants(Only::Idle) {
        idle(&args, &http, &key).await;
    }
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Subscribes to every target that has a WebSocket, deposits, waits for every push.
async fn throughput(
    what: &str,
    args: &Args,
    http: &reqwest::Client,
    server: &Server,
    targets: Arc<Vec<Target>>,
    key: &sealpost_core::IdentityKey,
) -> Row {
    let n = args.deposits;
    let started = clients::started(n);
    let seen = Arc::new(Seen::default());
    let mut subscribers = Vec::new();
    for t in targets.iter().filter(|t| !t.ws_path.is_empty()) {
        let ws = clients::connect(&server.base, t, key, None).await;
        subscribers.push(clients::subscribe(ws, started.clone(), seen.clone()));
    }
    let pushing = !subscribers.is_empty();
    let (cpu0, load) = (server.cpu_secs(), load_average());
    let elapsed = clients::deposit_all(
        http,
        &server.base,
        &targets,
        n,
        args.size,
        args.concurrency,
        &started,
    )
    .await;
    let cpu = server.cpu_secs() - cpu0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while pushing && seen.received.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for s in subscribers {
        s.abort();
    }
    let mut l = seen.latencies.lock().await.clone();
    l.sort();
    if pushing {
        assert_eq!(l.len(), n, "{what}: every deposit pushed");
    }
    let row = Row {
        what: what.into(),
        per_sec: n as f64 / elapsed.as_secs_f64(),
        p50: pushing.then(|| clients::quantile(&l, 0.50)),
        p99: pushing.then(|| clients::quantile(&l, 0.99)),
        cpu: Some(cpu / elapsed.as_secs_f64()),
        load,
    };
    eprintln!("{what}: {:.0}/s", row.per_sec);
    row
}

fn print_rows(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "| measurement | deposits/s | p50 push | p99 push | server CPU (cores) | load average |"
    );
    println!("|---|---|---|---|---|---|");
    let ms = |d: Option<Duration>| {
        d.map_or("-".to_string(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        })
    };
    for r in rows {
        println!(
            "| {} | {:.0} | {} | {} | {} | {} |",
            r.what,
            r.per_sec,
            ms(r.p50),
            ms(r.p99),
            r.cpu.map_or("-".to_string(), |c| format!("{c:.2}")),
            r.load
        );
    }
    // Ratios of the relay rows to each baseline of the same run.
    let find = |prefix: &str, n: Option<&str>| {
        rows.iter()
            .find(|r| r.what.starts_with(prefix) && n.is_none_or(|n| r.what.ends_with(n)))
            .map(|r| r.per_sec)
    };
    for r in rows.iter().filter(|r| r.what.starts_with("relay")) {
        let subs = r.what.rsplit(", ").next();
        for (name, base) in [
            ("do-nothing handler", find("do-nothing", None)),
            ("push alone", find("push alone", subs)),
            ("SQLite alone", find("SQLite alone", None)),
        ] {
            if let Some(b) = base {
                println!(
                    "ratio: {} / {name} = {:.0} %",
                    r.what,
                    100.0 * r.per_sec / b
                );
            }
        }
    }
}

/// Opens `--idle` authenticated WebSockets to a relay with its default connection
/// limits and reports the relay's resident memory before and after.
async fn idle(args: &Args, http: &reqwest::Client, key: &sealpost_core::IdentityKey) {
    let dir = tempfile::tempdir().unwrap();
    // Default connection limits, except those per address: every socket comes from
    // 127.0.0.1 here.
    let mut flags: Vec<String> = [
        "--rate-ip-per-sec",
        "0",
        "--max-connections-per-address",
        "100000",
        "--max-ws-per-address",
        "100000",
        "--log",
        "warn",
    ]
    .map(String::from)
    .to_vec();
    flags.extend(["--data-dir".to_string(), dir.path().display().to_string()]);
    if let Some(url) = &args.database_url {
        flags.extend(["--database-url".to_string(), url.clone()]);
    }
    let server = Server::start(Serve::Relay, &flags);
    wait_healthy(http, &server.base).await;
    // 16 sockets per mailbox (the default cap), each authenticated with its mailbox's
    // token, so the set-up is not 10,000 RSA signatures.
    let per_mailbox = 16;
    let targets =
        clients::relay_targets(http, &server.base, args.idle.div_ceil(per_mailbox), key).await;
    let mut tokens = Vec::new();
    for t in &targets {
        tokens.push(clients::token(http, &server.base, t, key).await);
    }
    let before = server.rss();
    let load = load_average();
    let mut sockets = Vec::with_capacity(args.idle);
    for i in 0..args.idle {
        let t = &targets[i / per_mailbox];
        sockets.push(clients::connect(&server.base, t, key, Some(&tokens[i / per_mailbox])).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss();
    println!(
        "idle WebSockets: {} open and authenticated; relay resident memory {:.1} MB before, {:.1} MB after: {:.1} kB per connection (load average {load})",
        sockets.len(),
        before as f64 / 1e6,
        after as f64 / 1e6,
        (after.saturating_sub(before)) as f64 / 1e3 / sockets.len() as f64
    );
}
