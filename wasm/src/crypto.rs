//! The crypto level: identities, key bundles, envelopes, sessions, key backup and
//! safety numbers. Synchronous and offline; RSA key generation and PBKDF2 take seconds,
//! so call [`Identity::generate`] and the backup functions from a Web Worker.

use sealpost_core::{self as core, KeySize, MessageKind, UserId, Username, backup};
use serde::Serialize;
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;

use crate::error::{Code, OrJs, err, invalid};
use crate::{now_or, rng};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** RSA modulus size in bits. 4096 is the default; 2048 is for tests and slow devices. */
export type KeySize = 2048 | 3072 | 4096;

/** Called before and after each RSA key generation: `(0, 2)`, `(1, 2)`, `(2, 2)`. */
export type ProgressCallback = (done: number, total: number) => void;

/** An envelope ready for the relay: POST `envelope` to `/v1/mailboxes/{recipient}`. */
export interface SealedMessage {
  /** Recipient user id (64 hex digits): the mailbox. */
  recipient: string;
  /** Envelope bytes (a padding bucket size). */
  envelope: Uint8Array;
  /** Stable message id (32 hex digits), the same on both sides. */
  messageId: string;
  /** Whether this envelope started a new session (and so cost RSA operations). */
  newSession: boolean;
}

/** An opened envelope. */
export interface OpenedMessage {
  /** Sender user id (64 hex digits). */
  sender: string;
  /** Sender identity key (SPKI DER). Check it against the pinned contact or directory. */
  senderIdentity: Uint8Array;
  /** SHA-256 of `senderIdentity` (64 hex digits). */
  senderFingerprint: string;
  /** Envelope kind. */
  kind: "sealed" | "sessionInit" | "session";
  /** Session id (32 hex digits). */
  sessionId: string;
  /** Position in the session's sending chain. */
  counter: number;
  /** Sender's clock at sealing, Unix seconds. */
  sentAt: number;
  /** All recipients the sender named (user ids). */
  recipients: string[];
  /** 0 for UTF-8 text, anything else is application-defined. */
  contentType: number;
  /** The plaintext bytes. */
  content: Uint8Array;
  /** The plaintext as a string when `contentType` is 0. */
  text?: string;
  /** Stable message id (32 hex digits). */
  messageId: string;
}

/** One signed encryption key listed in a bundle. */
export interface BundleEncryptionKey {
  /** SPKI DER. */
  publicKey: Uint8Array;
  /** Valid from (Unix seconds). */
  notBefore: number;
  /** Valid until (Unix seconds, exclusive). */
  notAfter: number;
}

/** The public header of a key backup. */
export interface BackupParams {
  /** Whose backup it is (64 hex digits). */
  userId: string;
  /** PBKDF2 salt. */
  salt: Uint8Array;
  /** PBKDF2 iteration count. */
  iterations: number;
}
"#;

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
        return Ok((content_type.unwrap_or(core::CONTENT_TEXT), s.into_bytes()));
    }
    if let Some(bytes) = content.dyn_ref::<js_sys::Uint8Array>() {
        return Ok((content_type.unwrap_or(1), bytes.to_vec()));
    }
    Err(invalid("content must be a string or a Uint8Array"))
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

/// A local account: the identity key and the encryption keys behind a [`KeyBundle`].
///
/// Private keys never leave wasm memory: there is no getter for them. They are zeroized
/// when `free()` is called (or the handle is garbage collected). To persist an identity,
/// seal it with a `Vault` or export a password-protected backup.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Identity {
    pub(crate) inner: core::Identity,
    pub(crate) username: Username,
}

