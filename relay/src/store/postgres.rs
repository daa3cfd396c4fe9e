//! PostgreSQL: several relay processes on one database behave as one relay.
//!
//! Quotas are counters in the mailbox's `devices` row, updated
//! in the same statement as the blob insert; the row lock this takes also orders
//! deposits into one mailbox, so `seq` grows in commit order per mailbox. Each deposit
//! sends `NOTIFY sealpost_deposit` carrying only the mailbox key (delivered at commit);
//! every relay `LISTEN`s and wakes its local subscribers, who then read the new blobs
//! from the database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use sqlx::Row;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::watch;

use super::shared::{self, Pools};
use sealpost_core::UserId;

use super::{BlobId, Deposit, Mailbox, PurgeBefore, Quota, Result, Store, schema_version};
use crate::push::{HandOff, Hub};

/// The notification channel; the payload is `<instance>:<mailbox key in hex>`, where
/// the instance tells the relay process that sent it its own notifications apart (it
/// has handed its deposits to its subscribers in memory already).
const CHANNEL: &str = "sealpost_deposit";

/// Arbitrary key for the advisory lock that serializes schema creation when several
/// relays start at once.
const SCHEMA_LOCK: i64 = 0x5ea1_9057;

const SCHEMA: &str = "
-- Protocol v1's key directory and backups, unreachable since its routes are gone. Its
-- mailboxes' blobs and tokens (32-byte keys) wait for the purge.
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS backups;
-- Key backups (tag K 2). The name dates from when v1 backups were beside them.
CREATE TABLE IF NOT EXISTS backups_v2 (
    user_id BYTEA PRIMARY KEY,
    token_hash BYTEA NOT NULL,
    blob BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS backup_attempts (
    user_id BYTEA PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    user_id BYTEA NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash BYTEA PRIMARY KEY,
    user_id BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at);
CREATE INDEX IF NOT EXISTS tokens_mailbox ON tokens (user_id);
-- seq counts per mailbox (the counters row's last_seq): no order across mailboxes.
CREATE TABLE IF NOT EXISTS blobs (
    mailbox BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    id BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (mailbox, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS blobs_id ON blobs (mailbox, id);
CREATE INDEX IF NOT EXISTS blobs_received ON blobs (received_at);
CREATE TABLE IF NOT EXISTS device_lists (
    user_id BYTEA PRIMARY KEY,
    list BYTEA NOT NULL,
    version BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id BYTEA PRIMARY KEY,
    user_id BYTEA NOT NULL,
    device_id BYTEA NOT NULL,
    bundle BYTEA,
    issued_at BIGINT,
    blob_count BIGINT NOT NULL DEFAULT 0,
    blob_bytes BIGINT NOT NULL DEFAULT 0,
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_seen BIGINT
);
CREATE INDEX IF NOT EXISTS devices_user ON devices (user_id, device_id);
-- Link slots. (`links`, before slots carried a deletion proof: at most ten minutes of
-- linking in progress, dropped.)
DROP TABLE IF EXISTS links;
CREATE TABLE IF NOT EXISTS link_slots (
    channel BYTEA NOT NULL,
    slot TEXT NOT NULL,
    data BYTEA NOT NULL,
    size BIGINT NOT NULL,
    delete_hash BYTEA,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (channel, slot)
);
CREATE INDEX IF NOT EXISTS link_slots_expiry ON link_slots (expires_at);
-- Attachments (chunks.rs, chunks_pg.rs): the bytes are in the row, so every relay
-- process on this database serves every chunk. EXTERNAL: stored uncompressed out of
-- line (ciphertext does not compress), so a download reads it slice by slice.
CREATE TABLE IF NOT EXISTS upload_tokens (
    token_hash BYTEA PRIMARY KEY,
    quota_left BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS upload_tokens_expiry ON upload_tokens (expires_at);
CREATE TABLE IF NOT EXISTS chunks (
    address BYTEA PRIMARY KEY,
    len BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    data BYTEA NOT NULL
);
ALTER TABLE chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS chunks_expiry ON chunks (expires_at);
CREATE TABLE IF NOT EXISTS chunk_tombstones (
    address BYTEA PRIMARY KEY,
    until BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunk_tombstones_until ON chunk_tombstones (until);
CREATE TABLE IF NOT EXISTS chunk_usage (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    bytes BIGINT NOT NULL
);
INSERT INTO chunk_usage (one, bytes) VALUES (1, 0) ON CONFLICT (one) DO NOTHING;
";

// One statement, one round trip, one commit. The UPDATE locks the mailbox row until
// commit: quota check, existence check and the mailbox's next `seq` (so `seq` is
// 1, 2, 3, ... in commit order per mailbox) in one step. NOTIFY is sent at commit, only
// when a blob was stored.
const DEPOSIT: &str = "WITH counted AS (
         UPDATE devices SET blob_count = blob_count + 1, blob_bytes = blob_bytes + $4,
                last_seq = last_seq + 1
         WHERE id = $1 AND blob_count < $6 AND blob_bytes + $4 <= $7
         RETURNING id, last_seq
     ),
     stored AS (
         INSERT INTO blobs (mailbox, seq, id, received_at, size, data)
         SELECT id, last_seq, $2, $3, $4, $5 FROM counted
         RETURNING seq
     ),
     announced AS (SELECT pg_notify($8, $9) FROM stored)
     SELECT (SELECT seq FROM stored) AS seq,
            (SELECT COUNT(*) FROM announced) AS announced,
            EXISTS (SELECT 1 FROM devices WHERE id = $1) AS registered";

// One statement: only rows this statement really deleted are subtracted, even when
// another relay acknowledges the same blob at the same time.
const ACK: &str =
    "WITH d AS (DELETE FROM blobs WHERE mailbox = $1 AND id = ANY($2) RETURNING size),
          s AS (SELECT COUNT(*) AS c, COALESCE(SUM(size), 0) AS b FROM d),
          u AS (UPDATE devices SET blob_count = blob_count - s.c, blob_bytes = blob_bytes - s.b
                FROM s WHERE devices.id = $1 AND s.c > 0)
     SELECT c FROM s";

/// The PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// This process's tag in notifications: random, so it names nothing.
    instance: String,
}

impl PostgresStore {
    /// Connects and creates the schema if needed.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // Each statement commits on its own, under a session lock that keeps starting
        // relays apart: one transaction would hold a `CREATE INDEX`'s share lock on
        // `blobs` while waiting for one on `devices`, and deadlock with a deposit of a
        // running relay, which locks them the other way round.
        let mut conn = pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *conn)
            .await?;
        let created = create_schema(&mut conn).await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *conn)
            .await?;
        created?;
        Ok(Self {
            pool,
            instance: hex::encode(crate::random_bytes::<8>()),
        })
    }

    /// The notification payload for the mailbox of stored key `key`.
    fn payload(&self, key: &[u8]) -> String {
        format!("{}:{}", self.instance, hex::encode(key))
    }

    /// One mailbox's deposit ([`DEPOSIT`]) on `db`: the pool (its own commit) or a
    /// transaction.
    async fn deposit_one<'e, E>(
        &self,
        db: E,
        mailbox: &Mailbox,
        id: &BlobId,
        received_at: i64,
        data: &[u8],
        quota: Quota,
    ) -> Result<Deposit>
    where
        E: sqlx::PgExecutor<'e>,
    {
        let size = super::stored_size(data);
        let key = mailbox.key();
        let row = sqlx::query(DEPOSIT)
            .bind(key.as_slice())
            .bind(id.as_slice())
            .bind(received_at)
            .bind(size)
            .bind(data)
            .bind(quota.max_blobs)
            .bind(quota.max_bytes)
            .bind(CHANNEL)
            .bind(self.payload(&key))
            .fetch_one(db)
            .await?;
        let seq: Option<i64> = row.try_get("seq")?;
        let registered: bool = row.try_get("registered")?;
        Ok(match (seq, registered) {
            (Some(seq), _) => Deposit::Stored(seq),
            (None, registered) => Deposit::refused(registered),
        })
    }

    /// The deposits of [`Store::deposit_many`], committed.
    async fn deposit_all(
        &self,
        to: &[(Mailbox, BlobId)],
        received_at: i64,
        data: &[u8],
        quota: Quota,
    ) -> Result<Vec<Deposit>> {
        if let [(mailbox, id)] = to {
            // One statement, its own commit: no transaction round trips.
            return Ok(vec![
                self.deposit_one(&self.pool, mailbox, id, received_at, data, quota)
                    .await?,
            ]);
        }
        // The mailboxes' rows are locked in key order, so two multi-recipient deposits
        // sharing mailboxes wait for each other instead of deadlocking (a single
        // deposit locks one row only).
        let mut order: Vec<usize> = (0..to.len()).collect();
        order.sort_by_key(|&i| to.get(i).map(|(m, _)| m.key()));
        let mut outcomes = vec![Deposit::UnknownMailbox; to.len()];
        let mut tx = self.pool.begin().await?;
        for i in order {
            if let (Some((mailbox, id)), Some(slot)) = (to.get(i), outcomes.get_mut(i)) {
                *slot = self
                    .deposit_one(&mut *tx, mailbox, id, received_at, data, quota)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

impl Pools for PostgresStore {
    type DB = sqlx::Postgres;

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn deposit_many(
        &self,
        to: &[(Mailbox, BlobId)],
        received_at: i64,
        data: Bytes,
        quota: Quota,
        hand_off: HandOff,
    ) -> Result<Vec<Deposit>> {
        let outcomes = self.deposit_all(to, received_at, &data, quota).await?;
        // After the commit: a single deposit is one statement that commits itself, so
        // there is no moment between its writes and its commit to hand over at (the
        // SQLite writer thread has one, sqlite_writer.rs).
        for ((mailbox, _), outcome) in to.iter().zip(&outcomes) {
            if let Deposit::Stored(seq) = outcome {
                hand_off.committed(mailbox, *seq, None);
            }
        }
        Ok(outcomes)
    }

    async fn ack(&self, mailbox: &Mailbox, ids: &[BlobId]) -> Result<u64> {
        let ids: Vec<Vec<u8>> = ids.iter().map(|id| id.to_vec()).collect();
        let row = sqlx::query(ACK)
            .bind(mailbox.key())
            .bind(&ids)
            .fetch_one(&self.pool)
            .await?;
        let count: i64 = row.try_get("c")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn use_nonce(&self, id: &UserId, nonce: &str, expires_at: i64) -> Result<bool> {
        let r = sqlx::query(shared::USE_NONCE)
            .bind(id.as_bytes().as_slice())
            .bind(nonce)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn put_token(
        &self,
        token_hash: &[u8; 32],
        mailbox: &Mailbox,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(shared::PUT_TOKEN)
            .bind(token_hash.as_slice())
            .bind(mailbox.key().as_slice())
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge(&self, before: PurgeBefore) -> Result<u64> {
        let row = sqlx::query(
            "WITH d AS (DELETE FROM blobs WHERE received_at < $1 RETURNING mailbox, size),
                  s AS (SELECT mailbox, COUNT(*) AS c, SUM(size) AS b FROM d GROUP BY mailbox),
                  v AS (UPDATE devices SET blob_count = blob_count - s.c, blob_bytes = blob_bytes - s.b
                        FROM s WHERE devices.id = s.mailbox)
             SELECT COALESCE(SUM(c), 0)::BIGINT AS n FROM s",
        )
        .bind(before.blobs)
        .fetch_one(&self.pool)
        .await?;
        let purged: i64 = row.try_get("n")?;
        for (statement, value) in shared::expiry_deletes(before) {
            sqlx::query(statement)
                .bind(value)
                .execute(&self.pool)
                .await?;
        }
        Ok(u64::try_from(purged).unwrap_or(0))
    }

    async fn announce(&self, mailbox: &Mailbox) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(self.payload(&mailbox.key()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn checkpoint(&self) -> Result<()> {
        Ok(())
    }

    fn spawn_listener(&self, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
        let pool = self.pool.clone();
        let instance = self.instance.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listen(&pool, &hub, &instance) => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "notification listener failed, retrying");
                        }
                    }
                    _ = stop.changed() => return,
                }
                // Whatever was announced while we were not listening: every local
                // subscriber re-reads its mailbox.
                hub.notify_all();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// Forwards notifications until the listening connection is lost.
async fn listen(pool: &PgPool, hub: &Hub, instance: &str) -> Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Deposits made before LISTEN took effect were not announced.
    hub.notify_all();
    while let Some(n) = listener.try_recv().await? {
        let Some((from, key)) = n.payload().split_once(':') else {
            continue;
        };
        if from == instance {
            continue;
        }
        if let Some(mailbox) = hex::decode(key)
            .ok()
            .and_then(|key| Mailbox::from_key(&key))
        {
            hub.notify(&mailbox);
        }
    }
    Ok(())
}

/// Checks the recorded schema version (under the schema lock), then creates what is
/// missing and records the version.
async fn create_schema(conn: &mut sqlx::PgConnection) -> Result<()> {
    let (has_tables, has_version): (bool, bool) = sqlx::query_as(
        "SELECT to_regclass('blobs') IS NOT NULL, to_regclass('schema_version') IS NOT NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    let found: Option<i64> = if has_version {
        sqlx::query_scalar("SELECT version FROM schema_version LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
    } else {
        None
    };
    schema_version::check(found, has_tables)?;
    for statement in SCHEMA.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO schema_version (version) SELECT $1 \
         WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
    )
    .bind(schema_version::SCHEMA_VERSION)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
