#!/usr/bin/env node
// Files in the PWA end to end (issue 11): two browsers, a 20 MB file and a photo sent
// with the attach button arrive byte for byte (SHA-256 compared), with progress on both
// sides; the photo's thumbnail shows first, the full image on tap; pasted and dropped
// files are sent. An upload resumes
// after the relay is stopped and started again mid-transfer; a chunk altered in the
// relay's store is reported and never shown; a voice note (Chromium's fake microphone)
// plays inline; a file uploaded to a relay started again with a short expiry says it
// expired, and that relay's smaller file limit is explained and enforced before any
// upload. The chat with files passes axe.
//
//   node www/tests/files.mjs          (also run as a part of www/tests/e2e.mjs)

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChat } from './devices.mjs';
import { register } from './edges.mjs';
import { axeViolations, launchBrowser, newContext, runner, standalone, startRelay } from './harness.mjs';

const T = { timeout: 180_000 };
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Every chunk file in the relay's store (docs/API.md: `chunks/<xx>/<address>`). */
function chunkFiles(dataDir) {
  const dir = join(dataDir, 'chunks');
  return readdirSync(dir).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f)));
}

/** Records every value a progress bar takes on `page` (window.__progress), and its words. */
const watchProgress = (page) =>
  page.evaluate(() => {
    window.__progress = [];
    window.__progressText = new Set();
    window.__watch?.disconnect();
    window.__watch = new MutationObserver(() => {
      for (const p of document.querySelectorAll('[data-testid=file-progress]')) window.__progress.push([p.value, p.max]);
      for (const t of document.querySelectorAll('.file-progress')) window.__progressText.add(t.textContent);
    });
    window.__watch.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });

/** A 640×480 PNG drawn in the page (a real picture for the thumbnail). */
export const photo = (page) =>
  page.evaluate(async () => {
    const c = new OffscreenCanvas(640, 480);
    const g = c.getContext('2d');
    for (let i = 0; i < 300; i++) {
      g.fillStyle = `hsl(${i * 37 % 360} 70% ${30 + (i % 40)}%)`;
      g.fillRect((i * 53) % 640, (i * 29) % 480, 40 + (i % 60), 30 + (i % 50));
    }
    return Array.from(new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer()));
  }).then((a) => Buffer.from(a));

export const fileMsg = (page, name) => page.locator(`[data-testid=msg]:has([data-testid=file][data-name="${name}"])`);
/** Waits until the file message `name` on the sender's page is on the relay (or delivered). */
const sent = (page, name) => page.locator(`[data-testid=msg]:is([data-state=relay], [data-state=delivered]):has([data-testid=file][data-name="${name}"])`).waitFor(T);

