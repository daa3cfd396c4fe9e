//! What the load generator measures, each run as a child process (this same program
//! with `--serve`), so its CPU time and memory are its own: the relay, and the two
//! baselines without storage.
//!
//! - `null`: a do-nothing axum POST handler (reads the body, answers `201` with a small
//!   JSON body). What HTTP alone costs on this machine.
//! - `push`: axum, the relay's in-memory hand-off ([`Hub`]) to WebSocket subscribers,
//!   the `blob` frame (JSON with base64, the relay's own encoder) and the subscribers'
//!   JSON acknowledgements, with the relay's WebSocket buffer settings, but no storage:
//!   the message path of the relay minus SQLite.
//! - `relay`: the relay itself ([`sealpost_relay::run`]) with the flags it is given.

use std::io::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::{Parser as _, ValueEnum};
use sealpost_relay::push::{Hub, Pushed, Wake, blob_frame};
use serde_json::Value;

/// The server a child process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Serve {
    /// The relay.
    Relay,
    /// Do-nothing POST handler.
    Null,
    /// In-memory push, no storage.
    Push,
}

/// Runs `mode` on a free loopback port; prints the address on the first line of
/// standard output, then serves until killed.
pub async fn serve(mode: Serve, relay_args: &[String]) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    match mode {
        Serve::Relay => {
            let args =
                std::iter::once("sealpost-relay".to_string()).chain(relay_args.iter().cloned());
            let config = sealpost_relay::Config::try_parse_from(args).unwrap();
            sealpost_relay::run(&config, listener, std::future::pending())
                .await
                .unwrap();
        }
        Serve::Null => {
            let app = Router::new().route("/null/{i}", post(null));
            axum::serve(listener, app).await.unwrap();
        }
        Serve::Push => {
            let hub: Arc<Hub<usize>> = Arc::new(Hub::default());
            let app = Router::new()
                .route("/push/{i}", post(deposit))
                .route("/push/{i}/ws", get(ws))
                .with_state(hub);
            axum::serve(listener, app).await.unwrap();
        }
    }
}

async fn null(Path(_): Path<usize>, _body: Bytes) -> (StatusCode, &'static str) {
    (
        StatusCode::CREATED,
        r#"{"id":"00000000000000000000000000000000"}"#,
    )
}

async fn deposit(
    State(hub): State<Arc<Hub<usize>>>,
    Path(i): Path<usize>,
    body: Bytes,
) -> (StatusCode, String) {
    let id: [u8; 16] = sealpost_relay::random_bytes();
    let frame = blob_frame(
        &id,
        sealpost_relay::store::coarse_time(sealpost_relay::now()),
        &body,
    );
    // Every hand-off is next in order: no storage, so no sequence to keep.
    hub.publish(&i, &Pushed { seq: 0, frame });
    (
        StatusCode::CREATED,
        format!(r#"{{"id":"{}"}}"#, hex::encode(id)),
    )
}

async fn ws(
    State(hub): State<Arc<Hub<usize>>>,
    Path(i): Path<usize>,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| session(hub, i, socket))
}

async fn session(hub: Arc<Hub<usize>>, i: usize, mut socket: WebSocket) {
    let Some(mut sub) = hub.subscribe(i, 16) else {
        return;
    };
    if socket
        .send(Message::Text(r#"{"type":"ready"}"#.into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            wake = sub.next() => {
                let Wake::Message(p) = wake else { continue };
                if socket.send(Message::Text(p.frame)).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                // Parsed and checked like the relay's, then dropped.
                Some(Ok(Message::Text(t))) => {
                    let ack: Value = serde_json::from_str(&t).unwrap_or_default();
                    let ids = ack["ids"].as_array().map(Vec::as_slice).unwrap_or_default();
                    for id in ids {
                        let mut out = [0u8; 16];
                        let _ = hex::decode_to_slice(id.as_str().unwrap_or_default(), &mut out);
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            }
        }
    }
}