#[wasm_bindgen]
impl Identity {
    /// Generates an identity key and a first encryption key (two RSA key generations:
    /// RSA-4096 takes 5-15 s in WebAssembly, so call this in a Web Worker).
    ///
    /// `onProgress(done, total)` is called before and after each key.
    pub fn generate(
        username: &str,
        #[wasm_bindgen(js_name = keySize, unchecked_optional_param_type = "KeySize")] key_size_bits: Option<u32>,
        #[wasm_bindgen(js_name = onProgress, unchecked_optional_param_type = "ProgressCallback")]
        on_progress: Option<js_sys::Function>,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: Option<f64>,
    ) -> Result<Identity, JsValue> {
        let username = Username::parse(username).or_js()?;
        let size = key_size(key_size_bits)?;
        let mut progress = |done: u32, total: u32| {
            if let Some(f) = &on_progress {
                // A throwing callback must not abort key generation.
                let _ = f.call2(&JsValue::NULL, &JsValue::from(done), &JsValue::from(total));
            }
        };
        let inner = core::Identity::generate(
            &mut rng(),
            username.user_id(),
            size,
            now_or(now),
            &mut progress,
        )
        .or_js()?;
        Ok(Identity { inner, username })
    }

    /// Builds an identity from PKCS#8 DER private keys (test fixtures, migrations).
    #[wasm_bindgen(js_name = fromPkcs8)]
    pub fn from_pkcs8(
        username: &str,
        #[wasm_bindgen(js_name = identityPkcs8)] identity_pkcs8: &[u8],
        #[wasm_bindgen(js_name = encryptionPkcs8)] encryption_pkcs8: &[u8],
        now: Option<f64>,
    ) -> Result<Identity, JsValue> {
        let username = Username::parse(username).or_js()?;
        let identity = core::IdentityKey::from_pkcs8_der(identity_pkcs8).or_js()?;
        let encryption = core::EncryptionKey::from_pkcs8_der(encryption_pkcs8).or_js()?;
        let inner = core::Identity::from_keys(
            &mut rng(),
            username.user_id(),
            identity,
            encryption,
            now_or(now),
        )
        .or_js()?;
        Ok(Identity { inner, username })
    }

    /// Restores an identity from a backup blob (see [`BackupKeys::forBlob`]). Throws
    /// `WRONG_PASSWORD` when the keys do not open it or it belongs to another user.
    #[wasm_bindgen(js_name = importBackup)]
    pub fn import_backup(
        username: &str,
        blob: &[u8],
        keys: &BackupKeys,
    ) -> Result<Identity, JsValue> {
        let username = Username::parse(username).or_js()?;
        let inner = backup::import(blob, &keys.keys).or_js()?;
        if *inner.user_id() != username.user_id() {
            return Err(err(
                Code::WrongPassword,
                "the backup belongs to another user",
            ));
        }
        Ok(Identity { inner, username })
    }

    /// Encrypts every private key into a backup blob under `keys` (derived from the
    /// password with [`BackupKeys::create`]). Upload it with `keys.authToken`.
    #[wasm_bindgen(js_name = exportBackup)]
    pub fn export_backup(&self, keys: &BackupKeys) -> Result<Vec<u8>, JsValue> {
        if *self.inner.user_id() != keys.user_id {
            return Err(invalid("backup keys were derived for another user"));
        }
        backup::export(&mut rng(), &self.inner, &keys.params, &keys.keys).or_js()
    }

    /// The normalized username.
    #[wasm_bindgen(getter)]
    pub fn username(&self) -> String {
        self.username.as_str().into()
    }

