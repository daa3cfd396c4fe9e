#!/usr/bin/env node
// The package vs WebCrypto (SubtleCrypto) in Node.js and in headless Chromium, in the
// same run: RSA key generation, RSA-OAEP unwrap, RSA-PSS sign (2048 and 4096 bits),
// AES-256-GCM at 256 B and 1 MiB. Prints a Markdown table and writes
// bench-results/wasm-webcrypto.json.
//
//   node wasm/scripts/build.mjs --features=bench && node wasm/scripts/bench.mjs [--quick] [--node-only] [--browser-only]
//
// (the package's primitive timings are only in a `--features=bench` build)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const wasmDir = resolve(here, '..');
const root = resolve(wasmDir, '..');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const results = { date: new Date().toISOString(), node: process.version, quick };
const keys = JSON.parse(readFileSync(join(root, 'tests/vectors/keys.json'), 'utf8'));
const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
const { runBench } = await import('../tests/bench.js');

if (!args.has('--browser-only')) {
  console.log('## Node.js');
  const sp = await import(join(wasmDir, 'pkg', 'index.node.mjs'));
  results.nodeRows = await runBench(sp, { fixturePkcs8: hex(keys.users[0].encryption_pkcs8), quick });
}

if (!args.has('--node-only')) {
  console.log('## Chromium');
  const { chromium } = await import('playwright-core');
  const types = { '.js': 'text/javascript', '.html': 'text/html', '.json': 'application/json', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const file = join(root, normalize(new URL(req.url, 'http://x').pathname));
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const context = await launchChromium(chromium);
  try {
    const page = await context.newPage();
    page.on('console', (m) => console.log(m.text()));
    results.chromium = await context.browser()?.version();
    await page.goto(`http://127.0.0.1:${server.address().port}/wasm/tests/bench.html${quick ? '?quick' : ''}`);
    await page.waitForFunction(() => window.__result, null, { timeout: 15 * 60 * 1000, polling: 500 });
    results.chromiumRows = await page.evaluate(() => window.__result);
  } finally {
    await context.close();
    server.close();
  }
}

const table = ['| operation | Node wasm ms | Node WebCrypto ms | ratio | Chromium wasm ms | Chromium WebCrypto ms | ratio |', '|---|---|---|---|---|---|---|'];
const names = (results.nodeRows ?? results.chromiumRows ?? []).map((r) => r.name);
for (const name of names) {
  const n = results.nodeRows?.find((r) => r.name === name);
  const c = Array.isArray(results.chromiumRows) ? results.chromiumRows.find((r) => r.name === name) : undefined;
  const cell = (r) => (r ? `${r.wasmMs} | ${r.webcryptoMs} | ${r.ratio}x` : '- | - | -');
  table.push(`| ${name} | ${cell(n)} | ${cell(c)} |`);
}
console.log(table.join('\n'));
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(join(root, 'bench-results', 'wasm-webcrypto.json'), JSON.stringify(results, null, 2) + '\n');
