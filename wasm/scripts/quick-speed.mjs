#!/usr/bin/env node
// Speed of one package build in Node.js (used to compare release-profile variants):
//   node wasm/scripts/quick-speed.mjs [PKG_DIR]
// Prints JSON: median milliseconds of CPU per operation (scripts/speed-ops.mjs). To compare two
// builds on a busy machine, pair-speed.mjs times them alternately in one process.
import { join, resolve } from 'node:path';
import { median, speedOps, time } from './speed-ops.mjs';

const pkgDir = resolve(process.argv[2] ?? new URL('../pkg', import.meta.url).pathname);
const sp = await import(join(pkgDir, 'index.node.mjs'));
const out = {};
for (const [name, [run, samples]] of Object.entries(speedOps(sp))) {
  out[name] = +median(Array.from({ length: samples }, () => time(run))).toFixed(3);
}
console.log(JSON.stringify(out));
