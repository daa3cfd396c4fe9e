// The page side of `sealpost-wasm/worker`: a Client-like object whose work happens in a
// Web Worker. Loads no WebAssembly itself.

function toError(e) {
  return Object.assign(new Error(e.message), { name: e.name ?? 'SealpostError', code: e.code, status: e.status, retryAfter: e.retryAfter, details: e.details });
}

// Request ids are unique per page, so any number of RemoteClients (and static calls)
// can share a worker.
let nextId = 1;
let nextTransfer = 1;
let nextChannel = 1;
const channels = new WeakMap();

/** Sends one request to the worker (`transfer`: streams to move there); resolves with its answer. */
function request(worker, msg, transfer = []) {
  let pending = channels.get(worker);
  if (!pending) {
    pending = new Map();
    channels.set(worker, pending);
    let answered = false;
    worker.addEventListener('message', (ev) => {
      const m = ev.data;
      if (!m || typeof m !== 'object' || typeof m.id !== 'number') return;
      answered = true;
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error) p.reject(toError(m.error));
      else p.resolve(m.result);
    });
    // A worker that fails to load (or throws at the top level) answers nothing. Once it
    // has answered, an uncaught error is some other code's: requests still get answers.
    worker.addEventListener('error', (ev) => {
      if (answered) return;
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(toError({ code: 'CLOSED', message: `the worker failed: ${ev.message ?? 'error'}` }));
      }
    });
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, ...msg }, transfer);
  });
}

export class RemoteClient {
  #worker;
  #session = null;
  /** Events that arrived while the login was under way (their session is not known yet). */
  #early = [];
  #listeners = { message: [], status: [], error: [], progress: [], delivery: [], notice: [], direct: [] };
  #queue = [];
  #waiters = [];
  #iterating = false;
  /** Progress listeners of file transfers under way, by transfer id. */
  #transfers = new Map();
  /** What the worker says of the data channels handed to it (`adoptDirectChannel`), by id. */
  #channels = new Map();
  #closed = false;
  /** `{ userId, username, fingerprint, status }` of the account. */
  info = null;

  #onMessage = (ev) => this.#receive(ev.data);

  constructor(worker) {
    this.#worker = worker;
    worker.addEventListener('message', this.#onMessage);
  }

  /** Stops listening: after logout, a failed login, or when the worker closed the client. */
  #close() {
    this.#closed = true;
    this.#worker.removeEventListener('message', this.#onMessage);
    if (this.info) this.info.status = 'closed';
    for (const w of this.#waiters.splice(0)) w(null);
  }

  /** Registers in the worker (see `Client.register`). `options.onProgress` gets key generation progress. */
  static async register(worker, options, username, password) {
    return RemoteClient.#open(worker, 'register', options, username, password);
  }

  /** Logs in in the worker (see `Client.login`). */
  static async login(worker, options, username, password) {
    return RemoteClient.#open(worker, 'login', options, username, password);
  }

  /**
   * Opens the account stored in the worker's storage with what `exportSession` returned
   * and the same non-extractable AES-GCM `wrapKey`, without the password (see
   * `Client.resume`).
   */
  static async resume(worker, options, username, wrapKey, sealed) {
    return RemoteClient.#open(worker, 'resume', options, username, wrapKey, sealed);
  }

  /** Deletes the account's local data in the worker's storage, without the password (see `Client.removeAccount`). */
  static removeAccount(worker, username) {
    return request(worker, { method: 'removeAccount', args: [username] });
  }

  /** Calls one of the app's own worker methods (`serveClient({ methods })`), logged in or not. */
  static call(worker, method, ...args) {
    return request(worker, { app: method, args });
  }

  /**
   * Removes a device from the account with the password alone (see
   * `Client.revokeDeviceWithPassword`).
   */
  static revokeDeviceWithPassword(worker, options, username, password, deviceId) {
    const { onProgress: _p, storage: _s, ...plain } = options ?? {};
    return request(worker, { method: 'revokeDeviceWithPassword', args: [plain, username, password, deviceId] });
  }

  /**
   * Starts linking the worker's browser as a new device (see `Client.startLink`):
   * `{ code, qrPayload, wait(): Promise<RemoteClient>, cancel() }`.
   */
  static async startLink(worker, options = {}, deviceName) {
    const { onProgress: _p, storage: _s, ...plain } = options;
    const { linkId, code, qrPayload } = await request(worker, { method: 'startLink', args: [plain, deviceName] });
    return {
      code,
      qrPayload,
      wait: () => RemoteClient.#opened(worker, () => ({ method: 'linkWait', args: [linkId] })),
      cancel: () => request(worker, { method: 'linkCancel', args: [linkId] }),
    };
  }

  static async #open(worker, method, options = {}, username, ...secret) {
    const { onProgress, storage: _ignored, ...plain } = options;
    return RemoteClient.#opened(worker, () => ({ method, args: [plain, username, ...secret] }), onProgress);
  }

