// Unlocked once per tab: a reload of the same tab opens the account without the password
// (which costs a second or more of PBKDF2), a new tab or window asks for it.
//
// After an unlock the package seals the account's password-derived keys under a fresh
// AES-GCM key that WebCrypto will not export (`exportSession`; the page never sees the
// keys). The wrapping key goes to IndexedDB under a random id; the sealed bytes and the
// id go to this tab's sessionStorage (which a new tab does not share and the browser
// drops with the tab): neither half alone opens anything, and nothing is written in the
// clear. "Lock", log out, a failed resume or 12 hours end it (every tab's key is
// deleted); expired keys of closed tabs are swept at start-up.

import type { Account } from './backend/types';
import { errorCode } from './backend/types';
import { KV, openDb } from './idb';
import { b64, randomId, unb64 } from './util';

const DB = 'sealpost-www-session';
const SLOT = 'sealpost.session';
const LIFETIME_MS = 12 * 3600 * 1000;

interface Slot {
  id: string;
  /** What exportSession returned (base64). */
  sealed: string;
  userId: string;
  expires: number;
}
interface Kept {
  key: CryptoKey;
  expires: number;
}

let kvP: Promise<KV> | null = null;
const keys = () => (kvP ??= openDb(DB, ['keys']).then((db) => new KV(db, 'keys')));

function slot(): Slot | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(SLOT) ?? 'null') as Slot | null;
    return s && typeof s.id === 'string' && typeof s.sealed === 'string' ? s : null;
  } catch {
    return null;
  }
}

/** After an unlock (or log-in, or registration): keeps the open account for this tab. */
export async function keepSession(acct: Account): Promise<void> {
  try {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const sealed = await acct.exportSession(key);
    const expires = Date.now() + LIFETIME_MS;
    const id = randomId();
    const kv = await keys();
    await kv.put(id, { key, expires } satisfies Kept);
    const old = slot();
    sessionStorage.setItem(SLOT, JSON.stringify({ id, sealed: b64(sealed), userId: acct.userId, expires } satisfies Slot));
    if (old) await kv.delete(old.id);
  } catch (e) {
    // Not kept: the next reload asks for the password, as before.
    console.warn('sealpost: the session could not be kept', e);
  }
}

/**
 * The account this tab unlocked before its reload (opened by `open`, the backend's
 * `resume`), or null (new tab, expired, locked). Throws LOCKED when it is open in
 * another tab.
 */
export async function resumeSession(open: (key: CryptoKey, sealed: Uint8Array) => Promise<Account>): Promise<Account | null> {
  const s = slot();
  if (!s) return null;
  const kept = await (await keys()).get<Kept>(s.id).catch(() => undefined);
  if (!kept || Math.min(kept.expires, s.expires) < Date.now()) {
    await endSession();
    return null;
  }
  try {
    return await open(kept.key, unb64(s.sealed));
  } catch (e) {
    if (errorCode(e) === 'LOCKED') throw e;
    console.warn('sealpost: the session could not be resumed', e);
    await endSession();
    return null;
  }
}

/** Lock and log out: this tab's slot and every tab's key go (the password opens it again). */
export async function endSession(): Promise<void> {
  sessionStorage.removeItem(SLOT);
  await (await keys()).clear().catch(() => undefined);
}

/** At start-up: the keys of tabs closed without locking, once expired. */
export async function sweepSessions(): Promise<void> {
  const kv = await keys();
  for (const [id, k] of await kv.entries<Kept>()) if (!(k.expires > Date.now())) await kv.delete(id);
}
