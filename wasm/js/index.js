// Browser and bundler entry point of sealpost-wasm.
import wbgInit from './web/sealpost_wasm.js';

export * from './web/sealpost_wasm.js';

let ready;

/**
 * Loads and instantiates the WebAssembly module; call (and await) it once before
 * anything else. Idempotent. `input` defaults to `sealpost_wasm_bg.wasm` next to the
 * glue (bundlers such as Vite resolve it through `new URL(..., import.meta.url)`).
 */
export function init(input) {
  ready ??= wbgInit(input === undefined ? undefined : { module_or_path: input }).then(() => undefined);
  return ready;
}

import { Client, FileDecryptor, FileEncryptor, FileHasher, fileInfo, userIdFromUsername } from './web/sealpost_wasm.js';
import { installFiles } from './files.js';
import { installSession } from './session.js';
import { makeRooms } from './rooms.js';
// Through the namespace: a module built without the `rooms` feature
// (`build.mjs --no-default-features`) has no RoomState, and a named import of it would
// not even load.
import * as glue from './web/sealpost_wasm.js';

installSession(Client, userIdFromUsername);
installFiles({ Client, FileEncryptor, FileDecryptor, FileHasher, fileInfo });

/**
 * Rooms joined by a short code (docs/PROTOCOL.md 30); `undefined` in a module built
 * without rooms, as `Client.createGroup` is without groups.
 */
export const { createRoom, joinRoom } = glue.RoomState ? makeRooms(glue.RoomState) : {};

/** `for await (const m of client.messages())`: incoming messages until `logout`. */
Client.prototype.messages = async function* messages() {
  for (;;) {
    const m = await this.nextMessage();
    if (m === null) return;
    yield m;
  }
};
