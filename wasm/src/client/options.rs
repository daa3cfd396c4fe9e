//! The options of `Client.register`/`login`/`startLink` and the TypeScript shapes of
//! what the client hands to JS.

use js_sys::Function;
use sealpost_core::Username;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::error::{OrJs, invalid};
use crate::now_or;
use crate::storage::StorageJs;

#[wasm_bindgen(typescript_custom_section)]
const TS_CLIENT: &'static str = r#"
/** Options of `Client.register`, `Client.login` and `Client.startLink`. */
export interface ClientOptions {
  /** Relay base URL, e.g. `"https://relay.example"`; `""` for the page's own origin. */
  relayUrl: string;
  /** Where state is persisted (encrypted): `await IndexedDbStorage.open()` or `new MemoryStorage()`. */
  storage: SealpostStorage;
  /** RSA size for new keys (default 4096). */
  keySize?: KeySize;
  /** Key generation progress. */
  onProgress?: ProgressCallback;
  /** PBKDF2 iterations of the backup and the local vault (default and minimum 600000). */
  iterations?: number;
  /**
   * Acknowledge each message to the relay once it is decrypted and stored (default
   * true). With `false` the client keeps every delivered message (encrypted, in the
   * storage) until the app calls `ack([m.id])`, and gives the unacknowledged ones again
   * after the next login: an app that stores messages itself loses none in a crash.
   */
  autoAck?: boolean;
  /** Kept for compatibility: the client rotates its device keys by itself. */
  autoRotate?: boolean;
  /** Open the WebSocket right away (default true); otherwise call `connect()`. */
  connect?: boolean;
  /**
   * Send deposits over one anonymous WebSocket to the relay (`/v2/deposits`, default
   * true): cheaper than a request per message. Whenever that socket cannot be used, a
   * deposit falls back to an HTTP POST. `false` always POSTs.
   */
  depositSocket?: boolean;
  /**
   * An account is open in one tab (or worker) of a browser at a time (a Web Lock named
   * `"sealpost:" + userId`, where the browser has Web Locks). When it is open elsewhere,
   * `login`/`register` throw `LOCKED`; with `takeOver: true` they close it there instead
   * (that client's `onError` gets `LOCKED` and its status becomes `"closed"`).
   */
  takeOver?: boolean;
  /**
   * Milliseconds to wait for the relay's answer to an HTTP request before it fails with
   * `NETWORK` (default 30000).
   */
  requestTimeout?: number;
  /**
   * Seconds `send` trusts its copy of a contact's (and its own account's) device list
   * before re-reading the directory (default 60; 0 = before every message), so a new
   * device is reached within a minute. `lookup` always re-reads it.
   */
  bundleMaxAge?: number;
  /**
   * This device's name in the account's device list (at most 64 bytes of UTF-8;
   * visible to the relay and to contacts). Default: the browser and OS.
   */
  deviceName?: string;
  /**
   * The engine's clock, in Unix milliseconds (default `Date.now`): the time it stamps
   * messages with and runs its timers by (re-sends, "may be missing" after an hour,
   * expiry, key rotation). For tests and simulations that need an hour to pass; the
   * relay's request signatures keep the real clock. Call `rotateKeys()` to run the
   * timers at once after moving it. `Client` only (a function does not reach a worker).
   */
  clock?: () => number;
  /**
   * `startLink` only: the password that encrypts this browser's copy of the account
   * (use the account's password, so that `login` unlocks it later).
   */
  password?: string;
}

