// The QR code libraries (qrcode draws, jsQR reads), loaded only when a screen shows or
// scans a code (see qr.ts): jsQR alone is about half of the app's start-up JS.

import QRCode from 'qrcode';
import jsQR from 'jsqr';

export async function drawQr(canvas: HTMLCanvasElement, payload: Uint8Array): Promise<void> {
  await QRCode.toCanvas(canvas, [{ data: payload, mode: 'byte' }], {
    errorCorrectionLevel: 'M',
    margin: 2,
    width: 232,
    color: { dark: '#000000', light: '#ffffff' },
  });
}

function decodeCanvas(ctx: CanvasRenderingContext2D, w: number, h: number): Uint8Array | null {
  const img = ctx.getImageData(0, 0, w, h);
  const code = jsQR(img.data, w, h, { inversionAttempts: 'attemptBoth' });
  return code ? Uint8Array.from(code.binaryData) : null;
}

/** Decodes the first QR code found in an image file. */
export async function decodeImageFile(file: Blob): Promise<Uint8Array | null> {
  const bmp = await createImageBitmap(file);
  // Large photos: scale down to keep jsQR fast.
  const scale = Math.min(1, 1200 / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * scale));
  const h = Math.max(1, Math.round(bmp.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  return decodeCanvas(ctx, w, h);
}

/** Scans camera frames until a code is found or `signal` aborts. */
export async function scanCamera(video: HTMLVideoElement, signal: AbortSignal): Promise<Uint8Array | null> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  try {
    video.srcObject = stream;
    video.muted = true;
    video.playsInline = true;
    await video.play();
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    while (!signal.aborted) {
      const w = video.videoWidth;
      const h = video.videoHeight;
      if (w && h) {
        canvas.width = w;
        canvas.height = h;
        ctx.drawImage(video, 0, 0, w, h);
        const found = decodeCanvas(ctx, w, h);
        if (found) return found;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return null;
  } finally {
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
  }
}
