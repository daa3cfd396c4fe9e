export * from './web/sealpost_wasm.js';
export * from './rooms.js';
import type { InitInput } from './web/sealpost_wasm.js';

/**
 * Loads and instantiates the WebAssembly module; call (and await) it once before
 * anything else. Idempotent. In browsers `input` defaults to `sealpost_wasm_bg.wasm`
 * next to the glue; in Node.js the module is loaded on import and this resolves at once.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;

import type { AttachmentInfo, ClientOptions, IncomingMessage, SendResult } from './web/sealpost_wasm.js';

/** Progress of a file transfer, in file bytes. */
export interface FileProgress {
  done: number;
  total: number;
  /** True while the transfer waits for the network or the relay (it resumes by itself). */
  waiting?: boolean;
}

/** `client.sendFile` options. */
export interface SendFileOptions {
  /** Default: `file.name`, else "file". */
  name?: string;
  /** Default: `blob.type`, else "application/octet-stream". */
  mediaType?: string;
  /** Required for a ReadableStream: its exact length in bytes. */
  size?: number;
  /** Images: a small preview carried in the (encrypted) manifest. */
  thumbnail?: { mediaType: string; bytes: Uint8Array };
  /** Voice notes. */
  durationMs?: number;
  onProgress?: (p: FileProgress) => void;
  /** Cancels the transfer: it rejects with `CANCELLED`. */
  signal?: AbortSignal;
  /**
   * 32 random bytes to encrypt the file under (default: a fresh key). Secret, like the
   * manifest. Kept by the app while the upload is under way, the same key and file give
   * the same chunks: after the page closed mid-upload, upload again with it and `resume`.
   */
  fileKey?: Uint8Array;
  /** Looks for each chunk on the relay first (HEAD) and uploads only those it lacks. */
  resume?: boolean;
  /**
   * The file's SHA-256 (32 bytes, `fileDigest`) as it was when its upload began: with
   * `resume`, another file (even of the same size) is refused with `FILE_MISMATCH`
   * before anything is sent (a Blob is read once more for it); any file that turns out
   * to differ once read (changed meanwhile, or a stream) is refused before any message.
   */
  sha256?: Uint8Array;
  /**
   * Makes the message's send exactly-once across retries, also after a crash (see
   * `SendOptions.idempotencyKey`): `sendFile` keys each recipient's send with it,
   * `sendFileToGroup` the group message.
   */
  idempotencyKey?: string;
  /** `sendFile`: the message it replies to (msg id); see `SendOptions.replyTo`. */
  replyTo?: string;
  /** `sendFile`: the conversation's disappearing time (seconds); see `SendOptions.expiresIn`. */
  expiresIn?: number;
}

/** What `sendFileToGroup` did: one upload, then one group message (content type 2). */
export interface SendFileToGroupResult {
  /** The message content (content type 2). Secret: it holds the file key. */
  manifest: Uint8Array;
  /** The group message's id (`onDelivery` counts the members that have it). */
  messageId: string;
}

/** What `sendFile` did: one upload, then the manifest sent to every recipient. */
export interface SendFileResult {
  /** The message content (content type 2). Secret: it holds the file key. */
  manifest: Uint8Array;
  /** One entry per recipient, in order; `error` is a code when that send failed. */
  sent: Array<{ to: string; error?: string } & Partial<SendResult>>;
}

/** `client.openAttachment` options. */
export interface OpenAttachmentOptions {
  onProgress?: (p: FileProgress) => void;
  signal?: AbortSignal;
}

/** The relay's file limits. */
export interface FileLimits {
  /** Largest file the relay takes (bytes of the file). */
  maxFileBytes: number;
  /** How long a file stays on the relay after its upload (seconds). */
  chunkTtlSecs: number;
}

declare module './web/sealpost_wasm.js' {
  namespace Client {
    /**
     * Opens the account stored in `options.storage` with what `exportSession` returned and
     * the same non-extractable AES-GCM `wrapKey`, without the password (no PBKDF2).
     * Throws `DECRYPT_FAILED` for another key or altered bytes, `NOT_FOUND` when the
     * account is not stored there, `LOCKED` like `login`.
     */
    function resume(options: ClientOptions, username: string, wrapKey: CryptoKey, sealed: Uint8Array): Promise<Client>;
  }
  interface Client {
    /**
     * Seals this account's password-derived keys under `wrapKey` (an AES-GCM `CryptoKey`
     * generated with `extractable: false`; `INVALID_ARGUMENT` otherwise) for
     * `Client.resume`: keep the result and the key apart; delete the key to end the session.
     */
    exportSession(wrapKey: CryptoKey): Promise<Uint8Array>;
    /** Incoming messages as an async iterator, until `logout`: `for await (const m of client.messages())`. */
    messages(): AsyncGenerator<IncomingMessage, void, undefined>;
    /**
     * Encrypts a file chunk by chunk and uploads each chunk once (resuming after network
     * losses, skipping what the relay has); resolves with its manifest, the content of a
     * message (content type 2) that shares it: what a group sends to all its members.
     */
    uploadFile(file: Blob | ReadableStream<Uint8Array>, options?: SendFileOptions): Promise<Uint8Array>;
    /** `fileInfo` of a manifest (for `RemoteClient`, whose page loads no wasm). */
    fileInfo(manifest: Uint8Array): AttachmentInfo;
    /**
     * `uploadFile`, then sends its manifest (content type 2) to every recipient: one
     * upload for any number of them. With `replyTo` or `expiresIn` the manifest goes
     * as a file post (content type 3, PROTOCOL.md 28.2). Throws `FILE_TOO_LARGE`,
     * `FILE_INVALID_INFO`, `FILE_MISMATCH` (see `sha256`), `CANCELLED`, relay errors; a failed send after the upload
     * carries `sent` and `manifest` (re-send the manifest with `send`).
     */
    sendFile(to: string | string[], file: Blob | ReadableStream<Uint8Array>, options?: SendFileOptions): Promise<SendFileResult>;
    /**
     * `uploadFile`, then its manifest to every member of `group` as one group message
     * (content type 2, like `sendToGroup`): one upload and one ciphertext whatever the
     * group's size. Throws `NOT_GROUP_MEMBER` before uploading anything when this device
     * is not in the group, the errors of `uploadFile` and `sendToGroup` (a failed send
     * after the upload carries `manifest`: send it with `sendToGroup`).
     */
    sendFileToGroup(group: string, file: Blob | ReadableStream<Uint8Array>, options?: SendFileOptions): Promise<SendFileToGroupResult>;
    /**
     * Fetches, checks and decrypts a received file (a message of kind `"file"`: content
     * type 2, or a file post with its `manifest`; or the manifest itself). Resolves only once every check passed; `INTEGRITY_*` means the file was
     * altered (never show it), `FILE_EXPIRED` that the relay no longer has it.
     */
    openAttachment(message: IncomingMessage | Uint8Array, options?: OpenAttachmentOptions): Promise<Blob>;
    /**
     * SHA-256 of a file (32 bytes), read slice by slice in the worker: the digest its
     * manifest will carry. Keep it with an upload that may be resumed after a reload
     * and pass it as `sha256` then.
     */
    fileDigest(file: Blob, options?: OpenAttachmentOptions): Promise<Uint8Array>;
    /** The relay's file size limit and expiry. */
    fileLimits(): Promise<FileLimits>;
  }
}
