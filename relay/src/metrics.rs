//! Prometheus metrics: process-wide aggregate counters only, never labelled by user,
//! mailbox or address, so `/metrics` can be public.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every metric the relay exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Blobs stored.
    pub deposits: Counter,
    /// Deposits refused (size, format, quota, rate, unknown mailbox).
    pub deposits_refused: Counter,
    /// Blobs sent over WebSocket connections.
    pub pushed: Counter,
    /// Blobs deleted by their owner.
    pub acked: Counter,
    /// Blobs deleted at the end of their time-to-live.
    pub purged: Counter,
    /// v2 device lists registered.
    pub device_lists: Counter,
    /// v2 device lists replaced.
    pub device_list_updates: Counter,
    /// v2 devices removed from a list (their mailboxes deleted).
    pub devices_revoked: Counter,
    /// v2 device bundles stored.
    pub device_bundles: Counter,
    /// v2 link slots written.
    pub links_written: Counter,
    /// v2 link slot writes refused (taken, size, quota, rate).
    pub links_refused: Counter,
    /// Owner authentications refused.
    pub auth_failures: Counter,
    /// Backups handed out.
    pub backup_fetches: Counter,
    /// Backup fetches refused (wrong token or attempt limit).
    pub backup_fetches_refused: Counter,
    /// Requests refused by a rate limit.
    pub rate_limited: Counter,
    /// Requests refused by load shedding or connection limits.
    pub shed: Counter,
    /// Connections closed at once: their address already held its share.
    pub connections_refused: Counter,
    /// Upload tokens handed out.
    pub upload_tokens: Counter,
    /// Chunks stored (`201`).
    pub chunks_stored: Counter,
    /// Chunk uploads of chunks already stored (`200`).
    pub chunks_present: Counter,
    /// Chunk uploads refused (address, token, length, quota, hash, room).
    pub chunks_refused: Counter,
    /// Chunk downloads started (`GET`, whole or a range).
    pub chunks_served: Counter,
    /// Chunks deleted at the end of their time-to-live.
    pub chunks_purged: Counter,
    /// WebSocket connections open now.
    pub ws_connections: Gauge,
    pub rooms_created: Counter,
    pub room_joins_refused: Counter,
}

impl Metrics {
    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let counters: [(&str, &str, &Counter); 25] = [
            ("rooms_created", "Rooms created.", &self.rooms_created),
            (
                "room_joins_refused",
                "Room joins refused (no room, locked, full, rate, wrong code).",
                &self.room_joins_refused,
            ),
            ("deposits", "Blobs stored.", &self.deposits),
            (
                "deposits_refused",
                "Deposits refused.",
                &self.deposits_refused,
            ),
            (
                "pushed",
                "Blobs sent over WebSocket connections.",
                &self.pushed,
            ),
            ("acked", "Blobs deleted by their owner.", &self.acked),
            (
                "purged",
                "Blobs deleted after their time-to-live.",
                &self.purged,
            ),
            (
                "device_lists",
                "Device lists registered.",
                &self.device_lists,
            ),
            (
                "device_list_updates",
                "Device lists replaced.",
                &self.device_list_updates,
            ),
            (
                "devices_revoked",
                "Devices removed from a device list.",
                &self.devices_revoked,
            ),
            (
                "device_bundles",
                "Device bundles stored.",
                &self.device_bundles,
            ),
            ("links_written", "Link slots written.", &self.links_written),
            (
                "links_refused",
                "Link slot writes refused.",
                &self.links_refused,
            ),
            (
                "auth_failures",
                "Owner authentications refused.",
                &self.auth_failures,
            ),
            (
                "backup_fetches",
                "Key backups handed out.",
                &self.backup_fetches,
            ),
            (
                "backup_fetches_refused",
                "Key backup fetches refused.",
                &self.backup_fetches_refused,
            ),
            (
                "rate_limited",
                "Requests refused by a rate limit.",
                &self.rate_limited,
            ),
            (
                "connections_refused",
                "Connections closed at once because their address held its share.",
                &self.connections_refused,
            ),
            (
                "shed",
                "Requests refused by load shedding or connection limits.",
                &self.shed,
            ),
            (
                "upload_tokens",
                "Upload tokens handed out.",
                &self.upload_tokens,
            ),
            ("chunks_stored", "Chunks stored.", &self.chunks_stored),
            (
                "chunks_present",
                "Chunk uploads of chunks already stored.",
                &self.chunks_present,
            ),
            (
                "chunks_refused",
                "Chunk uploads refused.",
                &self.chunks_refused,
            ),
            (
                "chunks_served",
                "Chunk downloads started.",
                &self.chunks_served,
            ),
            (
                "chunks_purged",
                "Chunks deleted after their time-to-live.",
                &self.chunks_purged,
            ),
        ];
        let mut out = String::with_capacity(2048);
        for (name, help, c) in counters {
            let _ = writeln!(out, "# HELP sealpost_{name}_total {help}");
            let _ = writeln!(out, "# TYPE sealpost_{name}_total counter");
            let _ = writeln!(out, "sealpost_{name}_total {}", c.get());
        }
        let _ = writeln!(
            out,
            "# HELP sealpost_ws_connections WebSocket connections open now."
        );
        let _ = writeln!(out, "# TYPE sealpost_ws_connections gauge");
        let _ = writeln!(out, "sealpost_ws_connections {}", self.ws_connections.get());
        out
    }

    /// [`render`](Self::render) with the room table's gauges (it lives in memory, not
    /// in these counters).
    pub fn render_with_rooms(&self, rooms: usize, members: usize) -> String {
        let mut out = self.render();
        for (name, help, v) in [
            ("rooms_open", "Rooms open now (in memory only).", rooms),
            (
                "room_members",
                "Room members and joins in progress now.",
                members,
            ),
        ] {
            let _ = writeln!(out, "# HELP sealpost_{name} {help}");
            let _ = writeln!(out, "# TYPE sealpost_{name} gauge");
            let _ = writeln!(out, "sealpost_{name} {v}");
        }
        out
    }
}
