// Runs a sealpost-wasm Client inside a Web Worker and serves it to the page over
// postMessage (the page side is `sealpost-wasm/remote`). Key generation, PBKDF2 and
// every RSA operation then happen off the page's main thread, and the keys live only
// in the worker's wasm memory.
import { Client, IndexedDbStorage, checkAmendment, expiresAt, init, readApplies, typingFresh, userIdFromUsername } from './index.js';
import { workerChannels } from './directworker.js';

const METHODS = new Set([
  'connect', 'reconnect', 'lookup', 'contacts', 'setVerified', 'setContactName', 'forgetContact', 'send', 'ack',
  'matchesQr', 'sealLocal', 'openLocal', 'needsRotation', 'rotateKeys', 'logout', 'userId',
  'username', 'fingerprint', 'status', 'deviceId', 'devices', 'revokeDevice', 'takeLinkedHistory',
  'connectDirect', 'directInput', 'iceServers', 'exportSession', 'fileLimits', 'fileInfo',
  'edit', 'deleteForEveryone', 'react', 'markRead', 'setTyping', 'setDisappearing',
  'createGroup', 'addMembers', 'removeMembers', 'leaveGroup', 'renameGroup', 'promoteAdmin',
  'demoteAdmin', 'sendToGroup', 'groups',
]);

/** The package's pure rules (PROTOCOL.md 28.3), for pages that load no wasm. */
const RULES = { checkAmendment, readApplies, expiresAt, typingFresh };

function info(client, session) {
  return { userId: client.userId, username: client.username, fingerprint: client.fingerprint, deviceId: client.deviceId, status: client.status, session };
}

function sealpostError(code, message) {
  return Object.assign(new Error(message), { name: 'SealpostError', code });
}

/**
 * Serves one account at a time to the page that created this worker.
 *
 * @param {object} [options]
 * @param {string} [options.relayUrl] default relay URL ("" = the worker's origin)
 * @param {(username: string) => Promise<import('./index.js').SealpostStorage>} [options.storage]
 *   storage factory, default `IndexedDbStorage.open("sealpost")`
 * @param {any} [options.wasm] what `init()` loads (default: the .wasm next to the glue)
 * @param {Record<string, (client: Client | null, ...args: any[]) => any>} [options.methods]
 *   the app's own requests (`RemoteClient.call`), run in the worker after `init()` with
 *   the logged-in Client (or null)
 * @param {DedicatedWorkerGlobalScope} [options.scope] default `self`
 */
