//! Attachment chunks (docs/PROTOCOL.md 26, docs/API.md "Attachments (chunks)"): their
//! metadata and upload tokens, written once for both backends like `shared.rs`. Where the
//! bytes live differs: files beside the SQLite database (`chunks_fs.rs`), rows in
//! PostgreSQL (`chunks_pg.rs`); both implement [`ChunkBytes`].
//!
//! A chunk's row holds its address (SHA-256 of its bytes), its length (one of seven, so
//! nothing finer about any file) and its coarse expiry; nothing links it to the token
//! that uploaded it or to the other chunks of its file. `chunk_usage` counts the bytes
//! of all chunk rows, updated in the same transaction as every insert and delete, so a
//! crash never leaves it wrong. Tokens are stored as their SHA-256 with the quota left.

use async_trait::async_trait;
use axum::body::Body;
use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::Result;
use super::shared::{Backend, Pools};

/// A chunk's address: the SHA-256 of its bytes.
pub type Address = [u8; 32];

/// Most chunks one purge step deletes, so it holds the database's writer (and, with
/// files, the commit lock) only briefly; the purge repeats steps until one deletes less.
pub const CHUNK_PURGE_BATCH: u64 = 1000;

/// What [`ChunkRecords::start_upload`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStart {
    /// No live token with this hash.
    BadToken,
    /// The chunk is stored and not expired: nothing to upload, nothing charged.
    Present,
    /// The token's quota left is less than the chunk.
    OverQuota,
    /// Stored chunks already take the relay's total.
    Full,
    /// The chunk's length was taken from the token's quota: upload, then either record
    /// the chunk or give the length back with [`ChunkRecords::refund_upload`].
    Reserved,
}

/// What the relay knows about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// Stored and not expired, this many bytes long.
    Present(u64),
    /// Expired (waiting for the purge, or a tombstone).
    Expired,
    /// Never stored, or its tombstone ended.
    Unknown,
}

/// The chunk statements both backends share.
#[async_trait]
pub trait ChunkRecords: Send + Sync {
    /// Stores the hash of a new upload token with `quota` bytes until `expires_at`.
    async fn put_upload_token(
        &self,
        token_hash: &[u8; 32],
        quota: i64,
        expires_at: i64,
    ) -> Result<()>;

    /// In one transaction: checks the token, whether the chunk is already stored, the
    /// total (approximately: uploads in progress are not counted), and takes `len` from
    /// the token's quota.
    async fn start_upload(
        &self,
        token_hash: &[u8; 32],
        address: &Address,
        len: i64,
        now: i64,
        max_total: i64,
    ) -> Result<UploadStart>;

    /// Gives `len` back to the token (the upload failed or the chunk was there already).
    async fn refund_upload(&self, token_hash: &[u8; 32], len: i64) -> Result<()>;

    /// Whether `address` is stored, expired or unknown at `now`.
    async fn chunk_state(&self, address: &Address, now: i64) -> Result<ChunkState>;

    /// Records a chunk whose bytes are stored (`data`: in the row itself, PostgreSQL):
    /// replaces an expired row of the address, leaves a live one. `true` if this
    /// inserted the chunk, `false` if a live one was there (a concurrent upload won).
    async fn record_chunk(
        &self,
        address: &Address,
        len: i64,
        expires_at: i64,
        now: i64,
        data: Option<&[u8]>,
    ) -> Result<bool>;

    /// Deletes the rows of up to [`CHUNK_PURGE_BATCH`] chunks expired at `now`, leaving
    /// tombstones until `tombstone_until`, and deletes ended tombstones and upload
    /// tokens. Returns the addresses deleted (whose bytes the caller removes, if they
    /// are elsewhere).
    async fn purge_chunk_rows(&self, now: i64, tombstone_until: i64) -> Result<Vec<Address>>;
}

