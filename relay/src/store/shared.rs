//! The statements both backends run word for word, written once.
//!
//! Most of the store is plain single-row SQL that SQLite and PostgreSQL accept alike, so
//! keeping a copy per backend only invited the two to drift apart. These run on either
//! pool through sqlx's `Database` abstraction; only what really differs (deposits, bulk
//! deletes with their quota bookkeeping, schema, notifications) stays in the backend
//! modules.
//!
//! Placeholders are PostgreSQL's `$N`: sqlx's SQLite driver binds `$N` by its number as
//! well (not by order of appearance), so a statement may reuse or reorder them.

use async_trait::async_trait;
use sealpost_core::UserId;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::{Backup, Mailbox, PurgeBefore, Records, Result, StoredBlob};

/// What the shared statements need from a backend beyond [`Database`]: sqlx has no
/// backend-independent way to ask how many rows a statement changed.
pub trait Backend: Database {
    /// Rows inserted, updated or deleted by the statement.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl Backend for sqlx::Sqlite {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl Backend for sqlx::Postgres {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A backend's pools for [`Records`]: which one reads and which one writes (SQLite has a
/// single writer beside a pool of readers; PostgreSQL uses one pool for both).
pub trait Pools: Send + Sync {
    /// The sqlx backend.
    type DB: Backend;
    /// Where reads go.
    fn reader(&self) -> &Pool<Self::DB>;
    /// Where writes go.
    fn writer(&self) -> &Pool<Self::DB>;
}

/// Every backend's [`Records`], once. The bounds are what sqlx needs to run these
/// statements and read their columns on `S::DB`; both backends meet them.
#[async_trait]
impl<S> Records for S
where
    S: Pools,
    for<'c> &'c mut <S::DB as Database>::Connection: Executor<'c, Database = S::DB>,
    for<'q> <S::DB as Database>::Arguments<'q>: IntoArguments<'q, S::DB>,
    for<'q> &'q [u8]: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> &'q str: Encode<'q, S::DB> + Type<S::DB> + ColumnIndex<<S::DB as Database>::Row>,
    for<'q> i64: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> Vec<u8>: Decode<'q, S::DB> + Type<S::DB>,
{
    // `backups_v2`: named when v1 backups were beside it; the name stays so existing
    // backups stay where they are.
    async fn put_backup(&self, id: &UserId, token_hash: &[u8; 32], blob: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO backups_v2 (user_id, token_hash, blob) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, blob = excluded.blob",
        )
        .bind(id.as_bytes().as_slice())
        .bind(token_hash.as_slice())
        .bind(blob)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn backup(&self, id: &UserId) -> Result<Option<Backup>> {
        let row = sqlx::query("SELECT token_hash, blob FROM backups_v2 WHERE user_id = $1")
            .bind(id.as_bytes().as_slice())
            .fetch_optional(self.reader())
            .await?;
        row.map(|r| {
            Ok(Backup {
                token_hash: super::hash(r.try_get("token_hash")?)?,
                blob: r.try_get("blob")?,
            })
        })
        .transpose()
    }

    async fn count_backup_attempt(
        &self,
        id: &UserId,
        now: i64,
        window_start_before: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO backup_attempts (user_id, window_start, attempts) VALUES ($1, $2, 1)
             ON CONFLICT (user_id) DO UPDATE SET
                 attempts = CASE WHEN backup_attempts.window_start <= $3 THEN 1 ELSE backup_attempts.attempts + 1 END,
                 window_start = CASE WHEN backup_attempts.window_start <= $3 THEN $2 ELSE backup_attempts.window_start END
             RETURNING attempts",
        )
        .bind(id.as_bytes().as_slice())
        .bind(now)
        .bind(window_start_before)
        .fetch_one(self.writer())
        .await?;
        Ok(row.try_get("attempts")?)
    }

    async fn clear_backup_attempts(&self, id: &UserId) -> Result<()> {
        sqlx::query("DELETE FROM backup_attempts WHERE user_id = $1")
            .bind(id.as_bytes().as_slice())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn token_owner(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<Mailbox>> {
        let row =
            sqlx::query("SELECT user_id FROM tokens WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash.as_slice())
                .bind(now)
                .fetch_optional(self.reader())
                .await?;
        // A token of a protocol v1 mailbox (32-byte key) opens nothing any more.
        Ok(row
            .map(|r| r.try_get::<Vec<u8>, _>("user_id"))
            .transpose()?
            .and_then(|key| Mailbox::from_key(&key)))
    }

    // The window function keeps the byte limit in the database, so a page of large
    // blobs is never read only to be dropped.
    async fn blobs_after(
        &self,
        mailbox: &Mailbox,
        after: i64,
        limit: i64,
        max_bytes: i64,
    ) -> Result<Vec<StoredBlob>> {
        let rows = sqlx::query(
            "SELECT b.seq, b.id, b.received_at, b.data FROM blobs AS b
             JOIN (SELECT seq FROM (SELECT seq, SUM(size) OVER (ORDER BY seq) - size AS before
                                    FROM blobs WHERE mailbox = $1 AND seq > $2 ORDER BY seq LIMIT $3) AS w
                   WHERE before < $4) AS page ON b.mailbox = $1 AND b.seq = page.seq
             ORDER BY b.seq",
        )
        .bind(mailbox.key().as_slice())
        .bind(after)
        .bind(limit)
        .bind(max_bytes)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredBlob {
                    seq: r.try_get("seq")?,
                    id: super::blob_id(r.try_get("id")?)?,
                    received_at: r.try_get("received_at")?,
                    data: r.try_get("data")?,
                })
            })
            .collect()
    }
}

/// The purge's deletes that touch no quota counter, each with its one bound value. A
/// list rather than a function so each backend runs them on its own executor (SQLite
/// inside its purge transaction, PostgreSQL statement by statement).
pub(super) fn expiry_deletes(before: PurgeBefore) -> [(&'static str, i64); 4] {
    [
        ("DELETE FROM nonces WHERE expires_at <= $1", before.now),
        ("DELETE FROM tokens WHERE expires_at <= $1", before.now),
        ("DELETE FROM link_slots WHERE expires_at <= $1", before.now),
        (
            "DELETE FROM backup_attempts WHERE window_start <= $1",
            before.attempt_windows,
        ),
    ]
}

/// Records a request nonce; changes nothing if it was used before. Run by each
/// backend's write path (on SQLite inside the group commit); `$1`..`$3` appear in
/// order, so SQLite binds them by position as well.
pub(super) const USE_NONCE: &str =
    "INSERT INTO nonces (user_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// Stores a bearer token's hash for a mailbox (`tokens.user_id` holds the mailbox key:
/// a token is bound to one device). Run like [`USE_NONCE`].
pub(super) const PUT_TOKEN: &str =
    "INSERT INTO tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)";
