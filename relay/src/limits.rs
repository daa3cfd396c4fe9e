//! Limits that protect the relay and its users: sizes, quotas, rates, connections.
//!
//! Rate limits are token buckets kept in memory only (never written anywhere), per relay
//! process: behind N processes the effective limit is N times the configured one.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use sealpost_core::v2::MAX_DEVICES;
use sealpost_core::v2::attachment;
use sealpost_core::v2::group::MAX_MEMBERS;

use crate::AppState;
use crate::address::ClientSource;
use crate::config::Config;
use crate::error::ApiError;
use crate::store::Quota;

/// Largest body of any endpoint except deposits, link slots and backups: device lists
/// and bundles (a few KiB) and acknowledgement lists.
pub const SMALL_BODY_LIMIT: usize = 64 * 1024;

/// Largest `hello` link slot: a device id, a name and an encryption key, encrypted.
pub const MAX_LINK_HELLO: usize = 8 * 1024;

/// Largest `grant` link slot: the identity key, the account state and perhaps some
/// history, encrypted.
pub const MAX_LINK_GRANT: usize = 1024 * 1024;

/// Longest `?wait=` of a link slot read, in seconds (below the request timeout).
pub const MAX_LINK_WAIT_SECS: u64 = 25;

/// Most link slot reads waiting at once; more are answered at once (no waiting).
pub const MAX_LINK_WAITERS: usize = 256;

/// How far (seconds) a device list's version may be ahead of the relay's clock. Clients
/// sign with `max(now, previous + 1)`: a day covers clock skew and bursts of updates.
pub const MAX_LIST_VERSION_AHEAD_SECS: i64 = 24 * 3600;

/// Most blob ids in one acknowledgement.
pub const MAX_ACK_IDS: usize = 1000;

/// Most mailboxes of one multi-recipient deposit: every device of a full group
/// (1,000 members of 8 devices each).
pub const MAX_FANOUT: usize = MAX_MEMBERS * MAX_DEVICES;

/// Most bytes one multi-recipient deposit may store in all (recipients × blob length):
/// what one request can make the relay write is bounded whatever it names. A group
/// message of the 8 KiB bucket reaches 8,000 devices.
pub const MAX_FANOUT_BYTES: usize = 64 * 1024 * 1024;

/// Recipients of a multi-recipient deposit that cost one token of the per-address rate
/// limit (the request's own token included): storing one blob in many mailboxes is
/// many writes, so a flood of fan-outs is throttled like a flood of deposits, only
/// 50 times more leniently.
pub const FANOUT_RECIPIENTS_PER_TOKEN: usize = 50;

/// Blobs returned by one listing (and pushed per database read).
pub const PAGE: i64 = 100;

/// Bytes of blobs read into memory at once for a listing or a push: a page ends with
/// the first blob that reaches this.
pub const PAGE_BYTES: i64 = 4 * 1024 * 1024;

/// The runtime limits, resolved from [`Config`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest blob.
    pub max_blob_bytes: usize,
    /// Per-mailbox quota.
    pub quota: Quota,
    /// Blob time-to-live in seconds.
    pub blob_ttl_secs: i64,
    /// Allowed distance between a signed request's timestamp and the clock.
    pub clock_skew_secs: i64,
    /// Bearer token lifetime.
    pub token_ttl_secs: i64,
    /// Largest v2 backup blob.
    pub max_backup_v2_bytes: usize,
    /// Backup fetch attempts per id and address per window.
    pub backup_max_attempts: i64,
    /// Backup fetch attempts per id from all addresses per window.
    pub backup_max_attempts_per_id: i64,
    /// Backup attempt window in seconds.
    pub backup_window_secs: i64,
    /// Authenticated WebSocket connections per mailbox.
    pub max_ws_per_mailbox: usize,
    /// Time to answer the WebSocket challenge.
    pub ws_auth_timeout: Duration,
    /// Link channel time-to-live in seconds.
    pub link_ttl_secs: i64,
    /// Total bytes of live link slots.
    pub max_link_bytes: i64,
    /// Longest wait of a link slot read.
    pub max_link_wait: Duration,
    /// Largest file clients should send (`GET /v2/limits`).
    pub max_file_bytes: u64,
    /// New chunk bytes one upload token may store: a file of `max_file_bytes` padded.
    pub upload_quota_bytes: i64,
    /// Upload token lifetime in seconds.
    pub upload_token_ttl_secs: i64,
    /// Chunk time-to-live in seconds.
    pub chunk_ttl_secs: i64,
    /// How long an expired chunk's address is remembered, in seconds.
    pub chunk_tombstone_secs: i64,
    /// Total bytes of stored chunks.
    pub max_chunk_store_bytes: i64,
    /// Time for one chunk upload after its headers.
    pub chunk_upload_timeout: Duration,
    /// Seconds a room join may take before its admission.
    pub room_join_timeout_secs: u64,
    /// How long a room may go without a message from any member.
    pub room_idle: Duration,
}

