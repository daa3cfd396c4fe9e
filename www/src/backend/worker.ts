/// <reference lib="webworker" />
// The crypto worker: hosts the sealpost-wasm `Client` (register, login, lookup with
// pinning, send, WebSocket receive, ack, logout; state in the package's
// IndexedDbStorage, encrypted under the password) off the main thread. The page talks
// to it through the small RPC in ./index.ts.
//
// This file would shrink to `import 'sealpost-wasm/worker'` once the package ships its
// worker/remote entry points (empty when this was written). The few crypto-level calls
// below are marked GAP: each works around something the Client does not expose yet
// (listed in ./README.md).

import {
  Client,
  IndexedDbStorage,
  KeyBundle,
  SafetyNumber,
  Vault,
  init,
  normalizeUsername,
  userIdFromUsername,
  type ContactInfo,
  type KeySize,
} from 'sealpost-wasm';
import wasmUrl from 'sealpost-wasm/sealpost_wasm_bg.wasm?url';

declare const self: DedicatedWorkerGlobalScope;

// Filled in by scripts/postbuild.mjs: the SHA-256 of the built wasm module.
const WASM_SHA256 = '__SEALPOST_WASM_SHA256__';

async function loadWasm() {
  // The worker runs from a blob: URL (see ./index.ts): resolve against the origin.
  const res = await fetch(new URL(wasmUrl, location.origin), { cache: 'no-cache' });
  const bytes = await res.arrayBuffer();
  if (!import.meta.env.DEV) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const hex = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    if (hex !== WASM_SHA256) throw Object.assign(new Error('The encryption module is corrupted or was tampered with.'), { code: 'INTEGRITY' });
  }
  await init(bytes);
}

let client: Client | null = null;
/** GAP: the app's own password-derived key for history (the Client's vault is private). */
let appVault: Vault | null = null;
let storage: IndexedDbStorage | null = null;
const bundles = new Map<string, KeyBundle>(); // userId -> directory bundle (for QR codes)

type Progress = (label: string, done: number, total: number) => void;

const need = () => {
  if (!client) throw Object.assign(new Error('not logged in'), { code: 'CLOSED' });
  return client;
};

function options(keySize: number | undefined, progress: Progress) {
  return {
    relayUrl: location.origin, // absolute: this worker runs from a blob: URL
    storage: storage!,
    keySize: keySize as KeySize | undefined,
    onProgress: (d: number, t: number) => progress(d < t ? `Generating your keys (${d + 1} of ${t})` : 'Keys ready; protecting them with your password', d, t),
    autoAck: false, // the page acknowledges once the message is in its history
    connect: false,
  };
}

function publicInfo(c: Client) {
  return { username: c.username, userId: c.userId, fingerprint: c.fingerprint };
}

/** GAP: ContactInfo has no identity key or QR payload; read the bundle from the directory. */
async function bundleFor(userId: string, fingerprint: string): Promise<KeyBundle> {
  let b = bundles.get(userId);
  if (!b || b.fingerprint !== fingerprint) {
    const res = await fetch(`${location.origin}/v1/users/${userId}/bundle`, { cache: 'no-store' });
    if (!res.ok) throw Object.assign(new Error(`the directory answered ${res.status}`), { code: res.status === 404 ? 'NOT_FOUND' : 'NETWORK' });
    b = KeyBundle.fromBytes(new Uint8Array(await res.arrayBuffer()));
    if (b.userId !== userId) throw Object.assign(new Error('the directory answered with another user’s keys'), { code: 'BAD_SIGNATURE' });
    if (b.fingerprint !== fingerprint) throw Object.assign(new Error('the directory now shows a different key'), { code: 'IDENTITY_CHANGED' });
    bundles.set(userId, b);
  }
  return b;
}

async function safetyFor(info: ContactInfo) {
  const c = need();
  const me = await bundleFor(c.userId, c.fingerprint);
  const them = await bundleFor(info.userId, info.fingerprint);
  const sn = SafetyNumber.compute(me.userId, me.identityKey, them.userId, them.identityKey);
  if (sn.display !== info.safetyNumber && sn.digits !== info.safetyNumber.replace(/\D/g, '')) {
    throw Object.assign(new Error('safety number mismatch'), { code: 'IDENTITY_CHANGED' });
  }
  const out = sn.qrPayload;
  sn.free();
  return out;
}

