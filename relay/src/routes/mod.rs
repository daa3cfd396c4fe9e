//! HTTP handlers, one module per resource of docs/API.md.

pub mod backup;
pub mod chunks;
pub mod deposit_socket;
pub mod devices;
pub mod fanout;
pub mod links;
pub mod mailbox;
mod range;
pub mod rooms;
pub mod turn;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};

use crate::AppState;
use crate::error::ApiError;

/// `GET /healthz`: the process is up and its store answers.
pub async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .store
        .device_list(&sealpost_core::UserId::from_bytes([0; 32]))
        .await?;
    Ok("ok")
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render_with_rooms(state.rooms.len(), state.rooms.members()),
    )
}

/// Unknown `/v2/...` paths get a JSON 404 instead of the web app.
pub async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint")
}

/// Protocol v1's routes answer `410 gone`, so a client that still speaks it says so
/// instead of receiving the web app.
pub async fn gone() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::GONE,
        "gone",
        "protocol v1 is no longer served; update the client",
    )
}

/// Shown at `/` when no built web app is configured.
pub async fn placeholder() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>Sealpost relay</title>\
         <h1>Sealpost relay</h1><p>The relay is running. Build the web app and start the relay \
         with <code>--static-dir</code> pointing at it to serve it from here.</p>",
    )
}