/** A decrypted incoming message (or a copy of one this account sent from another device). */
export interface IncomingMessage {
  /** Pass it to `ack` when `autoAck` is off (the message id). */
  id: string;
  /** The message id (32 hex digits), chosen by its sender, stable across re-sends. */
  msgId: string;
  /** Same as `msgId` (the sender's `SendResult.messageId`). */
  messageId: string;
  /** Sender user id. */
  from: string;
  /** Sender username (authenticated: it hashes to `from`). */
  fromUsername: string;
  /** The sending device (32 hex digits). */
  fromDevice: string;
  /** The thread: the sender's user id, or for `own` messages the contact it was sent to. */
  conversation: string;
  /** A copy of a message this account sent from another of its devices. */
  own: boolean;
  /** Whether you marked the sender's safety number as compared (always true for `own`). */
  verified: boolean;
  /**
   * A message request: the sender is a stranger (it wrote first; you have not looked it
   * up, written to it or marked it). Replying makes it a contact.
   */
  request: boolean;
  /**
   * What the content is (PROTOCOL.md 28): `"text"` and `"file"` (content types 0 and 2,
   * or 3 with `replyTo`/`expiresIn`), `"bytes"` (1), `"edit"`, `"delete"`, `"reaction"`
   * (apply them with `checkAmendment`), `"read"` (opt-in read receipt, see
   * `readApplies`), `"typing"`, `"timer"`, or `"unknown"` (a type this version cannot
   * show: say so, never show the bytes as text).
   */
  kind: "text" | "file" | "bytes" | "edit" | "delete" | "reaction" | "read" | "typing" | "timer" | "unknown";
  /** The text of a `"text"` message. */
  text?: string;
  /** `"edit"`: the new text of `target`. */
  newText?: string;
  /**
   * `"file"`: the manifest (`openAttachment`, `fileInfo`); for content type 2 the same
   * bytes as `content`, for a file post (3) the manifest inside it.
   */
  manifest?: Uint8Array;
  /** The message a text or file replies to (msg id). */
  replyTo?: string;
  /**
   * A disappearing text or file: seconds after sending (remove it at
   * `expiresAt(sentAt, receivedAt, expiresIn)`); `"timer"`: the conversation's new
   * disappearing time, 0 for off.
   */
  expiresIn?: number;
  /** `"edit"`, `"delete"`, `"reaction"`: the message acted on (msg id). */
  target?: string;
  /** `"read"`: the messages read (msg ids). */
  targets?: string[];
  /** `"reaction"`: the emoji, `""` when the sender took the reaction back. */
  emoji?: string;
  /** `"typing"`: started (true) or stopped. */
  active?: boolean;
  /** The plaintext bytes. */
  content: Uint8Array;
  /** 0 text, 1 bytes, 2 file, 3-9 conversation content (PROTOCOL.md 28). */
  contentType: number;
  /** Sender's clock (Unix seconds). */
  sentAt: number;
  /**
   * The sending device's number for the message (authenticated; for a group message
   * its chain's epoch and counter, PROTOCOL.md 27.6; 0 from an older version). Show one
   * device's (`fromDevice`) messages by `(sentAt, seq)`: the relay may hand them over in
   * any order, and `sentAt` counts whole seconds (PROTOCOL.md 18.2).
   */
  seq: number;
  /** When this device opened it (Unix seconds). */
  receivedAt: number;
  /** A group message's group id (hex); `conversation` is the group then. */
  group?: string;
}

/** A contact (a pinned identity key). */
export interface ContactInfo {
  username?: string;
  userId: string;
  /** SHA-256 of the identity key (hex). */
  fingerprint: string;
  /** The 60-digit safety number between you and the contact, in groups of five. */
  safetyNumber: string;
  /** Whether you marked the safety number as compared (`setVerified`). */
  verified: boolean;
  /**
   * The name you gave the contact on any of your devices (`setContactName`), as typed:
   * clean it before showing it (it may hold control or direction characters). `''` once
   * you removed it; absent if you never named it (so a name your app kept before can
   * still be shared with `setContactName`).
   */
  name?: string;
  /** What to show as a QR code for the contact to scan (`matchesQr` checks theirs). */
  qrPayload: Uint8Array;
}

