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
const fixture = (n) => sp.Identity.fromPkcs8(n, hex(u[n].identity_pkcs8), hex(u[n].encryption_pkcs8));

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

const alice = fixture('alice');
const bob = fixture('bob');
const bobBundle = bob.bundle();
const challenge = new Uint8Array(32);
const big = new Uint8Array(1024 * 1024 - 4096);
const out = {};
out.rsa2048_pss_sign = median(() => alice.signChallenge(challenge), 20);
out.session_first_message_seal_open = median(() => {
  const a = new sp.SessionStore();
  const b = new sp.SessionStore();
  b.open(bob, a.seal(alice, bobBundle, 'hi').envelope);
}, 10);
const a = new sp.SessionStore();
const b = new sp.SessionStore();
b.open(bob, a.seal(alice, bobBundle, 'hi').envelope);
out.session_message_1MiB_seal_open = median(() => b.open(bob, a.seal(alice, bobBundle, big).envelope), 5);
out.session_message_256B_seal_open = median(() => b.open(bob, a.seal(alice, bobBundle, big.subarray(0, 256)).envelope), 50);
out.pbkdf2_600k = median(() => sp.Vault.create('a long password').free(), 3);
out.rsa2048_keygen_pair = median(() => sp.Identity.generate('x-y-z', 2048).free(), 3);
console.log(JSON.stringify(out));
