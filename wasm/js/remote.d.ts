import type {
  ClientErrorEvent, ConnectionStatus, ContactInfo, DeliveryEvent, DeviceInfo, DirectEvent, DirectInput, IncomingMessage, KeySize,
  NoticeEvent, GroupInfo, GroupSendOptions, SendOptions, SendResult, StoredTarget, SendFileOptions, SendFileResult, SendFileToGroupResult, OpenAttachmentOptions, FileLimits, AttachmentInfo,
} from './index.js';

/** Options of `RemoteClient.register` / `login` (storage is chosen in the worker). */
export interface RemoteClientOptions {
  relayUrl?: string;
  keySize?: KeySize;
  iterations?: number;
  autoAck?: boolean;
  autoRotate?: boolean;
  connect?: boolean;
  /** Deposits over one WebSocket (default true; see `ClientOptions.depositSocket`). */
  depositSocket?: boolean;
  bundleMaxAge?: number;
  takeOver?: boolean;
  requestTimeout?: number;
  /** This device's name in the account's device list (default: the browser and OS). */
  deviceName?: string;
  /** `startLink` only: encrypts the new device's copy (the account's password). */
  password?: string;
  onProgress?: (done: number, total: number) => void;
}

/** The new device's side of a link (`RemoteClient.startLink`). */
export interface RemotePendingLink {
  /** The code to type on the old device (20 characters, in groups). */
  code: string;
  /** What to show as a QR code (the code's characters). */
  qrPayload: Uint8Array;
  /** The logged-in client once the old device confirmed (`LINK_EXPIRED`, `LINK_REFUSED`). */
  wait(): Promise<RemoteClient>;
  cancel(): Promise<void>;
}

