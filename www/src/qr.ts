// Safety-number QR codes: rendering (qrcode, byte mode) and decoding (jsQR) from an
// uploaded picture or camera frames, and the button screens scan with. Everything stays
// in the page. The libraries are in ./qrlib.ts, loaded on first use.

import { lazily } from './lazy';
import { h } from './util';

const lib = lazily('qrlib', () => import('./qrlib'));

/** Starts loading the QR libraries (a screen that may need them is showing). */
export function preloadQr(): void {
  lib().catch(() => undefined);
}

export async function drawQr(canvas: HTMLCanvasElement, payload: Uint8Array): Promise<void> {
  return (await lib()).drawQr(canvas, payload);
}

/** Decodes the first QR code found in an image file. */
export async function decodeImageFile(file: Blob): Promise<Uint8Array | null> {
  return (await lib()).decodeImageFile(file);
}

/**
 * The button that starts and stops a camera scan into `video` (shown while it runs), so
 * every screen that scans behaves alike. `onResult` gets what `scanCamera` found (`null`
 * when nothing) and whether the user stopped it; `onUnavailable` runs when there is no
 * camera.
 */
export function cameraScanButton(opts: {
  video: HTMLVideoElement;
  label: string;
  testId?: string;
  onResult: (found: Uint8Array | null, stopped: boolean) => Promise<void>;
  onUnavailable: () => void;
}): HTMLButtonElement {
  let scanning: AbortController | null = null;
  const btn = h('button', {
    type: 'button',
    'data-testid': opts.testId,
    onclick: async () => {
      if (scanning) {
        scanning.abort();
        return;
      }
      scanning = new AbortController();
      opts.video.hidden = false;
      btn.textContent = 'Stop camera';
      try {
        const found = await (await lib()).scanCamera(opts.video, scanning.signal);
        await opts.onResult(found, scanning.signal.aborted);
      } catch {
        opts.onUnavailable();
      } finally {
        scanning = null;
        opts.video.hidden = true;
        btn.textContent = opts.label;
      }
    },
  }, opts.label);
  return btn;
}
