// Unlock with a passkey (WebAuthn's PRF extension), where the browser and authenticator
// have it: the password stays the fallback.
//
// Setting one up makes a credential and asks it for a PRF output (32 secret bytes the
// authenticator computes from a salt; never stored), derives a non-extractable AES-GCM
// key from it (HKDF) and has the package seal the account's password-derived keys under
// that key (`exportSession`). Stored in IndexedDB: the credential id, the salt and the
// sealed bytes; none of them opens anything without the authenticator. Unlocking asks
// the authenticator for the same PRF output (with user verification) and resumes.

import type { Account } from './backend/types';
import { AppError } from './backend/types';
import { KV, openDb } from './idb';
import { b64, unb64 } from './util';

const DB = 'sealpost-www-passkey';
const INFO = new TextEncoder().encode('sealpost/www/passkey/v1');

interface Stored {
  username: string;
  credential: string;
  salt: string;
  sealed: string;
}

let kvP: Promise<KV> | null = null;
const kv = () => (kvP ??= openDb(DB, ['passkey']).then((db) => new KV(db, 'passkey')));

/** Whether this browser has WebAuthn at all (the PRF extension shows only when used). */
export const passkeySupported = () => typeof PublicKeyCredential !== 'undefined' && !!navigator.credentials;

/** Whether a passkey unlocks `username` on this browser. */
export async function hasPasskey(username: string): Promise<boolean> {
  return (await (await kv()).get<Stored>('current').catch(() => undefined))?.username === username;
}

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** The PRF output of `credential` for `salt`, as a non-extractable AES-GCM key. */
async function prfKey(credential: Uint8Array<ArrayBuffer>, salt: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const got = (await navigator.credentials.get({
    publicKey: {
      challenge: random(32),
      allowCredentials: [{ type: 'public-key', id: credential }],
      userVerification: 'required',
      extensions: { prf: { eval: { first: salt } } },
    },
  })) as PublicKeyCredential | null;
  const first = (got?.getClientExtensionResults() as { prf?: { results?: { first?: BufferSource } } } | undefined)?.prf?.results?.first;
  if (!first) throw AppError.forUser('PASSKEY', 'This passkey cannot unlock Sealpost here (its authenticator lacks the PRF extension). Use your password.');
  const ikm = await crypto.subtle.importKey('raw', first, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt, info: INFO }, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** Creates a passkey for the open account and keeps its keys sealed under it. */
export async function setUpPasskey(acct: Account): Promise<void> {
  const created = (await navigator.credentials.create({
    publicKey: {
      rp: { name: 'Sealpost' },
      user: { id: random(16), name: acct.username, displayName: acct.username },
      challenge: random(32),
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
      authenticatorSelection: { userVerification: 'required', residentKey: 'preferred' },
      extensions: { prf: {} },
    },
  })) as PublicKeyCredential | null;
  const prf = (created?.getClientExtensionResults() as { prf?: { enabled?: boolean } } | undefined)?.prf;
  if (!created || !prf?.enabled) throw AppError.forUser('PASSKEY', 'This browser or authenticator cannot unlock with a passkey (no PRF extension). Your password still works.');
  const credential = new Uint8Array(created.rawId);
  const salt = random(32);
  const sealed = await acct.exportSession(await prfKey(credential, salt));
  await (await kv()).put('current', { username: acct.username, credential: b64(credential), salt: b64(salt), sealed: b64(sealed) } satisfies Stored);
}

/** Unlocks with the passkey (opened by `open`, the backend's `resume`). */
export async function unlockWithPasskey(open: (key: CryptoKey, sealed: Uint8Array) => Promise<Account>): Promise<Account> {
  const s = await (await kv()).get<Stored>('current');
  if (!s) throw AppError.forUser('PASSKEY', 'No passkey is set up on this browser. Use your password.');
  const bytes = (x: string) => unb64(x) as Uint8Array<ArrayBuffer>;
  return open(await prfKey(bytes(s.credential), bytes(s.salt)), unb64(s.sealed));
}

/** Forgets the passkey here (its credential stays in the authenticator, unused). */
export async function forgetPasskey(): Promise<void> {
  await (await kv()).clear().catch(() => undefined);
}
