// How every test and benchmark here starts Chromium: Debian's binary (never a browser
// a tool downloads), headless, with the flags this project's machines need and a fresh
// profile. Takes playwright-core's `chromium` from the caller, so each package uses its
// own playwright-core.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Fake microphone and camera, permission granted without a prompt, audio that plays
 * without a user gesture: what the call tests need. */
export const FAKE_MEDIA = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/**
 * A persistent context on a fresh profile directory (one browser, one context); its
 * `close()` also removes the directory, once the browser has exited.
 */
export async function launchChromium(chromium, extraArgs = []) {
  const profile = mkdtempSync(join(tmpdir(), 'sealpost-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  const close = context.close.bind(context);
  context.close = async (...args) => {
    await close(...args);
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // A temporary directory left behind must not fail a test run.
    }
  };
  return context;
}
