//! The Sealpost relay: a thin, trustless server that stores and forwards opaque
//! encrypted blobs, holds the public key directory and password-encrypted key backups,
//! pushes new blobs over WebSocket and serves the web app. See docs/API.md.
//!
//! [`app`] builds the router from an [`AppState`]; [`run`] is the whole server (store,
//! background purge, cross-process notifications, graceful shutdown) used by the
//! binary and by the tests.

#![forbid(unsafe_code)]

pub mod address;
pub mod auth;
pub mod chunk_locks;
pub mod config;
pub mod error;
mod headers;
pub mod identities;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod push;
pub mod room_guesses;
pub mod rooms;
pub mod routes;
mod serve;
mod static_files;
pub mod store;

use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, delete, get, post, put};
use axum::{BoxError, Router, middleware};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sealpost_core::rand_core::Rng;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceBuilder;

pub use config::Config;

use crate::address::SourceSlots;
use crate::error::ApiError;
use crate::limits::{Limits, RateLimiter, SMALL_BODY_LIMIT};
use crate::listener::LimitedListener;
use crate::metrics::Metrics;
use crate::push::Hub;
use crate::store::{Mailbox, PurgeBefore, Store};

/// Base64url; emitted without padding, accepted with or without.
pub const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Everything the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The shared state behind [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// Persistent state.
    pub store: Arc<dyn Store>,
    /// Wakes WebSocket connections.
    pub hub: Arc<Hub>,
    /// Configured limits.
    pub limits: Limits,
    /// Aggregate counters.
    pub metrics: Metrics,
    /// Per-address request rate.
    pub ip_limiter: RateLimiter<address::Source>,
    /// Per-mailbox deposit rate.
    pub mailbox_limiter: RateLimiter<Mailbox>,
    /// Backup fetch attempts per (id, address): `backup_max_attempts` per window.
    pub backup_limiter: RateLimiter<(sealpost_core::UserId, address::Source)>,
    /// Per-address link slot write rate.
    pub link_limiter: RateLimiter<address::Source>,
    /// Per-address upload token rate.
    pub upload_limiter: RateLimiter<address::Source>,
    /// Per-address rate of room creations and joins.
    pub room_limiter: RateLimiter<address::Source>,
    /// The rooms, in memory only.
    pub rooms: Arc<rooms::Rooms>,
    /// Chunk uploads in progress (`limits::MAX_CHUNK_UPLOADS`).
    pub chunk_uploads: Arc<Semaphore>,
    /// Chunk addresses being uploaded.
    pub chunk_locks: Arc<chunk_locks::ChunkLocks>,
    /// Wakes link slot reads waiting for a write (by channel).
    pub link_hub: Arc<Hub<[u8; 16], ()>>,
    /// Link slot reads waiting at once.
    pub link_waiters: Arc<Semaphore>,
    /// Open WebSocket connections.
    pub ws_slots: Arc<Semaphore>,
    /// Open WebSocket connections per client address.
    pub ws_per_source: SourceSlots,
    /// Device lists whose signature was verified, by content.
    pub verified_lists: identities::VerifiedLists,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see `address.rs`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Flips to `true` when the relay shuts down (WebSocket sessions close).
    pub shutdown: watch::Receiver<bool>,
    /// STUN/TURN servers for calls and direct channels (`routes/turn.rs`).
    pub turn: routes::turn::Turn,
    static_dir: Option<PathBuf>,
    request_timeout: Duration,
    max_concurrent_requests: usize,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State over an opened store; `shutdown` closes WebSocket sessions when it changes.
    pub fn new(store: Arc<dyn Store>, config: &Config, shutdown: watch::Receiver<bool>) -> Self {
        let static_dir = config.static_dir.clone().or_else(|| {
            let default = PathBuf::from("www/dist");
            default.is_dir().then_some(default)
        });
        Self(Arc::new(Shared {
            store,
            hub: Arc::new(Hub::default()),
            limits: Limits::new(config),
            metrics: Metrics::default(),
            ip_limiter: RateLimiter::new(config.rate_ip_per_sec, config.rate_ip_burst),
            mailbox_limiter: RateLimiter::new(
                config.rate_mailbox_per_sec,
                config.rate_mailbox_burst,
            ),
            link_limiter: RateLimiter::new(config.rate_link_per_sec, config.rate_link_burst),
            upload_limiter: RateLimiter::new(config.rate_upload_per_sec, config.rate_upload_burst),
            room_limiter: RateLimiter::new(config.rate_room_per_sec, config.rate_room_burst),
            rooms: Arc::new(rooms::Rooms::new(
                config.max_rooms,
                room_guesses::GuessLimits::new(
                    config.room_max_failed_joins,
                    config.room_failed_join_burst,
                    config.room_failed_joins_per_hour,
                ),
            )),
            chunk_uploads: Arc::new(Semaphore::new(limits::MAX_CHUNK_UPLOADS)),
            chunk_locks: Arc::default(),
            backup_limiter: RateLimiter::new(
                f64::from(config.backup_max_attempts) / config.backup_window_secs.max(1) as f64,
                f64::from(config.backup_max_attempts),
            ),
            link_hub: Arc::new(Hub::default()),
            link_waiters: Arc::new(Semaphore::new(limits::MAX_LINK_WAITERS)),
            ws_slots: Arc::new(Semaphore::new(config.max_ws_connections)),
            ws_per_source: SourceSlots::new(config.max_ws_per_address),
            verified_lists: identities::VerifiedLists::default(),
            trusted_proxies: config.trusted_proxies.clone(),
            shutdown,
            turn: routes::turn::Turn::new(config),
            static_dir,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            max_concurrent_requests: config.max_concurrent_requests.max(1),
        }))
    }
}

