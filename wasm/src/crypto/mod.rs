//! The crypto level: protocol v2 (docs/PROTOCOL.md) without the network, for apps that
//! bring their own transport. Thin bindings over `sealpost_core::v2`: an account's
//! identity key ([`Identity`]), a device's keys and bundle ([`DeviceKeys`],
//! [`DeviceBundle`]), the signed device list ([`DeviceList`]), sessions per device pair
//! ([`SessionStore`]), backup v2 ([`BackupKeys`]), safety numbers ([`SafetyNumber`]).
//! Synchronous; RSA key generation and PBKDF2 take seconds, so call them from a Web
//! Worker. Which checks an app must make between these calls (pins, device lists,
//! trusted sessions) is in the package README and PROTOCOL.md 16.

mod backup;
mod device;
mod device_list;
mod file;
mod identity;
mod safety;
mod sessions;

use sealpost_core::v2::{DeviceId, SessionId};
use sealpost_core::{KeySize, UserId, Username};
use serde::Serialize;
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;

use crate::error::{Code, OrJs, err, invalid};

pub use backup::{BackupKeys, export_backup, import_backup, read_backup_params};
pub use device::{DeviceBundle, DeviceKeys};
pub use device_list::DeviceList;
pub use file::{FileDecryptor, FileEncryptor, file_info};
pub use identity::Identity;
pub use safety::SafetyNumber;
pub use sessions::{PendingInit, SessionStore};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** RSA modulus size in bits. 4096 is the default; 2048 is for tests and slow devices. */
export type KeySize = 2048 | 3072 | 4096;

/** Called before and after each RSA key generation: `(0, 1)`, `(1, 1)`. */
export type ProgressCallback = (done: number, total: number) => void;

/** One device in a device list. */
export interface DeviceEntry {
  /** Device id (32 hex digits). */
  id: string;
  /** Shown to the user, at most 64 bytes of UTF-8 (the relay sees it). */
  name: string;
  /** When the device joined (Unix seconds). */
  addedAt: number;
}

/** One signed encryption key listed in a device bundle. */
export interface BundleEncryptionKey {
  /** SPKI DER. */
  publicKey: Uint8Array;
  /** Valid from (Unix seconds). */
  notBefore: number;
  /** Valid until (Unix seconds, exclusive). */
  notAfter: number;
}

/** An envelope v2 ready for the relay's device mailbox `/v2/mailboxes/{recipient}/{recipientDevice}`. */
export interface SealedEnvelope {
  /** Recipient user id (64 hex digits). */
  recipient: string;
  /** Recipient device id (32 hex digits). */
  recipientDevice: string;
  /** Envelope bytes (a padding bucket size). */
  envelope: Uint8Array;
  /** Session id (32 hex digits). */
  sessionId: string;
  /** Position in the session's sending chain. */
  counter: number;
  /** Whether this envelope started a new session (and so cost RSA operations). */
  newSession: boolean;
  /** Whether it carries the session's init block (kind 2): true until the peer answers. */
  withInit: boolean;
}

/** An opened envelope v2. */
export interface OpenedMessage {
  kind: "message";
  /** Sender user id (64 hex digits). */
  sender: string;
  /** Sender device id (32 hex digits). */
  senderDevice: string;
  /** Sender identity key (SPKI DER), authenticated by the session. */
  senderIdentity: Uint8Array;
  /** SHA-256 of `senderIdentity` (64 hex digits). */
  senderFingerprint: string;
  /** Session id (32 hex digits). */
  sessionId: string;
  /** Position in the sender's chain. */
  counter: number;
  /** Sender's clock at sealing, Unix seconds. */
  sentAt: number;
  /** The plaintext bytes. */
  payload: Uint8Array;
  /** Earlier counters of this session not received yet (may still arrive). */
  skipped: number[];
  /** Whether this message created the session (through `accept`). */
  newSession: boolean;
  /** Whether the session is trusted (its identity is the pinned one). */
  trusted: boolean;
}

/** A session the store holds (no secrets). */
export interface SessionInfo {
  id: string;
  peer: string;
  peerDevice: string;
  peerFingerprint: string;
  /** We started it. */
  initiator: boolean;
  /** The peer answered in it. */
  confirmed: boolean;
  trusted: boolean;
  createdAt: number;
  lastUsed: number;
  /** Messages sealed in it. */
  sent: number;
  /** Counters the peer sent that have not arrived. */
  missing: number[];
}

/** The public header of a backup v2 blob. */
export interface BackupParams {
  /** Whose backup it is (64 hex digits). */
  userId: string;
  /** PBKDF2 salt. */
  salt: Uint8Array;
  /** PBKDF2 iteration count. */
  iterations: number;
}