    /// The user id (64 hex digits).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id().to_hex()
    }

    /// The identity public key (SPKI DER).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.inner.identity_key().public().to_spki_der().to_vec()
    }

    /// SHA-256 of the identity public key (64 hex digits).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        hex(&self.inner.identity_key().public().fingerprint())
    }

    /// Signs a fresh key bundle listing every unexpired encryption key; publish it with
    /// `PUT /v1/users/{id}/bundle`.
    pub fn bundle(&mut self, now: Option<f64>) -> Result<KeyBundle, JsValue> {
        Ok(KeyBundle {
            inner: self.inner.bundle(&mut rng(), now_or(now)).or_js()?,
        })
    }

    /// Whether the newest encryption key expires within 7 days.
    #[wasm_bindgen(js_name = needsRotation)]
    pub fn needs_rotation(&self, now: Option<f64>) -> bool {
        self.inner.needs_rotation(now_or(now))
    }

    /// Adds a new encryption key (one RSA key generation) and deletes keys past
    /// retention. Publish a new bundle and a new backup afterwards.
    #[wasm_bindgen(js_name = rotateEncryptionKey)]
    pub fn rotate_encryption_key(&mut self, now: Option<f64>) -> Result<(), JsValue> {
        self.inner
            .rotate_encryption_key(&mut rng(), now_or(now))
            .or_js()
    }

    /// Deletes encryption keys that expired more than 14 days ago.
    pub fn prune(&mut self, now: Option<f64>) {
        self.inner.prune(now_or(now));
    }

    /// Signs an HTTP request for the relay's owner authentication (RSA-PSS over
    /// `auth::request_signing_input`). Returns the raw signature.
    #[wasm_bindgen(js_name = signRequest)]
    pub fn sign_request(
        &self,
        method: &str,
        #[wasm_bindgen(js_name = pathAndQuery)] path_and_query: &str,
        body: &[u8],
        timestamp: f64,
        nonce: &str,
    ) -> Result<Vec<u8>, JsValue> {
        let input = core::auth::request_signing_input(
            method,
            path_and_query,
            body,
            now_or(Some(timestamp)),
            nonce,
        );
        self.inner.identity_key().sign(&mut rng(), &input).or_js()
    }

    /// Signs a relay WebSocket challenge (`auth::challenge_signing_input`).
    #[wasm_bindgen(js_name = signChallenge)]
    pub fn sign_challenge(&self, challenge: &[u8]) -> Result<Vec<u8>, JsValue> {
        let input = core::auth::challenge_signing_input(self.inner.user_id(), challenge);
        self.inner.identity_key().sign(&mut rng(), &input).or_js()
    }

    /// The safety number between this identity and a contact's bundle.
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, theirs: &KeyBundle) -> SafetyNumber {
        SafetyNumber {
            inner: core::SafetyNumber::new(
                self.inner.user_id(),
                &self.inner.identity_key().public(),
                theirs.inner.user_id(),
                theirs.inner.identity(),
            ),
        }
    }
}

/// A verified, self-signed key bundle: the public half of an account.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct KeyBundle {
    pub(crate) inner: core::KeyBundle,
}

#[wasm_bindgen]
impl KeyBundle {
    /// Parses a bundle and verifies every signature in it. Throws `MALFORMED`,
    /// `INVALID_KEY` or `BAD_SIGNATURE`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<KeyBundle, JsValue> {
        Ok(KeyBundle {
            inner: core::KeyBundle::from_bytes(bytes).or_js()?,
        })
    }

    /// The canonical encoding (what the relay stores).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes().to_vec()
    }

    /// Whose bundle this is (64 hex digits). Check it is the id you asked for.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.inner.user_id().to_hex()
    }

    /// The identity public key (SPKI DER).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.inner.identity().to_spki_der().to_vec()
    }

    /// SHA-256 of the identity public key (64 hex digits).
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        hex(&self.inner.identity().fingerprint())
    }

    /// When it was issued (Unix seconds).
    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> f64 {
        self.inner.issued_at() as f64
    }

    /// The listed encryption keys with their validity periods.
    #[wasm_bindgen(js_name = encryptionKeys, unchecked_return_type = "BundleEncryptionKey[]")]
    pub fn encryption_keys(&self) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Key {
            public_key: Bytes,
            not_before: u64,
            not_after: u64,
        }
        let keys: Vec<Key> = self
            .inner
            .encryption_keys()
            .iter()
            .map(|k| Key {
                public_key: Bytes(k.key().to_spki_der().to_vec()),
                not_before: k.not_before(),
                not_after: k.not_after(),
            })
            .collect();
        to_js(&keys)
    }

    /// The encryption key a sender uses at `now` (SPKI DER). Throws `EXPIRED`.
    #[wasm_bindgen(js_name = currentEncryptionKey)]
    pub fn current_encryption_key(&self, now: Option<f64>) -> Result<Vec<u8>, JsValue> {
        Ok(self
            .inner
            .current_encryption_key(now_or(now))
            .or_js()?
            .to_spki_der()
            .to_vec())
    }

    /// Checks that `newer` may replace this bundle: same user and identity key
    /// (`BAD_SIGNATURE` otherwise), strictly newer (`STALE` otherwise).
    #[wasm_bindgen(js_name = checkUpdate)]
    pub fn check_update(&self, newer: &KeyBundle) -> Result<(), JsValue> {
        self.inner.check_update(&newer.inner).or_js()
    }

    /// The safety number between two bundles (the same from either side).
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, other: &KeyBundle) -> SafetyNumber {
        SafetyNumber {
            inner: core::SafetyNumber::new(
                self.inner.user_id(),
                self.inner.identity(),
                other.inner.user_id(),
                other.inner.identity(),
            ),
        }
    }
}

