// A fake camera for Chromium: a Y4M video (for --use-file-for-fake-video-capture) that
// shows one QR code, and the decoding of the QR code drawn on a page's canvas.
import { renameSync, writeFileSync } from 'node:fs';
import jsQR from 'jsqr';
import QRCode from 'qrcode';

/**
 * Writes `path` as a Y4M video of `frames` identical frames showing the QR code of
 * `payload`, encoded as www/src/qr.ts does (byte mode, error correction M), black modules
 * of `scale` pixels on white, with a quiet zone of at least four modules. The file is
 * written next to `path` and renamed over it: a capture that has the old file open keeps
 * reading the old one, the next capture opens the new one.
 */
export function writeQrY4m(path, payload, { width = 640, height = 480, frames = 10, scale = 10 } = {}) {
  const qr = QRCode.create([{ data: Uint8Array.from(payload), mode: 'byte' }], { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const side = n * scale;
  if (side + 8 * scale > Math.min(width, height)) throw new Error(`a ${n}x${n} QR code does not fit ${width}x${height} at ${scale} px per module`);
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);
  const y = Buffer.alloc(width * height, 255); // white (full range: C420jpeg)
  for (let row = 0; row < n; row++)
    for (let col = 0; col < n; col++)
      if (qr.modules.get(row, col))
        for (let dy = 0; dy < scale; dy++) y.fill(0, (y0 + row * scale + dy) * width + x0 + col * scale, (y0 + row * scale + dy) * width + x0 + (col + 1) * scale);
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128); // U and V: no colour
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, Buffer.concat([header, ...Array(frames).fill(frame)]));
  renameSync(tmp, path);
  return { version: qr.version, modules: n };
}

/** The bytes of the QR code drawn on the canvas `selector` of `page` (polls until drawn). */
export async function canvasQrPayload(page, selector, timeout = 15_000) {
  const until = Date.now() + timeout;
  for (;;) {
    const img = await page.locator(selector).evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      return { w: d.width, h: d.height, data: Array.from(d.data) };
    });
    const code = jsQR(Uint8ClampedArray.from(img.data), img.w, img.h, { inversionAttempts: 'attemptBoth' });
    if (code) return Uint8Array.from(code.binaryData);
    if (Date.now() > until) throw new Error(`no QR code on ${selector}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