/** What `importBackup` restores. */
export interface RestoredBackup {
  identity: Identity;
  /** The application's account state as exported (empty if none was). */
  accountState: Uint8Array;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// TS type of a sealed envelope.
    #[wasm_bindgen(typescript_type = "SealedEnvelope")]
    pub type SealedEnvelopeJs;
    /// TS type of an opened message.
    #[wasm_bindgen(typescript_type = "OpenedMessage")]
    pub type OpenedMessageJs;
    /// TS type of what `open` returns.
    #[wasm_bindgen(typescript_type = "OpenedMessage | PendingInit")]
    pub type OpeningJs;
    /// TS type of backup parameters.
    #[wasm_bindgen(typescript_type = "BackupParams")]
    pub type BackupParamsJs;
    /// TS type of a restored backup.
    #[wasm_bindgen(typescript_type = "RestoredBackup")]
    pub type RestoredBackupJs;
    /// TS type of a device entry.
    #[wasm_bindgen(typescript_type = "DeviceEntry")]
    pub type DeviceEntryJs;
}

/// Bytes that serialize as a `Uint8Array` through serde-wasm-bindgen.
#[derive(Clone, Debug)]
pub(crate) struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    serde_wasm_bindgen::to_value(value).map_err(|e| err(Code::Crypto, &e.to_string()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

pub(crate) fn parse_user_id(hex_id: &str) -> Result<UserId, JsValue> {
    UserId::from_hex(hex_id).or_js()
}

pub(crate) fn parse_device_id(hex_id: &str) -> Result<DeviceId, JsValue> {
    DeviceId::from_hex(hex_id).or_js()
}

pub(crate) fn parse_session_id(hex_id: &str) -> Result<SessionId, JsValue> {
    SessionId::from_hex(hex_id).or_js()
}

pub(crate) fn key_size(bits: Option<u32>) -> Result<KeySize, JsValue> {
    match bits {
        None => Ok(KeySize::Rsa4096),
        Some(b) => KeySize::from_bits(b as usize)
            .map_err(|_| invalid("keySize must be 2048, 3072 or 4096")),
    }
}

/// Reads `string | Uint8Array` content: strings are content type 0 (UTF-8 text), bytes
/// default to content type 1.
pub(crate) fn read_content(
    content: &JsValue,
    content_type: Option<u8>,
) -> Result<(u8, Vec<u8>), JsValue> {
    if let Some(s) = content.as_string() {
        return Ok((content_type.unwrap_or(0), s.into_bytes()));
    }
    if let Some(bytes) = content.dyn_ref::<js_sys::Uint8Array>() {
        return Ok((content_type.unwrap_or(1), bytes.to_vec()));
    }
    Err(invalid("content must be a string or a Uint8Array"))
}

/// Calls `onProgress(done, total)` if given; a throwing callback must not abort key
/// generation.
pub(crate) fn progress(on_progress: &Option<js_sys::Function>, done: u32, total: u32) {
    if let Some(f) = on_progress {
        let _ = f.call2(&JsValue::NULL, &JsValue::from(done), &JsValue::from(total));
    }
}

/// Passwords are used as the UTF-8 bytes of their NFC form, so the same password typed
/// on another system derives the same keys. NFC through the JS engine's tables (the
/// core's `v2::backup::normalize_password` gives the same bytes, but would ship Unicode
/// tables in the module).
pub(crate) fn nfc(password: &str) -> zeroize::Zeroizing<String> {
    let s = js_sys::JsString::from(password).normalize("NFC");
    zeroize::Zeroizing::new(s.as_string().unwrap_or_else(|| password.to_owned()))
}

/// Normalizes a username (ASCII lowercase) and checks it: 3-32 characters of
/// `a-z 0-9 . _ -`. Throws `INVALID_USERNAME`.
#[wasm_bindgen(js_name = normalizeUsername)]
pub fn normalize_username(username: &str) -> Result<String, JsValue> {
    Ok(Username::parse(username).or_js()?.as_str().into())
}

/// The user id the relay knows a username by: `SHA-256("sealpost/user/v1" || name)` as
/// 64 hex digits. Throws `INVALID_USERNAME`.
#[wasm_bindgen(js_name = userIdFromUsername)]
pub fn user_id_from_username(username: &str) -> Result<String, JsValue> {
    Ok(Username::parse(username).or_js()?.user_id().to_hex())
}

/// Which device mailbox an envelope v2 is for (its clear prefix, all a relay reads):
/// `{ userId, deviceId }`. Throws `MALFORMED`.
#[wasm_bindgen(js_name = envelopeRecipient, unchecked_return_type = "{ userId: string; deviceId: string }")]
pub fn envelope_recipient(envelope: &[u8]) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Recipient {
        user_id: String,
        device_id: String,
    }
    let (user, device) = sealpost_core::v2::envelope_recipient(envelope).or_js()?;
    to_js(&Recipient {
        user_id: user.to_hex(),
        device_id: device.to_hex(),
    })
}

/// SHA-256 of `bytes` (64 hex digits), e.g. to fingerprint an SPKI key.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