/// All session state of one account: seals and opens envelopes. The first message to a
/// contact costs RSA operations (a signed, RSA-wrapped session set-up); later ones use
/// a symmetric ratchet. Persist it with `Vault.sealSessions` after every change.
#[wasm_bindgen]
#[derive(Default, Debug)]
pub struct SessionStore {
    pub(crate) inner: core::SessionStore,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SealedOut {
    pub(crate) recipient: String,
    pub(crate) envelope: Bytes,
    pub(crate) message_id: String,
    pub(crate) new_session: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenedOut {
    pub(crate) sender: String,
    pub(crate) sender_identity: Bytes,
    pub(crate) sender_fingerprint: String,
    pub(crate) kind: &'static str,
    pub(crate) session_id: String,
    pub(crate) counter: u64,
    pub(crate) sent_at: u64,
    pub(crate) recipients: Vec<String>,
    pub(crate) content_type: u8,
    pub(crate) content: Bytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
    pub(crate) message_id: String,
}

impl OpenedOut {
    pub(crate) fn from_core(o: core::Opened) -> Self {
        let text = if o.content_type == core::CONTENT_TEXT {
            String::from_utf8(o.content.clone()).ok()
        } else {
            None
        };
        OpenedOut {
            sender: o.sender.to_hex(),
            sender_fingerprint: hex(&o.sender_identity.fingerprint()),
            sender_identity: Bytes(o.sender_identity.to_spki_der().to_vec()),
            kind: match o.kind {
                MessageKind::Sealed => "sealed",
                MessageKind::SessionInit => "sessionInit",
                _ => "session",
            },
            session_id: hex(&o.session_id),
            counter: o.counter,
            sent_at: o.sent_at,
            recipients: o.recipients.iter().map(UserId::to_hex).collect(),
            content_type: o.content_type,
            content: Bytes(o.content),
            text,
            message_id: hex(&o.message_id),
        }
    }
}

#[wasm_bindgen]
impl SessionStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SessionStore {
        SessionStore::default()
    }

    /// Loads session state serialized by the native core
    /// (`SessionStore::to_secret_bytes`): migrations and test vectors. There is no
    /// inverse: persist with `Vault.sealSessions`, which never exposes the plaintext.
    #[wasm_bindgen(js_name = fromSecretBytes)]
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<SessionStore, JsValue> {
        Ok(SessionStore {
            inner: core::SessionStore::from_secret_bytes(bytes).or_js()?,
        })
    }

    /// Number of sessions held.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// Seals `content` (a string is content type 0, bytes default to 1) for `peer`,
    /// whose bundle you have verified. Reuses the newest healthy session or starts one.
    pub fn seal(
        &mut self,
        me: &Identity,
        peer: &KeyBundle,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] content: JsValue,
        #[wasm_bindgen(js_name = contentType)] content_type: Option<u8>,
        now: Option<f64>,
    ) -> Result<SealedMessageJs, JsValue> {
        let (ct, bytes) = read_content(&content, content_type)?;
        let s = self
            .inner
            .seal(&mut rng(), &me.inner, &peer.inner, ct, &bytes, now_or(now))
            .or_js()?;
        let out = SealedOut {
            recipient: s.recipient.to_hex(),
            envelope: Bytes(s.envelope),
            message_id: hex(&s.message_id),
            new_session: s.new_session,
        };
        Ok(to_js(&out)?.unchecked_into())
    }

