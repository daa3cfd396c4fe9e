// Sealpost service worker: caches the app shell so the app opens offline (messages
// typed offline wait in the encrypted outbox in IndexedDB and go when the relay is
// reachable). Never touches the relay API. scripts/postbuild.mjs fills in the list of
// files and the version.
const VERSION = '__SEALPOST_VERSION__';
const SHELL = ['__SEALPOST_SHELL__'];
const INDEX_SHA256 = '__SEALPOST_INDEX_SHA256__';
const CACHE = `sealpost-shell-${VERSION}`;

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * Caches this build's shell. The server may already serve a newer build (a deploy during
 * the install): an index.html that is not this build's would point at assets this cache
 * lacks and the app would not start offline, so the install fails instead (the current
 * worker stays; the next visit installs the newer one).
 */
async function install() {
  const fetched = await Promise.all(SHELL.map(async (u) => {
    // Hashed assets never change under their name: the copy the page just loaded is
    // reused from the HTTP cache instead of downloaded twice on a first visit. The
    // rest (index.html, manifest, icons) is revalidated: a 304 when unchanged.
    const mode = u.startsWith('/assets/') ? 'default' : 'no-cache';
    const res = await fetch(new Request(u, { cache: mode }));
    if (!res.ok) throw new Error(`${u}: ${res.status}`);
    if (u === '/' || u === '/index.html') {
      const got = hex(await crypto.subtle.digest('SHA-256', await res.clone().arrayBuffer()));
      if (got !== INDEX_SHA256) throw new Error(`${u} is not from build ${VERSION}`);
    }
    return [u, res];
  }));
  const cache = await caches.open(CACHE);
  await Promise.all(fetched.map(([u, res]) => cache.put(u, res)));
  await self.skipWaiting();
}

self.addEventListener('install', (event) => {
  event.waitUntil(install());
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('sealpost-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isApi(url) {
  return url.pathname.startsWith('/v2/') || url.pathname === '/healthz' || url.pathname === '/metrics';
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || isApi(url)) return;
  if (req.mode === 'navigate') {
    // Network first (so a new version shows up), the cached shell when offline or slow.
    event.respondWith(
      (async () => {
        const cached = caches.match('/index.html', { cacheName: CACHE });
        try {
          const ctl = new AbortController();
          const t = setTimeout(() => ctl.abort(), 4000);
          const res = await fetch(req, { signal: ctl.signal });
          clearTimeout(t);
          if (res.ok) return res;
          return (await cached) ?? res;
        } catch {
          return (await cached) ?? Response.error();
        }
      })(),
    );
    return;
  }
  // Hashed assets and icons: cache first.
  event.respondWith(
    caches.match(req, { cacheName: CACHE }).then((hit) => hit ?? fetch(req)),
  );
});
