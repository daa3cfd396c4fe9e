//! Persistent state behind one [`Store`] trait with two backends: embedded SQLite (the
//! default, no setup) and PostgreSQL (several relay processes share one database).
//!
//! Everything stored is either public (key bundles), encrypted by the client (blobs,
//! backups) or a hash of a secret (tokens). Times are coarse or expiry deadlines; see
//! "What the relay stores and for how long" in docs/API.md.

mod chunks;
mod chunks_fs;
mod chunks_pg;
mod devices;
mod links;
mod postgres;
mod schema_version;
mod shared;
mod sqlite;
mod sqlite_writer;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use sealpost_core::UserId;

use crate::config::Config;
use crate::push::{HandOff, Hub};

pub use chunks::{
    Address, CHUNK_PURGE_BATCH, ChunkBytes, ChunkRecords, ChunkState, StagedChunk, UploadStart,
};
pub use devices::{BundleUpdate, DeviceRecords, DeviceRow, StoredList};
pub use links::{LinkPut, LinkRecords, LinkSlot};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A database failure. Carries no user data, only the driver's message.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self(Box::new(e))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(Box::new(e))
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for StoreError {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self(e)
    }
}

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Random blob id, unique per mailbox.
pub type BlobId = [u8; 16];

/// A v2 device id: 16 random bytes the device chose (docs/PROTOCOL.md §8).
pub type DeviceKey = [u8; 16];

/// A device's mailbox (docs/PROTOCOL.md §8): stored in `blobs` under [`Mailbox::key`],
/// its counters in the `devices` row of that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The account.
    pub user: UserId,
    /// One device of the account's device list.
    pub device: DeviceKey,
}

impl Mailbox {
    /// The mailbox of `device` of `user`.
    pub fn new(user: UserId, device: DeviceKey) -> Self {
        Self { user, device }
    }

    /// The stored key: user id (32 bytes) || device id (16 bytes).
    pub fn key(&self) -> Vec<u8> {
        [self.user.as_bytes().as_slice(), &self.device].concat()
    }

    /// The mailbox a stored key names; `None` for any other length (protocol v1 keyed
    /// its mailboxes by the 32-byte user id alone; such rows only wait for the purge).
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let (user, device) = key.split_at_checked(UserId::LEN)?;
        Some(Self::new(
            UserId::from_slice(user).ok()?,
            DeviceKey::try_from(device).ok()?,
        ))
    }
}

/// A blob waiting in a mailbox.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    /// Position in the mailbox: consecutive in commit order per mailbox from a random
    /// start (the counters row hands them out), never reused, so a subscriber can ask
    /// for "everything after what I was sent" and notice a gap. There is no order
    /// across mailboxes.
    pub seq: i64,
    /// The id clients acknowledge and deduplicate by.
    pub id: BlobId,
    /// Coarse arrival time (see [`coarse_time`]).
    pub received_at: i64,
    /// The opaque envelope.
    pub data: Vec<u8>,
}

/// What a deposit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deposit {
    /// Stored durably under this sequence number.
    Stored(i64),
    /// The device is not in the account's current device list.
    UnknownMailbox,
    /// The mailbox is at its count or byte quota.
    OverQuota,
}

impl Deposit {
    /// A deposit whose quota update matched no mailbox row: the mailbox is full if it
    /// exists, unknown if not. Both backends ask in the same atomic step as the update.
    fn refused(registered: bool) -> Self {
        if registered {
            Self::OverQuota
        } else {
            Self::UnknownMailbox
        }
    }
}

/// The `size` column of a blob. Saturates rather than fails: a blob that large is over
/// any byte quota anyway.
fn stored_size(data: &[u8]) -> i64 {
    i64::try_from(data.len()).unwrap_or(i64::MAX)
}

/// Per-mailbox quota checked atomically with each deposit.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Most blobs waiting.
    pub max_blobs: i64,
    /// Most bytes waiting.
    pub max_bytes: i64,
}

