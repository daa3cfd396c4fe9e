// The account export file (docs/PROTOCOL.md 29): the history and contacts of this
// device, sealed under a password with PBKDF2 and HKDF as the backup does (20.1) and
// AES-256-GCM, in WebCrypto alone. Loaded on first use (lazy.ts): it imports nothing.

/** "SPX" and format 1. */
const MAGIC = [0x53, 0x50, 0x58, 0x01];
const INFO = 'sealpost/www/export/v1';
/** The backup's PBKDF2 floor and ceiling (PROTOCOL.md 3, `backup::MIN_ITERATIONS`, `MAX_ITERATIONS`). */
export const MIN_ITERATIONS = 600_000;
const MAX_ITERATIONS = 10_000_000;
/** Largest file opened (bytes). */
const MAX_FILE = 512 * 1024 * 1024;
/** Fixed part of the header: magic, salt, iterations, exported_at, then var8(username), user_id, check. */
const FIXED = 4 + 16 + 4 + 8;

/** Why a file does not open; the app words each code. */
export type ExportErrorCode = 'EXPORT_NOT_SEALPOST' | 'EXPORT_DAMAGED' | 'EXPORT_WRONG_PASSWORD' | 'EXPORT_TOO_LARGE';

export class ExportError extends Error {
  constructor(public code: ExportErrorCode, message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

/** What a file holds. */
export interface ExportContents {
  username: string;
  /** 64 hex. */
  userId: string;
  /** When it was written (ms). */
  exportedAt: number;
  /** The history as the device link carries it (Model.exportHistory). */
  history: Uint8Array;
}

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** kek and check from the password (PROTOCOL.md 29.1). */
async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number, userId: Uint8Array<ArrayBuffer>): Promise<{ key: CryptoKey; check: Uint8Array }> {
  const pw = await crypto.subtle.importKey('raw', new TextEncoder().encode(password.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  const master = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, pw, 256);
  const hk = await crypto.subtle.importKey('raw', master, 'HKDF', false, ['deriveBits']);
  const okm = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: userId, info: new TextEncoder().encode(INFO) }, hk, 512));
  const key = await crypto.subtle.importKey('raw', okm.slice(0, 32), 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { key, check: okm.slice(32) };
}

/** Seals `history` of `username` (`userId`: 64 hex) under `password` into the file's bytes. */
export async function sealExport(username: string, userId: string, password: string, history: Uint8Array<ArrayBuffer>, iterations = MIN_ITERATIONS): Promise<Uint8Array> {
  const name = new TextEncoder().encode(username);
  if (name.length < 1 || name.length > 255 || !/^[0-9a-f]{64}$/.test(userId)) throw new ExportError('EXPORT_DAMAGED', 'bad username or user id');
  const uid = Uint8Array.from(userId.match(/../g)!, (x) => parseInt(x, 16));
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const { key, check } = await derive(password, salt, iterations, uid);
  const header = new Uint8Array(FIXED + 1 + name.length + 32 + 32);
  const v = new DataView(header.buffer);
  header.set(MAGIC, 0);
  header.set(salt, 4);
  v.setUint32(20, iterations);
  v.setBigUint64(24, BigInt(Math.floor(Date.now() / 1000)));
  header[FIXED] = name.length;
  header.set(name, FIXED + 1);
  header.set(uid, FIXED + 1 + name.length);
  header.set(check, FIXED + 1 + name.length + 32);
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: header, tagLength: 128 }, key, history));
  const out = new Uint8Array(header.length + 12 + ct.length);
  out.set(header, 0);
  out.set(nonce, header.length);
  out.set(ct, header.length + 12);
  return out;
}

/** The public header of a file (username and date), without the password. */
export function peekExport(file: Uint8Array): { username: string; userId: string; exportedAt: number; iterations: number; headerLen: number } {
  if (file.length > MAX_FILE) throw new ExportError('EXPORT_TOO_LARGE', 'the file is larger than any export');
  if (file.length < 4 || MAGIC.some((b, i) => file[i] !== b)) throw new ExportError('EXPORT_NOT_SEALPOST', 'not a Sealpost export file');
  if (file.length < FIXED + 1) throw new ExportError('EXPORT_DAMAGED', 'the file is cut short');
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const iterations = v.getUint32(20);
  const n = file[FIXED];
  const headerLen = FIXED + 1 + n + 32 + 32;
  // The box is at least its nonce and tag.
  if (file.length < headerLen + 28) throw new ExportError('EXPORT_DAMAGED', 'the file is cut short');
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS || n === 0) throw new ExportError('EXPORT_DAMAGED', 'the file header is damaged');
  let username: string;
  try {
    username = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(FIXED + 1, FIXED + 1 + n));
  } catch {
    throw new ExportError('EXPORT_DAMAGED', 'the file header is damaged');
  }
  return { username, userId: hexOf(file.subarray(FIXED + 1 + n, FIXED + 1 + n + 32)), exportedAt: Number(v.getBigUint64(24)) * 1000, iterations, headerLen };
}

/**
 * Opens a file with `password`: EXPORT_WRONG_PASSWORD when the password does not derive
 * the file's check value, EXPORT_DAMAGED when it does but the contents do not open (a
 * changed or cut file), EXPORT_NOT_SEALPOST for any other file.
 */
export async function openExport(file: Uint8Array, password: string): Promise<ExportContents> {
  const head = peekExport(file);
  const n = file[FIXED];
  const salt = file.slice(4, 20);
  const uid = file.slice(FIXED + 1 + n, FIXED + 1 + n + 32);
  const stored = file.subarray(FIXED + 1 + n + 32, head.headerLen);
  const { key, check } = await derive(password, salt, head.iterations, uid);
  if (check.some((b, i) => b !== stored[i])) throw new ExportError('EXPORT_WRONG_PASSWORD', 'wrong password for this file');
  let history: Uint8Array;
  try {
    const nonce = file.slice(head.headerLen, head.headerLen + 12);
    history = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: file.slice(0, head.headerLen), tagLength: 128 }, key, file.slice(head.headerLen + 12)));
  } catch {
    throw new ExportError('EXPORT_DAMAGED', 'the file was changed or cut short');
  }
  // Checked here too, so a restore stops before it logs in.
  let h: { v?: unknown; contacts?: unknown; messages?: unknown } | null = null;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(history));
  } catch {
    /* below */
  }
  if (h?.v !== 1 || !Array.isArray(h.contacts) || !Array.isArray(h.messages)) throw new ExportError('EXPORT_DAMAGED', 'the history in the file is not readable');
  return { username: head.username, userId: head.userId, exportedAt: head.exportedAt, history };
}