/** Options of `send`. */
export interface SendOptions {
  /**
   * Makes the send retryable: a `send` with a key already used (on this storage, for 7
   * days) sends no new message: it waits for the first one's deposits, or resolves to
   * its delivery state. A key reused for other content or another recipient is
   * `INVALID_ARGUMENT`. Use your own message id.
   */
  idempotencyKey?: string;
  /** `send` of text (or a file manifest): the message it replies to (msg id). */
  replyTo?: string;
  /**
   * `send` of text (or a file manifest): seconds (5 to 31536000) after which every
   * device removes it. Use the conversation's timer (`setDisappearing`).
   */
  expiresIn?: number;
}

/** Options of `sendToGroup`. */
export interface GroupSendOptions {
  /**
   * Makes the send retryable, as in `SendOptions`: a `sendToGroup` with a key already
   * used sends no new message and resolves to the first one's id. Use your own message id.
   */
  idempotencyKey?: string;
}

/** What `checkAmendment` and `readApplies` need of a stored message. */
export interface StoredTarget {
  /** Its author's user id (yours for messages you sent). */
  author: string;
  /** The conversation (the other party's user id). */
  conversation: string;
  /** Its `sentAt` (author's clock, Unix seconds). */
  sentAt: number;
  /** Whether it is text (only text is edited). */
  isText: boolean;
  /** Whether it was deleted for everyone. */
  deleted: boolean;
}

/** The result of `send`: the message is on the relay for `total` devices. */
export interface SendResult {
  messageId: string;
  /** Devices (of the recipient and your own other devices) that opened it so far. */
  delivered: number;
  /** Devices it was sealed to. */
  total: number;
  /**
   * When the message was stamped (Unix seconds), as its recipients see it: what decides
   * between two edits, reactions or timers of one conversation (the later stamp; in the
   * same second, the larger message id). Absent only for a retry of a keyed message whose
   * every device already receipted it.
   */
  sentAt?: number;
}

/** A sent message's delivery state changed (`onDelivery`). */
export interface DeliveryEvent {
  messageId: string;
  delivered: number;
  total: number;
}

/** Something the user should know that is not a message (`onNotice`); never message text. */
export interface NoticeEvent {
  kind: "couldNotDecrypt" | "mayBeMissing" | "security" | "notDelivered" | "groupChanged" | "groupRefused" | "contactChanged" | "unreachable";
  /** The user id concerned (sender, contact), when known. */
  from?: string;
  /** Its username, when known. */
  fromUsername?: string;
  /** The thread it belongs to (a contact's user id), when known. */
  conversation?: string;
  /** The device concerned (mayBeMissing). */
  device?: string;
  /** How many messages may be missing (mayBeMissing). */
  count?: number;
  /** The message that no device received (notDelivered). */
  messageId?: string;
  /** For `security`: what happened. */
  security?: "identityMismatch" | "identityChanged" | "badDirectory" | "unknownDevice" | "forgedPayload" | "deviceRevoked";
  /**
   * For `couldNotDecrypt`: `true` when the client gave up on the blob (acknowledged: it
   * will not come again; a message it carried is lost unless its sender re-sends it),
   * `false` when the blob stays on the relay and is tried again (a later notice for the
   * same `blobId` may say `true`, or the message may still arrive).
   */
  gaveUp?: boolean;
  /** For `couldNotDecrypt`: the relay blob, to tell repeated notices about one blob apart. */
  blobId?: string;
  /** For `groupChanged` and `groupRefused`: the group (hex). */
  group?: string;
  /** For `groupRefused`: the stable code (docs/PROTOCOL.md 27.8), e.g. `GROUP_NOT_MEMBER`. */
  code?: "MALFORMED" | "BAD_SIGNATURE" | "GROUP_WRONG_GROUP" | "GROUP_OLD_EPOCH" | "GROUP_EPOCH_AHEAD" | "GROUP_NOT_MEMBER" | "GROUP_NOT_ADMIN" | "GROUP_INVALID_OPERATION" | "GROUP_WRONG_SENDER" | "GROUP_NO_SENDER_KEY" | "DECRYPT_FAILED" | "REPLAY" | "EXPIRED" | "TOO_LARGE" | "CRYPTO" | "GROUP_USERNAME_MISMATCH" | "GROUP_FORKED" | "GROUP_OLD_FORMAT" | "GROUP_TOO_OLD";
  /** For `groupChanged`: what changed; `from` is the member who changed it. */
  change?: "create" | "add" | "remove" | "leave" | "rename" | "promote" | "demote" | "rekey";
  /** For `groupChanged`: the members added, removed, promoted or demoted (user ids). */
  members?: string[];
  /** For `groupChanged` (`create`, `rename`): the group's name. */
  name?: string;
  /** For `groupChanged`: the group's epoch after the change. */
  epoch?: number;
  /** Plain words for the user. */
  detail: string;
  /** When (Unix seconds). */
  at: number;
}

