export * from './web/sealpost_wasm.js';
import type { InitInput } from './web/sealpost_wasm.js';

/**
 * Loads and instantiates the WebAssembly module; call (and await) it once before
 * anything else. Idempotent. In browsers `input` defaults to `sealpost_wasm_bg.wasm`
 * next to the glue; in Node.js the module is loaded on import and this resolves at once.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;

import type { ClientOptions, IncomingMessage } from './web/sealpost_wasm.js';

declare module './web/sealpost_wasm.js' {
  namespace Client {
    /**
     * Opens the account stored in `options.storage` with what `exportSession` returned and
     * the same non-extractable AES-GCM `wrapKey`, without the password (no PBKDF2).
     * Throws `DECRYPT_FAILED` for another key or altered bytes, `NOT_FOUND` when the
     * account is not stored there, `LOCKED` like `login`.
     */
    function resume(options: ClientOptions, username: string, wrapKey: CryptoKey, sealed: Uint8Array): Promise<Client>;
  }
  interface Client {
    /**
     * Seals this account's password-derived keys under `wrapKey` (an AES-GCM `CryptoKey`
     * generated with `extractable: false`; `INVALID_ARGUMENT` otherwise) for
     * `Client.resume`: keep the result and the key apart; delete the key to end the session.
     */
    exportSession(wrapKey: CryptoKey): Promise<Uint8Array>;
    /** Incoming messages as an async iterator, until `logout`: `for await (const m of client.messages())`. */
    messages(): AsyncGenerator<IncomingMessage, void, undefined>;
  }
}
