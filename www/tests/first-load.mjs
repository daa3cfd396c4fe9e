#!/usr/bin/env node
// First load of the PWA as a new visitor's browser sees it: bytes over the wire and time
// to a usable login form, with and without compression (docs/BENCHMARKS.md, "PWA: first
// load").
//
//   node www/tests/first-load.mjs [--runs=5] [--url=http://127.0.0.1:8080]
//   node www/tests/first-load.mjs --runs=9 --dist=/tmp/dist-before --dist=www/dist
//
// Without --url it starts a release relay on each --dist (default www/dist;
// tests/harness.mjs, SEALPOST_RELAY_BIN for a relay built elsewhere): several builds are
// measured in one run, their visits alternating, so the machine's load falls on each
// alike. Each visit is a fresh browser context (empty HTTP cache, no service worker),
// twice per run and build:
//  - "compressed": Chromium's own `Accept-Encoding` (gzip, deflate, br, zstd), so the
//    relay answers with the build's .br files;
//  - "uncompressed": `Accept-Encoding: identity`, what every browser got before the relay
//    served precompressed files.
// Bytes are counted on the wire by a proxy in front of the relay (wirecount.mjs: status
// line, headers and body of every response), until the service worker is active (it
// has cached the shell) and the network is idle. "page": the first response of each
// file the page itself asked for (document, scripts, style, icon, the crypto worker and
// its wasm); "service worker": files only its install fetched; "again": further
// responses for a file already answered (a second download, or a `304` revalidation).
// A file whose whole body came twice is listed. Time: navigation start to the moment the
// login form's submit button is on screen and enabled (performance.now() in the page,
// polled every animation frame); the median of the runs.

import { resolve } from 'node:path';
import { ensureBuilt, launchBrowser, startRelay } from './harness.mjs';
import { startWireCount, sumVisit } from './wirecount.mjs';

const args = {};
const dists = [];
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (!m) throw new Error(`unknown argument ${a}`);
  if (m[1] === 'dist') dists.push(resolve(m[2]));
  else args[m[1]] = m[2] ?? true;
}
const RUNS = Number(args.runs ?? 5);

const relayBin = args.url ? null : ensureBuilt({ release: true });
const relays = args.url ? [] : await Promise.all((dists.length ? dists : [undefined]).map((staticDir) => startRelay(relayBin, [], staticDir ? { staticDir } : {})));
const targets = [];
for (const [i, upstream] of (args.url ? [args.url] : relays.map((r) => r.url)).entries()) {
  targets.push({ name: args.url ?? dists[i] ?? 'www/dist', proxy: await startWireCount(upstream) });
}
const browser = await launchBrowser();

/** One first visit through `proxy`: the bytes (sumVisit), the page's files, the time. */
async function visit(proxy, identity) {
  const base = proxy.url;
  proxy.reset();
  const ctx = await browser.newContext({ baseURL: base, extraHTTPHeaders: identity ? { 'accept-encoding': 'identity' } : {} });
  const pagePaths = new Set();
  ctx.on('request', (req) => {
    if (req.url().startsWith(base) && !req.serviceWorker()) pagePaths.add(new URL(req.url()).pathname);
  });
  const page = await ctx.newPage();
  await page.goto('/');
  const ms = await (
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid=auth-submit]');
      return b && b.offsetParent !== null && !b.disabled && performance.now();
    }, undefined, { polling: 'raf', timeout: 60_000 })
  ).jsonValue();
  // The service worker has installed (cached the shell) once it is active.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.waitForLoadState('networkidle');
  await ctx.close();
  const log = [...proxy.log];
  return { ...sumVisit(log, pagePaths), files: log.map((r) => `${r.path} ${r.status} ${r.bytes}`), ms };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1000).toFixed(0)} KB`;
try {
  const results = new Map(targets.map((t) => [t, { compressed: [], uncompressed: [] }]));
  // Alternating, so a change in the machine's load falls on every kind alike.
  for (let i = 0; i < RUNS; i++) {
    for (const t of i % 2 ? [...targets].reverse() : targets) {
      for (const identity of i % 2 ? [true, false] : [false, true]) {
        results.get(t)[identity ? 'uncompressed' : 'compressed'].push(await visit(t.proxy, identity));
      }
    }
  }
  console.log(`| build | first visit | page | service worker | again | total | downloaded twice | login form usable (median of ${RUNS}, range) |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const t of targets) {
    for (const [name, rs] of Object.entries(results.get(t))) {
      const ms = rs.map((r) => r.ms);
      const cells = ['page', 'sw', 'again', 'total'].map((k) => kb(median(rs.map((r) => r[k]))));
      const twice = [...new Set(rs.flatMap((r) => r.twice))].join(', ') || 'none';
      console.log(`| ${t.name} | ${name} | ${cells.join(' | ')} | ${twice} | ${median(ms).toFixed(0)} ms (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}) |`);
    }
  }
  for (const t of targets) {
    for (const [name, rs] of Object.entries(results.get(t))) console.error(`${t.name}, ${name}, responses of run 1 (path status bytes):\n  ${rs[0].files.join('\n  ')}`);
  }
} finally {
  await browser.close();
  await Promise.all(targets.map((t) => t.proxy.close()));
  await Promise.all(relays.map((r) => r.stop()));
}
