// A wiretap on the crypto worker of a test browser, for diagnosing a lost message: what
// the worker deposited (to which mailbox, the blob id the relay gave), which blobs the
// relay pushed and which the worker acknowledged, what it delivered to the page (message
// id, sending device, text) and which notices it raised. Installed from the test (the
// app is not changed): Playwright evaluates it in each worker as it starts, and the
// worker's console carries one line per event back to a file per device.
//
//   tapWorkers(ctx, 'A1', file)   before the context's pages start the worker

import { appendFileSync, writeFileSync } from 'node:fs';

/** Runs inside the worker: wraps postMessage, the message listener, fetch, WebSocket. */
function install() {
  if (self.__tap) return;
  self.__tap = true;
  // Wall-clock milliseconds (with fractions): one machine, one clock, for trace.mjs.
  const log = (...parts) => console.debug(`tap|${(performance.timeOrigin + performance.now()).toFixed(1)}|${parts.join(' ')}`);
  const hex = (b) => Array.from(b.slice(0, 4), (x) => x.toString(16).padStart(2, '0')).join('');
  const text = (content) => {
    try {
      const s = new TextDecoder().decode(content);
      return JSON.parse(s).text ?? s.slice(0, 40);
    } catch {
      return `<${content?.length} bytes>`;
    }
  };
  // Page → worker: sends (the text, for matching) and the app's acknowledgements.
  const calls = new Map();
  self.addEventListener('message', (ev) => {
    const m = ev.data ?? {};
    if (m.method === 'send') {
      calls.set(m.id, text(m.args?.[1]));
      log('send-call', m.id, JSON.stringify(calls.get(m.id)));
    } else if (m.method === 'ack') log('app-ack', (m.args?.[0] ?? []).join(','));
    else if (typeof m.method === 'string') log('call', m.method);
  });
  // Worker → page: send results, deliveries, notices, status.
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
  // WebSocket: pushed blobs, acknowledgements, open/close.
  const Real = self.WebSocket;
  self.WebSocket = class extends Real {
    constructor(url, protocols) {
      super(url, protocols);
      log('ws-open', String(url).replace(/.*mailboxes\//, ''));
      this.addEventListener('message', (ev) => {
        try {
          const m = JSON.parse(ev.data);
          if (m.type === 'blob') log('ws-blob', m.id, 'env', hex(Uint8Array.from(atob(m.data.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).slice(49)));
          else log('ws', m.type);
        } catch {
          log('ws', 'unparsed');
        }
      });
      this.addEventListener('close', (ev) => log('ws-close', ev.code));
    }
    send(data) {
      try {
        const m = JSON.parse(data);
        if (m.type === 'ack') log('ws-ack', m.ids.join(','));
      } catch {
        /* not JSON */
      }
      return super.send(data);
    }
  };
  log('installed');
}

/**
 * Taps every worker of `ctx`'s pages; lines go to `file` (started empty), each with the
 * device `name` and the wall-clock time.
 */
export function tapWorkers(ctx, name, file) {
  writeFileSync(file, '');
  const write = (line) => appendFileSync(file, `${new Date().toISOString()} ${name} ${line}\n`);
  const onPage = (page) => {
    page.on('worker', (w) => {
      write(`worker ${w.url().slice(0, 40)}`);
      w.evaluate(install).catch((e) => write(`tap failed: ${e}`));
    });
    page.on('console', (msg) => {
      const t = msg.text();
      if (t.startsWith('tap|')) write(t.slice(4));
    });
    page.on('close', () => write('page closed'));
  };
  ctx.on('page', onPage);
  for (const p of ctx.pages()) onPage(p);
  return { note: (line) => write(`test: ${line}`) };
}
