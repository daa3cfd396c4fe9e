// Modules few visits need (the QR code libraries), fetched on first use instead of with
// the app: scripts/postbuild.mjs keeps them out of the start-up JS budget, puts them in
// the service worker's shell (so they also load offline) and writes their SHA-384 here.

import { AppError } from './backend/types';
import { showUpdateNotice } from './ui';

/** Filled in by scripts/postbuild.mjs: `/assets/<name>-<hash>.js sha384-…` pairs. */
const LAZY_SRI = '__SEALPOST_LAZY_SRI__';

/**
 * Fetches the built chunk `name` through a `<script type=module integrity>`: the browser
 * checks its hash, and the `import()` that follows finds the module already loaded
 * (modules are kept by URL) instead of fetching it again unchecked.
 */
function checked(name: string): Promise<void> {
  if (import.meta.env.DEV) return Promise.resolve();
  const words = LAZY_SRI.split(' ');
  const at = words.findIndex((w) => w.startsWith(`/assets/${name}-`));
  if (at < 0) return Promise.reject(new Error(`no integrity for ${name}`));
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.type = 'module';
    s.src = words[at];
    s.integrity = words[at + 1];
    s.crossOrigin = 'anonymous';
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`${name} did not load or failed its integrity check`));
    document.head.append(s);
  });
}

/**
 * `load` (`import('./name')`) run once and remembered. A failure is not remembered, so a
 * later call tries again; the file was missing or changed because a newer version
 * replaced this one (its service worker deleted the old files), so the page also offers
 * to reload.
 */
export function lazily<T>(name: string, load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () =>
    (p ??= checked(name)
      .then(load)
      .catch((e: unknown) => {
        p = null;
        showUpdateNotice();
        throw new AppError('APP_FILES', e instanceof Error ? e.message : String(e));
      }));
}
