// The page side of the messaging layer: the package's RemoteClient (sealpost-wasm/remote)
// talking to the Client in the crypto worker (./worker.ts), plus a small request channel
// for what the Client does not cover yet (GAP). Secrets never reach this thread.

import { RemoteClient } from 'sealpost-wasm/remote';
import type { ContactInfo, IncomingMessage } from 'sealpost-wasm';
import type { Account, Backend, Handlers, Incoming, LinkState, PeerInfo, Progress } from './types';
import { AppError } from './types';
import type { GapApi } from './worker';
import { KV, deleteDb, openDb } from '../idb';
import { b64 } from '../util';
import workerUrl from './worker.ts?worker&url';

// Filled in by scripts/postbuild.mjs: the SHA-384 of the built worker script.
const WORKER_SHA384 = '__SEALPOST_WORKER_SHA384__';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Args<F> = F extends (...a: infer A) => any ? A : never;
type Ret<F> = F extends (...a: any[]) => infer R ? Awaited<R> : never;

let worker: Promise<Worker> | null = null;
let seq = 0;
const calls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();

/** Starts the crypto worker from bytes checked against the build-time hash (SRI for workers). */
async function startWorker(): Promise<Worker> {
  let w: Worker;
  if (import.meta.env.DEV) {
    w = new Worker(workerUrl, { type: 'module', name: 'sealpost-crypto' });
  } else {
    const bytes = await (await fetch(workerUrl, { cache: 'no-cache' })).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-384', bytes));
    if (b64(digest) !== WORKER_SHA384) throw new AppError('INTEGRITY', 'The app files are corrupted or were tampered with. Reload the page.');
    const url = URL.createObjectURL(new Blob([bytes], { type: 'text/javascript' }));
    w = new Worker(url, { type: 'module', name: 'sealpost-crypto' });
  }
  w.addEventListener('message', (ev) => {
    const d = ev.data;
    if (typeof d?.gap !== 'number') return; // RemoteClient traffic
    const c = calls.get(d.gap);
    if (!c) return;
    calls.delete(d.gap);
    if (d.error) c.reject(new AppError(d.error.code ?? 'CRYPTO', d.error.message, d.error.status));
    else c.resolve(d.result);
  });
  w.addEventListener('error', (ev) => {
    for (const [id, c] of calls) {
      calls.delete(id);
      c.reject(new AppError('CRYPTO', `The crypto worker failed: ${ev.message}`));
    }
  });
  return w;
}

const getWorker = () => (worker ??= startWorker());

/** A GAP request to the worker. */
async function gap<K extends keyof GapApi>(method: K, args: Args<GapApi[K]>): Promise<Ret<GapApi[K]>> {
  const w = await getWorker();
  return new Promise((resolve, reject) => {
    const id = ++seq;
    calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
    w.postMessage({ gap: id, method, args });
  });
}

/** RemoteClient errors carry the package's `code`, `status` and (IDENTITY_CHANGED) `details`; keep them. */
function wrap(e: unknown): AppError {
  const err = e as { code?: string; message?: string; status?: number; details?: unknown };
  const details = err?.code === 'IDENTITY_CHANGED' ? AppError.identityDetails(err.details) : undefined;
  return new AppError(err?.code ?? 'CRYPTO', err?.message ?? String(e), err?.status, details);
}

/** Starts loading the worker and its wasm module (call early; idempotent). */
export function warmUp(): void {
  gap('ids', ['warm.up']).catch(() => undefined);
}

export async function userIdOf(username: string): Promise<string> {
  return (await gap('ids', [username])).userId;
}

// ---- what the page keeps about the account (not secret) ----------------------------

interface Meta {
  username: string;
  userId: string;
  /** Public header of the app-data vault (salt, iterations, check). */
  vaultHeader: Uint8Array;
}
const META_DB = 'sealpost-www-meta';
let kvP: Promise<KV> | null = null;
const kv = () => (kvP ??= openDb(META_DB, ['meta']).then((db) => new KV(db, 'meta')));

// ---- the account ---------------------------------------------------------------------

function peer(info: ContactInfo): PeerInfo {
  const digits = info.safetyNumber.replace(/\D/g, '');
  return {
    userId: info.userId,
    username: info.username ?? '',
    fingerprint: info.fingerprint,
    verified: info.verified,
    safety: { digits, display: digits.replace(/(\d{5})(?=\d)/g, '$1 ') },
  };
}

