// Node.js entry point of sealpost-wasm: the module is instantiated synchronously on
// import; `init()` exists so the same code runs in browsers and Node.
export * from './node/sealpost_wasm.js';

export function init() {
  return Promise.resolve();
}

import { Client, FileDecryptor, FileEncryptor, FileHasher, fileInfo, userIdFromUsername } from './node/sealpost_wasm.js';
import { installFiles } from './files.js';
import { installSession } from './session.js';
import { makeRooms } from './rooms.js';
// Through the namespace: a module built without the `rooms` feature
// (`build.mjs --no-default-features`) has no RoomState, and a named import of it would
// not even load.
import * as glue from './node/sealpost_wasm.js';

installSession(Client, userIdFromUsername);
installFiles({ Client, FileEncryptor, FileDecryptor, FileHasher, fileInfo });

/** Rooms joined by a short code (docs/PROTOCOL.md 30); `undefined` without the `rooms` feature. */
export const { createRoom, joinRoom } = glue.RoomState ? makeRooms(glue.RoomState) : {};

Client.prototype.messages = async function* messages() {
  for (;;) {
    const m = await this.nextMessage();
    if (m === null) return;
    yield m;
  }
};
