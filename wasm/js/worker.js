// Runs a sealpost-wasm Client inside a Web Worker and serves it to the page over
// postMessage (the page side is `sealpost-wasm/remote`). Key generation, PBKDF2 and
// every RSA operation then happen off the page's main thread, and the keys live only
// in the worker's wasm memory.
import { Client, IndexedDbStorage, init } from './index.js';

const METHODS = new Set([
  'connect', 'reconnect', 'lookup', 'contacts', 'setVerified', 'forgetContact', 'send', 'ack',
  'needsRotation', 'rotateKeys', 'logout', 'userId', 'username', 'fingerprint', 'status',
]);

function info(client) {
  return { userId: client.userId, username: client.username, fingerprint: client.fingerprint, status: client.status };
}

/**
 * Serves one account at a time to the page that created this worker.
 *
 * @param {object} [options]
 * @param {string} [options.relayUrl] default relay URL ("" = the worker's origin)
 * @param {(username: string) => Promise<import('./index.js').SealpostStorage>} [options.storage]
 *   storage factory, default `IndexedDbStorage.open("sealpost")`
 * @param {any} [options.wasm] what `init()` loads (default: the .wasm next to the glue)
 * @param {DedicatedWorkerGlobalScope} [options.scope] default `self`
 */
export function serveClient(options = {}) {
  const scope = options.scope ?? self;
  const makeStorage = options.storage ?? (() => IndexedDbStorage.open('sealpost'));
  const post = (msg) => scope.postMessage(msg);
  let ready;
  let client = null;
  scope.addEventListener('message', async (ev) => {
    const { id, method, args = [] } = ev.data ?? {};
    if (typeof id !== 'number' || typeof method !== 'string') return;
    try {
      ready ??= init(options.wasm);
      await ready;
      let result;
      if (method === 'register' || method === 'login') {
        const [clientOptions = {}, username, password] = args;
        if (client) await client.logout();
        client = null;
        const storage = await makeStorage(username);
        const c = await Client[method]({
          ...clientOptions,
          relayUrl: clientOptions.relayUrl ?? options.relayUrl ?? '',
          storage,
          onProgress: (done, total) => post({ event: 'progress', data: { done, total } }),
        }, username, password);
        c.onMessage((m) => post({ event: 'message', data: m }));
        c.onStatus((s) => post({ event: 'status', data: s }));
        c.onError((e) => post({ event: 'error', data: e }));
        client = c;
        result = info(c);
      } else {
        if (!client) throw Object.assign(new Error('not logged in'), { name: 'SealpostError', code: 'CLOSED' });
        if (!METHODS.has(method)) throw Object.assign(new Error(`unknown method ${method}`), { name: 'SealpostError', code: 'INVALID_ARGUMENT' });
        const member = client[method];
        result = typeof member === 'function' ? await member.apply(client, args) : member;
        if (method === 'logout') {
          client.free();
          client = null;
        }
      }
      post({ id, result });
    } catch (e) {
      post({ id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), code: e?.code, status: e?.status, details: e?.details } });
    }
  });
}