export function serveClient(options = {}) {
  const scope = options.scope ?? self;
  const makeStorage = options.storage ?? (() => IndexedDbStorage.open('sealpost'));
  const methods = options.methods ?? {};
  const post = (msg) => scope.postMessage(msg);
  let ready;
  let client = null;
  // The direct channels the page handed over (./directworker.js), of the current login.
  let channels = null;
  // Numbers each login, so a RemoteClient ignores the events of a later account.
  let session = 0;

  // Device links under way (new device side) and approvals (old device side), by id.
  const links = new Map();
  const approvals = new Map();
  let nextId = 1;
  // File transfers under way (`sendFile`, `sendFileToGroup`, `openAttachment`, `fileDigest`), by the page's id: cancel.
  const transfers = new Map();

  // `args` = [transfer id, ...the method's arguments, plain options]: progress goes to
  // the page as `transfer` events, `cancelTransfer` aborts.
  async function transfer(method, [id, ...args], s) {
    const abort = new AbortController();
    transfers.set(id, abort);
    const options = {
      ...args.pop(),
      signal: abort.signal,
      onProgress: (p) => post({ event: 'transfer', data: { id, ...p }, session: s }),
    };
    try {
      return await client[method](...args, options);
    } finally {
      transfers.delete(id);
    }
  }

  function attach(c, s) {
    const emit = (event) => (data) => post({ event, data, session: s });
    c.onMessage(emit('message'));
    c.onStatus(emit('status'));
    c.onError(emit('error'));
    c.onDelivery(emit('delivery'));
    c.onNotice(emit('notice'));
    channels?.close();
    channels = workerChannels(c, post, s);
    const direct = emit('direct');
    const own = channels;
    c.onDirect((e) => own.output(e) || direct(e));
    client = c;
    return info(c, s);
  }

  // `secret`: the password (register, login), or the wrapping key and the sealed keys
  // of `exportSession` (resume).
  async function open(method, [clientOptions = {}, username, ...secret]) {
    if (client) await client.logout();
    client = null;
    const s = ++session;
    const emit = (event) => (data) => post({ event, data, session: s });
    const storage = await makeStorage(username);
    const c = await Client[method]({
      ...clientOptions,
      relayUrl: clientOptions.relayUrl ?? options.relayUrl ?? '',
      storage,
      onProgress: (done, total) => emit('progress')({ done, total }),
    }, username, ...secret);
    return attach(c, s);
  }

  // The new device's side of a link: the storage is chosen once the account is known
  // (the grant names it), so this runs with a storage that defers to the factory.
  async function startLink([clientOptions = {}, deviceName]) {
    let target = null;
    const pending = [];
    const deferred = {
      get: async (k) => (target ? target.get(k) : pending.findLast(([p]) => p === k)?.[1]),
      set: async (k, v) => { if (target) return target.set(k, v); pending.push([k, v]); },
      // The client stores each batch of its state with one setMany (all or none): without
      // it a batch is one `set` after another, and a tab closed in between keeps a session
      // that opened a message without the message (it is then taken for a replay, lost).
      // `bind` refuses a storage without it, as the client does.
      setMany: async (entries) => {
        if (target) return target.setMany(entries);
        pending.push(...entries);
      },
      delete: async (k) => { if (target) return target.delete(k); pending.push([k, undefined]); },
    };
    const link = await Client.startLink({
      ...clientOptions,
      relayUrl: clientOptions.relayUrl ?? options.relayUrl ?? '',
      storage: deferred,
    }, deviceName);
    const id = nextId++;
    // Writes wait in memory until the account (and so its storage) is known; flushed in
    // order, and the storage switched without an await in between.
    const bind = async (username) => {
      const t = await makeStorage(username);
      if (typeof t?.setMany !== 'function') throw sealpostError('INVALID_ARGUMENT', 'the storage must implement setMany (all or none)');
      while (pending.length) {
        const [k, v] = pending.shift();
        if (v === undefined) await t.delete(k);
        else await t.set(k, v);
      }
      target = t;
    };
    links.set(id, { link, bind });
    return { linkId: id, code: link.code, qrPayload: link.qrPayload };
  }

  async function linkWait([id]) {
    const entry = links.get(id);
    if (!entry) throw sealpostError('INVALID_ARGUMENT', 'no such link');
    try {
      const c = await entry.link.wait();
      await entry.bind(c.username);
      return await serial(async () => {
        if (client) await client.logout();
        client = null;
        return attach(c, ++session);
      });
    } finally {
      links.delete(id);
    }
  }

  // Logins, logouts and removals run one at a time: a double-submitted login must not
  // leave a first client (with its connection and account lock) behind unreferenced.
  let queue = Promise.resolve();
  function serial(fn) {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  }

  async function handle({ method, app, args = [], session: from }) {
    if (typeof app === 'string') {
      if (!Object.hasOwn(methods, app) || typeof methods[app] !== 'function') {
        throw sealpostError('INVALID_ARGUMENT', `unknown app method ${app}`);
      }
      return methods[app](client, ...args);
    }
    if (Object.hasOwn(RULES, method)) return RULES[method](...args);
    if (method === 'register' || method === 'login' || method === 'resume') return serial(() => open(method, args));
    if (method === 'removeAccount') return serial(() => remove(args));
    if (method === 'startLink') return startLink(args);
    if (method === 'linkWait') return linkWait(args);
    if (method === 'linkCancel') {
      const entry = links.get(args[0]);
      links.delete(args[0]);
      return entry?.link.cancel();
    }
    if (method === 'revokeDeviceWithPassword') {
      const [o = {}, ...rest] = args;
      return Client.revokeDeviceWithPassword({ ...o, relayUrl: o.relayUrl ?? options.relayUrl ?? '' }, ...rest);
    }
    // A RemoteClient of an earlier login must not act on a later one's account.
    if (!client || (from !== undefined && from !== session)) throw sealpostError('CLOSED', 'not logged in');
    if (method === 'logout') return serial(() => logout(args));
    if (method === 'sendFile' || method === 'sendFileToGroup' || method === 'uploadFile' || method === 'openAttachment' || method === 'fileDigest') return transfer(method, args, session);
    if (method === 'cancelTransfer') return transfers.get(args[0])?.abort();
    if (method === 'approveLink') {
      const a = await client.approveLink(...args);
      const id = nextId++;
      approvals.set(id, a);
      return { approvalId: id, deviceName: a.deviceName };
    }
    if (method === 'approvalConfirm' || method === 'approvalCancel') {
      const a = approvals.get(args[0]);
      if (!a) throw sealpostError('INVALID_ARGUMENT', 'no such link approval');
      approvals.delete(args[0]);
      return method === 'approvalConfirm' ? a.confirm(args[1] ?? {}) : a.cancel();
    }
    if (!METHODS.has(method)) throw sealpostError('INVALID_ARGUMENT', `unknown method ${method}`);
    if (method === 'directInput') return channels.input(args[0]);
    const member = client[method];
    return typeof member === 'function' ? member.apply(client, args) : member;
  }

  async function remove([username]) {
    if (client && client.userId === userIdFromUsername(username)) {
      const c = client;
      client = null;
      await c.logout();
    }
    return Client.removeAccount(await makeStorage(username), username);
  }

  async function logout(args) {
    if (!client) throw sealpostError('CLOSED', 'not logged in');
    const c = client;
    client = null;
    channels?.close();
    // No free(): logout wipes the keys, and free() throws while another call on the
    // client is still running (e.g. a send waiting on the network); the garbage
    // collector frees it.
    return c.logout(...args);
  }

  // A data channel `attachDirect` transferred here (RemoteClient.adoptDirectChannel), or
  // one it ended: for the login it was made for, else closed at once.
  function directChannel({ adopt, forget, session: from }, dc) {
    const current = client && channels && from === session;
    if (adopt && current) channels.adopt(adopt, dc);
    else if (adopt) dc?.close?.();
    if (forget && current) channels.forget(forget);
  }

  scope.addEventListener('message', async (ev) => {
    const msg = ev.data ?? {};
    if (msg.directChannel) return directChannel(msg.directChannel, msg.channel);
    if (typeof msg.id !== 'number' || (typeof msg.method !== 'string' && typeof msg.app !== 'string')) return;
    try {
      ready ??= init(options.wasm);
      await ready;
      post({ id: msg.id, result: await handle(msg) });
    } catch (e) {
      const error = { name: e?.name ?? 'Error', message: e?.message ?? String(e), code: e?.code, status: e?.status, retryAfter: e?.retryAfter, details: e?.details };
      try {
        post({ id: msg.id, error });
      } catch {
        // details that cannot be cloned (an app method's error): answer without them.
        post({ id: msg.id, error: { ...error, details: undefined } });
      }
    }
  });
}
