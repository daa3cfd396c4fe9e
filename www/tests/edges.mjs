#!/usr/bin/env node
// The PWA's rough edges (issue 14), each on a desktop and a 390x844 phone viewport with
// screenshots in test-artifacts/edges-*.png: a 10,000-character word wraps everywhere;
// text over the length limit is never cut and says so; the connection line turns to
// offline at once; the persistent-storage notice is one line, dismissed for good, and
// persistence is asked after the account is created or a message is sent; an unknown
// username has plain words; a reload of the tab does not ask for the password, a new tab
// does, Lock and log out delete the kept key; a passkey (WebAuthn PRF) unlocks; axe-core finds nothing on those screens.
//
//   node www/tests/edges.mjs          (also part of www/tests/e2e.mjs)

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startChat } from './devices.mjs';
import { artifacts, axeViolations, ensureBuilt, launchBrowser, lock, newContext, runner, startRelay, unlockIfAsked } from './harness.mjs';

const KEY_SIZE = process.env.E2E_KEY_SIZE ?? '2048';
const PASSWORD = 'correct horse battery staple';
const T = { timeout: 180_000 };
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Registers `username` in `page` with test-sized keys (also used by phone.mjs). */
export async function register(page, username) {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.locator('details.advanced summary').click();
  await page.selectOption('[data-testid=key-size]', KEY_SIZE);
  await page.click('[data-testid=auth-submit]');
  await page.locator('[data-testid=me]').waitFor(T);
}

/** Opens the app in `page` after a reload or in a new tab, with or without the password as expected. */
async function reopen(page, { expectPassword }) {
  const asked = await unlockIfAsked(page, PASSWORD);
  expect(asked === expectPassword, expectPassword ? 'the password is asked' : 'no password is asked');
}

const home = (page) => page.evaluate(() => (location.hash = '#/'));

async function openChat(page, username) {
  await home(page);
  await page.click(`[data-testid=conv-${username}]`);
  await page.locator('[data-testid=compose]').waitFor();
}

/**
 * Nothing wider than the screen: no horizontal scrolling, the side bar and every visible
 * error, banner, notice and message inside the viewport and not overflowing its box.
 */
async function fitsScreen(page, where) {
  const bad = await page.evaluate(() => {
    const out = [];
    const w = innerWidth;
    if (document.documentElement.scrollWidth > w) out.push(`page is ${document.documentElement.scrollWidth}px wide on a ${w}px screen`);
    const sel = '.side, .pane, .error, .banner, .storage-banner, .notice, .toast.show, .msg, .counter, [role=alert], .conv';
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
      const name = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
      if (r.left < -1 || r.right > w + 1) out.push(`${name} spans ${Math.round(r.left)}..${Math.round(r.right)}px`);
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') out.push(`${name} clips its content (${el.scrollWidth} > ${el.clientWidth})`);
    }
    return out;
  });
  expect(bad.length === 0, `${where}: ${bad.join('; ')}`);
}

/** "Start chat" is on screen and takes a click (a trial click: Playwright checks it would land). */
async function startChatClickable(page, where) {
  const btn = page.locator('[data-testid=new-contact-submit]');
  const box = await btn.boundingBox();
  const width = await page.evaluate(() => innerWidth);
  expect(box && box.x >= 0 && box.x + box.width <= width, `${where}: "Start chat" is off screen (${JSON.stringify(box)})`);
  await btn.click({ trial: true, timeout: 5_000 });
}