/// The relay's router.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/v1/{*rest}", any(routes::gone))
        .merge(v2_routes(&state))
        .route("/v2/{*rest}", any(routes::not_found));
    let with_static = match &state.static_dir {
        Some(dir) => static_files::serve(api, dir),
        None => api
            .route("/", get(routes::placeholder))
            .fallback(routes::not_found),
    };
    let shed_state = state.clone();
    with_static
        .layer(middleware::from_fn(headers::security_headers))
        .layer(DefaultBodyLimit::max(SMALL_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::per_ip,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            address::client_source,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::timeout,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |_: BoxError| {
                    shed_state.metrics.shed.inc();
                    std::future::ready(ApiError::unavailable(
                        "the relay is overloaded, retry later",
                    ))
                }))
                .load_shed()
                .concurrency_limit(state.max_concurrent_requests),
        )
        .with_state(state)
}

/// Protocol v2 (docs/PROTOCOL.md): the device directory, per-device mailboxes, key
/// backups, link channels, attachment chunks and rooms.
fn v2_routes(state: &AppState) -> Router<AppState> {
    use routes::{backup, chunks, deposit_socket, devices, fanout, links, mailbox, rooms, turn};
    let blob_limit = DefaultBodyLimit::max(state.limits.max_blob_bytes);
    // The token in front of the blob; the handler checks the blob's own size.
    let backup_limit = DefaultBodyLimit::max(state.limits.max_backup_v2_bytes.saturating_add(32));
    Router::new()
        .route(
            "/v2/users/{id}/devices",
            put(devices::put_list).get(devices::get_list),
        )
        .route("/v2/users/{id}/devices/status", get(devices::status))
        .route(
            "/v2/users/{id}/devices/{device}/bundle",
            put(devices::put_bundle).get(devices::get_bundle),
        )
        .route("/v2/users/{id}/bundles", get(devices::bundles))
        .route(
            "/v2/users/{id}/backup",
            put(backup::put).layer(backup_limit),
        )
        .route("/v2/users/{id}/backup/params", get(backup::params))
        .route("/v2/users/{id}/backup/fetch", post(backup::fetch))
        .route(
            "/v2/mailboxes",
            post(fanout::deposit_many).layer(DefaultBodyLimit::max(fanout::body_limit(
                state.limits.max_blob_bytes,
            ))),
        )
        .route(
            "/v2/mailboxes/{id}/{device}",
            post(mailbox::deposit).layer(blob_limit),
        )
        .route("/v2/deposits", get(deposit_socket::ws))
        .route("/v2/mailboxes/{id}/{device}/token", post(mailbox::token))
        .route("/v2/mailboxes/{id}/{device}/blobs", get(mailbox::list))
        .route(
            "/v2/mailboxes/{id}/{device}/blobs/{blob_id}",
            delete(mailbox::delete),
        )
        .route("/v2/mailboxes/{id}/{device}/ack", post(mailbox::ack))
        .route("/v2/mailboxes/{id}/{device}/ws", get(push::ws))
        .route("/v2/mailboxes/{id}/{device}/turn", get(turn::ice_servers))
        .route(
            "/v2/links/{channel}/{slot}",
            put(links::put)
                .layer(DefaultBodyLimit::max(limits::MAX_LINK_GRANT))
                .get(links::get),
        )
        .route("/v2/links/{channel}", delete(links::delete))
        .route("/v2/rooms/ws", get(rooms::create))
        .route("/v2/rooms/{nameplate}/ws", get(rooms::join))
        .route("/v2/limits", get(chunks::limits))
        .route("/v2/uploads", post(chunks::new_upload))
        // The handlers stream the body and check its length themselves.
        .route("/v2/chunks/{address}", put(chunks::put).get(chunks::get))
        .route_layer(middleware::from_fn(error::strict_path))
}