function peer(info: ContactInfo) {
  const digits = info.safetyNumber.replace(/\D/g, '');
  return {
    userId: info.userId,
    username: info.username ?? '',
    fingerprint: info.fingerprint,
    verified: info.verified,
    safety: { digits, display: digits.replace(/(\d{5})(?=\d)/g, '$1 ') },
  };
}

function attach(c: Client) {
  c.onMessage((m) => self.postMessage({ event: 'message', message: m }));
  c.onStatus((s) => self.postMessage({ event: 'status', status: s }));
  c.onError((e) => self.postMessage({ event: 'error', error: { code: e.code, message: e.message } }));
}

const api = {
  async init() {
    await loadWasm();
    storage = await IndexedDbStorage.open();
    return true;
  },
  ids(username: string) {
    const name = normalizeUsername(username);
    return { username: name, userId: userIdFromUsername(name) };
  },
  async register(username: string, password: string, keySize: number | undefined, progress: Progress) {
    const c = await Client.register(options(keySize, progress), username, password);
    progress('Locking this device’s copy of your messages', 1, 2);
    appVault?.free();
    appVault = Vault.create(password); // GAP: see appVault
    client = c;
    attach(c);
    return { ...publicInfo(c), vaultHeader: appVault.header };
  },
  async login(username: string, password: string, vaultHeader: Uint8Array | null, progress: Progress) {
    progress('Checking your password', 0, 2);
    const c = await Client.login(options(undefined, progress), username, password);
    progress('Opening this device’s copy of your messages', 1, 2);
    appVault?.free();
    appVault = vaultHeader ? Vault.unlock(password, vaultHeader) : Vault.create(password);
    client = c;
    attach(c);
    return { ...publicInfo(c), vaultHeader: appVault.header };
  },
  connect() {
    need().connect();
    return true;
  },
  async lookup(username: string) {
    return peer(await need().lookup(username));
  },
  contact(userId: string) {
    const info = need().contacts().find((c) => c.userId === userId);
    return info ? peer(info) : null;
  },
  async qrPayload(userId: string) {
    const info = need().contacts().find((c) => c.userId === userId);
    if (!info) throw Object.assign(new Error('not a contact'), { code: 'NOT_FOUND' });
    return safetyFor(info);
  },
  async matchesQr(userId: string, scanned: Uint8Array) {
    const info = need().contacts().find((c) => c.userId === userId);
    if (!info) return false;
    const c = need();
    const me = await bundleFor(c.userId, c.fingerprint);
    const them = await bundleFor(info.userId, info.fingerprint);
    const sn = SafetyNumber.compute(me.userId, me.identityKey, them.userId, them.identityKey);
    const ok = sn.matchesQr(scanned); // GAP: Client.matchesQr(username, scanned)
    sn.free();
    return ok;
  },
  async setVerified(username: string, verified: boolean) {
    await need().setVerified(username, verified);
    return true;
  },
  async send(username: string, content: Uint8Array, contentType: number) {
    const r = await need().send(username, content, contentType);
    return { messageId: r.messageId };
  },
  async ack(ids: string[]) {
    await need().ack(ids);
    return true;
  },
  async forgetContact(username: string) {
    await need().forgetContact(username);
    return true;
  },
  sealLocal(label: string, data: Uint8Array) {
    if (!appVault) throw Object.assign(new Error('locked'), { code: 'CLOSED' });
    return appVault.seal(label, data);
  },
  openLocal(label: string, data: Uint8Array) {
    if (!appVault) throw Object.assign(new Error('locked'), { code: 'CLOSED' });
    return appVault.open(label, data);
  },
  async logout(forget: boolean) {
    const c = client;
    client = null;
    await c?.logout(forget);
    c?.free();
    appVault?.free();
    appVault = null;
    for (const b of bundles.values()) b.free();
    bundles.clear();
    return true;
  },
};

export type WorkerApi = typeof api;

self.onmessage = async (ev: MessageEvent<{ id: number; method: keyof WorkerApi; args: unknown[] }>) => {
  const { id, method, args } = ev.data;
  const progress: Progress = (label, done, total) => self.postMessage({ id, progress: { label, done, total } });
  try {
    const fn = api[method] as (...a: unknown[]) => unknown;
    const result = await fn(...args, progress); // the extra trailing argument is ignored
    self.postMessage({ id, result });
  } catch (e) {
    const err = e as { message?: string; code?: string; status?: number };
    self.postMessage({ id, error: { message: err?.message ?? String(e), code: err?.code, status: err?.status } });
  }
};
