//! Sealpost for the web: [`sealpost_core`] through wasm-bindgen, plus a relay client.
//!
//! Two levels:
//! - the crypto level ([`crypto`], [`vault`]): protocol v2 without the network: identity
//!   keys, device keys and bundles, device lists, envelopes through sessions per device
//!   pair, backup v2, safety numbers; synchronous;
//! - the client level ([`client`], [`storage`]): register, log in, look up, send, receive
//!   against a Sealpost relay, with state kept in an app-provided storage, always
//!   encrypted under a key derived from the password.
//!
//! Secrets stay in wasm memory: private keys, session chains and derived keys live in
//! Rust structs whose JS handles expose no getter for them, and they are zeroized when
//! the handle is freed (`free()`) or garbage collected. The only APIs that return secret
//! bytes say so in their name (`authToken` of a backup, which the relay must see).

#[cfg(feature = "bench")]
pub mod bench;
pub mod client;
pub mod crypto;
pub mod error;
mod lock;
#[cfg(feature = "rooms")]
pub mod room;
pub mod storage;
pub mod vault;

use wasm_bindgen::prelude::*;

/// The platform's cryptographic RNG (`crypto.getRandomValues`).
pub(crate) type Rng = rand_core::UnwrapErr<getrandom::SysRng>;

pub(crate) fn rng() -> Rng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Current Unix time in seconds, or `now` when the caller passed one.
pub(crate) fn now_or(now: Option<f64>) -> u64 {
    let secs = now.unwrap_or_else(|| js_sys::Date::now() / 1000.0);
    if secs.is_finite() && secs > 0.0 {
        secs as u64
    } else {
        0
    }
}

/// The package version (the crate version it was built from).
#[wasm_bindgen(js_name = version)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}