/** A group this device is in (`groups()`). */
export interface GroupInfo {
  /** The group id (hex); group messages carry it as `group` and `conversation`. */
  id: string;
  name: string;
  /** How many changes the group has seen (1 after its creation). */
  epoch: number;
  members: {
    userId: string;
    /** The member's username as the group state names it, checked against its user id by
     * every member (PROTOCOL.md 27.2), so a member who is not a contact has its name too.
     * Absent only for a member added before states carried usernames (an older group)
     * whom this client does not know as a contact. */
    username?: string;
    /** SHA-256 of the member's identity key (hex), as the admin who added it pinned it. */
    fingerprint: string;
    admin: boolean;
  }[];
}

/** One device of the account (`devices()`). */
export interface DeviceInfo {
  id: string;
  name: string;
  /** When it was added (Unix seconds). */
  addedAt: number;
  /** Its last relay access, rounded down to 5 minutes (Unix seconds), or null. */
  lastSeen: number | null;
  /** This device. */
  current: boolean;
}

/** Connection state of the incoming-message WebSocket. */
export type ConnectionStatus = "connecting" | "online" | "offline" | "closed";

/** Errors that happen in the background (storage, connection, revocation). */
export interface ClientErrorEvent {
  code: SealpostErrorCode;
  message: string;
  /** The relay blob that caused it. */
  blobId?: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsJs;
    #[wasm_bindgen(typescript_type = "ContactInfo")]
    pub type ContactInfoJs;
    #[wasm_bindgen(typescript_type = "SendResult")]
    pub type SendResultJs;
    #[wasm_bindgen(typescript_type = "SendOptions")]
    pub type SendOptionsJs;
    #[wasm_bindgen(typescript_type = "GroupSendOptions")]
    pub type GroupSendOptionsJs;
}

/// Default `ClientOptions.requestTimeout` (milliseconds).
const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// The checked `ClientOptions`.
pub(crate) struct Options {
    pub(crate) relay: String,
    pub(crate) storage: StorageJs,
    pub(crate) key_size: Option<u32>,
    pub(crate) on_progress: Option<Function>,
    pub(crate) iterations: Option<u32>,
    pub(crate) auto_ack: bool,
    pub(crate) connect: bool,
    pub(crate) deposit_socket: bool,
    pub(crate) take_over: bool,
    pub(crate) request_timeout: u32,
    pub(crate) device_name: String,
    pub(crate) bundle_max_age: u64,
    pub(crate) password: Option<Zeroizing<String>>,
    pub(crate) clock: Option<Function>,
    /// `login` only: the keys a session kept, instead of the password (`Client.resume`
    /// in the package's JS; see `session.rs`).
    pub(crate) session: Option<Zeroizing<Vec<u8>>>,
}

