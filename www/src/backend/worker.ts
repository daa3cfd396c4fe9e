/// <reference lib="webworker" />
// The crypto worker: the package's own worker (`serveClient` from sealpost-wasm/worker,
// which hosts the `Client` for the page's `RemoteClient`), fed hash-checked wasm, plus
// the app's own requests through `RemoteClient.call`: `ids`, and rooms (./roomhost.ts).

import { serveClient } from 'sealpost-wasm/worker';
import { normalizeUsername, userIdFromUsername } from 'sealpost-wasm';
import wasmUrl from 'sealpost-wasm/sealpost_wasm_bg.wasm?url';
import { roomMethods } from './roomhost';
import { type Entry, type LocalClient, sendStored, storeRecords } from './history';

// Filled in by scripts/postbuild.mjs: the SHA-256 of the built wasm module.
const WASM_SHA256 = '__SEALPOST_WASM_SHA256__';

/** The wasm bytes, checked against the build-time hash before anything instantiates them. */
async function verifiedWasm(): Promise<ArrayBuffer> {
  // This worker runs from a blob: URL (see ./index.ts): resolve against the origin.
  const res = await fetch(new URL(wasmUrl, location.origin), { cache: 'no-cache' });
  const bytes = await res.arrayBuffer();
  if (!import.meta.env.DEV) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const hex = Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    if (hex !== WASM_SHA256) throw Object.assign(new Error('The encryption module is corrupted or was tampered with.'), { code: 'INTEGRITY' });
  }
  return bytes;
}

const wasm = verifiedWasm();
wasm.catch(() => undefined);

// relayUrl: absolute, because a blob: worker cannot resolve "" against its own URL.
serveClient({
  relayUrl: location.origin,
  wasm,
  methods: {
    /** The normalized username and its user id (the page loads no wasm). */
    ids(_client: unknown, username: string) {
      const name = normalizeUsername(username);
      return { username: name, userId: userIdFromUsername(name) };
    },
    ...roomMethods,
    /** The app's history records, sealed and written here (history.ts). */
    storeRecords(client: LocalClient | null, label: string, entries: Entry[]) {
      return storeRecords(client, label, entries);
    },
    /** A send that goes once its message's record is written (history.ts). */
    sendStored(client: LocalClient | null, key: string, ...args: Parameters<LocalClient['send']>) {
      return sendStored(client, key, ...args);
    },
  },
});

export interface Ids {
  username: string;
  userId: string;
}
