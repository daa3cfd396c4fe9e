#!/usr/bin/env node
// Runs the sealpost-wasm package tests: the crypto API in Node.js and in headless
// Chromium (shared vectors, interop with the native core both ways, WebCrypto
// cross-checks), then the relay client in Chromium against a real relay process.
//
//   node wasm/scripts/test.mjs [--node-only] [--browser-only] [--no-client] [--filter=TEXT]
//
// Needs: wasm/pkg (node wasm/scripts/build.mjs), `npm ci` in wasm/, /usr/bin/chromium
// (or CHROMIUM=path), cargo (native interop half and the relay binary).
// Prints `N passed, N failed` last; exits non-zero on any failure.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_MEDIA, launchChromium } from './chromium.mjs';
import { check, startRelay, stepper } from './relay.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const wasmDir = resolve(here, '..');
const root = resolve(wasmDir, '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target', 'wasm');
const interopDir = join(targetDir, 'interop');
const args = new Set(process.argv.slice(2).filter((a) => !a.startsWith('--filter=')));
const filter = process.argv.find((a) => a.startsWith('--filter='))?.slice(9);
let passed = 0;
let failed = 0;

const failures = [];
function tally(name, r) {
  passed += r.passed;
  failed += r.failed;
  for (const f of r.failures ?? []) failures.push(`${name} / ${f.name}`);
  console.log(`-- ${name}: ${r.passed} passed, ${r.failed} failed`);
}

if (!existsSync(join(wasmDir, 'pkg', 'package.json'))) {
  console.error('wasm/pkg is missing: run `node wasm/scripts/build.mjs` first');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const { VECTORS } = await import('../tests/crypto.suite.js');
const vectors = {};
for (const name of VECTORS) {
  vectors[name.replace('/', '_')] = JSON.parse(readFileSync(join(root, 'tests', 'vectors', `${name}.json`), 'utf8'));
}

// Interop: the package seals, the native core opens and seals back.
const sp = await import(join(wasmDir, 'pkg', 'index.node.mjs'));
const { createHarness } = await import('../tests/harness.js');
const { cryptoSuite, sealForNative } = await import('../tests/crypto.suite.js');
mkdirSync(interopDir, { recursive: true });
const interop = {};
try {
  const now = vectors.v2_devices.t0 + 50;
  writeFileSync(join(interopDir, 'from-wasm.json'), JSON.stringify(sealForNative(sp, vectors, now), null, 1));
  execFileSync('cargo', ['run', '-q', '--release', '-p', 'sealpost-wasm', '--example', 'interop', '--',
    join(interopDir, 'from-wasm.json'), join(interopDir, 'from-native.json')],
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CARGO_TARGET_DIR: targetDir } });
  interop.fromNative = JSON.parse(readFileSync(join(interopDir, 'from-native.json'), 'utf8'));
  tally('interop: native core opens package envelopes', { passed: 1, failed: 0 });
} catch (e) {
  rmSync(join(interopDir, 'from-native.json'), { force: true });
  console.log(`FAIL interop (native side): ${e}`);
  tally('interop: native core opens package envelopes', { passed: 0, failed: 1 });
}

