// The account as the UI sees it (types.ts `Account`): the package's RemoteClient for one
// logged-in account, its events queued in order to the model's handlers, messages
// acknowledged only once handled, and the page's WebRTC hosts attached at start.

import { RemoteClient } from 'sealpost-wasm/remote';
import type { ContactInfo, IncomingMessage, SendResult } from 'sealpost-wasm';
import type { Account, Amend, Calls, Delivery, DeviceInfo, FileProgress, GroupChange, GroupInfo, Handlers, Incoming, LinkApproval, LinkState, Notice, PeerInfo, RuleInput, SendFileOptions, StoredTarget } from './types';
import { AppError } from './types';
import { startedWorker, wrap } from './workerhost';
import { metaKv } from './meta';
import { lazily } from '../lazy';

/** The page's WebRTC (direct channels, calls, room voice: ../webrtc.ts), a chunk of its own. */
export const webrtc = lazily('webrtc', () => import('../webrtc'));

/** How long the relay's STUN/TURN servers are reused (its TURN credentials last an hour by default). */
const ICE_MAX_AGE_MS = 10 * 60_000;

function peer(info: ContactInfo): PeerInfo {
  const digits = info.safetyNumber.replace(/\D/g, '');
  return {
    userId: info.userId,
    username: info.username ?? '',
    fingerprint: info.fingerprint,
    verified: info.verified,
    safety: { digits, display: digits.replace(/(\d{5})(?=\d)/g, '$1 ') },
    name: info.name,
  };
}

