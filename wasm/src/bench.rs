//! Primitive timings for the WebCrypto comparison benchmark (`wasm/scripts/bench.mjs`).
//! Hidden from the TypeScript declarations: not part of the API.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use sealpost_core::{EncryptionKey, IdentityKey, KeySize};
use wasm_bindgen::prelude::*;

use crate::error::{Code, OrJs, err, invalid};
use crate::rng;

fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| {
            js_sys::Reflect::get(&p, &JsValue::from_str("now"))
                .ok()
                .map(|f| (p, f))
        })
        .and_then(|(p, f)| {
            f.dyn_into::<js_sys::Function>()
                .ok()
                .and_then(|f| f.call0(&p).ok())
        })
        .and_then(|v| v.as_f64())
        .unwrap_or_else(js_sys::Date::now)
}

/// Milliseconds per operation, averaged over `iterations` runs of `op`:
/// `rsa-keygen` (`bits`), `rsa-oaep-unwrap` / `rsa-pss-sign` (PKCS#8 `key`),
/// `aes-gcm-encrypt` / `aes-gcm-decrypt` (`size` bytes).
#[wasm_bindgen(js_name = __benchPrimitive, skip_typescript)]
pub fn bench_primitive(
    op: &str,
    bits: u32,
    key: &[u8],
    size: u32,
    iterations: u32,
) -> Result<f64, JsValue> {
    let n = iterations.max(1);
    let mut r = rng();
    let start;
    match op {
        "rsa-keygen" => {
            let size = KeySize::from_bits(bits as usize).map_err(|_| invalid("bits"))?;
            start = now_ms();
            for _ in 0..n {
                IdentityKey::generate(&mut r, size).or_js()?;
            }
        }
        "rsa-oaep-unwrap" => {
            let k = EncryptionKey::from_pkcs8_der(key).or_js()?;
            let wrapped = k.public().wrap_key(&mut r, b"label", &[7u8; 32]).or_js()?;
            start = now_ms();
            for _ in 0..n {
                k.unwrap_key(&mut r, b"label", &wrapped).or_js()?;
            }
        }
        "rsa-pss-sign" => {
            let k = IdentityKey::from_pkcs8_der(key).or_js()?;
            start = now_ms();
            for _ in 0..n {
                k.sign(&mut r, b"a message to sign").or_js()?;
            }
        }
        "aes-gcm-encrypt" | "aes-gcm-decrypt" => {
            let cipher = Aes256Gcm::new((&[9u8; 32]).into());
            let nonce = Nonce::from([1u8; 12]);
            let data = vec![0x5a; size as usize];
            let fail = |_| err(Code::Crypto, "aes-gcm");
            let seal = || {
                let payload = Payload {
                    msg: &data,
                    aad: b"",
                };
                cipher.encrypt(&nonce, payload).map_err(fail)
            };
            let ct = seal()?;
            start = now_ms();
            for _ in 0..n {
                if op == "aes-gcm-encrypt" {
                    seal()?;
                } else {
                    cipher
                        .decrypt(&nonce, Payload { msg: &ct, aad: b"" })
                        .map_err(fail)?;
                }
            }
        }
        _ => return Err(invalid("unknown benchmark")),
    }
    Ok((now_ms() - start) / f64::from(n))
}
