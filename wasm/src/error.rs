//! JS errors with a stable `code`.

use sealpost_core::v2::attachment::FileError;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERRORS: &'static str = r#"
/** Stable error codes: `err.code` of every error the package throws. */
export type SealpostErrorCode =
  | "INVALID_USERNAME" | "MALFORMED" | "INVALID_KEY" | "BAD_SIGNATURE" | "DECRYPT_FAILED"
  | "REPLAY" | "EXPIRED" | "STALE" | "TOO_LARGE" | "WRONG_PASSWORD" | "WEAK_PARAMETERS"
  | "CRYPTO" | "INVALID_ARGUMENT" | "STORAGE" | "NETWORK" | "RELAY" | "NOT_FOUND"
  | "ALREADY_REGISTERED" | "UNAUTHORIZED" | "IDENTITY_CHANGED" | "CLOSED" | "LOCKED"
  | "RATE_LIMITED" | "DEVICE_LIMIT" | "LINK_EXPIRED" | "LINK_REFUSED" | "DEVICE_REVOKED"
  | "DIRECT_FINGERPRINT_MISMATCH" | "DIRECT_NOT_ALLOWED" | "DIRECT_NO_DEVICES"
  | "NOT_GROUP_MEMBER" | "NOT_GROUP_ADMIN" | "INVALID_GROUP_OPERATION"
  | "FILE_TOO_LARGE" | "FILE_INCOMPLETE" | "FILE_INVALID_INFO" | "FILE_EXPIRED" | "CANCELLED"
  | "FILE_MISMATCH"
  | "INTEGRITY_CHUNK_ADDRESS" | "INTEGRITY_CHUNK" | "INTEGRITY_EXTENDED" | "INTEGRITY_TRUNCATED"
  | "INTEGRITY_HASH"
  | "WRONG_CODE" | "NOT_IN_ROOM" | "NO_SUCH_MEMBER" | "ROOM_NOT_FOUND" | "ROOM_LOCKED"
  | "ROOM_BUSY" | "ROOM_FULL" | "ROOM_CLOSED" | "JOIN_TIMEOUT";

/** Every error thrown by the package: a JS `Error` named `SealpostError` with a `code`. */
export interface SealpostError extends Error {
  name: "SealpostError";
  code: SealpostErrorCode;
  /** HTTP status, for errors the relay answered (`RELAY`, `RATE_LIMITED`, ...). */
  status?: number;
  /**
   * Seconds the relay asked to wait before trying again (its `Retry-After`): on
   * `RATE_LIMITED` (429: too many requests, or too many wrong passwords for an account)
   * and on a `RELAY` 503 (the relay is shedding load). Both are worth retrying; so is
   * `NETWORK`.
   */
  retryAfter?: number;
  /**
   * Files: the chunk (0-based) an `INTEGRITY_CHUNK_ADDRESS` or `INTEGRITY_CHUNK` is about.
   * Every `INTEGRITY_*` code means the bytes are not the ones the sender made: the file
   * was altered (by the relay, the network or its sender) and must not be shown.
   */
  index?: number;
  /** For `IDENTITY_CHANGED`: the contact's new key, to show before the user accepts it. */
  details?: IdentityChangedDetails;
}

/** `details` of an `IDENTITY_CHANGED` error. */
export interface IdentityChangedDetails {
  userId: string;
  username?: string;
  /** SHA-256 of the new identity key (hex). */
  fingerprint: string;
  /** The 60-digit safety number with the new key, in groups of five. */
  safetyNumber: string;
  /** Fingerprint of the pinned (old) key. */
  previousFingerprint: string;
}
"#;

