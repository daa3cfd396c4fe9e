#!/usr/bin/env node
// The sender's cost of one group message in the package (wasm, Node.js) against
// sending it 1:1 to every member: CPU (one seal and the multi-recipient request body,
// against one envelope per member in established sessions) and bytes uploaded (one
// request, against one request per member). Prints a Markdown table.
//
//   node wasm/scripts/bench-groups.mjs   (after node wasm/scripts/build.mjs --features=bench:
//                                         the timings are only in a bench build)
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const keys = JSON.parse(readFileSync(join(root, 'tests/vectors/keys.json'), 'utf8'));
const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
const identity = hex(keys.users[0].identity_pkcs8);
const sp = await import(join(root, 'wasm', 'pkg', 'index.node.mjs'));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = (op, size, iterations) =>
  median(Array.from({ length: 7 }, () => sp.__benchPrimitive(op, 0, identity, size, iterations)));

// A 200-byte message: both ways it fits the 512-byte bucket.
const BLOB = 512;
const pairwise = runs('pairwise-seal', 0, 200);
const rows = ['| members | group: sender CPU ms | group: bytes uploaded (requests) | 1:1 each: sender CPU ms | 1:1 each: bytes uploaded (requests) |', '|---|---|---|---|---|'];
for (const members of [10, 100, 1000]) {
  const group = runs('group-send', members, 20);
  const recipients = members - 1;
  rows.push(`| ${members} | ${group.toFixed(2)} | ${2 + 48 * recipients + BLOB} (1) | ${(pairwise * recipients).toFixed(2)} | ${BLOB * recipients} (${recipients}) |`);
}
console.log(`pairwise envelope: ${pairwise.toFixed(4)} ms`);
console.log(rows.join('\n'));
