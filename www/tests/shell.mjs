#!/usr/bin/env node
// The service worker's app shell (public/sw.js), through a proxy that counts what goes over
// the wire and can deploy a new build at once (wirecount.mjs):
// - a first visit downloads at most 450 KB (issue 14's goal, brotli) and no file twice
//   (the wasm once, whoever asks for it: the crypto worker, the service worker's install);
//   the install caches what the app starts with;
// - offline, the app starts from that cache (login form, crypto worker, wasm);
// - the rest of the build (chunks loaded on first use) is cached when first asked for,
//   and all of it at the next start, each downloaded once;
// - a new build deployed: the next start shows it, its worker replaces the old cache with
//   the new build's files only (the unchanged ones from the HTTP cache, not downloaded
//   again) and the app then starts offline as the new build, never a mix;
// - a deploy during the install: the old build's worker caches the old build whole (the
//   page's own copies) and nothing of the new one; the next start installs the new one.
// The "new build" is www/dist with a changed stylesheet (new name, new SRI), a marker in
// index.html and sw.js's lists, version and pins updated, as postbuild.mjs would write.
//
//   node www/tests/shell.mjs          (also run as part of www/tests/e2e.mjs)

import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, newContext, standalone, startRelay, www } from './harness.mjs';
import { startWireCount, sumVisit } from './wirecount.mjs';

const GOAL = 450_000;
const T = { timeout: 60_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha = (alg, buf, enc) => createHash(alg).update(buf).digest(enc);

/** sw.js's file lists (START, LATER) as postbuild.mjs wrote them into `dir`. */
function swLists(dir) {
  const sw = readFileSync(join(dir, 'sw.js'), 'utf8');
  const list = (name) => JSON.parse(`[${new RegExp(`const ${name} = \\[(.*?)\\];`).exec(sw)[1]}]`);
  return { start: list('START'), later: list('LATER'), version: /const VERSION = '([0-9a-f]+)'/.exec(sw)[1] };
}

/** A copy of `dist` as the next build would be: a new stylesheet, a marked index.html, sw.js to match. */
function nextBuild(dist) {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-next-build-'));
  cpSync(dist, dir, { recursive: true });
  const at = (f) => join(dir, f);
  const drop = (f) => ['', '.br', '.gz'].forEach((ext) => rmSync(at(f + ext), { force: true }));
  const oldHtml = readFileSync(at('index.html'));
  const cssPath = /href="(\/assets\/[^"]+\.css)"/.exec(oldHtml.toString())[1];
  const css = `${readFileSync(at(cssPath), 'utf8')}\n:root{--sealpost-build:"next"}\n`;
  const newCss = cssPath.replace(/\.css$/, '-next.css');
  drop(cssPath);
  writeFileSync(at(newCss), css);
  const html = oldHtml
    .toString()
    .replace(cssPath, newCss)
    .replace(new RegExp(`(${newCss}"[^>]*integrity=")[^"]+`), `$1sha384-${sha('sha384', css, 'base64')}`)
    .replace('<title>', '<meta name="sealpost-build" content="next"><title>');
  drop('index.html');
  writeFileSync(at('index.html'), html);
  const { version } = swLists(dist);
  const sw = readFileSync(at('sw.js'), 'utf8')
    .replace(`'${version}'`, `'${version.slice(0, 12)}0000'`)
    .replace(JSON.stringify(cssPath), JSON.stringify(newCss))
    .replace(sha('sha256', oldHtml, 'hex'), sha('sha256', html, 'hex'));
  drop('sw.js');
  writeFileSync(at('sw.js'), sw);
  return dir;
}

/** The login form's submit button on screen and enabled. */
async function loginUsable(page) {
  await page.waitForFunction(() => {
    const b = document.querySelector('[data-testid=auth-submit]');
    return b && b.offsetParent !== null && !b.disabled;
  }, undefined, T);
}

/** The origin's caches: name to the paths cached in it. */
function cached(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const name of await caches.keys()) out[name] = (await (await caches.open(name)).keys()).map((q) => new URL(q.url).pathname);
    return out;
  });
}

