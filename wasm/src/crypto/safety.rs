//! Safety numbers (PROTOCOL.md 21): what two people compare to rule out a man in the
//! middle. Computed over the accounts' identity keys, so one number covers every device.

use sealpost_core::{IdentityPublicKey, UserId};
use wasm_bindgen::prelude::*;

use super::parse_user_id;
use crate::error::OrJs;

/// The safety number between two accounts.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SafetyNumber {
    inner: sealpost_core::SafetyNumber,
}

impl SafetyNumber {
    pub(crate) fn new(
        user_a: &UserId,
        key_a: &IdentityPublicKey,
        user_b: &UserId,
        key_b: &IdentityPublicKey,
    ) -> Self {
        SafetyNumber {
            inner: sealpost_core::SafetyNumber::new(user_a, key_a, user_b, key_b),
        }
    }
}

#[wasm_bindgen]
impl SafetyNumber {
    /// Computes it from two `(userId, identityKey)` pairs (SPKI DER), in either order.
    /// Throws `INVALID_KEY` or `MALFORMED`.
    pub fn compute(
        #[wasm_bindgen(js_name = userIdA)] user_id_a: &str,
        #[wasm_bindgen(js_name = identityKeyA)] key_a: &[u8],
        #[wasm_bindgen(js_name = userIdB)] user_id_b: &str,
        #[wasm_bindgen(js_name = identityKeyB)] key_b: &[u8],
    ) -> Result<SafetyNumber, JsValue> {
        Ok(SafetyNumber::new(
            &parse_user_id(user_id_a)?,
            &IdentityPublicKey::from_spki_der(key_a).or_js()?,
            &parse_user_id(user_id_b)?,
            &IdentityPublicKey::from_spki_der(key_b).or_js()?,
        ))
    }

    /// 60 digits.
    #[wasm_bindgen(getter)]
    pub fn digits(&self) -> String {
        self.inner.digits()
    }

    /// Twelve groups of five digits, for reading aloud.
    #[wasm_bindgen(getter)]
    pub fn display(&self) -> String {
        self.inner.display()
    }

    /// The 65-byte QR code payload (identical on both sides).
    #[wasm_bindgen(getter, js_name = qrPayload)]
    pub fn qr_payload(&self) -> Vec<u8> {
        self.inner.qr_payload()
    }

    /// Whether a scanned QR payload matches.
    #[wasm_bindgen(js_name = matchesQr)]
    pub fn matches_qr(&self, scanned: &[u8]) -> bool {
        self.inner.matches_qr(scanned)
    }
}
