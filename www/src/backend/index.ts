// ADAPTER (temporary, see ./README.md): registration, login, directory, mailbox and
// WebSocket against the relay API (docs/API.md), written in the page because the
// package's client level was a placeholder. Secrets live in ./worker.ts.

import type { Account, Backend, Handlers, Incoming, LinkState, PeerInfo, Progress } from './types';
import { AppError } from './types';
import type { WorkerApi } from './worker';
import { KV, deleteDb, openDb } from '../idb';
import { b64, enc, sleep } from '../util';

// ---- worker RPC -------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any */
type Args<F> = F extends (...a: infer A) => any ? A : never;
type Ret<F> = F extends (...a: any[]) => infer R ? Awaited<R> : never;
type Strip<A extends unknown[]> = A extends [...infer H, (label: string, done: number, total: number) => void] ? H : A;

import workerUrl from './worker.ts?worker&url';

// Filled in by scripts/postbuild.mjs: the SHA-384 of the built worker script.
const WORKER_SHA384 = '__SEALPOST_WORKER_SHA384__';

let worker: Promise<Worker> | null = null;
let seq = 0;
const calls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; progress?: (p: Progress) => void }>();

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
    const { id, result, error, progress } = ev.data;
    const c = calls.get(id);
    if (!c) return;
    if (progress) return c.progress?.(progress);
    calls.delete(id);
    if (error) c.reject(new AppError(error.code ?? 'CRYPTO', error.message));
    else c.resolve(result);
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
}

export async function userIdOf(username: string): Promise<string> {
  return (await call('ids', [username])).userId;
}

// ---- HTTP ---------------------------------------------------------------------------

const b64url = (bytes: Uint8Array) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const unb64url = (s: string) => {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

async function http(
  method: string,
  path: string,
  body?: Uint8Array,
  headers: Record<string, string> = {},
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      body: body as BodyInit | undefined,
      headers: body ? { 'content-type': 'application/octet-stream', ...headers } : headers,
      cache: 'no-store',
      credentials: 'omit',
      // A request that hangs (captive portal, dying Wi-Fi) fails and is retried.
      signal: AbortSignal.timeout(20_000),
    });
  } catch {
    throw new AppError('NETWORK', 'The relay cannot be reached. Check your connection.');
  }
  if (res.ok) return res;
  let code = 'RELAY';
  let message = `The relay answered ${res.status}.`;
  try {
    const j = await res.json();
    if (j?.message) message = j.message;
    if (j?.error) code = String(j.error).toUpperCase();
  } catch {
    /* not JSON */
  }
  if (res.status === 404) code = 'NOT_FOUND';
  if (res.status === 401) code = 'UNAUTHORIZED';
  if (res.status === 429 || res.status === 503) code = 'RELAY_BUSY';
  if (res.status >= 500 && res.status !== 507) code = 'NETWORK'; // transient: retry
  throw new AppError(code, message, res.status);
}

async function signedHeaders(method: string, path: string, body: Uint8Array): Promise<Record<string, string>> {
  const ts = Math.floor(Date.now() / 1000);
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
  const sig = await call('signRequest', [method, path, body, ts, nonce]);
  return { authorization: `Sealpost-Sig ts=${ts},nonce=${nonce},sig=${b64url(sig)}` };
}

// ---- local state ---------------------------------------------------------------------

interface Stored {
  username: string;
  userId: string;
  vaultHeader: Uint8Array;
  identity: Uint8Array;
  sessions: Uint8Array;
}

const ACCOUNT_DB = 'sealpost-account';
let kvP: Promise<KV> | null = null;
const kv = () => (kvP ??= openDb(ACCOUNT_DB, ['state']).then((db) => new KV(db, 'state')));

async function saveState(s: Stored) {
  await (await kv()).put('current', s);
}
async function saveSessions(sessions: Uint8Array) {
  const k = await kv();
  const cur = await k.get<Stored>('current');
  if (cur) await k.put('current', { ...cur, sessions });
}

// ---- the account ---------------------------------------------------------------------

