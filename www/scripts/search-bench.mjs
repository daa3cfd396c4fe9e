#!/usr/bin/env node
// The search index's cost for a history of N messages (docs/BENCHMARKS.md): the size of
// what is stored (all its segments, before sealing, which adds 28 bytes each), and the
// median time to build it from the texts, to serialize it all (the first write), to load
// it (unlock), and what a burst of 20 new messages then writes (bytes and time).
// Messages are made of words drawn from a 20,000-word vocabulary (Zipf-like, 3-30 words).
//
//   node www/scripts/search-bench.mjs [N=10000] [runs=5]

import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const n = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);
const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const out = await build({ stdin: { contents: "export { TextIndex } from './searchindex.ts';", resolveDir: src, loader: 'ts' }, bundle: true, format: 'esm', write: false, platform: 'neutral' });
const { TextIndex } = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);

// A fixed pseudo-random sequence (xorshift32): the same history every run.
let seed = 2463534242;
const rand = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
const vocab = Array.from({ length: 20_000 }, (_, i) => i.toString(36).padStart(3, 'q') + 'abcdefgh'.slice(0, 2 + (i % 6)));
const texts = Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(rand() * 28) }, () => vocab[Math.floor(vocab.length * rand() ** 3)]).join(' '));

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(f) {
  const t = performance.now();
  const r = f();
  return [performance.now() - t, r];
}
const times = { build: [], serialize: [], load: [], burst: [] };
let stored = new Map();
let burstBytes = 0;
for (let i = 0; i < runs; i++) {
  const [tb, ix] = time(() => {
    const ix = TextIndex.empty();
    texts.forEach((t, j) => ix.set(`m:${j.toString(36).padStart(22, '0')}`, t));
    return ix;
  });
  const t0 = performance.now();
  stored = new Map(await ix.changes());
  times.serialize.push(performance.now() - t0);
  times.build.push(tb);
  times.load.push(time(() => TextIndex.load(stored))[0]);
  for (let j = 0; j < 20; j++) ix.set(`m:burst${i}-${j}`, texts[j]);
  const t1 = performance.now();
  const burst = await ix.changes();
  times.burst.push(performance.now() - t1);
  burstBytes = burst.reduce((s, [, j]) => s + Buffer.byteLength(j ?? ''), 0);
}
const textBytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
const size = [...stored.values()].reduce((s, j) => s + Buffer.byteLength(j), 0);
console.log(`${n} messages, ${(textBytes / 1024).toFixed(0)} KiB of text: stored index ${(size / 1024).toFixed(0)} KiB in ${stored.size} segments; medians of ${runs}: build ${median(times.build).toFixed(0)} ms, serialize ${median(times.serialize).toFixed(0)} ms, load ${median(times.load).toFixed(0)} ms; a burst of 20 new messages writes ${(burstBytes / 1024).toFixed(0)} KiB in ${median(times.burst).toFixed(0)} ms`);