/// Runs the relay on `listener` until `shutdown` resolves, then stops accepting,
/// closes WebSocket sessions and waits for requests in flight.
pub async fn run(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let store = store::open(config).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState::new(store, config, stop_rx.clone());
    state
        .store
        .spawn_listener(Arc::clone(&state.hub), stop_rx.clone());
    tokio::spawn(purge_loop(
        state.clone(),
        Duration::from_secs(config.purge_interval_secs.max(1)),
        stop_rx.clone(),
    ));
    tokio::spawn(checkpoint_loop(
        Arc::clone(&state.store),
        Duration::from_secs(config.checkpoint_interval_secs.max(1)),
        stop_rx,
    ));
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let listener = LimitedListener::new(
        listener,
        config.max_connections,
        config.max_connections_per_address,
        config.trusted_proxies.clone(),
        Duration::from_secs(config.idle_timeout_secs.max(1)),
    );
    let header_timeout = Duration::from_secs(config.header_timeout_secs.max(1));
    serve::serve(
        listener,
        app(state.clone()),
        &state.metrics,
        header_timeout,
        async move {
            shutdown.await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        },
    )
    .await;
    // What was deleted up to now leaves no copy in the write-ahead log either.
    state.store.checkpoint().await?;
    Ok(())
}

/// Runs [`Store::checkpoint`] every `interval` until `stop` changes.
async fn checkpoint_loop(
    store: Arc<dyn Store>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.reset();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = store.checkpoint().await {
            tracing::error!(error = %e, "checkpoint failed");
        }
    }
}

/// Deletes expired blobs, tokens, nonces, attempt windows, link channels, chunks and
/// upload tokens, idle rate-limit buckets and idle rooms, every `interval` (the first time at
/// start-up).
async fn purge_loop(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = now();
        let before = PurgeBefore {
            blobs: now - state.limits.blob_ttl_secs,
            now,
            attempt_windows: now - state.limits.backup_window_secs,
        };
        match state.store.purge(before).await {
            Ok(n) => {
                state.metrics.purged.add(n);
                if n > 0 {
                    tracing::info!("purged {n} expired blobs");
                }
            }
            Err(e) => tracing::error!(error = %e, "purge failed"),
        }
        let tombstones_until =
            store::coarse_time_up(now.saturating_add(state.limits.chunk_tombstone_secs));
        loop {
            match state.store.purge_chunks(now, tombstones_until).await {
                Ok(n) => {
                    state.metrics.chunks_purged.add(n);
                    if n < store::CHUNK_PURGE_BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "chunk purge failed");
                    break;
                }
            }
        }
        state.upload_limiter.sweep();
        state.ip_limiter.sweep();
        state.mailbox_limiter.sweep();
        state.link_limiter.sweep();
        state.room_limiter.sweep();
        let idle = state.rooms.close_idle(state.limits.room_idle);
        if idle > 0 {
            tracing::info!("closed {idle} idle rooms");
        }
        state.backup_limiter.sweep();
    }
}

/// Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Fresh random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    sealpost_core::os_rng().fill_bytes(&mut out);
    out
}
