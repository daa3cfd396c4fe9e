//! The built web app (`--static-dir`, normally `www/dist`) beside the API.
//!
//! - Precompressed: the PWA build writes `.br` and `.gz` siblings of its text and wasm
//!   files (`www/scripts/compress.mjs`); tower-http's `ServeDir` picks the variant the
//!   request's `Accept-Encoding` allows (brotli first on equal q-values) and falls back to
//!   the file itself. Every response says `Vary: Accept-Encoding` so caches keep the
//!   variants apart.
//! - A `Range` request is served from the uncompressed file, so resumed downloads never
//!   mix ranges of two representations.
//! - `/assets/` holds the bundler's content-hashed files: cached for a year as
//!   `immutable` (a new build has new names), and a missing one is a `404`, never the app
//!   shell (a stale page asking for an old script must not get HTML, let alone cache it
//!   for a year). Everything else (`index.html`, the service worker, the manifest, icons)
//!   is `no-cache`: revalidated on every use, so a deploy shows up on the next load. Any
//!   other unknown path gets `index.html` (client-side routes).

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};

use crate::routes;

/// `Cache-Control` of a successful `/assets/` response.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `router` with the web app in `dir` behind it: `/assets/…` and every path the API
/// does not route.
pub(crate) fn serve<S: Clone + Send + Sync + 'static>(router: Router<S>, dir: &Path) -> Router<S> {
    let assets = ServeDir::new(dir.join("assets"))
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .not_found_service(routes::not_found.into_service());
    let app = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(
            ServeFile::new(dir.join("index.html"))
                .precompressed_br()
                .precompressed_gzip(),
        );
    router
        .nest_service(
            "/assets",
            ServiceBuilder::new()
                .map_request(identity_for_ranges)
                .map_response(|r| with_headers(r, Some(IMMUTABLE)))
                .service(assets),
        )
        .fallback_service(
            ServiceBuilder::new()
                .map_request(identity_for_ranges)
                .map_response(|r| with_headers(r, None))
                .service(app),
        )
}

/// Drops `Accept-Encoding` from a `Range` request: the range is then one of the file's
/// own bytes, whatever encoding an earlier part was fetched with.
fn identity_for_ranges(mut request: Request) -> Request {
    if request.headers().contains_key(header::RANGE) {
        request.headers_mut().remove(header::ACCEPT_ENCODING);
    }
    request
}

/// Adds `Vary` and `Cache-Control`: `cache_on_success` for a file that was found (or
/// not modified), `no-cache` otherwise.
fn with_headers<B>(
    mut response: Response<B>,
    cache_on_success: Option<&'static str>,
) -> Response<B> {
    let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let cache = cache_on_success.filter(|_| found).unwrap_or("no-cache");
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