export class ClientAccount implements Account {
  private handlers: Handlers | null = null;
  private queue: Promise<void> = Promise.resolve();
  private acks: string[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private started = false;
  /** The package's connection status, and whether it was ever online. */
  private status = 'connecting';
  private wasOnline = false;
  /** The page's WebRTC hosts for direct channels and calls (../webrtc.ts, its own chunk), attached at start. */
  private rtc: Promise<Calls> | null = null;
  private ice: { at: number; servers: Promise<RTCIceServer[]> } | null = null;
  readonly username: string;
  readonly userId: string;
  readonly fingerprint: string;

  constructor(private client: RemoteClient) {
    this.username = client.username;
    this.userId = client.userId;
    this.fingerprint = client.fingerprint;
    client.onMessage((m) => this.onMessage(m));
    client.onDelivery((d) => this.handlers?.onDelivery({ messageId: d.messageId, delivered: d.delivered, total: d.total } satisfies Delivery));
    client.onNotice((n) => {
      if (n.kind === 'security' && n.security === 'deviceRevoked') return this.revoked();
      const kinds: Record<string, Notice['kind']> = { couldNotDecrypt: 'undecryptable', mayBeMissing: 'missing', notDelivered: 'notDelivered', security: 'security', groupChanged: 'groupChanged', groupRefused: 'groupRefused', contactChanged: 'contactChanged', unreachable: 'unreachable' };
      const notice: Notice = {
        kind: kinds[n.kind] ?? 'security',
        peer: n.conversation ?? n.from,
        username: n.fromUsername,
        detail: n.detail,
        count: n.count,
        messageId: n.messageId,
        group: n.group,
        from: n.from,
        change: n.change,
        members: n.members,
        name: n.name,
        code: n.code,
        at: typeof n.at === 'number' ? n.at * 1000 : Date.now(),
      };
      // In the same queue as messages: a marker lands where it happened.
      this.queue = this.queue.then(() => this.handlers?.onNotice(notice)).catch((e) => console.warn('sealpost: notice handler failed', e));
    });
    client.onDirect((e) => {
      if (e.type !== 'state') return;
      if (e.device) this.handlers?.onDirect(e.user, e.state === 'direct');
      if (e.error === 'DIRECT_FINGERPRINT_MISMATCH') {
        // Someone rewrote the signalling: a marker in the chat, like other security events.
        const detail = 'a direct connection was refused because it did not match their keys (messages still go through the relay).';
        this.queue = this.queue.then(() => this.handlers?.onNotice({ kind: 'security', peer: e.user, username: e.username, detail, at: Date.now() }));
      }
    });
    client.onStatus((s) => {
      this.status = s;
      if (s === 'online') this.wasOnline = true;
      this.handlers?.onLinkState(this.linkState());
    });
    client.onError((e) => {
      if (e.code === 'LOCKED') {
        // Another tab took the account over: the package closed this client already.
        this.stop();
        for (const f of this.takenOver.splice(0)) f();
      } else if ((e.code as string) === 'DEVICE_REVOKED') {
        this.revoked();
      } else console.warn('sealpost:', e.code, e.message);
    });
  }

  private removed: (() => void)[] = [];
  /** Another device (or the password) removed this one: its keys no longer open anything new. */
  private revoked() {
    this.stop();
    for (const f of this.removed.splice(0)) f();
  }
  onRemoved(f: () => void) {
    this.removed.push(f);
  }
  private takenOver: (() => void)[] = [];
  onTakenOver(f: () => void) {
    this.takenOver.push(f);
  }

  private async info(userId: string): Promise<ContactInfo> {
    const info = (await this.client.contacts()).find((c) => c.userId === userId);
    if (!info) throw new AppError('NOT_FOUND', 'not a contact');
    return info;
  }

  async lookup(username: string): Promise<PeerInfo> {
    try {
      return peer(await this.client.lookup(username));
    } catch (e) {
      throw wrap(e);
    }
  }
  async contact(userId: string): Promise<PeerInfo | null> {
    const info = (await this.client.contacts()).find((c) => c.userId === userId);
    return info ? peer(info) : null;
  }
  async contacts(): Promise<PeerInfo[]> {
    return (await this.client.contacts()).filter((c) => c.username).map(peer);
  }
  async qrPayload(userId: string): Promise<Uint8Array> {
    return (await this.info(userId)).qrPayload;
  }
  async matchesQr(userId: string, scanned: Uint8Array): Promise<boolean> {
    const info = await this.info(userId);
    if (!info.username) throw new AppError('NOT_FOUND', 'not a contact');
    return this.client.matchesQr(info.username, scanned);
  }
  async setVerified(username: string, verified: boolean): Promise<void> {
    await this.client.setVerified(username, verified);
  }
  async setContactName(username: string, name: string): Promise<void> {
    await this.client.setContactName(username, name);
  }
  async send(username: string, content: Uint8Array, contentType: number, idempotencyKey?: string, post?: { replyTo?: string; expiresIn?: number; afterRecord?: string }) {
    const { afterRecord, ...rest } = post ?? {};
    const options = { ...(idempotencyKey ? { idempotencyKey } : {}), ...rest };
    try {
      const r: SendResult = afterRecord
        ? await RemoteClient.call<SendResult>(startedWorker(), 'sendStored', afterRecord, username, content, contentType, options)
        : await this.client.send(username, content, contentType, options);
      return { messageId: r.messageId, delivered: r.delivered, total: r.total };
    } catch (e) {
      const err = wrap(e);
      // Transient relay answers are retried like lost connectivity.
      if (err.code === 'RATE_LIMITED' || (err.status ?? 0) >= 500) throw new AppError('NETWORK', err.message, err.status);
      throw err;
    }
  }
  groups(): Promise<GroupInfo[]> {
    return this.client.groups().catch((e) => Promise.reject(wrap(e)));
  }
  createGroup(name: string, usernames: string[]): Promise<string> {
    return this.client.createGroup(name, usernames).catch((e) => Promise.reject(wrap(e)));
  }
  async changeGroup(group: string, change: GroupChange): Promise<void> {
    const c = this.client;
    try {
      if (change.kind === 'add') await c.addMembers(group, change.usernames);
      else if (change.kind === 'remove') await c.removeMembers(group, change.usernames);
      else if (change.kind === 'promote') await c.promoteAdmin(group, change.username);
      else if (change.kind === 'demote') await c.demoteAdmin(group, change.username);
      else if (change.kind === 'rename') await c.renameGroup(group, change.name);
      else await c.leaveGroup(group);
    } catch (e) {
      throw wrap(e);
    }
  }
  sendToGroup(group: string, text: string, idempotencyKey?: string): Promise<string> {
    return this.client.sendToGroup(group, text, 0, idempotencyKey ? { idempotencyKey } : undefined).catch((e) => Promise.reject(wrap(e)));
  }
  exportSession(wrapKey: CryptoKey) {
    return this.client.exportSession(wrapKey).catch((e) => Promise.reject(wrap(e)));
  }
  async amend(username: string, what: Amend): Promise<{ id: string; sentAt?: number }> {
    const c = this.client;
    try {
      const r = what.kind === 'edit' ? await c.edit(username, what.target, what.text)
        : what.kind === 'delete' ? await c.deleteForEveryone(username, what.target)
        : what.kind === 'reaction' ? await c.react(username, what.target, what.emoji)
        : what.kind === 'read' ? await c.markRead(username, what.targets)
        : what.kind === 'typing' ? await c.setTyping(username, what.active)
        : await c.setDisappearing(username, what.expiresIn);
      return { id: r.messageId, sentAt: r.sentAt };
    } catch (e) {
      throw wrap(e);
    }
  }
  /** The package's rules see the sender as `from`. */
  private asMessage(inc: RuleInput) {
    return { from: inc.sender, conversation: inc.conversation, sentAt: inc.sentAt, contentType: inc.contentType, content: inc.content } as unknown as IncomingMessage;
  }
  checkAmendment(inc: RuleInput, target?: StoredTarget) {
    return this.client.checkAmendment(this.asMessage(inc), target);
  }
  readApplies(inc: RuleInput, target: StoredTarget) {
    return this.client.readApplies(this.asMessage(inc), target);
  }
  expiresAt(sentAt: number, receivedAt: number, expiresIn: number) {
    return this.client.expiresAt(sentAt, receivedAt, expiresIn);
  }
  typingFresh(sentAt: number, receivedAt: number) {
    return this.client.typingFresh(sentAt, receivedAt);
  }
  async sendFile(username: string, file: Blob, o: SendFileOptions) {
    try {
      const r = await this.client.sendFile(username, file, o);
      const s = r.sent[0];
      return { manifest: r.manifest, messageId: s.messageId!, delivered: s.delivered, total: s.total };
    } catch (e) {
      throw wrap(e);
    }
  }
  sendFileToGroup(group: string, file: Blob, o: SendFileOptions) {
    return this.client.sendFileToGroup(group, file, o).catch((e) => Promise.reject(wrap(e)));
  }
  fileDigest(file: Blob) {
    return this.client.fileDigest(file).catch((e) => Promise.reject(wrap(e)));
  }
  openFile(manifest: Uint8Array, onProgress: (p: FileProgress) => void, signal?: AbortSignal) {
    return this.client.openAttachment(manifest, { onProgress, signal }).catch((e) => Promise.reject(wrap(e)));
  }
  fileInfo(manifest: Uint8Array) {
    return this.client.fileInfo(manifest).catch((e) => Promise.reject(wrap(e)));
  }
  fileLimits() {
    return this.client.fileLimits().catch((e) => Promise.reject(wrap(e)));
  }
  /** Posted before it returns (no await first): a send asked for next comes after it. */
  storeRecords(label: string, entries: [string, Uint8Array | null][]): Promise<void> {
    return RemoteClient.call<void>(startedWorker(), 'storeRecords', label, entries).catch((e) => Promise.reject(wrap(e)));
  }
  openLocal(label: string, data: Uint8Array) {
    return this.client.openLocal(label, data);
  }
  async devices(): Promise<DeviceInfo[]> {
    try {
      return (await this.client.devices()).map((d) => ({ id: d.id, name: d.name, addedAt: d.addedAt * 1000, lastSeen: d.lastSeen ? d.lastSeen * 1000 : undefined, current: d.current }));
    } catch (e) {
      throw wrap(e);
    }
  }
  async revokeDevice(id: string) {
    await this.client.revokeDevice(id).catch((e) => Promise.reject(wrap(e)));
  }
  async approveLink(code: string): Promise<LinkApproval> {
    const a = await this.client.approveLink(code).catch((e) => Promise.reject(wrap(e)));
    return {
      deviceName: a.deviceName,
      confirm: (history) => a.confirm(history ? { history } : undefined).catch((e) => Promise.reject(wrap(e))),
      cancel: () => Promise.resolve(a.cancel()).catch(() => undefined),
    };
  }
  async forgetContact(username: string) {
    await this.client.forgetContact(username);
  }
  async close() {
    this.stop();
    await this.client.logout(false).catch(() => undefined);
  }
  async wipe() {
    this.stop();
    await this.client.logout(true);
    await (await metaKv()).clear();
  }

  /**
   * What the header shows: offline as soon as the browser says so (its socket may take
   * many seconds to notice) or the socket dropped (until it is back); "connecting" only
   * before the first connection.
   */
  private linkState(): LinkState {
    if (!navigator.onLine) return 'offline';
    if (this.status === 'online') return 'online';
    return this.wasOnline ? 'offline' : 'connecting';
  }
  // (Back online, the package reconnects by itself: its worker has the same event.)
  private onNetwork = () => this.handlers?.onLinkState(this.linkState());

  start(h: Handlers) {
    this.handlers = h;
    addEventListener('online', this.onNetwork);
    addEventListener('offline', this.onNetwork);
    if (!this.started) {
      this.started = true;
      // Hosted before the mailbox connects: a contact's offer or a ring waiting there
      // (or a call missed meanwhile) finds the page listening.
      this.rtc = webrtc().then(({ attachDirect, attachCalls }) => {
        attachDirect(this.client);
        const calls = attachCalls(this.client, { iceServers: () => this.iceServers() });
        calls.onCall((u) => this.handlers?.onCall(u));
        return calls;
      });
      // Without them (the chunk did not load): messages by the relay, no calls.
      void this.rtc.catch(() => undefined).then(() => this.client.connect());
    }
  }
  connectDirect(username: string) {
    this.rtc?.then(() => this.client.connectDirect(username)).catch(() => undefined);
  }
  calls(): Promise<Calls> {
    return this.rtc ?? Promise.reject(new AppError('APP_FILES', 'calls are hosted once the account started'));
  }
  /** The relay's STUN/TURN servers, asked again when older than ICE_MAX_AGE_MS or after a failure. */
  private iceServers(): Promise<RTCIceServer[]> {
    if (!this.ice || Date.now() - this.ice.at > ICE_MAX_AGE_MS) {
      const servers = this.client.iceServers();
      this.ice = { at: Date.now(), servers };
      servers.catch(() => this.ice?.servers === servers && (this.ice = null));
    }
    return this.ice.servers;
  }
  stop() {
    this.handlers = null;
    removeEventListener('online', this.onNetwork);
    removeEventListener('offline', this.onNetwork);
  }

  private onMessage(m: IncomingMessage) {
    const inc: Incoming = {
      blobId: m.id,
      messageId: m.messageId,
      msgId: m.msgId,
      sender: m.from,
      senderUsername: m.fromUsername,
      fromDevice: m.fromDevice,
      conversation: m.conversation,
      own: m.own,
      sentAt: m.sentAt,
      seq: m.seq,
      contentType: m.contentType,
      content: m.content,
      text: m.text,
      receivedAt: m.receivedAt,
      kind: m.kind,
      newText: m.newText,
      replyTo: m.replyTo,
      expiresIn: m.expiresIn,
      manifest: m.manifest,
      target: m.target,
      targets: m.targets,
      emoji: m.emoji,
      active: m.active,
      group: m.group,
    };
    this.queue = this.queue.then(() => this.deliver(inc));
  }

  private async deliver(m: Incoming) {
    if (!this.handlers) return; // stopped: not acknowledged, the relay sends it again
    try {
      await this.handlers.onMessage(m);
    } catch (e) {
      console.warn('sealpost: message handler failed', e);
      return; // not acknowledged: the relay sends it again on the next connection
    }
    this.acks.push(m.blobId);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      const ids = this.acks.splice(0);
      this.client.ack(ids).catch(() => undefined); // unacked blobs come again; duplicates are dropped
    }, 20);
  }
}
