// What the UI needs from the messaging layer. The UI depends only on this file; the
// implementation in ./index.ts maps it onto the sealpost-wasm package.

/** Voice calls as the package hosts them on the page (sealpost-wasm/calls). */
export type { Calls, CallUpdate } from 'sealpost-wasm/calls';
import type { Calls, CallUpdate } from 'sealpost-wasm/calls';

export interface Progress {
  /** Short human text: "Generating your keys (1 of 2)". */
  label: string;
  done: number;
  total: number;
}

export interface SafetyInfo {
  /** 60 digits. */
  digits: string;
  /** Twelve groups of five digits. */
  display: string;
}

/** A contact as pinned by the package's Client (trust on first use). */
export interface PeerInfo {
  userId: string;
  username: string;
  /** SHA-256 of the identity key (64 hex): what is pinned. */
  fingerprint: string;
  verified: boolean;
  safety: SafetyInfo;
  /** The name the user gave it on any of its devices: '' once removed, absent if never named. */
  name?: string;
}

export interface Incoming {
  /** Relay blob id (for the ack). */
  blobId: string;
  /** Wire message id. */
  messageId: string;
  /** The message's id, chosen by its sender, stable across re-sends. */
  msgId: string;
  sender: string;
  /** Known when the sender is a contact. */
  senderUsername?: string;
  /** The sending device. */
  fromDevice: string;
  /**
   * The thread (a contact's user id). For a message from a contact, the sender; for
   * `own`, the contact it was sent to.
   */
  conversation: string;
  /** A copy of a message this account sent from another of its devices. */
  own: boolean;
  sentAt: number;
  /** The sending device's number for it: orders one device's messages of the same `sentAt` (0: none). */
  seq?: number;
  contentType: number;
  content: Uint8Array;
  text?: string;
  /** When this device opened it (s). */
  receivedAt?: number;
  /** What it is (PROTOCOL.md 28): "text", "edit", "delete", "reaction", "read", "typing", "timer", … */
  kind?: string;
  /** An edit's new text. */
  newText?: string;
  /** The message a text replies to. */
  replyTo?: string;
  /** A disappearing text's or file's seconds, or a timer's new setting (0 off). */
  expiresIn?: number;
  /** A file (kind "file"): its manifest, also inside a reply or a disappearing post. */
  manifest?: Uint8Array;
  /** The message an edit, deletion or reaction acts on. */
  target?: string;
  /** The messages a read receipt names. */
  targets?: string[];
  emoji?: string;
  /** Typing started (true) or stopped. */
  active?: boolean;
  /** A group message's group (32 hex); `conversation` is the group then. */
  group?: string;
}

/** What the package's rules need of an incoming message. */
export type RuleInput = Pick<Incoming, 'sender' | 'conversation' | 'sentAt' | 'contentType' | 'content'>;

/** What the package's rules need of a stored message (PROTOCOL.md 28.3). */
export interface StoredTarget {
  author: string;
  conversation: string;
  sentAt: number;
  isText: boolean;
  deleted: boolean;
}

/** Conversation content to send (PROTOCOL.md 28). */
export type Amend =
  | { kind: 'edit'; target: string; text: string }
  | { kind: 'delete'; target: string }
  | { kind: 'reaction'; target: string; emoji: string }
  | { kind: 'read'; targets: string[] }
  | { kind: 'typing'; active: boolean }
  | { kind: 'timer'; expiresIn: number };

/** Protocol v2: how many of the devices a message was sealed to have opened it. */
export interface Delivery {
  /** The message's id (`send`'s `messageId`). */
  messageId: string;
  delivered: number;
  total: number;
}

/**
 * Protocol v2: something the user should know about a conversation that is not a
 * message (never message text): one that could not be decrypted, one that may be
 * missing, or a security event (e.g. a message signed by a key other than the pinned one).
 */
export interface Notice {
  kind: 'undecryptable' | 'missing' | 'security' | 'notDelivered' | 'groupChanged' | 'groupRefused' | 'contactChanged' | 'unreachable';
  /** The contact's user id, when known. */
  peer?: string;
  username?: string;
  /** Plain words from the package, if any. */
  detail?: string;
  /** How many messages may be missing (`missing`). */
  count?: number;
  /** The sent message that reached none of the recipient's devices (`notDelivered`). */
  messageId?: string;
  /** Groups: the group, and who changed it (or whose change was refused). */
  group?: string;
  from?: string;
  /** `groupChanged`: create, add, remove, leave, rename, promote, demote, rekey. */
  change?: string;
  /** `groupChanged`: the members it names (user ids). */
  members?: string[];
  /** `groupChanged`: the group's name (create, rename). */
  name?: string;
  /** `groupRefused`: the stable code (PROTOCOL.md 27.8). */
  code?: string;
  /** ms */
  at: number;
}

