/// <reference lib="webworker" />
// The crypto worker: the package's own worker (`serveClient` from sealpost-wasm/worker,
// which hosts the `Client` for the page's `RemoteClient`) plus a few extra requests on a
// separate channel (`{gap: id, method, args}`, ignored by serveClient), each marked GAP:
// it covers something the Client does not offer yet (see ./README.md).

import { serveClient } from 'sealpost-wasm/worker';
import { KeyBundle, SafetyNumber, Vault, init, normalizeUsername, userIdFromUsername } from 'sealpost-wasm';
import wasmUrl from 'sealpost-wasm/sealpost_wasm_bg.wasm?url';

declare const self: DedicatedWorkerGlobalScope;

// Filled in by scripts/postbuild.mjs: the SHA-256 of the built wasm module.
const WASM_SHA256 = '__SEALPOST_WASM_SHA256__';

/** The wasm bytes, checked against the build-time hash before anything instantiates them. */
async function verifiedWasm(): Promise<ArrayBuffer> {
  // This worker runs from a blob: URL (see ./index.ts): resolve against the origin.
  const res = await fetch(new URL(wasmUrl, location.origin), { cache: 'no-cache' });
  const bytes = await res.arrayBuffer();
  if (!import.meta.env.DEV) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const hex = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    if (hex !== WASM_SHA256) throw Object.assign(new Error('The encryption module is corrupted or was tampered with.'), { code: 'INTEGRITY' });
  }
  return bytes;
}

const wasm = verifiedWasm();
wasm.catch(() => undefined);
const ready = () => init(wasm);

// relayUrl: absolute, because a blob: worker cannot resolve "" against its own URL.
serveClient({ relayUrl: location.origin, wasm });

// ---- GAP requests -----------------------------------------------------------------

/** GAP 3: the app's own password-derived key for its history (the Client's vault is private). */
let appVault: Vault | null = null;
const bundles = new Map<string, KeyBundle>(); // userId -> directory bundle (QR codes)

/** GAP 2: ContactInfo has no identity key or QR payload: read bundles from the directory. */
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

interface Pair {
  me: { userId: string; fingerprint: string };
  them: { userId: string; fingerprint: string; safetyNumber: string };
}

async function safety({ me, them }: Pair): Promise<SafetyNumber> {
  const a = await bundleFor(me.userId, me.fingerprint);
  const b = await bundleFor(them.userId, them.fingerprint);
  const sn = SafetyNumber.compute(a.userId, a.identityKey, b.userId, b.identityKey);
  if (sn.digits !== them.safetyNumber.replace(/\D/g, '')) {
    sn.free();
    throw Object.assign(new Error('safety number mismatch'), { code: 'IDENTITY_CHANGED' });
  }
  return sn;
}

const gap = {
  ids(username: string) {
    const name = normalizeUsername(username);
    return { username: name, userId: userIdFromUsername(name) };
  },
  vault(password: string, header: Uint8Array | null) {
    appVault?.free();
    appVault = header ? Vault.unlock(password, header) : Vault.create(password);
    return appVault.header;
  },
  async qrPayload(p: Pair) {
    const sn = await safety(p);
    const out = sn.qrPayload;
    sn.free();
    return out;
  },
  async matchesQr(p: Pair, scanned: Uint8Array) {
    const sn = await safety(p);
    const ok = sn.matchesQr(scanned);
    sn.free();
    return ok;
  },
  sealLocal(label: string, data: Uint8Array) {
    if (!appVault) throw Object.assign(new Error('locked'), { code: 'CLOSED' });
    return appVault.seal(label, data);
  },
  openLocal(label: string, data: Uint8Array) {
    if (!appVault) throw Object.assign(new Error('locked'), { code: 'CLOSED' });
    return appVault.open(label, data);
  },
  close() {
    appVault?.free();
    appVault = null;
    for (const b of bundles.values()) b.free();
    bundles.clear();
    return true;
  },
};

export type GapApi = typeof gap;

self.addEventListener('message', async (ev: MessageEvent<{ gap?: number; method: keyof GapApi; args: unknown[] }>) => {
  const { gap: id, method, args } = ev.data ?? {};
  if (typeof id !== 'number') return; // a serveClient request
  try {
    await ready();
    const fn = gap[method] as (...a: unknown[]) => unknown;
    self.postMessage({ gap: id, result: await fn(...args) });
  } catch (e) {
    const err = e as { message?: string; code?: string; status?: number };
    self.postMessage({ gap: id, error: { message: err?.message ?? String(e), code: err?.code, status: err?.status } });
  }
});