/** The files part of the end-to-end test; `r` is the harness runner. */
export async function runFiles(r, { relayBin, problems }) {
  let relay = await startRelay(relayBin);
  // A fake microphone (a tone) for the voice note, the permission prompt answered "allow".
  const browser = await launchBrowser(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
  try {
    const ctxA = await newContext(browser, relay.url, problems, 'files-A');
    const ctxB = await newContext(browser, relay.url, problems, 'files-B');
    const [a, b] = [await ctxA.newPage(), await ctxB.newPage()];
    const ok = await r.step('files: two accounts open a chat', async () => {
      await Promise.all([register(a, 'fay'), register(b, 'gil')]);
      await startChat(a, 'gil');
      // The relay's limits, explained where files are attached.
      await a.locator('[data-testid=attach][title^="Files up to 100 MB, kept on the relay for 14 days"]').waitFor();
    });
    if (!ok) return;

    const big = randomBytes(20_000_000);
    let png;
    await r.step('files: a 20 MB file and a photo arrive byte for byte (SHA-256), with progress; the thumbnail shows first', async () => {
      png = await photo(a);
      await watchProgress(a);
      await a.setInputFiles('[data-testid=file-input]', [
        { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
        { name: 'photo.png', mimeType: 'image/png', buffer: png },
      ]);
      for (const name of ['big.bin', 'photo.png']) await sent(a, name);
      const up = await a.evaluate(() => window.__progress);
      expect(up.some(([v, max]) => max === 20_000_000 && v > 0 && v < max), `upload progress seen: ${JSON.stringify(up.slice(0, 5))}`);
      await b.evaluate(() => (location.hash = '#/'));
      await b.click('[data-testid=conv-fay]', T);
      await fileMsg(b, 'photo.png').locator('[data-testid=thumb]').waitFor(T);
      await watchProgress(b);
      const [download] = await Promise.all([b.waitForEvent('download', T), fileMsg(b, 'big.bin').locator('[data-testid=download]').click()]);
      expect(sha256(readFileSync(await download.path())) === sha256(big), 'the 20 MB file is byte for byte the one sent');
      expect(download.suggestedFilename() === 'big.bin', download.suggestedFilename());
      // A file's box shows its name and size (binary units: 20,000,000 bytes is 19 MB).
      for (const page of [a, b]) {
        const size = await fileMsg(page, 'big.bin').locator('.file-size').innerText();
        expect(size === '19 MB', `the size shown: ${size}`);
      }
      const down = await b.evaluate(() => window.__progress);
      expect(down.some(([v, max]) => max === 20_000_000 && v > 0 && v < max), `download progress seen: ${JSON.stringify(down.slice(0, 5))}`);
      await fileMsg(b, 'photo.png').locator('[data-testid=thumb]').click();
      const shown = fileMsg(b, 'photo.png').locator('[data-testid=image]');
      await shown.waitFor(T);
      expect(await shown.evaluate((img) => img.decode().then(() => img.naturalWidth)) === 640, 'the full photo is shown');
      const [saved] = await Promise.all([b.waitForEvent('download', T), fileMsg(b, 'photo.png').locator('[data-testid=save]').click()]);
      expect(sha256(readFileSync(await saved.path())) === sha256(png), 'the photo shown is byte for byte the one sent');
    });

    await r.step('files: the chat with files passes axe', async () => {
      const found = await axeViolations(b, 'chat with files');
      expect(found.length === 0, found.join('\n'));
    });

    await r.step('files: an upload resumes after the relay is stopped and started again mid-transfer', async () => {
      // 16 MB: 16 chunks of 1 MiB (PROTOCOL.md 26.2), so the stop lands mid-file.
      const file = randomBytes(16_000_000);
      await watchProgress(a);
      await a.setInputFiles('[data-testid=file-input]', [{ name: 'resumed.bin', mimeType: 'application/octet-stream', buffer: file }]);
      await a.waitForFunction(() => window.__progress.some(([v, max]) => max === 16_000_000 && v > 0), null, T);
      await relay.stop(true);
      await a.waitForFunction(() => window.__progressText.has('Waiting for the network…'), null, T);
      const before = await a.evaluate(() => Math.max(...window.__progress.map(([v]) => v)));
      expect(before < 16_000_000, 'the relay stopped before the upload ended');
      relay = await startRelay(relayBin, [], { dataDir: relay.dataDir, port: relay.port });
      await sent(a, 'resumed.bin');
      const seen = await a.evaluate(() => window.__progress.filter(([, max]) => max === 16_000_000).map(([v]) => v));
      const after = seen.slice(seen.indexOf(before));
      expect(after.every((v, i) => i === 0 || v >= after[i - 1]), `the upload went on from where it was, never from the start: ${after.join(' ')}`);
      const m = fileMsg(b, 'resumed.bin');
      const [download] = await Promise.all([b.waitForEvent('download', T), m.locator('[data-testid=download]').click(T)]);
      expect(sha256(readFileSync(await download.path())) === sha256(file), 'the resumed file is byte for byte the one sent');
    });

    await r.step('files: a voice note is recorded, sent and played inline', async () => {
      await a.click('[data-testid=voice]');
      await a.locator('[data-testid=voice][aria-pressed=true]').waitFor();
      await new Promise((res) => setTimeout(res, 1500));
      await a.click('[data-testid=voice]');
      const note = b.locator('[data-testid=msg]:has([data-testid=file][data-name^="voice-"])');
      await note.locator('[data-testid=play]', { hasText: /Voice note \d+:\d\d/ }).click(T);
      await note.locator('[data-testid=audio]').waitFor(T);
    });

    await r.step('files: a file pasted into the chat and one dropped on it are sent', async () => {
      await a.evaluate(() => {
        const pane = document.querySelector('[data-testid=compose]').closest('section');
        const data = (name) => {
          const dt = new DataTransfer();
          dt.items.add(new File([`${name} body`], name, { type: 'text/plain' }));
          return dt;
        };
        pane.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data('pasted.txt'), bubbles: true, cancelable: true }));
        pane.dispatchEvent(new DragEvent('drop', { dataTransfer: data('dropped.txt'), bubbles: true, cancelable: true }));
      });
      for (const name of ['pasted.txt', 'dropped.txt']) {
        const m = fileMsg(b, name);
        const [download] = await Promise.all([b.waitForEvent('download', T), m.locator('[data-testid=download]').click(T)]);
        expect(readFileSync(await download.path(), 'utf8') === `${name} body`, `${name} arrived`);
      }
    });

    await r.step('files: a chunk altered in the relay\'s store is reported, never shown', async () => {
      const before = new Set(chunkFiles(relay.dataDir));
      await a.setInputFiles('[data-testid=file-input]', [{ name: 'altered.png', mimeType: 'image/png', buffer: png }]);
      await sent(a, 'altered.png');
      const added = chunkFiles(relay.dataDir).filter((f) => !before.has(f));
      expect(added.length > 0, 'the upload stored chunks');
      for (const f of added) {
        const bytes = readFileSync(f);
        bytes[bytes.length >> 1] ^= 1;
        writeFileSync(f, bytes);
      }
      const m = fileMsg(b, 'altered.png');
      await m.locator('[data-testid=thumb]').click(T);
      await m.locator('[data-testid=file-error]', { hasText: 'altered' }).waitFor(T);
      expect((await m.locator('[data-testid=image]').count()) === 0, 'nothing of the altered file is shown');
    });

    await r.step('files: on a relay started again with a short expiry, a file says it expired', async () => {
      await relay.stop(true);
      // Also a smaller file limit, for the next step.
      relay = await startRelay(relayBin, ['--chunk-ttl-secs', '1', '--max-file-bytes', '2097152'], { dataDir: relay.dataDir, port: relay.port });
      await a.setInputFiles('[data-testid=file-input]', [{ name: 'old.txt', mimeType: 'text/plain', buffer: Buffer.from('soon gone') }]);
      const m = fileMsg(b, 'old.txt');
      await m.locator('[data-testid=download]').click(T);
      await m.locator('[data-testid=file-error]', { hasText: 'expired' }).waitFor(T);
    });

    await r.step('files: the relay\'s own limits are explained, and a file over its limit is refused before anything is sent', async () => {
      await a.reload();
      await a.evaluate(() => (location.hash = '#/'));
      await a.click('[data-testid=conv-gil]', T);
      await a.locator('[data-testid=attach][title^="Files up to 2.0 MB, kept on the relay for less than a minute"]').waitFor(T);
      const before = new Set(chunkFiles(relay.dataDir));
      await a.setInputFiles('[data-testid=file-input]', [{ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3_000_000) }]);
      await a.locator('.toast.show', { hasText: 'huge.bin is 2.9 MB: the relay takes files up to 2.0 MB.' }).waitFor(T);
      expect((await fileMsg(a, 'huge.bin').count()) === 0, 'no message for a file the relay would refuse');
      expect(chunkFiles(relay.dataDir).every((f) => before.has(f)), 'nothing uploaded');
    });
  } finally {
    await browser.close();
    await relay.stop();
  }
}

await standalone(import.meta.url, 'files', runFiles);