/** A group this device is in, as the package holds it. */
export interface GroupInfo {
  /** 32 hex. */
  id: string;
  name: string;
  epoch: number;
  members: { userId: string; username?: string; fingerprint: string; admin: boolean }[];
}

/** A change to a group (admins, except `leave`). */
export type GroupChange =
  | { kind: 'add' | 'remove'; usernames: string[] }
  | { kind: 'promote' | 'demote'; username: string }
  | { kind: 'rename'; name: string }
  | { kind: 'leave' };

/** Protocol v2: one device of the account. */
export interface DeviceInfo {
  id: string;
  name: string;
  /** ms */
  addedAt: number;
  /** ms, when known */
  lastSeen?: number;
  /** This browser. */
  current: boolean;
}

/** On the old device: a link request read from the new device's code, waiting for the user. */
export interface LinkApproval {
  /** The name the new device gave itself. */
  deviceName: string;
  /** Adds the device, handing it the account (and `history`, when given). */
  confirm(history?: Uint8Array): Promise<void>;
  cancel(): Promise<void>;
}

/** On the new device: the code it shows, and the account once the old device confirmed. */
export interface PendingLink {
  /** 20 characters (base32). */
  code: string;
  /** What the QR code holds. */
  qrPayload: Uint8Array;
  /** Resolves once linked, with the history the old device sent (if any). */
  wait(): Promise<{ account: Account; history?: Uint8Array }>;
  cancel(): Promise<void>;
}

/** A file message as its manifest describes it (shown before anything is fetched). */
export interface FileMeta {
  name: string;
  mediaType: string;
  size: number;
  /** Images: a small preview the sender made. */
  thumbnail?: { mediaType: string; bytes: Uint8Array };
  /** Voice notes. */
  durationMs?: number;
}

/** A file transfer's progress, in file bytes; `waiting` while the network is away. */
export interface FileProgress {
  done: number;
  total: number;
  waiting?: boolean;
}

/** What the relay takes: the largest file (bytes) and how long files stay (seconds). */
export interface FileLimits {
  maxFileBytes: number;
  chunkTtlSecs: number;
}

export interface SendFileOptions {
  name: string;
  mediaType: string;
  thumbnail?: FileMeta['thumbnail'];
  durationMs?: number;
  onProgress(p: FileProgress): void;
  signal?: AbortSignal;
  /** The key to encrypt under (32 bytes): the same file gives the same chunks. */
  fileKey?: Uint8Array;
  /** Uploads only the chunks the relay lacks (a retry with the same `fileKey`). */
  resume?: boolean;
  /** The file's SHA-256 (`fileDigest`): another file is refused with FILE_MISMATCH, nothing sent. */
  sha256?: Uint8Array;
  /** The app's message id: a retry sends the message once (see `send`). */
  idempotencyKey?: string;
  /** 1:1 only: the message it replies to, and the conversation's disappearing time. */
  replyTo?: string;
  expiresIn?: number;
}

export type LinkState = 'connecting' | 'online' | 'offline';

export interface Handlers {
  /** Called once per incoming message, in order; the blob is acknowledged after it resolves. */
  onMessage(m: Incoming): Promise<void>;
  onLinkState(s: LinkState): void;
  /** Delivery progress of a sent message. */
  onDelivery(d: Delivery): void;
  /** Markers for the message list. */
  onNotice(n: Notice): void;
  /** A direct (browser-to-browser) channel with `peer` opened (true) or ended (false). */
  onDirect(peer: string, direct: boolean): void;
  /** A voice call changed state (ringing, connecting, connected, ended). */
  onCall(u: CallUpdate): void;
}

