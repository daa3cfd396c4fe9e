// What a browser really downloads: a loopback HTTP proxy in front of a relay that records
// every response as it goes over the wire (status line, headers and body bytes as the
// relay sent them), so an answer Chromium takes from its HTTP cache or its service
// worker's cache counts nothing, and one it fetches twice counts twice. Playwright's own
// request events cannot tell these apart (a cache hit is reported with its headers and
// Content-Length). It can also switch to another relay at once: a new build deployed
// (tests/shell.mjs).
//
// Used by first-load.mjs (docs/BENCHMARKS.md, "PWA: first load") and shell.mjs.
import http from 'node:http';

/**
 * Starts the proxy on a free loopback port in front of `upstream` (a relay's URL).
 * `log` holds one `{ path, status, bytes }` per response since the last `reset()`;
 * `route(path)`, when set, picks the upstream URL per request (or a promise of it, to hold
 * the request back; default: the current one).
 */
export async function startWireCount(upstream) {
  let current = upstream;
  let log = [];
  const proxy = {
    url: '',
    get log() {
      return log;
    },
    reset() {
      log = [];
    },
    /** From now on every request goes to `url` (a deploy). */
    switchTo(url) {
      current = url;
      proxy.route = null;
    },
    route: null,
    close() {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const entry = { path: req.url, status: 0, bytes: 0 };
    log.push(entry);
    void Promise.resolve(proxy.route?.(req.url) ?? current).then((upstream) => forward(req, res, entry, new URL(upstream)));
  });
  const forward = (req, res, entry, target) => {
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      entry.status = answer.statusCode;
      let head = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
      for (let i = 0; i < answer.rawHeaders.length; i += 2) head += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
      entry.bytes += Buffer.byteLength(head) + 2;
      res.writeHead(answer.statusCode, answer.statusMessage, answer.rawHeaders);
      answer.on('data', (chunk) => {
        entry.bytes += chunk.length;
      });
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  // No WebSocket is needed before a log-in; a stray upgrade is refused, not hung.
  server.on('upgrade', (_req, socket) => socket.destroy());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  return proxy;
}

/**
 * Sums a visit's responses (`log` of the proxy, `pagePaths` the paths the page itself
 * requested): `page` the first response of each path the page asked for, `sw` paths
 * only the service worker asked for, `again` every further response of a path already
 * answered (a file downloaded twice, or revalidated: `304`), and `twice`, the paths
 * whose full body (`200`) went over the wire more than once.
 */
export function sumVisit(log, pagePaths) {
  const seen = new Set();
  const full = new Map();
  const out = { page: 0, sw: 0, again: 0, total: 0, twice: [] };
  for (const { path, status, bytes } of log) {
    const p = path.split('?')[0];
    if (seen.has(p)) out.again += bytes;
    else if (pagePaths.has(p)) out.page += bytes;
    else out.sw += bytes;
    seen.add(p);
    out.total += bytes;
    if (status === 200) full.set(p, (full.get(p) ?? 0) + 1);
  }
  out.twice = [...full].filter(([, n]) => n > 1).map(([p]) => p);
  return out;
}
