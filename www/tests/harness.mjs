// Shared test plumbing: build checks, a throwaway relay, Debian's Chromium.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../wasm/scripts/chromium.mjs';

export const www = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const root = resolve(www, '..');
export const artifacts = join(root, 'test-artifacts');


/** Builds the relay (debug) and the PWA when missing. */
export function ensureBuilt({ rebuildWww = false, release = false } = {}) {
  // CARGO_TARGET_DIR as cargo itself reads it (relative to the workspace root).
  let relayBin = join(resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), release ? 'release' : 'debug', 'sealpost-relay');
  if (process.env.SEALPOST_RELAY_BIN) {
    relayBin = resolve(process.env.SEALPOST_RELAY_BIN); // a relay built elsewhere
  } else {
    const flags = ['build', '-q', ...(release ? ['--release'] : []), '-p', 'sealpost-relay'];
    console.error(`$ cargo ${flags.join(' ')}`);
    execFileSync('cargo', flags, { cwd: root, stdio: 'inherit' });
  }
  if (rebuildWww || !existsSync(join(www, 'dist', 'index.html'))) {
    console.error('$ npm run build (www)');
    execFileSync('npm', ['run', 'build'], { cwd: www, stdio: 'inherit' });
  }
  return relayBin;
}

/**
 * Starts a relay on a free loopback port with a fresh data directory, or on `port` with
 * `dataDir` (the same relay started again, e.g. with other flags: pages keep their origin).
 * It serves www/dist, or the build in SEALPOST_STATIC_DIR (two builds compared side by
 * side, e.g. with bench.mjs, while www/dist stays as it is).
 */
export async function startRelay(relayBin, extraArgs = [], { dataDir = mkdtempSync(join(tmpdir(), 'sealpost-e2e-')), port = 0, staticDir = process.env.SEALPOST_STATIC_DIR ?? join(www, 'dist') } = {}) {
  const child = spawn(
    relayBin,
    ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--static-dir', staticDir, ...extraArgs],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let log = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${log}`)), 30_000);
    const onData = (d) => {
      log += d;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`relay exited with ${code}:\n${log}`)));
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dataDir,
    port: Number(new URL(url).port),
    log: () => log,
    /** `keep`: leave the data directory (to start the relay again on it). */
    async stop(keep = false) {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      if (!keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless; `extraArgs` for e.g. a fake camera. */
export async function launchBrowser(extraArgs = []) {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * Chromium whose camera is the Y4M video `y4m` (see fakecam.mjs), with the permission
 * prompt answered "allow".
 */
export function launchBrowserWithCamera(y4m) {
  return launchBrowser(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`]);
}

/**
 * A browser context that records console errors, CSP violations and any request that
 * leaves the relay's origin (there must be none).
 */
export async function newContext(browser, base, problems, name, options = {}) {
  const ctx = await browser.newContext({ baseURL: base, ...options });
  ctx.on('page', (page) => watch(page, base, problems, name));
  ctx.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(base) && !u.startsWith('blob:') && !u.startsWith('data:') && !u.startsWith(base.replace('http', 'ws'))) {
      problems.push(`${name}: third-party request ${u}`);
    }
  });
  return ctx;
}

function watch(page, base, problems, name) {
  page.on('console', (msg) => {
    const t = msg.text();
    if (/Content Security Policy|Refused to|integrity/i.test(t)) problems.push(`${name}: ${t}`);
    // The app's own warnings (a message it could not handle, ...) always; the rest with E2E_VERBOSE.
    if (process.env.E2E_VERBOSE || /^sealpost/.test(t)) console.error(`[${name}] ${msg.type()}: ${t}`);
  });
  page.on('pageerror', (e) => problems.push(`${name}: page error ${e.message}`));
}

/**
 * After a navigation: unlocks with `password` if the app asks for it, and says whether
 * it did (a reload of the same tab does not ask: www/src/session.ts; a new tab does).
 */
export async function unlockIfAsked(page, password, timeout = 180_000) {
  const asked = await Promise.race([
    page.locator('[data-testid=unlock-submit]').waitFor({ timeout }).then(() => true),
    page.locator('[data-testid=me]').waitFor({ timeout }).then(() => false),
  ]);
  if (asked) {
    await page.fill('#password', password);
    await page.click('[data-testid=unlock-submit]');
    await page.locator('[data-testid=me]').waitFor({ timeout });
  }
  return asked;
}

/** Locks the open account from the Account screen: the unlock screen follows. */
export async function lock(page, timeout = 180_000) {
  await page.evaluate(() => (location.hash = '#/account'));
  await page.click('[data-testid=lock]');
  await page.locator('[data-testid=unlock-submit]').waitFor({ timeout });
}

/** A tiny test runner: named steps, a summary line, a non-zero exit on failure. */
export function runner() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  return {
    /** A step that cannot run here (says why). */
    skip(name, why) {
      skipped++;
      console.log(`skip  ${name}: ${why}`);
    },
    async step(name, fn) {
      const t = Date.now();
      try {
        await fn();
        passed++;
        console.log(`ok    ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
        return true;
      } catch (e) {
        failed++;
        failures.push(name);
        console.log(`FAIL  ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)\n      ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n      ')}`);
        return false;
      }
    },
    summary() {
      if (failures.length) console.log(`failed: ${failures.join('; ')}`);
      console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
      return failed;
    },
  };
}

/**
 * Runs one test file's steps on their own when that file is the script Node started
 * (`node www/tests/NAME.mjs [--build]`; e2e.mjs imports the same `run` and makes the
 * page-safety check once for all files), then exits with the result.
 */
export async function standalone(metaUrl, name, run) {
  if (process.argv[1] !== fileURLToPath(metaUrl)) return;
  const r = runner();
  const problems = [];
  try {
    await run(r, { relayBin: ensureBuilt({ rebuildWww: process.argv.includes('--build') }), problems });
    await r.step(`${name}: no CSP violations, no SRI failures, no third-party requests`, async () => {
      if (problems.length) throw new Error(problems.join('\n'));
    });
  } catch (e) {
    await r.step(`${name}: run to completion`, async () => {
      throw e;
    });
  }
  process.exit(r.summary() ? 1 : 0);
}

// axe-core (Deque's accessibility rules engine), evaluated into the page through the
// DevTools protocol (not a <script>, so the app's CSP stays as it is).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** WCAG 2.1 A and AA violations on the current screen, as readable lines. */
export async function axeViolations(page, screen) {
  // Contrast is judged on what stays on screen, not on a toast caught mid-fade (its
  // opacity transition): with reduced motion the app shows and hides it at once. CI
  // failed once on a fading toast (phone, chat over the limit).
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    // @ts-ignore: injected above
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    const lines = res.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    // A screen where nothing passed was not really checked (e.g. not rendered yet).
    if (!res.passes.some((p) => p.id === 'color-contrast')) lines.push('color-contrast was not checked');
    return lines;
  });
  return violations.map((v) => `${screen}: ${v}`);
}

/**
 * Headless Chromium shows no notifications: makes `page` record what it would show in
 * `window.__shown` ({title, body}), with the permission granted.
 */
export async function recordNotifications(page) {
  await page.evaluate(() => {
    window.__shown = [];
    window.Notification = class {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title, options) {
        window.__shown.push({ title, body: options?.body });
      }
      close() {}
    };
  });
}
