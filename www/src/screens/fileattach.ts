// What only sending files needs (loaded on first use by files.ts; a lazily loaded chunk
// stands alone, so nothing of the app is imported here): an image's thumbnail, a 160-pixel
// JPEG of at most 16 KiB carried in the encrypted manifest (PROTOCOL.md 26.4), and a voice
// note recorded with MediaRecorder.

const THUMB_PX = 160;
const THUMB_MAX_BYTES = 16_384;

/** A preview of an image, or nothing when it cannot be drawn small enough. */
export async function thumbnail(file: Blob): Promise<{ mediaType: string; bytes: Uint8Array } | undefined> {
  const bmp = await createImageBitmap(file);
  const scale = Math.min(1, THUMB_PX / Math.max(bmp.width, bmp.height));
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(bmp.width * scale)), Math.max(1, Math.round(bmp.height * scale)));
  canvas.getContext('2d')!.drawImage(bmp, 0, 0, canvas.width, canvas.height);
  bmp.close();
  for (const quality of [0.75, 0.5, 0.3]) {
    const out = await canvas.convertToBlob({ type: 'image/jpeg', quality });
    if (out.size <= THUMB_MAX_BYTES) return { mediaType: 'image/jpeg', bytes: new Uint8Array(await out.arrayBuffer()) };
  }
  return undefined;
}

/** A voice note: its sound, a file name, and how long it lasts. */
export interface VoiceNote {
  blob: Blob;
  name: string;
  durationMs: number;
}

/**
 * Records from the microphone until the returned `stop` is called; `done` gets the note.
 * Throws when there is no microphone or the user refused it.
 */
export async function record(done: (note: VoiceNote) => void): Promise<() => void> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const parts: Blob[] = [];
  const started = Date.now();
  const rec = new MediaRecorder(stream);
  rec.ondataavailable = (ev) => parts.push(ev.data);
  rec.onstop = () => {
    for (const t of stream.getTracks()) t.stop();
    const type = (rec.mimeType || 'audio/webm').split(';')[0];
    const at = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
    done({ blob: new Blob(parts, { type }), name: `voice-${at}.${type.split('/')[1]}`, durationMs: Date.now() - started });
  };
  rec.start();
  return () => rec.stop();
}
