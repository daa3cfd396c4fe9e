#!/usr/bin/env node
// The direct channel against the relay at the package level (docs/BENCHMARKS.md): two
// pages of one headless Chromium, each a RemoteClient with its Client in a Web Worker
// (MemoryStorage), one message of 50 to 500 characters at a time (send, wait until the other page's onMessage,
// next), N through the relay with a POST per deposit, N through the relay over the deposit
// socket, then N over the direct channel, in one run. Latency is
// send() called to onMessage, timed inside the pages (one machine, one clock).
//
//   SEALPOST_RELAY_BIN=target/release/sealpost-relay node wasm/scripts/direct-latency.mjs [N] [--page-channel]
//
// --page-channel: the pages keep the data channels, as in a browser that cannot transfer
// one to a worker (each frame then goes worker → page → channel → page → worker).
//
// Needs wasm/pkg (node wasm/scripts/build.mjs) and a relay binary (default: the release
// build under CARGO_TARGET_DIR or target/).
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 200);
const pageChannel = process.argv.includes('--page-channel');
const { chromium } = await import(join(root, 'wasm/node_modules/playwright-core/index.mjs'));
const { launchChromium } = await import(join(root, 'wasm/scripts/chromium.mjs'));
const bin = process.env.SEALPOST_RELAY_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'release', 'sealpost-relay');
const data = mkdtempSync(join(tmpdir(), 'direct-relay-'));
const web = join(data, 'web');
cpSync(join(root, 'wasm/pkg'), join(web, 'wasm/pkg'), { recursive: true });
cpSync(join(root, 'wasm/tests'), join(web, 'wasm/tests'), { recursive: true });
writeFileSync(join(web, 'index.html'), 'x');
const port = 41000 + Math.floor(Math.random() * 1000); // a collision fails loudly below
const url = `http://127.0.0.1:${port}`;
const child = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', join(data, 'db'), '--static-dir', web, '--rate-ip-per-sec', '0', '--rate-mailbox-per-sec', '0'], { stdio: 'ignore' });
let up = false;
for (let i = 0; i < 100 && !up; i++) {
  try { up = (await fetch(`${url}/healthz`)).ok; } catch { /* not up yet */ }
  if (!up) await new Promise((r) => setTimeout(r, 100));
}
if (!up) throw new Error(`the relay (${bin}) did not start`);
const context = await launchChromium(chromium);
const pages = [];
for (const name of ['lata', 'latb']) {
  const page = await context.newPage();
  await page.goto(`${url}/wasm/tests/devices.html`);
  await page.waitForFunction(() => window.ready === true);
  await page.evaluate(async ({ url, name, pageChannel }) => {
    if (pageChannel) {
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (msg, transfer) {
        if ([].concat(transfer ?? []).some((t) => t instanceof RTCDataChannel)) throw new DOMException('not transferable', 'DataCloneError');
        return post.call(this, msg, transfer);
      };
    }
    const { RemoteClient } = await import('/wasm/pkg/remote.js');
    const w = new Worker('/wasm/tests/test.worker.js', { type: 'module' });
    const c = await RemoteClient.register(w, { relayUrl: url, keySize: 2048 }, name, 'correct horse battery staple');
    window.clients.me = c;
    // The same sender with a POST per deposit (no deposit socket), in a worker of its own.
    if (name === 'lata') {
      const w2 = new Worker('/wasm/tests/test.worker.js', { type: 'module' });
      window.clients.post = await RemoteClient.register(w2, { relayUrl: url, keySize: 2048, depositSocket: false }, 'latc', 'correct horse battery staple');
    }
    window.got = new Map();
    c.onMessage((m) => window.got.set(m.text, performance.timeOrigin + performance.now()));
    window.direct = [];
    c.onDirect((e) => e.type === 'state' && window.direct.push(e.state));
    attachDirect(c);
  }, { url, name, pageChannel });
  pages.push(page);
}
const [a, b] = pages;
await a.evaluate(() => Promise.all([clients.me.lookup('latb'), clients.post.lookup('latb')]));
await b.evaluate(() => Promise.all([clients.me.lookup('lata'), clients.me.lookup('latc')]));
// 50 to 500 characters, deterministic (the seed experiment's sizes).
let seed = 7;
const text = (tag, i) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return `${tag}${i} `.padEnd(50 + (seed % 451), 'lorem ipsum dolor sit amet ');
};
const run = async (tag, n, sender = 'me') => {
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = text(tag, i);
    const t0 = await a.evaluate(async ([t, sender]) => { const at = performance.timeOrigin + performance.now(); clients[sender].send('latb', t); return at; }, [t, sender]);
    const t1 = await b.evaluate((t) => new Promise((r) => { const f = () => window.got.has(t) ? r(window.got.get(t)) : setTimeout(f, 0); f(); }), t);
    lat.push(t1 - t0);
  }
  lat.sort((x, y) => x - y);
  const at = (p) => lat[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)].toFixed(1);
  console.log(`${tag}: ${n} messages, p50 ${at(50)} ms, p90 ${at(90)} ms, p99 ${at(99)} ms`);
};
await run('warm', 5);
await run('warm-post', 5, 'post');
await run('relay, a POST per deposit', N, 'post');
await run('relay, deposit socket', N);
a.evaluate(() => clients.me.connectDirect('latb'));
await b.waitForFunction(() => window.direct.includes('direct'));
await a.waitForFunction(() => window.direct.includes('direct'));
await run('direct', N);
await context.close(); child.kill(); rmSync(data, { recursive: true, force: true });
