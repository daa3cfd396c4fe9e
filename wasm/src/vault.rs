//! Local encryption of everything an app persists: a key derived from the password
//! (PBKDF2-HMAC-SHA256, then HKDF) that never leaves wasm memory.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand_core::Rng as _;
use sealpost_core::backup::{MAX_ITERATIONS, MAX_PASSWORD_LEN, MIN_ITERATIONS, MIN_PASSWORD_LEN};
use sealpost_core::v2::SessionStore as CoreSessions;
use sealpost_core::{IdentityKey, Username};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::crypto::{DeviceKeys, Identity, SessionStore};
use crate::error::{Code, OrJs, err, invalid};
use crate::rng;

const TAG: [u8; 2] = [b'V', 1];
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// `tag || salt || iterations || check box`.
const HEADER_LEN: usize = 2 + SALT_LEN + 4 + NONCE_LEN + TAG_LEN;
const AAD_PREFIX: &[u8] = b"sealpost/wasm/vault/v1\0";

/// A password-derived key for local storage. Values sealed with it are
/// `nonce || AES-256-GCM(key, nonce, label, plaintext)`; the label binds each value to
/// its purpose, so a stored identity cannot be passed off as session state.
///
/// The key stays in wasm memory and is zeroized when the handle is freed.
#[wasm_bindgen]
pub struct Vault {
    key: Zeroizing<[u8; 32]>,
    header: Vec<u8>,
}

impl core::fmt::Debug for Vault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

fn derive(password: &str, salt: &[u8], iterations: u32) -> Result<Zeroizing<[u8; 32]>, JsValue> {
    let password = crate::crypto::nfc(password);
    let pw = password.as_bytes();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&pw.len())
        || !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations)
    {
        return Err(sealpost_core::Error::WeakParameters).or_js();
    }
    let mut master = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, iterations, master.as_mut());
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(Some(b"sealpost/wasm/vault"), master.as_ref())
        .expand(b"local storage key v1", key.as_mut())
        .map_err(|_| err(Code::Crypto, "HKDF failed"))?;
    Ok(key)
}

impl Vault {
    /// The key, for `exportSession` to seal under a WebCrypto key (never stored as is).
    pub(crate) fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The vault of `header` with a key kept by a session instead of derived from the
    /// password: `DECRYPT_FAILED` unless it opens the header's check box.
    pub(crate) fn with_key(key: Zeroizing<[u8; 32]>, header: &[u8]) -> Result<Vault, JsValue> {
        if header.len() != HEADER_LEN || header.get(..2) != Some(&TAG[..]) {
            return Err(sealpost_core::Error::Malformed).or_js();
        }
        let vault = Vault {
            key,
            header: header.to_vec(),
        };
        vault.open_raw("check", header.get(22..).unwrap_or_default())?;
        Ok(vault)
    }

    fn aad(label: &str) -> Vec<u8> {
        let mut aad = AAD_PREFIX.to_vec();
        aad.extend_from_slice(label.as_bytes());
        aad
    }

    pub(crate) fn seal_raw(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, JsValue> {
        let mut nonce = [0u8; NONCE_LEN];
        rng().fill_bytes(&mut nonce);
        let ct = Aes256Gcm::new((&*self.key).into())
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &Self::aad(label),
                },
            )
            .map_err(|_| err(Code::Crypto, "encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub(crate) fn open_raw(
        &self,
        label: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, JsValue> {
        let fail = || err(Code::DecryptFailed, "stored value could not be decrypted");
        let (nonce, ct) = sealed.split_at_checked(NONCE_LEN).ok_or_else(fail)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        Aes256Gcm::new((&*self.key).into())
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: &Self::aad(label),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| fail())
    }
}

#[wasm_bindgen]
impl Vault {
    /// A new vault with a random salt. Runs PBKDF2 (600 000 iterations by default, about
    /// a second in WebAssembly: use a Web Worker). Store `header` next to the data.
    pub fn create(password: &str, iterations: Option<u32>) -> Result<Vault, JsValue> {
        let iterations = iterations.unwrap_or(MIN_ITERATIONS);
        let mut salt = [0u8; SALT_LEN];
        rng().fill_bytes(&mut salt);
        let key = derive(password, &salt, iterations)?;
        let mut vault = Vault {
            key,
            header: Vec::with_capacity(HEADER_LEN),
        };
        let check = vault.seal_raw("check", &[])?;
        vault.header.extend_from_slice(&TAG);
        vault.header.extend_from_slice(&salt);
        vault.header.extend_from_slice(&iterations.to_be_bytes());
        vault.header.extend_from_slice(&check);
        Ok(vault)
    }