/// Every error code the package throws (`err.code`), as listed in `SealpostErrorCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Not a valid username.
    InvalidUsername,
    /// Bytes that do not parse.
    Malformed,
    /// A key that does not parse or has the wrong size.
    InvalidKey,
    /// A signature that does not verify.
    BadSignature,
    /// A message or stored value that does not decrypt.
    DecryptFailed,
    /// Already seen.
    Replay,
    /// Too old, or keys past their time.
    Expired,
    /// Not newer than what the relay has.
    Stale,
    /// Over a size limit.
    TooLarge,
    /// The password does not open the backup or the local vault.
    WrongPassword,
    /// Parameters below the minimum (iterations, password length).
    WeakParameters,
    /// A cryptographic primitive failed.
    Crypto,
    /// A bad argument from JS.
    InvalidArgument,
    /// The storage failed.
    Storage,
    /// The relay could not be reached (or did not answer in time).
    Network,
    /// The relay answered with an error.
    Relay,
    /// No such account (or contact, or device).
    NotFound,
    /// The username is taken.
    AlreadyRegistered,
    /// The relay refused the account's credentials.
    Unauthorized,
    /// A contact's identity key differs from the pinned one.
    IdentityChanged,
    /// Logged out.
    Closed,
    /// Open in another tab.
    Locked,
    /// The relay asks to wait (429).
    RateLimited,
    /// The account has its maximum number of devices (8): revoke one first.
    DeviceLimit,
    /// A device link code expired before the other device answered.
    LinkExpired,
    /// A device link was cancelled or refused on the other device.
    LinkRefused,
    /// This device was removed from the account by another device (or the password).
    DeviceRevoked,
    /// A direct channel was refused: the peer's signalling or DTLS certificate is not the
    /// one it sealed (someone rewrote signalling). Messages keep going through the relay.
    DirectFingerprintMismatch,
    /// Direct channels are only for engaged contacts (not strangers, not this account).
    DirectNotAllowed,
    /// No device of the contact is known to offer a direct channel to.
    DirectNoDevices,
    /// Not a member of the group (or not a contact, for a member to add).
    NotGroupMember,
    /// Only the group's admins may do that.
    NotGroupAdmin,
    /// A group change the rules do not allow (an existing member added, the last
    /// admin demoted, an invalid name).
    InvalidGroupOperation,
    /// A file over the size limit (2^30 bytes, or the relay's `maxFileBytes`), or a
    /// stream longer than its stated size.
    FileTooLarge,
    /// A stream that ended before its stated size.
    FileIncomplete,
    /// A file name, media type, thumbnail or duration outside PROTOCOL.md 26.4.
    FileInvalidInfo,
    /// Integrity: a chunk that is not the one the manifest names (the relay or the
    /// network served other bytes); `index` says which.
    IntegrityChunkAddress,
    /// Integrity: a chunk named by the manifest that does not open at its position (the
    /// sender made the file wrong); `index` says which.
    IntegrityChunk,
    /// Integrity: a chunk after the last one.
    IntegrityExtended,
    /// Integrity: the file ended before its last chunk.
    IntegrityTruncated,
    /// Integrity: the whole file's SHA-256 is not the manifest's.
    IntegrityHash,
    /// A file's chunks are gone from the relay: past its expiry (`410 chunk_expired`).
    FileExpired,
    /// The caller cancelled (`options.signal` of a file transfer).
    Cancelled,
    /// A file given to resume an upload (`options.sha256`) is not the one it began with:
    /// another file, even of the same size, never goes out under the first one's name.
    FileMismatch,
    /// A room join whose key confirmation failed: another code (PROTOCOL.md 30.3).
    WrongCode,
    /// Sending in a room this page left or that closed.
    NotInRoom,
    /// A room frame to a member who is not in the room.
    NoSuchMember,
    /// No room has this nameplate (it ended, or never existed).
    RoomNotFound,
    /// This address took too many failed joins on this room and is refused there.
    RoomLocked,
    /// The room took too many failed joins from all addresses for now: try later.
    RoomBusy,
    /// The room has 8 members (or 4 joins in progress).
    RoomFull,
    /// The room ended: its host left.
    RoomClosed,
    /// A room join the host did not answer in time (`--room-join-timeout-secs`): the host
    /// is away or its page stalled, which says nothing about the code.
    JoinTimeout,
}

