//! The web app's files as the relay serves them (docs/API.md, "Static files"): the
//! precompressed variant the request accepts, `Vary: Accept-Encoding`, a year of
//! `immutable` caching for hashed assets and `no-cache` for the rest, content types,
//! `HEAD` and ranges; and what a hostile request gets (paths out of the directory, a
//! missing hashed asset).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use clap::Parser;
use tower::ServiceExt;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const JS: &[u8] = b"console.log('the plain script');";
const JS_BR: &[u8] = b"(brotli bytes)";
const JS_GZ: &[u8] = b"(gzip bytes)";
const INDEX: &[u8] = b"<!doctype html><title>app</title>";
const INDEX_BR: &[u8] = b"(index brotli)";

/// A built web app with `.br` / `.gz` siblings (as `www/scripts/compress.mjs` writes
/// them) and one secret file beside the directory, where no request may reach.
struct App {
    _data: tempfile::TempDir,
    root: tempfile::TempDir,
    router: Router,
}

impl App {
    async fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("secret.txt"), "outside the web app").unwrap();
        let www = root.path().join("www");
        let write = |path: &str, bytes: &[u8]| {
            let p = www.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        };
        write("index.html", INDEX);
        write("index.html.br", INDEX_BR);
        write("sw.js", b"self.addEventListener('fetch', () => {});");
        write("manifest.webmanifest", b"{\"name\":\"Sealpost\"}");
        write("assets/index-abc123.js", JS);
        write("assets/index-abc123.js.br", JS_BR);
        write("assets/index-abc123.js.gz", JS_GZ);
        write("assets/app-abc123.wasm", b"\0asm\x01\0\0\0");
        write("assets/app-abc123.wasm.gz", b"(wasm gzip)");
        write("assets/style-abc123.css", b"body{}");
        let data = tempfile::tempdir().unwrap();
        let config = sealpost_relay::Config::try_parse_from([
            "sealpost-relay",
            "--data-dir",
            &data.path().display().to_string(),
            "--static-dir",
            &www.display().to_string(),
        ])
        .unwrap();
        let store = sealpost_relay::store::open(&config).await.unwrap();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let router = sealpost_relay::app(sealpost_relay::AppState::new(store, &config, stopped));
        App {
            _data: data,
            root,
            router,
        }
    }

    async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = self
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, accept_encoding: &str) -> Reply {
        self.request(Method::GET, path, &[("accept-encoding", accept_encoding)])
            .await
    }

    fn root(&self) -> &Path {
        self.root.path()
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

#[tokio::test]
async fn each_client_gets_the_best_encoding_it_accepts() {
    let app = App::new().await;
    let path = "/assets/index-abc123.js";
    for (accepts, encoding, body) in [
        ("gzip, deflate, br, zstd", Some("br"), JS_BR),
        ("gzip", Some("gzip"), JS_GZ),
        ("br;q=0, gzip;q=0.5", Some("gzip"), JS_GZ),
        ("gzip;q=0.5, br;q=0.9", Some("br"), JS_BR),
        ("", None, JS),
        ("identity", None, JS),
        ("zstd", None, JS),
        ("gzip;q=0, br;q=0", None, JS),
    ] {
        let r = app.get(path, accepts).await;
        assert_eq!(r.status, StatusCode::OK, "{accepts}");
        assert_eq!(r.header("content-encoding"), encoding, "{accepts}");
        assert_eq!(r.body, body, "{accepts}");
        assert_eq!(
            r.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        // The type is the file's, never the variant's.
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript"),
            "{accepts}"
        );
        assert_eq!(r.header("vary"), Some("accept-encoding"), "{accepts}");
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE), "{accepts}");
        // The security headers stay on static files.
        assert!(r.header("content-security-policy").is_some());
    }
    // A file without a brotli sibling: gzip if accepted, else the file.
    let wasm = app.get("/assets/app-abc123.wasm", "br, gzip").await;
    assert_eq!(
        (wasm.header("content-encoding"), &wasm.body[..]),
        (Some("gzip"), &b"(wasm gzip)"[..])
    );
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    let css = app.get("/assets/style-abc123.css", "br, gzip").await;
    assert_eq!(
        (css.header("content-encoding"), &css.body[..]),
        (None, &b"body{}"[..])
    );
    assert_eq!(css.header("content-type"), Some("text/css"));
    assert_eq!(css.header("vary"), Some("accept-encoding"));
}

#[tokio::test]
async fn the_shell_is_revalidated_and_client_routes_get_it_compressed() {
    let app = App::new().await;
    for path in ["/", "/index.html", "/chat/alice"] {
        let r = app.get(path, "gzip, br").await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(
            (r.header("content-encoding"), &r.body[..]),
            (Some("br"), INDEX_BR),
            "{path}"
        );
        assert_eq!(r.header("content-type"), Some("text/html"), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(r.header("vary"), Some("accept-encoding"), "{path}");
        let plain = app.get(path, "").await;
        assert_eq!(
            (plain.header("content-encoding"), &plain.body[..]),
            (None, INDEX)
        );
    }
    for (path, mime) in [
        ("/sw.js", "text/javascript"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let r = app.get(path, "br").await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("content-type"), Some(mime), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    }
}

#[tokio::test]
async fn head_matches_get_and_ranges_are_of_the_plain_file() {
    let app = App::new().await;
    let path = "/assets/index-abc123.js";
    let head = app
        .request(Method::HEAD, path, &[("accept-encoding", "br")])
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-encoding"), Some("br"));
    assert_eq!(
        head.header("content-length"),
        Some(JS_BR.len().to_string().as_str())
    );
    assert_eq!(head.header("vary"), Some("accept-encoding"));
    assert_eq!(head.header("cache-control"), Some(IMMUTABLE));

    // A range of the script itself, whatever the client accepts.
    let range = app
        .request(
            Method::GET,
            path,
            &[("accept-encoding", "br, gzip"), ("range", "bytes=0-6")],
        )
        .await;
    assert_eq!(range.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.header("content-encoding"), None);
    assert_eq!(range.body, &JS[..7]);
    assert_eq!(
        range.header("content-range"),
        Some(format!("bytes 0-6/{}", JS.len()).as_str())
    );
    let past_the_end = app
        .request(Method::GET, path, &[("range", "bytes=9999-")])
        .await;
    assert_eq!(past_the_end.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past_the_end.header("cache-control"), Some("no-cache"));
}

#[tokio::test]
async fn a_missing_hashed_asset_is_a_404_that_is_not_cached() {
    let app = App::new().await;
    // A page of an older build asking for its script: a JSON 404, not the app shell
    // as JavaScript, and nothing a cache would keep for a year.
    let r = app.get("/assets/index-old999.js", "br, gzip").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(String::from_utf8_lossy(&r.body).contains("not_found"));
    let dir = app.get("/assets/", "").await;
    assert_eq!(dir.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_path_reaches_outside_the_directory() {
    let app = App::new().await;
    assert!(app.root().join("secret.txt").exists());
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/assets/..%5c..%5csecret.txt",
    ] {
        for accepts in ["", "br, gzip"] {
            let r = app.get(path, accepts).await;
            assert!(
                !String::from_utf8_lossy(&r.body).contains("outside the web app"),
                "{path} reached the secret"
            );
            assert_ne!(r.header("cache-control"), Some(IMMUTABLE), "{path}");
        }
    }
}