  static async #opened(worker, msg, onProgress) {
    const c = new RemoteClient(worker);
    if (onProgress) c.onProgress((p) => onProgress(p.done, p.total));
    // Progress events come before the answer: accept those of the next session.
    c.#session = 'opening';
    let answer;
    try {
      answer = await request(worker, msg());
    } catch (e) {
      c.#close(); // a failed login: this object is dropped
      throw e;
    }
    const { session, ...info } = answer;
    c.#session = session;
    c.info = info;
    for (const m of c.#early.splice(0)) c.#receive(m);
    return c;
  }

  #receive(msg) {
    if (!msg || typeof msg !== 'object' || typeof msg.event !== 'string' || this.#closed) return;
    if (this.#session === 'opening') {
      if (msg.event !== 'progress') return void this.#early.push(msg);
    } else if (msg.session !== this.#session) {
      return; // another account's events (a later login in the same worker)
    }
    const { event, data } = msg;
    if (event === 'transfer') return void this.#transfers.get(data?.id)?.(data);
    if (event === 'directChannel') {
      const f = this.#channels.get(data?.id);
      if (data?.state === 'closed') this.#channels.delete(data?.id);
      return void f?.(data?.state);
    }
    if (event === 'status' && this.info) this.info.status = data;
    for (const f of this.#listeners[event] ?? []) f(data);
    if (event === 'message' && (this.#listeners.message.length === 0 || this.#iterating)) {
      const w = this.#waiters.shift();
      if (w) w(data);
      else this.#queue.push(data);
    }
    // Closed in the worker (taken over by another tab, or a later login there): end
    // nextMessage()/messages() like a logout.
    if (event === 'status' && data === 'closed') this.#close();
  }

  #call(method, args = [], transfer = []) {
    return request(this.#worker, { method, args, session: this.#session }, transfer);
  }

  /** A file transfer in the worker: progress comes back as events, the signal cancels it there. */
  async #transfer(method, args, options = {}) {
    const { onProgress, signal, ...plain } = options;
    if (signal?.aborted) throw toError({ code: 'CANCELLED', message: 'the transfer was cancelled' });
    const id = nextTransfer++;
    this.#transfers.set(id, ({ id: _, ...p }) => onProgress?.(p));
    const cancel = () => this.#call('cancelTransfer', [id]);
    signal?.addEventListener('abort', cancel, { once: true });
    const streams = args.filter((a) => typeof a?.getReader === 'function');
    try {
      return await this.#call(method, [id, ...args, plain], streams);
    } finally {
      this.#transfers.delete(id);
      signal?.removeEventListener('abort', cancel);
    }
  }

  get userId() { return this.info?.userId; }
  get username() { return this.info?.username; }
  get fingerprint() { return this.info?.fingerprint; }
  get status() { return this.info?.status ?? 'closed'; }
  get deviceId() { return this.info?.deviceId; }

  lookup(username) { return this.#call('lookup', [username]); }
  contacts() { return this.#call('contacts'); }
  setVerified(username, verified) { return this.#call('setVerified', [username, verified]); }
  setContactName(username, name) { return this.#call('setContactName', [username, name]); }
  forgetContact(username) { return this.#call('forgetContact', [username]); }
  send(to, content, contentType, options) { return this.#call('send', [to, content, contentType, options]); }
  ack(ids) { return this.#call('ack', [ids]); }
  edit(to, messageId, text, options) { return this.#call('edit', [to, messageId, text, options]); }
  deleteForEveryone(to, messageId, options) { return this.#call('deleteForEveryone', [to, messageId, options]); }
  react(to, messageId, emoji, options) { return this.#call('react', [to, messageId, emoji, options]); }
  markRead(to, messageIds) { return this.#call('markRead', [to, messageIds]); }
  setTyping(to, active) { return this.#call('setTyping', [to, active]); }
  setDisappearing(to, expiresIn) { return this.#call('setDisappearing', [to, expiresIn]); }
  /** `checkAmendment` of the package, run in the worker (PROTOCOL.md 28.3). */
  checkAmendment(message, target) { return this.#call('checkAmendment', [message, target]); }
  /** `readApplies` of the package, run in the worker. */
  readApplies(message, target) { return this.#call('readApplies', [message, target]); }
  /** `expiresAt` of the package, run in the worker. */
  expiresAt(sentAt, receivedAt, expiresIn) { return this.#call('expiresAt', [sentAt, receivedAt, expiresIn]); }
  /** `typingFresh` of the package, run in the worker. */
  typingFresh(sentAt, receivedAt) { return this.#call('typingFresh', [sentAt, receivedAt]); }
  /** See `Client.sendFile` (runs in the worker; a File or Blob is not copied to get there). */
  sendFile(to, file, options) { return this.#transfer('sendFile', [to, file], options); }
  /** See `Client.sendFileToGroup`. */
  sendFileToGroup(group, file, options) { return this.#transfer('sendFileToGroup', [group, file], options); }
  /** See `Client.openAttachment`. */
  openAttachment(message, options) { return this.#transfer('openAttachment', [message], options); }
  /** See `Client.uploadFile`. */
  uploadFile(file, options) { return this.#transfer('uploadFile', [file], options); }
  /** See `Client.fileDigest`. */
  fileDigest(file, options) { return this.#transfer('fileDigest', [file], options); }
  fileLimits() { return this.#call('fileLimits'); }
  /** Groups (docs/PROTOCOL.md 27): see `Client.createGroup` and the calls after it. */
  createGroup(name, members) { return this.#call('createGroup', [name, members]); }
  addMembers(group, usernames) { return this.#call('addMembers', [group, usernames]); }
  removeMembers(group, usernames) { return this.#call('removeMembers', [group, usernames]); }
  leaveGroup(group) { return this.#call('leaveGroup', [group]); }
  renameGroup(group, name) { return this.#call('renameGroup', [group, name]); }
  promoteAdmin(group, username) { return this.#call('promoteAdmin', [group, username]); }
  demoteAdmin(group, username) { return this.#call('demoteAdmin', [group, username]); }
  sendToGroup(group, content, contentType, options) { return this.#call('sendToGroup', [group, content, contentType, options]); }
  groups() { return this.#call('groups'); }
  fileInfo(manifest) { return this.#call('fileInfo', [manifest]); }
  matchesQr(username, scanned) { return this.#call('matchesQr', [username, scanned]); }
  sealLocal(label, data) { return this.#call('sealLocal', [label, data]); }
  /** See `Client.exportSession` (the CryptoKey is passed to the worker, never its bytes). */
  exportSession(wrapKey) { return this.#call('exportSession', [wrapKey]); }
  openLocal(label, sealed) { return this.#call('openLocal', [label, sealed]); }
  needsRotation() { return this.#call('needsRotation'); }
  rotateKeys(password) { return this.#call('rotateKeys', [password]); }
  devices() { return this.#call('devices'); }
  revokeDevice(id) { return this.#call('revokeDevice', [id]); }
  takeLinkedHistory() { return this.#call('takeLinkedHistory'); }
  connectDirect(contact) { return this.#call('connectDirect', [contact]); }
  directInput(input) { return this.#call('directInput', [input]); }
  iceServers() { return this.#call('iceServers', []); }
  /**
   * Hands the RTCDataChannel of a direct channel to `user`/`device` to the worker, so its
   * frames skip this page's main thread (`attachDirect` does it, in the task that created
   * the channel: browsers transfer a data channel only then). `onState` gets `"open"` and
   * `"closed"` (the worker has told the client) from the worker. The worker uses the
   * channel only after `directInput({ type: "opened", ..., channel: id })`, the check of
   * its connection's certificate. Returns the channel's id, or null when this browser
   * cannot transfer a data channel (the page keeps it).
   */
  adoptDirectChannel(channel, user, device, onState) {
    const id = nextChannel++;
    try {
      this.#worker.postMessage({ directChannel: { adopt: { id, user, device }, session: this.#session }, channel }, [channel]);
    } catch {
      return null;
    }
    this.#channels.set(id, onState);
    return id;
  }
  /** Ends a channel handed to the worker, without telling the client (the page does, or it knows). */
  forgetDirectChannel(id, user, device) {
    this.#channels.delete(id);
    this.#worker.postMessage({ directChannel: { forget: { id, user, device }, session: this.#session } });
  }
  /** See `Client.approveLink`: `{ deviceName, confirm(options?), cancel() }`. */
  async approveLink(code) {
    const { approvalId, deviceName } = await this.#call('approveLink', [code]);
    return {
      deviceName,
      confirm: (options) => this.#call('approvalConfirm', [approvalId, options ?? {}]),
      cancel: () => this.#call('approvalCancel', [approvalId]),
    };
  }
  connect() { return this.#call('connect'); }
  reconnect() { return this.#call('reconnect'); }
  /** Calls one of the app's own worker methods (`serveClient({ methods })`). */
  call(method, ...args) { return RemoteClient.call(this.#worker, method, ...args); }

  async logout(forget) {
    if (this.#closed) return; // closed already (in the worker, or by an earlier logout)
    try {
      await this.#call('logout', [forget]);
    } finally {
      this.#close();
    }
  }

  onMessage(listener) { this.#listeners.message.push(listener); }
  onStatus(listener) { this.#listeners.status.push(listener); }
  onError(listener) { this.#listeners.error.push(listener); }
  onProgress(listener) { this.#listeners.progress.push(listener); }
  onDelivery(listener) { this.#listeners.delivery.push(listener); }
  onNotice(listener) { this.#listeners.notice.push(listener); }
  onDirect(listener) { this.#listeners.direct.push(listener); }

  nextMessage() {
    this.#iterating = true;
    if (this.#queue.length) return Promise.resolve(this.#queue.shift());
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async *messages() {
    for (;;) {
      const m = await this.nextMessage();
      if (m === null) return;
      yield m;
    }
  }
}
