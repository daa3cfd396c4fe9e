// What the UI needs from the messaging layer. The UI depends only on this file; the
// implementation in ./index.ts maps it onto the sealpost-wasm package.

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
  /** The 65-byte QR payload, the same on both sides. */
  qrPayload: Uint8Array;
}

/** A contact as found in the relay's directory (bundle verified by the package). */
export interface PeerInfo {
  userId: string;
  username: string;
  /** SHA-256 of the identity key (64 hex): what we pin. */
  fingerprint: string;
  /** Canonical key bundle bytes. */
  bundle: Uint8Array;
  safety: SafetyInfo;
}

export interface Incoming {
  /** Relay blob id (for the ack). */
  blobId: string;
  messageId: string;
  sender: string;
  senderFingerprint: string;
  sentAt: number;
  contentType: number;
  content: Uint8Array;
  text?: string;
}

export type LinkState = 'connecting' | 'online' | 'offline';

export interface Handlers {
  /** Called once per incoming message; the blob is acknowledged after it resolves. */
  onMessage(m: Incoming): Promise<void>;
  onLinkState(s: LinkState): void;
}

export interface Account {
  readonly username: string;
  readonly userId: string;
  readonly fingerprint: string;
  lookup(username: string): Promise<PeerInfo>;
  /** Re-derive safety data from stored bundle bytes (no network). */
  peerFromBundle(username: string, bundle: Uint8Array): Promise<PeerInfo>;
  matchesQr(peer: PeerInfo, scanned: Uint8Array): Promise<boolean>;
  /**
   * Encrypts for `peer`. Returns an envelope that can be (re)posted any number of
   * times: the recipient sees one message (same messageId).
   */
  seal(peer: PeerInfo, content: string | Uint8Array, contentType?: number): Promise<{ messageId: string; envelope: Uint8Array }>;
  /** Posts a sealed envelope to the peer's mailbox. Throws NETWORK on connectivity loss. */
  post(peerUserId: string, envelope: Uint8Array): Promise<void>;
  /** Connects the live mailbox (WebSocket) and keeps it connected until stop(). */
  start(h: Handlers): void;
  stop(): void;
  /** Application data encryption under the password-derived local key. */
  sealLocal(label: string, data: Uint8Array): Promise<Uint8Array>;
  openLocal(label: string, data: Uint8Array): Promise<Uint8Array>;
  /** Forget the peer's sessions (after their key changed). */
  forgetPeer(userId: string): Promise<void>;
  /** Wipes the local copy of the account (keys, sessions). */
  wipe(): Promise<void>;
}

export interface Backend {
  /** The username whose encrypted state is stored locally, if any. */
  storedUsername(): Promise<string | null>;
  /** `keySize`: RSA modulus bits, undefined for the package default. */
  register(username: string, password: string, onProgress: (p: Progress) => void, keySize?: number): Promise<Account>;
  login(username: string, password: string, onProgress: (p: Progress) => void): Promise<Account>;
  /** Opens the locally stored account with its password (no network needed). */
  unlock(password: string, onProgress: (p: Progress) => void): Promise<Account>;
}

export class AppError extends Error {
  constructor(public code: string, message: string, public status?: number) {
    super(message);
    this.name = 'AppError';
  }
}

/** The package's stable error code of `e`, if any. */
export function errorCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}