export interface Account {
  readonly username: string;
  readonly userId: string;
  readonly fingerprint: string;
  /** Looks up and pins a contact. Throws IDENTITY_CHANGED when the key differs from the pinned one. */
  lookup(username: string): Promise<PeerInfo>;
  /** A pinned contact, without network. */
  contact(userId: string): Promise<PeerInfo | null>;
  /** Every pinned contact (with devices: also those added on the account's other devices). */
  contacts(): Promise<PeerInfo[]>;
  /** The 65-byte safety-number QR payload with a contact. */
  qrPayload(userId: string): Promise<Uint8Array>;
  matchesQr(userId: string, scanned: Uint8Array): Promise<boolean>;
  setVerified(username: string, verified: boolean): Promise<void>;
  /** Names a contact on every device of the account ('' removes the name). */
  setContactName(username: string, name: string): Promise<void>;
  /**
   * Asks for a direct channel with a contact (while both are online; messages then skip
   * the relay, and go back to it by themselves). Fire and forget: `onDirect` reports.
   */
  connectDirect(username: string): void;
  /**
   * This page's voice calls (the microphone and WebRTC are the page's, the rules the
   * engine's): there once start() loaded them; rejects with APP_FILES if they could not load.
   */
  calls(): Promise<Calls>;
  /**
   * Encrypts and posts. Throws NETWORK when the relay cannot be reached. With
   * `idempotencyKey`, a retry posts the same envelope (or returns the first result):
   * no duplicate, no extra ratchet step. `post.afterRecord`: the key of a record just
   * given to `storeRecords`; the send goes once it committed (not at all if it failed).
   */
  send(username: string, content: Uint8Array, contentType: number, idempotencyKey?: string, post?: { replyTo?: string; expiresIn?: number; afterRecord?: string }): Promise<{ messageId: string; delivered?: number; total?: number }>;
  /**
   * Sends an edit, deletion, reaction, read receipt, typing indicator or timer; resolves
   * to its message id and the stamp the package gave it (`sentAt`, Unix seconds).
   */
  amend(username: string, what: Amend): Promise<{ id: string; sentAt?: number }>;
  /** The package's verdict on an edit, deletion or reaction: "apply", "hold" or a refusal code. */
  checkAmendment(inc: RuleInput, target?: StoredTarget): Promise<string>;
  /** Whether a read receipt marks `target` read. */
  readApplies(inc: RuleInput, target: StoredTarget): Promise<boolean>;
  /** When a disappearing message goes (s). */
  expiresAt(sentAt: number, receivedAt: number, expiresIn: number): Promise<number>;
  /** Whether a typing indicator is still worth showing. */
  typingFresh(sentAt: number, receivedAt: number): Promise<boolean>;
  /**
   * Encrypts and uploads a file (chunk by chunk, resuming after network losses), then
   * sends its manifest: content type FILE. `manifest` is the message content (secret).
   */
  sendFile(username: string, file: Blob, options: SendFileOptions): Promise<{ manifest: Uint8Array; messageId: string; delivered?: number; total?: number }>;
  /**
   * Fetches and checks a received file; resolves only when every check passed. Throws
   * INTEGRITY_* (altered: never show it), FILE_EXPIRED, NOT_FOUND, CANCELLED.
   */
  openFile(manifest: Uint8Array, onProgress: (p: FileProgress) => void, signal?: AbortSignal): Promise<Blob>;
  /** Uploads a file once and sends its manifest to every member of a group (one group message). */
  sendFileToGroup(group: string, file: Blob, options: SendFileOptions): Promise<{ manifest: Uint8Array; messageId: string }>;
  /** What a manifest describes; throws MALFORMED. */
  fileInfo(manifest: Uint8Array): Promise<FileMeta>;
  fileLimits(): Promise<FileLimits>;
  /** The groups this device is in. */
  groups(): Promise<GroupInfo[]>;
  /** Creates a group with looked-up contacts; resolves to its id. */
  createGroup(name: string, usernames: string[]): Promise<string>;
  changeGroup(group: string, change: GroupChange): Promise<void>;
  /** Sends text to every member (one upload); resolves to the message id `onDelivery` names. */
  /** `idempotencyKey` (the app's message id): a retry, also after a reload, sends the message once. */
  sendToGroup(group: string, text: string, idempotencyKey?: string): Promise<string>;
  /** SHA-256 of a file (32 bytes), read in the worker piece by piece. */
  fileDigest(file: Blob): Promise<Uint8Array>;
  /** Connects the live mailbox (WebSocket) and keeps it connected until stop(). */
  start(h: Handlers): void;
  stop(): void;
  /**
   * The account's password-derived keys sealed under `wrapKey` (non-extractable AES-GCM),
   * for `Backend.resume` after a reload (session.ts).
   */
  exportSession(wrapKey: CryptoKey): Promise<Uint8Array>;
  /**
   * Application data under a password-derived local key: seals each record under
   * `label` and writes them (a `null` deletes) to this account's history database in
   * one transaction, in the worker; resolves once committed.
   */
  storeRecords(label: string, entries: [string, Uint8Array | null][]): Promise<void>;
  /** Opens a record `storeRecords` sealed. */
  openLocal(label: string, data: Uint8Array): Promise<Uint8Array>;
  /** Called when another device removed this one from the account (protocol v2). */
  onRemoved(f: () => void): void;
  /** Called when another tab took the account over (the keys are gone from this tab). */
  onTakenOver(f: () => void): void;
  /** Forgets a contact whose key changed (and its sessions), so the next lookup pins the new key. */
  forgetContact(username: string): Promise<void>;
  /** The account's devices (protocol v2). */
  devices(): Promise<DeviceInfo[]>;
  /** Removes a device from the account: contacts stop sealing to it. */
  revokeDevice(id: string): Promise<void>;
  /** Reads a new device's link code (typed, or from its QR code) and returns what it asks. */
  approveLink(code: string): Promise<LinkApproval>;
  /** Closes the connection and drops the keys from memory; the stored copy stays. */
  close(): Promise<void>;
  /** Logs out and wipes the local copy of the account (keys, sessions, contacts). */
  wipe(): Promise<void>;
}