/// A stored key backup.
#[derive(Debug, Clone)]
pub struct Backup {
    /// SHA-256 of the client's authentication token.
    pub token_hash: [u8; 32],
    /// The password-encrypted blob.
    pub blob: Vec<u8>,
}

/// What the periodic purge removes: everything past its time-to-live or expiry.
#[derive(Debug, Clone, Copy)]
pub struct PurgeBefore {
    /// Blobs received before this (coarse) time.
    pub blobs: i64,
    /// Tokens, nonces, attempt windows and link slots that ended before this time.
    pub now: i64,
    /// Backup attempt windows that started before this time.
    pub attempt_windows: i64,
}

/// The part of the store that is the same single statements on every backend (backups,
/// nonces, tokens, pages of blobs). Implemented once, in
/// `shared.rs`, for every backend; a supertrait of [`Store`], so `dyn Store` has it all.
/// Every method is one atomic step.
#[async_trait]
pub trait Records: Send + Sync {
    /// Stores or replaces the account's key backup.
    async fn put_backup(&self, id: &UserId, token_hash: &[u8; 32], blob: &[u8]) -> Result<()>;

    /// The account's key backup.
    async fn backup(&self, id: &UserId) -> Result<Option<Backup>>;

    /// Counts one backup fetch attempt in the current window (a new window starts at
    /// `now` if the last one started at or before `window_start_before`) and returns the
    /// attempts in the window, this one included. Counting before comparing makes the
    /// limit exact under concurrency.
    async fn count_backup_attempt(
        &self,
        id: &UserId,
        now: i64,
        window_start_before: i64,
    ) -> Result<i64>;

    /// Forgets the attempts after a successful fetch.
    async fn clear_backup_attempts(&self, id: &UserId) -> Result<()>;

