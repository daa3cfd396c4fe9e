#!/usr/bin/env node
// A message costs the same in a long chat as in a short one (issue 13: "every row gets
// slower as the chat grows"). Counted, not timed, so a loaded machine does not decide:
// at 50 and at 450 messages in the chat, for a window of messages sent one at a time,
// the message rows the browser lays out and paints on each side (rows outside the chunks
// it skips: screens/msglist.ts). One flat list laid out every row, so this was the
// chat's length. Printed next to it, not checked: the bytes each crypto worker writes to
// IndexedDB per message, by record (the seen-set's and idempotency buckets and the
// search index's newest segment still grow with the history; see docs/BENCHMARKS.md).
//
//   node www/tests/growth.mjs          (also run as part of www/tests/e2e.mjs)

import { launchBrowser, newContext, standalone, startRelay } from './harness.mjs';
import { register, startChat } from './devices.mjs';

const T = { timeout: 120_000 };
const WINDOW = 10;

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Runs in the crypto worker: adds up the bytes of every IndexedDB put, by record family. */
function tapWorker() {
  if (self.__putBytes !== undefined) return;
  self.__putBytes = {};
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (value, key) {
    const family = String(key).split('/').pop().replace(/^(m|c|d|h|gm):.*/, '$1:').replace(/[.:][0-9a-f]+$/, '');
    self.__putBytes[family] = (self.__putBytes[family] ?? 0) + (value?.byteLength ?? 0);
    return put.call(this, value, key);
  };
}

const workerBytes = async (page) => {
  const w = page.workers()[0];
  await w.evaluate(tapWorker);
  return w.evaluate(() => ({ ...self.__putBytes }));
};
/** Bytes per message by record family between two `workerBytes`. */
const perMessage = (before, after, n) => Object.fromEntries(Object.keys(after).map((k) => [k, Math.round((after[k] - (before[k] ?? 0)) / n)]).filter(([, v]) => v > 0));

/** The message rows the browser does not skip (a row in a skipped chunk is not laid out). */
const rendered = (page) =>
  page.evaluate(() => [...document.querySelectorAll('[data-testid=msg]')].filter((el) => el.checkVisibility({ contentVisibilityAuto: true })).length);

const shownOn = (page, key) => page.locator('[data-testid=msg]', { hasText: `#${key} ` }).waitFor(T);

/** Sends `texts` back to back (as a paste-and-Enter burst would) from the open chat. */
const burst = (page, texts) =>
  page.evaluate((texts) => {
    const ta = document.querySelector('[data-testid=compose]');
    for (const t of texts) {
      ta.value = t;
      ta.form.requestSubmit();
    }
  }, texts);

export async function runGrowth(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin, ['--rate-ip-per-sec', '0', '--rate-mailbox-per-sec', '0']);
  const browser = await launchBrowser();
  try {
    const pages = [];
    for (const name of ['growth-A', 'growth-B']) {
      const ctx = await newContext(browser, relay.url, problems, name);
      ctx.on('page', (page) => page.on('worker', (w) => void w.evaluate(tapWorker).catch(() => undefined)));
      await ctx.addInitScript(() => {
        delete window.RTCPeerConnection; // through the relay
      });
      pages.push(await ctx.newPage());
    }
    const [a, b] = pages;
    const ok = await r.step('growth: alice and bob talk', async () => {
      await Promise.all([register(a, 'alice'), register(b, 'bob')]);
      await startChat(a, 'bob');
      await a.fill('[data-testid=compose]', '#w:0 warm-up');
      await a.press('[data-testid=compose]', 'Enter');
      await b.locator('[data-testid=conv-alice]').waitFor(T);
      await b.click('[data-testid=conv-alice]');
      await shownOn(b, 'w:0');
    });
    if (!ok) return;

    /** Per message of a window sent one at a time: worker bytes and rendered rows on each side. */
    const measure = async (tag) => {
      const before = [await workerBytes(a), await workerBytes(b)];
      for (let i = 0; i < WINDOW; i++) {
        await a.fill('[data-testid=compose]', `#${tag}:${i} one of a window, counted`);
        await a.press('[data-testid=compose]', 'Enter');
        await shownOn(b, `${tag}:${i}`);
        await a.locator('[data-testid=msg][data-state=delivered]', { hasText: `#${tag}:${i} ` }).waitFor(T);
      }
      const after = [await workerBytes(a), await workerBytes(b)];
      return { rowsA: await rendered(a), rowsB: await rendered(b), bytesA: perMessage(before[0], after[0], WINDOW), bytesB: perMessage(before[1], after[1], WINDOW) };
    };

    await r.step('growth: at 450 messages in the chat, a new message has no more rows laid out than at 50', async () => {
      const fill = async (tag, n) => {
        await burst(a, Array.from({ length: n }, (_, i) => `#${tag}:${i} filler`));
        await shownOn(b, `${tag}:${n - 1}`);
        await a.locator('[data-testid=msg][data-state=delivered]', { hasText: `#${tag}:${n - 1} ` }).waitFor(T);
      };
      await fill('f1', 40);
      const short = await measure('s');
      await fill('f2', 390);
      const long = await measure('l');
      console.log(`      at ~50: ${JSON.stringify(short)}\n      at ~450: ${JSON.stringify(long)}`);
      for (const rows of ['rowsA', 'rowsB']) {
        expect(long[rows] <= 120, `${rows}: ${long[rows]} message rows laid out at 450 messages (at 50: ${short[rows]}): the list is laid out whole`);
      }
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'growth', runGrowth);
