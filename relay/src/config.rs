//! Command-line flags and environment variables. Every limit the relay enforces is
//! here, with a default that makes `sealpost-relay` with no flags a working server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Sealpost relay: stores and forwards opaque encrypted blobs, holds the public key
/// directory and password-encrypted key backups, and serves the web app.
#[derive(Debug, Clone, Parser)]
#[command(name = "sealpost-relay", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on (use port 0 for any free port).
    #[arg(long, env = "SEALPOST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the embedded SQLite database (created on first run).
    #[arg(long, env = "SEALPOST_DATA_DIR", default_value = "sealpost-data")]
    pub data_dir: PathBuf,

    /// Use this database instead of SQLite in the data directory:
    /// `postgres://user:pass@host/db` (several relays may share it) or `sqlite://path`.
    #[arg(long, env = "SEALPOST_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory holding the built web app. Default: `www/dist` if it exists, else a
    /// placeholder page.
    #[arg(long, env = "SEALPOST_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Largest accepted blob (envelope) in bytes.
    #[arg(long, env = "SEALPOST_MAX_BLOB_BYTES", default_value_t = sealpost_core::padding::MAX_ENVELOPE_LEN)]
    pub max_blob_bytes: usize,

    /// Most blobs waiting in one mailbox.
    #[arg(long, env = "SEALPOST_MAILBOX_MAX_BLOBS", default_value_t = 5000)]
    pub mailbox_max_blobs: u32,

    /// Most bytes waiting in one mailbox.
    #[arg(long, env = "SEALPOST_MAILBOX_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub mailbox_max_bytes: u64,

    /// Seconds an unacknowledged blob is kept before it is purged (default 14 days).
    #[arg(long, env = "SEALPOST_BLOB_TTL_SECS", default_value_t = 14 * 24 * 3600)]
    pub blob_ttl_secs: u64,

    /// Seconds between purges of expired blobs, tokens and nonces.
    #[arg(long, env = "SEALPOST_PURGE_INTERVAL_SECS", default_value_t = 600)]
    pub purge_interval_secs: u64,

    /// Seconds between SQLite checkpoints, which empty the write-ahead log so deleted
    /// blobs leave no copy in it (also done at shutdown).
    #[arg(long, env = "SEALPOST_CHECKPOINT_INTERVAL_SECS", default_value_t = 60)]
    pub checkpoint_interval_secs: u64,

    /// Sustained requests per second from one address (0 = unlimited).
    #[arg(long, env = "SEALPOST_RATE_IP_PER_SEC", default_value_t = 50.0)]
    pub rate_ip_per_sec: f64,

    /// Burst of requests one IP address may make above the sustained rate.
    #[arg(long, env = "SEALPOST_RATE_IP_BURST", default_value_t = 200.0)]
    pub rate_ip_burst: f64,

    /// Sustained deposits per second into one mailbox (0 = unlimited).
    #[arg(long, env = "SEALPOST_RATE_MAILBOX_PER_SEC", default_value_t = 20.0)]
    pub rate_mailbox_per_sec: f64,

    /// Burst of deposits into one mailbox above the sustained rate.
    #[arg(long, env = "SEALPOST_RATE_MAILBOX_BURST", default_value_t = 100.0)]
    pub rate_mailbox_burst: f64,

    /// HTTP requests handled at once; more are refused with 503 (load shedding).
    #[arg(long, env = "SEALPOST_MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    pub max_concurrent_requests: usize,

    /// Open TCP connections (HTTP and WebSocket); more wait to be accepted. Keep it
    /// below the process's file descriptor limit (`ulimit -n`, which must then be at
    /// least about 16,500 for the default).
    #[arg(long, env = "SEALPOST_MAX_CONNECTIONS", default_value_t = 16384)]
    pub max_connections: usize,

    /// Open TCP connections from one address (an IPv4 address or an IPv6 /64); more
    /// are closed at once. Not applied to `--trusted-proxies`.
    #[arg(
        long,
        env = "SEALPOST_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: usize,

    /// Open WebSocket connections from one address (an IPv4 address or an IPv6 /64,
    /// behind a trusted proxy the forwarded one); more are refused with 429.
    #[arg(long, env = "SEALPOST_MAX_WS_PER_ADDRESS", default_value_t = 128)]
    pub max_ws_per_address: usize,

    /// Reverse proxies whose `X-Forwarded-For` header names the client (comma-separated
    /// IP addresses, e.g. `127.0.0.1,::1`). Default: none, every client is its TCP peer.
    #[arg(long, env = "SEALPOST_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Open WebSocket connections in total; more are refused with 503. An idle one
    /// costs about 10 kB (docs/BENCHMARKS.md), so the default is about 160 MB.
    #[arg(long, env = "SEALPOST_MAX_WS_CONNECTIONS", default_value_t = 16000)]
    pub max_ws_connections: usize,

    /// Authenticated WebSocket connections per mailbox (tabs and devices).
    #[arg(long, env = "SEALPOST_MAX_WS_PER_MAILBOX", default_value_t = 16)]
    pub max_ws_per_mailbox: usize,

    /// Seconds a client has to send a request's headers, counted from the connection's
    /// start or from the previous answer on a kept-alive connection; then the
    /// connection is closed.
    #[arg(long, env = "SEALPOST_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a request may take after its headers, body upload included, before 408.
    #[arg(long, env = "SEALPOST_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Seconds a connection may stay silent while the relay waits for it to send (a
    /// stalled body, a WebSocket that answers no ping), or take none of an answer;
    /// then it is closed.
    #[arg(long, env = "SEALPOST_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Seconds a WebSocket client has to answer the challenge.
    #[arg(long, env = "SEALPOST_WS_AUTH_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_auth_timeout_secs: u64,

    /// Largest distance in seconds between a signed request's timestamp and the relay's
    /// clock (also how long its nonce is remembered).
    #[arg(long, env = "SEALPOST_CLOCK_SKEW_SECS", default_value_t = 300)]
    pub clock_skew_secs: u64,

    /// Seconds a bearer token from `POST /v2/mailboxes/{id}/{device}/token` is valid.
    #[arg(long, env = "SEALPOST_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub token_ttl_secs: u64,

    /// Seconds a v2 link channel lives after its first write (default 10 minutes).
    #[arg(long, env = "SEALPOST_LINK_TTL_SECS", default_value_t = 600)]
    pub link_ttl_secs: u64,

    /// Total bytes all live link channels may hold; more writes get 507.
    #[arg(long, env = "SEALPOST_MAX_LINK_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_link_bytes: u64,

    /// Sustained link slot writes per second from one IP address (0 = unlimited).
    #[arg(long, env = "SEALPOST_RATE_LINK_PER_SEC", default_value_t = 0.1)]
    pub rate_link_per_sec: f64,

    /// Burst of link slot writes one IP address may make above the sustained rate.
    #[arg(long, env = "SEALPOST_RATE_LINK_BURST", default_value_t = 10.0)]
    pub rate_link_burst: f64,

    /// Rooms this process holds at once (in memory only); more creations are refused.
    #[arg(long, env = "SEALPOST_MAX_ROOMS", default_value_t = 10_000)]
    pub max_rooms: usize,

    /// Join attempts on one room from one address that may fail (wrong code, or
    /// abandoned or timed out before the host admitted them) before that address is
    /// refused on that nameplate (`room_locked`). Other addresses are not affected, so
    /// a stranger cannot lock a room for its members.
    #[arg(long, env = "SEALPOST_ROOM_MAX_FAILED_JOINS", default_value_t = 10)]
    pub room_max_failed_joins: u32,

    /// Failed joins one room takes from all addresses together before it slows down:
    /// then joins wait (`room_busy`) until `--room-failed-joins-per-hour` gives another.
    #[arg(long, env = "SEALPOST_ROOM_FAILED_JOIN_BURST", default_value_t = 30.0)]
    pub room_failed_join_burst: f64,

    /// Failed joins per hour one room takes, from all addresses together, after its
    /// burst: with an 8-character secret (40 bits) a room open for `t` hours has
    /// faced at most `burst + this * t` guesses (docs/API.md "Rooms").
    #[arg(
        long,
        env = "SEALPOST_ROOM_FAILED_JOINS_PER_HOUR",
        default_value_t = 60.0
    )]
    pub room_failed_joins_per_hour: f64,

    /// Seconds a room may stay without any member sending anything (frames, PAKE
    /// messages) before the relay closes it (`room_idle`); checked every
    /// `--purge-interval-secs`.
    #[arg(long, env = "SEALPOST_ROOM_IDLE_SECS", default_value_t = 3600)]
    pub room_idle_secs: u64,

    /// Seconds a join attempt may take before the host admits it.
    #[arg(long, env = "SEALPOST_ROOM_JOIN_TIMEOUT_SECS", default_value_t = 60)]
    pub room_join_timeout_secs: u64,

    /// Sustained room creations and joins per second from one IP address (0 = unlimited).
    #[arg(long, env = "SEALPOST_RATE_ROOM_PER_SEC", default_value_t = 0.2)]
    pub rate_room_per_sec: f64,

    /// Burst of room creations and joins one IP address may make above the sustained rate.
    #[arg(long, env = "SEALPOST_RATE_ROOM_BURST", default_value_t = 20.0)]
    pub rate_room_burst: f64,

    /// Largest key backup blob in bytes (`PUT /v2/users/{id}/backup`, without the
    /// 32-byte token in front); larger ones get 413.
    #[arg(long, env = "SEALPOST_MAX_BACKUP_V2_BYTES", default_value_t = 256 * 1024)]
    pub max_backup_v2_bytes: usize,

    /// Backup fetch attempts per user id from one address per window before 429 (then
    /// one more every window / this many).
    #[arg(long, env = "SEALPOST_BACKUP_MAX_ATTEMPTS", default_value_t = 5)]
    pub backup_max_attempts: u32,

    /// Backup fetch attempts per user id from all addresses together per window before
    /// 429: what guessing from many addresses can try, and what it takes (this divided
    /// by `--backup-max-attempts` addresses) to keep the owner from restoring for a
    /// window.
    #[arg(
        long,
        env = "SEALPOST_BACKUP_MAX_ATTEMPTS_PER_ID",
        default_value_t = 50
    )]
    pub backup_max_attempts_per_id: u32,

    /// Length of the backup attempt window in seconds.
    #[arg(long, env = "SEALPOST_BACKUP_WINDOW_SECS", default_value_t = 900)]
    pub backup_window_secs: u64,

    /// Largest file (attachment) clients should send, in bytes (default 100 MiB; at most
    /// 2^30, the protocol's largest file). The relay never sees files: an upload token's
    /// quota is one file of this size with its padding.
    #[arg(long, env = "SEALPOST_MAX_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_file_bytes: u64,

    /// Seconds a chunk is kept after its upload (default 14 days).
    #[arg(long, env = "SEALPOST_CHUNK_TTL_SECS", default_value_t = 14 * 24 * 3600)]
    pub chunk_ttl_secs: u64,

    /// Seconds an expired chunk's address is remembered, so downloads say `410
    /// chunk_expired` rather than `404` (default 90 days).
    #[arg(long, env = "SEALPOST_CHUNK_TOMBSTONE_SECS", default_value_t = 90 * 24 * 3600)]
    pub chunk_tombstone_secs: u64,

    /// Total bytes of stored chunks; more uploads get 507.
    #[arg(long, env = "SEALPOST_MAX_CHUNK_STORE_BYTES", default_value_t = 16 << 30)]
    pub max_chunk_store_bytes: u64,

    /// Seconds an upload token from `POST /v2/uploads` is valid (default 1 day).
    #[arg(long, env = "SEALPOST_UPLOAD_TOKEN_TTL_SECS", default_value_t = 24 * 3600)]
    pub upload_token_ttl_secs: u64,

    /// Sustained upload tokens per second to one address (0 = unlimited).
    #[arg(long, env = "SEALPOST_RATE_UPLOAD_PER_SEC", default_value_t = 0.05)]
    pub rate_upload_per_sec: f64,

    /// Burst of upload tokens one address may get above the sustained rate.
    #[arg(long, env = "SEALPOST_RATE_UPLOAD_BURST", default_value_t = 20.0)]
    pub rate_upload_burst: f64,

    /// Seconds one chunk upload may take after its headers (instead of
    /// `--request-timeout-secs`: 4 MiB over a slow uplink).
    #[arg(
        long,
        env = "SEALPOST_CHUNK_UPLOAD_TIMEOUT_SECS",
        default_value_t = 300
    )]
    pub chunk_upload_timeout_secs: u64,

    /// STUN servers handed to clients for calls and direct channels (comma-separated,
    /// e.g. `stun:turn.example.org:3478`). Default: none (enough on one network).
    #[arg(long, env = "SEALPOST_STUN_URL", value_delimiter = ',')]
    pub stun_url: Vec<String>,

    /// TURN servers (comma-separated, e.g.
    /// `turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349`), used
    /// with `--turn-secret` (docs/TURN.md).
    #[arg(long, env = "SEALPOST_TURN_URL", value_delimiter = ',')]
    pub turn_url: Vec<String>,

    /// The secret shared with coturn (its `static-auth-secret`): the relay hands out
    /// short-lived TURN credentials made with it. Prefer the environment variable (a
    /// flag shows in `ps`); it is never logged.
    #[arg(long, env = "SEALPOST_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<crate::routes::turn::TurnSecret>,

    /// Seconds a TURN credential is valid (coturn refuses it afterwards).
    #[arg(long, env = "SEALPOST_TURN_TTL_SECS", default_value_t = 3600)]
    pub turn_ttl_secs: u64,

    /// Log filter (tracing `EnvFilter` syntax). The default level logs no IP
    /// addresses, user ids or sizes.
    #[arg(long, env = "SEALPOST_LOG", default_value = "info")]
    pub log: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_hold_ten_thousand_websockets_beside_http() {
        let c = Config::try_parse_from(["sealpost-relay"]).unwrap();
        assert!(c.max_ws_connections >= 10_000);
        assert!(
            c.max_connections > c.max_ws_connections,
            "room left for HTTP"
        );
    }
}
