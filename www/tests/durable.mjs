#!/usr/bin/env node
// A sent message is in the sender's history before it leaves (issue 13 moved the write
// of the message's record into the crypto worker, next to the send, so that the page
// posts both at once): the worker holds the send until the record committed.
// - Storage failing for message records (the worker's IndexedDB refuses them): nothing
//   leaves (no deposit frame), the message says "Not sent"; with storage back, Retry
//   sends it and it arrives once.
// - The tab reloaded right after Enter, and again right after the message shows as on
//   the relay: whatever reached bob is in alice's history after the reload, and what is
//   in her history reaches bob, each once.
//
//   node www/tests/durable.mjs          (also run as part of www/tests/e2e.mjs)

import { launchBrowser, newContext, standalone, startRelay, unlockIfAsked } from './harness.mjs';
import { register, startChat } from './devices.mjs';

const PASSWORD = 'correct horse battery staple';
const T = { timeout: 60_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs in the crypto worker: counts the deposit frames it sends, and refuses to store
 * the app's message records (`m:` keys) while `self.__failRecords` is set.
 */
function tapWorker() {
  if (self.__frames !== undefined) return;
  self.__frames = 0;
  self.__failRecords = false;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (this.url.endsWith('/v2/deposits') && typeof data !== 'string') self.__frames++;
    return send.call(this, data);
  };
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (value, key) {
    if (self.__failRecords && String(key).startsWith('m:')) throw new DOMException('refused by the test', 'QuotaExceededError');
    return put.call(this, value, key);
  };
}

/** Evaluates `fn` in the page's crypto worker. */
async function inWorker(page, fn, arg) {
  for (let i = 0; i < 100; i++) {
    const w = page.workers()[0];
    if (w) {
      await w.evaluate(tapWorker);
      return w.evaluate(fn, arg);
    }
    await sleep(100);
  }
  throw new Error('no crypto worker');
}

const msgs = (page, text) => page.locator('[data-testid=msg]', { hasText: text });

async function send(page, text) {
  await page.fill('[data-testid=compose]', text);
  await page.press('[data-testid=compose]', 'Enter');
}

async function openChat(page, username) {
  await page.evaluate(() => (location.hash = '#/'));
  await page.click(`[data-testid=conv-${username}]`, T);
  await page.locator('[data-testid=compose]').waitFor(T);
}

export async function runDurable(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  try {
    const pages = [];
    for (const name of ['durable-A', 'durable-B']) {
      const ctx = await newContext(browser, relay.url, problems, name);
      ctx.on('page', (page) => page.on('worker', (w) => void w.evaluate(tapWorker).catch(() => undefined)));
      // Through the relay, where the deposits can be counted: no direct channel.
      await ctx.addInitScript(() => {
        delete window.RTCPeerConnection;
      });
      pages.push(await ctx.newPage());
    }
    const [a, b] = pages;
    const ok = await r.step('durable: alice and bob talk', async () => {
      await Promise.all([register(a, 'alice'), register(b, 'bob')]);
      await startChat(a, 'bob');
      await send(a, 'first');
      await b.locator('[data-testid=conv-alice]').waitFor(T);
      await openChat(b, 'alice');
      await msgs(b, 'first').waitFor(T);
    });
    if (!ok) return;

    await r.step('durable: a message whose record cannot be stored does not leave; Retry sends it once', async () => {
      const before = await inWorker(a, () => ((self.__failRecords = true), self.__frames));
      await send(a, 'not without its record');
      await a.locator('[data-testid=msg][data-state=failed]', { hasText: 'not without its record' }).waitFor(T);
      await sleep(1000);
      const after = await inWorker(a, () => self.__frames);
      expect(after === before, `${after - before} deposit(s) left although the record was never stored`);
      expect((await msgs(b, 'not without its record').count()) === 0, 'bob got a message alice has no record of');
      await inWorker(a, () => (self.__failRecords = false));
      await msgs(a, 'not without its record').locator('.retry').click();
      await msgs(b, 'not without its record').waitFor(T);
      await sleep(500);
      expect((await msgs(b, 'not without its record').count()) === 1, 'the retried message arrived more than once');
    });

    await r.step('durable: the tab reloaded right after Enter, and right when it shows as sent: what bob got is in alice\'s history, and the other way round', async () => {
      await send(a, 'reloaded at once');
      await a.reload();
      await unlockIfAsked(a, PASSWORD);
      await openChat(a, 'bob');
      await send(a, 'reloaded once sent');
      await a.locator('[data-testid=msg][data-state=relay], [data-testid=msg][data-state=delivered]').filter({ hasText: 'reloaded once sent' }).waitFor(T);
      await a.reload();
      await unlockIfAsked(a, PASSWORD);
      await openChat(a, 'bob');
      await msgs(a, 'reloaded once sent').waitFor(T);
      // What alice has goes out (queued again after the reload); give it time.
      await msgs(b, 'reloaded once sent').waitFor(T);
      const atOnceA = await msgs(a, 'reloaded at once').count();
      if (atOnceA) await msgs(b, 'reloaded at once').waitFor(T);
      await sleep(1000);
      const atOnceB = await msgs(b, 'reloaded at once').count();
      expect(atOnceA === atOnceB, `reloaded at once: alice has ${atOnceA}, bob has ${atOnceB}`);
      expect(atOnceB <= 1 && (await msgs(b, 'reloaded once sent').count()) === 1, 'a message arrived twice');
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'durable', runDurable);
