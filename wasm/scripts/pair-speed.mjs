#!/usr/bin/env node
// Two package builds compared in one Node.js process, operation by operation, each sample
// of one build followed at once by a sample of the other (the order alternating), so that
// the load of a shared machine weighs on both alike:
//   node wasm/scripts/pair-speed.mjs BASE_DIR NEW_DIR [--rounds=N] [--skip=NAME,...]
// Prints, per operation of scripts/speed-ops.mjs, the median ms of each build and the
// median of the per-pair ratios new/base (1.05: the new build is 5 % slower).
import { join, resolve } from 'node:path';
import { median, speedOps, time } from './speed-ops.mjs';

const [baseDir, newDir] = process.argv.slice(2, 4).map((d) => resolve(d));
const opt = Object.fromEntries(process.argv.slice(4).map((a) => a.replace(/^--/, '').split('=')));
const rounds = Number(opt.rounds ?? 1);
const skip = new Set((opt.skip ?? '').split(',').filter(Boolean));
// One module per build: wasm-bindgen's Node.js output is a CommonJS module per directory.
const base = speedOps(await import(join(baseDir, 'index.node.mjs')));
const next = speedOps(await import(join(newDir, 'index.node.mjs')));
const rows = [];
for (const [name, [runBase, samples]] of Object.entries(base)) {
  if (skip.has(name)) continue;
  const runNew = next[name][0];
  const tb = [];
  const tn = [];
  const ratio = [];
  for (let i = 0; i < samples * rounds; i++) {
    let b;
    let n;
    if (i % 2) {
      b = time(runBase);
      n = time(runNew);
    } else {
      n = time(runNew);
      b = time(runBase);
    }
    tb.push(b);
    tn.push(n);
    ratio.push(n / b);
  }
  rows.push({ op: name, base_ms: +median(tb).toFixed(3), new_ms: +median(tn).toFixed(3), ratio: +median(ratio).toFixed(3) });
}
console.table(rows);
console.log(JSON.stringify(rows));