pub(crate) fn get(o: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

impl Options {
    /// The checked arguments of `register` and `login` (the password zeroized on drop).
    pub(crate) fn begin(
        password: String,
        options: &JsValue,
        username: &str,
    ) -> Result<(Zeroizing<String>, Options, Username), JsValue> {
        let password = Zeroizing::new(password);
        Ok((
            password,
            Options::read(options)?,
            Username::parse(username).or_js()?,
        ))
    }

    pub(crate) fn read(o: &JsValue) -> Result<Self, JsValue> {
        if !o.is_object() {
            return Err(invalid("options must be an object"));
        }
        let relay = get(o, "relayUrl")
            .as_string()
            .ok_or_else(|| invalid("options.relayUrl must be a string"))?;
        let storage = get(o, "storage");
        if !storage.is_object() {
            return Err(invalid(
                "options.storage must implement get/set/delete/setMany",
            ));
        }
        // Every batch of state is one `setMany` (all or none): stored one `set` after
        // another, a tab closed in between loses a message (see `SealpostStorage`).
        if !get(&storage, "setMany").is_function() {
            return Err(invalid(
                "options.storage must implement setMany (all or none)",
            ));
        }
        let num = |k: &str| get(o, k).as_f64().map(|v| v as u32);
        let device_name = match get(o, "deviceName").as_string() {
            Some(n) => truncate_utf8(&n, sealpost_core::v2::MAX_DEVICE_NAME_LEN),
            None => default_device_name(),
        };
        Ok(Options {
            relay: relay.trim_end_matches('/').to_owned(),
            storage: storage.unchecked_into(),
            key_size: num("keySize"),
            on_progress: get(o, "onProgress").dyn_into::<Function>().ok(),
            iterations: num("iterations"),
            auto_ack: get(o, "autoAck").as_bool().unwrap_or(true),
            connect: get(o, "connect").as_bool().unwrap_or(true),
            deposit_socket: get(o, "depositSocket").as_bool().unwrap_or(true),
            take_over: get(o, "takeOver").as_bool().unwrap_or(false),
            request_timeout: get(o, "requestTimeout")
                .as_f64()
                .filter(|v| *v >= 1.0)
                .map_or(REQUEST_TIMEOUT_MS, |v| v.min(f64::from(u32::MAX)) as u32),
            device_name,
            bundle_max_age: get(o, "bundleMaxAge")
                .as_f64()
                .filter(|v| *v >= 0.0)
                .map_or(60, |v| v as u64),
            password: get(o, "password").as_string().map(Zeroizing::new),
            clock: get(o, "clock").dyn_into::<Function>().ok(),
            session: get(o, "sessionKeys")
                .dyn_into::<js_sys::Uint8Array>()
                .ok()
                .map(|b| Zeroizing::new(b.to_vec())),
        })
    }

    /// The engine's time now (see [`clock_now`]).
    pub(crate) fn now(&self) -> u64 {
        clock_now(self.clock.as_ref())
    }

    /// Reports key generation progress.
    pub(crate) fn progress(&self, done: u32, total: u32) {
        if let Some(f) = &self.on_progress {
            let _ = f.call2(&JsValue::NULL, &done.into(), &total.into());
        }
    }
}

/// `clock()` (`ClientOptions.clock`, Unix milliseconds) in Unix seconds; the real clock
/// without one, or when it returns no positive finite number.
pub(crate) fn clock_now(clock: Option<&Function>) -> u64 {
    let ms = clock
        .and_then(|f| f.call0(&JsValue::NULL).ok())
        .and_then(|v| v.as_f64())
        .filter(|v| v.is_finite() && *v >= 1000.0);
    now_or(ms.map(|ms| ms / 1000.0))
}

/// The longest prefix of `s` that fits in `max` bytes of UTF-8.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// "Chrome on Linux" and the like, from `navigator.userAgent` ("Browser" elsewhere).
fn default_device_name() -> String {
    let ua = get(&get(&js_sys::global(), "navigator"), "userAgent")
        .as_string()
        .unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("Node.js", "Node.js"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map_or("Browser", |(_, v)| v);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}
