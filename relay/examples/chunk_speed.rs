//! Chunk upload and download speed on loopback (not a test): 4 MiB chunks through the
//! relay's `PUT`/`GET /v2/chunks/{address}`, side by side with this machine's disk doing
//! the relay's storage step alone (write, fsync, rename, fsync of the directory), in one
//! run, so each relay figure can be read as a ratio. docs/BENCHMARKS.md has the figures.
//!
//! ```text
//! cargo run --release -p sealpost-relay --example chunk_speed
//! cargo run --release -p sealpost-relay --example chunk_speed -- --database-url postgres://...
//! ```
//! The relay runs in this process on port 0, so it shares the CPU with the client: the
//! figures are a floor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use clap::Parser;
use futures_util::StreamExt;
use sealpost_core::os_rng;
use sealpost_core::rand_core::Rng;
use sha2::{Digest, Sha256};

/// The largest chunk: 4 MiB of plaintext and 28 bytes of nonce and tag.
const CHUNK: usize = 4_194_332;

#[derive(Debug, Parser)]
struct Args {
    /// Chunks per run (25 is a 100 MiB file).
    #[arg(long, default_value_t = 25)]
    chunks: usize,
    /// Runs; the median is printed.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Chunks in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Run the relay on this PostgreSQL database instead of SQLite and files.
    #[arg(long)]
    database_url: Option<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// Seconds the disk takes to store `chunks` as the relay does (write, fsync, rename,
/// fsync of the directory), `concurrency` at a time.
async fn disk_alone(dir: &Path, run: usize, chunks: &[Vec<u8>], concurrency: usize) -> f64 {
    let started = Instant::now();
    let writes = chunks.iter().cloned().enumerate().map(|(i, c)| {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || {
            let tmp = dir.join(format!("tmp-{run}-{i}"));
            let mut f = std::fs::File::create(&tmp).unwrap();
            f.write_all(&c).unwrap();
            f.sync_all().unwrap();
            std::fs::rename(&tmp, dir.join(format!("{run}-{i}"))).unwrap();
            std::fs::File::open(&dir).unwrap().sync_all().unwrap();
        })
    });
    futures_util::stream::iter(writes)
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let mut flags: Vec<String> = [
        "sealpost-relay",
        "--listen",
        "127.0.0.1:0",
        "--rate-ip-per-sec",
        "0",
        "--rate-upload-per-sec",
        "0",
        "--max-chunk-store-bytes",
        "1000000000000",
        "--data-dir",
    ]
    .map(String::from)
    .to_vec();
    flags.push(dir.path().join("relay").display().to_string());
    if let Some(url) = &args.database_url {
        flags.extend(["--database-url".to_string(), url.clone()]);
    }
    let config = sealpost_relay::Config::try_parse_from(flags).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        sealpost_relay::run(&config, listener, std::future::pending())
            .await
            .unwrap();
    });
    let http = reqwest::Client::new();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let baseline_dir = dir.path().join("baseline");
    std::fs::create_dir_all(&baseline_dir).unwrap();
    let total = args.chunks * CHUNK;
    let (mut up, mut down, mut disk, mut ratio) = (vec![], vec![], vec![], vec![]);
    for run in 0..args.runs {
        let chunks: Vec<Vec<u8>> = (0..args.chunks)
            .map(|_| {
                let mut c = vec![0u8; CHUNK];
                os_rng().fill_bytes(&mut c);
                c
            })
            .collect();
        let addresses: Vec<String> = chunks
            .iter()
            .map(|c| hex::encode(Sha256::digest(c)))
            .collect();
        let mut tokens = Vec::new();
        for _ in 0..args.chunks.div_ceil(25) {
            let r: serde_json::Value = http
                .post(format!("{base}/v2/uploads"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            tokens.push(r["token"].as_str().unwrap().to_string());
        }

        // The disk alone first on odd runs, second on even ones: the one after the other
        // finds the first one's writes still being flushed.
        let mut alone = 0.0;
        if run % 2 == 1 {
            alone = disk_alone(&baseline_dir, run, &chunks, args.concurrency).await;
        }
        let started = Instant::now();
        let puts = chunks
            .iter()
            .zip(&addresses)
            .enumerate()
            .map(|(i, (c, a))| {
                let req = http
                    .put(format!("{base}/v2/chunks/{a}"))
                    .header("authorization", format!("Upload {}", tokens[i / 25]))
                    .body(c.clone());
                async move { req.send().await.unwrap().status() }
            });
        let statuses: Vec<_> = futures_util::stream::iter(puts)
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        let upload = started.elapsed().as_secs_f64();
        assert!(statuses.iter().all(|s| s.as_u16() == 201), "{statuses:?}");

        let started = Instant::now();
        let gets = addresses.iter().map(|a| {
            let req = http.get(format!("{base}/v2/chunks/{a}"));
            async move { req.send().await.unwrap().bytes().await.unwrap().len() }
        });
        let lens: Vec<usize> = futures_util::stream::iter(gets)
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        let download = started.elapsed().as_secs_f64();
        assert_eq!(lens.iter().sum::<usize>(), total);

        if run % 2 == 0 {
            alone = disk_alone(&baseline_dir, run, &chunks, args.concurrency).await;
        }

        up.push(mb_per_s(total, upload));
        down.push(mb_per_s(total, download));
        disk.push(mb_per_s(total, alone));
        ratio.push(alone / upload);
        println!(
            "run {run}: upload {:.0} MB/s, download {:.0} MB/s, disk alone {:.0} MB/s",
            mb_per_s(total, upload),
            mb_per_s(total, download),
            mb_per_s(total, alone)
        );
    }
    println!(
        "median of {} runs, {} chunks of {CHUNK} B, {} in flight: upload {:.0} MB/s, download {:.0} MB/s, \
         disk alone (write+fsync+rename) {:.0} MB/s, upload / disk alone {:.0} %",
        args.runs,
        args.chunks,
        args.concurrency,
        median(up),
        median(down),
        median(disk),
        100.0 * median(ratio)
    );
}
