//! The account's identity key (PROTOCOL.md 7): one per account, shared by all its
//! devices. It signs the device list, every device key and the relay requests.

use sealpost_core::{IdentityKey, IdentityPublicKey, Username, auth};
use wasm_bindgen::prelude::*;

use super::{SafetyNumber, hex, key_size, parse_device_id, parse_user_id, progress};
use crate::error::OrJs;
use crate::{now_or, rng};

/// An account's identity key and username.
///
/// The private key never leaves wasm memory: there is no getter for it. It is zeroized
/// when `free()` is called (or the handle is garbage collected). To persist it, seal it
/// with a `Vault` or export a password-protected backup (`exportBackup`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Identity {
    pub(crate) key: IdentityKey,
    pub(crate) username: Username,
}

impl Identity {
    pub(crate) fn public(&self) -> IdentityPublicKey {
        self.key.public()
    }
}

#[wasm_bindgen]
impl Identity {
    /// Generates an identity key (one RSA key generation: RSA-4096 takes seconds in
    /// WebAssembly, so call this in a Web Worker). `onProgress(done, total)` is called
    /// before and after.
    pub fn generate(
        username: &str,
        #[wasm_bindgen(js_name = keySize, unchecked_optional_param_type = "KeySize")] key_size_bits: Option<u32>,
        #[wasm_bindgen(js_name = onProgress, unchecked_optional_param_type = "ProgressCallback")]
        on_progress: Option<js_sys::Function>,
    ) -> Result<Identity, JsValue> {
        let username = Username::parse(username).or_js()?;
        let size = key_size(key_size_bits)?;
        progress(&on_progress, 0, 1);
        let key = IdentityKey::generate(&mut rng(), size).or_js()?;
        progress(&on_progress, 1, 1);
        Ok(Identity { key, username })
    }

    /// Builds an identity from a PKCS#8 DER private key (test fixtures, imports).
    #[wasm_bindgen(js_name = fromPkcs8)]
    pub fn from_pkcs8(username: &str, pkcs8: &[u8]) -> Result<Identity, JsValue> {
        Ok(Identity {
            key: IdentityKey::from_pkcs8_der(pkcs8).or_js()?,
            username: Username::parse(username).or_js()?,
        })
    }

    /// The normalized username.
    #[wasm_bindgen(getter)]
    pub fn username(&self) -> String {
        self.username.as_str().into()
    }

    /// The user id (64 hex digits).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.username.user_id().to_hex()
    }

    /// The identity public key (SPKI DER).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.public().to_spki_der().to_vec()
    }

    /// SHA-256 of the identity public key (64 hex digits): what contacts pin.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        hex(&self.public().fingerprint())
    }

    /// Signs an HTTP request for the relay's owner authentication (RSA-PSS over
    /// PROTOCOL.md 22's signed-request input). Returns the raw signature.
    #[wasm_bindgen(js_name = signRequest)]
    pub fn sign_request(
        &self,
        method: &str,
        #[wasm_bindgen(js_name = pathAndQuery)] path_and_query: &str,
        body: &[u8],
        timestamp: f64,
        nonce: &str,
    ) -> Result<Vec<u8>, JsValue> {
        let input = auth::request_signing_input(
            method,
            path_and_query,
            body,
            now_or(Some(timestamp)),
            nonce,
        );
        self.key.sign(&mut rng(), &input).or_js()
    }

    /// Answers the relay's challenge on device `deviceId`'s mailbox WebSocket
    /// (PROTOCOL.md 22): the answer is good for that one device's mailbox only.
    #[wasm_bindgen(js_name = signChallenge)]
    pub fn sign_challenge(
        &self,
        #[wasm_bindgen(js_name = deviceId)] device_id: &str,
        challenge: &[u8],
    ) -> Result<Vec<u8>, JsValue> {
        let input = auth::device_challenge_signing_input(
            &self.username.user_id(),
            &parse_device_id(device_id)?,
            challenge,
        );
        self.key.sign(&mut rng(), &input).or_js()
    }

    /// The safety number between this account and a contact (`userId`, identity key
    /// SPKI DER, e.g. a `DeviceList`'s `identityKey`). Throws `INVALID_KEY`.
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(
        &self,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
        #[wasm_bindgen(js_name = identityKey)] identity_key: &[u8],
    ) -> Result<SafetyNumber, JsValue> {
        Ok(SafetyNumber::new(
            &self.username.user_id(),
            &self.public(),
            &parse_user_id(user_id)?,
            &IdentityPublicKey::from_spki_der(identity_key).or_js()?,
        ))
    }
}
