#!/usr/bin/env node
// End-to-end check of the example: build it with Vite, serve dist/ from a real relay
// (same origin), open two headless Chromium pages, register two users and chat.
//   node examples/vite-chat/test.mjs     (needs wasm/pkg, npm ci here, the relay binary)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../wasm/scripts/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
let passed = 0;
let failed = 0;
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  ok ? passed++ : failed++;
};

execFileSync(process.execPath, [join(here, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], { cwd: here, stdio: 'inherit' });
check('vite build', existsSync(join(here, 'dist', 'index.html')));

// The relay binary (debug), wherever CARGO_TARGET_DIR puts it; or SEALPOST_RELAY_BIN.
const bin = process.env.SEALPOST_RELAY_BIN ?? execFileSync('cargo',
  ['build', '-q', '-p', 'sealpost-relay', '--bin', 'sealpost-relay', '--message-format=json'],
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 })
  .split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.executable && m.target?.name === 'sealpost-relay')?.executable;
const port = await new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
const data = mkdtempSync(join(tmpdir(), 'sealpost-example-'));
const relay = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', data, '--static-dir', join(here, 'dist')], { stdio: 'ignore' });
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${url}/healthz`)).ok) break;
  } catch { /* starting */ }
  await new Promise((r) => setTimeout(r, 100));
}

const { chromium } = await import('playwright-core');
const context = await launchChromium(chromium);
try {
  const tag = Math.random().toString(36).slice(2, 7);
  const open = async (name) => {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log(`[${name}] page error: ${e}`));
    await page.goto(`${url}/?keySize=2048`);
    await page.fill('#username', `${name}-${tag}`);
    await page.fill('#password', 'correct horse battery');
    await page.click('button[name=register]');
    await page.waitForFunction(() => /: online$/.test(document.getElementById('status').textContent), null, { timeout: 60000 });
    return page;
  };
  // One IndexedDB per origin: the two users share the browser profile, so register
  // them in turn (the worker keeps each one's state under its own user id).
  const alice = await open('alice');
  const bob = await open('bob');
  check('two users registered in the example page', true);
  await alice.fill('#to', `bob-${tag}`);
  await alice.fill('#text', 'hello from the example');
  await alice.click('#compose button');
  await bob.waitForFunction(() => document.getElementById('log').textContent.includes('hello from the example'), null, { timeout: 30000 });
  const line = await bob.evaluate(() => document.getElementById('log').textContent.trim());
  check('message delivered end to end', line.startsWith(`alice-${tag}: hello from the example`) || line.includes(': hello from the example'), line);
} catch (e) {
  check('example chat', false, String(e));
} finally {
  await context.close();
  relay.kill();
  rmSync(data, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