class RelayAccount implements Account {
  private ws: WebSocket | null = null;
  private handlers: Handlers | null = null;
  private stopped = true;
  private queue: Promise<void> = Promise.resolve();
  private acks: string[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private retry = 500;
  private sessionsWrite: Promise<void> = Promise.resolve();

  constructor(readonly username: string, readonly userId: string, readonly fingerprint: string) {}

  private persistSessions(blob: Uint8Array) {
    this.sessionsWrite = this.sessionsWrite.then(() => saveSessions(blob)).catch(() => undefined);
  }

  async lookup(username: string): Promise<PeerInfo> {
    const { username: name, userId } = await call('ids', [username]);
    let res: Response;
    try {
      res = await http('GET', `/v1/users/${userId}/bundle`);
    } catch (e) {
      if ((e as AppError).code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `Nobody is registered as “${name}”.`);
      throw e;
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    return call('peer', [name, bytes, userId]);
  }
  async peerFromBundle(username: string, bundle: Uint8Array): Promise<PeerInfo> {
    const { username: name, userId } = await call('ids', [username]);
    return call('peer', [name, bundle, userId]);
  }
  matchesQr(peer: PeerInfo, scanned: Uint8Array): Promise<boolean> {
    return call('matchesQr', [peer.bundle, scanned]);
  }
  async seal(peer: PeerInfo, content: string | Uint8Array, contentType = 1) {
    const data = typeof content === 'string' ? enc.encode(content) : content;
    const r = await call('seal', [peer.bundle, data, contentType]);
    this.persistSessions(r.sessions);
    return { messageId: r.messageId, envelope: r.envelope };
  }
  async post(peerUserId: string, envelope: Uint8Array): Promise<void> {
    await http('POST', `/v1/mailboxes/${peerUserId}`, envelope);
  }
  sealLocal(label: string, data: Uint8Array) {
    return call('sealLocal', [label, data]);
  }
  openLocal(label: string, data: Uint8Array) {
    return call('openLocal', [label, data]);
  }
  async forgetPeer(userId: string) {
    this.persistSessions(await call('forgetPeer', [userId]));
  }
  async wipe() {
    this.stop();
    await this.sessionsWrite;
    await (await kv()).clear();
    await call('close', []);
  }

  start(h: Handlers) {
    this.handlers = h;
    this.stopped = false;
    this.connect();
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
  }
  stop() {
    this.stopped = true;
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    this.ws?.close();
    this.ws = null;
  }
  private onOffline = () => {
    // The socket may linger for a while without noticing: drop it and say so.
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.setLink('offline');
  };
  private onOnline = () => {
    this.retry = 500;
    if (!this.ws) this.connect();
  };
  private setLink(s: LinkState) {
    this.handlers?.onLinkState(s);
  }

  private connect() {
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setLink('offline');
      return; // the 'online' event reconnects
    }
    this.setLink('connecting');
    const url = new URL(`/v1/mailboxes/${this.userId}/ws`, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    this.ws = ws;
    let alive = false;
    ws.onmessage = async (ev) => {
      let msg: { type: string; challenge?: string; id?: string; data?: string; error?: string };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg.type === 'challenge' && msg.challenge) {
        try {
          const sig = await call('signChallenge', [unb64url(msg.challenge)]);
          ws.send(JSON.stringify({ type: 'auth', signature: b64url(sig) }));
        } catch {
          ws.close();
        }
      } else if (msg.type === 'ready') {
        alive = true;
        this.retry = 500;
        this.setLink('online');
      } else if (msg.type === 'blob' && msg.id && msg.data) {
        const id = msg.id;
        const data = unb64url(msg.data);
        this.queue = this.queue.then(() => this.deliver(id, data));
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) {
        if (!this.stopped && !this.ws && !navigator.onLine) this.setLink('offline');
        return;
      }
      this.ws = null;
      if (this.stopped) return;
      this.setLink(navigator.onLine ? 'connecting' : 'offline');
      const wait = alive ? 300 : this.retry;
      this.retry = Math.min(this.retry * 2, 20_000);
      setTimeout(() => {
        if (!this.ws && !this.stopped) this.connect();
      }, wait + Math.random() * 300);
    };
  }

  private async deliver(blobId: string, data: Uint8Array) {
    let opened: Awaited<ReturnType<WorkerApi['open']>> | null = null;
    try {
      opened = await call('open', [data]);
    } catch (e) {
      // REPLAY: already opened (redelivery after a lost ack). DECRYPT_FAILED/MALFORMED
      // can never succeed: drop it rather than see it forever.
      console.warn('sealpost: dropped a blob', (e as AppError).code);
    }
    if (opened) {
      this.persistSessions(opened.sessions);
      const m: Incoming = { blobId, ...opened.message };
      try {
        await this.handlers?.onMessage(m);
      } catch (e) {
        console.warn('sealpost: message handler failed', e);
      }
    }
    await this.sessionsWrite;
    this.ack(blobId);
  }

  private ack(id: string) {
    this.acks.push(id);
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      const ids = this.acks.splice(0);
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'ack', ids }));
      // Not connected: the relay sends them again and REPLAY drops them.
    }, 20);
  }
}