    /// The mailbox a bearer token (by hash) is valid for at `now`.
    async fn token_owner(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<Mailbox>>;

    /// Blobs with `seq > after`, oldest first: at most `limit`, and no more after the
    /// first one that brings the total size to `max_bytes` (so a page of large blobs
    /// does not fill the relay's memory). More may exist only if the page has `limit`
    /// blobs or `max_bytes` bytes.
    async fn blobs_after(
        &self,
        mailbox: &Mailbox,
        after: i64,
        limit: i64,
        max_bytes: i64,
    ) -> Result<Vec<StoredBlob>>;
}

/// The relay's persistent state: [`Records`], [`DeviceRecords`], [`LinkRecords`],
/// [`ChunkRecords`], [`ChunkBytes`] and what each backend does its own way. Every method is one atomic step, so a relay
/// killed at any point loses nothing it acknowledged and never double-counts a quota.
#[async_trait]
pub trait Store:
    Records + DeviceRecords + LinkRecords + ChunkRecords + ChunkBytes + fmt::Debug
{
    /// Stores the same blob in each mailbox of `to` (under the blob id paired with it)
    /// that exists and is under `quota`, durably and in one commit, and tells other
    /// relay processes sharing the database. One outcome per entry of `to`, in its
    /// order; a refusal in one mailbox changes nothing in the others (docs/API.md
    /// "Multi-recipient deposit"). `to` holds no mailbox twice (the route refuses
    /// duplicates).
    ///
    /// Each stored blob goes to `hand_off` (this process's WebSocket subscribers): not
    /// before its statements ran, and the answer only after the commit.
    async fn deposit_many(
        &self,
        to: &[(Mailbox, BlobId)],
        received_at: i64,
        data: Bytes,
        quota: Quota,
        hand_off: HandOff,
    ) -> Result<Vec<Deposit>>;

    /// Stores a blob in one mailbox: [`Store::deposit_many`] with one recipient.
    async fn deposit(
        &self,
        mailbox: &Mailbox,
        id: &BlobId,
        received_at: i64,
        data: Bytes,
        quota: Quota,
        hand_off: HandOff,
    ) -> Result<Deposit> {
        let outcomes = self
            .deposit_many(&[(*mailbox, *id)], received_at, data, quota, hand_off)
            .await?;
        outcomes.first().copied().ok_or_else(|| {
            StoreError::from(sqlx::Error::Protocol("no outcome for the deposit".into()))
        })
    }

    /// Deletes the given blobs of `mailbox` (unknown ids are ignored); returns how many.
    async fn ack(&self, mailbox: &Mailbox, ids: &[BlobId]) -> Result<u64>;

    /// Records a request nonce until `expires_at`. `false` if it was already used.
    async fn use_nonce(&self, id: &UserId, nonce: &str, expires_at: i64) -> Result<bool>;

    /// Stores the hash of a bearer token for `mailbox`.
    async fn put_token(
        &self,
        token_hash: &[u8; 32],
        mailbox: &Mailbox,
        expires_at: i64,
    ) -> Result<()>;

    /// Deletes expired blobs, tokens, nonces, attempt windows and link slots; returns
    /// the number of blobs deleted.
    async fn purge(&self, before: PurgeBefore) -> Result<u64>;

    /// Tells other relay processes sharing the database that `mailbox` changed (a
    /// revoked device's mailbox: their WebSocket sessions of it close). No-op for a
    /// store only one process can use.
    async fn announce(&self, mailbox: &Mailbox) -> Result<()>;

    /// Starts forwarding deposits made by other relay processes to `hub` until `stop`
    /// changes (no-op for a store only one process can use).
    fn spawn_listener(&self, hub: Arc<Hub>, stop: tokio::sync::watch::Receiver<bool>);

    /// Moves everything written so far into the database file and empties the write-
    /// ahead log, so deleted blobs (overwritten with zeros by `secure_delete`) leave no
    /// copy in it. SQLite only; PostgreSQL's space is reclaimed by VACUUM (docs/API.md).
    async fn checkpoint(&self) -> Result<()>;
}

/// Opens the store named by the configuration, creating its schema if needed.
pub async fn open(config: &Config) -> Result<Arc<dyn Store>> {
    match config.database_url.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        Some(url) => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Ok(Arc::new(
                SqliteStore::open(std::path::Path::new(path)).await?,
            ))
        }
        None => {
            create_private_dir(&config.data_dir)
                .map_err(|e| StoreError::from(sqlx::Error::Io(e)))?;
            Ok(Arc::new(
                SqliteStore::open(&config.data_dir.join("relay.db")).await?,
            ))
        }
    }
}

/// Creates the data directory readable by the relay's user only (on Unix), since the
/// database holds metadata worth protecting even though every payload is encrypted.
pub(super) fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Stored times (arrivals, expiries, attempt windows, last seen) are rounded to this
/// many seconds, so a copy of the database does not tell exactly when anyone was
/// active.
pub const TIME_GRANULARITY: i64 = 300;

/// `now` rounded down to [`TIME_GRANULARITY`].
pub fn coarse_time(now: i64) -> i64 {
    now - now.rem_euclid(TIME_GRANULARITY)
}

/// `t` rounded up to [`TIME_GRANULARITY`]: for expiries that must not come early (a
/// nonce forgotten before its signature expires could be replayed).
pub fn coarse_time_up(t: i64) -> i64 {
    coarse_time(t.saturating_add(TIME_GRANULARITY - 1))
}

/// Converts a stored device id column back.
fn device_key(bytes: &[u8]) -> Result<DeviceKey> {
    DeviceKey::try_from(bytes)
        .map_err(|_| StoreError::from(sqlx::Error::Decode("device id is not 16 bytes".into())))
}

/// Converts a stored blob id column back.
fn blob_id(bytes: &[u8]) -> Result<BlobId> {
    BlobId::try_from(bytes)
        .map_err(|_| StoreError::from(sqlx::Error::Decode("blob id is not 16 bytes".into())))
}

/// Converts a stored hash column back.
fn hash(bytes: &[u8]) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| StoreError::from(sqlx::Error::Decode("hash is not 32 bytes".into())))
}