    /// Opens an envelope addressed to `me` (session message, session set-up or one-shot
    /// sealed envelope). State changes only on success. Throws `DECRYPT_FAILED`,
    /// `REPLAY` or `MALFORMED`.
    ///
    /// The result names the sender's identity key: check it against the contact you
    /// pinned (or the directory) before trusting `sender`.
    pub fn open(
        &mut self,
        me: &Identity,
        envelope: &[u8],
        now: Option<f64>,
    ) -> Result<OpenedMessageJs, JsValue> {
        let opened = self
            .inner
            .open(&mut rng(), &me.inner, envelope, now_or(now))
            .or_js()?;
        Ok(to_js(&OpenedOut::from_core(opened))?.unchecked_into())
    }

    /// Forgets sessions unused for 90 days.
    pub fn prune(&mut self, now: Option<f64>) {
        self.inner.prune(now_or(now));
    }

    /// Forgets every session with `userId` (after their identity key changed).
    #[wasm_bindgen(js_name = forgetPeer)]
    pub fn forget_peer(
        &mut self,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
    ) -> Result<(), JsValue> {
        self.inner.forget_peer(&parse_user_id(user_id)?);
        Ok(())
    }
}

#[wasm_bindgen]
extern "C" {
    /// TS type of a sealed message.
    #[wasm_bindgen(typescript_type = "SealedMessage")]
    pub type SealedMessageJs;
    /// TS type of an opened message.
    #[wasm_bindgen(typescript_type = "OpenedMessage")]
    pub type OpenedMessageJs;
    /// TS type of backup parameters.
    #[wasm_bindgen(typescript_type = "BackupParams")]
    pub type BackupParamsJs;
}

/// Seals one signed, RSA-wrapped envelope to each recipient bundle (groups, several
/// devices). Costs one RSA signature plus one RSA encryption per recipient; use a
/// [`SessionStore`] for conversations. Returns one `{recipient, envelope, ...}` per
/// recipient.
#[wasm_bindgen(js_name = sealToMany, unchecked_return_type = "SealedMessage[]")]
pub fn seal_to_many(
    me: &Identity,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] bundles: Vec<js_sys::Uint8Array>,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] content: JsValue,
    #[wasm_bindgen(js_name = contentType)] content_type: Option<u8>,
    now: Option<f64>,
) -> Result<JsValue, JsValue> {
    let (ct, bytes) = read_content(&content, content_type)?;
    let parsed = bundles
        .iter()
        .map(|b| core::KeyBundle::from_bytes(&b.to_vec()))
        .collect::<core::Result<Vec<_>>>()
        .or_js()?;
    let refs: Vec<&core::KeyBundle> = parsed.iter().collect();
    let sealed = core::seal(&mut rng(), &me.inner, &refs, ct, &bytes, now_or(now)).or_js()?;
    let out: Vec<SealedOut> = sealed
        .into_iter()
        .map(|s| SealedOut {
            recipient: s.recipient.to_hex(),
            envelope: Bytes(s.envelope),
            message_id: hex(&s.message_id),
            new_session: s.new_session,
        })
        .collect();
    to_js(&out)
}

/// The safety number two people compare to rule out a man in the middle.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SafetyNumber {
    inner: core::SafetyNumber,
}