impl Code {
    /// The stable string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::InvalidUsername => "INVALID_USERNAME",
            Code::Malformed => "MALFORMED",
            Code::InvalidKey => "INVALID_KEY",
            Code::BadSignature => "BAD_SIGNATURE",
            Code::DecryptFailed => "DECRYPT_FAILED",
            Code::Replay => "REPLAY",
            Code::Expired => "EXPIRED",
            Code::Stale => "STALE",
            Code::TooLarge => "TOO_LARGE",
            Code::WrongPassword => "WRONG_PASSWORD",
            Code::WeakParameters => "WEAK_PARAMETERS",
            Code::Crypto => "CRYPTO",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::Storage => "STORAGE",
            Code::Network => "NETWORK",
            Code::Relay => "RELAY",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyRegistered => "ALREADY_REGISTERED",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::IdentityChanged => "IDENTITY_CHANGED",
            Code::Closed => "CLOSED",
            Code::Locked => "LOCKED",
            Code::RateLimited => "RATE_LIMITED",
            Code::DeviceLimit => "DEVICE_LIMIT",
            Code::LinkExpired => "LINK_EXPIRED",
            Code::LinkRefused => "LINK_REFUSED",
            Code::DeviceRevoked => "DEVICE_REVOKED",
            Code::DirectFingerprintMismatch => "DIRECT_FINGERPRINT_MISMATCH",
            Code::DirectNotAllowed => "DIRECT_NOT_ALLOWED",
            Code::DirectNoDevices => "DIRECT_NO_DEVICES",
            Code::NotGroupMember => "NOT_GROUP_MEMBER",
            Code::NotGroupAdmin => "NOT_GROUP_ADMIN",
            Code::InvalidGroupOperation => "INVALID_GROUP_OPERATION",
            Code::FileTooLarge => "FILE_TOO_LARGE",
            Code::FileIncomplete => "FILE_INCOMPLETE",
            Code::FileInvalidInfo => "FILE_INVALID_INFO",
            Code::IntegrityChunkAddress => "INTEGRITY_CHUNK_ADDRESS",
            Code::IntegrityChunk => "INTEGRITY_CHUNK",
            Code::IntegrityExtended => "INTEGRITY_EXTENDED",
            Code::IntegrityTruncated => "INTEGRITY_TRUNCATED",
            Code::IntegrityHash => "INTEGRITY_HASH",
            Code::WrongCode => "WRONG_CODE",
            Code::NotInRoom => "NOT_IN_ROOM",
            Code::NoSuchMember => "NO_SUCH_MEMBER",
            Code::RoomNotFound => "ROOM_NOT_FOUND",
            Code::RoomLocked => "ROOM_LOCKED",
            Code::RoomBusy => "ROOM_BUSY",
            Code::RoomFull => "ROOM_FULL",
            Code::RoomClosed => "ROOM_CLOSED",
            Code::JoinTimeout => "JOIN_TIMEOUT",
            Code::FileExpired => "FILE_EXPIRED",
            Code::Cancelled => "CANCELLED",
            Code::FileMismatch => "FILE_MISMATCH",
        }
    }
}

/// Builds a `SealpostError` with a typed code.
pub(crate) fn err(code: Code, message: &str) -> JsValue {
    error(code.as_str(), message)
}

/// Builds `Error(message)` with `name = "SealpostError"` and `code`.
pub(crate) fn error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("SealpostError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

/// An error for a bad argument from JS.
pub(crate) fn invalid(message: &str) -> JsValue {
    err(Code::InvalidArgument, message)
}

/// Converts a core error into a JS error carrying [`sealpost_core::Error::code`].
pub(crate) fn core_error(e: sealpost_core::Error) -> JsValue {
    error(e.code(), &e.to_string())
}

/// A file error with its code (`INTEGRITY_*` for bytes that are not what the sender
/// made) and, for one chunk, its `index`.
pub(crate) fn file_error(e: FileError) -> JsValue {
    let code = match e {
        FileError::TooLarge => Code::FileTooLarge,
        FileError::Incomplete => Code::FileIncomplete,
        FileError::InvalidInfo => Code::FileInvalidInfo,
        FileError::ChunkAddress { .. } => Code::IntegrityChunkAddress,
        FileError::ChunkOpen { .. } => Code::IntegrityChunk,
        FileError::Extended => Code::IntegrityExtended,
        FileError::Truncated => Code::IntegrityTruncated,
        FileError::PlaintextHash => Code::IntegrityHash,
        FileError::Malformed => Code::Malformed,
        _ => Code::Crypto,
    };
    // The code says it all (no Display: its formatting weighs on the module).
    let js = err(code, code.as_str());
    if let FileError::ChunkAddress { index } | FileError::ChunkOpen { index } = e {
        let _ = js_sys::Reflect::set(&js, &JsValue::from_str("index"), &JsValue::from(index));
    }
    js
}

/// [`core_error`], with `TOO_LARGE` said in the caller's words: a limit the caller
/// knows (the device limit, the size of a link's history).
pub(crate) fn core_error_too_large(e: sealpost_core::Error, code: Code, message: &str) -> JsValue {
    match e {
        sealpost_core::Error::TooLarge => err(code, message),
        e => core_error(e),
    }
}

/// `?`-friendly conversion of core results.
pub(crate) trait OrJs<T> {
    fn or_js(self) -> Result<T, JsValue>;
}

impl<T> OrJs<T> for sealpost_core::Result<T> {
    fn or_js(self) -> Result<T, JsValue> {
        self.map_err(core_error)
    }
}

/// Whether `e` is an error this package threw (it has a string `code`).
pub(crate) fn is_sealpost_error(e: &JsValue) -> bool {
    js_sys::Reflect::get(e, &JsValue::from_str("code"))
        .ok()
        .is_some_and(|c| c.is_string())
}

/// The `code` of an error this package threw.
pub(crate) fn code_of(e: &JsValue) -> Option<String> {
    js_sys::Reflect::get(e, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string())
}
