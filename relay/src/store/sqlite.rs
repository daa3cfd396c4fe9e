//! Embedded SQLite: one file under the data directory, WAL mode, `synchronous=FULL`, so
//! every acknowledged write survives a crash or power loss.
//!
//! All writes go through a single connection: SQLite serializes writers anyway, and one
//! writer means no `SQLITE_BUSY` upgrades and a per-mailbox `seq` that grows in commit
//! order. Reads use a small pool of their own (WAL lets them run beside the writer).
//! Deposits are group-committed: a task takes every deposit waiting at the moment
//! and stores them in one transaction, so many deposits share one fsync, and each is
//! answered only after its commit. A SQLite database is for one relay process; use
//! PostgreSQL to run several.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use tokio::sync::{mpsc, oneshot, watch};

use super::shared::{self, Pools};
use super::{BlobId, Deposit, Mailbox, PurgeBefore, Quota, Result, Store, StoreError};
use crate::push::Hub;

const SCHEMA: &str = "
-- Protocol v1's key directory and backups, unreachable since its routes are gone. Its
-- mailboxes' blobs and tokens (32-byte keys) wait for the purge.
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS backups;
-- Key backups (tag K 2). The name dates from when v1 backups were beside them.
CREATE TABLE IF NOT EXISTS backups_v2 (
    user_id BLOB PRIMARY KEY,
    token_hash BLOB NOT NULL,
    blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS backup_attempts (
    user_id BLOB PRIMARY KEY,
    window_start INTEGER NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    user_id BLOB NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash BLOB PRIMARY KEY,
    user_id BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at);
-- A revoked device's tokens are deleted by mailbox key.
CREATE INDEX IF NOT EXISTS tokens_mailbox ON tokens (user_id);
-- AUTOINCREMENT: a seq is never reused, even after the newest blob is deleted.
CREATE TABLE IF NOT EXISTS blobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox BLOB NOT NULL,
    id BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blobs_mailbox ON blobs (mailbox, seq);
CREATE UNIQUE INDEX IF NOT EXISTS blobs_id ON blobs (mailbox, id);
CREATE INDEX IF NOT EXISTS blobs_received ON blobs (received_at);
-- A device mailbox's blobs are in `blobs` under the 48-byte key user_id || device_id,
-- its tokens in `tokens` under the same key, its counters in `devices`.
CREATE TABLE IF NOT EXISTS device_lists (
    user_id BLOB PRIMARY KEY,
    list BLOB NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    bundle BLOB,
    issued_at INTEGER,
    blob_count INTEGER NOT NULL DEFAULT 0,
    blob_bytes INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER
);
CREATE INDEX IF NOT EXISTS devices_user ON devices (user_id, device_id);
CREATE TABLE IF NOT EXISTS links (
    channel BLOB NOT NULL,
    slot TEXT NOT NULL,
    data BLOB NOT NULL,
    size INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (channel, slot)
);
CREATE INDEX IF NOT EXISTS links_expiry ON links (expires_at);
";

/// Counts a deposit against the mailbox's quota; changes no row if the device is not
/// listed or the mailbox is full.
const COUNT_DEPOSIT: &str =
    "UPDATE devices SET blob_count = blob_count + 1, blob_bytes = blob_bytes + ?2
     WHERE id = ?1 AND blob_count < ?3 AND blob_bytes + ?2 <= ?4";

const UNCOUNT: &str =
    "UPDATE devices SET blob_count = blob_count - ?2, blob_bytes = blob_bytes - ?3 WHERE id = ?1";

const UNCOUNT_EXPIRED: &str = "UPDATE devices SET blob_count = blob_count - s.c, blob_bytes = blob_bytes - s.b
     FROM (SELECT mailbox, COUNT(*) AS c, SUM(size) AS b FROM blobs WHERE received_at < ?1 GROUP BY mailbox) AS s
     WHERE devices.id = s.mailbox";

/// Most deposits committed in one transaction.
const MAX_BATCH: usize = 256;

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    deposits: mpsc::Sender<DepositJob>,
}