#[wasm_bindgen]
impl SafetyNumber {
    /// Computes it from two `(userId, identityKey)` pairs, in either order.
    pub fn compute(
        #[wasm_bindgen(js_name = userIdA)] user_id_a: &str,
        #[wasm_bindgen(js_name = identityKeyA)] key_a: &[u8],
        #[wasm_bindgen(js_name = userIdB)] user_id_b: &str,
        #[wasm_bindgen(js_name = identityKeyB)] key_b: &[u8],
    ) -> Result<SafetyNumber, JsValue> {
        let a = core::IdentityPublicKey::from_spki_der(key_a).or_js()?;
        let b = core::IdentityPublicKey::from_spki_der(key_b).or_js()?;
        Ok(SafetyNumber {
            inner: core::SafetyNumber::new(
                &parse_user_id(user_id_a)?,
                &a,
                &parse_user_id(user_id_b)?,
                &b,
            ),
        })
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

/// Keys derived from a password for the key backup (PBKDF2, 600 000 iterations by
/// default: about a second in WebAssembly, so use a Web Worker). The key-encryption key
/// never leaves wasm memory; `authToken` is what the relay checks before it hands the
/// backup out.
#[wasm_bindgen]
#[derive(Debug)]
pub struct BackupKeys {
    pub(crate) keys: backup::BackupKeys,
    pub(crate) params: backup::BackupParams,
    pub(crate) user_id: UserId,
}

#[wasm_bindgen]
impl BackupKeys {
    /// Fresh parameters (random salt) for a new backup of `userId`. The password is
    /// NFC-normalized first.
    pub fn create(
        password: &str,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
        iterations: Option<u32>,
    ) -> Result<BackupKeys, JsValue> {
        let user_id = parse_user_id(user_id)?;
        let params = backup::BackupParams::generate(
            &mut rng(),
            iterations.unwrap_or(backup::MIN_ITERATIONS),
        )
        .or_js()?;
        let keys = backup::BackupKeys::derive(password, &user_id, &params).or_js()?;
        Ok(BackupKeys {
            keys,
            params,
            user_id,
        })
    }

    /// Derives the keys for an existing backup from its blob or its 54-byte public
    /// header (`GET /v1/users/{id}/backup/params`).
    #[wasm_bindgen(js_name = forBlob)]
    pub fn for_blob(password: &str, header: &[u8]) -> Result<BackupKeys, JsValue> {
        let (user_id, params) = backup::BackupParams::from_blob(header).or_js()?;
        let keys = backup::BackupKeys::derive(&nfc(password), &user_id, &params).or_js()?;
        Ok(BackupKeys {
            keys,
            params,
            user_id,
        })
    }

    /// The token for `PUT .../backup` and `POST .../backup/fetch`. It proves knowledge
    /// of the password to the relay: treat it as a secret, send it only to the relay.
    #[wasm_bindgen(getter, js_name = authToken)]
    pub fn auth_token(&self) -> Vec<u8> {
        self.keys.auth_token().to_vec()
    }

    /// The user id the keys were derived for.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.user_id.to_hex()
    }
}

/// Passwords are used as the UTF-8 bytes of their NFC form, so the same password typed
/// on another system derives the same keys.
pub(crate) fn nfc(password: &str) -> zeroize::Zeroizing<String> {
    let s = js_sys::JsString::from(password).normalize("NFC");
    zeroize::Zeroizing::new(s.as_string().unwrap_or_else(|| password.to_owned()))
}

/// Reads the public header of a backup blob: user id, salt, iteration count.
#[wasm_bindgen(js_name = readBackupParams)]
pub fn read_backup_params(header: &[u8]) -> Result<BackupParamsJs, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        user_id: String,
        salt: Bytes,
        iterations: u32,
    }
    let (user_id, p) = backup::BackupParams::from_blob(header).or_js()?;
    Ok(to_js(&Params {
        user_id: user_id.to_hex(),
        salt: Bytes(p.salt.to_vec()),
        iterations: p.iterations,
    })?
    .unchecked_into())
}

/// SHA-256 of `bytes` (64 hex digits), e.g. to fingerprint an SPKI key.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
