// Sealpost service worker: caches the app shell so the app opens offline (messages
// typed offline wait in the encrypted outbox in IndexedDB and go when the relay is
// reachable). Never touches the relay API. scripts/postbuild.mjs fills in the file lists,
// the version and the SHA-256 of every file whose name does not change with its content.
const VERSION = '__SEALPOST_VERSION__';
// What the app starts with (`/`, the index.html every navigation falls back to offline,
// and what it names, the crypto worker, the wasm): cached at install.
const START = ['__SEALPOST_START__'];
// The rest of the build (chunks loaded on first use, the large icons): cached when the
// page first asks for one, and every missing one at the next start of the app.
const LATER = ['__SEALPOST_LATER__'];
// Files outside /assets/ keep their name from build to build: each must be this build's.
const PINNED = JSON.parse('__SEALPOST_PINNED__');
const CACHE = `sealpost-shell-${VERSION}`;

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

const sha256 = async (res) => hex(await crypto.subtle.digest('SHA-256', await res.clone().arrayBuffer()));

/**
 * `u` as this build has it, downloaded only when the browser has no copy. Files under
 * /assets/ have the hash of their content in their name: the copy the page just loaded
 * comes from the HTTP cache (the relay serves them `immutable`). The others keep their
 * name from build to build and must have this build's SHA-256: the HTTP cache's copy
 * (the page's own, whatever its age) when it has it, else a fresh download. The server
 * may already serve a newer build (a deploy during the install): a cache holding one
 * file of each would not start, so a file of another build is refused.
 */
async function fetchChecked(u) {
  const get = async (cache) => {
    const res = await fetch(new Request(u, { cache }));
    if (!res.ok) throw new Error(`${u}: ${res.status}`);
    return res;
  };
  if (!(u in PINNED)) return get('default');
  const kept = await get('force-cache');
  if ((await sha256(kept)) === PINNED[u]) return kept;
  const res = await get('reload');
  if ((await sha256(res)) !== PINNED[u]) throw new Error(`${u} is not from build ${VERSION}`);
  return res;
}

/** Caches what the app starts with; any file missing or not this build's fails the install (the current worker stays; the next visit tries again). */
async function install() {
  const fetched = await Promise.all(START.map(async (u) => [u, await fetchChecked(u)]));
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

/**
 * This build's cache to put a file in, or null once a newer worker replaced this one
 * (its activation deleted the cache: opening it would make it again, and nobody would
 * delete it until the next update). Asked right before each put.
 */
const ownCache = async () => (self.serviceWorker?.state !== 'redundant' && (await caches.has(CACHE)) ? caches.open(CACHE) : null);

let filling = null;
/** Caches every file of LATER not cached yet, one after the other (a start of the app asks for little else). */
function fillLater() {
  filling ??= (async () => {
    for (const u of LATER) {
      if (await caches.match(u, { cacheName: CACHE })) continue;
      const res = await fetchChecked(u).catch(() => null);
      if (!res) continue;
      const cache = await ownCache();
      if (!cache) return;
      await cache.put(u, res);
    }
  })().finally(() => {
    filling = null;
  });
  return filling;
}

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
    const answer = (async () => {
      const cached = caches.match('/', { cacheName: CACHE });
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
    })();
    event.respondWith(answer);
    // A start of the app after the first visit: then the rest of the build goes to the
    // cache (a first visit downloads only what the page itself loads).
    event.waitUntil(answer.then(() => fillLater(), () => undefined));
    return;
  }
  // Hashed assets and icons: cache first. A file of this build's LATER list is kept the
  // first time the page asks for it (under /assets/: its content is this build's).
  const keep = url.pathname.startsWith('/assets/') && LATER.includes(url.pathname);
  const answer = (async () => {
    const hit = await caches.match(req, { cacheName: CACHE });
    if (hit) return [hit, null];
    const res = await fetch(req);
    return [res, keep && res.ok ? res.clone() : null];
  })();
  event.respondWith(answer.then(([res]) => res));
  event.waitUntil(
    answer.then(async ([, copy]) => copy && (await ownCache())?.put(url.pathname, copy)).catch(() => undefined),
  );
});