export interface Backend {
  /** The username whose encrypted state is stored locally, if any. */
  storedUsername(): Promise<string | null>;
  /** `keySize`: RSA modulus bits, undefined for the package default. */
  register(username: string, password: string, onProgress: (p: Progress) => void, keySize?: number, deviceName?: string): Promise<Account>;
  /**
   * `takeOver`: the account is open in another tab of this browser; close it there and
   * open it here (otherwise that throws LOCKED).
   */
  login(username: string, password: string, onProgress: (p: Progress) => void, takeOver?: boolean, deviceName?: string): Promise<Account>;
  /** Opens the locally stored account with its password (no network needed). */
  unlock(password: string, onProgress: (p: Progress) => void, takeOver?: boolean): Promise<Account>;
  /** Opens it with what `Account.exportSession` sealed under `wrapKey` (no password). */
  resume(wrapKey: CryptoKey, sealed: Uint8Array, takeOver?: boolean): Promise<Account>;
  /**
   * Protocol v2: makes this browser a new device of an account that is open on another
   * device (shows a code there, waits for the user to confirm it).
   */
  startLink(deviceName: string, password: string): Promise<PendingLink>;
  /**
   * The account's devices as the directory lists them (names and ids, for choosing one to
   * remove when the account is full; the package checks the list when it acts on it).
   */
  listedDevices(username: string): Promise<DeviceInfo[]>;
  /** Removes a device with the password alone (the account has 8 and none is at hand). */
  revokeWithPassword(username: string, password: string, deviceId: string): Promise<void>;
  /** Whether the stored account is open in another tab of this browser (ask before the password). */
  openElsewhere(): Promise<boolean>;
}

/** `details` of an IDENTITY_CHANGED error: the contact's new key, to show before accepting it. */
export interface IdentityChangedDetails {
  userId: string;
  username?: string;
  /** SHA-256 of the new identity key (64 hex). */
  fingerprint: string;
  /** The safety number with the new key. */
  safety: SafetyInfo;
  /** Fingerprint of the pinned (old) key. */
  previousFingerprint: string;
}

export class AppError extends Error {
  /** Seconds the relay asked to wait (RATE_LIMITED, 503). */
  retryAfter?: number;
  /** The message is written for the user (errors.ts shows it as it is). */
  forUser = false;
  /** An error whose message the screens show as it is. */
  static forUser(code: string, message: string): AppError {
    const e = new AppError(code, message);
    e.forUser = true;
    return e;
  }
  constructor(public code: string, message: string, public status?: number, public details?: IdentityChangedDetails) {
    super(message);
    this.name = 'AppError';
  }

  /** The package's IDENTITY_CHANGED `details` (`safetyNumber` in groups of five) in the app's shape; undefined when absent or malformed. */
  static identityDetails(raw: unknown): IdentityChangedDetails | undefined {
    const d = raw as { userId?: unknown; username?: unknown; fingerprint?: unknown; safetyNumber?: unknown; previousFingerprint?: unknown } | null;
    const safety = safetyInfo(d?.safetyNumber);
    if (!d || !safety || typeof d.fingerprint !== 'string' || !/^[0-9a-f]{64}$/i.test(d.fingerprint)) return undefined;
    return {
      userId: String(d.userId ?? ''),
      username: typeof d.username === 'string' ? d.username : undefined,
      fingerprint: d.fingerprint.toLowerCase(),
      safety,
      previousFingerprint: String(d.previousFingerprint ?? ''),
    };
  }
}

/** The 60 digits of a safety number in any grouping, as `SafetyInfo`; null when malformed. */
export function safetyInfo(safetyNumber: unknown): SafetyInfo | null {
  const digits = typeof safetyNumber === 'string' ? safetyNumber.replace(/\D/g, '') : '';
  if (digits.length !== 60) return null;
  return { digits, display: digits.replace(/(\d{5})(?=\d)/g, '$1 ') };
}

/** The new key of an IDENTITY_CHANGED error, when the package said which it is. */
export function identityChange(e: unknown): IdentityChangedDetails | undefined {
  if (errorCode(e) !== 'IDENTITY_CHANGED') return undefined;
  const d = (e as { details?: Partial<IdentityChangedDetails> }).details;
  if (!d || typeof d.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(d.fingerprint) || !d.safety || d.safety.digits?.length !== 60) return undefined;
  return d as IdentityChangedDetails;
}

/** The package's stable error code of `e`, if any. */
export function errorCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}
