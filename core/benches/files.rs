//! Criterion benchmarks of file encryption (PROTOCOL.md 26) for docs/BENCHMARKS.md:
//! `cargo bench -p sealpost-core --bench files`.
//!
//! A 20 MB file (5 chunks of 4 MiB) encrypted from 64 KiB pieces (what a browser's
//! `Blob.stream()` hands over) and decrypted chunk by chunk, beside AES-256-GCM alone over
//! the same chunks, so the cost of the two SHA-256 passes (chunk addresses, plaintext
//! hash) and the copies reads as a ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sealpost_core::os_rng;
use sealpost_core::v2::attachment::{Decryptor, Encryptor, FileInfo, Manifest};
use sha2::{Digest, Sha256};

const SIZE: usize = 20_000_000;
const PIECE: usize = 64 * 1024;

/// Streams `data` through an encryptor; each chunk is handed to `sink`.
fn encrypt(data: &[u8], mut sink: impl FnMut(&[u8])) -> Manifest {
    let mut rng = os_rng();
    let mut enc = Encryptor::new(&mut rng, data.len() as u64).unwrap();
    for mut rest in data.chunks(PIECE) {
        while !rest.is_empty() {
            let taken = enc.write(rest).unwrap();
            rest = &rest[taken..];
            if let Some(chunk) = enc.next_chunk(&mut rng).unwrap() {
                sink(chunk.bytes());
            }
        }
    }
    while let Some(chunk) = enc.next_chunk(&mut rng).unwrap() {
        sink(chunk.bytes());
    }
    enc.finish(FileInfo::new("big.bin", "application/octet-stream").unwrap())
        .unwrap()
}

fn files(c: &mut Criterion) {
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let mut chunks = Vec::new();
    let manifest = encrypt(&data, |c| chunks.push(c.to_vec()));

    let mut g = c.benchmark_group("file");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("encrypt/20MB", |b| {
        b.iter(|| {
            encrypt(black_box(&data), |c| {
                black_box(c);
            })
        })
    });
    g.bench_function("decrypt/20MB", |b| {
        b.iter(|| {
            let mut dec = Decryptor::new(&manifest);
            for chunk in &chunks {
                black_box(dec.open_chunk(chunk).unwrap());
            }
            dec.finish().unwrap();
        })
    });
    // The floors: one SHA-256 pass and AES-256-GCM in place over the same data, no copies.
    g.bench_function("sha256_only/20MB", |b| {
        b.iter(|| Sha256::digest(black_box(&data)))
    });
    // AES-256-GCM in place over the same 5 chunks, no hashing, no copies.
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut buffer = vec![0u8; 1 << 22];
    g.bench_function("aes_gcm_only/20MB", |b| {
        b.iter(|| {
            for piece in data.chunks(1 << 22) {
                buffer[..piece.len()].copy_from_slice(piece);
                let tag = cipher
                    .encrypt_inout_detached(&Nonce::from([1u8; 12]), b"", (&mut buffer[..]).into())
                    .unwrap();
                black_box(tag);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, files);
criterion_main!(benches);
