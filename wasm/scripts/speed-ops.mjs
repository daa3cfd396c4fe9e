// The package-level operations timed by quick-speed.mjs and pair-speed.mjs: each name maps
// to a function that runs the operation once on the package `sp` (already set up: keys
// imported, sessions established, a file sealed), and to how many samples it deserves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const keys = JSON.parse(readFileSync(join(root, 'tests/vectors/keys.json'), 'utf8'));
const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
const u = Object.fromEntries(keys.users.map((x) => [x.username, x]));

/** Opens an envelope v2, accepting a new session's init as trusted. */
const open = (store, me, envelope) => {
  const o = store.open(me.keys, envelope);
  return o.kind === 'pending' ? store.accept(o, true) : o;
};

/** `{ name: [run, samples] }` for the package `sp`. */
export function speedOps(sp) {
  const identity = (n) => sp.Identity.fromPkcs8(n, hex(u[n].identity_pkcs8));
  // The fixture devices of tests/vectors/v2: alice/A (a1…) and bob (b1…).
  const device = (n, byte) => {
    const id = identity(n);
    const keys = sp.DeviceKeys.fromPkcs8(id, byte.repeat(16), hex(u[n].encryption_pkcs8));
    return { id, keys, bundle: keys.bundle(id) };
  };
  const alice = device('alice', 'a1');
  const bob = device('bob', 'b1');
  const challenge = new Uint8Array(32);
  const big = new Uint8Array(1024 * 1024 - 4096);
  const a = new sp.SessionStore();
  const b = new sp.SessionStore();
  open(b, bob, a.seal(alice.id, alice.keys, bob.bundle, 'hi').envelope);
  open(a, alice, b.seal(bob.id, bob.keys, alice.bundle, 'hi').envelope);
  const roundTrip = (payload) => open(b, bob, a.seal(alice.id, alice.keys, bob.bundle, payload).envelope);
  // A file of 8 MiB through FileEncryptor and FileDecryptor (the chunk paths of sendFile
  // and openAttachment, without the network).
  const file = new Uint8Array(8 * 1024 * 1024);
  let manifest;
  const chunks = [];
  const encryptFile = () => {
    chunks.length = 0;
    const enc = new sp.FileEncryptor(file.length);
    for (let at = 0; at < file.length;) {
      at += enc.write(file.subarray(at, at + enc.chunkSize));
      const c = enc.nextChunk();
      if (c) chunks.push(c.subarray(32));
    }
    manifest = enc.finish('f.bin', 'application/octet-stream');
  };
  encryptFile();
  return {
    rsa2048_pss_sign: [() => alice.id.signChallenge(alice.keys.deviceId, challenge), 20],
    session_first_message_seal_open: [() => {
      const s = new sp.SessionStore();
      open(new sp.SessionStore(), bob, s.seal(alice.id, alice.keys, bob.bundle, 'hi').envelope);
    }, 10],
    session_message_1MiB_seal_open: [() => roundTrip(big), 5],
    // 20 per sample: one takes about 0.05 ms, near the resolution of the CPU clock.
    session_message_256B_seal_open_x20: [() => {
      for (let i = 0; i < 20; i++) roundTrip(big.subarray(0, 256));
    }, 20],
    sha256_1MiB: [() => sp.sha256Hex(big), 10],
    file_8MiB_encrypt: [encryptFile, 5],
    file_8MiB_decrypt: [() => {
      const dec = new sp.FileDecryptor(manifest);
      for (const c of chunks) dec.openChunk(c);
      dec.finish();
    }, 5],
    pbkdf2_600k: [() => sp.Vault.create('a long password').free(), 3],
    rsa2048_keygen_identity_and_device: [() => {
      const id = sp.Identity.generate('x-y-z', 2048);
      sp.DeviceKeys.generate(id).free();
      id.free();
    }, 3],
  };
}

/**
 * Milliseconds of CPU one run of `fn` takes (this process's user and system time, not the
 * wall clock): on a shared machine, time spent waiting for a core is not the build's.
 */
export function time(fn) {
  const s = process.cpuUsage();
  fn();
  const d = process.cpuUsage(s);
  return (d.user + d.system) / 1000;
}

export const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