class ClientAccount implements Account {
  private handlers: Handlers | null = null;
  private queue: Promise<void> = Promise.resolve();
  private acks: string[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private started = false;
  readonly username: string;
  readonly userId: string;
  readonly fingerprint: string;

  constructor(private client: RemoteClient) {
    this.username = client.username;
    this.userId = client.userId;
    this.fingerprint = client.fingerprint;
    client.onMessage((m) => this.onMessage(m));
    client.onStatus((s) => {
      const st = s === 'online' ? 'online' : s === 'connecting' && navigator.onLine ? 'connecting' : 'offline';
      this.handlers?.onLinkState(st as LinkState);
    });
    client.onError((e) => console.warn('sealpost:', e.code, e.message));
  }

  private async pair(userId: string) {
    const info = (await this.client.contacts()).find((c) => c.userId === userId);
    if (!info) throw new AppError('NOT_FOUND', 'not a contact');
    return { me: { userId: this.userId, fingerprint: this.fingerprint }, them: { userId: info.userId, fingerprint: info.fingerprint, safetyNumber: info.safetyNumber } };
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
  async qrPayload(userId: string): Promise<Uint8Array> {
    return gap('qrPayload', [await this.pair(userId)]);
  }
  async matchesQr(userId: string, scanned: Uint8Array): Promise<boolean> {
    return gap('matchesQr', [await this.pair(userId), scanned]);
  }
  async setVerified(username: string, verified: boolean): Promise<void> {
    await this.client.setVerified(username, verified);
  }
  async send(username: string, content: Uint8Array, contentType: number) {
    try {
      const r = await this.client.send(username, content, contentType);
      return { messageId: r.messageId };
    } catch (e) {
      const err = wrap(e);
      // Transient relay answers are retried like lost connectivity.
      if (err.status === 429 || (err.status ?? 0) >= 500) throw new AppError('NETWORK', err.message, err.status);
      throw err;
    }
  }
  sealLocal(label: string, data: Uint8Array) {
    return gap('sealLocal', [label, data]);
  }
  openLocal(label: string, data: Uint8Array) {
    return gap('openLocal', [label, data]);
  }
  async forgetContact(username: string) {
    await this.client.forgetContact(username);
  }
  async close() {
    this.stop();
    await this.client.logout(false).catch(() => undefined);
    await gap('close', []);
  }
  async wipe() {
    this.stop();
    await this.client.logout(true);
    await gap('close', []);
    await (await kv()).clear();
  }

  start(h: Handlers) {
    this.handlers = h;
    if (!this.started) {
      this.started = true;
      void this.client.connect();
    }
  }
  stop() {
    this.handlers = null;
  }

  private onMessage(m: IncomingMessage) {
    const inc: Incoming = {
      blobId: m.id,
      messageId: m.messageId,
      sender: m.from,
      senderUsername: m.fromUsername,
      keyMatches: m.verified,
      sentAt: m.sentAt,
      contentType: m.contentType,
      content: m.content,
      text: m.text,
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

// ---- backend -----------------------------------------------------------------------

/** GAP: Client.register generates keys before it learns the name is taken; ask first. */
async function taken(userId: string): Promise<boolean> {
  try {
    const res = await fetch(`/v1/users/${userId}/bundle`, { method: 'GET', cache: 'no-store' });
    return res.ok;
  } catch {
    throw new AppError('NETWORK', 'The relay cannot be reached. Check your connection.');
  }
}

async function open(username: string, password: string, onProgress: (p: Progress) => void): Promise<RemoteClient> {
  onProgress({ label: 'Checking your password', done: 0, total: 2 });
  try {
    return await RemoteClient.login(await getWorker(), { autoAck: false, connect: false }, username, password);
  } catch (e) {
    throw wrap(e);
  }
}

export const backend: Backend = {
  async storedUsername() {
    return (await (await kv()).get<Meta>('current'))?.username ?? null;
  },

  async register(username, password, onProgress, keySize) {
    const ids = await gap('ids', [username]);
    if (await taken(ids.userId)) throw new AppError('ALREADY_REGISTERED', `“${ids.username}” is taken. Log in, or pick another name.`);
    onProgress({ label: 'Generating your keys', done: 0, total: 2 });
    let client: RemoteClient;
    try {
      client = await RemoteClient.register(await getWorker(), {
        keySize: keySize as 2048 | 3072 | 4096 | undefined,
        autoAck: false, // acknowledged once the message is in the history
        connect: false,
        onProgress: (d, t) => onProgress({ label: d < t ? `Generating your keys (${d + 1} of ${t})` : 'Keys ready; protecting them with your password', done: d, total: t }),
      }, ids.username, password);
    } catch (e) {
      const err = wrap(e);
      if (err.code === 'ALREADY_REGISTERED') throw new AppError('ALREADY_REGISTERED', `“${ids.username}” was just taken.`);
      throw err;
    }
    onProgress({ label: 'Locking this device’s copy of your messages', done: 1, total: 2 });
    const vaultHeader = await gap('vault', [password, null]);
    await (await kv()).put('current', { username: client.username, userId: client.userId, vaultHeader } satisfies Meta);
    return new ClientAccount(client);
  },

  async login(username, password, onProgress) {
    const ids = await gap('ids', [username]);
    const meta = await (await kv()).get<Meta>('current');
    const client = await open(ids.username, password, onProgress).catch((e: AppError) => {
      if (e.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `No account “${ids.username}” here.`);
      if (e.status === 429) throw new AppError('RELAY_BUSY', 'Too many wrong passwords: wait 15 minutes.');
      throw e;
    });
    onProgress({ label: 'Opening this device’s copy of your messages', done: 1, total: 2 });
    const vaultHeader = await gap('vault', [password, meta?.userId === client.userId ? meta.vaultHeader : null]);
    await (await kv()).put('current', { username: client.username, userId: client.userId, vaultHeader } satisfies Meta);
    return new ClientAccount(client);
  },

  async unlock(password, onProgress) {
    const meta = await (await kv()).get<Meta>('current');
    if (!meta) throw new AppError('NOT_FOUND', 'No account on this device.');
    const client = await open(meta.username, password, onProgress);
    onProgress({ label: 'Opening this device’s copy of your messages', done: 1, total: 2 });
    await gap('vault', [password, meta.vaultHeader]);
    return new ClientAccount(client);
  },
};

/** Forgets the account on this device without the password (the "use another account" path). */
export async function forgetDevice(): Promise<void> {
  const meta = await (await kv()).get<Meta>('current');
  await (await kv()).clear();
  await deleteDb(META_DB);
  kvP = null;
  if (meta) await deleteDb(`sealpost-www-${meta.userId.slice(0, 16)}`);
  // GAP: the package's IndexedDbStorage holds the encrypted keys; without a Client (no
  // password) there is no API to delete them, so drop the package's database by name.
  await deleteDb('sealpost');
}
