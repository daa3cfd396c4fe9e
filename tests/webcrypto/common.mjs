// Shared by the WebCrypto verifiers (v2.mjs, files.mjs, groups.mjs): bytes, a strict reader, the
// primitives both need and a small test harness. WebCrypto and Node built-ins only.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const subtle = globalThis.crypto.subtle;
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const vectors = (name) => JSON.parse(readFileSync(join(root, "tests", "vectors", name), "utf8"));

// ---------------------------------------------------------------- bytes (section 1)

export const enc = new TextEncoder();
export const dec = new TextDecoder("utf-8", { fatal: true });
export const utf8 = (s) => enc.encode(s);
export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
export const unhex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
export const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
export const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
export const u8 = (n) => Uint8Array.of(n);
export const u64 = (n) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
};
export const var16 = (x) => cat(Uint8Array.of(x.length >> 8, x.length & 0xff), x);
export const cmp = (a, b) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};

/** A protocol error with one of the codes of section 15.5. */
export class ProtocolError extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}
export const fail = (code) => {
  throw new ProtocolError(code);
};

/** Strict reader: every read is bounds-checked; `finish` refuses trailing bytes. */
export class Reader {
  constructor(bytes, code = "MALFORMED") {
    this.b = bytes;
    this.at = 0;
    this.code = code;
  }
  bytes(n) {
    if (n > this.b.length - this.at) fail(this.code);
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8() {
    return this.bytes(1)[0];
  }
  u16() {
    const b = this.bytes(2);
    return (b[0] << 8) | b[1];
  }
  u32() {
    return new DataView(this.bytes(4).slice().buffer).getUint32(0);
  }
  u64() {
    return new DataView(this.bytes(8).slice().buffer).getBigUint64(0);
  }
  var8(max) {
    const n = this.u8();
    if (n > max) fail(this.code);
    return this.bytes(n);
  }
  var16(max) {
    const n = this.u16();
    if (n > max) fail(this.code);
    return this.bytes(n);
  }
  var32(max) {
    const n = this.u32();
    if (n > max) fail(this.code);
    return this.bytes(n);
  }
  get remaining() {
    return this.b.length - this.at;
  }
  finish() {
    if (this.at !== this.b.length) fail(this.code);
  }
}

// ---------------------------------------------------------------- primitives (section 3)

export const sha256 = async (x) => new Uint8Array(await subtle.digest("SHA-256", x));

/** Opens an AEAD box `nonce[12] || ciphertext || tag[16]`; any failure is `code`. */
export async function openBox(key, aad, box, code = "DECRYPT_FAILED") {
  if (box.length < 28) fail(code);
  try {
    const k = await subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
    const pt = await subtle.decrypt(
      { name: "AES-GCM", iv: box.subarray(0, 12), additionalData: aad, tagLength: 128 },
      k,
      box.subarray(12),
    );
    return new Uint8Array(pt);
  } catch {
    fail(code);
  }
}

// ---------------------------------------------------------------- chains, buckets, time (sections 12.1, 13.2, 15.2, 15.3; 27 reuses them)

export async function hmac(key, data) {
  const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}


export const MAX_MESSAGE_AGE = 14 * 24 * 3600 + 3600;
export const CLOCK_SKEW = 3600;

export function isBucket(n) {
  if (n < 512 || n > 1048576) return false;
  if (n <= 65536) return (n & (n - 1)) === 0;
  return n % 65536 === 0;
}


/** Section 15.3. */
export function checkWindow(t, now) {
  if (t < BigInt(now - MAX_MESSAGE_AGE) || t > BigInt(now + CLOCK_SKEW)) fail("EXPIRED");
}

/** Section 15.2: the message key for `counter` and the update to commit on success. */
export async function recvKey(s, counter) {
  if (counter < s.recv.next) {
    const i = s.skipped.findIndex((x) => x.counter === counter);
    if (i < 0) fail("REPLAY");
    return { mk: s.skipped[i].mk, commit: () => s.skipped.splice(i, 1) && [] };
  }
  if (counter - s.recv.next > 256n) fail("DECRYPT_FAILED");
  let ck = s.recv.ck;
  const newly = [];
  for (let j = s.recv.next; j < counter; j++) {
    newly.push({ counter: j, mk: await hmac(ck, u8(1)) });
    ck = await hmac(ck, u8(2));
  }
  const mk = await hmac(ck, u8(1));
  const next = await hmac(ck, u8(2));
  return {
    mk,
    commit: () => {
      s.recv.ck = next;
      s.recv.next = counter + 1n;
      s.skipped.push(...newly);
      while (s.skipped.length > 256) s.skipped.shift();
      return newly.map((x) => x.counter);
    },
  };
}


// ---------------------------------------------------------------- test harness

let passed = 0;
let failed = 0;
export async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok      ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED  ${name}: ${e instanceof ProtocolError ? e.code : e?.stack ?? e}`);
  }
}
export const assert = (cond, what) => {
  if (!cond) throw new Error(`assertion failed: ${what}`);
};
export async function rejects(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    if (code && e.code !== code) throw new Error(`${what}: expected ${code}, got ${e.code}`);
    return;
  }
  throw new Error(`${what}: expected ${code ?? "an error"}, but it succeeded`);
}
export const flip = (bytes, i, bit = 1) => {
  const out = bytes.slice();
  out[i] ^= bit;
  return out;
};
/** A few positions spread over `n` bytes: start, end and some in between. */
export const spread = (n) => [...new Set([0, 1, 2, Math.floor(n / 7), Math.floor(n / 3), Math.floor(n / 2), Math.floor((2 * n) / 3), n - 2, n - 1])];


/** Prints the summary line and exits non-zero on any failure. */
export function summary() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
