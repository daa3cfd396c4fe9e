// The page side of the messaging layer: a typed RPC to the crypto worker (./worker.ts),
// which hosts the sealpost-wasm Client. Secrets never reach this thread.

import type { Account, Backend, Handlers, Incoming, LinkState, PeerInfo, Progress } from './types';
import { AppError } from './types';
import type { WorkerApi } from './worker';
import { KV, deleteDb, openDb } from '../idb';
import { b64 } from '../util';
import workerUrl from './worker.ts?worker&url';

// Filled in by scripts/postbuild.mjs: the SHA-384 of the built worker script.
const WORKER_SHA384 = '__SEALPOST_WORKER_SHA384__';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Args<F> = F extends (...a: infer A) => any ? A : never;
type Ret<F> = F extends (...a: any[]) => infer R ? Awaited<R> : never;
type Strip<A extends unknown[]> = A extends [...infer H, (label: string, done: number, total: number) => void] ? H : A;

let worker: Promise<Worker> | null = null;
let seq = 0;
const calls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; progress?: (p: Progress) => void }>();
type WorkerEvent =
  | { event: 'message'; message: { id: string; messageId: string; from: string; fromUsername?: string; verified: boolean; text?: string; content: Uint8Array; contentType: number; sentAt: number } }
  | { event: 'status'; status: string }
  | { event: 'error'; error: { code: string; message: string } };
let onEvent: ((e: WorkerEvent) => void) | null = null;

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
  w.onmessage = (ev) => {
    const d = ev.data;
    if (d.event) return onEvent?.(d as WorkerEvent);
    const c = calls.get(d.id);
    if (!c) return;
    if (d.progress) return c.progress?.(d.progress);
    calls.delete(d.id);
    if (d.error) c.reject(new AppError(d.error.code ?? 'CRYPTO', d.error.message, d.error.status));
    else c.resolve(d.result);
  };
  w.onerror = (ev) => {
    for (const [id, c] of calls) {
      calls.delete(id);
      c.reject(new AppError('CRYPTO', `The crypto worker failed: ${ev.message}`));
    }
  };
  return w;
}

let ready: Promise<unknown> | null = null;

function call<K extends keyof WorkerApi>(
  method: K,
  args: Strip<Args<WorkerApi[K]>>,
  progress?: (p: Progress) => void,
): Promise<Ret<WorkerApi[K]>> {
  worker ??= startWorker();
  const run = async () => {
    const w = await worker!;
    return new Promise<Ret<WorkerApi[K]>>((resolve, reject) => {
      const id = ++seq;
      calls.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      w.postMessage({ id, method, args });
    });
  };
  if (method === 'init') return run();
  ready ??= call('init', []);
  return ready.then(run);
}

/** Starts loading the wasm module in the worker (call early; idempotent). */
export function warmUp(): void {
  ready ??= call('init', []);
  ready.catch(() => undefined);
}

export async function userIdOf(username: string): Promise<string> {
  return (await call('ids', [username])).userId;
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

class ClientAccount implements Account {
  private handlers: Handlers | null = null;
  private queue: Promise<void> = Promise.resolve();
  private acks: string[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(readonly username: string, readonly userId: string, readonly fingerprint: string) {}

  lookup(username: string): Promise<PeerInfo> {
    return call('lookup', [username]);
  }
  contact(userId: string): Promise<PeerInfo | null> {
    return call('contact', [userId]);
  }
  qrPayload(userId: string): Promise<Uint8Array> {
    return call('qrPayload', [userId]);
  }
  matchesQr(userId: string, scanned: Uint8Array): Promise<boolean> {
    return call('matchesQr', [userId, scanned]);
  }
  async setVerified(username: string, verified: boolean): Promise<void> {
    await call('setVerified', [username, verified]);
  }
  async send(username: string, content: Uint8Array, contentType: number) {
    try {
      return await call('send', [username, content, contentType]);
    } catch (e) {
      const err = e as AppError;
      // Transient relay answers are retried like lost connectivity.
      if (err.status === 429 || err.status === 503 || (err.status ?? 0) >= 500) throw new AppError('NETWORK', err.message, err.status);
      throw e;
    }
  }
  sealLocal(label: string, data: Uint8Array) {
    return call('sealLocal', [label, data]);
  }
  openLocal(label: string, data: Uint8Array) {
    return call('openLocal', [label, data]);
  }
  async forgetContact(username: string) {
    await call('forgetContact', [username]);
  }
  async close() {
    this.stop();
    await call('logout', [false]);
  }
  async wipe() {
    this.stop();
    await call('logout', [true]);
    await (await kv()).clear();
  }

  start(h: Handlers) {
    this.handlers = h;
    onEvent = (e) => {
      if (e.event === 'status') {
        const s = e.status === 'online' ? 'online' : e.status === 'connecting' && navigator.onLine ? 'connecting' : 'offline';
        this.handlers?.onLinkState(s as LinkState);
      } else if (e.event === 'message') {
        const m = e.message;
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
      } else if (e.event === 'error') {
        console.warn('sealpost:', e.error.code, e.error.message);
      }
    };
    if (!this.running) {
      this.running = true;
      void call('connect', []);
    }
  }
  stop() {
    onEvent = null;
    this.handlers = null;
  }

  private async deliver(m: Incoming) {
    try {
      await this.handlers?.onMessage(m);
    } catch (e) {
      console.warn('sealpost: message handler failed', e);
      return; // not acknowledged: the relay sends it again on the next connection
    }
    this.acks.push(m.blobId);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      const ids = this.acks.splice(0);
      call('ack', [ids]).catch(() => undefined); // unacked blobs come again; duplicates are dropped
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

export const backend: Backend = {
  async storedUsername() {
    return (await (await kv()).get<Meta>('current'))?.username ?? null;
  },

  async register(username, password, onProgress, keySize) {
    const ids = await call('ids', [username]);
    if (await taken(ids.userId)) throw new AppError('ALREADY_REGISTERED', `“${ids.username}” is taken. Log in, or pick another name.`);
    onProgress({ label: 'Generating your keys', done: 0, total: 2 });
    let r;
    try {
      r = await call('register', [ids.username, password, keySize], onProgress);
    } catch (e) {
      if ((e as AppError).code === 'ALREADY_REGISTERED') throw new AppError('ALREADY_REGISTERED', `“${ids.username}” was just taken.`);
      throw e;
    }
    await (await kv()).put('current', { username: r.username, userId: r.userId, vaultHeader: r.vaultHeader } satisfies Meta);
    return new ClientAccount(r.username, r.userId, r.fingerprint);
  },

  async login(username, password, onProgress) {
    const ids = await call('ids', [username]);
    const meta = await (await kv()).get<Meta>('current');
    let r;
    try {
      r = await call('login', [ids.username, password, meta?.userId === ids.userId ? meta.vaultHeader : null], onProgress);
    } catch (e) {
      const err = e as AppError;
      if (err.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `No account “${ids.username}” here.`);
      if (err.status === 429) throw new AppError('RELAY_BUSY', 'Too many wrong passwords: wait 15 minutes.');
      throw e;
    }
    await (await kv()).put('current', { username: r.username, userId: r.userId, vaultHeader: r.vaultHeader } satisfies Meta);
    return new ClientAccount(r.username, r.userId, r.fingerprint);
  },

  async unlock(password, onProgress) {
    const meta = await (await kv()).get<Meta>('current');
    if (!meta) throw new AppError('NOT_FOUND', 'No account on this device.');
    const r = await call('login', [meta.username, password, meta.vaultHeader], onProgress);
    return new ClientAccount(r.username, r.userId, r.fingerprint);
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
