// After scripts/postbuild.mjs (which patches index.html, the JS and sw.js, so this runs
// last): writes a brotli (`.br`) and a gzip (`.gz`) sibling of every text or wasm file in
// dist/. The relay serves them to browsers that accept the encoding (docs/API.md, "Static
// files"), so compression costs nothing per request and can use the slowest, smallest
// settings: brotli quality 11 with the largest window, gzip level 9.
//
// Node's own zlib (brotli and gzip are built in, maintained with Node itself) instead of
// an npm package: no new dependency, and the same library the relay's clients decode with.
// A variant is kept only when it is smaller than the file; images (png) are already
// compressed and left alone.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.wasm', '.json', '.webmanifest', '.svg', '.txt']);
const dist = resolve(fileURLToPath(import.meta.url), '..', '..', 'dist');

const files = [];
(function walk(d) {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (COMPRESSIBLE.has(extname(f))) files.push(p);
  }
})(dist);

let plain = 0;
let br = 0;
let gz = 0;
for (const file of files) {
  const bytes = readFileSync(file);
  const variants = {
    '.br': brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        [constants.BROTLI_PARAM_MODE]: extname(file) === '.wasm' ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
      },
    }),
    '.gz': gzipSync(bytes, { level: 9 }),
  };
  plain += bytes.length;
  for (const [ext, out] of Object.entries(variants)) {
    const kept = out.length < bytes.length;
    if (kept) writeFileSync(file + ext, out);
    const size = kept ? out.length : bytes.length;
    if (ext === '.br') br += size;
    else gz += size;
  }
}
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`compress: ${files.length} files (${files.map((f) => '/' + relative(dist, f)).join(', ')})`);
console.log(`compress: ${kib(plain)} plain, ${kib(br)} brotli, ${kib(gz)} gzip`);
