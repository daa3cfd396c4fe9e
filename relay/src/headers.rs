//! Security and caching headers on every response.
//!
//! The PWA is served by this process, so the relay is where its Content-Security-Policy
//! can be a real header (`frame-ancestors` only works as one); it matches the `<meta>`
//! policy in `www/index.html`. Responses that set no `Cache-Control` (API answers) are
//! `no-cache`; the web app's files set their own (`static_files.rs`).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; \
font-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'";

const PERMISSIONS: &str = "camera=(self), microphone=(self), geolocation=(), payment=(), usb=(), \
serial=(), bluetooth=(), midi=(), display-capture=()";

pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // The PWA uses the camera (scanning a safety-number QR code) and the microphone
    // (voice calls, asked only when calling or accepting) and nothing else.
    h.insert("permissions-policy", HeaderValue::from_static(PERMISSIONS));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    response
}
