// After `vite build`: pins every file the app loads to its hash and writes the service
// worker's shell list.
//  1. the wasm module's SHA-256 goes into the crypto worker, which checks it before
//     instantiating (there is no integrity attribute for fetch()-loaded wasm);
//  2. the worker's SHA-384 goes into the main script, which checks it before starting
//     the worker from the verified bytes (Worker() has no integrity attribute either);
//  3. integrity="sha384-..." on every <script> and <link> in index.html (SRI);
//  4. dist/sw.js gets the file list, a version and index.html's SHA-256 (it caches the
//     shell only when the index.html it fetched is this build's);
//  5. size budget: app JS (main + worker, without the wasm) at most 100 KiB gzipped;
//  6. no lazily loaded chunks: the JS is the entry script(s) of index.html and the
//     worker, nothing else. A dynamic import() would be fetched later, possibly after a
//     new service worker deleted the old version's cache: a 404 in a running app.
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

const shell = ['/', ...files.filter((f) => f !== '/sw.js' && !f.endsWith('.map'))];
const version = hash('sha256', Buffer.concat(shell.slice(1).map((f) => read(f))), 'hex').slice(0, 16);
const sw = read('/sw.js').toString('utf8').replace("'__SEALPOST_SHELL__'", shell.map((f) => JSON.stringify(f)).join(', ')).replace('__SEALPOST_VERSION__', version)
  .replace('__SEALPOST_INDEX_SHA256__', hash('sha256', read('/index.html'), 'hex'));
writeFileSync(join(dist, 'sw.js'), sw);

const js = files.filter((f) => f.endsWith('.js') && f !== '/sw.js');
const entries = new Set([...html.matchAll(/<(?:script|link)\b[^>]*?\s(?:src|href)="(\/[^"]+\.js)"/g)].map((m) => m[1]));
const lazy = js.filter((f) => f !== workerFile && !entries.has(f));
if (lazy.length) {
  console.error(`postbuild: lazily loaded chunks (dynamic import()?): ${lazy.join(', ')}. Import them statically: after an update the service worker no longer has them.`);
  process.exit(1);
}
const gz = js.reduce((n, f) => n + gzipSync(read(f), { level: 9 }).length, 0);
const wasmGz = gzipSync(read(wasm[0]), { level: 9 }).length;
console.log(`postbuild: SRI on ${tagged} tags; shell ${shell.length} files, version ${version}`);
console.log(`postbuild: app JS ${(gz / 1024).toFixed(1)} KiB gzipped (${js.length} files; budget 100 KiB); wasm ${(wasmGz / 1024).toFixed(1)} KiB gzipped`);
if (gz > 100 * 1024) {
  console.error('postbuild: app JS over the 100 KiB gzip budget');
  process.exit(1);
}