/// Where a backend keeps chunk bytes.
#[async_trait]
pub trait ChunkBytes: Send + Sync {
    /// Somewhere to receive a chunk of `len` bytes.
    async fn stage(&self, len: usize) -> Result<Box<dyn StagedChunk>>;

    /// `len` bytes of the chunk from `start`, streamed; `None` if it is not stored (any
    /// more: the purge may have run since its state was read).
    async fn read_chunk(&self, address: &Address, start: u64, len: u64) -> Result<Option<Body>>;

    /// Deletes up to [`CHUNK_PURGE_BATCH`] expired chunks, bytes included, and what else
    /// [`ChunkRecords::purge_chunk_rows`] deletes; returns the number of chunks deleted.
    async fn purge_chunks(&self, now: i64, tombstone_until: i64) -> Result<u64>;
}

/// A chunk being received.
#[async_trait]
pub trait StagedChunk: Send {
    /// The next bytes.
    async fn write(&mut self, piece: &[u8]) -> Result<()>;

    /// Stores what was written under `address` durably and records it; `true` if this
    /// stored it, `false` if it was there already. Dropped without this, nothing stays.
    async fn commit(self: Box<Self>, address: &Address, expires_at: i64, now: i64) -> Result<bool>;
}

/// Converts a stored address column back.
fn address(bytes: &[u8]) -> Result<Address> {
    super::hash(bytes)
}

