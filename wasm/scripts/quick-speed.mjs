#!/usr/bin/env node
// Speed of one package build in Node.js (used to compare release-profile variants):
//   node wasm/scripts/quick-speed.mjs [PKG_DIR]
// Prints JSON: median milliseconds per operation.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const pkgDir = resolve(process.argv[2] ?? new URL('../pkg', import.meta.url).pathname);
const sp = await import(join(pkgDir, 'index.node.mjs'));
const root = new URL('../../', import.meta.url).pathname;
const keys = JSON.parse(readFileSync(join(root, 'tests/vectors/keys.json'), 'utf8'));
const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
const u = Object.fromEntries(keys.users.map((x) => [x.username, x]));
const identity = (n) => sp.Identity.fromPkcs8(n, hex(u[n].identity_pkcs8));
// The fixture devices of tests/vectors/v2: alice/A (a1…) and bob (b1…).
const device = (n, byte) => {
  const id = identity(n);
  const keys = sp.DeviceKeys.fromPkcs8(id, byte.repeat(16), hex(u[n].encryption_pkcs8));
  return { id, keys, bundle: keys.bundle(id) };
};

function median(fn, n) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return +t[Math.floor(n / 2)].toFixed(3);
}

/** Opens an envelope v2, accepting a new session's init as trusted. */
const open = (store, me, envelope) => {
  const o = store.open(me.keys, envelope);
  return o.kind === 'pending' ? store.accept(o, true) : o;
};

const alice = device('alice', 'a1');
const bob = device('bob', 'b1');
const challenge = new Uint8Array(32);
const big = new Uint8Array(1024 * 1024 - 4096);
const out = {};
out.rsa2048_pss_sign = median(() => alice.id.signChallenge(alice.keys.deviceId, challenge), 20);
out.session_first_message_seal_open = median(() => {
  const a = new sp.SessionStore();
  open(new sp.SessionStore(), bob, a.seal(alice.id, alice.keys, bob.bundle, 'hi').envelope);
}, 10);
const a = new sp.SessionStore();
const b = new sp.SessionStore();
open(b, bob, a.seal(alice.id, alice.keys, bob.bundle, 'hi').envelope);
open(a, alice, b.seal(bob.id, bob.keys, alice.bundle, 'hi').envelope);
const roundTrip = (payload) => open(b, bob, a.seal(alice.id, alice.keys, bob.bundle, payload).envelope);
out.session_message_1MiB_seal_open = median(() => roundTrip(big), 5);
out.session_message_256B_seal_open = median(() => roundTrip(big.subarray(0, 256)), 50);
out.pbkdf2_600k = median(() => sp.Vault.create('a long password').free(), 3);
out.rsa2048_keygen_identity_and_device = median(() => {
  const id = sp.Identity.generate('x-y-z', 2048);
  sp.DeviceKeys.generate(id).free();
  id.free();
}, 3);
console.log(JSON.stringify(out));