// The TypeScript declarations compile against a typical app (tests/types.check.ts).
if (!args.has('--browser-only')) {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-types-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(wasmDir, 'pkg'), join(dir, 'node_modules', 'sealpost-wasm'));
    cpSync(join(wasmDir, 'tests', 'types.check.ts'), join(dir, 'check.ts'));
    execFileSync(join(wasmDir, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext',
      '--moduleResolution', 'bundler', '--lib', 'esnext,dom', 'check.ts'], { cwd: dir, stdio: 'inherit' });
    console.log('ok   TypeScript declarations type-check');
    tally('types', { passed: 1, failed: 0 });
  } catch (e) {
    console.log(`FAIL TypeScript declarations: ${e}`);
    tally('types', { passed: 0, failed: 1 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!args.has('--browser-only')) {
  const h = createHarness();
  cryptoSuite(h, sp, vectors, interop);
  tally('node: crypto API', await h.run(filter));
}

// The worker's host of transferred data channels, with fakes (no wasm, relay or WebRTC).
if (!args.has('--browser-only')) {
  const { directWorkerSuite } = await import('../tests/directworker.suite.js');
  const h = createHarness();
  directWorkerSuite(h);
  tally('node: direct channels in the worker', await h.run(filter));
}

// A static server for the browser: /wasm/..., /tests/vectors/..., /interop/...
function serve() {
  const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.json': 'application/json', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file;
    if (url.pathname.startsWith('/interop/')) file = join(interopDir, normalize(url.pathname.slice(9)));
    else file = join(root, normalize(url.pathname));
    if (!file.startsWith(root) && !file.startsWith(interopDir)) file = '';
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const relay = args.has('--no-client') ? null : await startRelay({ interopDir });
if (!args.has('--no-client') && !relay) {
  console.log('FAIL client: the relay did not start (SEALPOST_RELAY_BIN, or cargo build -p sealpost-relay)');
  failed++;
}

// The relay client in Node.js (a child process: Node 20 needs --experimental-websocket).
if (relay && !args.has('--browser-only')) {
  const result = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', join(wasmDir, 'tests', 'node-client.mjs'), relay.url, filter ?? ''],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let got = null;
    child.on('message', async (m) => {
      if (m?.restart) child.send({ restarted: await relay.restart() });
      if (m?.result) got = m.result;
    });
    child.on('exit', () => resolve(got ?? { passed: 0, failed: 1, failures: [{ name: 'node client suite crashed' }] }));
  });
  tally('node: relay client', result);
}

// Files on a relay whose chunks expire at once (`--chunk-ttl-secs 1`: the expiry is the
// upload time rounded down to 5 minutes plus one second): FILE_EXPIRED, in Node. The same
// relay takes files up to 5000 bytes (`--max-file-bytes`): a larger one is FILE_TOO_LARGE
// before any chunk goes up.
if (relay && !args.has('--browser-only') && (!filter || 'node: expired file'.includes(filter))) {
  const short = await startRelay({ interopDir, args: ['--chunk-ttl-secs', '1', '--max-file-bytes', '5000'] });
  const r = { passed: 0, failed: 0, failures: [] };
  try {
    const name = `exp-${Math.random().toString(36).slice(2, 8)}`;
    const c = await sp.Client.register({ relayUrl: short.url, storage: new sp.MemoryStorage(), keySize: 2048, connect: false }, name, 'correct horse battery staple');
    const limits = await c.fileLimits();
    if (limits.maxFileBytes !== 5000 || limits.chunkTtlSecs !== 1) throw new Error(`limits: ${JSON.stringify(limits)}`);
    const manifest = await c.uploadFile(new Blob([new Uint8Array(3000).fill(7)]), { name: 'old.txt' });
    const code = await c.openAttachment(manifest).then(() => 'opened', (e) => e.code);
    if (code !== 'FILE_EXPIRED') throw new Error(`expected FILE_EXPIRED, got ${code}`);
    const chunks = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (url, init) => {
      if (String(url).includes('/v2/chunks/') || String(url).includes('/v2/uploads')) chunks.push(String(url));
      return realFetch(url, init);
    };
    const big = await c.uploadFile(new Blob([new Uint8Array(5001)]), { name: 'big.bin' }).then(() => 'sent', (e) => e.code).finally(() => (globalThis.fetch = realFetch));
    if (big !== 'FILE_TOO_LARGE') throw new Error(`a file over --max-file-bytes: expected FILE_TOO_LARGE, got ${big}`);
    if (chunks.length) throw new Error(`a file over the limit made chunk requests: ${chunks.join(' ')}`);
    await c.logout();
    r.passed++;
    console.log('ok   node: an expired file is FILE_EXPIRED; a file over --max-file-bytes is FILE_TOO_LARGE, nothing uploaded');
  } catch (e) {
    r.failed++;
    r.failures.push({ name: 'expired file', error: String(e) });
    console.log(`FAIL node: expired file: ${e?.stack ?? e}`);
  } finally {
    short.child.kill();
    rmSync(short.data, { recursive: true, force: true });
  }
  tally('node: expired file', r);
}

if (!args.has('--node-only')) {
  const { chromium } = await import('playwright-core');
  const server = await serve();
  const context = await launchChromium(chromium);
  try {
    const page = await context.newPage();
    let lastOutput = Date.now();
    page.on('console', (m) => {
      lastOutput = Date.now();
      console.log(m.text());
    });
    page.on('pageerror', (e) => console.log(`page error: ${e}`));
    if (relay) await page.exposeFunction('__restartRelay', () => relay.restart());
    if (relay) await page.exposeFunction('__pauseRelay', (ms) => relay.pause(ms));
    const q = new URLSearchParams();
    if (relay) q.set('relay', relay.url);
    if (filter) q.set('filter', filter);
    const origin = relay ? relay.url : `http://127.0.0.1:${server.address().port}`;
    await page.goto(`${origin}/wasm/tests/browser.html?${q}`);
    // Fail fast when the page stops making progress (no console output for 3 minutes:
    // the longest single test is an RSA-2048 registration of a few seconds).
    let watchdog;
    const stalled = new Promise((resolve) => {
      watchdog = setInterval(() => Date.now() - lastOutput > 180_000 && resolve('stalled'), 1000);
    });
    const done = page.waitForFunction(() => window.__result, null, { timeout: 15 * 60 * 1000, polling: 200 }).then(() => 'done');
    const how = await Promise.race([done, stalled]).catch((e) => String(e));
    clearInterval(watchdog);
    const name = 'chromium: crypto API' + (relay ? ' and relay client' : '');
    if (how === 'done') tally(name, await page.evaluate(() => window.__result));
    else tally(name, { passed: 0, failed: 1, failures: [{ name: `page did not finish (${how})` }] });
  } finally {
    await context.close();
    server.close();
  }
}
// Two devices of one account in two browsers (separate profiles, so separate Web Locks
// and IndexedDB): a password login, a link, messages on every device, a revocation.
if (relay && !args.has('--node-only') && (!filter || 'chromium: two browsers'.includes(filter))) {
  const { chromium } = await import('playwright-core');
  const r = { passed: 0, failed: 0, failures: [] };
  const contexts = [];
  const open = async () => {
    const context = await launchChromium(chromium);
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e}`));
    await page.goto(`${relay.url}/wasm/tests/devices.html`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 60000 });
    return page;
  };
  const step = stepper(r);
  const tag = Math.random().toString(36).slice(2, 8);
  const env = { relayUrl: relay.url, A: `ann-${tag}`, B: `ben-${tag}`, pw: 'correct horse battery staple' };
  try {
    const one = await open();
    const two = await open();
    let ids;
    await step('two browsers: a password login on a second browser is a new device; both get every message', async () => {
      ids = await one.evaluate(async (e) => {
        const o = (storage) => ({ relayUrl: e.relayUrl, storage, keySize: 2048, bundleMaxAge: 0 });
        const ann = keep('ann', await sp.Client.register({ ...o(await sp.IndexedDbStorage.open(`a-${e.A}`)), deviceName: 'Ann desktop' }, e.A, e.pw));
        keep('ben', await sp.Client.register(o(new sp.MemoryStorage()), e.B, e.pw));
        return ann;
      }, env);
      const ann2 = await two.evaluate(async (e) => keep('ann', await sp.Client.login({ relayUrl: e.relayUrl, storage: await sp.IndexedDbStorage.open(`a-${e.A}`), keySize: 2048, bundleMaxAge: 0, deviceName: 'Ann laptop' }, e.A, e.pw)), env);
      check(ann2.userId === ids.userId && ann2.deviceId !== ids.deviceId, 'a new device of the same account');
      const sent = await one.evaluate(async (e) => (await clients.ben.send(e.A, 'to both browsers')).total, env);
      check(sent === 2, `sealed to ${sent} devices`);
      for (const page of [one, two]) {
        const text = await page.evaluate(async () => (await recv('ann')).text);
        check(text === 'to both browsers', text);
      }
      await two.evaluate(async (e) => clients.ann.send(e.B, 'from the laptop'), env);
      const atBen = await one.evaluate(async () => { const m = await recv('ben'); return [m.text, m.fromDevice]; });
      check(atBen[0] === 'from the laptop' && atBen[1] === ann2.deviceId, JSON.stringify(atBen));
      const copy = await one.evaluate(async () => { const m = await recv('ann'); return [m.text, m.own, m.conversation]; });
      check(copy[0] === 'from the laptop' && copy[1] === true, JSON.stringify(copy));
      const names = await one.evaluate(async () => (await clients.ann.devices()).map((d) => `${d.name}:${d.current}`).sort());
      check(JSON.stringify(names) === JSON.stringify(['Ann desktop:true', 'Ann laptop:false']), JSON.stringify(names));
      ids.second = ann2.deviceId;
      await two.evaluate(async () => clients.ann.logout());
    });
    await step('two browsers: linking a third browser by code; history and contacts come along', async () => {
      const three = await open();
      const link = await three.evaluate(async (e) => {
        window.link = await sp.Client.startLink({ relayUrl: e.relayUrl, storage: await sp.IndexedDbStorage.open(`c-${e.A}`), keySize: 2048, bundleMaxAge: 0, password: e.pw }, 'Ann tablet');
        window.linked = window.link.wait().then((c) => keep('ann', c));
        return window.link.code;
      }, env);
      const name = await one.evaluate(async (code) => {
        const a = await clients.ann.approveLink(code);
        await a.confirm({ history: new TextEncoder().encode('the old history') });
        return a.deviceName;
      }, link);
      check(name === 'Ann tablet', name);
      const got = await three.evaluate(async (e) => {
        const me = await window.linked;
        const history = new TextDecoder().decode(await clients.ann.takeLinkedHistory());
        const contacts = clients.ann.contacts().map((c) => c.username);
        return { me, history, contacts };
      }, env);
      check(got.me.userId === ids.userId, 'same account');
      check(got.history === 'the old history', got.history);
      check(got.contacts.includes(env.B), `contacts ${got.contacts}`);
      await one.evaluate(async (e) => clients.ben.send(e.A, 'to the tablet too'), env);
      const text = await three.evaluate(async () => (await recv('ann')).text);
      check(text === 'to the tablet too', text);
      await three.evaluate(async () => clients.ann.logout());
    });
    await step('two browsers: a device revoked while offline is told at its next login, closed and wiped', async () => {
      await one.evaluate(async (id) => clients.ann.revokeDevice(id), ids.second);
      const seen = await two.evaluate(async (e) => {
        window.events = [];
        const c = await sp.Client.login({ relayUrl: e.relayUrl, storage: await sp.IndexedDbStorage.open(`a-${e.A}`), keySize: 2048 }, e.A, e.pw);
        keep('ann', c);
        for (let i = 0; i < 150 && !events.some((x) => x.error === 'DEVICE_REVOKED'); i++) await new Promise((r) => setTimeout(r, 100));
        const storage = await sp.IndexedDbStorage.open(`a-${e.A}`);
        const left = await storage.get(`sealpost/v2/${c.userId}/device`);
        return { events, left: left ? left.length : 0, status: c.status };
      }, env);
      check(seen.events.some((x) => x.error === 'DEVICE_REVOKED'), JSON.stringify(seen.events));
      check(seen.left === 0, 'the revoked device deleted its keys');
    });
  } catch (e) {
    r.failed++;
    r.failures.push({ name: 'two browsers', error: String(e) });
    console.log(`FAIL two browsers: ${e?.stack ?? e}`);
  } finally {
    for (const c of contexts) await c.close();
  }
  tally('chromium: two browsers', r);
}

/**
 * Runs `suite` (a direct channel or call suite) on pages of one browser, each page the
 * test page with the package, against the relay. `media`: fake microphones, granted.
 */
async function pagesSuite(name, suite, media) {
  const { chromium } = await import('playwright-core');
  const r = { passed: 0, failed: 0, failures: [] };
  const context = await launchChromium(chromium, media ? FAKE_MEDIA : []);
  // Playwright answers permission prompts itself (denied unless granted).
  if (media) await context.grantPermissions(['microphone'], { origin: relay.url });
  const open = async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e}`));
    await page.goto(`${relay.url}/wasm/tests/devices.html`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 60000 });
    return page;
  };
  const step = stepper(r);
  try {
    await suite({ open, relayUrl: relay.url, step, check, tag: Math.random().toString(36).slice(2, 8) });
  } finally {
    await context.close();
  }
  tally(name, r);
}

// Direct channels between two pages of one browser (WebRTC on loopback).
if (relay && !args.has('--node-only') && (!filter || 'chromium: direct channel'.includes(filter))) {
  const { directSuite } = await import('../tests/direct.mjs');
  await pagesSuite('chromium: direct channel', directSuite, false);
}

// Voice calls between two pages of one browser, with fake microphones.
if (relay && !args.has('--node-only') && (!filter || 'chromium: calls'.includes(filter))) {
  const { callsSuite } = await import('../tests/calls.mjs');
  await pagesSuite('chromium: calls', callsSuite, true);
}

// Voice in a room of three pages, with fake microphones.
if (relay && !args.has('--node-only') && (!filter || 'chromium: room voice'.includes(filter))) {
  const { roomVoiceSuite } = await import('../tests/roomvoice.mjs');
  await pagesSuite('chromium: room voice', roomVoiceSuite, true);
}

if (relay) {
  relay.child.kill();
  rmSync(relay.data, { recursive: true, force: true });
}

for (const f of failures) console.log(`failed: ${f}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
