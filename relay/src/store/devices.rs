//! The v2 device directory (docs/PROTOCOL.md §9, 10): an account's signed device
//! list and one row per device in it (its bundle, its mailbox counters, when its owner
//! last used the mailbox). Written once for both backends, like `shared.rs`.
//!
//! The rows of `devices` are exactly the devices of the stored list: they are written
//! in the same transaction as the list, so a device that leaves the list loses its
//! bundle, its blobs and its bearer tokens in the step that removes it, and a deposit
//! racing with that step either lands before it (and is deleted with the rest) or
//! finds no counters row (and is refused).

use std::collections::HashSet;

use async_trait::async_trait;
use sealpost_core::UserId;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::shared::{Backend, Pools};
use super::{DeviceKey, Mailbox, Result};

/// The stored device list.
#[derive(Debug, Clone)]
pub struct StoredList {
    /// The signed list, as uploaded.
    pub list: Vec<u8>,
    /// Its version (updates must be strictly larger).
    pub version: i64,
}

/// One device of the current list.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// The device id.
    pub device: DeviceKey,
    /// Its signed bundle, once published.
    pub bundle: Option<Vec<u8>>,
    /// Last authenticated mailbox access, rounded down (see [`super::coarse_time`]).
    pub last_seen: Option<i64>,
    /// Blobs waiting in its mailbox.
    pub blob_count: i64,
    /// The sequence number of the last blob committed to its mailbox (0: none yet).
    pub last_seq: i64,
}

/// What storing a device bundle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleUpdate {
    /// Stored (first bundle of the device, or newer than the stored one).
    Stored,
    /// Not newer (`issued_at`) than the stored bundle.
    Stale,
    /// The device is not in the current list (any more).
    UnknownDevice,
}

/// The device directory's statements. Every method is one atomic step.
#[async_trait]
pub trait DeviceRecords: Send + Sync {
    /// The account's device list.
    async fn device_list(&self, user: &UserId) -> Result<Option<StoredList>>;

    /// Stores the account's first device list and a row per device. `false` if the
    /// account already has a list (first come, first served).
    async fn register_device_list(
        &self,
        user: &UserId,
        list: &[u8],
        version: i64,
        devices: &[DeviceKey],
    ) -> Result<bool>;

    /// Replaces the list if the stored one still has version `previous` (the one the
    /// update was checked against); adds rows for new devices and deletes the rows,
    /// blobs and tokens of devices no longer listed. `None` if the stored list changed
    /// meanwhile (nothing was written), else the removed devices.
    async fn replace_device_list(
        &self,
        user: &UserId,
        list: &[u8],
        version: i64,
        previous: i64,
        devices: &[DeviceKey],
    ) -> Result<Option<Vec<DeviceKey>>>;

    /// Every device of the current list, by device id.
    async fn devices(&self, user: &UserId) -> Result<Vec<DeviceRow>>;

    /// One device of the current list.
    async fn device(&self, user: &UserId, device: &DeviceKey) -> Result<Option<DeviceRow>>;

    /// Stores a device bundle if the device is listed and `issued_at` is newer than
    /// its stored bundle's.
    async fn put_device_bundle(
        &self,
        user: &UserId,
        device: &DeviceKey,
        bundle: &[u8],
        issued_at: i64,
    ) -> Result<BundleUpdate>;

    /// Records an authenticated mailbox access at the coarse time `at` (a write only
    /// when the stored value is older, so repeated accesses cost a read).
    async fn touch_device(&self, user: &UserId, device: &DeviceKey, at: i64) -> Result<()>;
}

fn key(user: &UserId, device: &DeviceKey) -> Vec<u8> {
    Mailbox::new(*user, *device).key()
}