/** The old device's side of a link (`client.approveLink(code)`). */
export interface RemoteLinkApproval {
  /** The name the new device gave itself. */
  deviceName: string;
  /** Adds it to the account, handing over the account (and `history`). */
  confirm(options?: { history?: Uint8Array }): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * The page side of a `Client` that runs in a Web Worker (`serveClient` from
 * `sealpost-wasm/worker`). Same methods as `Client`, all asynchronous. The page loads
 * no WebAssembly and never holds keys; only plaintext messages and public data cross.
 */
export class RemoteClient {
  constructor(worker: Worker);
  static register(worker: Worker, options: RemoteClientOptions, username: string, password: string): Promise<RemoteClient>;
  static login(worker: Worker, options: RemoteClientOptions, username: string, password: string): Promise<RemoteClient>;
  /** Opens the stored account with `exportSession`'s result and the same non-extractable AES-GCM key (see `Client.resume`). */
  static resume(worker: Worker, options: RemoteClientOptions, username: string, wrapKey: CryptoKey, sealed: Uint8Array): Promise<RemoteClient>;
  /** Deletes the account's local data from the worker's storage, without the password (see `Client.removeAccount`). */
  static removeAccount(worker: Worker, username: string): Promise<void>;
  /** Calls one of the app's own worker methods (`serveClient({ methods })`), logged in or not. */
  static call<T = unknown>(worker: Worker, method: string, ...args: unknown[]): Promise<T>;
  /** Starts linking the worker's browser as a new device (see `Client.startLink`). */
  static startLink(worker: Worker, options: RemoteClientOptions & { password: string }, deviceName?: string): Promise<RemotePendingLink>;
  /** Removes a device with the password alone (see `Client.revokeDeviceWithPassword`). */
  static revokeDeviceWithPassword(worker: Worker, options: RemoteClientOptions, username: string, password: string, deviceId: string): Promise<void>;
  readonly info: { userId: string; username: string; fingerprint: string; deviceId: string; status: ConnectionStatus } | null;
  readonly deviceId: string;
  readonly userId: string;
  readonly username: string;
  readonly fingerprint: string;
  readonly status: ConnectionStatus;
  lookup(username: string): Promise<ContactInfo>;
  contacts(): Promise<ContactInfo[]>;
  setVerified(username: string, verified: boolean): Promise<void>;
  setContactName(username: string, name: string): Promise<void>;
  forgetContact(username: string): Promise<void>;
  send(to: string, content: string | Uint8Array, contentType?: number, options?: SendOptions): Promise<SendResult>;
  ack(ids: string[]): Promise<void>;
  edit(to: string, messageId: string, text: string, options?: SendOptions): Promise<SendResult>;
  deleteForEveryone(to: string, messageId: string, options?: SendOptions): Promise<SendResult>;
  react(to: string, messageId: string, emoji: string, options?: SendOptions): Promise<SendResult>;
  markRead(to: string, messageIds: string[]): Promise<SendResult>;
  setTyping(to: string, active: boolean): Promise<SendResult>;
  setDisappearing(to: string, expiresIn: number): Promise<SendResult>;
  /** `checkAmendment` of the package, run in the worker: `"apply"`, `"hold"` or a refusal code. */
  checkAmendment(message: IncomingMessage, target?: StoredTarget): Promise<string>;
  /** `readApplies` of the package, run in the worker. */
  readApplies(message: IncomingMessage, target: StoredTarget): Promise<boolean>;
  /** `expiresAt` of the package, run in the worker. */
  expiresAt(sentAt: number, receivedAt: number, expiresIn: number): Promise<number>;
  /** `typingFresh` of the package, run in the worker. */
  typingFresh(sentAt: number, receivedAt: number): Promise<boolean>;
  /** See `Client.sendFile`; runs in the worker (a File or Blob is not copied to get there). */
  sendFile(to: string | string[], file: Blob | ReadableStream<Uint8Array>, options?: SendFileOptions): Promise<SendFileResult>;
  /** See `Client.sendFileToGroup`. */
  sendFileToGroup(group: string, file: Blob | ReadableStream<Uint8Array>, options?: SendFileOptions): Promise<SendFileToGroupResult>;
  /** See `Client.openAttachment`. */
  openAttachment(message: IncomingMessage | Uint8Array, options?: OpenAttachmentOptions): Promise<Blob>;
  /** See `Client.uploadFile`. */
  uploadFile(file: Blob | ReadableStream<Uint8Array>, options?: SendFileOptions): Promise<Uint8Array>;
  /** See `Client.fileDigest`. */
  fileDigest(file: Blob, options?: OpenAttachmentOptions): Promise<Uint8Array>;
  fileLimits(): Promise<FileLimits>;
  /** See `Client.createGroup`: resolves to the group id (hex). */
  createGroup(name: string, members: string[]): Promise<string>;
  addMembers(group: string, usernames: string[]): Promise<void>;
  removeMembers(group: string, usernames: string[]): Promise<void>;
  leaveGroup(group: string): Promise<void>;
  renameGroup(group: string, name: string): Promise<void>;
  promoteAdmin(group: string, username: string): Promise<void>;
  demoteAdmin(group: string, username: string): Promise<void>;
  /** See `Client.sendToGroup`: resolves to the message id; `onDelivery` counts members. */
  sendToGroup(group: string, content: string | Uint8Array, contentType?: number, options?: GroupSendOptions): Promise<string>;
  groups(): Promise<GroupInfo[]>;
  fileInfo(manifest: Uint8Array): Promise<AttachmentInfo>;
  matchesQr(username: string, scanned: Uint8Array): Promise<boolean>;
  sealLocal(label: string, data: Uint8Array): Promise<Uint8Array>;
  openLocal(label: string, sealed: Uint8Array): Promise<Uint8Array>;
  /** Seals the account's password-derived keys under `wrapKey` for `RemoteClient.resume` (see `Client.exportSession`). */
  exportSession(wrapKey: CryptoKey): Promise<Uint8Array>;
  /** Calls one of the app's own worker methods (`serveClient({ methods })`). */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  needsRotation(): Promise<boolean>;
  rotateKeys(password?: string): Promise<boolean>;
  devices(): Promise<DeviceInfo[]>;
  revokeDevice(id: string): Promise<void>;
  approveLink(code: string): Promise<RemoteLinkApproval>;
  takeLinkedHistory(): Promise<Uint8Array | undefined>;
  /** See `Client.connectDirect`: a direct channel to a contact while both are online. */
  connectDirect(contact: string): Promise<void>;
  /** The WebRTC host's reports (`attachDirect` makes them); see `Client.directInput`. */
  directInput(input: DirectInput): Promise<void>;
  /** See `Client.iceServers`: STUN/TURN servers for calls and direct channels. */
  iceServers(): Promise<RTCIceServer[]>;
  /**
   * Hands a direct channel's data channel to the worker (`attachDirect` does it, in the
   * task that created the channel), so its frames skip this page's main thread. `onState`
   * gets "open" and "closed" (the worker has told the client) from the worker; the worker
   * uses the channel only after `directInput({ type: "opened", ..., channel: id })`.
   * Returns the channel's id, or null when this browser cannot transfer a data channel.
   */
  adoptDirectChannel(channel: RTCDataChannel, user: string, device: string, onState: (state: "open" | "closed") => void): number | null;
  /** Ends a channel handed to the worker without telling the client. */
  forgetDirectChannel(id: number, user: string, device: string): void;
  connect(): Promise<void>;
  /** Reconnects now instead of waiting out the backoff (see `Client.reconnect`); the worker also does this on its `online` event. */
  reconnect(): Promise<void>;
  logout(forget?: boolean): Promise<void>;
  onMessage(listener: (message: IncomingMessage) => void): void;
  onStatus(listener: (status: ConnectionStatus) => void): void;
  onError(listener: (event: ClientErrorEvent) => void): void;
  onProgress(listener: (p: { done: number; total: number }) => void): void;
  onDelivery(listener: (event: DeliveryEvent) => void): void;
  onNotice(listener: (notice: NoticeEvent) => void): void;
  onDirect(listener: (event: DirectEvent) => void): void;
  nextMessage(): Promise<IncomingMessage | null>;
  messages(): AsyncGenerator<IncomingMessage, void, undefined>;
}
