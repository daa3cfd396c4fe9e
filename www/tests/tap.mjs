// A wiretap on the crypto worker (and, for traces, the page) of a test browser, for
// diagnosing a lost message and for timing one: what the worker deposited (over the
// deposit socket or a POST: to which mailbox, the blob id the relay gave), which blobs
// the relay pushed and which the worker acknowledged, what it delivered to the page
// (message id, sending device, text), which notices it raised, each IndexedDB write
// (which records it held, when it committed), and direct-channel frames. Installed from
// the test (the app is not changed): Playwright evaluates it in each worker as it starts,
// and the worker's console carries the lines back to a file per device.
//
//   tapWorkers(ctx, 'A1', file)                    before the context's pages start the worker
//   tapWorkers(ctx, 'A', file, { pages: true, batch: true })
//     also taps the pages (requests to the worker and their answers, events from it,
//     the page's own IndexedDB writes), and sends lines in batches (a console call per
//     event costs more time than the events it times; a batch may be lost with its page)

import { appendFileSync, writeFileSync } from 'node:fs';

/**
 * Runs inside the worker (or, with `page` true, the page): wraps postMessage, the
 * message listener, fetch, WebSocket and IndexedDB writes. Self-contained (Playwright
 * serializes it).
 */
function install({ page = false, batch = false } = {}) {
  if (self.__tap) return;
  self.__tap = true;
  // Wall-clock milliseconds (with fractions): one machine, one clock, for trace.mjs.
  const now = () => (performance.timeOrigin + performance.now()).toFixed(1);
  const queued = [];
  const flush = () => {
    if (queued.length) console.debug(queued.splice(0).join('\n'));
  };
  if (batch) setInterval(flush, 250);
  const log = (...parts) => logAt(now(), ...parts);
  const logAt = (t, ...parts) => {
    const line = `tap|${t}|${parts.join(' ')}`;
    if (batch) queued.push(line);
    else console.debug(line);
  };
  const hex = (b) => Array.from(b.slice(0, 4), (x) => x.toString(16).padStart(2, '0')).join('');
  const bytes = (d) => (d instanceof Uint8Array ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : d instanceof ArrayBuffer ? new Uint8Array(d) : null);
  // A message's text (plain UTF-8, or a JSON body with a `text`), cut short.
  const text = (content) => {
    let s;
    try {
      s = new TextDecoder('utf-8', { fatal: true }).decode(content);
    } catch {
      return `<${content?.length} bytes>`;
    }
    try {
      const body = JSON.parse(s);
      if (typeof body?.text === 'string') return body.text.slice(0, 40);
    } catch {
      /* plain text */
    }
    return s.slice(0, 40);
  };
  /** The bench's message key (`seq:12`) in `s`, if any. */
  const keyIn = (s) => /#(\w+:\d+) /.exec(s)?.[1] ?? '-';
  /** An app history record: its message key, direction and state (`seq:12/out/queued`). */
  const record = (bytes) => {
    const rec = new TextDecoder().decode(bytes ?? new Uint8Array());
    return `${keyIn(rec)}/${/"dir":"(\w+)"/.exec(rec)?.[1] ?? ''}/${/"state":"(\w+)"/.exec(rec)?.[1] ?? ''}`;
  };

  // IndexedDB: each write transaction, logged when it commits, with when it began and
  // the records it wrote (the package's part names, the app's record keys; on the page a
  // record sealed by `sealLocal` by its message key; trace.mjs names the worker's
  // writes of app records from the page's `storeRecords` calls).
  const txs = new WeakMap();
  self.__tapSealed = new WeakMap();
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (stores, mode, ...rest) {
    const tx = transaction.call(this, stores, mode, ...rest);
    if (mode === 'readwrite') {
      const at = now();
      const names = [];
      txs.set(tx, names);
      tx.addEventListener('complete', () => log(page ? 'p-idb' : 'idb', at, names.join(',') || '-'));
    }
    return tx;
  };
  const name = (key, value) => {
    const k = String(key);
    const sealed = value && self.__tapSealed.get(value);
    if (sealed) return `${k.slice(0, 2)}${sealed}`;
    return k.startsWith('sealpost/') ? k.split('/').pop() : k;
  };
  for (const op of ['put', 'delete']) {
    const real = IDBObjectStore.prototype[op];
    IDBObjectStore.prototype[op] = function (a, b) {
      txs.get(this.transaction)?.push(op === 'put' ? `${name(b, a)}${a?.byteLength !== undefined ? `:${a.byteLength}` : ''}` : `del:${name(a)}`);
      return real.call(this, a, b);
    };
  }

  if (page) {
    // The page: its requests to the crypto worker, the answers, and the worker's events.
    const RealWorker = self.Worker;
    self.Worker = class extends RealWorker {
      constructor(...args) {
        super(...args);
        const calls = new Map();
        const post = this.postMessage.bind(this);
        this.postMessage = (m, ...rest) => {
          try {
            const method = m?.method ?? m?.app;
            if (m && typeof m.id === 'number' && typeof method === 'string') {
              let what = method;
              if (method === 'send') what += ` ${keyIn(text(m.args?.[1]))}`;
              else if (method === 'sendStored') what += ` ${keyIn(text(m.args?.[2]))}`;
              else if (method === 'sealLocal') what += ` ${record(m.args?.[1])}`;
              else if (method === 'storeRecords') what += ` ${(m.args?.[1] ?? []).map(([k, v]) => `${k}=${v ? record(v) : 'deleted'}`).join(',')}`;
              else if (method === 'directInput') what += ` ${m.args?.[0]?.type ?? ''}`;
              calls.set(m.id, what);
              log('p-call', m.id, what);
            }
          } catch (e) {
            log('tap-error', String(e));
          }
          return post(m, ...rest);
        };
        this.addEventListener('message', (ev) => {
          const m = ev.data ?? {};
          try {
            if (m.event === 'message') log('p-deliver', keyIn(text(m.data?.content)));
            else if (m.event === 'delivery') log('p-delivery', m.data?.msgId, `${m.data?.delivered}/${m.data?.total}`);
            else if (m.event === 'direct') log('p-direct', m.data?.type ?? '');
            else if (typeof m.id === 'number' && calls.has(m.id)) {
              const what = calls.get(m.id);
              calls.delete(m.id);
              if (what.startsWith('sealLocal') && m.result) self.__tapSealed.set(m.result, what.slice(10));
              log('p-answer', m.id, what);
            }
          } catch (e) {
            log('tap-error', String(e));
          }
        });
      }
    };
    log('installed page');
    return;
  }

  // Page → worker: sends (the text, for matching) and the app's acknowledgements. This
  // listener runs after the package's own (added earlier), which may already have done
  // the call's synchronous work: the time is the event's, when it was dispatched.
  const calls = new Map();
  const at = (ev) => (performance.timeOrigin + ev.timeStamp).toFixed(1);
  self.addEventListener('message', (ev) => {
    const t = at(ev);
    const m = ev.data ?? {};
    if (m.method === 'send' || m.app === 'sendStored') {
      calls.set(m.id, text(m.args?.[m.app ? 2 : 1]));
      logAt(t, 'send-call', m.id, JSON.stringify(calls.get(m.id)));
    } else if (m.method === 'ack') log('app-ack', (m.args?.[0] ?? []).join(','));
    else if (m.method === 'directInput') logAt(t, 'direct-in', m.args?.[0]?.type ?? '');

    else if (typeof (m.method ?? m.app) === 'string') logAt(t, 'call', m.method ?? m.app);
  });
  // Worker → page: send results, deliveries, notices, status, direct-channel frames.
  const post = self.postMessage.bind(self);
  self.postMessage = (m, ...rest) => {
    try {
      if (m?.event === 'message') {
        const d = m.data;
        log('deliver', d.msgId, 'from', d.fromDevice, d.own ? 'own' : '', JSON.stringify(text(d.content)));
      } else if (m?.event === 'notice') log('notice', JSON.stringify(m.data));
      else if (m?.event === 'status') log('status', m.data);
      else if (m?.event === 'error') log('error', m.data?.code, JSON.stringify(m.data?.message));
      else if (m?.event === 'delivery') log('delivery', m.data?.msgId, `${m.data?.delivered}/${m.data?.total}`);
      else if (m?.event === 'direct') log('direct-out', m.data?.type ?? '', m.data?.frame?.length ?? '');
      else if (calls.has(m?.id)) {
        log('send-done', m.id, JSON.stringify(calls.get(m.id)), m.result?.msgId ?? `error ${m.error?.code}`);
        calls.delete(m.id);
      }
    } catch (e) {
      log('tap-error', String(e));
    }
    return post(m, ...rest);
  };
  // HTTP: deposits (mailbox, status, blob id), acknowledgements, directory reads.
  const realFetch = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const path = new URL(req.url).pathname;
    let body = null;
    if (req.method === 'POST') body = new Uint8Array(await req.clone().arrayBuffer());
    if (/^\/v2\/mailboxes\/[0-9a-f]+\/[0-9a-f]+$/.test(path) && req.method === 'POST') log('deposit-start', hex(body.slice(49)));
    try {
      const res = await realFetch(req);
      let extra = '';
      if (/^\/v2\/mailboxes\/[0-9a-f]+\/[0-9a-f]+$/.test(path) && req.method === 'POST') {
        extra = `blob ${(await res.clone().json().catch(() => ({}))).id} env ${hex(body.slice(49))}`;
      } else if (path.endsWith('/ack')) extra = new TextDecoder().decode(body);
      log('http', req.method, path.replace(/[0-9a-f]{64}/, (u) => u.slice(0, 6)), res.status, extra);
      return res;
    } catch (e) {
      log('http', req.method, path.replace(/[0-9a-f]{64}/, (u) => u.slice(0, 6)), 'failed', String(e?.message ?? e));
      throw e;
    }
  };
  // WebSocket: pushed blobs, acknowledgements, open/close; on the deposit socket
  // (`/v2/deposits`) each deposit frame (req[4] || user[32] || device[16] || blob) and
  // its answer.
  const Real = self.WebSocket;
  self.WebSocket = class extends Real {
    constructor(url, protocols) {
      super(url, protocols);
      const deposits = String(url).endsWith('/v2/deposits');
      log('ws-open', deposits ? 'deposits' : String(url).replace(/.*mailboxes\//, ''));
      this.addEventListener('message', (ev) => {
        try {
          const m = JSON.parse(ev.data);
          if (deposits) log('deposit-answer', m.req, m.id ? `blob ${m.id}` : `error ${m.error}`);
          else if (m.type === 'blob') log('ws-blob', m.id, 'env', hex(Uint8Array.from(atob(m.data.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).slice(49)));
          else log('ws', m.type);
        } catch {
          log('ws', 'unparsed');
        }
      });
      this.addEventListener('close', (ev) => log('ws-close', deposits ? 'deposits' : '', ev.code));
    }
    send(data) {
      const b = bytes(data);
      if (b && this.url.endsWith('/v2/deposits')) {
        const req = new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
        log('deposit-start', hex(b.slice(52 + 49)), 'req', req, 'to', hex(b.slice(4, 8)));
      } else if (typeof data === 'string') {
        try {
          const m = JSON.parse(data);
          if (m.type === 'ack') log('ws-ack', m.ids.join(','));
        } catch {
          /* not JSON */
        }
      }
      return super.send(data);
    }
  };
  log('installed');
}

/**
 * Taps every worker of `ctx`'s pages (and with `pages`, the pages themselves); lines go
 * to `file` (started empty), each with the device `name` and the wall-clock time.
 */
export function tapWorkers(ctx, name, file, { pages = false, batch = false } = {}) {
  writeFileSync(file, '');
  const write = (line) => appendFileSync(file, `${new Date().toISOString()} ${name} ${line}\n`);
  if (pages) void ctx.addInitScript(install, { page: true, batch });
  const onPage = (page) => {
    page.on('worker', (w) => {
      write(`worker ${w.url().slice(0, 40)}`);
      w.evaluate(install, { batch }).catch((e) => write(`tap failed: ${e}`));
    });
    page.on('console', (msg) => {
      for (const t of msg.text().split('\n')) if (t.startsWith('tap|')) write(t.slice(4));
    });
    page.on('close', () => write('page closed'));
  };
  ctx.on('page', onPage);
  for (const p of ctx.pages()) onPage(p);
  return { note: (line) => write(`test: ${line}`) };
}
