#!/usr/bin/env node
// Files in Chromium (issue 11, docs/BENCHMARKS.md): encrypt+upload and download+decrypt
// MB/s of the package (uploadFile / openAttachment) for files of 1, 20 and 100 MB picked
// from disk, side by side with the same chunks moved with WebCrypto (AES-GCM, SHA-256),
// and each side's encryption alone; then the renderer process's memory (the page and
// its worker live there) while a 100 MB file is sent and fetched through a worker
// (RemoteClient, as the PWA does: fileDigest, then uploadFile with a file key and that
// digest), against the same process idle, with the time of each part. Medians of nothing: one
// run, read as ratios (the machine is shared).
//
//   node www/tests/files-bench.mjs [--sizes=1,20,100] [--only=speed|memory]
//
// The page is wasm/tests/files-bench.html on wasm/pkg. Needs wasm/pkg, `npm ci` in www/
// and a release relay (built here, or SEALPOST_RELAY_BIN=path). Prints Markdown; writes
// bench-results/files.json.

import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, launchBrowser, root, startRelay } from './harness.mjs';

const sizes = (process.argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? '1,20,100').split(',').map(Number);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const work = mkdtempSync(join(tmpdir(), 'sealpost-files-bench-'));

/** A file of `mb` million random bytes on disk (the browser reads it as a user's pick). */
function randomFile(mb) {
  const path = join(work, `${mb}MB.bin`);
  const fd = openSync(path, 'w');
  const piece = Buffer.alloc(1 << 20);
  for (let left = mb * 1e6; left > 0; left -= piece.length) writeSync(fd, randomFillSync(piece), 0, Math.min(left, piece.length));
  closeSync(fd);
  return path;
}

/** Resident memory (MiB) of the browser's renderer processes (CDP SystemInfo: their pids). */
async function rendererMiB(cdp) {
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
  let kib = 0;
  for (const p of processInfo.filter((x) => x.type === 'renderer')) {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.id}/status`, 'utf8'))?.[1] ?? 0);
    } catch { /* exited */ }
  }
  return kib / 1024;
}

// The relay serves the package and the page (same origin, under its CSP).
const web = join(work, 'web');
cpSync(join(root, 'wasm', 'pkg'), join(web, 'wasm', 'pkg'), { recursive: true });
cpSync(join(root, 'wasm', 'tests'), join(web, 'wasm', 'tests'), { recursive: true });
writeFileSync(join(web, 'index.html'), 'files benchmark');
const relay = await startRelay(ensureBuilt({ release: true }), ['--rate-ip-burst', '100000', '--rate-ip-per-sec', '10000', '--rate-upload-burst', '1000', '--rate-upload-per-sec', '100'], { staticDir: web });
const url = relay.url;

const results = { date: new Date().toISOString(), sizes };
const browser = await launchBrowser();
try {
  results.chromium = browser.version();
  const files = sizes.map(randomFile);
  const open = async () => {
    const page = await browser.newPage();
    page.on('console', (m) => console.error(m.text()));
    await page.goto(`${url}/wasm/tests/files-bench.html`);
    await page.waitForFunction(() => window.ready === true);
    return page;
  };
  if (only !== 'memory') {
    const page = await open();
    await page.setInputFiles('#files', files);
    results.speed = await page.evaluate((u) => window.speed(u), url);
    await page.close();
  }
  if (only !== 'speed') {
    // Memory: a fresh page, the largest file, through the worker.
    const cdp = await browser.newBrowserCDPSession();
    const mem = await open();
    await mem.setInputFiles('#files', [files.at(-1)]);
    const done = mem.evaluate((u) => window.throughWorker(u), url);
    await mem.waitForFunction(() => window.phase === 'ready', null, { timeout: 120_000 });
    const pageCdp = await mem.context().newCDPSession(mem);
    await pageCdp.send('HeapProfiler.collectGarbage');
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await rendererMiB(cdp);
    let peakUp = idle;
    let peakDown = idle;
    await mem.evaluate(() => (window.phase = 'go'));
    let phase = 'go';
    while (phase !== 'downloaded') {
      const now = await rendererMiB(cdp);
      if (phase === 'uploaded') peakDown = Math.max(peakDown, now);
      else peakUp = Math.max(peakUp, now);
      await new Promise((r) => setTimeout(r, 50));
      phase = await mem.evaluate(() => window.phase);
    }
    if (!(await done)) throw new Error('the file came back with another size');
    results.memory = { mb: sizes.at(-1), idleMiB: idle, peakUploadMiB: peakUp, peakDownloadMiB: peakDown, ...(await mem.evaluate(() => window.timings)) };
  }
} finally {
  await browser.close();
  await relay.stop();
  rmSync(work, { recursive: true, force: true });
}

const f = (x) => x.toFixed(1);
console.log(`Chromium ${results.chromium}\n`);
console.log('| file | package encrypt+upload | WebCrypto encrypt+upload | package download+decrypt | WebCrypto download+decrypt | package encrypt only | WebCrypto encrypt only |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results.speed ?? []) {
  console.log(`| ${r.mb} MB | ${f(r.packageUpload)} MB/s | ${f(r.webcryptoUpload)} MB/s | ${f(r.packageDownload)} MB/s | ${f(r.webcryptoDownload)} MB/s | ${f(r.packageEncrypt)} MB/s | ${f(r.webcryptoEncrypt)} MB/s |`);
}
const m = results.memory;
if (m) {
  console.log(`\nRenderer (page + worker) resident memory, ${m.mb} MB through the worker as the PWA sends it (digest, then keyed upload): idle ${f(m.idleMiB)} MiB, peak while sending ${f(m.peakUploadMiB)} MiB (+${f(m.peakUploadMiB - m.idleMiB)}), while fetching ${f(m.peakDownloadMiB)} MiB (+${f(m.peakDownloadMiB - m.idleMiB)})`);
  const mbps = (s) => f(m.mb / s);
  console.log(`Same run: digest ${f(m.digestSecs)} s (${mbps(m.digestSecs)} MB/s), upload ${f(m.uploadSecs)} s (${mbps(m.uploadSecs)} MB/s), digest + upload ${mbps(m.digestSecs + m.uploadSecs)} MB/s, download ${f(m.downloadSecs)} s (${mbps(m.downloadSecs)} MB/s)`);
}
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(join(root, 'bench-results', 'files.json'), JSON.stringify(results, null, 2) + '\n');
