import type { SealpostStorage } from './index.js';

export interface ServeClientOptions {
  /** Default relay URL ("" = the worker's origin). `RemoteClient` options may override it. */
  relayUrl?: string;
  /** Storage factory; default `IndexedDbStorage.open("sealpost")`. */
  storage?: (username: string) => Promise<SealpostStorage> | SealpostStorage;
  /** What `init()` loads (default: the .wasm next to the glue). */
  wasm?: unknown;
  /** Default `self` (the worker's global scope). */
  scope?: {
    postMessage(message: unknown): void;
    addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  };
}

/**
 * Call once in a (module) Web Worker: runs a `Client` there and serves it to the page's
 * `RemoteClient`. Keys, sessions and all RSA/PBKDF2 work stay in the worker.
 */
export function serveClient(options?: ServeClientOptions): void;
