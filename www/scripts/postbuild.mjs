// After `vite build`: pins every file the app loads to its hash and writes the service
// worker's shell list.
//  1. the wasm module's SHA-256 goes into the crypto worker, which checks it before
//     instantiating (there is no integrity attribute for fetch()-loaded wasm);
//  2. the worker's SHA-384 goes into the main script, which checks it before starting
//     the worker from the verified bytes (Worker() has no integrity attribute either);
//  3. integrity="sha384-..." on every <script> and <link> in index.html (SRI);
//  4. dist/sw.js gets its file lists (what the app starts with, cached at install; the
//     rest, cached on first use and at the next start), a version, and the SHA-256 of
//     each file whose name is not content-hashed (it caches only this build's);
//  5. size budget: the JS the app starts with (index.html's entry scripts and the
//     worker, without the wasm) at most 100 KiB gzipped;
//  6. lazily loaded chunks (dynamic import(): libraries few visits need, src/lazy.ts)
//     are listed with their sizes; their SHA-384 go into the main script, which loads
//     each through a <script integrity> first; they are in the service worker's shell
//     (so they load offline), and a page that finds one gone (a newer version's service worker
//     deleted the old files) offers to reload (src/lazy.ts).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = resolve(fileURLToPath(import.meta.url), '..', '..', 'dist');
const files = [];
(function walk(d) {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else files.push('/' + relative(dist, p).split('\\').join('/'));
  }
})(dist);
const read = (f) => readFileSync(join(dist, f));
const hash = (alg, buf, enc = 'base64') => createHash(alg).update(buf).digest(enc);
function patch(file, from, to) {
  const s = read(file).toString('utf8');
  if (!s.includes(from)) throw new Error(`${from} not found in ${file}`);
  writeFileSync(join(dist, file), s.split(from).join(to));
}
function containing(marker) {
  const hits = files.filter((f) => f.endsWith('.js') && read(f).toString('utf8').includes(marker));
  if (hits.length !== 1) throw new Error(`expected one file with ${marker}, found ${hits.join(', ') || 'none'}`);
  return hits[0];
}

const wasm = files.filter((f) => f.endsWith('.wasm'));
if (wasm.length !== 1) throw new Error(`expected one .wasm, found ${wasm.join(', ')}`);
const workerFile = containing('__SEALPOST_WASM_SHA256__');
patch(workerFile, '__SEALPOST_WASM_SHA256__', hash('sha256', read(wasm[0]), 'hex'));
const mainFile = containing('__SEALPOST_WORKER_SHA384__');
patch(mainFile, '__SEALPOST_WORKER_SHA384__', hash('sha384', read(workerFile)));

let html = read('/index.html').toString('utf8');
const js = files.filter((f) => f.endsWith('.js') && f !== '/sw.js');
const entries = new Set([...html.matchAll(/<(?:script|link)\b[^>]*?\s(?:src|href)="(\/[^"]+\.js)"/g)].map((m) => m[1]));
const lazy = js.filter((f) => f !== workerFile && !entries.has(f));
// The lazily loaded chunks' SHA-384 go into the main script (src/lazy.ts checks each
// through a <script integrity>). Their own imports would not be checked: none allowed.
for (const f of lazy) {
  if (/(^|[;}])\s*import\s*[{*\w"']|\bimport\(/.test(read(f).toString('utf8'))) throw new Error(`${f} imports other files: lazily loaded chunks must stand alone`);
}
patch(mainFile, '__SEALPOST_LAZY_SRI__', lazy.map((f) => `${f} sha384-${hash('sha384', read(f))}`).join(' '));

let tagged = 0;
html = html.replace(/<(script|link)\b([^>]*?)\s(src|href)="(\/[^"]+)"([^>]*)>/g, (tag, name, pre, attr, url, post) => {
  if (name === 'link' && !/rel="(stylesheet|modulepreload)"/.test(tag)) return tag;
  if (/integrity=/.test(tag)) return tag;
  tagged++;
  const cors = /crossorigin/.test(tag) ? '' : ' crossorigin';
  return `<${name}${pre} ${attr}="${url}"${post} integrity="sha384-${hash('sha384', read(url))}"${cors}>`;
});
if (!tagged) throw new Error('no script/link tags found for SRI');
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html.replace(/<script[^>]*type="application\/ld\+json"[^>]*>/g, ''))) {
  throw new Error('inline <script> in index.html: forbidden by the CSP');
}
writeFileSync(join(dist, 'index.html'), html);

// The service worker's lists: what the app starts with (`/`, which is index.html, every
// file index.html names, the crypto worker and the wasm) is cached at install; the rest
// (lazily loaded chunks, the large icons) on first use and at the next start, so a first
// visit downloads nothing the page did not load itself. Files outside /assets/ keep their
// names across builds: their SHA-256 go into sw.js, which caches only this build's.
const shellFiles = files.filter((f) => f !== '/sw.js' && f !== '/index.html' && !f.endsWith('.map'));
const named = new Set([...html.matchAll(/\s(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]));
const start = ['/', ...shellFiles.filter((f) => named.has(f) || f === workerFile || f === wasm[0])];
const later = shellFiles.filter((f) => !start.includes(f));
const pinned = Object.fromEntries([...start, ...later].filter((f) => !f.startsWith('/assets/')).map((f) => [f, hash('sha256', read(f === '/' ? '/index.html' : f), 'hex')]));
// The version names the cache: a new one for any change of the files or of sw.js itself.
let sw = read('/sw.js').toString('utf8');
const version = hash('sha256', Buffer.concat(['/index.html', ...shellFiles].map((f) => read(f)).concat(Buffer.from(sw))), 'hex').slice(0, 16);
const list = (fs) => fs.map((f) => JSON.stringify(f)).join(', ');
for (const [from, to] of [["'__SEALPOST_START__'", list(start)], ["'__SEALPOST_LATER__'", list(later)], ['__SEALPOST_VERSION__', version], ['__SEALPOST_PINNED__', JSON.stringify(pinned)]]) {
  if (!sw.includes(from)) throw new Error(`${from} not found in sw.js`);
  sw = sw.replace(from, to);
}
writeFileSync(join(dist, 'sw.js'), sw);

const gzSize = (f) => gzipSync(read(f), { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const gz = [workerFile, ...entries].reduce((n, f) => n + gzSize(f), 0);
const wasmGz = gzipSync(read(wasm[0]), { level: 9 }).length;
console.log(`postbuild: SRI on ${tagged} tags; service worker ${version}: ${start.length} files at install, ${later.length} later (${later.join(', ')})`);
console.log(`postbuild: app JS at start ${kib(gz)} gzipped (${entries.size + 1} files; budget 100 KiB); wasm ${kib(wasmGz)} gzipped`);
if (lazy.length) console.log(`postbuild: loaded on first use: ${lazy.map((f) => `${f} ${kib(gzSize(f))}`).join(', ')}`);
if (gz > 100 * 1024) {
  console.error('postbuild: app JS at start over the 100 KiB gzip budget');
  process.exit(1);
}
