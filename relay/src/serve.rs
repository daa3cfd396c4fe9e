//! The HTTP/1.1 server loop: accepts connections within the listener's caps and serves
//! each with hyper, with a timeout on reading a request's headers (a slowloris client
//! sending a header line now and then is closed when it runs out) and graceful
//! shutdown.
//!
//! It replaces `axum::serve`, which gives hyper no timer, so hyper's header timeout never
//! ran. HTTP/2 is not served: browsers use it only over TLS, which a reverse proxy in
//! front of the relay terminates.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use crate::listener::{LimitedListener, PeerAddr};
use crate::metrics::Metrics;

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets
/// every connection finish the request in progress and waits for them. (Upgraded
/// WebSocket connections are no longer HTTP; they close on the state's shutdown
/// signal.)
pub async fn serve(
    listener: LimitedListener,
    app: Router,
    metrics: &Metrics,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender: `recv` ends once they all have.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            conn = listener.accept(metrics) => conn,
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(PeerAddr(addr)));
                req
            });
        let mut stop = stop_rx.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(alive);
        });
    }
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
}
