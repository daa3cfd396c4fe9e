#!/usr/bin/env node
// The PWA's direct channel with each host of its data channel: the crypto worker (the
// page hands the channel over, so frames skip both pages' main threads) and the page
// (a browser that refuses to transfer a data channel: postMessage throws). For each: both
// chats open, the chat says "direct", messages arrive once over the channel (counted
// where they were sent: in the worker, or on the page), then bob's page kills its
// connections (no close signal, as a crash would) and the rest arrive once through the
// relay. The package's own suite (wasm/tests/direct.mjs) has the
// 500-message run and the forged channel.
//
//   node www/tests/direct.mjs          (also run as part of www/tests/e2e.mjs)

import { launchBrowser, newContext, standalone, startRelay } from './harness.mjs';
import { register, startChat } from './devices.mjs';

const T = { timeout: 60_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const msgs = (page, text) => page.locator('[data-testid=msg]', { hasText: text });

async function send(page, text) {
  await page.fill('[data-testid=compose]', text);
  await page.press('[data-testid=compose]', 'Enter');
}

/**
 * On the page: every RTCPeerConnection kept (`__pcs`), data channel sends counted
 * (`__pageSends`), and with `refuse` a postMessage that cannot transfer a data channel.
 */
function tapPage(refuse) {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
  window.__pageSends = 0;
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    window.__pageSends++;
    return send.call(this, data);
  };
  window.__transfers = 0;
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (msg, transfer) {
    if ([].concat(transfer ?? []).some((t) => t instanceof RTCDataChannel)) {
      if (refuse) throw new DOMException('not transferable', 'DataCloneError');
      window.__transfers++;
    }
    return post.call(this, msg, transfer);
  };
}

/** In the crypto worker: data channel sends counted (`__workerSends`). */
function tapWorker() {
  if (self.__workerSends !== undefined || typeof RTCDataChannel === 'undefined') return;
  self.__workerSends = 0;
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    self.__workerSends++;
    return send.call(this, data);
  };
}

const workerSends = async (page) => {
  const w = page.workers()[0];
  return w ? w.evaluate(() => self.__workerSends ?? 0) : 0;
};

export async function runDirect(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  try {
    for (const host of ['worker', 'page']) {
      const pages = [];
      for (const name of [`direct-${host}-A`, `direct-${host}-B`]) {
        const ctx = await newContext(browser, relay.url, problems, name);
        ctx.on('page', (page) => page.on('worker', (w) => void w.evaluate(tapWorker).catch(() => undefined)));
        await ctx.addInitScript(tapPage, host === 'page');
        pages.push(await ctx.newPage());
      }
      const [a, b] = pages;
      const [alice, bob] = [`dalice${host}`, `dbob${host}`];
      const ok = await r.step(`direct (${host}): both chats open, the chat says "direct", messages arrive once over the channel`, async () => {
        await Promise.all([register(a, alice), register(b, bob)]);
        await startChat(a, bob);
        await send(a, 'hello');
        await b.locator(`[data-testid=conv-${alice}]`).waitFor(T);
        await b.click(`[data-testid=conv-${alice}]`);
        await msgs(b, 'hello').waitFor(T);
        for (const page of [a, b]) await page.locator('[data-testid=direct]').waitFor({ timeout: 90_000 });
        const before = { page: await a.evaluate(() => window.__pageSends), worker: await workerSends(a) };
        for (let i = 0; i < 10; i++) await send(a, `over the channel ${i}`);
        await msgs(b, 'over the channel 9').waitFor(T);
        await a.locator('[data-testid=msg][data-state=delivered]', { hasText: 'over the channel 9' }).waitFor(T);
        for (let i = 0; i < 10; i++) expect((await msgs(b, `over the channel ${i}`).count()) === 1, `message ${i} not shown once`);
        const after = { page: await a.evaluate(() => window.__pageSends), worker: await workerSends(a) };
        const transfers = await Promise.all(pages.map((p) => p.evaluate(() => window.__transfers)));
        if (host === 'worker') {
          expect(transfers.every((n) => n > 0), `channels handed to the workers: ${transfers}`);
          expect(after.page === before.page && after.worker - before.worker >= 10, `sends: ${JSON.stringify({ before, after })}`);
        } else {
          expect(transfers.every((n) => n === 0), `channels handed to the workers: ${transfers}`);
          expect(after.page - before.page >= 10 && after.worker === before.worker, `sends: ${JSON.stringify({ before, after })}`);
        }
      });
      if (ok) {
        await r.step(`direct (${host}): the channel killed on one side, the rest arrive once through the relay`, async () => {
          await b.evaluate(() => { for (const pc of window.__pcs) pc.close(); });
          for (let i = 0; i < 10; i++) await send(a, `after the kill ${i}`);
          await msgs(b, 'after the kill 9').waitFor({ timeout: 120_000 });
          await a.locator('[data-testid=msg][data-state=delivered]', { hasText: 'after the kill 9' }).waitFor({ timeout: 120_000 });
          for (let i = 0; i < 10; i++) expect((await msgs(b, `after the kill ${i}`).count()) === 1, `message ${i} after the kill not shown once`);
        });
      }
      for (const p of pages) await p.context().close();
    }
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'direct', runDirect);
