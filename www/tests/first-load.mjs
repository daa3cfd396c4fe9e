#!/usr/bin/env node
// First load of the PWA as a new visitor's browser sees it: bytes transferred and time to
// a usable login form, with and without compression (docs/BENCHMARKS.md, "PWA: first
// load").
//
//   node www/tests/first-load.mjs [--runs=5] [--url=http://127.0.0.1:8080]
//
// Without --url it starts a release relay on www/dist (tests/harness.mjs). Each visit is
// a fresh browser context (empty HTTP cache, no service worker), twice per run:
//  - "compressed": Chromium's own `Accept-Encoding` (gzip, deflate, br, zstd), so the
//    relay answers with the build's .br files;
//  - "uncompressed": `Accept-Encoding: identity`, what every browser got before the relay
//    served precompressed files.
// Bytes are response headers plus bodies as transferred (Playwright's request.sizes() for
// the headers, Content-Length for the bodies),
// split into the page's own requests (document, scripts, style, manifest, the crypto
// worker and its wasm) and the service worker's install, which fetches the whole app
// shell once more (sw.js, `cache: 'reload'`). Time: navigation start to the moment the
// login form's submit button is on screen and enabled (performance.now() in the page,
// polled every animation frame); the median of the runs.

import { ensureBuilt, launchBrowser, startRelay } from './harness.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (!m) throw new Error(`unknown argument ${a}`);
  return [m[1], m[2] ?? true];
}));
const RUNS = Number(args.runs ?? 5);

const relay = args.url ? null : await startRelay(ensureBuilt({ release: true }));
const base = args.url ?? relay.url;
const browser = await launchBrowser();

/** One first visit: { page, sw, files, ms } (bytes of the page's and the SW's requests). */
async function visit(identity) {
  const ctx = await browser.newContext({ baseURL: base, extraHTTPHeaders: identity ? { 'accept-encoding': 'identity' } : {} });
  const sizes = [];
  ctx.on('requestfinished', (req) => {
    if (!req.url().startsWith(base)) return; // the crypto worker's blob: URL
    sizes.push(
      Promise.all([req.sizes(), req.response()]).then(([s, res]) => ({
        url: new URL(req.url()).pathname,
        sw: Boolean(req.serviceWorker()),
        // The relay always sends Content-Length for files; Chromium reports no body size
        // for the wasm the worker compiles while it streams in.
        bytes: s.responseHeadersSize + Number(res?.headers()['content-length'] ?? s.responseBodySize),
      })),
    );
  });
  const page = await ctx.newPage();
  await page.goto('/');
  const ms = await (
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid=auth-submit]');
      return b && b.offsetParent !== null && !b.disabled && performance.now();
    }, undefined, { polling: 'raf', timeout: 60_000 })
  ).jsonValue();
  // The service worker has installed (fetched the shell) once it is active.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.waitForLoadState('networkidle');
  const done = await Promise.all(sizes);
  await ctx.close();
  const sum = (xs) => xs.reduce((n, x) => n + x.bytes, 0);
  return {
    page: sum(done.filter((r) => !r.sw)),
    sw: sum(done.filter((r) => r.sw)),
    files: done.filter((r) => !r.sw).map((r) => `${r.url} ${r.bytes}`),
    ms,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => `${(n / 1000).toFixed(0)} KB`;
try {
  const results = { compressed: [], uncompressed: [] };
  // Alternating, so a change in the machine's load falls on both kinds alike.
  for (let i = 0; i < RUNS; i++) {
    for (const identity of i % 2 ? [true, false] : [false, true]) {
      results[identity ? 'uncompressed' : 'compressed'].push(await visit(identity));
    }
  }
  console.log(`| first visit | page | service worker install | total | login form usable (median of ${RUNS}, range) |`);
  console.log('|---|---|---|---|---|');
  for (const [name, rs] of Object.entries(results)) {
    const ms = rs.map((r) => r.ms);
    const cells = [median(rs.map((r) => r.page)), median(rs.map((r) => r.sw)), median(rs.map((r) => r.page + r.sw))].map(kb);
    console.log(`| ${name} | ${cells.join(' | ')} | ${median(ms).toFixed(0)} ms (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}) |`);
  }
  for (const [name, rs] of Object.entries(results)) console.error(`${name}, page requests of run 1 (path bytes):\n  ${rs[0].files.join('\n  ')}`);
} finally {
  await browser.close();
  await relay?.stop();
}