/// A deposit waiting for the group commit.
#[derive(Debug)]
struct DepositJob {
    mailbox: Mailbox,
    id: BlobId,
    received_at: i64,
    data: Vec<u8>,
    quota: Quota,
    reply: oneshot::Sender<Result<Deposit>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (deposits, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(writer.clone(), jobs));
        Ok(Self {
            writer,
            reader,
            deposits,
        })
    }
}

impl Pools for SqliteStore {
    type DB = Sqlite;

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn deposit(
        &self,
        mailbox: &Mailbox,
        id: &BlobId,
        received_at: i64,
        data: &[u8],
        quota: Quota,
    ) -> Result<Deposit> {
        let (reply, outcome) = oneshot::channel();
        let job = DepositJob {
            mailbox: *mailbox,
            id: *id,
            received_at,
            data: data.to_vec(),
            quota,
            reply,
        };
        let closed = || StoreError(sqlx::Error::PoolClosed);
        self.deposits.send(job).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    async fn ack(&self, mailbox: &Mailbox, ids: &[BlobId]) -> Result<u64> {
        let key = mailbox.key();
        let mut tx = self.writer.begin().await?;
        let (mut count, mut bytes) = (0i64, 0i64);
        for id in ids {
            let deleted =
                sqlx::query("DELETE FROM blobs WHERE mailbox = ?1 AND id = ?2 RETURNING size")
                    .bind(key.as_slice())
                    .bind(id.as_slice())
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = deleted {
                count += 1;
                bytes += row.try_get::<i64, _>("size")?;
            }
        }
        if count > 0 {
            sqlx::query(UNCOUNT)
                .bind(key.as_slice())
                .bind(count)
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn purge(&self, before: PurgeBefore) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        // The single writer makes counting and deleting one atomic step.
        sqlx::query(UNCOUNT_EXPIRED)
            .bind(before.blobs)
            .execute(&mut *tx)
            .await?;
        let blobs = sqlx::query("DELETE FROM blobs WHERE received_at < ?1")
            .bind(before.blobs)
            .execute(&mut *tx)
            .await?;
        for (statement, value) in shared::expiry_deletes(before) {
            sqlx::query(statement).bind(value).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(blobs.rows_affected())
    }

    async fn announce(&self, _mailbox: &Mailbox) -> Result<()> {
        Ok(())
    }

    fn spawn_listener(&self, _hub: Arc<Hub>, _stop: watch::Receiver<bool>) {}
}

/// Commits waiting deposits in batches until the store is dropped.
async fn group_commit(writer: SqlitePool, mut jobs: mpsc::Receiver<DepositJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit_batch(&writer, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                // Nothing of the batch was committed; every depositor gets the error.
                let message = e.to_string();
                for job in batch.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(StoreError(sqlx::Error::Protocol(message.clone()))));
                }
            }
        }
    }
}

async fn commit_batch(writer: &SqlitePool, batch: &[DepositJob]) -> Result<Vec<Deposit>> {
    let mut tx = writer.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        outcomes.push(deposit_in(&mut tx, job).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// One deposit inside the batch transaction. A refusal changes nothing.
async fn deposit_in(tx: &mut sqlx::Transaction<'_, Sqlite>, job: &DepositJob) -> Result<Deposit> {
    let size = super::stored_size(&job.data);
    let key = job.mailbox.key();
    let mailbox = key.as_slice();
    // The counters row is the quota and the existence check in one step.
    let counted = sqlx::query(COUNT_DEPOSIT)
        .bind(mailbox)
        .bind(size)
        .bind(job.quota.max_blobs)
        .bind(job.quota.max_bytes)
        .execute(&mut **tx)
        .await?;
    if counted.rows_affected() == 0 {
        let exists = sqlx::query("SELECT 1 FROM devices WHERE id = ?1")
            .bind(mailbox)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        return Ok(Deposit::refused(exists));
    }
    let row = sqlx::query(
        "INSERT INTO blobs (mailbox, id, received_at, size, data) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq",
    )
    .bind(mailbox)
    .bind(job.id.as_slice())
    .bind(job.received_at)
    .bind(size)
    .bind(job.data.as_slice())
    .fetch_one(&mut **tx)
    .await?;
    Ok(Deposit::Stored(row.try_get("seq")?))
}