#[async_trait]
impl<S> DeviceRecords for S
where
    S: Pools,
    for<'c> &'c mut <S::DB as Database>::Connection: Executor<'c, Database = S::DB>,
    for<'q> <S::DB as Database>::Arguments<'q>: IntoArguments<'q, S::DB>,
    for<'q> &'q [u8]: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> &'q str: Encode<'q, S::DB> + Type<S::DB> + ColumnIndex<<S::DB as Database>::Row>,
    for<'q> i64: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> Vec<u8>: Decode<'q, S::DB> + Type<S::DB>,
{
    async fn device_list(&self, user: &UserId) -> Result<Option<StoredList>> {
        let row = sqlx::query("SELECT list, version FROM device_lists WHERE user_id = $1")
            .bind(user.as_bytes().as_slice())
            .fetch_optional(self.reader())
            .await?;
        row.map(|r| {
            Ok(StoredList {
                list: r.try_get("list")?,
                version: r.try_get("version")?,
            })
        })
        .transpose()
    }

    async fn register_device_list(
        &self,
        user: &UserId,
        list: &[u8],
        version: i64,
        devices: &[DeviceKey],
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO device_lists (user_id, list, version) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.as_bytes().as_slice())
        .bind(list)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if S::DB::rows_affected(&inserted) != 1 {
            return Ok(false);
        }
        for device in devices {
            sqlx::query(INSERT_DEVICE)
                .bind(key(user, device).as_slice())
                .bind(user.as_bytes().as_slice())
                .bind(device.as_slice())
                .bind(first_seq())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_device_list(
        &self,
        user: &UserId,
        list: &[u8],
        version: i64,
        previous: i64,
        devices: &[DeviceKey],
    ) -> Result<Option<Vec<DeviceKey>>> {
        let mut tx = self.writer().begin().await?;
        // Compare-and-swap on the version the caller checked the update against: of
        // two concurrent updates from the same list, one wins and the other is stale.
        let swapped = sqlx::query(
            "UPDATE device_lists SET list = $2, version = $3 WHERE user_id = $1 AND version = $4",
        )
        .bind(user.as_bytes().as_slice())
        .bind(list)
        .bind(version)
        .bind(previous)
        .execute(&mut *tx)
        .await?;
        if S::DB::rows_affected(&swapped) != 1 {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT device_id FROM devices WHERE user_id = $1")
            .bind(user.as_bytes().as_slice())
            .fetch_all(&mut *tx)
            .await?;
        let mut existing = HashSet::new();
        for row in &rows {
            existing.insert(super::device_key(row.try_get("device_id")?)?);
        }
        let listed: HashSet<DeviceKey> = devices.iter().copied().collect();
        let mut removed: Vec<DeviceKey> = existing.difference(&listed).copied().collect();
        removed.sort_unstable();
        for device in &removed {
            let mailbox = key(user, device);
            // The counters row first: it is what a concurrent deposit locks, so a
            // deposit either committed before this (its blob is deleted below) or
            // finds no row and is refused.
            for statement in [
                "DELETE FROM devices WHERE id = $1",
                "DELETE FROM blobs WHERE mailbox = $1",
                "DELETE FROM tokens WHERE user_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(mailbox.as_slice())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for device in listed.difference(&existing) {
            sqlx::query(INSERT_DEVICE)
                .bind(key(user, device).as_slice())
                .bind(user.as_bytes().as_slice())
                .bind(device.as_slice())
                .bind(first_seq())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(removed))
    }

    async fn devices(&self, user: &UserId) -> Result<Vec<DeviceRow>> {
        let rows = sqlx::query(
            "SELECT device_id, bundle, last_seen, blob_count, last_seq FROM devices
             WHERE user_id = $1 ORDER BY device_id",
        )
        .bind(user.as_bytes().as_slice())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(device_row).collect()
    }

    async fn device(&self, user: &UserId, device: &DeviceKey) -> Result<Option<DeviceRow>> {
        let row = sqlx::query(
            "SELECT device_id, bundle, last_seen, blob_count, last_seq FROM devices WHERE id = $1",
        )
        .bind(key(user, device).as_slice())
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(device_row).transpose()
    }

    async fn put_device_bundle(
        &self,
        user: &UserId,
        device: &DeviceKey,
        bundle: &[u8],
        issued_at: i64,
    ) -> Result<BundleUpdate> {
        let mailbox = key(user, device);
        let r = sqlx::query(
            "UPDATE devices SET bundle = $2, issued_at = $3
             WHERE id = $1 AND (issued_at IS NULL OR issued_at < $3)",
        )
        .bind(mailbox.as_slice())
        .bind(bundle)
        .bind(issued_at)
        .execute(self.writer())
        .await?;
        if S::DB::rows_affected(&r) == 1 {
            return Ok(BundleUpdate::Stored);
        }
        // Only says why nothing was stored; a revocation in between reads as unknown.
        let listed = sqlx::query("SELECT 1 AS one FROM devices WHERE id = $1")
            .bind(mailbox.as_slice())
            .fetch_optional(self.writer())
            .await?
            .is_some();
        Ok(if listed {
            BundleUpdate::Stale
        } else {
            BundleUpdate::UnknownDevice
        })
    }

    async fn touch_device(&self, user: &UserId, device: &DeviceKey, at: i64) -> Result<()> {
        let mailbox = key(user, device);
        // Read first: most accesses fall in an interval already recorded, and on
        // SQLite a write (even a no-op one) would queue behind the single writer.
        let seen = sqlx::query("SELECT last_seen FROM devices WHERE id = $1")
            .bind(mailbox.as_slice())
            .fetch_optional(self.reader())
            .await?;
        let current: Option<i64> = match seen {
            Some(row) => row.try_get("last_seen")?,
            None => return Ok(()),
        };
        if current.is_some_and(|t| t >= at) {
            return Ok(());
        }
        sqlx::query(
            "UPDATE devices SET last_seen = $2 WHERE id = $1 AND (last_seen IS NULL OR last_seen < $2)",
        )
        .bind(mailbox.as_slice())
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}

/// A row for a device that joined the list (none exists: a device id is never reused,
/// and a removed device's row is deleted).
const INSERT_DEVICE: &str =
    "INSERT INTO devices (id, user_id, device_id, last_seq) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO NOTHING";

/// Where a new mailbox's sequence numbers start: random below 2^48, so `last_seq` in a
/// copy of the database does not tell how many blobs the mailbox ever received (its
/// sequence numbers are still consecutive, so a session notices a gap).
fn first_seq() -> i64 {
    let [a, b, c, d, e, f] = crate::random_bytes::<6>();
    i64::from_be_bytes([0, 0, a, b, c, d, e, f])
}

fn device_row<R>(r: &R) -> Result<DeviceRow>
where
    R: Row,
    for<'q> &'q str: ColumnIndex<R>,
    for<'q> &'q [u8]: Decode<'q, R::Database> + Type<R::Database>,
    for<'q> i64: Decode<'q, R::Database> + Type<R::Database>,
    for<'q> Vec<u8>: Decode<'q, R::Database> + Type<R::Database>,
{
    Ok(DeviceRow {
        device: super::device_key(r.try_get("device_id")?)?,
        bundle: r.try_get("bundle")?,
        last_seen: r.try_get("last_seen")?,
        blob_count: r.try_get("blob_count")?,
        last_seq: r.try_get("last_seq")?,
    })
}
