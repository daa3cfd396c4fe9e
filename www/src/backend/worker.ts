/// <reference lib="webworker" />
// ADAPTER (temporary, see ./README.md): the crypto half of a relay client written in the
// page because sealpost-wasm's client level (wasm/src/client.rs) was still a
// placeholder. Holds every secret object (identity, sessions, vault) inside this Web
// Worker; the page only sees public data and envelopes. Replace with the package's
// client/worker once it lands.

import {
  BackupKeys,
  Identity,
  KeyBundle,
  SafetyNumber,
  SessionStore,
  Vault,
  init,
  normalizeUsername,
  userIdFromUsername,
  type KeySize,
} from 'sealpost-wasm';

import wasmUrl from 'sealpost-wasm/sealpost_wasm_bg.wasm?url';

declare const self: DedicatedWorkerGlobalScope;

// Filled in by scripts/postbuild.mjs: the SHA-256 of the built wasm module.
const WASM_SHA256 = '__SEALPOST_WASM_SHA256__';

async function loadWasm() {
  // The worker runs from a blob: URL (see ../backend/index.ts): resolve against the origin.
  const res = await fetch(new URL(wasmUrl, location.origin), { cache: 'no-cache' });
  const bytes = await res.arrayBuffer();
  if (!import.meta.env.DEV) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const hex = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    if (hex !== WASM_SHA256) throw Object.assign(new Error('The encryption module is corrupted or was tampered with.'), { code: 'INTEGRITY' });
  }
  await init(bytes);
}

let me: Identity | null = null;
let sessions: SessionStore | null = null;
let vault: Vault | null = null;
let pendingBackup: BackupKeys | null = null;

const bundles = new Map<string, KeyBundle>();

function bundleOf(bytes: Uint8Array): KeyBundle {
  const key = Array.from(bytes.subarray(bytes.length - 32), (x) => x.toString(16)).join('') + bytes.length;
  let b = bundles.get(key);
  if (!b) {
    b = KeyBundle.fromBytes(bytes);
    bundles.set(key, b);
  }
  return b;
}

function requireMe(): Identity {
  if (!me || !sessions || !vault) throw Object.assign(new Error('not logged in'), { code: 'CLOSED' });
  return me;
}

function peerInfo(username: string, bytes: Uint8Array, expectedId: string) {
  const b = bundleOf(bytes);
  if (b.userId !== expectedId) throw Object.assign(new Error('the directory answered with another user\'s keys'), { code: 'BAD_SIGNATURE' });
  const sn = requireMe().safetyNumber(b);
  const out = {
    userId: b.userId,
    username,
    fingerprint: b.fingerprint,
    bundle: b.toBytes(),
    safety: { digits: sn.digits, display: sn.display, qrPayload: sn.qrPayload },
  };
  sn.free();
  return out;
}

function stateBlobs() {
  return { vaultHeader: vault!.header, identity: vault!.sealIdentity(me!), sessions: vault!.sealSessions(sessions!) };
}

type Progress = (label: string, done: number, total: number) => void;

