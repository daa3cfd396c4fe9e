import type { Client, SealpostStorage } from './index.js';

export interface ServeClientOptions {
  /** Default relay URL ("" = the worker's origin). `RemoteClient` options may override it. */
  relayUrl?: string;
  /** Storage factory; default `IndexedDbStorage.open("sealpost")`. */
  storage?: (username: string) => Promise<SealpostStorage> | SealpostStorage;
  /** What `init()` loads (default: the .wasm next to the glue). */
  wasm?: unknown;
  /**
   * The app's own requests, called by `RemoteClient.call(name, ...args)` (or the static
   * `RemoteClient.call(worker, name, ...args)` before logging in). Each runs in the
   * worker after `init()`, with the logged-in `Client` (or `null`) first; its result
   * (or thrown error's `code`/`message`) goes back to the page.
   */
  methods?: Record<string, (client: Client | null, ...args: any[]) => unknown>;
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