#[async_trait]
impl<S> ChunkRecords for S
where
    S: Pools,
    for<'c> &'c mut <S::DB as Database>::Connection: Executor<'c, Database = S::DB>,
    for<'q> <S::DB as Database>::Arguments<'q>: IntoArguments<'q, S::DB>,
    for<'q> &'q [u8]: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> &'q str: Encode<'q, S::DB> + Type<S::DB> + sqlx::ColumnIndex<<S::DB as Database>::Row>,
    for<'q> i64: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> Vec<u8>: Decode<'q, S::DB> + Type<S::DB>,
{
    async fn put_upload_token(
        &self,
        token_hash: &[u8; 32],
        quota: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO upload_tokens (token_hash, quota_left, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash.as_slice())
        .bind(quota)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn start_upload(
        &self,
        token_hash: &[u8; 32],
        address: &Address,
        len: i64,
        now: i64,
        max_total: i64,
    ) -> Result<UploadStart> {
        let mut tx = self.writer().begin().await?;
        let token = sqlx::query(
            "SELECT quota_left FROM upload_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash.as_slice())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if token.is_none() {
            return Ok(UploadStart::BadToken);
        }
        let present =
            sqlx::query("SELECT 1 AS one FROM chunks WHERE address = $1 AND expires_at > $2")
                .bind(address.as_slice())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
        if present.is_some() {
            return Ok(UploadStart::Present);
        }
        let used: i64 = sqlx::query("SELECT bytes FROM chunk_usage")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("bytes"))
            .transpose()?
            .unwrap_or(0);
        if used.saturating_add(len) > max_total {
            return Ok(UploadStart::Full);
        }
        // The condition is checked again under the row's lock: concurrent uploads with
        // one token cannot take more than its quota.
        let taken = sqlx::query(
            "UPDATE upload_tokens SET quota_left = quota_left - $2
             WHERE token_hash = $1 AND quota_left >= $2 AND expires_at > $3",
        )
        .bind(token_hash.as_slice())
        .bind(len)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if S::DB::rows_affected(&taken) == 1 {
            UploadStart::Reserved
        } else {
            UploadStart::OverQuota
        })
    }

    async fn refund_upload(&self, token_hash: &[u8; 32], len: i64) -> Result<()> {
        sqlx::query("UPDATE upload_tokens SET quota_left = quota_left + $2 WHERE token_hash = $1")
            .bind(token_hash.as_slice())
            .bind(len)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn chunk_state(&self, address: &Address, now: i64) -> Result<ChunkState> {
        let row = sqlx::query("SELECT len, expires_at FROM chunks WHERE address = $1")
            .bind(address.as_slice())
            .fetch_optional(self.reader())
            .await?;
        if let Some(row) = row {
            let (len, expires_at): (i64, i64) = (row.try_get("len")?, row.try_get("expires_at")?);
            return Ok(if expires_at > now {
                ChunkState::Present(u64::try_from(len).unwrap_or(0))
            } else {
                ChunkState::Expired
            });
        }
        let tombstone =
            sqlx::query("SELECT 1 AS one FROM chunk_tombstones WHERE address = $1 AND until > $2")
                .bind(address.as_slice())
                .bind(now)
                .fetch_optional(self.reader())
                .await?;
        Ok(if tombstone.is_some() {
            ChunkState::Expired
        } else {
            ChunkState::Unknown
        })
    }

    async fn record_chunk(
        &self,
        address: &Address,
        len: i64,
        expires_at: i64,
        now: i64,
        data: Option<&[u8]>,
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        // An expired row not purged yet gives way; only what this statement deleted is
        // uncounted (another process's purge may delete it first).
        let replaced =
            sqlx::query("DELETE FROM chunks WHERE address = $1 AND expires_at <= $2 RETURNING len")
                .bind(address.as_slice())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<i64, _>("len"))
                .transpose()?
                .unwrap_or(0);
        let insert = match data {
            Some(_) => {
                "INSERT INTO chunks (address, len, expires_at, data) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (address) DO NOTHING"
            }
            None => {
                "INSERT INTO chunks (address, len, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (address) DO NOTHING"
            }
        };
        let mut query = sqlx::query(insert)
            .bind(address.as_slice())
            .bind(len)
            .bind(expires_at);
        if let Some(data) = data {
            query = query.bind(data);
        }
        let inserted = S::DB::rows_affected(&query.execute(&mut *tx).await?) == 1;
        let added = if inserted { len } else { 0 };
        if added != replaced {
            sqlx::query("UPDATE chunk_usage SET bytes = bytes + $1")
                .bind(added - replaced)
                .execute(&mut *tx)
                .await?;
        }
        if inserted {
            sqlx::query("DELETE FROM chunk_tombstones WHERE address = $1")
                .bind(address.as_slice())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn purge_chunk_rows(&self, now: i64, tombstone_until: i64) -> Result<Vec<Address>> {
        let mut tx = self.writer().begin().await?;
        let rows = sqlx::query(
            "DELETE FROM chunks WHERE address IN
                 (SELECT address FROM chunks WHERE expires_at <= $1 LIMIT $2)
             RETURNING address, len",
        )
        .bind(now)
        .bind(i64::try_from(CHUNK_PURGE_BATCH).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        let mut gone = Vec::with_capacity(rows.len());
        let mut bytes = 0i64;
        for row in rows {
            let a = address(&row.try_get::<Vec<u8>, _>("address")?)?;
            bytes = bytes.saturating_add(row.try_get::<i64, _>("len")?);
            sqlx::query(
                "INSERT INTO chunk_tombstones (address, until) VALUES ($1, $2)
                 ON CONFLICT (address) DO UPDATE SET until = excluded.until",
            )
            .bind(a.as_slice())
            .bind(tombstone_until)
            .execute(&mut *tx)
            .await?;
            gone.push(a);
        }
        if bytes != 0 {
            sqlx::query("UPDATE chunk_usage SET bytes = bytes - $1")
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM chunk_tombstones WHERE until <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM upload_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    /// Token and chunk lifetimes against an explicit clock (the routes use the real one,
    /// and stored times are rounded to 5 minutes, so this is where the edges are seen).
    #[tokio::test]
    async fn tokens_chunks_and_tombstones_end_on_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.db"))
            .await
            .unwrap();
        let (token, a, b) = ([7u8; 32], [1u8; 32], [2u8; 32]);
        store.put_upload_token(&token, 2104, 1000).await.unwrap();
        let start = |address, now, max| store.start_upload(&token, address, 1052, now, max);
        assert_eq!(start(&a, 999, 10_000).await.unwrap(), UploadStart::Reserved);
        assert_eq!(
            start(&b, 1000, 10_000).await.unwrap(),
            UploadStart::BadToken
        );
        assert!(store.record_chunk(&a, 1052, 2000, 999, None).await.unwrap());
        assert!(!store.record_chunk(&a, 1052, 2000, 999, None).await.unwrap());
        assert_eq!(start(&a, 999, 10_000).await.unwrap(), UploadStart::Present);
        assert_eq!(start(&b, 999, 2000).await.unwrap(), UploadStart::Full);
        assert_eq!(start(&b, 999, 10_000).await.unwrap(), UploadStart::Reserved);
        assert_eq!(
            start(&b, 999, 10_000).await.unwrap(),
            UploadStart::OverQuota
        );
        store.refund_upload(&token, 1052).await.unwrap();
        assert_eq!(start(&b, 999, 10_000).await.unwrap(), UploadStart::Reserved);

        assert_eq!(
            store.chunk_state(&a, 1999).await.unwrap(),
            ChunkState::Present(1052)
        );
        assert_eq!(
            store.chunk_state(&a, 2000).await.unwrap(),
            ChunkState::Expired
        );
        assert_eq!(
            store.chunk_state(&b, 1999).await.unwrap(),
            ChunkState::Unknown
        );
        assert!(store.purge_chunk_rows(1999, 5000).await.unwrap().is_empty());
        assert_eq!(store.purge_chunk_rows(2000, 5000).await.unwrap(), vec![a]);
        assert_eq!(
            store.chunk_state(&a, 4999).await.unwrap(),
            ChunkState::Expired
        );
        assert_eq!(
            store.chunk_state(&a, 5000).await.unwrap(),
            ChunkState::Unknown
        );
        let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_tokens")
            .fetch_one(store.reader())
            .await
            .unwrap();
        assert_eq!(tokens, 0, "the purge deleted the expired token");
        // The purge freed the room: b fits under a total of one chunk.
        let fresh = [8u8; 32];
        store.put_upload_token(&fresh, 3000, 9000).await.unwrap();
        assert_eq!(
            store
                .start_upload(&fresh, &b, 1052, 5000, 1052)
                .await
                .unwrap(),
            UploadStart::Reserved
        );
        // An expired chunk uploaded again replaces its row and its tombstone.
        assert!(
            store
                .record_chunk(&a, 1052, 9000, 5000, None)
                .await
                .unwrap()
        );
        assert_eq!(
            store.chunk_state(&a, 8999).await.unwrap(),
            ChunkState::Present(1052)
        );
        let usage: i64 = sqlx::query_scalar("SELECT bytes FROM chunk_usage")
            .fetch_one(store.reader())
            .await
            .unwrap();
        assert_eq!(usage, 1052, "one live chunk counted once");
    }

    #[tokio::test]
    async fn a_purge_step_deletes_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.db"))
            .await
            .unwrap();
        sqlx::raw_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
             INSERT INTO chunks (address, len, expires_at) SELECT randomblob(32), 1052, 100 FROM n;
             UPDATE chunk_usage SET bytes = 1500 * 1052;",
        )
        .execute(store.writer())
        .await
        .unwrap();
        let steps: Vec<usize> = [
            store.purge_chunk_rows(100, 500).await.unwrap().len(),
            store.purge_chunk_rows(100, 500).await.unwrap().len(),
            store.purge_chunk_rows(100, 500).await.unwrap().len(),
        ]
        .into();
        assert_eq!(steps, [1000, 500, 0]);
        let usage: i64 = sqlx::query_scalar("SELECT bytes FROM chunk_usage")
            .fetch_one(store.reader())
            .await
            .unwrap();
        assert_eq!(usage, 0);
    }
}
