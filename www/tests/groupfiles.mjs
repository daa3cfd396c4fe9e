#!/usr/bin/env node
// Files in groups and in conversations with a disappearing time (issue 11), end to end:
// ann (two browsers), ben, cat, dan and eve. A photo and a small file sent to their group
// of five arrive byte for byte (SHA-256) on every other device, with the sender's name, and
// the relay got each chunk once (the test counts the chunk uploads in every worker).
// A file ann sends to ben as a reply, while their chat's disappearing time is on, shows
// the quote, and vanishes on both sides (its object URL revoked). A reload in the middle
// of an upload to the group leaves the message "not sent" with Retry, which asks for the
// file again and goes on from the chunks the relay has (none is uploaded twice); another
// file of the same size picked there is refused before anything of it is sent.
//
//   node www/tests/groupfiles.mjs          (also run as part of www/tests/e2e.mjs)

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { login, register, startChat } from './devices.mjs';
import { fileMsg, photo } from './files.mjs';
import { launchBrowser, newContext, standalone, startRelay } from './harness.mjs';

const T = { timeout: 120_000 };
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** How many chunks a file of `size` bytes is on the relay (PROTOCOL.md 26.2). */
function chunkCount(size) {
  for (let s = 1024; s <= 4 << 20; s *= 4) if (Math.max(1, Math.ceil(size / s)) <= 16) return Math.max(1, Math.ceil(size / s));
  return Math.ceil(size / (4 << 20));
}

/**
 * Runs in each crypto worker: records the chunk uploads it makes (address and the
 * relay's status: 201 stored, 200 already there) and, while `self.__slow` is set, holds
 * each one back that many ms (so that a reload lands in the middle of an upload).
 */
function tapChunks() {
  if (self.__puts) return;
  self.__puts = [];
  const real = self.fetch.bind(self);
  self.fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const m = /\/v2\/chunks\/([0-9a-f]{64})$/.exec(url);
    if (!m || (init.method ?? 'GET') !== 'PUT') return real(input, init);
    if (self.__slow) await new Promise((r) => setTimeout(r, self.__slow));
    const res = await real(input, init);
    self.__puts.push({ address: m[1], status: res.status });
    return res;
  };
}

/** The chunk uploads a page's workers made since the last call. */
async function puts(page) {
  const out = [];
  for (const w of page.workers()) out.push(...(await w.evaluate(() => (self.__puts ?? []).splice(0)).catch(() => [])));
  return out;
}

/** Runs in each page: which object URLs it made and revoked. */
function tapUrls() {
  const made = (window.__made = []);
  const revoked = (window.__revoked = new Set());
  const create = URL.createObjectURL;
  const revoke = URL.revokeObjectURL;
  URL.createObjectURL = (o) => {
    const u = create(o);
    made.push(u);
    return u;
  };
  URL.revokeObjectURL = (u) => {
    revoked.add(u);
    revoke(u);
  };
}

const sent = (page, name) => page.locator(`[data-testid=msg]:is(.relay, .delivered):has([data-testid=file][data-name="${name}"])`).waitFor(T);

async function openGroup(page, name) {
  await page.evaluate(() => (location.hash = '#/'));
  await page.locator(`[data-testid="group-${name}"]`).click(T);
  await page.locator('[data-testid=compose]').waitFor(T);
}

async function openChat(page, username) {
  await page.evaluate(() => (location.hash = '#/'));
  await page.click(`[data-testid=conv-${username}]`, T);
  await page.locator('[data-testid=compose]').waitFor(T);
}

/** Saves the file of message `name` (an image: shown first, then saved) and returns its bytes. */
async function fetchFile(page, name, image) {
  const m = fileMsg(page, name);
  if (image) {
    await m.locator('[data-testid=thumb]').click(T);
    await m.locator('[data-testid=image]').waitFor(T);
  }
  const [download] = await Promise.all([page.waitForEvent('download', T), m.locator(image ? '[data-testid=save]' : '[data-testid=download]').click(T)]);
  return readFileSync(await download.path());
}

/** ann's four others in the group. */
const OTHERS = ['ben', 'cat', 'dan', 'eve'];