// ---- backend -----------------------------------------------------------------------

async function relayRegistered(userId: string): Promise<boolean> {
  try {
    await http('GET', `/v1/users/${userId}/bundle`);
    return true;
  } catch (e) {
    if ((e as AppError).code === 'NOT_FOUND') return false;
    throw e;
  }
}

export const backend: Backend = {
  async storedUsername() {
    return (await (await kv()).get<Stored>('current'))?.username ?? null;
  },

  async register(username, password, onProgress, keySize) {
    const ids = await call('ids', [username]);
    if (await relayRegistered(ids.userId)) {
      throw new AppError('ALREADY_REGISTERED', `“${ids.username}” is taken. Log in, or pick another name.`);
    }
    const pub = await call('generate', [ids.username, keySize], onProgress);
    onProgress({ label: 'Publishing your public keys', done: 0, total: 1 });
    try {
      await http('PUT', `/v1/users/${pub.userId}/bundle`, pub.bundle);
    } catch (e) {
      if ((e as AppError).status === 409) throw new AppError('ALREADY_REGISTERED', `“${ids.username}” was just taken.`);
      throw e;
    }
    const b = await call('backup', [password], onProgress);
    onProgress({ label: 'Storing your encrypted key backup', done: 0, total: 1 });
    const path = `/v1/users/${pub.userId}/backup`;
    await http('PUT', path, b.body, await signedHeaders('PUT', path, b.body));
    await saveState({ username: pub.username, userId: pub.userId, ...b.state });
    return new RelayAccount(pub.username, pub.userId, pub.fingerprint);
  },

  async login(username, password, onProgress) {
    const ids = await call('ids', [username]);
    onProgress({ label: 'Fetching your key backup', done: 0, total: 3 });
    let header: Uint8Array;
    try {
      header = new Uint8Array(await (await http('GET', `/v1/users/${ids.userId}/backup/params`)).arrayBuffer());
    } catch (e) {
      if ((e as AppError).code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `No account “${ids.username}” here.`);
      throw e;
    }
    onProgress({ label: 'Checking your password', done: 1, total: 3 });
    const token = await call('backupToken', [password, header]);
    let blob: Uint8Array;
    try {
      blob = new Uint8Array(await (await http('POST', `/v1/users/${ids.userId}/backup/fetch`, token)).arrayBuffer());
    } catch (e) {
      const s = (e as AppError).status;
      if (s === 403) throw new AppError('WRONG_PASSWORD', 'Wrong username or password.');
      if (s === 429) throw new AppError('RELAY_BUSY', 'Too many wrong passwords: wait 15 minutes.');
      throw e;
    }
    const r = await call('restore', [ids.username, password, blob], onProgress);
    await saveState({ username: r.username, userId: r.userId, ...r.state });
    return new RelayAccount(r.username, r.userId, r.fingerprint);
  },

  async unlock(password, onProgress) {
    const s = await (await kv()).get<Stored>('current');
    if (!s) throw new AppError('NOT_FOUND', 'No account on this device.');
    onProgress({ label: 'Unlocking', done: 0, total: 1 });
    const r = await call('unlock', [password, s]);
    return new RelayAccount(r.username, r.userId, r.fingerprint);
  },
};

export async function forgetDevice(): Promise<void> {
  await (await kv()).clear();
  await deleteDb(ACCOUNT_DB);
  kvP = null;
}

export { sleep };
