export * from './web/sealpost_wasm.js';
import type { InitInput } from './web/sealpost_wasm.js';

/**
 * Loads and instantiates the WebAssembly module; call (and await) it once before
 * anything else. Idempotent. In browsers `input` defaults to `sealpost_wasm_bg.wasm`
 * next to the glue; in Node.js the module is loaded on import and this resolves at once.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;

import type { IncomingMessage } from './web/sealpost_wasm.js';

declare module './web/sealpost_wasm.js' {
  interface Client {
    /** Incoming messages as an async iterator, until `logout`: `for await (const m of client.messages())`. */
    messages(): AsyncGenerator<IncomingMessage, void, undefined>;
  }
}
