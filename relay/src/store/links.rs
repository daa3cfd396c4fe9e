//! Link channels (docs/PROTOCOL.md §19): two write-once slots per channel where a new
//! device and an old one leave each other one encrypted message. Written once for both
//! backends, like `shared.rs`.
//!
//! A channel lives from its first write until `expires_at` (the first write's time
//! plus the link time-to-live; the second slot inherits it), then reads miss it, a
//! new write replaces it and the purge deletes it. The total size of live slots is
//! capped, so anonymous writers cannot fill the disk. A channel is deleted before its
//! expiry only with the deletion proof its writers gave (SHA-256 of it is stored with
//! each slot), which only the two devices can derive from the linking code.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::Result;
use super::shared::{Backend, Pools};

/// The two slots of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSlot {
    /// Written by the new device.
    Hello,
    /// Written by the old device.
    Grant,
}

impl LinkSlot {
    /// The slot's name in URLs and in the `link_slots.slot` column.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Grant => "grant",
        }
    }

    /// The slot named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hello" => Some(Self::Hello),
            "grant" => Some(Self::Grant),
            _ => None,
        }
    }
}

/// What writing a slot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPut {
    /// Stored.
    Stored,
    /// The slot was written before (write-once).
    Taken,
    /// Live slots already hold the relay's total link quota.
    Full,
}

/// The link channel statements.
#[async_trait]
pub trait LinkRecords: Send + Sync {
    /// Writes `slot` of `channel` once, with SHA-256 of its writer's deletion proof
    /// (`None`: only expiry deletes it). The channel expires `ttl` seconds after its
    /// first write; an expired channel is deleted first (so its slots can be written
    /// again). Refused when the live slots would exceed `max_total_bytes`.
    #[allow(clippy::too_many_arguments)]
    async fn put_link(
        &self,
        channel: &[u8; 16],
        slot: LinkSlot,
        data: &[u8],
        delete_hash: Option<&[u8; 32]>,
        now: i64,
        ttl: i64,
        max_total_bytes: i64,
    ) -> Result<LinkPut>;

    /// The content of a live slot.
    async fn link(&self, channel: &[u8; 16], slot: LinkSlot, now: i64) -> Result<Option<Vec<u8>>>;

    /// Deletes the channel (both slots) if one of its slots was written with the
    /// deletion proof whose SHA-256 is `delete_hash`; `true` if anything was deleted.
    async fn delete_link(&self, channel: &[u8; 16], delete_hash: &[u8; 32]) -> Result<bool>;
}

#[async_trait]
impl<S> LinkRecords for S
where
    S: Pools,
    for<'c> &'c mut <S::DB as Database>::Connection: Executor<'c, Database = S::DB>,
    for<'q> <S::DB as Database>::Arguments<'q>: IntoArguments<'q, S::DB>,
    for<'q> &'q [u8]: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, S::DB> + Type<S::DB>,
    for<'q> &'q str: Encode<'q, S::DB> + Type<S::DB> + ColumnIndex<<S::DB as Database>::Row>,
    for<'q> i64: Encode<'q, S::DB> + Decode<'q, S::DB> + Type<S::DB>,
    for<'q> Vec<u8>: Decode<'q, S::DB> + Type<S::DB>,
{
    async fn put_link(
        &self,
        channel: &[u8; 16],
        slot: LinkSlot,
        data: &[u8],
        delete_hash: Option<&[u8; 32]>,
        now: i64,
        ttl: i64,
        max_total_bytes: i64,
    ) -> Result<LinkPut> {
        let size = super::stored_size(data);
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM link_slots WHERE channel = $1 AND expires_at <= $2")
            .bind(channel.as_slice())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let stored = sqlx::query(
            "INSERT INTO link_slots (channel, slot, data, size, delete_hash, expires_at)
             SELECT $1, $2, $3, $4, $8,
                    COALESCE((SELECT MIN(expires_at) FROM link_slots WHERE channel = $1), $5 + $6)
             WHERE (SELECT COALESCE(SUM(size), 0) FROM link_slots WHERE expires_at > $5) + $4 <= $7
             ON CONFLICT (channel, slot) DO NOTHING",
        )
        .bind(channel.as_slice())
        .bind(slot.name())
        .bind(data)
        .bind(size)
        .bind(now)
        .bind(ttl)
        .bind(max_total_bytes)
        .bind(delete_hash.map(<[u8; 32]>::as_slice))
        .execute(&mut *tx)
        .await?;
        let outcome = if S::DB::rows_affected(&stored) == 1 {
            LinkPut::Stored
        } else {
            let taken =
                sqlx::query("SELECT 1 AS one FROM link_slots WHERE channel = $1 AND slot = $2")
                    .bind(channel.as_slice())
                    .bind(slot.name())
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if taken { LinkPut::Taken } else { LinkPut::Full }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn link(&self, channel: &[u8; 16], slot: LinkSlot, now: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT data FROM link_slots WHERE channel = $1 AND slot = $2 AND expires_at > $3",
        )
        .bind(channel.as_slice())
        .bind(slot.name())
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| r.try_get("data")).transpose()?)
    }

    async fn delete_link(&self, channel: &[u8; 16], delete_hash: &[u8; 32]) -> Result<bool> {
        let r = sqlx::query(
            "DELETE FROM link_slots WHERE channel = $1
             AND EXISTS (SELECT 1 FROM link_slots AS s WHERE s.channel = $1 AND s.delete_hash = $2)",
        )
        .bind(channel.as_slice())
        .bind(delete_hash.as_slice())
            .execute(self.writer())
            .await?;
        Ok(S::DB::rows_affected(&r) > 0)
    }
}
