//! Chunk bytes in PostgreSQL: in the `chunks` row itself (`data`, stored uncompressed out
//! of line), so several relay processes on one database serve the same chunks and a
//! chunk's bytes and record are committed, and deleted, in one transaction.
//!
//! A chunk being received is held in memory (at most one chunk, 4 MiB; uploads in
//! progress are capped by `limits::MAX_CHUNK_UPLOADS`) and inserted at once; a download
//! reads it in slices of [`READ_PIECE`], so only one slice per download is in memory.

use std::io;

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use sqlx::PgPool;

use super::Result;
use super::chunks::{Address, ChunkBytes, ChunkRecords, StagedChunk};
use super::postgres::PostgresStore;
use super::shared::Pools;

/// Bytes read from the database per piece of a download.
const READ_PIECE: u64 = 256 * 1024;

/// A chunk on its way into a [`PostgresStore`].
struct PgStaged {
    data: Vec<u8>,
    store: PostgresStore,
}

#[async_trait]
impl StagedChunk for PgStaged {
    async fn write(&mut self, piece: &[u8]) -> Result<()> {
        self.data.extend_from_slice(piece);
        Ok(())
    }

    async fn commit(self: Box<Self>, address: &Address, expires_at: i64, now: i64) -> Result<bool> {
        let len = i64::try_from(self.data.len()).unwrap_or(i64::MAX);
        self.store
            .record_chunk(address, len, expires_at, now, Some(&self.data))
            .await
    }
}

#[async_trait]
impl ChunkBytes for PostgresStore {
    async fn stage(&self, len: usize) -> Result<Box<dyn StagedChunk>> {
        Ok(Box::new(PgStaged {
            data: Vec::with_capacity(len),
            store: self.clone(),
        }))
    }

    async fn read_chunk(&self, address: &Address, start: u64, len: u64) -> Result<Option<Body>> {
        let stored = sqlx::query("SELECT 1 FROM chunks WHERE address = $1")
            .bind(address.as_slice())
            .fetch_optional(self.reader())
            .await?;
        if stored.is_none() {
            return Ok(None);
        }
        let state = (
            self.reader().clone(),
            *address,
            start,
            start.saturating_add(len),
        );
        let pieces =
            futures_util::stream::try_unfold(state, |(pool, address, from, end)| async move {
                if from >= end {
                    return Ok(None);
                }
                let piece = slice(&pool, &address, from, (end - from).min(READ_PIECE)).await?;
                let next = from + piece.len() as u64;
                Ok::<_, io::Error>(Some((piece, (pool, address, next, end))))
            });
        Ok(Some(Body::from_stream(pieces)))
    }

    async fn purge_chunks(&self, now: i64, tombstone_until: i64) -> Result<u64> {
        Ok(self.purge_chunk_rows(now, tombstone_until).await?.len() as u64)
    }
}

/// `len` bytes of the chunk from `from` (0-based); an error if the chunk was deleted
/// meanwhile (the download then breaks off, and the client's hash check would catch a
/// short one anyway).
async fn slice(pool: &PgPool, address: &Address, from: u64, len: u64) -> io::Result<Bytes> {
    let offset = i32::try_from(from + 1).map_err(io::Error::other)?;
    let count = i32::try_from(len).map_err(io::Error::other)?;
    let piece: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT substring(data FROM $2 FOR $3) FROM chunks WHERE address = $1")
            .bind(address.as_slice())
            .bind(offset)
            .bind(count)
            .fetch_optional(pool)
            .await
            .map_err(io::Error::other)?;
    match piece {
        Some(p) if !p.is_empty() => Ok(Bytes::from(p)),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "chunk deleted while it was read",
        )),
    }
}
