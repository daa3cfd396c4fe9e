// The page side of `sealpost-wasm/worker`: a Client-like object whose work happens in a
// Web Worker. Loads no WebAssembly itself.

function toError(e) {
  return Object.assign(new Error(e.message), { name: e.name ?? 'SealpostError', code: e.code, status: e.status, details: e.details });
}

export class RemoteClient {
  #worker;
  #next = 1;
  #pending = new Map();
  #listeners = { message: [], status: [], error: [], progress: [] };
  #queue = [];
  #waiters = [];
  #iterating = false;
  #closed = false;
  /** `{ userId, username, fingerprint, status }` of the account. */
  info = null;

  constructor(worker) {
    this.#worker = worker;
    worker.addEventListener('message', (ev) => this.#receive(ev.data));
  }

  /** Registers in the worker (see `Client.register`). `options.onProgress` gets key generation progress. */
  static async register(worker, options, username, password) {
    return RemoteClient.#open(worker, 'register', options, username, password);
  }

  /** Logs in in the worker (see `Client.login`). */
  static async login(worker, options, username, password) {
    return RemoteClient.#open(worker, 'login', options, username, password);
  }

  static async #open(worker, method, options = {}, username, password) {
    const c = new RemoteClient(worker);
    const { onProgress, storage: _ignored, ...plain } = options;
    if (onProgress) c.onProgress((p) => onProgress(p.done, p.total));
    c.info = await c.#call(method, [plain, username, password]);
    return c;
  }

  #receive(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (typeof msg.id === 'number') {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.reject(toError(msg.error));
      else p.resolve(msg.result);
      return;
    }
    const { event, data } = msg;
    if (event === 'status' && this.info) this.info.status = data;
    for (const f of this.#listeners[event] ?? []) f(data);
    if (event === 'message' && (this.#listeners.message.length === 0 || this.#iterating)) {
      const w = this.#waiters.shift();
      if (w) w(data);
      else this.#queue.push(data);
    }
  }

  #call(method, args = []) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, method, args });
    });
  }

  get userId() { return this.info?.userId; }
  get username() { return this.info?.username; }
  get fingerprint() { return this.info?.fingerprint; }
  get status() { return this.info?.status ?? 'closed'; }

  lookup(username) { return this.#call('lookup', [username]); }
  contacts() { return this.#call('contacts'); }
  setVerified(username, verified) { return this.#call('setVerified', [username, verified]); }
  forgetContact(username) { return this.#call('forgetContact', [username]); }
  send(to, content, contentType) { return this.#call('send', [to, content, contentType]); }
  ack(ids) { return this.#call('ack', [ids]); }
  needsRotation() { return this.#call('needsRotation'); }
  rotateKeys(password) { return this.#call('rotateKeys', [password]); }
  connect() { return this.#call('connect'); }
  reconnect() { return this.#call('reconnect'); }

  async logout(forget) {
    await this.#call('logout', [forget]);
    this.#closed = true;
    if (this.info) this.info.status = 'closed';
    for (const w of this.#waiters.splice(0)) w(null);
  }

  onMessage(listener) { this.#listeners.message.push(listener); }
  onStatus(listener) { this.#listeners.status.push(listener); }
  onError(listener) { this.#listeners.error.push(listener); }
  onProgress(listener) { this.#listeners.progress.push(listener); }

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
