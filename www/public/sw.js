// Sealpost service worker: caches the app shell so the app opens offline (messages
// typed offline wait in the encrypted outbox in IndexedDB and go when the relay is
// reachable). Never touches the relay API. scripts/postbuild.mjs fills in the list of
// files and the version.
const VERSION = '__SEALPOST_VERSION__';
const SHELL = ['__SEALPOST_SHELL__'];
const CACHE = `sealpost-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' })))).then(() => self.skipWaiting()),
  );
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
  return url.pathname.startsWith('/v1/') || url.pathname === '/healthz' || url.pathname === '/metrics';
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