/** Polls `cached` until `ok(caches)`; the last state in the error otherwise. */
async function cachedUntil(page, ok, what) {
  let last;
  for (let i = 0; i < 300; i++) {
    last = await cached(page);
    if (ok(last)) return last;
    await sleep(100);
  }
  throw new Error(`${what}: caches ${JSON.stringify(last)}`);
}

/** The page's build as shown: index.html's marker and the stylesheet's. */
const shownBuild = (page) =>
  page.evaluate(() => [document.querySelector('meta[name=sealpost-build]')?.content ?? 'first', getComputedStyle(document.documentElement).getPropertyValue('--sealpost-build').replaceAll('"', '').trim() || 'first']);

export async function runShell(r, { relayBin, problems }) {
  const dist = join(www, 'dist');
  const first = swLists(dist);
  const nextDir = nextBuild(dist);
  const next = swLists(nextDir);
  const [relay1, relay2] = await Promise.all([startRelay(relayBin), startRelay(relayBin, [], { staticDir: nextDir })]);
  const proxy = await startWireCount(relay1.url);
  const browser = await launchBrowser();
  const full = (path) => proxy.log.filter((x) => x.path === path && x.status === 200).length;
  try {
    const ctx = await newContext(browser, proxy.url, problems, 'shell');
    const pagePaths = new Set();
    ctx.on('request', (req) => {
      if (req.url().startsWith(proxy.url) && !req.serviceWorker()) pagePaths.add(new URL(req.url()).pathname);
    });
    const page = await ctx.newPage();
    const wasm = first.start.find((f) => f.endsWith('.wasm'));

    const visited = await r.step('shell: a first visit downloads at most 450 KB and no file twice; the install caches what the app starts with', async () => {
      proxy.reset();
      await page.goto('/');
      await loginUsable(page);
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
      await page.waitForLoadState('networkidle');
      const sum = sumVisit(proxy.log, pagePaths);
      const got = proxy.log.map((x) => `${x.path} ${x.status} ${x.bytes}`).join(', ');
      expect(sum.total <= GOAL, `a first visit downloaded ${sum.total} bytes (goal ${GOAL}): ${got}`);
      expect(sum.twice.length === 0, `downloaded twice: ${sum.twice.join(', ')}`);
      expect(full(wasm) === 1, `the wasm came ${full(wasm)} times`);
      const later = first.later.filter((f) => full(f));
      expect(later.length === 0, `downloaded on a first visit though the page never asked: ${later.join(', ')}`);
      const shell = await cachedUntil(page, (c) => (c[`sealpost-shell-${first.version}`] ?? []).length >= first.start.length, 'the install cached what the app starts with');
      const missing = first.start.filter((f) => !shell[`sealpost-shell-${first.version}`].includes(f));
      expect(missing.length === 0, `not cached: ${missing.join(', ')}`);
      console.log(`      first visit: ${sum.total} bytes (page ${sum.page}, service worker ${sum.sw}, again ${sum.again})`);
    });
    if (!visited) return;

    await r.step('shell: offline, the app starts from the cache (login form, crypto worker, wasm)', async () => {
      await ctx.setOffline(true);
      try {
        const wasmAnswer = page.waitForResponse((res) => new URL(res.url()).pathname === wasm, T);
        await page.reload();
        await loginUsable(page);
        const res = await wasmAnswer;
        expect(res.ok() && res.fromServiceWorker(), `the wasm offline: ${res.status()}, from the service worker: ${res.fromServiceWorker()}`);
      } finally {
        await ctx.setOffline(false);
      }
    });

    await r.step('shell: the rest of the build is cached when first asked for, and all of it at the next start, each downloaded once', async () => {
      const cacheName = `sealpost-shell-${first.version}`;
      const chunk = first.later.find((f) => f.startsWith('/assets/'));
      expect(chunk, `no chunk loaded on first use in ${first.later.join(', ')}`);
      proxy.reset();
      await page.evaluate((u) => fetch(u).then((res) => res.text()), chunk);
      await cachedUntil(page, (c) => (c[cacheName] ?? []).includes(chunk), `${chunk} cached once asked for`);
      await page.reload();
      await loginUsable(page);
      await cachedUntil(page, (c) => first.later.every((f) => (c[cacheName] ?? []).includes(f)), 'every file cached after the next start');
      const twice = first.later.filter((f) => full(f) > 1);
      expect(twice.length === 0, `downloaded twice: ${twice.join(', ')}`);
    });

    await r.step('shell: a new build deployed shows at the next start; its worker caches only the new files and the app starts offline as the new build', async () => {
      proxy.switchTo(relay2.url);
      proxy.reset();
      await page.reload();
      await loginUsable(page);
      expect((await shownBuild(page)).join() === 'next,next', `after the deploy the page shows ${await shownBuild(page)}`);
      const nextCache = `sealpost-shell-${next.version}`;
      const caches = await cachedUntil(page, (c) => Object.keys(c).join() === nextCache && next.start.every((f) => c[nextCache].includes(f)), 'only the new build cached');
      const stale = caches[nextCache].filter((f) => !next.start.includes(f) && !next.later.includes(f));
      expect(stale.length === 0, `not the new build's, in its cache: ${stale.join(', ')}`);
      // Unchanged files come from the HTTP cache: the update downloads what changed.
      const again = proxy.log.filter((x) => x.status === 200 && x.path.startsWith('/assets/') && !x.path.endsWith('-next.css'));
      expect(again.length === 0, `unchanged files downloaded again: ${again.map((x) => x.path).join(', ')}`);
      await ctx.setOffline(true);
      try {
        await page.reload();
        await loginUsable(page);
        expect((await shownBuild(page)).join() === 'next,next', `offline after the update the page shows ${await shownBuild(page)}`);
      } finally {
        await ctx.setOffline(false);
      }
    });

    await r.step('shell: a deploy during the install: the old build\'s worker caches the old build whole (the page\'s copies) and nothing of the new; the next start installs the new build', async () => {
      const ctx2 = await newContext(browser, proxy.url, problems, 'shell-deploy');
      try {
        let deployed = false;
        let pageLoaded;
        const loaded = new Promise((r) => (pageLoaded = r));
        proxy.switchTo(relay1.url);
        // The page and its sw.js from the first build; everything after from the next. The
        // page may register sw.js before its stylesheet or wasm came: sw.js waits for them.
        proxy.route = async (path) => {
          if (deployed) return relay2.url;
          if (path === '/sw.js') {
            await loaded;
            deployed = true;
          }
          return relay1.url;
        };
        const p = await ctx2.newPage();
        const wasmDone = p.waitForResponse((res) => new URL(res.url()).pathname === wasm, T).then((res) => res.finished());
        await p.goto('/');
        await loginUsable(p);
        await wasmDone;
        pageLoaded();
        expect((await shownBuild(p)).join() === 'first,first', `the first build's page shows ${await shownBuild(p)}`);
        await p.evaluate(() => navigator.serviceWorker.ready.then(() => true));
        expect(deployed, 'sw.js was never asked for');
        const firstCache = `sealpost-shell-${first.version}`;
        const c = await cachedUntil(p, (cs) => (cs[firstCache] ?? []).length >= first.start.length, 'the first build installed');
        expect(first.start.every((f) => c[firstCache].includes(f)), `the first build's cache: ${c[firstCache].join(', ')}`);
        const index = await p.evaluate(async (name) => (await (await caches.open(name)).match('/')).text(), firstCache);
        expect(!index.includes('sealpost-build'), "the first build's worker cached the next build's index.html");
        proxy.reset();
        await p.reload();
        await loginUsable(p);
        const nextCache = `sealpost-shell-${next.version}`;
        await cachedUntil(p, (cs) => Object.keys(cs).join() === nextCache && next.start.every((f) => cs[nextCache].includes(f)), 'the next build installed');
        expect((await shownBuild(p)).join() === 'next,next', `the page shows ${await shownBuild(p)}`);
      } finally {
        await ctx2.close();
      }
    });
    await ctx.close();
  } finally {
    await browser.close().catch(() => undefined);
    await proxy.close();
    await Promise.all([relay1.stop(), relay2.stop()]);
    rmSync(nextDir, { recursive: true, force: true });
  }
}

await standalone(import.meta.url, 'shell', runShell);