/** Runs the steps on `r` (a harness runner) with a relay and browser of their own. */
export async function runEdges(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  const shot = (page, name) => page.screenshot({ path: join(artifacts, `edges-${name}.png`) });
  const axe = [];
  const dev = {};
  try {
    for (const [kind, viewport] of Object.entries(VIEWPORTS)) {
      const ctx = await newContext(browser, relay.url, problems, `edges-${kind}`, { viewport });
      // This browser does not grant persistent storage (so the notice shows); counts the asks.
      await ctx.addInitScript(() => {
        window.__persistAsks = 0;
        if (navigator.storage) {
          navigator.storage.persisted = async () => false;
          navigator.storage.persist = async () => (window.__persistAsks++, false);
        }
      });
      dev[kind] = { ctx, page: await ctx.newPage(), user: kind === 'desktop' ? 'edna' : 'fred' };
    }
    const { desktop, phone } = dev;
    desktop.peer = phone.user;
    phone.peer = desktop.user;
    const both = (fn) => Promise.all([desktop, phone].map((d) => fn(d, d === desktop ? 'desktop' : 'phone')));
    await both((d) => register(d.page, d.user));

    await r.step('edges: persistent storage is asked once the account is created; the notice is one line, explained in Account', async () => {
      await both(async (d, kind) => {
        const { page } = d;
        expect((await page.evaluate(() => window.__persistAsks)) === 1, `${kind}: persistence asked after the account was created`);
        const banner = page.locator('[data-testid=storage-banner]');
        await banner.waitFor();
        const { height, lineHeight } = await banner.evaluate((el) => ({ height: el.getBoundingClientRect().height, lineHeight: parseFloat(getComputedStyle(el).fontSize) * 1.45 }));
        // One line of text (its links are at most 32 px high).
        expect(height <= Math.max(lineHeight, 32) + 10, `${kind}: the notice is ${height}px high`);
        await shot(page, `storage-notice-${kind}`);
        axe.push(...await axeViolations(page, `conversation list with the storage notice (${kind})`));
        await page.click('[data-testid=storage-details]');
        await page.locator('[data-testid=storage-note]', { hasText: 'persistent storage' }).waitFor();
      });
    });

    await r.step('edges: an unknown username is said in plain words', async () => {
      await both(async (d, kind) => {
        await home(d.page);
        await d.page.fill('[data-testid=new-contact]', 'nosuchuser');
        await d.page.click('[data-testid=new-contact-submit]');
        const err = d.page.locator('[data-testid=new-contact-error]');
        await err.filter({ hasText: 'No one is registered as “nosuchuser”' }).waitFor({ timeout: 30_000 });
        expect(!/unknown_user|bundle/.test(await err.textContent()), `${kind}: raw relay words shown`);
        await shot(d.page, `unknown-user-${kind}`);
      });
    });

    await r.step('edges: a 10,000-character word wraps everywhere; the side bar keeps its width and "Start chat" stays clickable', async () => {
      const word = 'W'.repeat(10_000);
      await both(async (d) => (await home(d.page), await startChat(d.page, d.peer)));
      await desktop.page.fill('[data-testid=compose]', word);
      await desktop.page.press('[data-testid=compose]', 'Enter');
      await phone.page.locator('[data-testid=msg]', { hasText: 'WWWW' }).waitFor({ timeout: 30_000 });
      const got = await phone.page.locator('[data-testid=msg] .text').last().textContent();
      expect(got.length === 10_000, `received ${got.length} characters`);
      await both(async (d, kind) => {
        await d.page.locator('[data-testid=msg]', { hasText: 'WWWW' }).waitFor();
        await fitsScreen(d.page, `${kind} chat`);
        await shot(d.page, `long-word-chat-${kind}`);
        await home(d.page);
        await d.page.locator(`[data-testid=conv-${d.peer}]`, { hasText: 'WWWW' }).waitFor();
        // An error about a long name (the name itself is 10,000 characters).
        await d.page.fill('[data-testid=new-contact]', 'x'.repeat(10_000));
        await d.page.click('[data-testid=new-contact-submit]');
        await d.page.locator('[data-testid=new-contact-error]', { hasText: 'Usernames are' }).waitFor({ timeout: 30_000 });
        await fitsScreen(d.page, `${kind} list`);
        await startChatClickable(d.page, `${kind} list`);
        await shot(d.page, `long-word-list-${kind}`);
        await d.page.fill('[data-testid=new-contact]', '');
      });
    });

    await r.step('edges: pasting 12,000 characters keeps them all, shows the count and sends nothing until it fits', async () => {
      // One after the other: the two contexts share the system clipboard.
      for (const [d, kind] of [[desktop, 'desktop'], [phone, 'phone']]) {
        const { page, ctx } = d;
        await openChat(page, d.peer);
        const before = await page.locator('[data-testid=msg]').count();
        await ctx.grantPermissions(['clipboard-read', 'clipboard-write']);
        await page.evaluate((t) => navigator.clipboard.writeText(t), 'p'.repeat(12_000));
        await page.fill('[data-testid=compose]', '');
        await page.focus('[data-testid=compose]');
        await page.keyboard.press('ControlOrMeta+V');
        const len = (await page.inputValue('[data-testid=compose]')).length;
        expect(len === 12_000, `${kind}: the box holds ${len} of the 12,000 pasted characters`);
        const count = page.locator('[data-testid=compose-count][data-over=true]');
        await count.filter({ hasText: '2,000 too many' }).waitFor();
        await page.press('[data-testid=compose]', 'Enter');
        await page.locator('#toast', { hasText: 'Not sent' }).waitFor();
        expect((await page.inputValue('[data-testid=compose]')).length === 12_000, `${kind}: the text stays`);
        expect((await page.locator('[data-testid=msg]').count()) === before, `${kind}: nothing was sent`);
        await fitsScreen(page, `${kind} over the limit`);
        await shot(page, `over-limit-${kind}`);
        axe.push(...await axeViolations(page, `chat over the limit (${kind})`));
        // Shortened to the limit: the counter is no longer an error, and it goes.
        await page.fill('[data-testid=compose]', 'q'.repeat(10_000));
        await page.locator('[data-testid=compose-count][data-over=false]', { hasText: '10,000 / 10,000' }).waitFor();
        await page.fill('[data-testid=compose]', '');
        await page.locator('[data-testid=compose-count]').waitFor({ state: 'hidden' });
      }
    });

    await r.step('edges: persistence is asked after a message is sent (not at unlock); the dismissed notice stays dismissed in new tabs', async () => {
      await both(async (d, kind) => {
        const { page } = d;
        await home(page);
        await page.click('[data-testid=storage-dismiss]');
        await page.locator('[data-testid=storage-banner]').waitFor({ state: 'hidden' });
        const tab = await d.ctx.newPage();
        await tab.goto('/');
        // The account is open in the first tab: take it over here.
        await tab.locator('[data-testid=use-here]').click(T);
        await reopen(tab, { expectPassword: true });
        expect((await tab.evaluate(() => window.__persistAsks)) === 0, `${kind}: not asked at unlock`);
        expect(await tab.locator('[data-testid=storage-banner]').isHidden(), `${kind}: the dismissed notice stays away`);
        await openChat(tab, d.peer);
        await tab.fill('[data-testid=compose]', `persist ${kind}`);
        await tab.press('[data-testid=compose]', 'Enter');
        await tab.locator('[data-testid=msg]', { hasText: `persist ${kind}` }).waitFor();
        await tab.waitForFunction(() => window.__persistAsks === 1);
        await page.close();
        d.page = tab;
      });
    });

    await r.step('edges: a passkey (WebAuthn PRF, a virtual authenticator) unlocks instead of the password; removed, the password is asked', async () => {
      // WebAuthn takes a domain, not an IP address: the same relay as http://localhost.
      const base = relay.url.replace('127.0.0.1', 'localhost');
      await Promise.all(Object.entries(VIEWPORTS).map(async ([kind, viewport], i) => {
        const ctx = await newContext(browser, base, problems, `edges-passkey-${kind}`, { viewport });
        const page = await ctx.newPage();
        const cdp = await ctx.newCDPSession(page);
        await cdp.send('WebAuthn.enable');
        await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, hasPrf: true, automaticPresenceSimulation: true } });
        await register(page, `pk${i}${kind}`);
        await page.evaluate(() => (location.hash = '#/account'));
        await page.click('[data-testid=passkey-setup]');
        await page.locator('[data-testid=passkey-remove]').waitFor({ timeout: 30_000 });
        await lock(page);
        await page.locator('[data-testid=passkey-unlock]').waitFor();
        await shot(page, `passkey-unlock-${kind}`);
        axe.push(...await axeViolations(page, `unlock with a passkey (${kind})`));
        await page.click('[data-testid=passkey-unlock]');
        await page.locator('[data-testid=me]').waitFor(T);
        expect(await page.locator('#password').count() === 0, `${kind}: no password typed`);
        // Removed: the unlock screen offers only the password.
        await page.evaluate(() => (location.hash = '#/account'));
        await page.click('[data-testid=passkey-remove]');
        await page.locator('[data-testid=passkey-setup]').waitFor();
        await lock(page);
        expect(await page.locator('[data-testid=passkey-unlock]').isHidden(), `${kind}: no passkey button once removed`);
        await ctx.close();
      }));
    });

    await r.step('edges: the connection line says offline at once when the browser goes offline, and when the socket drops', async () => {
      await both(async (d, kind) => {
        const { page, ctx } = d;
        await home(page);
        await page.locator('[data-testid=link-state][data-state=online]').waitFor({ timeout: 30_000 });
        // Read in the page's own `offline` handler, after the app's ran: no waiting.
        const seen = page.evaluate(() => new Promise((res) => addEventListener('offline', () => res(document.querySelector('[data-testid=link-state]')?.getAttribute('data-state')), { once: true })));
        await ctx.setOffline(true);
        expect((await seen) === 'offline', `${kind}: the line said ${await seen} when the browser went offline`);
        await page.locator('[data-testid=link-state]', { hasText: 'Offline: messages will wait' }).waitFor();
        await shot(page, `offline-${kind}`);
        await ctx.setOffline(false);
        await page.locator('[data-testid=link-state][data-state=online]').waitFor({ timeout: 30_000 });
      });
      // The relay goes away: each socket closes, and the line follows.
      await relay.stop();
      await both(async (d, kind) => {
        await d.page.locator('[data-testid=link-state][data-state=offline]').waitFor({ timeout: 30_000 });
        expect((await d.page.textContent('[data-testid=link-state]')).includes('Offline'), `${kind}: says offline`);
      });
    });

    await r.step('edges: a reload of the tab opens without the password (the relay is even gone); a new tab asks; Lock and log out delete the key', async () => {
      /** This tab's session slot and the kept keys (IndexedDB), as the page sees them. */
      const kept = (page) => page.evaluate(async () => {
        const db = await new Promise((res, rej) => {
          const q = indexedDB.open('sealpost-www-session');
          q.onsuccess = () => res(q.result);
          q.onerror = () => rej(q.error);
        });
        const all = !db.objectStoreNames.contains('keys') ? [] : await new Promise((res) => {
          const q = db.transaction('keys').objectStore('keys').getAll();
          q.onsuccess = () => res(q.result);
        });
        db.close();
        const keys = all.map((k) => ({ cls: Object.prototype.toString.call(k.key), extractable: k.key.extractable, alg: k.key.algorithm.name }));
        return { slot: sessionStorage.getItem('sealpost.session'), keys };
      });
      await both(async (d, kind) => {
        const { page, ctx } = d;
        const before = await kept(page);
        // This tab's, and the first tab's (closed without locking: kept until it expires).
        expect(before.slot && before.keys.length >= 1, `${kind}: a kept key: ${JSON.stringify(before)}`);
        expect(before.keys.every((k) => k.cls === '[object CryptoKey]' && k.extractable === false && k.alg === 'AES-GCM'), `${kind}: the kept key is a non-extractable CryptoKey: ${JSON.stringify(before.keys)}`);
        await page.reload();
        await reopen(page, { expectPassword: false });
        await openChat(page, d.peer);
        await page.locator('[data-testid=msg]', { hasText: `persist ${kind}` }).waitFor();
        await shot(page, `reloaded-no-password-${kind}`);
        // Another tab: the password (after "Use here", as the account is open here).
        const tab = await ctx.newPage();
        await tab.goto('/');
        await tab.locator('[data-testid=use-here]').click(T);
        await reopen(tab, { expectPassword: true });
        await page.close();
        d.page = tab;
        // Lock: the key is gone, and a reload asks for the password.
        await lock(tab);
        const locked = await kept(tab);
        expect(!locked.slot && locked.keys.length === 0, `${kind}: after Lock: ${JSON.stringify(locked)}`);
        axe.push(...await axeViolations(tab, `unlock after Lock (${kind})`));
        await tab.reload();
        await reopen(tab, { expectPassword: true });
        expect((await kept(tab)).keys.length === 1, `${kind}: kept again after the unlock`);
      });
      // Log out: the key goes with the account.
      const { page } = desktop;
      await page.evaluate(() => (location.hash = '#/account'));
      page.once('dialog', (dlg) => dlg.accept());
      await page.click('[data-testid=logout]');
      await page.locator('[data-testid=auth-submit]').waitFor(T);
      const out = await kept(page);
      expect(!out.slot && out.keys.length === 0, `after log out: ${JSON.stringify(out)}`);
    });

    await r.step('edges: axe-core finds no WCAG 2.1 A/AA violations on these screens', async () => {
      expect(axe.length === 0, axe.join('\n'));
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop().catch(() => undefined);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const problems = [];
  const r = runner();
  await runEdges(r, { relayBin: ensureBuilt({ rebuildWww: process.argv.includes('--build') }), problems });
  await r.step('no CSP violations, no SRI failures, no third-party requests', async () => {
    expect(problems.length === 0, problems.join('\n'));
  });
  process.exit(r.summary() ? 1 : 0);
}