export async function runGroupFiles(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  const p = {};
  try {
    for (const k of ['A1', 'A2', 'B', 'C', 'D', 'E']) {
      const ctx = await newContext(browser, relay.url, problems, `groupfiles-${k}`);
      ctx.on('page', (page) => page.on('worker', (w) => void w.evaluate(tapChunks).catch(() => undefined)));
      await ctx.addInitScript(tapUrls);
      p[k] = await ctx.newPage();
    }
    const ok = await r.step('group files: ann (two browsers), ben, cat, dan and eve; ann makes the group "pics" of five', async () => {
      await Promise.all([register(p.A1, 'ann'), register(p.B, 'ben'), register(p.C, 'cat'), register(p.D, 'dan'), register(p.E, 'eve')]);
      await login(p.A2, 'ann');
      for (const n of OTHERS) await startChat(p.A1, n);
      await Promise.all([startChat(p.B, 'ann'), startChat(p.C, 'ann'), startChat(p.D, 'ann'), startChat(p.E, 'ann')]);
      await p.A1.evaluate(() => (location.hash = '#/new-group'));
      await p.A1.fill('[data-testid=new-group-name]', 'pics');
      for (const n of OTHERS) await p.A1.check(`[data-testid=pick-${n}]`);
      await p.A1.click('[data-testid=new-group-submit]');
      await p.A1.waitForURL(/#\/group\/[0-9a-f]{32}$/, T);
      for (const k of ['A2', 'B', 'C', 'D', 'E']) await p[k].locator('[data-testid="group-pics"]').waitFor(T);
    });
    if (!ok) return;

    await r.step('group files: a photo and a file to the group arrive byte for byte on every device, each chunk uploaded once', async () => {
      const png = await photo(p.A1);
      const notes = randomBytes(70_000);
      for (const k of ['A1', 'A2', 'B', 'C', 'D', 'E']) await puts(p[k]);
      await openGroup(p.A1, 'pics');
      await p.A1.setInputFiles('[data-testid=file-input]', [
        { name: 'beach.png', mimeType: 'image/png', buffer: png },
        { name: 'notes.bin', mimeType: 'application/octet-stream', buffer: notes },
      ]);
      for (const name of ['beach.png', 'notes.bin']) await sent(p.A1, name);
      for (const k of ['B', 'C', 'D', 'E', 'A2']) {
        await openGroup(p[k], 'pics');
        const sender = await fileMsg(p[k], 'beach.png').locator('[data-testid=sender]').innerText(T);
        expect(sender.startsWith(k === 'A2' ? 'You' : 'ann'), `${k} sees the sender: ${sender}`);
        expect(sha256(await fetchFile(p[k], 'beach.png', true)) === sha256(png), `${k}: the photo is byte for byte the one sent`);
        expect(sha256(await fetchFile(p[k], 'notes.bin', false)) === sha256(notes), `${k}: the file is byte for byte the one sent`);
      }
      const up = await puts(p.A1);
      const want = chunkCount(png.length) + chunkCount(notes.length);
      expect(up.length === want, `${up.length} chunk uploads for ${want} chunks`);
      expect(new Set(up.map((x) => x.address)).size === want && up.every((x) => x.status === 201), 'each chunk stored once');
      for (const k of ['A2', 'B', 'C', 'D', 'E']) expect((await puts(p[k])).length === 0, `${k} uploaded nothing`);
    });

    await r.step('group files: a file sent as a reply in a chat with a disappearing time shows the quote and vanishes on both sides', async () => {
      await openChat(p.A1, 'ben');
      await openChat(p.B, 'ann');
      // Asked before the timer is on: the question stays, the answer goes.
      await p.B.fill('[data-testid=compose]', 'the minutes please');
      await p.B.press('[data-testid=compose]', 'Enter');
      const asked = p.A1.locator('[data-testid=msg]', { hasText: 'the minutes please' });
      await asked.waitFor(T);
      await p.A1.selectOption('[data-testid=timer]', '30');
      // On both sides (ann's chat takes the time once the relay took her timer message).
      for (const page of [p.A1, p.B]) await page.locator('[data-testid=notice][data-kind=timer]', { hasText: '30 seconds' }).waitFor(T);
      await asked.locator('[data-testid=msg-actions]').click(T);
      await asked.locator('[data-testid=reply]').click();
      const secret = randomBytes(3000);
      await p.A1.setInputFiles('[data-testid=file-input]', [{ name: 'minutes.bin', mimeType: 'application/octet-stream', buffer: secret }]);
      await sent(p.A1, 'minutes.bin');
      const got = fileMsg(p.B, 'minutes.bin');
      await got.locator('[data-testid=quote]', { hasText: 'the minutes please' }).waitFor(T);
      expect((await got.locator('[title=Disappears]').count()) === 1, 'it disappears');
      const before = await p.B.evaluate(() => window.__made.length);
      expect(sha256(await fetchFile(p.B, 'minutes.bin', false)) === sha256(secret), 'the file arrived');
      const urls = await p.B.evaluate((n) => window.__made.slice(n), before);
      expect(urls.length > 0, 'opening it made an object URL');
      await fileMsg(p.A1, 'minutes.bin').waitFor({ state: 'detached', timeout: 90_000 });
      await got.waitFor({ state: 'detached', timeout: 90_000 });
      expect(await p.B.evaluate((u) => u.every((x) => window.__revoked.has(x)), urls), 'its object URL was revoked');
      await p.A1.selectOption('[data-testid=timer]', '0');
    });

    await r.step('group files: a reload in the middle of an upload leaves "not sent" with Retry, which refuses another file of the same size, takes the same file again and goes on from where it was', async () => {
      const big = randomBytes(6_000_000); // 1 MiB chunks: 6
      await openGroup(p.A1, 'pics');
      for (const w of p.A1.workers()) await w.evaluate(() => (self.__slow = 1500)).catch(() => undefined);
      await puts(p.A1);
      await p.A1.setInputFiles('[data-testid=file-input]', [{ name: 'video.bin', mimeType: 'application/octet-stream', buffer: big }]);
      await fileMsg(p.A1, 'video.bin').locator('[data-testid=file-progress]').waitFor(T);
      const before = [];
      const deadline = Date.now() + 60_000;
      while (before.length === 0 && Date.now() < deadline) {
        before.push(...(await puts(p.A1)));
        await new Promise((res) => setTimeout(res, 200));
      }
      await p.A1.reload();
      await openGroup(p.A1, 'pics');
      const m = fileMsg(p.A1, 'video.bin');
      await m.locator('[data-testid=file-interrupted]').waitFor(T);
      expect((await m.getAttribute('class')).includes('failed'), 'shown as not sent');
      // Another file of the same size (one byte differs): refused before anything is
      // sent, said in words, and Retry asks for the file again.
      const forged = Buffer.from(big);
      forged[big.length - 1] ^= 1;
      const [wrong] = await Promise.all([p.A1.waitForEvent('filechooser', T), m.locator('.retry').click()]);
      await wrong.setFiles([{ name: 'video.bin', mimeType: 'application/octet-stream', buffer: forged }]);
      await m.locator('[data-testid=file-interrupted]', { hasText: 'not the file this message was sending' }).waitFor(T);
      expect((await puts(p.A1)).length === 0, 'nothing of the other file went up');
      const [chooser] = await Promise.all([p.A1.waitForEvent('filechooser', T), m.locator('.retry').click()]);
      await chooser.setFiles([{ name: 'video.bin', mimeType: 'application/octet-stream', buffer: big }]);
      await sent(p.A1, 'video.bin');
      // It went on from where it was: no chunk went up twice, and not all of them again
      // (at most the two under way at the reload may have landed unrecorded).
      const after = await puts(p.A1);
      const up = [...before, ...after].map((x) => x.address);
      expect(new Set(up).size === up.length, `no chunk uploaded twice: ${before.length} before, ${after.length} after`);
      expect(after.length < 6 && up.length >= 4, `${before.length} chunks before the reload, ${after.length} after`);
      expect(sha256(await fetchFile(p.C, 'video.bin', false)) === sha256(big), 'the retried file arrived byte for byte');
      expect((await fileMsg(p.C, 'video.bin').count()) === 1, 'and is shown once');
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'groupfiles', runGroupFiles);