impl Limits {
    /// Resolves the configured limits.
    pub fn new(c: &Config) -> Self {
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        Self {
            max_blob_bytes: c.max_blob_bytes,
            quota: Quota {
                max_blobs: i64::from(c.mailbox_max_blobs),
                max_bytes: i64::try_from(c.mailbox_max_bytes).unwrap_or(i64::MAX),
            },
            blob_ttl_secs: secs(c.blob_ttl_secs),
            clock_skew_secs: secs(c.clock_skew_secs),
            token_ttl_secs: secs(c.token_ttl_secs),
            max_backup_v2_bytes: c.max_backup_v2_bytes,
            backup_max_attempts: i64::from(c.backup_max_attempts),
            backup_max_attempts_per_id: i64::from(c.backup_max_attempts_per_id),
            backup_window_secs: secs(c.backup_window_secs),
            max_ws_per_mailbox: c.max_ws_per_mailbox,
            ws_auth_timeout: Duration::from_secs(c.ws_auth_timeout_secs),
            link_ttl_secs: secs(c.link_ttl_secs),
            max_link_bytes: i64::try_from(c.max_link_bytes).unwrap_or(i64::MAX),
            // Answered before the request timeout cuts the request off.
            max_link_wait: Duration::from_secs(
                MAX_LINK_WAIT_SECS.min(c.request_timeout_secs.saturating_sub(2)),
            ),
            max_file_bytes: c.max_file_bytes.min(attachment::MAX_FILE_LEN),
            upload_quota_bytes: upload_quota(c.max_file_bytes),
            upload_token_ttl_secs: secs(c.upload_token_ttl_secs),
            chunk_ttl_secs: secs(c.chunk_ttl_secs),
            chunk_tombstone_secs: secs(c.chunk_tombstone_secs),
            max_chunk_store_bytes: i64::try_from(c.max_chunk_store_bytes).unwrap_or(i64::MAX),
            chunk_upload_timeout: Duration::from_secs(c.chunk_upload_timeout_secs),
            room_join_timeout_secs: c.room_join_timeout_secs,
            room_idle: Duration::from_secs(c.room_idle_secs.max(1)),
        }
    }
}

/// Chunk uploads in progress at once per relay process; more get `503`. A chunk being
/// received is on disk (SQLite) or in memory (PostgreSQL, at most one chunk: 4 MiB), so
/// this bounds that memory to 256 MiB.
pub const MAX_CHUNK_UPLOADS: usize = 64;

/// The quota of one upload token: what a file of `max_file_bytes` takes on the relay,
/// chunk padding included (docs/PROTOCOL.md 26.2).
fn upload_quota(max_file_bytes: u64) -> i64 {
    let size = max_file_bytes.min(attachment::MAX_FILE_LEN);
    attachment::Layout::for_size(size)
        .map_or(0, |l| i64::try_from(l.stored_len()).unwrap_or(i64::MAX))
}

/// A token-bucket rate limiter keyed by `K`. A rate of 0 disables it.
#[derive(Debug)]
pub struct RateLimiter<K> {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// Tokens that refill at a steady rate up to a burst: the one refill rule of the rate
/// limits and of a room's guess budget (room_guesses.rs).
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    /// Tokens available at `last`.
    pub tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens.
    pub fn full(burst: f64) -> Self {
        Self {
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Brings `tokens` up to date: `per_sec` gained since the last time, at most `burst`.
    pub fn refill(&mut self, per_sec: f64, burst: f64) {
        let now = Instant::now();
        let gained = now.duration_since(self.last).as_secs_f64() * per_sec;
        self.tokens = (self.tokens + gained).min(burst);
        self.last = now;
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// `per_sec` sustained, `burst` on top of that (at least 1).
    pub fn new(per_sec: f64, burst: f64) -> Self {
        Self {
            per_sec: per_sec.max(0.0),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `false` if there is none.
    pub fn allow(&self, key: K) -> bool {
        self.allow_n(key, 1.0)
    }

    /// Takes `n` tokens for `key` (a request that costs as much as `n` ordinary ones);
    /// `false`, taking none, if there are fewer.
    pub fn allow_n(&self, key: K, n: f64) -> bool {
        if self.per_sec == 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.burst));
        b.refill(self.per_sec, self.burst);
        if b.tokens >= n {
            b.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Gives `key` a full bucket again: for a limit on failures, once the caller has
    /// shown it is no guesser (the backup route, after a right token).
    pub fn forget(&self, key: &K) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.remove(key);
    }

    /// Forgets buckets that have refilled completely (they behave like new ones), so
    /// memory stays proportional to recent activity.
    pub fn sweep(&self) {
        if self.per_sec == 0.0 {
            return;
        }
        let full_after = Duration::from_secs_f64(self.burst / self.per_sec);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.retain(|_, b| now.duration_since(b.last) < full_after);
    }
}

/// Per-address rate limit on every request except health checks and metrics. Requests
/// that did not come through a socket (in-process tests) have no address and are not
/// limited.
pub async fn per_ip(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let exempt = path == "/healthz" || path == "/metrics";
    if let (false, Some(source)) = (exempt, source)
        && !state.ip_limiter.allow(source)
    {
        state.metrics.rate_limited.inc();
        return ip_rate_limited().into_response();
    }
    next.run(req).await
}

/// `429 rate_limited` for an address over `--rate-ip-*` (per request, or per frame on
/// the deposit socket).
pub fn ip_rate_limited() -> ApiError {
    ApiError::rate_limited("too many requests from this address, slow down")
}

/// The request timeout: `--request-timeout-secs`, or `--chunk-upload-timeout-secs` for a
/// chunk upload (its body is up to 4 MiB); `408` with an empty body when it runs out.
/// Streamed answers (chunk downloads) are not cut by it: only producing the answer's
/// headers is timed, and `--idle-timeout-secs` closes a reader that stalls.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let chunk_upload =
        req.method() == axum::http::Method::PUT && req.uri().path().starts_with("/v2/chunks/");
    let limit = if chunk_upload {
        state.limits.chunk_upload_timeout
    } else {
        state.request_timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let l = RateLimiter::new(0.001, 3.0);
        assert!((0..3).all(|_| l.allow(1u8)));
        assert!(!l.allow(1u8));
        assert!(l.allow(2u8));
        let off = RateLimiter::new(0.0, 1.0);
        assert!((0..100).all(|_| off.allow(1u8)));
    }
}
