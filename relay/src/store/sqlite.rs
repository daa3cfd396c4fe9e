//! Embedded SQLite: one file under the data directory, WAL mode, `synchronous=FULL`, so
//! every acknowledged write survives a crash or power loss.
//!
//! Deposits and acknowledgements, the writes of every message, are group-committed by
//! one thread that owns a write connection (`sqlite_writer.rs`): it takes every such
//! write waiting at the moment into one transaction, so they share one fsync, and
//! answers each only after that commit. The rarer writes (directory, backups, links,
//! tokens, nonces, the purge) go through one more connection, which takes turns with
//! the writer thread: each time it is handed out, the thread commits what it has and
//! pauses until the connection is back in its pool. Reads use a small pool of their own (WAL lets them run beside
//! the writers). A SQLite database is for one relay process; use PostgreSQL to run
//! several.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use tokio::sync::{oneshot, watch};

use super::chunks_fs::FsChunks;
use super::shared::{self, Pools};
use super::sqlite_writer::{Job, Turn, Writer};
use sealpost_core::UserId;

use super::{
    BlobId, Deposit, Mailbox, PurgeBefore, Quota, Result, Store, StoreError, schema_version,
};
use crate::push::{HandOff, Hub};

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
-- seq counts per mailbox (the counters row's last_seq): no order across mailboxes.
-- WITHOUT ROWID, so no hidden rowid records one either, and a mailbox's page is a
-- range of the primary key.
CREATE TABLE IF NOT EXISTS blobs (
    mailbox BLOB NOT NULL,
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (mailbox, seq)
) WITHOUT ROWID;
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
    last_seq INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER
);
CREATE INDEX IF NOT EXISTS devices_user ON devices (user_id, device_id);
-- Link slots. (`links`, before slots carried a deletion proof: at most ten minutes of
-- linking in progress, dropped.)
DROP TABLE IF EXISTS links;
CREATE TABLE IF NOT EXISTS link_slots (
    channel BLOB NOT NULL,
    slot TEXT NOT NULL,
    data BLOB NOT NULL,
    size INTEGER NOT NULL,
    delete_hash BLOB,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (channel, slot)
);
CREATE INDEX IF NOT EXISTS link_slots_expiry ON link_slots (expires_at);
-- Attachments (chunks.rs, chunks_fs.rs): the bytes are files in `chunks/` beside the
-- database. WITHOUT ROWID: no hidden row id records the order chunks arrived in.
CREATE TABLE IF NOT EXISTS upload_tokens (
    token_hash BLOB PRIMARY KEY,
    quota_left INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS upload_tokens_expiry ON upload_tokens (expires_at);
CREATE TABLE IF NOT EXISTS chunks (
    address BLOB PRIMARY KEY,
    len INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunks_expiry ON chunks (expires_at);
CREATE TABLE IF NOT EXISTS chunk_tombstones (
    address BLOB PRIMARY KEY,
    until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_tombstones_until ON chunk_tombstones (until);
CREATE TABLE IF NOT EXISTS chunk_usage (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    bytes INTEGER NOT NULL
);
INSERT INTO chunk_usage (one, bytes) VALUES (1, 0) ON CONFLICT (one) DO NOTHING;
";

const UNCOUNT_EXPIRED: &str = "UPDATE devices SET blob_count = blob_count - s.c, blob_bytes = blob_bytes - s.b
     FROM (SELECT mailbox, COUNT(*) AS c, SUM(size) AS b FROM blobs WHERE received_at < ?1 GROUP BY mailbox) AS s
     WHERE devices.id = s.mailbox";

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    hot: Writer,
    chunks: Arc<FsChunks>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, and the attachment
    /// chunk directory `chunks/` beside it.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Deleted content is overwritten with zeros, not just marked free (see
            // `checkpoint` for the write-ahead log).
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        // The writer thread first: the other write connection takes turns with it.
        let hot = Writer::start(path)?;
        let turn: Arc<Mutex<Option<Turn>>> = Arc::default();
        let (taking, ending) = ((hot.clone(), Arc::clone(&turn)), Arc::clone(&turn));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // One connection for the store's lifetime: a newly opened one would be
            // handed out without a turn.
            .idle_timeout(None)
            .max_lifetime(None)
            .before_acquire(move |_, _| {
                let (hot, turn) = (taking.0.clone(), Arc::clone(&taking.1));
                Box::pin(async move {
                    let t = hot.turn().await;
                    *turn.lock().unwrap_or_else(PoisonError::into_inner) = Some(t);
                    Ok(true)
                })
            })
            .after_release(move |_, _| {
                let turn = Arc::clone(&ending);
                Box::pin(async move {
                    drop(turn.lock().unwrap_or_else(PoisonError::into_inner).take());
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await?;
        // `connect_with` tries one acquisition and puts the connection back without
        // `after_release`: end that turn here.
        drop(turn.lock().unwrap_or_else(PoisonError::into_inner).take());
        let found: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&writer)
            .await?;
        let has_tables: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blobs')",
        )
        .fetch_one(&writer)
        .await?;
        // SQLite's own header field: 0 until a relay has recorded its schema.
        schema_version::check((found != 0).then_some(found), has_tables)?;
        sqlx::raw_sql(SCHEMA).execute(&writer).await?;
        sqlx::raw_sql(&format!(
            "PRAGMA user_version = {}",
            schema_version::SCHEMA_VERSION
        ))
        .execute(&writer)
        .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let chunks = FsChunks::open(&path.with_file_name("chunks"))?;
        let store = Self {
            writer,
            reader,
            hot,
            chunks,
        };
        store.sweep_chunk_files().await?;
        Ok(store)
    }

    /// The chunk directory.
    pub(super) fn chunks(&self) -> &Arc<FsChunks> {
        &self.chunks
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
    async fn deposit_many(
        &self,
        to: &[(Mailbox, BlobId)],
        received_at: i64,
        data: Bytes,
        quota: Quota,
        hand_off: HandOff,
    ) -> Result<Vec<Deposit>> {
        let (reply, outcome) = oneshot::channel();
        self.hot
            .submit(Job::Deposit {
                to: to.to_vec(),
                received_at,
                data,
                quota,
                hand_off,
                reply,
            })
            .await?;
        outcome.await.map_err(|_| closed())?
    }

    async fn ack(&self, mailbox: &Mailbox, ids: &[BlobId]) -> Result<u64> {
        let (reply, outcome) = oneshot::channel();
        self.hot
            .submit(Job::Ack {
                mailbox: *mailbox,
                ids: ids.to_vec(),
                reply,
            })
            .await?;
        outcome.await.map_err(|_| closed())?
    }

    async fn use_nonce(&self, id: &UserId, nonce: &str, expires_at: i64) -> Result<bool> {
        let (reply, outcome) = oneshot::channel();
        self.hot
            .submit(Job::Nonce {
                user: *id,
                nonce: nonce.to_owned(),
                expires_at,
                reply,
            })
            .await?;
        outcome.await.map_err(|_| closed())?
    }

    async fn put_token(
        &self,
        token_hash: &[u8; 32],
        mailbox: &Mailbox,
        expires_at: i64,
    ) -> Result<()> {
        let (reply, outcome) = oneshot::channel();
        self.hot
            .submit(Job::Token {
                hash: *token_hash,
                mailbox: *mailbox,
                expires_at,
                reply,
            })
            .await?;
        outcome.await.map_err(|_| closed())?
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

    // TRUNCATE: waits for the writers (busy timeout) and for readers of older
    // snapshots, copies every frame into the database file, syncs it and cuts the log to
    // zero bytes. If a reader keeps it from finishing, the next one does.
    async fn checkpoint(&self) -> Result<()> {
        let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.writer)
            .await?;
        if busy != 0 {
            tracing::debug!("checkpoint could not finish; the next one will");
        }
        Ok(())
    }
}

/// The writer thread ended (only when the store is dropped).
fn closed() -> StoreError {
    StoreError::from(sqlx::Error::PoolClosed)
}
