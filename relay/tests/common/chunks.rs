//! Attachment chunk fixtures: chunks of the seven lengths, their addresses, upload tokens
//! and the chunk requests (docs/API.md "Attachments (chunks)").

use reqwest::{Method, StatusCode};
use sealpost_core::os_rng;
use sealpost_core::rand_core::Rng;
use sha2::{Digest, Sha256};

use super::{Client, Reply};

/// The smallest chunk length (1 KiB plaintext + 28).
pub const SMALL: usize = 1024 + 28;

/// A random chunk of `len` bytes (the relay never opens chunks; any bytes will do).
pub fn chunk(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    os_rng().fill_bytes(&mut bytes);
    bytes
}

/// The address of `bytes`: lowercase hex SHA-256.
pub fn address(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn chunk_path(address: &str) -> String {
    format!("/v2/chunks/{address}")
}

impl Client {
    /// `POST /v2/uploads`.
    pub async fn new_upload(&self) -> Reply {
        self.send(Method::POST, "/v2/uploads", None, vec![]).await
    }

    /// A fresh upload token.
    pub async fn upload_token(&self) -> String {
        let r = self.new_upload().await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
        r.json()["token"].as_str().unwrap().to_string()
    }

    /// `PUT /v2/chunks/{address of bytes}` with `token`.
    pub async fn put_chunk(&self, token: &str, bytes: &[u8]) -> Reply {
        self.put_chunk_at(token, &address(bytes), bytes).await
    }

    /// `PUT /v2/chunks/{address}` with `token` and `bytes`, whatever they hash to.
    pub async fn put_chunk_at(&self, token: &str, address: &str, bytes: &[u8]) -> Reply {
        let auth = format!("Upload {token}");
        self.send(
            Method::PUT,
            &chunk_path(address),
            Some(&auth),
            bytes.to_vec(),
        )
        .await
    }

    /// `GET /v2/chunks/{address}`, with `Range: range` if given.
    pub async fn get_chunk(&self, address: &str, range: Option<&str>) -> Reply {
        self.chunk_request(Method::GET, address, range).await
    }

    /// `HEAD /v2/chunks/{address}`.
    pub async fn head_chunk(&self, address: &str) -> Reply {
        self.chunk_request(Method::HEAD, address, None).await
    }

    async fn chunk_request(&self, method: Method, address: &str, range: Option<&str>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, chunk_path(address)));
        if let Some(range) = range {
            req = req.header("range", range);
        }
        let r = tokio::time::timeout(super::PATIENCE, req.send())
            .await
            .unwrap()
            .unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        Reply {
            status,
            headers,
            bytes: r.bytes().await.unwrap().to_vec(),
        }
    }
}
