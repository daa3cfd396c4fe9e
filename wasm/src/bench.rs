//! Primitive timings for the WebCrypto comparison benchmark (`wasm/scripts/bench.mjs`).
//! Hidden from the TypeScript declarations: not part of the API.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
#[cfg(feature = "groups")]
use sealpost_core::v2::group::{GroupSession, Invitee};
use sealpost_core::v2::{DeviceId, DeviceKeys, SessionStore};
use sealpost_core::{EncryptionKey, IdentityKey, KeySize, UserId, Username};
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
/// `aes-gcm-encrypt` / `aes-gcm-decrypt` (`size` bytes), `group-send` (a group message
/// to `size` members, identity PKCS#8 `key`), `pairwise-seal` (one 1:1 envelope in an
/// established session, identity `key`).
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
        #[cfg(feature = "groups")]
        "group-send" => {
            // What the sender's CPU does for one group message to `size` members of
            // one device each: one seal (27.6) and the multi-recipient request body.
            let identity = IdentityKey::from_pkcs8_der(key).or_js()?;
            let me = Username::parse("bench").or_js()?;
            let members: Vec<Invitee> = (0..size.min(999))
                .map(|i| Username::parse(&format!("member{i}")).map(|u| Invitee::new(u, [3; 32])))
                .collect::<Result<_, _>>()
                .or_js()?;
            let device = DeviceId::from_bytes([4; 16]);
            let (mut session, _) =
                GroupSession::create(&mut r, &identity, &me, device, "bench", members.clone())
                    .map_err(|_| err(Code::Crypto, "group"))?;
            session
                .sender_key(&mut r)
                .map_err(|_| err(Code::Crypto, "group"))?;
            let payload = [0x5a; 200];
            start = now_ms();
            for _ in 0..n {
                let blob = session
                    .seal(&mut r, &payload, 1_767_225_600)
                    .map_err(|_| err(Code::Crypto, "group"))?;
                let mut body = Vec::with_capacity(2 + 48 * members.len() + blob.len());
                body.extend_from_slice(&(members.len() as u16).to_be_bytes());
                for m in &members {
                    body.extend_from_slice(m.user.as_bytes());
                    body.extend_from_slice(device.as_bytes());
                }
                body.extend_from_slice(&blob);
                std::hint::black_box(body);
            }
        }
        "pairwise-seal" => {
            // One 1:1 envelope of the same payload in an established session (the
            // per-recipient cost of sending a group message as 1:1 messages).
            let identity = IdentityKey::from_pkcs8_der(key).or_js()?;
            let enc = EncryptionKey::generate(&mut r, KeySize::Rsa2048).or_js()?;
            let enc2 = EncryptionKey::from_pkcs8_der(&enc.to_pkcs8_der().or_js()?).or_js()?;
            let now = 1_767_225_600;
            let me = DeviceKeys::from_key(
                &mut r,
                &identity,
                UserId::from_bytes([1; 32]),
                DeviceId::from_bytes([4; 16]),
                enc,
                now,
            )
            .or_js()?;
            let mut peer = DeviceKeys::from_key(
                &mut r,
                &identity,
                UserId::from_bytes([2; 32]),
                DeviceId::from_bytes([5; 16]),
                enc2,
                now,
            )
            .or_js()?;
            let bundle = peer.bundle(&mut r, &identity, now).or_js()?;
            let mut store = SessionStore::new();
            let payload = [0x5a; 200];
            store
                .seal(&mut r, &identity, &me, &bundle, &payload, now)
                .or_js()?;
            start = now_ms();
            for _ in 0..n {
                store
                    .seal(&mut r, &identity, &me, &bundle, &payload, now)
                    .or_js()?;
            }
        }
        _ => return Err(invalid("unknown benchmark")),
    }
    Ok((now_ms() - start) / f64::from(n))
}