    /// Re-derives the key of an existing vault from its `header`. Throws
    /// `WRONG_PASSWORD` when the password does not match.
    pub fn unlock(password: &str, header: &[u8]) -> Result<Vault, JsValue> {
        if header.len() != HEADER_LEN || header.get(..2) != Some(&TAG[..]) {
            return Err(sealpost_core::Error::Malformed).or_js();
        }
        let salt = header
            .get(2..2 + SALT_LEN)
            .ok_or_else(|| invalid("header"))?;
        let it: [u8; 4] = header
            .get(18..22)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| invalid("header"))?;
        let key = derive(password, salt, u32::from_be_bytes(it))?;
        let vault = Vault {
            key,
            header: header.to_vec(),
        };
        let check = header.get(22..).ok_or_else(|| invalid("header"))?;
        vault
            .open_raw("check", check)
            .map_err(|_| err(Code::WrongPassword, "wrong password for this device's data"))?;
        Ok(vault)
    }

    /// The public header (salt, iteration count, password check). Not secret.
    #[wasm_bindgen(getter)]
    pub fn header(&self) -> Vec<u8> {
        self.header.clone()
    }

    /// Encrypts an identity (its private key and the username) for storage.
    #[wasm_bindgen(js_name = sealIdentity)]
    pub fn seal_identity(&self, identity: &Identity) -> Result<Vec<u8>, JsValue> {
        let pkcs8 = identity.key.to_pkcs8_der().or_js()?;
        let name = identity.username.as_str().as_bytes();
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + name.len() + pkcs8.len()));
        plain.push(name.len() as u8);
        plain.extend_from_slice(name);
        plain.extend_from_slice(&pkcs8);
        self.seal_raw("identity", &plain)
    }

    /// Decrypts what [`Vault::sealIdentity`] wrote.
    #[wasm_bindgen(js_name = openIdentity)]
    pub fn open_identity(&self, sealed: &[u8]) -> Result<Identity, JsValue> {
        let plain = self.open_raw("identity", sealed)?;
        let malformed = || err(Code::Malformed, "stored identity");
        let (len, rest) = plain.split_first().ok_or_else(malformed)?;
        let (name, pkcs8) = rest
            .split_at_checked(usize::from(*len))
            .ok_or_else(malformed)?;
        let username =
            Username::parse(core::str::from_utf8(name).map_err(|_| malformed())?).or_js()?;
        Ok(Identity {
            key: IdentityKey::from_pkcs8_der(pkcs8).or_js()?,
            username,
        })
    }

    /// Encrypts a device's keys for storage.
    #[wasm_bindgen(js_name = sealDeviceKeys)]
    pub fn seal_device_keys(&self, keys: &DeviceKeys) -> Result<Vec<u8>, JsValue> {
        self.seal_raw("device", &keys.inner.to_secret_bytes().or_js()?)
    }

    /// Decrypts what [`Vault::sealDeviceKeys`] wrote, re-verifying every key's signature
    /// by `identity` (the account's).
    #[wasm_bindgen(js_name = openDeviceKeys)]
    pub fn open_device_keys(
        &self,
        sealed: &[u8],
        identity: &Identity,
    ) -> Result<DeviceKeys, JsValue> {
        let plain = self.open_raw("device", sealed)?;
        let inner =
            sealpost_core::v2::DeviceKeys::from_secret_bytes(&plain, &identity.key.public())
                .or_js()?;
        if *inner.user_id() != identity.username.user_id() {
            return Err(err(Code::Malformed, "stored device keys"));
        }
        Ok(DeviceKeys { inner })
    }

    /// Encrypts all session state for storage.
    #[wasm_bindgen(js_name = sealSessions)]
    pub fn seal_sessions(&self, sessions: &SessionStore) -> Result<Vec<u8>, JsValue> {
        self.seal_raw("sessions", &sessions.inner.to_secret_bytes().or_js()?)
    }

    /// Decrypts what [`Vault::sealSessions`] wrote.
    #[wasm_bindgen(js_name = openSessions)]
    pub fn open_sessions(&self, sealed: &[u8]) -> Result<SessionStore, JsValue> {
        let plain = self.open_raw("sessions", sealed)?;
        Ok(SessionStore {
            inner: CoreSessions::from_secret_bytes(&plain).or_js()?,
        })
    }

    /// Encrypts application data under `label` (any string; the same label opens it).
    pub fn seal(&self, label: &str, data: &[u8]) -> Result<Vec<u8>, JsValue> {
        self.seal_raw(&app_label(label), data)
    }

    /// Decrypts application data sealed under `label`. Throws `DECRYPT_FAILED`.
    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, JsValue> {
        Ok(self.open_raw(&app_label(label), sealed)?.to_vec())
    }
}

fn app_label(label: &str) -> String {
    let mut s = String::from("app:");
    s.push_str(label);
    s
}