const api = {
  async init() {
    await loadWasm();
    return true;
  },
  ids(username: string) {
    const name = normalizeUsername(username);
    return { username: name, userId: userIdFromUsername(name) };
  },
  /** Step 1 of registration: keys, in this worker (seconds at 4096 bits). */
  generate(username: string, keySize: number | undefined, progress: Progress) {
    const id = Identity.generate(username, (keySize as KeySize | undefined) ?? undefined, (d, t) =>
      progress(d < t ? `Generating your keys (${d + 1} of ${t})` : 'Keys ready', d, t),
    );
    me?.free();
    me = id;
    sessions = new SessionStore();
    return { userId: id.userId, username: id.username, fingerprint: id.fingerprint, bundle: id.bundle().toBytes() };
  },
  /** Step 2: the encrypted key backup (PBKDF2) and the local vault (PBKDF2). */
  backup(password: string, progress: Progress) {
    const id = requireMeLoose();
    progress('Encrypting your key backup', 0, 2);
    pendingBackup?.free();
    pendingBackup = BackupKeys.create(password, id.userId);
    const blob = id.exportBackup(pendingBackup);
    const token = pendingBackup.authToken;
    progress('Locking this device\'s copy', 1, 2);
    vault?.free();
    vault = Vault.create(password);
    progress('Done', 2, 2);
    const body = new Uint8Array(token.length + blob.length);
    body.set(token);
    body.set(blob, token.length);
    return { body, state: stateBlobs() };
  },
  /** Login: derive backup keys from the public header, return the fetch token. */
  backupToken(password: string, header: Uint8Array) {
    pendingBackup?.free();
    pendingBackup = BackupKeys.forBlob(password, header);
    return pendingBackup.authToken;
  },
  restore(username: string, password: string, blob: Uint8Array, progress: Progress) {
    if (!pendingBackup) throw new Error('no backup keys');
    progress('Decrypting your keys', 0, 2);
    const id = Identity.importBackup(username, blob, pendingBackup);
    me?.free();
    me = id;
    sessions = new SessionStore();
    progress('Locking this device\'s copy', 1, 2);
    vault?.free();
    vault = Vault.create(password);
    progress('Done', 2, 2);
    return { userId: id.userId, username: id.username, fingerprint: id.fingerprint, state: stateBlobs() };
  },
  unlock(password: string, state: { vaultHeader: Uint8Array; identity: Uint8Array; sessions: Uint8Array }) {
    const v = Vault.unlock(password, state.vaultHeader);
    const id = v.openIdentity(state.identity);
    const s = v.openSessions(state.sessions);
    vault?.free();
    me?.free();
    sessions?.free();
    vault = v;
    me = id;
    sessions = s;
    return { userId: id.userId, username: id.username, fingerprint: id.fingerprint };
  },
  signRequest(method: string, path: string, body: Uint8Array, ts: number, nonce: string) {
    return requireMe().signRequest(method, path, body, ts, nonce);
  },
  signChallenge(challenge: Uint8Array) {
    return requireMeLoose().signChallenge(challenge);
  },
  peer(username: string, bundle: Uint8Array, expectedId: string) {
    return peerInfo(username, bundle, expectedId);
  },
  matchesQr(bundle: Uint8Array, scanned: Uint8Array) {
    const b = bundleOf(bundle);
    const mine = requireMe();
    const sn = SafetyNumber.compute(mine.userId, mine.identityKey, b.userId, b.identityKey);
    const ok = sn.matchesQr(scanned);
    sn.free();
    return ok;
  },
  seal(bundle: Uint8Array, content: Uint8Array, contentType: number) {
    const m = requireMe();
    const s = sessions!.seal(m, bundleOf(bundle), content, contentType);
    return { messageId: s.messageId, envelope: s.envelope, sessions: vault!.sealSessions(sessions!) };
  },
  open(envelope: Uint8Array) {
    const m = requireMe();
    const o = sessions!.open(m, envelope);
    return {
      message: {
        messageId: o.messageId,
        sender: o.sender,
        senderFingerprint: o.senderFingerprint,
        sentAt: o.sentAt,
        contentType: o.contentType,
        content: o.content,
        text: o.text,
      },
      sessions: vault!.sealSessions(sessions!),
    };
  },
  forgetPeer(userId: string) {
    requireMe();
    sessions!.forgetPeer(userId);
    return vault!.sealSessions(sessions!);
  },
  sealLocal(label: string, data: Uint8Array) {
    requireMe();
    return vault!.seal(label, data);
  },
  openLocal(label: string, data: Uint8Array) {
    requireMe();
    return vault!.open(label, data);
  },
  close() {
    me?.free();
    sessions?.free();
    vault?.free();
    pendingBackup?.free();
    me = sessions = vault = pendingBackup = null;
    for (const b of bundles.values()) b.free();
    bundles.clear();
    return true;
  },
};

function requireMeLoose(): Identity {
  if (!me) throw Object.assign(new Error('no identity'), { code: 'CLOSED' });
  return me;
}

export type WorkerApi = typeof api;

self.onmessage = async (ev: MessageEvent<{ id: number; method: keyof WorkerApi; args: unknown[] }>) => {
  const { id, method, args } = ev.data;
  const progress: Progress = (label, done, total) => self.postMessage({ id, progress: { label, done, total } });
  try {
    const fn = api[method] as (...a: unknown[]) => unknown;
    const result = await fn(...args, progress); // extra trailing argument is ignored
    self.postMessage({ id, result });
  } catch (e) {
    const err = e as { message?: string; code?: string; name?: string };
    self.postMessage({ id, error: { message: err?.message ?? String(e), code: err?.code, name: err?.name } });
  }
};
