#!/usr/bin/env node
// The search index's cost for a history of N messages (docs/BENCHMARKS.md): the size of
// what is stored (before sealing, which adds 28 bytes), and the median time to build it
// from the texts, to serialize it (one sealed write of a burst) and to load it (unlock).
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
const times = { build: [], serialize: [], load: [] };
let json = '';
for (let i = 0; i < runs; i++) {
  const [tb, ix] = time(() => {
    const ix = TextIndex.empty();
    texts.forEach((t, j) => ix.set(`m:${j.toString(36).padStart(22, '0')}`, t));
    return ix;
  });
  const t0 = performance.now();
  json = await ix.toJSON();
  times.serialize.push(performance.now() - t0);
  times.build.push(tb);
  times.load.push(time(() => TextIndex.load(json))[0]);
}
const textBytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
console.log(`${n} messages, ${(textBytes / 1024).toFixed(0)} KiB of text: stored index ${(Buffer.byteLength(json) / 1024).toFixed(0)} KiB; medians of ${runs}: build ${median(times.build).toFixed(0)} ms, serialize ${median(times.serialize).toFixed(0)} ms, load ${median(times.load).toFixed(0)} ms`);
